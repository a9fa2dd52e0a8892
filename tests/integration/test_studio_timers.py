"""Timers and due dates past the clock, uploaded through the API: a draft that would put a
deadline more than 10 years off ('P99999Y' overflows the year 9999 on the first incident that
takes it) is refused approval, with the problem located at its element."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.integration.service_fixtures import BPMN_DIR
from tests.integration.test_studio_api import (  # noqa: F401
    BPMN_NAME,
    World,
    call,
    default_files,
    new_draft,
    world,
)
from tests.integration.web_fixtures import (  # noqa: F401
    app,
    client,
    clock,
    web_runtime,
    web_settings,
)

REFERRAL = 'camunda:formKey="refer_to_agencies" camunda:candidateGroups="dsl" '
FIVE_DAYS = '<camunda:value id="P5D" name="Within 5 days"/>'

EDITS = {
    # A quoted due date: the engine's lint.
    "due date": (
        'camunda:formKey="initial_review" camunda:candidateGroups="dsl" camunda:dueDate="\'P1D\'"',
        'camunda:formKey="initial_review" camunda:candidateGroups="dsl" '
        "camunda:dueDate=\"'P99999Y'\"",
        "initial_review",
        "more than 10 years",
    ),
    # A due date over answers that can choose an absurd duration.
    "due date over answers": (
        f"{REFERRAL}camunda:dueDate=\"'PT4H'\"",
        f"{REFERRAL}camunda:dueDate=\"'P99999Y' if adult_involved else 'PT4H'\"",
        "refer_to_agencies",
        "can give 'P99999Y'",
    ),
    # A timer reading an answer chosen from a list, one of whose choices is absurd.
    "timer from an answer": (
        FIVE_DAYS,
        f'{FIVE_DAYS}<camunda:value id="P99999Y" name="Never"/>',
        "deletion_deadline_passed",
        "timer 'deletion_deadline' can give 'P99999Y'",
    ),
    # A computed constant that reads no answer: it cannot be checked, so it is refused.
    "computed timer": (
        "'P1D'</bpmn:timeDuration>",
        "'P9' + '9999Y'</bpmn:timeDuration>",
        "initial_review_overdue",
        "reads no answers",
    ),
}


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_a_deadline_past_the_clock_is_a_located_problem_and_blocks_approval(
    client: FlaskClient, world: World, kind: str
) -> None:
    old, new, element_id, message = EDITS[kind]
    text = (BPMN_DIR / BPMN_NAME).read_text(encoding="utf-8")
    assert old in text
    draft = new_draft(client, world.author, default_files(text.replace(old, new, 1)))
    assert draft["passed"] is False
    [problem] = [p for p in draft["problems"] if p["element_id"] == element_id]
    assert problem["file"] == BPMN_NAME
    assert isinstance(problem["line"], int) and problem["line"] > 0
    assert message in problem["message"]
    refused = call(client, "POST", f"/drafts/{draft['id']}/approve", world.approver)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "checks_failed"
    assert element_id in refused.get_json()["error"]["message"]
