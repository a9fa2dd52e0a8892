"""Retention: review date = youngest involved child's birth + N years (25 by default, per school).

The DSL reviews records when they fall due: keep (a reason and the next review date) or delete.
A legal hold blocks deletion until lifted. Deleting removes the incident's case data (its row
and everything that cascades from it, and children left in no other record), appends an
'incident.deleted' tombstone (who, when, why, what was erased: no personal data) and erases
the payloads of the incident's audit events, all in one transaction. The audit rows stay,
chained: their hashes cover a digest of the payload, and the tombstone seals what it erased,
so `safeguard audit verify` still passes (services.domain.audit_erasure).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, ScalarSelect, and_, delete, exists, func, or_, select

from services.db import SqlAlchemyUnitOfWork
from services.db.audit_erasure import erasable_rows, erase_incident_payloads
from services.db.models import (
    Child,
    FileTransfer,
    Incident,
    IncidentChild,
    IncidentExclusion,
    IncidentRetention,
)
from services.db.models.children import DEFAULT_RETENTION_YEARS, RetentionPolicy
from services.domain.access import clean_reason
from services.domain.audit_erasure import erasure_values
from services.domain.audit_hashing import content_problem
from services.domain.children.access import can_lead_children, can_read_chronology
from services.domain.children.messages import (
    DeleteIncident,
    KeepRecord,
    ReadRetention,
    RetentionLine,
    ReviewQueue,
    SetLegalHold,
    SetRetentionYears,
)
from services.domain.dependencies import Dependencies
from services.domain.errors import Conflict, NotFound, RequestInvalid
from services.domain.handlers.common import enforce, incident_target

MIN_YEARS, MAX_YEARS = 6, 100
MAX_KEEP_YEARS = 30


def years_after(born: date, years: int) -> date:
    """The date `years` after `born` (29 February falls on 28 February)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return born.replace(year=born.year + years, day=28)


def retention_years(uow: SqlAlchemyUnitOfWork, school_id: int) -> int:
    """The school's rule (default 25 years)."""
    policy = uow.session.get(RetentionPolicy, school_id)
    return policy.years_after_birth if policy is not None else DEFAULT_RETENTION_YEARS


def _youngest() -> ScalarSelect[date | None]:
    # The youngest child is the one born last.
    return (
        select(func.max(Child.date_of_birth))
        .join(IncidentChild, IncidentChild.child_id == Child.id)
        .where(IncidentChild.incident_id == Incident.id)
        .scalar_subquery()
    )


def retention_line(
    incident: Incident,
    youngest: date | None,
    kept: IncidentRetention | None,
    years: int,
    today: date,
) -> RetentionLine:
    """An incident's retention facts as a read model."""
    by_birth = years_after(youngest, years) if youngest is not None else None
    kept_until = kept.review_date if kept is not None else None
    review = kept_until or by_birth
    return RetentionLine(
        incident_id=incident.id,
        reference=incident.reference,
        school_id=incident.school_id,
        status=incident.status,
        created_at=incident.created_at,
        youngest_birth=youngest,
        review_date=review,
        kept_until=kept_until,
        keep_reason=kept.keep_reason if kept is not None else None,
        legal_hold_reason=kept.legal_hold_reason if kept is not None else None,
        due=review is not None and review <= today,
    )


def review_date_of(uow: SqlAlchemyUnitOfWork, incident_id: str) -> date | None:
    """When an incident's record is next reviewed (None until a child's birth date is known)."""
    row = uow.session.execute(
        select(Incident, _youngest()).where(Incident.id == incident_id)
    ).first()
    if row is None:
        return None
    incident, youngest = row
    kept = uow.session.get(IncidentRetention, incident_id)
    years = retention_years(uow, incident.school_id)
    return retention_line(incident, youngest, kept, years, date.min).review_date


def _excluded(user_id: int) -> ColumnElement[bool]:
    # Need-to-know: an incident someone is excluded from is never listed to them.
    return exists().where(
        IncidentExclusion.incident_id == Incident.id, IncidentExclusion.user_id == user_id
    )


def review_queue(query: ReviewQueue, deps: Dependencies) -> list[RetentionLine]:
    """The school's records whose review date has come, oldest first (DSL; logged)."""
    today = deps.clock.now().date()
    with deps.uow_factory() as uow:
        enforce(
            can_lead_children(uow.users.roles_in(query.actor_id, query.school_id)),
            f"school {query.school_id}",
        )
        years = retention_years(uow, query.school_id)
        cutoff = years_after(today, -years)
        youngest = _youngest().label("youngest")
        due = or_(
            and_(
                IncidentRetention.review_date.is_not(None), IncidentRetention.review_date <= today
            ),
            and_(IncidentRetention.review_date.is_(None), youngest <= cutoff),
        )
        rows = uow.session.execute(
            select(Incident, youngest, IncidentRetention)
            .outerjoin(IncidentRetention, IncidentRetention.incident_id == Incident.id)
            .where(Incident.school_id == query.school_id, due, ~_excluded(query.actor_id))
            .order_by(Incident.created_at)
            .limit(query.limit)
        ).all()
        lines = [retention_line(i, y, k, years, today) for i, y, k in rows]
        uow.audit.add(
            "retention.queue_viewed",
            f"school:{query.school_id}",
            actor_id=query.actor_id,
            school_id=query.school_id,
            new_values={"due": len(lines)},
            occurred_at=deps.clock.now(),
        )
        uow.commit()
        return lines


