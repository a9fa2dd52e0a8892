"""Need-to-know access policy: pure functions over plain facts, no database, no framework.

GUIDANCE.md: a record is visible to the DSL team of its school, people assigned to its tasks,
the headteacher and auditors; anyone else in the school needs a reason (break-glass), which is
logged. A named person can be excluded from a case. Here that becomes:

- no role in the incident's school: never (not even break-glass), and the record stays hidden;
- excluded: never, whatever the role, and hidden too (exclusion beats everything);
- dsl, headteacher, auditor in the school: view by role;
- assigned to, or completed, one of its tasks: view by assignment;
- any other member of the school: view only with a reason (break-glass).

Auditors read but never claim or complete tasks. Handlers turn a refusal into an error:
"hidden" -> NotFound, "forbidden" -> AccessDenied, "reason_required" ->
BreakGlassReasonRequired, "claimed" -> TaskClaimedByAnother.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from services.domain import step_access
from services.domain.errors import RequestInvalid
from workflow.text_imagery import imagery_in_text

VIEW_ROLES = step_access.RECORD_READER_ROLES  # open any incident of their school by role
READ_ONLY_ROLES = step_access.READ_ONLY_ROLES  # auditors: read, never act
CASE_LEAD_ROLES = frozenset({"dsl", "headteacher"})  # may reassign tasks and exclude people
DEPLOY_ROLES = frozenset({"admin"})

Via = Literal["role", "assignment", "break_glass"]
Refusal = Literal["hidden", "forbidden", "reason_required", "claimed"]


@dataclass(frozen=True)
class Decision:
    """The answer of a policy check: allowed (and by what), or refused (and how to say so)."""

    allowed: bool
    via: Via | None = None
    needs_reason: bool = False
    refusal: Refusal | None = None
    explanation: str = ""


def _allow(via: Via) -> Decision:
    return Decision(allowed=True, via=via)


def _refuse(refusal: Refusal, explanation: str) -> Decision:
    return Decision(
        allowed=False,
        refusal=refusal,
        needs_reason=refusal == "reason_required",
        explanation=explanation,
    )


def clean_reason(reason: str | None) -> str | None:
    """A reason with surrounding space removed; None when it is missing or blank."""
    if reason is None:
        return None
    stripped = reason.strip()
    refusal = imagery_in_text(stripped)  # a reason is words, never a picture
    if refusal is not None:
        raise RequestInvalid(f"reason: {refusal}")
    return stripped or None


def can_view_incident(
    roles: Collection[str],
    is_involved: bool,
    is_excluded: bool,
    break_glass_reason: str | None = None,
) -> Decision:
    """May a user with these roles in the incident's school see it (and by which right)?"""
    if not roles:
        return _refuse("hidden", "the user holds no role in the incident's school")
    if is_excluded:
        return _refuse("hidden", "the user is excluded from this incident")
    if VIEW_ROLES.intersection(roles):
        return _allow("role")
    if is_involved:
        return _allow("assignment")
    if clean_reason(break_glass_reason) is not None:
        return _allow("break_glass")
    return _refuse(
        "reason_required",
        "this incident is outside your need to know: give a reason to open it (it is logged)",
    )


def can_start_incident(roles: Collection[str]) -> Decision:
    """May a user with these roles in a school report a concern there (any role but auditor)?"""
    if not roles:
        return _refuse("hidden", "the user holds no role in this school")
    if not set(roles) - READ_ONLY_ROLES:
        return _refuse("forbidden", "auditors read records; they do not report concerns")
    return _allow("role")


def _task_refusal(roles: Collection[str], is_involved: bool, is_excluded: bool) -> Decision | None:
    # What stops a user acting on any task of the incident, before the task itself matters.
    view = can_view_incident(roles, is_involved, is_excluded)
    if view.refusal == "hidden":
        return view
    if not set(roles) - READ_ONLY_ROLES:
        return _refuse("forbidden", "auditors read records; they never claim or complete tasks")
    return None


