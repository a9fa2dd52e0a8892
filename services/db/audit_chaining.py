"""Chain new audit events as they are flushed: id, sequence, link and hash, per school.

A `before_flush` listener on every Session: when a flush holds new AuditEvents it locks
their chains' head rows, takes ids for the events, sets each one's sequence, prev_hash and
row_hash, and moves the heads, in the flush's transaction. So a transaction that appends
costs three small statements per flush (lock the heads, take ids, move the heads), not per
event, and the head stays locked until it commits: a second transaction appending to the
same school waits for it (PostgreSQL: SELECT ... FOR UPDATE; SQLite: this takes the single
write lock first, BEGIN IMMEDIATE, before reading the head), so the chain never forks.
Ids are taken here, not at INSERT, because the hash covers the id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, event, func, inspect, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction

from services.db.column_types import utcnow
from services.db.models import AuditChainHead, AuditEvent
from services.domain.audit_chain import GENESIS_HASH, chain_of, row_hash

_HEADS = AuditChainHead.__table__
_EVENTS = AuditEvent.__table__
_CHAIN_COLUMNS = ("id", "chain_seq", "prev_hash", "row_hash")


def chain_new_events(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """Give every new AuditEvent of this flush its id, sequence, link and hash."""
    pending = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not pending:
        return
    pending.sort(key=lambda obj: inspect(obj).insert_order)  # the order they were added
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        _take_sqlite_write_lock(connection)
    heads = _lock_heads(connection, sorted({chain_of(obj.school_id) for obj in pending}))
    for audit_event, event_id in zip(pending, _take_ids(connection, len(pending)), strict=True):
        _fill_defaults(audit_event)
        chain = chain_of(audit_event.school_id)
        last_seq, last_hash = heads[chain]
        audit_event.id = event_id
        audit_event.chain_seq = last_seq + 1
        audit_event.prev_hash = last_hash
        audit_event.row_hash = row_hash(hashed_columns(audit_event))
        heads[chain] = (audit_event.chain_seq, audit_event.row_hash)
    connection.execute(
        update(_HEADS)
        .where(_HEADS.c.chain == bindparam("chain_key"))
        .values(last_seq=bindparam("seq"), last_hash=bindparam("hash")),
        [{"chain_key": c, "seq": seq, "hash": h} for c, (seq, h) in heads.items()],
    )


def hashed_columns(audit_event: AuditEvent) -> dict[str, Any]:
    """The event's columns as they will read back from the database (JSON round-tripped)."""
    columns: dict[str, Any] = {}
    for attribute in inspect(AuditEvent).column_attrs:
        value = getattr(audit_event, attribute.key)
        if isinstance(value, dict | list):
            value = json.loads(json.dumps(value))  # tuples -> lists, keys -> strings
        columns[attribute.columns[0].name] = value
    return columns


def install() -> None:
    """Listen on every Session (idempotent): no audit event is flushed unchained."""
    if not event.contains(Session, "before_flush", chain_new_events):
        event.listen(Session, "before_flush", chain_new_events)


def _fill_defaults(audit_event: AuditEvent) -> None:
    # Column defaults apply at INSERT, after this: the hash needs the values now.
    if audit_event.occurred_at is None:
        audit_event.occurred_at = utcnow()
    for column in _EVENTS.columns:
        default = column.default
        if column.name in _CHAIN_COLUMNS or default is None:
            continue
        if getattr(audit_event, column.key) is None and default.is_scalar:
            setattr(audit_event, column.key, default.arg)  # type: ignore[attr-defined]


def _take_sqlite_write_lock(connection: Connection) -> None:
    # The driver opens its transaction (BEGIN IMMEDIATE) at the first write, which would be
    # after the head is read: take the write lock first so the head read is the latest.
    driver = connection.connection.driver_connection
    if driver is not None and not getattr(driver, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _lock_heads(connection: Connection, chains: Sequence[int]) -> dict[int, tuple[int, str]]:
    heads = _read_heads(connection, chains)
    missing = [chain for chain in chains if chain not in heads]
    if missing:
        # A chain's first event: create its head (a racing creator's row wins), then lock.
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(
            insert(_HEADS).on_conflict_do_nothing(),
            [{"chain": chain, "last_seq": 0, "last_hash": GENESIS_HASH} for chain in missing],
        )
        heads.update(_read_heads(connection, missing))
    return heads


def _read_heads(connection: Connection, chains: Iterable[int]) -> dict[int, tuple[int, str]]:
    # Locked in key order, so two transactions appending to the same chains cannot deadlock.
    query = (
        select(_HEADS.c.chain, _HEADS.c.last_seq, _HEADS.c.last_hash)
        .where(_HEADS.c.chain.in_(list(chains)))
        .order_by(_HEADS.c.chain)
        .with_for_update()
    )
    return {chain: (seq, last) for chain, seq, last in connection.execute(query)}


def _take_ids(connection: Connection, count: int) -> list[int]:
    if connection.dialect.name == "postgresql":
        query = text(
            "SELECT nextval(pg_get_serial_sequence('audit_events', 'id')) "
            "FROM generate_series(1, :count)"
        )
        return sorted(connection.execute(query, {"count": count}).scalars())
    # SQLite: this connection holds the write lock, so max(id) cannot move under it.
    last = connection.execute(select(func.coalesce(func.max(_EVENTS.c.id), 0))).scalar_one()
    return list(range(last + 1, last + 1 + count))
