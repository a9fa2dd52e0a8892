"""The HTTP status and API body of errors the engine raises on purpose."""

from __future__ import annotations

import json

from flask import Flask

from services.domain.errors import http_status_of
from services.web.api.errors import domain_error_response
from workflow.errors import ProcessFailed


def test_a_process_that_cannot_go_on_is_a_located_conflict_not_a_server_error() -> None:
    failure = ProcessFailed("review_due", "dueDate 'P99999Y': year 102025 is out of range")
    assert http_status_of(failure) == 409
    with Flask(__name__).test_request_context("/api/v1/tasks/1/complete", method="POST"):
        response = domain_error_response(failure)
    body = json.loads(response.get_data(as_text=True))
    assert response.status_code == 409
    assert body["error"]["code"] == "process_failed"
    assert "review_due" in body["error"]["message"]
