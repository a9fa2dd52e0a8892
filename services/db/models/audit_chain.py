"""The audit trail's chain heads and the record of each verification of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, big_id_type, utcnow
from services.db.models.base import Base


class AuditChainHead(Base):
    """Where one chain of audit events ends: updated in the transaction that appends to it.

    One row per school (chain = the school's id) and one for events of no school (chain 0).
    Appending locks it (SELECT ... FOR UPDATE on PostgreSQL; SQLite has one writer), so two
    transactions appending to one school take turns instead of forking the chain.
    """

    __tablename__ = "audit_chain_heads"

    chain: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditVerification(Base):
    """One run of `safeguard audit verify`: what it covered, who ran it, and what it found."""

    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(big_id_type(), primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ran_by: Mapped[str] = mapped_column(String(255))  # e.g. "safeguard audit verify (ops@host)"
    school_id: Mapped[int | None] = mapped_column(Integer)  # None: every chain
    ok: Mapped[bool] = mapped_column(Boolean)
    chains: Mapped[int] = mapped_column(Integer)
    rows_checked: Mapped[int] = mapped_column(BigInteger)
    broken_chains: Mapped[int] = mapped_column(Integer)
    # The first broken row: its chain (school id, 0 for none), id and sequence, and what
    # is wrong with it (no personal details: ids and the kind of problem only).
    broken_chain: Mapped[int | None] = mapped_column(Integer)
    broken_event_id: Mapped[int | None] = mapped_column(BigInteger)
    broken_seq: Mapped[int | None] = mapped_column(BigInteger)
    problem: Mapped[str | None] = mapped_column(Text)
