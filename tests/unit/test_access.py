"""The need-to-know access policy, as a table of roles and situations (no database)."""

from __future__ import annotations

import pytest

from services.domain.access import (
    Decision,
    can_assign_tasks,
    can_be_assigned,
    can_claim_task,
    can_complete_task,
    can_deploy_definitions,
    can_exclude_person,
    can_start_incident,
    can_unclaim_task,
    can_view_incident,
    clean_reason,
)

ME, OTHER = 7, 8
REASON = "Covering the DSL's absence: a parent phoned about this incident."


def _summary(decision: Decision) -> tuple[bool, str | None, str | None]:
    return decision.allowed, decision.via, decision.refusal


VIEW_TABLE = [
    # roles in the school, involved, excluded, break-glass reason -> allowed, via, refusal
    ({"dsl"}, False, False, None, (True, "role", None)),
    ({"headteacher"}, False, False, None, (True, "role", None)),
    ({"auditor"}, False, False, None, (True, "role", None)),
    ({"staff"}, True, False, None, (True, "assignment", None)),
    ({"staff"}, False, False, None, (False, None, "reason_required")),
    ({"staff"}, False, False, "   ", (False, None, "reason_required")),
    ({"staff"}, False, False, REASON, (True, "break_glass", None)),
    ({"admin"}, False, False, None, (False, None, "reason_required")),
    ({"admin"}, False, False, REASON, (True, "break_glass", None)),
    ({"staff", "dsl"}, False, False, REASON, (True, "role", None)),
    # exclusion beats every role, involvement and break-glass, and hides the incident
    ({"dsl"}, False, True, None, (False, None, "hidden")),
    ({"headteacher"}, True, True, None, (False, None, "hidden")),
    ({"auditor"}, False, True, REASON, (False, None, "hidden")),
    ({"staff"}, False, True, REASON, (False, None, "hidden")),
    # no role in the incident's school (another school's people): never, and hidden
    (set(), False, False, None, (False, None, "hidden")),
    (set(), True, False, REASON, (False, None, "hidden")),
]


@pytest.mark.parametrize(("roles", "involved", "excluded", "reason", "expected"), VIEW_TABLE)
def test_who_may_view_an_incident(
    roles: set[str],
    involved: bool,
    excluded: bool,
    reason: str | None,
    expected: tuple[bool, str | None, str | None],
) -> None:
    assert _summary(can_view_incident(roles, involved, excluded, reason)) == expected


def test_a_missing_reason_is_flagged_as_needed_and_explained() -> None:
    decision = can_view_incident({"staff"}, False, False, None)
    assert decision.needs_reason
    assert "reason" in decision.explanation
    assert not can_view_incident({"dsl"}, False, True, None).needs_reason


COMPLETE_TABLE = [
    # roles, lane, candidate groups, assignee, involved, excluded -> allowed, via, refusal
    ({"dsl"}, "dsl", (), None, False, False, (True, "role", None)),
    ({"staff"}, "staff", ("staff", "dsl"), None, False, False, (True, "role", None)),
    ({"headteacher"}, "dsl", ("dsl", "headteacher"), None, False, False, (True, "role", None)),
    ({"headteacher"}, "dsl", ("dsl",), None, False, False, (False, None, "forbidden")),
    ({"staff"}, "dsl", ("dsl",), ME, True, False, (True, "assignment", None)),
    ({"dsl"}, "dsl", ("dsl",), OTHER, False, False, (False, None, "claimed")),
    ({"dsl"}, "dsl", ("dsl",), None, False, True, (False, None, "hidden")),
    ({"dsl"}, "dsl", ("dsl",), ME, True, True, (False, None, "hidden")),
    ({"auditor"}, "dsl", ("dsl", "auditor"), None, False, False, (False, None, "forbidden")),
    ({"auditor"}, "dsl", ("dsl",), ME, True, False, (False, None, "forbidden")),
    ({"auditor", "dsl"}, "dsl", ("dsl",), None, False, False, (True, "role", None)),
    (set(), "dsl", ("dsl",), ME, True, False, (False, None, "hidden")),
    # a staff member who may not see the incident learns nothing from the refusal
    ({"staff"}, "dsl", ("dsl",), None, False, False, (False, None, "hidden")),
]


