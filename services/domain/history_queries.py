"""The incidents list as a query: membership checked, every list and search audited.

A search's words are never stored: the audit row keeps their length and a keyed hash (HMAC
with the app's secret), so an auditor can tell two searches for the same words apart from
different ones without the trail showing a child's name to people who may not read it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, true

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, CaseAnswer
from services.db.repositories.cases import CaseFilter, CaseRow, list_cases, process_versions
from services.domain.access import can_view_incident
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound
from services.domain.handlers.common import enforce, user_facts
from services.domain.messages import Message
from services.domain.read_models import AuditEntry
from services.domain.visibility import incident_visible_to
from workflow.process_graph import criteria_labels, option_labels

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


def readable_answers(roles: frozenset[str]) -> ColumnElement[bool]:
    """Which kept answers a person with these roles may search (the incident page's rule)."""
    return true()


def list_incidents(query: ListCases, deps: Dependencies) -> CasePage:
    """Check membership, fetch the page, and write one audit row saying what was asked."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        roles = uow.users.roles_in(query.actor_id, query.school_id)
        if not roles:
            raise NotFound(f"school {query.school_id} not found")
        rows = list_cases(
            uow.session,
            incident_visible_to(query.actor_id, query.school_id),
            readable_answers(roles),
            query.case,
            now,
            limit=min(query.limit, MAX_PAGE) if query.purpose == "list" else query.limit,
            offset=query.offset,
        )
        uow.audit.add(
            "incidents.exported" if query.purpose == "export" else "incidents.listed",
            f"school:{query.school_id}",
            actor_id=query.actor_id,
            school_id=query.school_id,
            new_values={**_filters_audited(query), "results": len(rows), **query.extra},
            occurred_at=now,
        )
        versions = process_versions(uow.session, query.school_id)
        words: dict[str, str] = {}
        classes: dict[str, str] = {}
        for version_id, _number, _name in versions:
            definition = deps.definitions.get(uow, version_id)
            words.update(criteria_labels(definition))
            classes.update(option_labels(definition).get("incident_classification", {}))
        uow.commit()
        return CasePage(rows, words, classes, versions)


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


def full_trail(deps: Dependencies, incident_id: str) -> list[AuditEntry]:
    """Every audit entry of an incident, oldest first (call after its access check passed)."""
    with deps.uow_factory() as uow:
        events = all_events(uow, incident_id)
        return [
            AuditEntry(
                id=e.id,
                occurred_at=e.occurred_at,
                actor_id=e.actor_id,
                action=e.action,
                target=e.target,
                reason=e.reason,
                old_values=e.old_values,
                new_values=e.new_values,
            )
            for e in events
        ]


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