def _line(uow: SqlAlchemyUnitOfWork, incident_id: str, today: date) -> RetentionLine:
    row = uow.session.execute(
        select(Incident, _youngest()).where(Incident.id == incident_id)
    ).first()
    if row is None:
        raise NotFound(f"incident {incident_id} not found")
    incident, youngest = row
    kept = uow.session.get(IncidentRetention, incident_id)
    return retention_line(incident, youngest, kept, retention_years(uow, incident.school_id), today)


def _school_of(uow: SqlAlchemyUnitOfWork, incident_id: str) -> int:
    school_id = uow.session.scalar(select(Incident.school_id).where(Incident.id == incident_id))
    if school_id is None:
        raise NotFound(f"incident {incident_id} not found")
    return school_id


def _lead(uow: SqlAlchemyUnitOfWork, incident_id: str, actor_id: int) -> int:
    school_id = _school_of(uow, incident_id)
    enforce(can_lead_children(uow.users.roles_in(actor_id, school_id)), f"incident {incident_id}")
    if uow.incidents.is_excluded(incident_id, actor_id):
        raise NotFound(f"incident {incident_id} not found")
    return school_id


def read_retention(query: ReadRetention, deps: Dependencies) -> RetentionLine:
    """One incident's retention (DSL and headteacher of its school; logged)."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        school_id = _school_of(uow, query.incident_id)
        enforce(
            can_read_chronology(uow.users.roles_in(query.actor_id, school_id)),
            f"incident {query.incident_id}",
        )
        if uow.incidents.is_excluded(query.incident_id, query.actor_id):
            raise NotFound(f"incident {query.incident_id} not found")
        line = _line(uow, query.incident_id, now.date())
        uow.audit.add(
            "retention.viewed",
            incident_target(query.incident_id),
            actor_id=query.actor_id,
            school_id=school_id,
            incident_id=query.incident_id,
            occurred_at=now,
        )
        uow.commit()
        return line


def _retention_row(uow: SqlAlchemyUnitOfWork, incident_id: str, now: datetime) -> IncidentRetention:
    row = uow.session.get(IncidentRetention, incident_id)
    if row is None:
        row = IncidentRetention(incident_id=incident_id, updated_at=now)
        uow.session.add(row)
    return row


def keep_record(command: KeepRecord, deps: Dependencies) -> RetentionLine:
    """Keep a record for now: the reason and the next review date are recorded."""
    now = deps.clock.now()
    reason = clean_reason(command.reason)
    if reason is None:
        raise RequestInvalid("reason: say why the record is kept")
    if not now.date() < command.until <= years_after(now.date(), MAX_KEEP_YEARS):
        raise RequestInvalid(f"until: a date after today, at most {MAX_KEEP_YEARS} years ahead")
    with deps.uow_factory() as uow:
        school_id = _lead(uow, command.incident_id, command.actor_id)
        row = _retention_row(uow, command.incident_id, now)
        old = row.review_date.isoformat() if row.review_date else None
        row.review_date, row.keep_reason = command.until, reason
        row.updated_by, row.updated_at = command.actor_id, now
        uow.audit.add(
            "retention.kept",
            incident_target(command.incident_id),
            actor_id=command.actor_id,
            school_id=school_id,
            incident_id=command.incident_id,
            reason=reason,
            old_values={"review_date": old},
            new_values={"review_date": command.until.isoformat()},
            occurred_at=now,
        )
        uow.commit()
    return _after(deps, command.incident_id)


def _after(deps: Dependencies, incident_id: str) -> RetentionLine:
    with deps.uow_factory() as uow:
        return _line(uow, incident_id, deps.clock.now().date())


def set_legal_hold(command: SetLegalHold, deps: Dependencies) -> RetentionLine:
    """Place or lift a legal hold (a reason either way)."""
    now = deps.clock.now()
    reason = clean_reason(command.reason)
    if reason is None:
        raise RequestInvalid("reason: say why the hold is placed or lifted")
    with deps.uow_factory() as uow:
        school_id = _lead(uow, command.incident_id, command.actor_id)
        row = _retention_row(uow, command.incident_id, now)
        held = row.legal_hold_reason is not None
        if held == command.hold:
            raise Conflict("the record is already " + ("on hold" if held else "not on hold"))
        row.legal_hold_reason = reason if command.hold else None
        row.updated_by, row.updated_at = command.actor_id, now
        action = "retention.legal_hold_placed" if command.hold else "retention.legal_hold_lifted"
        uow.audit.add(
            action,
            incident_target(command.incident_id),
            actor_id=command.actor_id,
            school_id=school_id,
            incident_id=command.incident_id,
            reason=reason,
            occurred_at=now,
        )
        uow.commit()
    return _after(deps, command.incident_id)


def delete_incident(command: DeleteIncident, deps: Dependencies) -> str:
    """Delete a record at review: refused under a legal hold or before its review date."""
    now = deps.clock.now()
    reason = clean_reason(command.reason)
    if reason is None:
        raise RequestInvalid("reason: say why the record is deleted")
    with deps.uow_factory() as uow:
        school_id = _lead(uow, command.incident_id, command.actor_id)
        line = _line(uow, command.incident_id, now.date())
        if line.legal_hold_reason is not None:
            raise Conflict(f"incident {line.reference} is under a legal hold: lift it first")
        if not line.due:
            when = line.review_date.isoformat() if line.review_date else "not set"
            raise Conflict(f"incident {line.reference} is not due for review (review date: {when})")
        erasing = _erasable_audit(uow, command.incident_id, school_id, line.reference)
        children = list(
            uow.session.scalars(
                select(IncidentChild.child_id).where(
                    IncidentChild.incident_id == command.incident_id
                )
            )
        )
        uow.session.execute(delete(Incident).where(Incident.id == command.incident_id))
        removed = _orphans(uow, children)
        # The tombstone: no personal data, only that the record existed, why it went, and
        # the seal of the audit payloads it erases.
        tombstone = uow.audit.add(
            "incident.deleted",
            incident_target(command.incident_id),
            actor_id=command.actor_id,
            school_id=school_id,
            incident_id=command.incident_id,
            reason=reason,
            old_values={"reference": line.reference},
            new_values={"children_removed": removed, **erasure_values(erasing)},
            occurred_at=now,
        )
        uow.session.flush()  # chains the tombstone: its id is what the erased rows name
        erased = erase_incident_payloads(uow.session, command.incident_id, school_id, tombstone.id)
        if erased != len(erasing):
            # An event of this incident was appended meanwhile: nothing is deleted.
            raise Conflict(f"incident {line.reference} changed while it was deleted: try again")
        uow.commit()
        return line.reference


def _erasable_audit(
    uow: SqlAlchemyUnitOfWork, incident_id: str, school_id: int, reference: str
) -> list[dict[str, object]]:
    # Erasing seals what is there: a row already altered would be sealed as it now stands,
    # so the deletion waits until the trail verifies.
    rows = [dict(row) for row in erasable_rows(uow.session, incident_id, school_id)]
    for row in rows:
        problem = content_problem(row)
        if problem is not None:
            raise Conflict(
                f"incident {reference} cannot be deleted: its audit row id {row['id']} does not "
                f"verify ({problem}); run `safeguard audit verify`"
            )
    return rows


def _orphans(uow: SqlAlchemyUnitOfWork, child_ids: list[int]) -> int:
    # Children left in no other record, with no file transfer, go with the case data.
    removed = 0
    for child_id in sorted(set(child_ids)):
        linked = uow.session.scalar(
            select(IncidentChild.incident_id).where(IncidentChild.child_id == child_id).limit(1)
        )
        moved = uow.session.scalar(
            select(FileTransfer.id)
            .where(
                or_(FileTransfer.child_id == child_id, FileTransfer.received_child_id == child_id)
            )
            .limit(1)
        )
        merged = uow.session.scalar(
            select(Child.id).where(Child.merged_into_id == child_id).limit(1)
        )
        if linked is None and moved is None and merged is None:
            uow.session.execute(delete(Child).where(Child.id == child_id))
            removed += 1
    return removed


def set_retention_years(command: SetRetentionYears, deps: Dependencies) -> int:
    """Change a school's retention rule (DSL); audited with the old and new values."""
    now = deps.clock.now()
    if not MIN_YEARS <= command.years <= MAX_YEARS:
        raise RequestInvalid(f"years: from {MIN_YEARS} to {MAX_YEARS}")
    with deps.uow_factory() as uow:
        enforce(
            can_lead_children(uow.users.roles_in(command.actor_id, command.school_id)),
            f"school {command.school_id}",
        )
        old = retention_years(uow, command.school_id)
        policy = uow.session.get(RetentionPolicy, command.school_id)
        if policy is None:
            uow.session.add(
                RetentionPolicy(school_id=command.school_id, years_after_birth=command.years)
            )
        else:
            policy.years_after_birth = command.years
        uow.audit.add(
            "retention.policy_changed",
            f"school:{command.school_id}",
            actor_id=command.actor_id,
            school_id=command.school_id,
            old_values={"years_after_birth": old},
            new_values={"years_after_birth": command.years},
            occurred_at=now,
        )
        uow.commit()
        return command.years
