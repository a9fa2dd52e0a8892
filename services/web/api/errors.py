"""JSON errors for the API: every failure, ours or Flask's, as {"error": {code, message, ...}}."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from services.db.errors import ConcurrentUpdate
from services.domain.errors import (
    AccessDenied,
    BreakGlassReasonRequired,
    Conflict,
    DomainError,
    NotFound,
    ProcessNotStartable,
    RequestInvalid,
    TaskClaimedByAnother,
    TaskNoLongerReady,
    http_status_of,
)
from workflow.errors import DefinitionInvalid, ProcessFailed, TaskDataInvalid

# Most specific first: the first class an error is an instance of names its code.
_DOMAIN_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (NotFound, "not_found"),
    (BreakGlassReasonRequired, "break_glass_reason_required"),
    (AccessDenied, "forbidden"),
    (TaskNoLongerReady, "task_no_longer_ready"),
    (TaskClaimedByAnother, "task_claimed"),
    (ProcessNotStartable, "process_not_startable"),
    (Conflict, "conflict"),
    (ConcurrentUpdate, "incident_changed"),
    (RequestInvalid, "invalid_request"),
    (TaskDataInvalid, "invalid_data"),
    (DefinitionInvalid, "definition_invalid"),
    (ProcessFailed, "process_failed"),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
}

_HTTP_MESSAGES = {
    404: "there is no such API endpoint: see /api/v1/openapi.json",
    405: "this endpoint does not accept the method",
    413: "the request body is too large",
}


class ApiError(Exception):
    """A request the API refuses before it reaches the domain (bad JSON, wrong media type...)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Mapping[str, Sequence[str]] | None = None,
        position: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = {key: list(value) for key, value in (fields or {}).items()}
        self.position = dict(position) if position else None


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, Sequence[str]] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build the JSON error response every API failure uses."""
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "fields": {key: list(value) for key, value in (fields or {}).items()},
    }
    body.update(extra or {})
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error_response(error: ApiError) -> Response:
    """The response for a request refused by the API layer itself."""
    extra = {"position": error.position} if error.position else None
    return error_response(error.status, error.code, error.message, error.fields, extra=extra)


def domain_error_response(
    error: DomainError | ConcurrentUpdate | TaskDataInvalid | DefinitionInvalid | ProcessFailed,
) -> Response:
    """The response for an error the service layer raised on purpose."""
    status = http_status_of(error) or 500
    code = next((code for kind, code in _DOMAIN_CODES if isinstance(error, kind)), None)
    fields: dict[str, list[str]] = {}
    if isinstance(error, TaskDataInvalid):
        fields = error.errors
    return error_response(status, code or _HTTP_CODES.get(status, "error"), str(error), fields)


def http_error_response(error: HTTPException) -> Response:
    """The response for an HTTP error Flask or Werkzeug raised (404, 405, 413 ...)."""
    status = error.code or 500
    message = _HTTP_MESSAGES.get(status) or error.description or error.name
    headers: dict[str, str] = {}
    if status == 413 and request.max_content_length is not None:
        message = f"the request body is larger than the {request.max_content_length} bytes accepted"
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        allowed = ", ".join(sorted(error.valid_methods))
        headers["Allow"] = allowed
        message = f"{message}: use {allowed}"
    code = _HTTP_CODES.get(status, "error")
    return error_response(status, code, message, headers=headers)


def unexpected_error_response(error: Exception) -> Response:
    """A 500 for anything unforeseen: logged with its traceback, never shown to the caller."""
    current_app.logger.exception("API request failed: %s", type(error).__name__)
    return error_response(
        500,
        "internal_error",
        "the service failed to handle this request (logged): reload before retrying a change",
    )
