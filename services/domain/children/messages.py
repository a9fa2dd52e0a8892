"""Commands and queries about children, and what they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.domain.messages import Message


@dataclass(frozen=True)
class ChildNamed:
    """The child recorded in an incident, and whether a new child record was made."""

    child_id: int
    created: bool


@dataclass(frozen=True)
class NameChild(Message[ChildNamed]):
    """Record a child in an incident: a new child (name, ...) or a known one (child_id)."""

    incident_id: str
    actor_id: int
    role: str
    name: str | None = None
    date_of_birth: date | None = None
    year_group: str | None = None
    child_id: int | None = None


@dataclass(frozen=True)
class ConfirmChild(Message[int]):
    """A DSL confirms a child named by the person reporting is who they say."""

    child_id: int
    actor_id: int


@dataclass(frozen=True)
class MergeChildren(Message[int]):
    """A DSL merges a duplicate child into the child the school already knows, with a reason."""

    duplicate_id: int
    into_id: int
    actor_id: int
    reason: str


@dataclass(frozen=True)
class AddParty(Message[int]):
    """Record an adult involved in an incident (kept in the case tables only)."""

    incident_id: str
    actor_id: int
    description: str
    kind: str


@dataclass(frozen=True)
class ChildLine:
    """A child as a list shows them."""

    id: int
    school_id: int
    name: str
    date_of_birth: date | None
    year_group: str | None
    confirmed: bool
    merged_into_id: int | None = None
    roles: tuple[str, ...] = ()  # in one incident, when listed for it


@dataclass(frozen=True)
class PartyLine:
    """An adult named as a party."""

    id: int
    description: str
    kind: str


@dataclass(frozen=True)
class IncidentPeople:
    """The children and adults of one incident, as the reader may see them."""

    incident_id: str
    reference: str
    school_id: int
    children: tuple[ChildLine, ...]
    parties: tuple[PartyLine, ...]
    may_lead: bool  # the reader is a DSL (confirm, merge)
    may_name: bool


@dataclass(frozen=True)
class PeopleOfIncident(Message[IncidentPeople]):
    """The children and adults recorded in an incident (the read is logged)."""

    incident_id: str
    actor_id: int


@dataclass(frozen=True)
class SchoolChildren(Message[list[ChildLine]]):
    """The children a school knows, for a DSL linking or merging (DSL and headteacher)."""

    school_id: int
    actor_id: int
    search: str = ""
    search_fingerprint: str | None = None  # keyed hash of `search`, computed by the caller


@dataclass(frozen=True)
class ChronologyEntry:
    """One dated line of a child's chronology."""

    incident_id: str | None
    reference: str | None
    at: datetime
    what: str
    decided: str = ""


@dataclass(frozen=True)
class Chronology:
    """A child and everything recorded about them, in date order."""

    child: ChildLine
    entries: tuple[ChronologyEntry, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReadChronology(Message[Chronology]):
    """A child's chronology across incidents (DSL and headteacher; every read logged)."""

    child_id: int
    actor_id: int


@dataclass(frozen=True)
class SendFile(Message[int]):
    """A DSL records sending a child's protection file to another school (returns its id).

    to_school_id names a school that uses this system (same trust): its DSL accepts the file
    in the app. Otherwise to_school_name and a method say where and how it went.
    """

    child_id: int
    actor_id: int
    to_school_name: str
    method: str
    what_sent: str
    to_school_id: int | None = None


@dataclass(frozen=True)
class RecordReceipt(Message[int]):
    """The sending DSL records the receiving school's confirmation of receipt."""

    transfer_id: int
    actor_id: int
    received_by: str  # name and role at the receiving school
    received_on: date


@dataclass(frozen=True)
class AcceptTransfer(Message[int]):
    """The receiving school's DSL accepts a file sent in the app; returns their child's id."""

    transfer_id: int
    actor_id: int


@dataclass(frozen=True)
class TransferLine:
    """A file transfer as the pages show it."""

    id: int
    child_id: int
    child_name: str
    from_school_id: int
    from_school_name: str
    to_school_id: int | None
    to_school_name: str
    method: str
    what_sent: str
    sent_at: datetime
    due_at: datetime
    status: str
    received_at: datetime | None
    received_by: str | None
    escalated_at: datetime | None
    received_child_id: int | None
    overdue: bool
    may_record_receipt: bool  # the reader is a DSL of the sending school
    may_accept: bool  # the reader is a DSL of the receiving school (in-app transfers)


@dataclass(frozen=True)
class ReadTransfers(Message[list[TransferLine]]):
    """Transfers of one child (child_id), or those sent from or to a school (logged)."""

    actor_id: int
    child_id: int | None = None
    school_id: int | None = None


@dataclass(frozen=True)
class ReadTransfer(Message[TransferLine]):
    """One transfer (DSL or headteacher of either school; logged)."""

    transfer_id: int
    actor_id: int


@dataclass(frozen=True)
class TransferPack:
    """What an export pack holds: the transfer, the child and their chronology."""

    transfer: TransferLine
    chronology: Chronology


@dataclass(frozen=True)
class ExportTransferPack(Message[TransferPack]):
    """The export pack of a transfer (sending DSL only; logged)."""

    transfer_id: int
    actor_id: int


@dataclass(frozen=True)
class RetentionLine:
    """An incident's retention: when it is reviewed, and why then."""

    incident_id: str
    reference: str
    school_id: int
    status: str
    created_at: datetime
    youngest_birth: date | None
    review_date: date | None  # None: no child's date of birth is known yet
    kept_until: date | None  # a "keep" decision's new date, when one was made
    keep_reason: str | None
    legal_hold_reason: str | None
    due: bool


@dataclass(frozen=True)
class ReviewQueue(Message[list[RetentionLine]]):
    """A school's records due for retention review (DSL; logged)."""

    school_id: int
    actor_id: int
    limit: int = 200


@dataclass(frozen=True)
class ReadRetention(Message[RetentionLine]):
    """One incident's retention (DSL and headteacher; logged)."""

    incident_id: str
    actor_id: int


@dataclass(frozen=True)
class KeepRecord(Message[RetentionLine]):
    """Keep a record past its review date: a reason and the next review date."""

    incident_id: str
    actor_id: int
    reason: str
    until: date


@dataclass(frozen=True)
class SetLegalHold(Message[RetentionLine]):
    """Place (hold=True) or lift a legal hold, with a reason; a hold blocks deletion."""

    incident_id: str
    actor_id: int
    hold: bool
    reason: str


@dataclass(frozen=True)
class DeleteIncident(Message[str]):
    """Delete a record whose review is due: its case data goes, a tombstone stays (returns ref)."""

    incident_id: str
    actor_id: int
    reason: str


@dataclass(frozen=True)
class SetRetentionYears(Message[int]):
    """A school's retention rule: review this many years after the youngest child's birth."""

    school_id: int
    actor_id: int
    years: int


@dataclass(frozen=True)
class SubjectAccessExport(Message[dict[str, Any]]):
    """One child's records for a subject access request, others redacted (DSL, head; logged)."""

    child_id: int
    actor_id: int
