"""The access policy as SQL: filters for lists, and the facts the policy functions need."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, contains_eager

from services.db.models import HumanTask, Incident, IncidentExclusion, Membership
from services.db.repositories.paging import check_page
from services.domain.access import READ_ONLY_ROLES, VIEW_ROLES


def _excluded(user_id: int) -> ColumnElement[bool]:
    return exists().where(
        IncidentExclusion.incident_id == Incident.id, IncidentExclusion.user_id == user_id
    )


def _involved(user_id: int) -> ColumnElement[bool]:
    return exists().where(
        HumanTask.incident_id == Incident.id,
        or_(HumanTask.assignee_id == user_id, HumanTask.completed_by == user_id),
    )


def incident_visible_to(user_id: int, school_id: int) -> ColumnElement[bool]:
    """A WHERE clause on Incident: the school's incidents this user may see without break-glass.

    Use as `select(Incident).where(incident_visible_to(user_id, school_id))`; it mirrors
    access.can_view_incident (role dsl/headteacher/auditor, or involvement; never excluded).
    """
    member = exists().where(Membership.user_id == user_id, Membership.school_id == school_id)
    viewer = member.where(Membership.role.in_(sorted(VIEW_ROLES)))
    return and_(
        Incident.school_id == school_id,
        member,
        ~_excluded(user_id),
        or_(viewer, _involved(user_id)),
    )


def visible_incidents(
    session: Session,
    user_id: int,
    school_id: int,
    *,
    status: str | None = None,
    limit: int,
    offset: int = 0,
) -> list[Incident]:
    """One page of the incidents a user may see in a school, newest first, without their state."""
    check_page(limit, offset)
    query = select(Incident).where(incident_visible_to(user_id, school_id))
    if status is not None:
        query = query.where(Incident.status == status)
    query = query.order_by(Incident.created_at.desc(), Incident.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def is_involved(session: Session, incident_id: str, user_id: int) -> bool:
    """Is the user assigned to, or did they complete, one of the incident's tasks?"""
    query = select(HumanTask.id).where(
        HumanTask.incident_id == incident_id,
        or_(HumanTask.assignee_id == user_id, HumanTask.completed_by == user_id),
    )
    return session.scalar(query.limit(1)) is not None


def inbox_tasks(
    session: Session,
    user_id: int,
    school_id: int,
    roles: Collection[str],
    *,
    limit: int,
    offset: int = 0,
) -> list[HumanTask]:
    """Ready tasks the user can act on: theirs, and their roles' unclaimed ones; overdue first.

    Incidents the user is excluded from are left out. Each task comes with its incident's
    reference (not its state).
    """
    check_page(limit, offset)
    acting = sorted(set(roles) - READ_ONLY_ROLES)
    if not acting:
        return []
    mine = HumanTask.assignee_id == user_id
    pool = and_(HumanTask.assignee_id.is_(None), HumanTask.role.in_(acting))
    query = (
        select(HumanTask)
        .join(HumanTask.incident)
        .where(
            HumanTask.school_id == school_id,  # served by ix_human_tasks_school_ready
            HumanTask.state == "ready",
            or_(mine, pool),
            ~_excluded(user_id),
        )
        .options(
            contains_eager(HumanTask.incident).load_only(
                Incident.reference, Incident.school_id, Incident.status
            )
        )
        .order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.created_at.asc(), HumanTask.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    """Has a due time passed?"""
    return due_at is not None and due_at < now
