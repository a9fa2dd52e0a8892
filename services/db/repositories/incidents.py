"""Incidents, the exclusions on them, and the children involved."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Integer, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, undefer

from services.db.models import (
    Child,
    ExternalTask,
    HumanTask,
    Incident,
    IncidentCaseFacts,
    IncidentChild,
    IncidentExclusion,
    Membership,
)
from services.db.models.incidents import new_incident_id
from services.db.repositories.paging import check_page

REFERENCE_PREFIX = "DS"


@dataclass(frozen=True)
class TaskIncident:
    """A task's incident, locked for a change, with what the access policy needs of the user."""

    incident: Incident
    roles: frozenset[str]  # the user's roles in the incident's school
    is_excluded: bool
    is_involved: bool  # assigned to, or completed, one of the incident's tasks
    # Whether the incident has external task rows: without any, a step need not read them.
    has_external_tasks: bool = True
    case_facts: IncidentCaseFacts | None = None  # the incident's facts row, if it has one


class IncidentRepository:
    """Incidents by id or reference, with the state loaded only where a command needs it."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        school_id: int,
        definition_version_id: int,
        reference: str,
        state: str,
        created_by: int | None,
        next_timer_at: datetime | None = None,
    ) -> Incident:
        """Add an open incident; it is written when the unit of work commits."""
        incident = Incident(
            id=new_incident_id(),  # known before the flush, so tasks can point at it
            school_id=school_id,
            definition_version_id=definition_version_id,
            reference=reference,
            state=state,
            created_by=created_by,
            next_timer_at=next_timer_at,
        )
        self._session.add(incident)
        return incident

    def get(self, incident_id: str) -> Incident | None:
        """Return the incident with its state; its commit is checked against its version."""
        return self._session.get(Incident, incident_id, options=[undefer(Incident.state)])

    def get_for_update(self, incident_id: str) -> Incident | None:
        """Return the incident for a command that will change it.

        PostgreSQL locks the row until commit, so concurrent commands on one incident queue.
        SQLite has no row locks (FOR UPDATE is not rendered there): the version check at
        commit turns a concurrent change into ConcurrentUpdate instead.
        """
        query = (
            select(Incident)
            .where(Incident.id == incident_id)
            .options(undefer(Incident.state))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self._session.scalar(query)

    def claim_due(self, now: datetime, limit: int, exclude: Collection[str] = ()) -> list[str]:
        """Lock and return the ids of open incidents whose next timer is due, most overdue first.

        PostgreSQL locks the rows until the transaction ends and skips rows another
        transaction holds (FOR UPDATE SKIP LOCKED), so two schedulers never claim the same
        incident at once. SQLite renders no locking clause (one scheduler is its topology).
        """
        check_page(limit)
        query = (
            select(Incident.id)
            .where(Incident.status == "open", Incident.next_timer_at <= now)
            .order_by(Incident.next_timer_at, Incident.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if exclude:
            query = query.where(Incident.id.not_in(sorted(exclude)))
        return list(self._session.scalars(query))

    def earliest_timer(self) -> datetime | None:
        """The soonest next timer of any open incident (None when no timer waits)."""
        query = select(func.min(Incident.next_timer_at)).where(Incident.status == "open")
        earliest: datetime | None = self._session.scalar(query)
        return earliest

    def get_by_reference(self, school_id: int, reference: str) -> Incident | None:
        """Return a school's incident by its human reference, without its state."""
        query = select(Incident).where(
            Incident.school_id == school_id, Incident.reference == reference
        )
        return self._session.scalar(query)

    def list_for_school(
        self, school_id: int, *, status: str | None, limit: int, offset: int = 0
    ) -> list[Incident]:
        """Return one page of a school's incidents, newest first, without their state."""
        check_page(limit, offset)
        query = select(Incident).where(Incident.school_id == school_id)
        if status is not None:
            query = query.where(Incident.status == status)
        query = query.order_by(Incident.created_at.desc(), Incident.id).limit(limit).offset(offset)
        return list(self._session.scalars(query))

    def next_reference(self, school_id: int, year: int) -> str:
        """Return the next free reference of a school for a year, e.g. "DS-2026-0001".

        Two commands racing for the same number collide on the unique (school, reference)
        constraint at commit; the loser retries.
        """
        prefix = f"{REFERENCE_PREFIX}-{year}-"
        query = (
            select(Incident.reference)
            .where(Incident.school_id == school_id, Incident.reference.startswith(prefix))
            # Longest first, so "DS-2026-10000" comes after "DS-2026-9999".
            .order_by(func.length(Incident.reference).desc(), Incident.reference.desc())
            .limit(1)
        )
        last = self._session.scalar(query)
        number = int(last.removeprefix(prefix)) + 1 if last is not None else 1
        return f"{prefix}{number:04d}"

    def exclude(
        self, incident_id: str, user_id: int, reason: str, created_by: int | None
    ) -> IncidentExclusion:
        """Keep a named person out of an incident."""
        exclusion = IncidentExclusion(
            incident_id=incident_id, user_id=user_id, reason=reason, created_by=created_by
        )
        self._session.add(exclusion)
        return exclusion

    def lock_for_task(self, task_id: str, user_id: int) -> TaskIncident | None:
        """The incident of a task, locked as `get_for_update` does, with the user's standing.

        One statement where a command on a task would otherwise run seven (the task's incident,
        the incident, the user's roles, exclusion, involvement, whether it has external tasks,
        and its case facts row), after the lock on PostgreSQL.
        None for an unknown task.
        """
        dialect = self._session.get_bind().dialect.name
        if dialect == "postgresql":
            # Lock first, then read in a statement of its own: a lock that had to wait sees the
            # locked row as it is now, but a statement's other tables (roles, exclusions, facts,
            # external tasks) as they were when it began, before the holder committed.
            locked = self._session.execute(_LOCK_TASK_INCIDENT, {"task_id": task_id}).first()
            if locked is None:
                return None
        query = _lock_for_task_query(dialect)
        row = self._session.execute(query, {"task_id": task_id, "user_id": user_id}).first()
        if row is None:
            return None
        incident, facts, joined, is_excluded, is_involved, has_external = row
        held = frozenset(joined.split(",")) if joined else frozenset()
        return TaskIncident(
            incident, held, bool(is_excluded), bool(is_involved), bool(has_external), facts
        )

    def is_excluded(self, incident_id: str, user_id: int) -> bool:
        """Tell whether this person is excluded from this incident."""
        query = select(IncidentExclusion.id).where(
            IncidentExclusion.incident_id == incident_id, IncidentExclusion.user_id == user_id
        )
        return self._session.scalar(query) is not None


