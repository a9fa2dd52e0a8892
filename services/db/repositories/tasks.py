"""Human tasks: what the engine made ready, and the inbox query over them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, contains_eager

from services.db.models import HumanTask, Incident, IncidentExclusion
from services.db.repositories.paging import check_page


class TaskRepository:
    """Human tasks by id, by incident, and as a role's inbox."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        task_id: str,
        incident_id: str,
        school_id: int,
        bpmn_id: str,
        name: str,
        role: str,
        due_at: datetime | None = None,
        assignee_id: int | None = None,
    ) -> HumanTask:
        """Add a ready task; it is written when the unit of work commits."""
        task = HumanTask(
            id=task_id,
            incident_id=incident_id,
            school_id=school_id,
            bpmn_id=bpmn_id,
            name=name,
            role=role,
            due_at=due_at,
            assignee_id=assignee_id,
            state="ready",
        )
        self._session.add(task)
        return task

    def get(self, task_id: str) -> HumanTask | None:
        """Return the task with this id, if any."""
        return self._session.get(HumanTask, task_id)

    def for_incident(
        self, incident_id: str, *, state: str | None = None, limit: int = 100
    ) -> list[HumanTask]:
        """Return an incident's tasks in the order they were created."""
        check_page(limit)
        query = select(HumanTask).where(HumanTask.incident_id == incident_id)
        if state is not None:
            query = query.where(HumanTask.state == state)
        query = query.order_by(HumanTask.created_at, HumanTask.id).limit(limit)
        return list(self._session.scalars(query))

    def ready_for(
        self,
        school_id: int,
        roles: Collection[str],
        *,
        user_id: int | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[HumanTask]:
        """Return one page of a school's ready tasks for these roles, most overdue first.

        Tasks with a due time come first, earliest due first; tasks without one follow,
        oldest first. With user_id, incidents that person is excluded from are left out.
        Each task's incident is loaded with it (reference and status, not its state).
        """
        check_page(limit, offset)
        if not roles:
            return []
        query = (
            select(HumanTask)
            .join(HumanTask.incident)
            .where(
                HumanTask.school_id == school_id,
                HumanTask.state == "ready",
                HumanTask.role.in_(sorted(roles)),
            )
        )
        if user_id is not None:
            excluded = exists().where(
                IncidentExclusion.incident_id == HumanTask.incident_id,
                IncidentExclusion.user_id == user_id,
            )
            query = query.where(~excluded)
        query = (
            query.options(
                contains_eager(HumanTask.incident).load_only(
                    Incident.reference, Incident.school_id, Incident.status
                )
            )
            .order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.created_at.asc(), HumanTask.id)
            .limit(limit)
            .offset(offset)
        )
        return list(self._session.scalars(query))
