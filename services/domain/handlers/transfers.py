"""Child protection file transfers: send, confirm receipt, accept in the app, escalate when late.

The file must reach the new school within five school days with confirmation of receipt;
a transfer still waiting after that is escalated once to the sending school's headteacher and
DSLs (in-app notifications that name no child).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from sqlalchemy import or_, select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Child, FileTransfer, Membership, School
from services.db.models.children import TRANSFER_METHODS
from services.db.repositories.children import ChildRecords
from services.domain.access import clean_reason
from services.domain.children.access import can_lead_children, can_read_chronology
from services.domain.children.messages import (
    AcceptTransfer,
    Chronology,
    ExportTransferPack,
    ReadTransfer,
    ReadTransfers,
    RecordReceipt,
    SendFile,
    TransferLine,
    TransferPack,
)
from services.domain.dependencies import Dependencies
from services.domain.errors import Conflict, NotFound, RequestInvalid
from services.domain.handlers.children import child_line, child_target
from services.domain.handlers.chronology import chronology_entries
from services.domain.handlers.common import enforce
from workflow.timing import SCHOOL_DAYS, calendar_for

TRANSFER_DEADLINE = "P5D"  # five school days
MAX_WHAT = 4000
MAX_NAME = 200
ESCALATE_BATCH = 100
OVERDUE_KIND = "file_transfer.overdue"
INCOMING_KIND = "file_transfer.incoming"


def transfer_target(transfer_id: int) -> str:
    """The audit target naming a file transfer."""
    return f"file_transfer:{transfer_id}"


def _active_child(uow: SqlAlchemyUnitOfWork, child_id: int) -> Child:
    child = ChildRecords(uow.session).get(child_id)
    if child is None:
        raise NotFound(f"child {child_id} not found")
    if child.merged_into_id is not None:
        raise Conflict(f"child {child_id} was merged into child {child.merged_into_id}")
    return child


def send_file(command: SendFile, deps: Dependencies) -> int:
    """Record that a child's file was sent: what, how, when, to whom; due in five school days."""
    now = deps.clock.now()
    what = (command.what_sent or "").strip()
    if not what or len(what) > MAX_WHAT:
        raise RequestInvalid(f"what_sent: say what was sent, in 1 to {MAX_WHAT} characters")
    with deps.uow_factory() as uow:
        child = _active_child(uow, command.child_id)
        enforce(
            can_lead_children(uow.users.roles_in(command.actor_id, child.school_id)),
            f"child {child.id}",
        )
        to_name, method = _destination(uow, command, child.school_id)
        due = calendar_for(deps.calendar, SCHOOL_DAYS).add(now, TRANSFER_DEADLINE)
        transfer = FileTransfer(
            child_id=child.id,
            from_school_id=child.school_id,
            to_school_id=command.to_school_id,
            to_school_name=to_name,
            method=method,
            what_sent=what,
            sent_at=now,
            sent_by=command.actor_id,
            due_at=due,
            status="sent",
        )
        uow.session.add(transfer)
        uow.session.flush()
        uow.audit.add(
            "file_transfer.sent",
            transfer_target(transfer.id),
            actor_id=command.actor_id,
            school_id=child.school_id,
            new_values={
                "child_id": child.id,
                "to_school_id": command.to_school_id,
                "to_school_name": to_name,
                "method": method,
                "due_at": due.isoformat(),
            },
            occurred_at=now,
        )
        if command.to_school_id is not None:
            _notify(
                uow,
                command.to_school_id,
                ("dsl",),
                INCOMING_KIND,
                transfer.id,
                now,
                "A child protection file has been sent to your school: accept it.",
            )
        uow.commit()
        return transfer.id


