"""Write the case history rows a command adds: answers per completion, the incident's facts.

Called inside a handler's unit of work, so the rows commit with the change they describe.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.db import SqlAlchemyUnitOfWork
from services.db.models import CaseAnswer, Incident, IncidentCaseFacts

MAX_CRITERIA_TEXT = 1000


def search_text_of(values: Mapping[str, Any]) -> str:
    """The free text of some answers, lower-cased, for search (ids, flags and dates left out)."""
    return " ".join(v for v in values.values() if isinstance(v, str) and v.strip()).lower()


def record_completion(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    *,
    task_id: str,
    bpmn_id: str,
    lane: str,
    values: Mapping[str, Any],
    actor_id: int | None,
    now: datetime,
) -> None:
    """Keep the answers one completion gave (JSON values, as the audit trail records them)."""
    uow.session.add(
        CaseAnswer(
            incident_id=incident.id,
            task_id=task_id,
            bpmn_id=bpmn_id,
            lane=lane,
            kind="completion",
            actor_id=actor_id,
            recorded_at=now,
            answers=dict(values),
            search_text=search_text_of(values),
        )
    )


def note_case_facts(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    data: Mapping[str, Any],
    now: datetime,
    *,
    known: tuple[IncidentCaseFacts | None] | None = None,
) -> None:
    """Bring the incident's facts row (route, referral, criteria, classification) in line.

    `known`: the row as the caller loaded it in this transaction, (None,) for none, so it
    is not read again.
    """
    route = data.get("route")
    immediate = _immediate(data.get("immediate_referral"))
    criteria = _criteria(data.get("referral_criteria"))
    classification = data.get("incident_classification")
    held = f",{','.join(criteria)}," if criteria else ""
    facts: dict[str, Any] = {
        "route": route if isinstance(route, str) and route else None,
        "immediate_referral": immediate,
        "referral_criteria": held if len(held) <= MAX_CRITERIA_TEXT else "",
        "classification": classification[:64] if isinstance(classification, str) else None,
    }
    if known is not None:
        (row,) = known
    else:
        # No autoflush: flushing the incident here and at commit would bump its version twice.
        with uow.session.no_autoflush:
            row = uow.session.get(IncidentCaseFacts, incident.id)
    if row is None:
        uow.session.add(
            IncidentCaseFacts(
                incident_id=incident.id, school_id=incident.school_id, updated_at=now, **facts
            )
        )
        return
    if any(getattr(row, key) != value for key, value in facts.items()):
        for key, value in facts.items():
            setattr(row, key, value)
        row.updated_at = now


def _immediate(value: Any) -> bool | None:
    # Before the summary script the decision table's COLLECT output is a list of flags.
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return True in value
    return None


def _criteria(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    seen: list[str] = []
    for item in value:
        if isinstance(item, str) and item and "," not in item and item not in seen:
            seen.append(item)
    return seen
