"""The incidents list as a query: membership checked, every list and search audited.

A search's words are never stored: the audit row keeps their length and a keyed hash (HMAC
with the app's secret), so an auditor can tell two searches for the same words apart from
different ones without the trail showing a child's name to people who may not read it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, CaseAnswer, Incident
from services.db.repositories.cases import (
    CaseFilter,
    CaseRow,
    FactsReadable,
    list_cases,
    process_versions,
)
from services.domain.access import can_view_incident
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound
from services.domain.handlers.common import enforce, user_facts
from services.domain.messages import Message
from services.domain.read_models import AuditEntry
from services.domain.step_access import (
    FACT_SOURCES,
    Viewer,
    readable_facts,
    reads_records_by_role,
    searchable_steps,
)
from services.domain.visibility import incident_visible_to
from workflow.process_graph import criteria_labels, option_labels, task_readers

MAX_PAGE = 200


def fingerprint(key: bytes, text: str) -> str:
    """A keyed hash of search words (normalised), safe to store in the audit trail."""
    normal = " ".join(text.lower().split())
    return hmac.new(key, normal.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class CasePage:
    """One page of the list, with the words for the referral criteria its rows hold."""

    rows: list[CaseRow]
    criteria_words: dict[str, str]
    classification_words: dict[str, str]
    versions: list[tuple[int, int, str]]  # (version id, number, process name) the school runs


@dataclass(frozen=True)
class ListCases(Message[CasePage]):
    """One page of the incidents a person may see in a school (audited, words hashed)."""

    actor_id: int
    school_id: int
    case: CaseFilter
    limit: int = 25
    offset: int = 0
    text_fingerprint: str | None = None  # fingerprint() of case.text, computed by the caller
    purpose: str = "list"  # "list" or "export" (what the audit row calls it)
    extra: dict[str, Any] = field(default_factory=dict)


def readable_answers(
    actor_id: int, roles: Collection[str], readers_by_version: Mapping[int, Mapping[str, Any]]
) -> ColumnElement[bool]:
    """Which kept answers a person may search: never more than the incident page shows them.

    The SQL side of services.domain.step_access, kept on the safe side: their own answers,
    and steps whose readers (the step's `readers` property, else READ_BY_DEFAULT) include
    one of their roles. What a task lends its doer while it waits (`needs`) is not searched.
    """
    by_version = []
    for version_id, readers in readers_by_version.items():
        ids = sorted(searchable_steps(roles, readers))  # the policy's own rule, not a copy
        if ids:
            by_version.append(
                and_(Incident.definition_version_id == version_id, CaseAnswer.bpmn_id.in_(ids))
            )
    return or_(CaseAnswer.actor_id == actor_id, *by_version)


def list_incidents(query: ListCases, deps: Dependencies) -> CasePage:
    """Check membership, fetch the page, and write one audit row saying what was asked."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        roles = uow.users.roles_in(query.actor_id, query.school_id)
        if not roles:
            raise NotFound(f"school {query.school_id} not found")
        versions = process_versions(uow.session, query.school_id)
        definitions = {v: deps.definitions.get(uow, v) for v, _n, _name in versions}
        readers = {v: task_readers(d) for v, d in definitions.items()}
        # Need-to-know: the route, criteria, classification and others' tasks are the
        # record's; the reporter and assignees list their incidents with the status only,
        # and cannot filter by what they may not read (a filter would tell it).
        everyone = reads_records_by_role(roles)
        case = query.case
        if not everyone:
            case = replace(case, route=None, criterion=None, overdue=None)
        # The route, criteria and classification are the steps' they come from: per version,
        # the facts these roles read there (as on a list: no task lends a step, safe side).
        viewer = Viewer(query.actor_id, frozenset(roles))
        facts = {v: readable_facts(viewer, r) for v, r in readers.items()}
        rows = list_cases(
            uow.session,
            incident_visible_to(query.actor_id, query.school_id),
            readable_answers(query.actor_id, roles, readers),
            case,
            now,
            limit=min(query.limit, MAX_PAGE) if query.purpose == "list" else query.limit,
            offset=query.offset,
            facts=FactsReadable(
                route=_versions_reading("route", facts),
                criteria=_versions_reading("criteria", facts),
            ),
        )
        if not everyone:
            rows = [_status_only(row) for row in rows]
        else:
            rows = [
                _facts_shown(row, facts.get(row.definition_version_id, frozenset())) for row in rows
            ]
        uow.audit.add(
            "incidents.exported" if query.purpose == "export" else "incidents.listed",
            f"school:{query.school_id}",
            actor_id=query.actor_id,
            school_id=query.school_id,
            new_values={**_filters_audited(query), "results": len(rows), **query.extra},
            occurred_at=now,
        )
        words: dict[str, str] = {}
        classes: dict[str, str] = {}
        for definition in definitions.values():
            words.update(criteria_labels(definition))
            classes.update(option_labels(definition).get("incident_classification", {}))
        uow.commit()
        return CasePage(rows, words, classes, versions)


def _versions_reading(fact: str, facts: Mapping[int, frozenset[str]]) -> ColumnElement[bool]:
    # A filter on a fact matches only the versions where it is read (never probes the rest).
    return Incident.definition_version_id.in_(sorted(v for v, f in facts.items() if fact in f))


def _facts_shown(row: CaseRow, readable: frozenset[str]) -> CaseRow:
    withheld = frozenset(FACT_SOURCES) - readable
    if not withheld:
        return row
    route = "route" in withheld
    return replace(
        row,
        route=None if route else row.route,
        immediate_referral=None if route or "criteria" in withheld else row.immediate_referral,
        referral_criteria=() if "criteria" in withheld else row.referral_criteria,
        classification=None if "classification" in withheld else row.classification,
        withheld=withheld,
    )


def _status_only(row: CaseRow) -> CaseRow:
    return replace(
        row,
        route=None,
        immediate_referral=None,
        referral_criteria=(),
        classification=None,
        overdue=False,
        open_tasks=0,
    )


def _filters_audited(query: ListCases) -> dict[str, Any]:
    case = query.case
    text = case.text or ""
    return {
        "status": case.status,
        "route": case.route,
        "criterion": case.criterion,
        "overdue": case.overdue,
        "assigned_to": case.assigned_to,
        "from": _iso(case.created_from),
        "to": _iso(case.created_to),
        "process_version": case.definition_version_id,
        "sort": case.sort,
        "limit": query.limit,
        "offset": query.offset,
        # The words themselves are never kept: their length and keyed hash only.
        "search_length": len(text.strip()),
        "search_hmac": query.text_fingerprint if text.strip() else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


MAX_HISTORY = 20_000
HISTORY_PAGE = 500


def all_events(uow: SqlAlchemyUnitOfWork, incident_id: str) -> list[AuditEvent]:
    """Every audit event of an incident, read in keyset pages, up to MAX_HISTORY."""
    events: list[AuditEvent] = []
    after: int | None = None
    while len(events) < MAX_HISTORY:
        page = uow.audit.list_for_incident(incident_id, HISTORY_PAGE, after)
        events += page
        if len(page) < HISTORY_PAGE:
            break
        after = page[-1].id
    return events


def full_trail(
    deps: Dependencies, incident_id: str, readable: Collection[str] | None = None
) -> list[AuditEntry]:
    """Every audit entry of an incident, oldest first (call after its access check passed).

    `readable`: the task ids whose steps the viewer may read; an entry about any other task
    keeps its line, without its values or reason (as the incident page's trail does).
    """
    with deps.uow_factory() as uow:
        events = all_events(uow, incident_id)
    if readable is None:
        return [_masked(e, frozenset()) for e in events]
    # Steps the viewer may not read: every event about them keeps its line, not its values.
    hidden = frozenset(
        parts[1]
        for parts in (e.target.split(":", 2) for e in events if e.action == "task.completed")
        if len(parts) == 3 and parts[2] not in readable
    )
    return [_masked(e, hidden) for e in events]


def _masked(event: AuditEvent, hidden: frozenset[str]) -> AuditEntry:
    parts = event.target.split(":", 2)
    secret = parts[0] == "task" and len(parts) == 3 and parts[1] in hidden
    return AuditEntry(
        id=event.id,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        action=event.action,
        target=event.target,
        reason=None if secret else event.reason,
        old_values=None if secret else event.old_values,
        new_values=None if secret else event.new_values,
    )


def record_export(
    deps: Dependencies,
    incident_id: str,
    school_id: int,
    actor_id: int,
    what: str,
    details: dict[str, Any],
) -> None:
    """Audit an export of one incident's record (history CSV/JSON, the record PDF)."""
    with deps.uow_factory() as uow:
        uow.audit.add(
            "incident.exported",
            f"incident:{incident_id}",
            actor_id=actor_id,
            school_id=school_id,
            incident_id=incident_id,
            new_values={"export": what, **details},
            occurred_at=deps.clock.now(),
        )
        uow.commit()


def diagram_source(
    deps: Dependencies, incident_id: str, actor_id: int, break_glass_reason: str | None
) -> bytes:
    """The BPMN file of the version an incident runs on, for someone who may open it.

    The diagram is the process, not the record, so reading it is not logged as a view; who
    may fetch it is exactly who may open the incident.
    """
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} not found")
        facts = user_facts(uow, incident, actor_id)
        decision = can_view_incident(
            facts.roles, facts.is_involved, facts.is_excluded, break_glass_reason
        )
        enforce(decision, f"incident {incident_id}")
        definition = deps.definitions.get(uow, incident.definition_version_id)
    graph_file = next((s for s in definition.sources if s.name.endswith(".bpmn")), None)
    if graph_file is None:
        raise NotFound(f"incident {incident_id} has no diagram")
    return graph_file.content


@dataclass(frozen=True)
class KeptAnswers:
    """The answers one completion or correction gave."""

    id: int
    task_id: str
    bpmn_id: str
    lane: str
    kind: str
    actor_id: int | None
    at: datetime
    answers: dict[str, Any]
    previous: dict[str, Any] | None
    reason: str | None


def kept_answers(deps: Dependencies, incident_id: str) -> list[KeptAnswers]:
    """Every completion's and correction's answers, oldest first (after the access check)."""
    with deps.uow_factory() as uow:
        rows = uow.session.scalars(
            select(CaseAnswer).where(CaseAnswer.incident_id == incident_id).order_by(CaseAnswer.id)
        )
        return [
            KeptAnswers(
                r.id,
                r.task_id,
                r.bpmn_id,
                r.lane,
                r.kind,
                r.actor_id,
                r.recorded_at,
                dict(r.answers or {}),
                r.previous,
                r.reason,
            )
            for r in rows
        ]
