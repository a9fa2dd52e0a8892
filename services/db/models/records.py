"""Append-only records: the audit trail, the outbox, and the consumers' processed-message log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.db.column_types import UTCDateTime, big_id_type, computed_text, json_type, utcnow
from services.db.models.base import Base


class AuditEvent(Base):
    """Who did what to which case, when and why.

    Append-only: the database refuses UPDATE and DELETE (a trigger on both backends; on
    SQLite also an INSERT over an existing row, as INSERT OR REPLACE would do). The ids
    are plain columns, not foreign keys, so the trail outlives what it describes (retention
    may delete an incident; the record that it existed and was deleted stays).

    Hash-chained per school (services.domain.audit_chain): `chain_seq`, `prev_hash` and
    `row_hash` (and the id) are set when the event is flushed (services.db.audit_chaining),
    never by callers. Any column added here is hashed too: make it nullable, with no
    server default, so rows hashed before it existed still verify.

    Since migration 0013 a row's hash covers a salted digest of its payload (`reason`,
    `old_values`, `new_values`) rather than the payload (chain format 2, see
    services.domain.audit_hashing), so deleting an incident under retention can erase the
    payload (nulled, with its salt) and mark the row with its tombstone's id: the one UPDATE
    the database allows (services.db.audit_erasure), and the chain still verifies.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_incident_id_id", "incident_id", "id"),
        Index("ix_audit_events_school_id_occurred_at", "school_id", "occurred_at"),
        # One row per place in each chain; the walk of `safeguard audit verify` uses them.
        Index(
            "uq_audit_events_school_id_chain_seq",
            "school_id",
            "chain_seq",
            unique=True,
            sqlite_where=text("school_id IS NOT NULL"),
            postgresql_where=text("school_id IS NOT NULL"),
        ),
        Index(
            "uq_audit_events_global_chain_seq",
            "chain_seq",
            unique=True,
            sqlite_where=text("school_id IS NULL"),
            postgresql_where=text("school_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(big_id_type(), primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    school_id: Mapped[int | None] = mapped_column(Integer)
    incident_id: Mapped[str | None] = mapped_column(String(36), info=computed_text("uuid"))
    action: Mapped[str] = mapped_column(String(64))  # e.g. "incident.viewed", "task.completed"
    target: Mapped[str] = mapped_column(String(255))  # e.g. "task:<id>"
    reason: Mapped[str | None] = mapped_column(Text)
    old_values: Mapped[dict[str, Any] | None] = mapped_column(json_type(nullable=True))
    new_values: Mapped[dict[str, Any] | None] = mapped_column(json_type(nullable=True))
    chain_seq: Mapped[int] = mapped_column(BigInteger)  # 1, 2, ... within the school's chain
    # The chain's digests and salt: set by services.db.audit_chaining alone, never by callers.
    prev_hash: Mapped[str] = mapped_column(String(64), info=computed_text("hex"))  # row before
    row_hash: Mapped[str] = mapped_column(String(64), info=computed_text("hex"))  # of the rest
    # NULL on rows chained before 0013 that it has not backfilled: format 1.
    chain_format: Mapped[int | None] = mapped_column(SmallInteger)
    payload_digest: Mapped[str | None] = mapped_column(String(64), info=computed_text("hex"))
    # Erased with the payload.
    payload_salt: Mapped[str | None] = mapped_column(String(32), info=computed_text("hex"))
    payload_erased_by: Mapped[int | None] = mapped_column(BigInteger)  # the tombstone's id


def new_message_id() -> str:
    """Return a fresh message id: a UUID4 string, the consumers' deduplication key."""
    return str(uuid.uuid4())


class OutboxMessage(Base):
    """An event written in the same transaction as the change it reports; the relay sends it.

    Payloads go to the broker and to whoever consumes it: they carry ids, roles, references
    and due times, never personal details of children (no names, dates of birth or notes).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_sent_at_id", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(big_id_type(), primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=new_message_id, info=computed_text("uuid")
    )
    routing_key: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(json_type())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedMessage(Base):
    """A message a consumer has already handled: the key of idempotent consumers."""

    __tablename__ = "processed_messages"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
