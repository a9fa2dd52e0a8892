"""Verify the audit trail (chains; deleted incidents stay deleted) and record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditEvent, AuditVerification, Incident
from services.domain.audit_chain import GLOBAL_CHAIN, Break, Verification, chain_of, verify_chains
from services.domain.audit_erasure import TOMBSTONE_ACTION, deleted_yet_present

VERIFIED = "audit.verified"


def verify_audit_trail(
    uow_factory: Callable[[], SqlAlchemyUnitOfWork],
    *,
    school_id: int | None,
    ran_by: str,
    now: Callable[[], datetime],
) -> tuple[Verification, AuditVerification]:
    """Walk every chain (or one school's) in one snapshot, then record and audit the outcome."""
    started_at = now()
    with uow_factory() as uow:
        uow.audit.read_in_one_snapshot()
        heads = uow.audit.chain_heads(school_id)
        verification = verify_chains(uow.audit.chain_rows(school_id), heads)
        # The chains cannot show it: a tombstone whose incident exists again.
        verification.breaks.extend(_deleted_incidents_present(uow.session, school_id))
        verification.breaks.sort(key=lambda b: b.chain)  # stable: each walk's break first
    first = verification.first_break
    record = AuditVerification(
        started_at=started_at,
        finished_at=now(),
        ran_by=ran_by[:255],
        school_id=school_id,
        ok=verification.ok,
        chains=verification.chains,
        rows_checked=verification.rows,
        broken_chains=len(broken_chains(verification)),
        broken_chain=None if first is None else first.chain,
        broken_event_id=None if first is None else first.event_id,
        broken_seq=None if first is None else first.seq,
        problem=None if first is None else first.problem,
    )
    with uow_factory() as uow:
        uow.audit.record_verification(record)
        uow.audit.add(
            VERIFIED,
            "audit:all" if school_id is None else f"audit:school:{school_id}",
            actor_id=None,
            # In the global chain even for one school's run: a verification never adds to
            # the chain it has just walked.
            school_id=None,
            reason=ran_by[:255],
            new_values={
                "ok": verification.ok,
                "chains": verification.chains,
                "rows": verification.rows,
                "erased": verification.erased,
                "broken": [
                    {"chain": b.chain, "event_id": b.event_id, "seq": b.seq}
                    for b in verification.breaks[:20]
                ],
            },
            occurred_at=record.finished_at,
        )
        uow.commit()
    return verification, record


def broken_chains(verification: Verification) -> list[int]:
    """The chains with at least one break, in order (a chain may have several)."""
    return sorted({b.chain for b in verification.breaks})


def _deleted_incidents_present(session: Session, school_id: int | None) -> list[Break]:
    # Deletion is final (migration 0015 refuses re-creating one); this finds it done anyway,
    # e.g. by an owner with the trigger off. Few rows: tombstones joined to live incidents.
    events = AuditEvent.__table__.c
    query = (
        select(events.id, events.chain_seq, events.school_id, events.incident_id)
        .join(Incident, Incident.id == events.incident_id)
        .where(events.action == TOMBSTONE_ACTION)
        .order_by(events.id)
    )
    if school_id is not None:
        query = query.where(events.school_id == school_id)
    return [
        Break(chain_of(row.school_id), row.id, row.chain_seq, deleted_yet_present(row.incident_id))
        for row in session.execute(query)
    ]


def broken_school(record: AuditVerification) -> int | None:
    """The school of a verification's first broken row (None: no break, or no school)."""
    chain = record.broken_chain
    return None if chain is None or chain == GLOBAL_CHAIN else chain
