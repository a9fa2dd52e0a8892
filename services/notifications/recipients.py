"""Who is told about a task: the active people the access rules would let act on it.

For a task made ready: everyone active holding the task's role (its lane) or one of its
candidate groups in the incident's school, who may complete it (services.domain.access:
never someone excluded from the incident, never an auditor, who only reads). For a task
given to someone: that person, under the same rules. Nobody else learns the task exists.
For a break-glass access: the school's active DSLs not excluded from the incident.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import IncidentExclusion, Membership, User
from services.domain.access import READ_ONLY_ROLES, can_complete_task

DSL_ROLE = "dsl"


@dataclass(frozen=True)
class Recipient:
    """A person to tell, and where to email them."""

    user_id: int
    email: str


def people_for_ready_task(
    uow: SqlAlchemyUnitOfWork,
    school_id: int,
    incident_id: str,
    lane: str,
    candidate_groups: Collection[str],
) -> list[Recipient]:
    """The active people of the school who may take this task, by user id."""
    acting = sorted({lane, *candidate_groups} - READ_ONLY_ROLES)
    if not acting:
        return []
    holders = select(Membership.user_id).where(
        Membership.school_id == school_id, Membership.role.in_(acting)
    )
    members, excluded = _active_members(uow, school_id, incident_id, holders)
    return [
        Recipient(user_id, email)
        for user_id, (email, roles) in sorted(members.items())
        if can_complete_task(
            user_id, roles, lane, candidate_groups, None, is_excluded=user_id in excluded
        ).allowed
    ]


def assignee_of_task(
    uow: SqlAlchemyUnitOfWork,
    school_id: int,
    incident_id: str,
    lane: str,
    assignee_id: int,
) -> Recipient | None:
    """The person given the task, if they are active and may still act on it."""
    members, excluded = _active_members(uow, school_id, incident_id, [assignee_id])
    if assignee_id not in members:
        return None
    email, roles = members[assignee_id]
    decision = can_complete_task(
        assignee_id, roles, lane, (), assignee_id, is_excluded=assignee_id in excluded
    )
    return Recipient(assignee_id, email) if decision.allowed else None


def dsls_of_incident(
    uow: SqlAlchemyUnitOfWork, school_id: int, incident_id: str
) -> list[Recipient]:
    """The school's active DSLs who are not excluded from the incident, by user id."""
    holders = select(Membership.user_id).where(
        Membership.school_id == school_id, Membership.role == DSL_ROLE
    )
    members, excluded = _active_members(uow, school_id, incident_id, holders)
    return [
        Recipient(user_id, email)
        for user_id, (email, _roles) in sorted(members.items())
        if user_id not in excluded
    ]


def _active_members(
    uow: SqlAlchemyUnitOfWork, school_id: int, incident_id: str, user_ids: Select[Any] | list[int]
) -> tuple[dict[int, tuple[str, frozenset[str]]], frozenset[int]]:
    """The active ones' roles in the school, and which of them are kept out of the incident."""
    # Every role each of these people holds in the school: the policy decides on all of them.
    # One statement (the exclusions joined in): it runs for every event the notifier handles.
    kept_out = IncidentExclusion.id.is_not(None)
    query = (
        select(User.id, User.email, Membership.role, kept_out)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(
            IncidentExclusion,
            and_(
                IncidentExclusion.incident_id == incident_id,
                IncidentExclusion.user_id == User.id,
            ),
        )
        .where(
            Membership.school_id == school_id,
            User.is_active.is_(True),
            User.id.in_(user_ids),
        )
    )
    found: dict[int, tuple[str, set[str]]] = {}
    excluded: set[int] = set()
    for user_id, email, role, is_excluded in uow.session.execute(query):
        found.setdefault(user_id, (email, set()))[1].add(role)
        if is_excluded:
            excluded.add(user_id)
    members = {uid: (email, frozenset(roles)) for uid, (email, roles) in found.items()}
    return members, frozenset(excluded)
