"""A child's chronology: every incident and significant event about them, in date order."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from sqlalchemy import or_, select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import CaseAnswer, Child, FileTransfer, HumanTask, Incident, School
from services.db.repositories.children import ChildRecords
from services.domain.children.access import can_read_chronology
from services.domain.children.messages import Chronology, ChronologyEntry, ReadChronology
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound
from services.domain.handlers.children import child_line, child_target
from services.domain.handlers.common import enforce
from services.domain.step_access import named_reader
from workflow.process_graph import task_readers

# May the reader read this answer of this incident (need-to-know per step)?
AnswerReadable = Callable[[Incident, CaseAnswer], bool]

# Answers that are decisions, in the words the chronology uses; criteria show only when held.
CRITERIA = {
    "adult_involved": "an adult is involved",
    "coercion_or_grooming": "coercion, blackmail or grooming",
    "capacity_to_consent_concern": "a concern about capacity to consent",
    "unusual_or_violent_acts": "acts unusual for the age, or violence",
    "under_13_sexual_acts": "sexual acts with a child under 13",
    "immediate_risk_of_harm": "immediate risk of harm",
}
DECISIONS = {
    "incident_classification": "classified",
    "handle_in_house": "handle in-house",
    "headteacher_agrees": "headteacher agrees",
    "viewing_authorised": "viewing authorised",
    "referred_to_police": "referred to the police",
    "referred_to_social_care": "referred to social care",
    "inform_parents": "parents informed",
    "deletion_confirmed": "deletion confirmed",
    "police_outcome": "police outcome",
    "closure_decision": "closure",
    "receipt_confirmed": "receipt confirmed",
    "new_risk_identified": "new concern",
}
REASONS = (
    "in_house_reason",
    "agreement_reason",
    "authorisation_reason",
    "referral_reason",
    "parents_not_informed_reason",
    "closure_decision_reason",
)
MAX_REASON = 300


def decided(answers: Mapping[str, Any]) -> str:
    """What a step's answers decided, in a line ("" when it decided nothing)."""
    parts: list[str] = []
    held = [text for key, text in CRITERIA.items() if answers.get(key) is True]
    if held:
        parts.append("referral criteria held: " + ", ".join(held))
    for key, text in DECISIONS.items():
        value = answers.get(key)
        if isinstance(value, bool):
            parts.append(f"{text}: {'yes' if value else 'no'}")
        elif isinstance(value, str) and value:
            parts.append(f"{text}: {value.replace('_', ' ')}")
    for key in REASONS:
        value = answers.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(f"reason: {value.strip()[:MAX_REASON]}")
    return "; ".join(parts)