# PostgreSQL: the row lock on the task's incident, taken before the incident is read.
_LOCK_TASK_INCIDENT = (
    select(Incident.id)
    .join(HumanTask, HumanTask.incident_id == Incident.id)
    .where(HumanTask.id == bindparam("task_id"))
    .with_for_update(of=Incident)
)


@cache
def _lock_for_task_query(dialect: str) -> Any:
    # Built once per dialect (the statement cache then skips compiling it): its alias and
    # subqueries cost more to build than the statement takes to run.
    user_id: BindParameter[int] = bindparam("user_id", type_=Integer)
    roles = (
        select(_joined_roles(dialect))
        .where(Membership.user_id == user_id, Membership.school_id == Incident.school_id)
        .scalar_subquery()
    )
    excluded = exists().where(
        IncidentExclusion.incident_id == Incident.id, IncidentExclusion.user_id == user_id
    )
    other = aliased(HumanTask)
    involved = exists().where(
        other.incident_id == Incident.id,
        or_(other.assignee_id == user_id, other.completed_by == user_id),
    )
    external = exists().where(ExternalTask.incident_id == Incident.id)
    # No FOR UPDATE: PostgreSQL locked the row just before; SQLite has no row locks (its write
    # lock comes with the first write, which fails if a writer committed since this read).
    return (
        select(Incident, IncidentCaseFacts, roles, excluded, involved, external)
        .join(HumanTask, HumanTask.incident_id == Incident.id)
        .outerjoin(IncidentCaseFacts, IncidentCaseFacts.incident_id == Incident.id)
        .where(HumanTask.id == bindparam("task_id"))
        .options(undefer(Incident.state))
        .execution_options(populate_existing=True)
    )


def _joined_roles(dialect: str) -> Any:
    # Role names are identifiers (no commas): one comma-joined text carries the set.
    if dialect == "postgresql":
        return func.string_agg(Membership.role, ",")
    return func.group_concat(Membership.role, ",")


class ChildRepository:
    """Children known to a school and the incidents they are part of."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, school_id: int, display_name: str, date_of_birth: date | None) -> Child:
        """Add a child and return it with its id."""
        child = Child(school_id=school_id, display_name=display_name, date_of_birth=date_of_birth)
        self._session.add(child)
        self._session.flush()
        return child

    def get(self, child_id: int) -> Child | None:
        """Return the child with this id, if any."""
        return self._session.get(Child, child_id)

    def link(self, incident_id: str, child_id: int, role: str) -> IncidentChild:
        """Record how a child is involved in an incident ('pictured', 'shared', ...)."""
        link = IncidentChild(incident_id=incident_id, child_id=child_id, role=role)
        self._session.add(link)
        return link

    def for_incident(self, incident_id: str, limit: int) -> list[tuple[Child, str]]:
        """Return the children of an incident with their role in it, by name."""
        check_page(limit)
        query = (
            select(Child, IncidentChild.role)
            .join(IncidentChild, IncidentChild.child_id == Child.id)
            .where(IncidentChild.incident_id == incident_id)
            .order_by(Child.display_name, Child.id, IncidentChild.role)
            .limit(limit)
        )
        return [(child, role) for child, role in self._session.execute(query)]
