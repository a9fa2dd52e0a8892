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

from sqlalchemy import ColumnElement, true

from services.db.repositories.cases import CaseFilter, CaseRow, list_cases, process_versions
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound
from services.domain.messages import Message
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
