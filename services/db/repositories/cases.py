"""The incidents list: one page of the incidents a person may see, filtered, searched, sorted.

Visibility is services.domain.visibility.incident_visible_to (the SQL mirror of the incident
page's rule); free-text search looks only in answers the caller may read (`readable`), so a
hit can never reveal text the incident page would not show them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from services.db.models import (
    CaseAnswer,
    DefinitionVersion,
    HumanTask,
    Incident,
    IncidentCaseFacts,
)

SORTS = {
    "newest": (Incident.created_at.desc(), Incident.id),
    "oldest": (Incident.created_at.asc(), Incident.id),
    "reference": (Incident.reference.asc(), Incident.id),
    # Closed incidents only (see list_cases), so no NULL needs placing and the index serves.
    "closed": (Incident.closed_at.desc(), Incident.id),
}
ROUTES = ("immediate", "in_house", "referral", "undecided")
MAX_QUERY_CHARS = 200
MAX_EXPORT = 10_000
ROWS_PER_READ = 1_000
# A reference as the school writes it ("DS-2026-0042"): searched as a reference only.
REFERENCE = re.compile(r"^[A-Za-z]{1,8}-\d{4}-\d{1,8}$")

Readable = Callable[[], ColumnElement[bool]]


@dataclass(frozen=True)
class CaseFilter:
    """What the list is narrowed by; None means "any"."""

    status: str | None = None  # "open" or "closed"
    text: str | None = None  # a reference, or words in answers the caller may read
    route: str | None = None  # one of ROUTES
    criterion: str | None = None  # an immediate-referral criterion id that held
    overdue: bool | None = None
    assigned_to: int | None = None  # ready tasks held by this user
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    definition_version_id: int | None = None
    sort: str = "newest"


@dataclass(frozen=True)
class CaseRow:
    """One incident as the list shows it: no answers, no names."""

    id: str
    reference: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    route: str | None
    immediate_referral: bool | None
    referral_criteria: tuple[str, ...]
    classification: str | None
    definition_version_id: int
    process_version: int
    overdue: bool
    open_tasks: int
    # Derived facts withheld from the caller ("route", "criteria", "classification").
    withheld: frozenset[str] = frozenset()


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _ready_tasks(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        HumanTask.incident_id == Incident.id, HumanTask.state == "ready", *conditions
    )


def _route_clause(route: str) -> ColumnElement[bool]:
    if route == "immediate":
        return IncidentCaseFacts.immediate_referral.is_(True)
    if route == "in_house":
        return IncidentCaseFacts.route == "in_house"
    if route == "referral":  # referred after the risk assessment, not immediately
        return and_(
            IncidentCaseFacts.route == "referral",
            or_(
                IncidentCaseFacts.immediate_referral.is_(None),
                IncidentCaseFacts.immediate_referral.is_(False),
            ),
        )
    return IncidentCaseFacts.route.is_(None)


def _text_clause(text: str, readable: ColumnElement[bool]) -> ColumnElement[bool]:
    needle = text.strip()[:MAX_QUERY_CHARS]
    if REFERENCE.match(needle):  # references are written in capitals: keep the index usable
        return Incident.reference.in_(sorted({needle, needle.upper()}))
    in_answers = exists().where(
        CaseAnswer.incident_id == Incident.id,
        CaseAnswer.search_text.like(_like(needle.lower()), escape="\\"),
        readable,
    )
    return or_(Incident.reference == needle.upper(), in_answers)


@dataclass(frozen=True)
class FactsReadable:
    """Where the caller may read each derived fact: the process versions, as WHERE clauses.

    A filter on a fact matches only incidents whose fact the caller reads (step_access's
    reads_facts_of), so filtering cannot probe a fact the rows would withhold.
    """

    route: ColumnElement[bool]
    criteria: ColumnElement[bool]


def _filtered(
    query: Select[Any],
    case: CaseFilter,
    now: datetime,
    readable: ColumnElement[bool],
    facts: FactsReadable | None = None,
) -> Select[Any]:
    if case.status is not None:
        query = query.where(Incident.status == case.status)
    if case.text:
        query = query.where(_text_clause(case.text, readable))
    if case.route is not None:
        query = query.where(_route_clause(case.route))
        if facts is not None:
            query = query.where(facts.route)
    if case.criterion is not None:
        query = query.where(
            IncidentCaseFacts.referral_criteria.like(_like(f",{case.criterion},"), escape="\\")
        )
        if facts is not None:
            query = query.where(facts.criteria)
    overdue = _ready_tasks(HumanTask.due_at < now)
    if case.overdue is True:
        query = query.where(overdue)
    elif case.overdue is False:
        query = query.where(~overdue)
    if case.assigned_to is not None:
        query = query.where(_ready_tasks(HumanTask.assignee_id == case.assigned_to))
    if case.created_from is not None:
        query = query.where(Incident.created_at >= case.created_from)
    if case.created_to is not None:
        query = query.where(Incident.created_at < case.created_to)
    if case.definition_version_id is not None:
        query = query.where(Incident.definition_version_id == case.definition_version_id)
    return query


def list_cases(
    session: Session,
    visible: ColumnElement[bool],
    readable: ColumnElement[bool],
    case: CaseFilter,
    now: datetime,
    *,
    limit: int,
    offset: int = 0,
    facts: FactsReadable | None = None,
) -> list[CaseRow]:
    """One page of the incidents `visible` allows, narrowed by `case`, in its sort order.

    `facts`: where the caller reads the route and criteria (None: everywhere).
    """
    # Exports read up to MAX_EXPORT rows in one go; pages are far smaller.
    if not 1 <= limit <= MAX_EXPORT or offset < 0:
        raise ValueError(f"limit {limit} / offset {offset} out of range: 1..{MAX_EXPORT}, >= 0")
    overdue = (
        select(func.count())
        .select_from(HumanTask)
        .where(
            HumanTask.incident_id == Incident.id,
            HumanTask.state == "ready",
            HumanTask.due_at < now,
        )
        .scalar_subquery()
    )
    open_tasks = (
        select(func.count())
        .select_from(HumanTask)
        .where(HumanTask.incident_id == Incident.id, HumanTask.state == "ready")
        .scalar_subquery()
    )
    # Two steps (a "deferred join"): find the page's ids with only what filters and sorting
    # need, then read those rows with their counts, so the per-row subqueries run for one
    # page, not for every incident the filters let through.
    page: Any = select(Incident.id).where(visible)
    if case.route is not None or case.criterion is not None:
        page = page.outerjoin(IncidentCaseFacts, IncidentCaseFacts.incident_id == Incident.id)
    page = _filtered(page, case, now, readable, facts)
    if case.sort == "closed":
        page = page.where(Incident.closed_at.is_not(None))
    page = page.order_by(*SORTS.get(case.sort, SORTS["newest"])).limit(limit).offset(offset)
    ids = list(session.scalars(page))
    found: dict[str, CaseRow] = {}
    for first in range(0, len(ids), ROWS_PER_READ):
        chunk = ids[first : first + ROWS_PER_READ]
        rows = (
            select(Incident, IncidentCaseFacts, DefinitionVersion.version, overdue, open_tasks)
            .outerjoin(IncidentCaseFacts, IncidentCaseFacts.incident_id == Incident.id)
            .join(DefinitionVersion, DefinitionVersion.id == Incident.definition_version_id)
            .where(Incident.id.in_(chunk))
        )
        for incident, decided, version, late, waiting in session.execute(rows):
            found[incident.id] = _row(incident, decided, version, late, waiting)
    return [found[i] for i in ids if i in found]


def _row(
    incident: Incident,
    facts: IncidentCaseFacts | None,
    version: int,
    late: int,
    waiting: int,
) -> CaseRow:
    criteria = tuple(c for c in (facts.referral_criteria if facts else "").split(",") if c)
    return CaseRow(
        id=incident.id,
        reference=incident.reference,
        status=incident.status,
        created_at=incident.created_at,
        closed_at=incident.closed_at,
        route=facts.route if facts else None,
        immediate_referral=facts.immediate_referral if facts else None,
        referral_criteria=criteria,
        classification=facts.classification if facts else None,
        definition_version_id=incident.definition_version_id,
        process_version=version,
        overdue=bool(late),
        open_tasks=int(waiting),
    )


def process_versions(session: Session, school_id: int) -> list[tuple[int, int, str]]:
    """(version id, version number, process name) of the versions the school's incidents run."""
    query = (
        select(DefinitionVersion)
        .where(
            exists().where(
                Incident.definition_version_id == DefinitionVersion.id,
                Incident.school_id == school_id,
            )
        )
        .order_by(DefinitionVersion.id)
    )
    return [(v.id, v.version, v.definition.name) for v in session.scalars(query)]