def _destination(uow: SqlAlchemyUnitOfWork, command: SendFile, own_school: int) -> tuple[str, str]:
    if command.to_school_id is not None:
        school = uow.schools.get(command.to_school_id)
        if school is None or school.id == own_school:
            raise RequestInvalid("to_school_id: choose another school that uses this system")
        return school.name, "in_app"
    name = (command.to_school_name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise RequestInvalid(f"to_school_name: name the new school, in 1 to {MAX_NAME} characters")
    if command.method not in TRANSFER_METHODS or command.method == "in_app":
        allowed = ", ".join(m for m in TRANSFER_METHODS if m != "in_app")
        raise RequestInvalid(f"method: say how it was sent ({allowed})")
    return name, command.method


def _transfer(uow: SqlAlchemyUnitOfWork, transfer_id: int) -> FileTransfer:
    transfer = uow.session.get(FileTransfer, transfer_id)
    if transfer is None:
        raise NotFound(f"file transfer {transfer_id} not found")
    return transfer


def record_receipt(command: RecordReceipt, deps: Dependencies) -> int:
    """The sending DSL records who at the new school confirmed receipt, and when."""
    now = deps.clock.now()
    received_by = clean_reason(command.received_by)
    if received_by is None or len(received_by) > MAX_NAME:
        raise RequestInvalid("received_by: name who confirmed receipt and their role")
    with deps.uow_factory() as uow:
        transfer = _transfer(uow, command.transfer_id)
        enforce(
            can_lead_children(uow.users.roles_in(command.actor_id, transfer.from_school_id)),
            f"file transfer {transfer.id}",
        )
        if transfer.status != "sent":
            raise Conflict(f"file transfer {transfer.id}: receipt is already recorded")
        if not transfer.sent_at.date() <= command.received_on <= now.date():
            raise RequestInvalid("received_on: between the day it was sent and today")
        transfer.status = "received"
        transfer.received_at = _moment(command.received_on, now)
        transfer.received_by = received_by
        transfer.receipt_recorded_by = command.actor_id
        uow.audit.add(
            "file_transfer.received",
            transfer_target(transfer.id),
            actor_id=command.actor_id,
            school_id=transfer.from_school_id,
            new_values={"received_by": received_by, "received_on": command.received_on.isoformat()},
            occurred_at=now,
        )
        uow.commit()
        return transfer.id


def _moment(day: date, now: datetime) -> datetime:
    return now if day == now.date() else datetime.combine(day, time(12), UTC)


def accept_transfer(command: AcceptTransfer, deps: Dependencies) -> int:
    """The receiving DSL accepts a file sent in the app: the child joins their school's records."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        transfer = _transfer(uow, command.transfer_id)
        if transfer.to_school_id is None:
            raise NotFound(f"file transfer {transfer.id} not found")
        enforce(
            can_lead_children(uow.users.roles_in(command.actor_id, transfer.to_school_id)),
            f"file transfer {transfer.id}",
        )
        if transfer.status != "sent":
            raise Conflict(f"file transfer {transfer.id} was already received")
        sent = ChildRecords(uow.session).get(transfer.child_id)
        assert sent is not None  # a foreign key
        child = _receiving_child(uow, sent, transfer.to_school_id, command.actor_id, now)
        user = uow.users.get(command.actor_id)
        transfer.status = "received"
        transfer.received_at = now
        transfer.received_by = f"{user.display_name if user else 'DSL'} (accepted in the app)"
        transfer.receipt_recorded_by = command.actor_id
        transfer.received_child_id = child.id
        for school_id in (transfer.to_school_id, transfer.from_school_id):
            uow.audit.add(
                "file_transfer.accepted",
                transfer_target(transfer.id),
                actor_id=command.actor_id,
                school_id=school_id,
                new_values={"received_child_id": child.id},
                occurred_at=now,
            )
        uow.commit()
        return child.id


def _receiving_child(
    uow: SqlAlchemyUnitOfWork, sent: Child, school_id: int, actor_id: int, now: datetime
) -> Child:
    records = ChildRecords(uow.session)
    same = records.same_child(school_id, sent.display_name, sent.date_of_birth)
    if same:
        return same[0]
    child = records.add(
        school_id,
        sent.display_name,
        date_of_birth=sent.date_of_birth,
        year_group=sent.year_group,
        created_by=actor_id,
        confirmed_at=now,
        at=now,
    )
    uow.audit.add(
        "child.added",
        child_target(child.id),
        actor_id=actor_id,
        school_id=school_id,
        new_values={"name": child.display_name, "from_transfer_of_child": sent.id},
        occurred_at=now,
    )
    return child


def read_transfers(query: ReadTransfers, deps: Dependencies) -> list[TransferLine]:
    """A child's transfers, or a school's sent and incoming ones (DSL, headteacher; logged)."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        if query.child_id is not None:
            child = ChildRecords(uow.session).get(query.child_id)
            if child is None:
                raise NotFound(f"child {query.child_id} not found")
            school_id = child.school_id
            condition = or_(
                FileTransfer.child_id == child.id, FileTransfer.received_child_id == child.id
            )
        elif query.school_id is not None:
            school_id = query.school_id
            condition = or_(
                FileTransfer.from_school_id == school_id, FileTransfer.to_school_id == school_id
            )
        else:
            raise RequestInvalid("say whose transfers: a child or a school")
        enforce(
            can_read_chronology(uow.users.roles_in(query.actor_id, school_id)),
            f"school {school_id}",
        )
        rows = uow.session.scalars(
            select(FileTransfer).where(condition).order_by(FileTransfer.sent_at.desc())
        ).all()
        lines = [transfer_line(uow, row, query.actor_id, now) for row in rows]
        uow.audit.add(
            "file_transfers.viewed",
            f"child:{query.child_id}" if query.child_id else f"school:{school_id}",
            actor_id=query.actor_id,
            school_id=school_id,
            new_values={"count": len(lines)},
            occurred_at=now,
        )
        uow.commit()
        return lines


def read_transfer(query: ReadTransfer, deps: Dependencies) -> TransferLine:
    """One transfer, for the DSL or headteacher of the sending or receiving school (logged)."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        transfer = _transfer(uow, query.transfer_id)
        schools = [transfer.from_school_id, transfer.to_school_id]
        readable = [
            school_id
            for school_id in schools
            if school_id is not None
            and can_read_chronology(uow.users.roles_in(query.actor_id, school_id)).allowed
        ]
        if not readable:
            raise NotFound(f"file transfer {transfer.id} not found")
        line = transfer_line(uow, transfer, query.actor_id, now)
        uow.audit.add(
            "file_transfer.viewed",
            transfer_target(transfer.id),
            actor_id=query.actor_id,
            school_id=readable[0],
            occurred_at=now,
        )
        uow.commit()
        return line


def transfer_line(
    uow: SqlAlchemyUnitOfWork, row: FileTransfer, reader_id: int, now: datetime
) -> TransferLine:
    """A transfer row as a read model, with what the reader may do to it."""
    child = uow.session.get(Child, row.child_id)
    source = uow.session.get(School, row.from_school_id)
    waiting = row.status == "sent"
    lead_from = can_lead_children(uow.users.roles_in(reader_id, row.from_school_id)).allowed
    lead_to = (
        row.to_school_id is not None
        and can_lead_children(uow.users.roles_in(reader_id, row.to_school_id)).allowed
    )
    return TransferLine(
        id=row.id,
        child_id=row.child_id,
        child_name=child.display_name if child else "",
        from_school_id=row.from_school_id,
        from_school_name=source.name if source else "",
        to_school_id=row.to_school_id,
        to_school_name=row.to_school_name,
        method=row.method,
        what_sent=row.what_sent,
        sent_at=row.sent_at,
        due_at=row.due_at,
        status=row.status,
        received_at=row.received_at,
        received_by=row.received_by,
        escalated_at=row.escalated_at,
        received_child_id=row.received_child_id,
        overdue=waiting and row.due_at < now,
        may_record_receipt=waiting and lead_from and row.to_school_id is None,
        may_accept=waiting and lead_to,
    )


def export_transfer_pack(query: ExportTransferPack, deps: Dependencies) -> TransferPack:
    """The pack to send with a transfer: the child and their chronology (sending DSL; logged)."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        transfer = _transfer(uow, query.transfer_id)
        enforce(
            can_lead_children(uow.users.roles_in(query.actor_id, transfer.from_school_id)),
            f"file transfer {transfer.id}",
        )
        child = uow.session.get(Child, transfer.child_id)
        assert child is not None  # a foreign key
        entries = chronology_entries(uow, child, None)
        line = transfer_line(uow, transfer, query.actor_id, now)
        uow.audit.add(
            "file_transfer.exported",
            transfer_target(transfer.id),
            actor_id=query.actor_id,
            school_id=transfer.from_school_id,
            new_values={"entries": len(entries)},
            occurred_at=now,
        )
        uow.commit()
        return TransferPack(line, Chronology(child_line(child), tuple(entries)))


def escalate_overdue_transfers(deps: Dependencies, now: datetime | None = None) -> int:
    """Escalate, once each, transfers without receipt five school days after sending."""
    now = now or deps.clock.now()
    with deps.uow_factory() as uow:
        query = (
            select(FileTransfer)
            .where(
                FileTransfer.status == "sent",
                FileTransfer.escalated_at.is_(None),
                FileTransfer.due_at <= now,
            )
            .order_by(FileTransfer.due_at)
            .limit(ESCALATE_BATCH)
            .with_for_update(skip_locked=True)
        )
        late = list(uow.session.scalars(query))
        for transfer in late:
            transfer.escalated_at = now
            uow.audit.add(
                "file_transfer.overdue",
                transfer_target(transfer.id),
                actor_id=None,
                school_id=transfer.from_school_id,
                new_values={"due_at": transfer.due_at.isoformat()},
                occurred_at=now,
            )
            _notify(
                uow,
                transfer.from_school_id,
                ("headteacher", "dsl"),
                OVERDUE_KIND,
                transfer.id,
                now,
                "A child protection file sent five school days ago has no confirmation "
                "of receipt: make sure it arrives.",
            )
        uow.commit()
        return len(late)


def _notify(
    uow: SqlAlchemyUnitOfWork,
    school_id: int,
    roles: tuple[str, ...],
    kind: str,
    transfer_id: int,
    now: datetime,
    text: str,
) -> None:
    # In-app only, with no child's details: the link leads to the transfer behind access checks.
    people = uow.session.scalars(
        select(Membership.user_id)
        .where(Membership.school_id == school_id, Membership.role.in_(roles))
        .distinct()
    )
    message_id = str(uuid.uuid4())
    for user_id in people:
        uow.notifications.add(
            user_id=user_id,
            school_id=school_id,
            message_id=message_id,
            kind=kind,
            text=text,
            link=f"/transfers/{transfer_id}",
            created_at=now,
        )
