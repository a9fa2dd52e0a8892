"""Reads the HTML pages need beyond the domain's queries, as queries on the web's bus.

- ReportForm: the disclosure form of the process a school reports concerns with;
- IncidentPage: ViewIncident (access-checked and audited) plus what the page shows with it,
  the labels of each completed step's answers and the names of the school's people;
- SchoolPeople: the people of a school and their roles (to pick an assignee or someone to
  exclude), for members of that school only.
Handlers read through the unit of work, like the domain's; the views stay free of SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership, User
from services.db.repositories.studio import StudioRepository
from services.domain.access import can_start_incident
from services.domain.bus import Handler
from services.domain.commands import DEFAULT_PROCESS_ID, DISCLOSURE_TASK
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound, ProcessNotStartable
from services.domain.handlers.common import enforce
from services.domain.handlers.views import view_incident
from services.domain.messages import Message
from services.domain.queries import ViewIncident
from services.domain.read_models import IncidentView
from workflow import engine
from workflow.model import TaskView


@dataclass(frozen=True)
class Person:
    """A member of a school: id, the name people know them by, their roles there."""

    id: int
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class StartForm:
    """What the "Report a concern" page shows: the school and the disclosure task's form."""

    school_id: int
    school_name: str
    task: TaskView


@dataclass(frozen=True)
class IncidentPageData:
    """An incident as one person may see it, with the labels and names its page needs."""

    view: IncidentView
    people: Mapping[int, Person]

    def name_of(self, user_id: int | str | None) -> str:
        """The name of a user id (the engine names actors by id as text); "" when unknown."""
        try:
            person = self.people.get(int(user_id)) if user_id is not None else None
        except ValueError:
            return ""
        return person.name if person is not None else ""


@dataclass(frozen=True)
class ReportForm(Message[StartForm]):
    """The disclosure form a person would fill in to report a concern in a school."""

    school_id: int
    actor_id: int
    process_id: str = DEFAULT_PROCESS_ID


@dataclass(frozen=True)
class IncidentPage(Message[IncidentPageData]):
    """Open an incident for its page (audited, as ViewIncident) with people's names."""

    view: ViewIncident


@dataclass(frozen=True)
class SchoolPeople(Message[tuple[Person, ...]]):
    """The active people of a school, by name; only for someone who belongs to it."""

    school_id: int
    actor_id: int


def report_form(query: ReportForm, deps: Dependencies) -> StartForm:
    """Check the person may report in the school; return the latest process's first form."""
    with deps.uow_factory() as uow:
        roles = uow.users.roles_in(query.actor_id, query.school_id)
        enforce(can_start_incident(roles), f"school {query.school_id}")
        # The school's version (its studio choice, else the latest), as start_incident uses.
        version_id = StudioRepository(uow.session).current_version_id(
            query.school_id, query.process_id
        )
        if version_id is None:
            raise ProcessNotStartable(
                f"process {query.process_id!r} is not deployed: deploy its BPMN before "
                "reporting concerns"
            )
        definition = deps.definitions.get(uow, version_id)
        school = uow.schools.get(query.school_id)
        school_name = school.name if school is not None else ""
    started = engine.start_instance(definition, deps.clock.now(), calendar=deps.calendar)
    task = next((t for t in started.ready if t.bpmn_id == DISCLOSURE_TASK), None)
    if task is None:
        raise ProcessNotStartable(
            f"process {query.process_id!r} does not begin with the user task {DISCLOSURE_TASK!r}"
        )
    return StartForm(query.school_id, school_name, task)


def incident_page(query: IncidentPage, deps: Dependencies) -> IncidentPageData:
    """Open the incident (access check and audit row as ViewIncident), with people's names."""
    view = view_incident(query.view, deps)
    with deps.uow_factory() as uow:
        people = {person.id: person for person in _people_of(uow, view.school_id)}
    return IncidentPageData(view, people)


def school_people(query: SchoolPeople, deps: Dependencies) -> tuple[Person, ...]:
    """The school's active people by name; NotFound for someone outside the school."""
    with deps.uow_factory() as uow:
        if not uow.users.roles_in(query.actor_id, query.school_id):
            raise NotFound(f"school {query.school_id} not found")
        return _people_of(uow, query.school_id)


def _people_of(uow: SqlAlchemyUnitOfWork, school_id: int) -> tuple[Person, ...]:
    rows = uow.session.execute(
        select(User.id, User.display_name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.school_id == school_id, User.is_active.is_(True))
        .order_by(User.display_name, User.id, Membership.role)
    )
    roles: dict[int, tuple[str, list[str]]] = {}
    for user_id, name, role in rows:
        roles.setdefault(user_id, (name, []))[1].append(role)
    return tuple(Person(uid, name, tuple(held)) for uid, (name, held) in roles.items())


def page_read_handlers() -> dict[type[Message[Any]], Handler]:
    """The page reads, to add to the domain's handlers on the web's bus."""
    return {
        ReportForm: report_form,
        IncidentPage: incident_page,
        SchoolPeople: school_people,
    }