def _eligible(roles: Collection[str], lane: str, candidate_groups: Collection[str]) -> bool:
    acting = set(roles) - READ_ONLY_ROLES
    return bool(acting.intersection({lane, *candidate_groups}))


def _not_eligible(roles: Collection[str], is_involved: bool, lane: str) -> Decision:
    # Someone who may not see the incident learns nothing about it from the refusal.
    if can_view_incident(roles, is_involved, False).allowed:
        return _refuse("forbidden", f"this task is for the {lane!r} role, which you do not hold")
    return _refuse("hidden", "the user may not see this incident")


def can_complete_task(
    user_id: int,
    roles: Collection[str],
    lane: str,
    candidate_groups: Collection[str],
    assignee_id: int | None,
    *,
    is_involved: bool = False,
    is_excluded: bool = False,
) -> Decision:
    """May this user complete a ready task owned by `lane` (widened by candidate groups)?"""
    refused = _task_refusal(roles, is_involved, is_excluded)
    if refused is not None:
        return refused
    if assignee_id == user_id:
        return _allow("assignment")
    if assignee_id is not None:
        return _refuse("claimed", "someone else has claimed this task: ask a DSL to reassign it")
    if _eligible(roles, lane, candidate_groups):
        return _allow("role")
    return _not_eligible(roles, is_involved, lane)


# A user may take a ready task for themselves exactly when they may complete it.
can_claim_task = can_complete_task


def can_unclaim_task(
    user_id: int,
    roles: Collection[str],
    assignee_id: int | None,
    *,
    is_involved: bool = False,
    is_excluded: bool = False,
) -> Decision:
    """May this user hand a task they claimed back to its role (only the claimer may)?"""
    refused = _task_refusal(roles, is_involved, is_excluded)
    if refused is not None:
        return refused
    if assignee_id == user_id:
        return _allow("assignment")
    if assignee_id is None:
        return _refuse("forbidden", "this task is not claimed by anyone")
    return _refuse("claimed", "someone else has claimed this task: ask a DSL to reassign it")


def can_assign_tasks(roles: Collection[str], is_excluded: bool) -> Decision:
    """May this user reassign an incident's tasks (to cover an absence): DSL or headteacher."""
    view = can_view_incident(roles, False, is_excluded)
    if view.refusal == "hidden":
        return view
    if CASE_LEAD_ROLES.intersection(roles):
        return _allow("role")
    return _refuse("forbidden", "only a DSL or the headteacher may reassign tasks")


def can_be_assigned(
    roles: Collection[str], lane: str, candidate_groups: Collection[str], is_excluded: bool
) -> Decision:
    """May a person be given a task: they hold its role in the school and are not excluded."""
    if is_excluded:
        return _refuse("forbidden", "that person is excluded from this incident")
    if not roles:
        return _refuse("forbidden", "that person holds no role in the incident's school")
    if not _eligible(roles, lane, candidate_groups):
        groups = ", ".join(sorted({lane, *candidate_groups}))
        return _refuse("forbidden", f"that person holds none of the task's roles ({groups})")
    return _allow("role")


def can_exclude_person(roles: Collection[str], is_excluded: bool) -> Decision:
    """May this user exclude a named person from an incident: DSL or headteacher."""
    view = can_view_incident(roles, False, is_excluded)
    if view.refusal == "hidden":
        return view
    if CASE_LEAD_ROLES.intersection(roles):
        return _allow("role")
    return _refuse("forbidden", "only a DSL or the headteacher may exclude someone from a case")


def can_deploy_definitions(roles_anywhere: Collection[str]) -> Decision:
    """May this user deploy process definitions: a process administrator in some school."""
    if DEPLOY_ROLES.intersection(roles_anywhere):
        return _allow("role")
    return _refuse("forbidden", "only a process administrator may deploy process definitions")