@pytest.mark.parametrize(
    ("roles", "lane", "groups", "assignee", "involved", "excluded", "expected"), COMPLETE_TABLE
)
def test_who_may_complete_or_claim_a_task(
    roles: set[str],
    lane: str,
    groups: tuple[str, ...],
    assignee: int | None,
    involved: bool,
    excluded: bool,
    expected: tuple[bool, str | None, str | None],
) -> None:
    for check in (can_complete_task, can_claim_task):
        decision = check(
            ME, roles, lane, groups, assignee, is_involved=involved, is_excluded=excluded
        )
        assert _summary(decision) == expected, check.__name__


@pytest.mark.parametrize(
    ("roles", "assignee", "excluded", "expected"),
    [
        ({"dsl"}, ME, False, (True, "assignment", None)),
        ({"dsl"}, OTHER, False, (False, None, "claimed")),
        ({"dsl"}, None, False, (False, None, "forbidden")),
        ({"dsl"}, ME, True, (False, None, "hidden")),
        ({"auditor"}, ME, False, (False, None, "forbidden")),
    ],
)
def test_only_the_claimer_may_unclaim(
    roles: set[str], assignee: int | None, excluded: bool, expected: tuple[bool, str, str]
) -> None:
    decision = can_unclaim_task(ME, roles, assignee, is_involved=True, is_excluded=excluded)
    assert _summary(decision) == expected


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"staff"}, (True, "role", None)),
        ({"dsl"}, (True, "role", None)),
        ({"headteacher"}, (True, "role", None)),
        ({"admin"}, (True, "role", None)),
        ({"auditor", "staff"}, (True, "role", None)),
        ({"auditor"}, (False, None, "forbidden")),
        (set(), (False, None, "hidden")),
    ],
)
def test_anyone_but_an_auditor_may_report_a_concern_in_their_school(
    roles: set[str], expected: tuple[bool, str | None, str | None]
) -> None:
    assert _summary(can_start_incident(roles)) == expected


@pytest.mark.parametrize(
    ("roles", "excluded", "expected"),
    [
        ({"dsl"}, False, (True, "role", None)),
        ({"headteacher"}, False, (True, "role", None)),
        ({"staff"}, False, (False, None, "forbidden")),
        ({"auditor"}, False, (False, None, "forbidden")),
        ({"dsl"}, True, (False, None, "hidden")),
        (set(), False, (False, None, "hidden")),
    ],
)
def test_case_leads_reassign_tasks_and_exclude_people(
    roles: set[str], excluded: bool, expected: tuple[bool, str | None, str | None]
) -> None:
    assert _summary(can_assign_tasks(roles, excluded)) == expected
    assert _summary(can_exclude_person(roles, excluded)) == expected


@pytest.mark.parametrize(
    ("roles", "groups", "excluded", "allowed"),
    [
        ({"dsl"}, ("dsl",), False, True),
        ({"headteacher"}, ("dsl", "headteacher"), False, True),
        ({"staff"}, ("dsl",), False, False),
        ({"auditor"}, ("dsl", "auditor"), False, False),
        ({"dsl"}, ("dsl",), True, False),
        (set(), ("dsl",), False, False),
    ],
)
def test_a_task_goes_only_to_someone_holding_its_role(
    roles: set[str], groups: tuple[str, ...], excluded: bool, allowed: bool
) -> None:
    decision = can_be_assigned(roles, "dsl", groups, excluded)
    assert decision.allowed is allowed
    assert decision.allowed or decision.explanation


def test_only_process_administrators_deploy() -> None:
    assert can_deploy_definitions({"admin", "staff"}).allowed
    assert not can_deploy_definitions({"dsl", "headteacher", "auditor"}).allowed
    assert not can_deploy_definitions(set()).allowed


def test_reasons_are_trimmed_and_blank_means_missing() -> None:
    assert clean_reason("  absent today ") == "absent today"
    assert clean_reason(" \n\t") is None
    assert clean_reason(None) is None