def read_chronology(query: ReadChronology, deps: Dependencies) -> Chronology:
    """Check the reader is the school's DSL or headteacher, log the read, return the entries."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        child = surviving_child(uow, query.child_id)
        roles = uow.users.roles_in(query.actor_id, child.school_id)
        enforce(can_read_chronology(roles), f"child {query.child_id}")
        hide_if_only_excluded(uow, child, query.actor_id)
        readable = answer_reader(uow, deps, query.actor_id, roles)
        entries = chronology_entries(uow, child, query.actor_id, readable)
        uow.audit.add(
            "child.chronology_viewed",
            child_target(child.id),
            actor_id=query.actor_id,
            school_id=child.school_id,
            new_values={"entries": len(entries)},
            occurred_at=now,
        )
        uow.commit()
        return Chronology(child_line(child), tuple(entries))


def hide_if_only_excluded(uow: SqlAlchemyUnitOfWork, child: Child, reader_id: int) -> None:
    """NotFound when every incident naming the child is one the reader is excluded from.

    Need-to-know: the child's name would tell them whom the case they are kept out of is about.
    """
    incident_ids = list(_incidents(uow, child.id))
    if incident_ids and all(uow.incidents.is_excluded(i, reader_id) for i in incident_ids):
        raise NotFound(f"child {child.id} not found")


def answer_reader(
    uow: SqlAlchemyUnitOfWork, deps: Dependencies, reader_id: int, roles: Collection[str]
) -> AnswerReadable:
    """Answers of steps whose readers (BPMN `readers`, else the default) hold these roles."""
    readers: dict[int, Mapping[str, tuple[str, ...] | None]] = {}

    def readable(incident: Incident, answer: CaseAnswer) -> bool:
        version = incident.definition_version_id
        if version not in readers:
            readers[version] = task_readers(deps.definitions.get(uow, version))
        own = answer.actor_id == reader_id
        return own or named_reader(roles, readers[version].get(answer.bpmn_id))

    return readable


def surviving_child(uow: SqlAlchemyUnitOfWork, child_id: int) -> Child:
    """The child with this id, or the one it was merged into; NotFound when there is none."""
    records = ChildRecords(uow.session)
    child = records.get(child_id)
    for _ in range(10):
        if child is None or child.merged_into_id is None:
            break
        child = records.get(child.merged_into_id)
    if child is None:
        raise NotFound(f"child {child_id} not found")
    return child


def chronology_entries(
    uow: SqlAlchemyUnitOfWork,
    child: Child,
    reader_id: int | None,
    readable: AnswerReadable | None = None,
) -> list[ChronologyEntry]:
    """Every dated entry about the child, oldest first (incidents the reader is excluded from
    are left out, and answers `readable` says they may not read)."""
    entries: list[ChronologyEntry] = []
    for incident, roles in _incidents(uow, child.id).values():
        if reader_id is not None and uow.incidents.is_excluded(incident.id, reader_id):
            continue
        entries += _incident_entries(uow, incident, roles, readable)
    entries += _transfer_entries(uow, child.id)
    entries.sort(key=lambda e: (e.at, e.reference or "", e.what))
    return entries


def _incidents(uow: SqlAlchemyUnitOfWork, child_id: int) -> dict[str, tuple[Incident, list[str]]]:
    found: dict[str, tuple[Incident, list[str]]] = {}
    for incident, role in ChildRecords(uow.session).incidents_of(child_id):
        found.setdefault(incident.id, (incident, []))[1].append(role)
    return found


def _incident_entries(
    uow: SqlAlchemyUnitOfWork,
    incident: Incident,
    roles: list[str],
    readable: AnswerReadable | None = None,
) -> list[ChronologyEntry]:
    ref = incident.reference
    entries = [
        ChronologyEntry(
            incident.id, ref, incident.created_at, f"Concern reported ({', '.join(roles)})"
        )
    ]
    names = dict(
        uow.session.execute(
            select(HumanTask.id, HumanTask.name).where(HumanTask.incident_id == incident.id)
        ).all()
    )
    answers = uow.session.scalars(
        select(CaseAnswer).where(CaseAnswer.incident_id == incident.id).order_by(CaseAnswer.id)
    )
    for answer in answers:
        if readable is not None and not readable(incident, answer):
            continue  # a step the reader may not read (its BPMN readers leave them out)
        step = names.get(answer.task_id) or answer.bpmn_id.replace("_", " ").capitalize()
        what = step if answer.kind == "completion" else f"{step} (corrected)"
        entries.append(
            ChronologyEntry(incident.id, ref, answer.recorded_at, what, decided(answer.answers))
        )
    if incident.closed_at is not None:
        entries.append(ChronologyEntry(incident.id, ref, incident.closed_at, "Incident closed"))
    return entries


def _transfer_entries(uow: SqlAlchemyUnitOfWork, child_id: int) -> list[ChronologyEntry]:
    query = select(FileTransfer).where(
        or_(FileTransfer.child_id == child_id, FileTransfer.received_child_id == child_id)
    )
    entries: list[ChronologyEntry] = []
    for transfer in uow.session.scalars(query.order_by(FileTransfer.id)):
        if transfer.child_id == child_id:
            entries += _sent_entries(transfer)
        elif transfer.received_at is not None:
            entries += _received_entries(uow, transfer)
    return entries


def _sent_entries(transfer: FileTransfer) -> list[ChronologyEntry]:
    method = transfer.method.replace("_", " ")
    entries = [
        ChronologyEntry(
            None,
            None,
            transfer.sent_at,
            f"Child protection file sent to {transfer.to_school_name} ({method})",
            transfer.what_sent[:MAX_REASON],
        )
    ]
    if transfer.received_at is not None:
        who = transfer.received_by or "the receiving school"
        entries.append(
            ChronologyEntry(None, None, transfer.received_at, f"Receipt confirmed by {who}")
        )
    return entries


def _received_entries(uow: SqlAlchemyUnitOfWork, transfer: FileTransfer) -> list[ChronologyEntry]:
    # The file as it came: the previous school's chronology up to the transfer, without links
    # (its incidents belong to that school), then the receipt itself.
    source = uow.session.get(School, transfer.from_school_id)
    school = source.name if source is not None else "the previous school"
    previous = uow.session.get(Child, transfer.child_id)
    entries = []
    if previous is not None:
        for entry in chronology_entries(uow, previous, None):
            if entry.at <= transfer.sent_at and entry.incident_id is not None:
                what = f"{school}: {entry.what} ({entry.reference})"
                entries.append(ChronologyEntry(None, None, entry.at, what, entry.decided))
    assert transfer.received_at is not None
    entries.append(
        ChronologyEntry(
            None,
            None,
            transfer.received_at,
            f"Child protection file received from {school}",
            transfer.what_sent[:MAX_REASON],
        )
    )
    return entries
