"""Who may do what with children's records: pure functions over roles, like domain.access."""

from __future__ import annotations

from collections.abc import Collection

from services.domain.access import Decision, Refusal, can_view_incident

CHILD_LEAD_ROLES = frozenset({"dsl"})  # confirm, merge, transfer, retention decisions
CHRONOLOGY_ROLES = frozenset({"dsl", "headteacher"})
REPORT_ROLES = frozenset({"dsl", "headteacher", "auditor"})


def _refused(refusal: Refusal, explanation: str) -> Decision:
    return Decision(allowed=False, refusal=refusal, explanation=explanation)


def can_name_children(roles: Collection[str], is_involved: bool, is_excluded: bool) -> Decision:
    """May this user record children in an incident: anyone who may see it, but auditors."""
    view = can_view_incident(roles, is_involved, is_excluded)
    if not view.allowed:
        return view if view.refusal == "hidden" else _refused("forbidden", view.explanation)
    if not set(roles) - {"auditor"}:
        return _refused("forbidden", "auditors read records; they do not name children")
    return view


def can_lead_children(roles: Collection[str]) -> Decision:
    """May this user confirm, merge, transfer or decide retention: a DSL of the school."""
    if not roles:
        return _refused("hidden", "the user holds no role in the child's school")
    if CHILD_LEAD_ROLES.intersection(roles):
        return Decision(allowed=True, via="role")
    return _refused("forbidden", "only a DSL may do this")


def can_read_chronology(roles: Collection[str]) -> Decision:
    """May this user read a child's chronology and records: the DSL and the headteacher."""
    if not roles:
        return _refused("hidden", "the user holds no role in the child's school")
    if CHRONOLOGY_ROLES.intersection(roles):
        return Decision(allowed=True, via="role")
    return _refused("forbidden", "only the DSL and the headteacher read a child's chronology")


def can_read_reports(roles: Collection[str]) -> Decision:
    """May this user see a school's reports: DSL, headteacher or auditor."""
    if not roles:
        return _refused("hidden", "the user holds no role in this school")
    if REPORT_ROLES.intersection(roles):
        return Decision(allowed=True, via="role")
    return _refused("forbidden", "reports are for the DSL, the headteacher and auditors")
