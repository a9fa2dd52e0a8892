"""Chain new audit events as they are flushed: id, sequence, link and hash, per school.

A `before_flush` listener on every Session: when a flush holds new AuditEvents it locks
their chains' head rows, takes ids for the events, sets each one's sequence, prev_hash and
row_hash, and moves the heads, in the flush's transaction. A flush whose events share one
chain (the usual case: one school) costs two small statements, not per event: one UPDATE
locks the head, moves its sequence past the new events and returns the old head with the
ids (RETURNING), one sets the head's last hash once the events are hashed. Events of
several chains take three: the heads locked in key order, the ids, the heads moved. The head
stays locked until the transaction commits: a second transaction appending to the same
school waits for it (PostgreSQL: the UPDATE's row lock, or SELECT ... FOR UPDATE; SQLite:
this takes the single write lock first, BEGIN IMMEDIATE, before reading the head), so the
chain never forks. Ids are taken here, not at INSERT, because the hash covers the id; they
are taken after the heads are locked, so they grow along each chain. Each event is hashed in
chain format 2: its payload through a salted digest (services.domain.audit_hashing).

The head's lock lasts from the first flush of an audit event to the commit, as SQLite's
write lock does: add audit events after a command's reads (services.domain.handlers.views
does), so appends to one school wait for each other only for the writes and the commit.
At commit, `held_back` keeps the events out of the flush of everything else, so the head is
locked only for their own INSERT, the report rows' projection and the commit: on PostgreSQL
the head's row lock is what one school's writers queue on. The projection still runs under
it (services.domain.reports.projection): the rows of one school are built one transaction
at a time, from what the last one committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from services.db.column_types import utcnow
from services.db.models import AuditEvent
from services.domain.audit_chain import GENESIS_HASH, chain_of
from services.domain.audit_hashing import CURRENT_FORMAT, new_salt, payload_digest, row_hash

_EVENTS = cast(Table, AuditEvent.__table__)
_CHAIN_COLUMNS = (
    "id",
    "chain_seq",
    "prev_hash",
    "row_hash",
    "chain_format",
    "payload_digest",
    "payload_salt",
    "payload_erased_by",
)
_COLUMNS = tuple((a.key, a.columns[0].name) for a in inspect(AuditEvent).column_attrs)
# The columns with a fixed default (read once, not per event): INSERT would apply it too late.
_SCALAR_DEFAULTS = tuple(
    (column.key, column.default.arg)  # type: ignore[attr-defined]
    for column in _EVENTS.columns
    if column.name not in _CHAIN_COLUMNS and column.default is not None and column.default.is_scalar
)


@dataclass(frozen=True)
class _Statements:
    """The chaining's SQL in the driver's own dialect: run raw, it costs microseconds."""

    read_heads: str  # {chains}: the chains' placeholders
    create_head: str
    move_head: str
    take_ids: str
    # One chain: lock its head, move its sequence past n events, and return the old head
    # with the ids (PostgreSQL: n ids; SQLite: the largest id so far). Parameters: n, chain.
    claim_head: str


_SQLITE = _Statements(
    read_heads="SELECT chain, last_seq, last_hash FROM audit_chain_heads WHERE chain IN ({chains})",
    create_head=(
        "INSERT INTO audit_chain_heads (chain, last_seq, last_hash) VALUES (?, 0, ?) "
        "ON CONFLICT DO NOTHING"
    ),
    move_head="UPDATE audit_chain_heads SET last_seq = ?, last_hash = ? WHERE chain = ?",
    # This connection holds the write lock, so max(id) cannot move under it.
    take_ids="SELECT coalesce(max(id), 0) FROM audit_events",
    # RETURNING (SQLite 3.35+) may hold a subquery; the write lock is already ours.
    claim_head=(
        "UPDATE audit_chain_heads SET last_seq = last_seq + ?1 WHERE chain = ?2 "
        "RETURNING last_seq - ?1, last_hash, (SELECT coalesce(max(id), 0) FROM audit_events)"
    ),
)
_POSTGRESQL = _Statements(
    # Locked in key order, so two transactions appending to the same chains cannot deadlock
    # over them.
    read_heads=(
        "SELECT chain, last_seq, last_hash FROM audit_chain_heads WHERE chain = ANY(%s) "
        "ORDER BY chain FOR UPDATE"
    ),
    create_head=(
        "INSERT INTO audit_chain_heads (chain, last_seq, last_hash) VALUES (%s, 0, %s) "
        "ON CONFLICT DO NOTHING"
    ),
    move_head="UPDATE audit_chain_heads SET last_seq = %s, last_hash = %s WHERE chain = %s",
    # Taken after the heads are locked: ids then grow along each chain.
    take_ids=(
        "SELECT nextval(pg_get_serial_sequence('audit_events', 'id')) FROM generate_series(1, %s)"
    ),
    # The subquery is an InitPlan, run when RETURNING first needs it: after the UPDATE holds
    # the head's row lock, so ids still grow along the chain.
    claim_head=(
        "UPDATE audit_chain_heads SET last_seq = last_seq + %(n)s WHERE chain = %(chain)s "
        "RETURNING last_seq - %(n)s, last_hash, (SELECT array_agg(nextval("
        "pg_get_serial_sequence('audit_events', 'id'))) FROM generate_series(1, %(n)s))"
    ),
)


def chain_new_events(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """Give every new AuditEvent of this flush its id, sequence, link and hash."""
    pending = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not pending:
        return
    pending.sort(key=lambda obj: inspect(obj).insert_order or 0)  # the order they were added
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    sql = _POSTGRESQL if postgresql else _SQLITE
    if not postgresql:
        _take_sqlite_write_lock(connection)
    chains = sorted({chain_of(obj.school_id) for obj in pending})
    if len(chains) == 1:
        heads, ids = _claim_head(connection, sql, chains[0], len(pending), postgresql)
    else:
        heads = _lock_heads(connection, sql, chains)
        ids = _take_ids(connection, sql, len(pending), postgresql)
    for audit_event, event_id in zip(pending, ids, strict=True):
        _fill_defaults(audit_event)
        chain = chain_of(audit_event.school_id)
        last_seq, last_hash = heads[chain]
        audit_event.id = event_id
        audit_event.chain_seq = last_seq + 1
        audit_event.prev_hash = last_hash
        audit_event.row_hash = _digest_and_hash(audit_event)
        heads[chain] = (audit_event.chain_seq, audit_event.row_hash)
    connection.exec_driver_sql(
        sql.move_head, [(seq, last, chain) for chain, (seq, last) in heads.items()]
    )


@contextmanager
def held_back(session: Session) -> Iterator[None]:
    """Keep the session's new audit events out of its flushes in this block; add them after.

    For a commit's flush of everything else: it takes no chain head's lock, and the events,
    added back in the order they were first added, are chained by the next flush as ever.
    """
    pending = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    others = len(session.new) > len(pending) or session.dirty or session.deleted
    if not pending or not others:
        yield  # nothing else to write first: no need to take them out
        return
    pending.sort(key=lambda obj: inspect(obj).insert_order or 0)
    for audit_event in pending:
        session.expunge(audit_event)
    try:
        yield
    finally:
        session.add_all(pending)  # insert_order follows: still the order they were added


def hashed_columns(audit_event: AuditEvent) -> dict[str, Any]:
    """The event's columns as they will read back from the database (JSON round-tripped)."""
    columns: dict[str, Any] = {}
    for key, name in _COLUMNS:
        value = getattr(audit_event, key)
        if isinstance(value, dict | list):
            value = json.loads(json.dumps(value))  # tuples -> lists, keys -> strings
        columns[name] = value
    return columns


def install() -> None:
    """Listen on every Session (idempotent): no audit event is flushed unchained."""
    if not event.contains(Session, "before_flush", chain_new_events):
        event.listen(Session, "before_flush", chain_new_events)


def _digest_and_hash(audit_event: AuditEvent) -> str:
    # Format 2: the hash covers the payload's salted digest, so the payload can be erased.
    audit_event.chain_format = CURRENT_FORMAT
    audit_event.payload_erased_by = None
    audit_event.payload_salt = new_salt()
    columns = hashed_columns(audit_event)
    audit_event.payload_digest = columns["payload_digest"] = payload_digest(
        columns, audit_event.payload_salt
    )
    return row_hash(columns)


def _fill_defaults(audit_event: AuditEvent) -> None:
    # Column defaults apply at INSERT, after this: the hash needs the values now.
    if audit_event.occurred_at is None:
        audit_event.occurred_at = utcnow()
    for key, value in _SCALAR_DEFAULTS:
        if getattr(audit_event, key) is None:
            setattr(audit_event, key, value)


def _take_sqlite_write_lock(connection: Connection) -> None:
    # The driver opens its transaction (BEGIN IMMEDIATE) at the first write, which would be
    # after the head is read: take the write lock first so the head read is the latest.
    driver = connection.connection.driver_connection
    if driver is not None and not getattr(driver, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _lock_heads(
    connection: Connection, sql: _Statements, chains: list[int]
) -> dict[int, tuple[int, str]]:
    heads = _read_heads(connection, sql, chains)
    missing = [chain for chain in chains if chain not in heads]
    if missing:
        # A chain's first event: create its head (a racing creator's row wins), then lock.
        connection.exec_driver_sql(sql.create_head, [(chain, GENESIS_HASH) for chain in missing])
        heads.update(_read_heads(connection, sql, missing))
    return heads


def _claim_head(
    connection: Connection, sql: _Statements, chain: int, count: int, postgresql: bool
) -> tuple[dict[int, tuple[int, str]], list[int]]:
    # One statement: lock the head, move its sequence on by `count`, read it and take ids.
    parameters: Any = {"n": count, "chain": chain} if postgresql else (count, chain)
    row = connection.exec_driver_sql(sql.claim_head, parameters).first()
    if row is None:
        # The chain's first event: create its head (a racing creator's row wins), then claim.
        connection.exec_driver_sql(sql.create_head, [(chain, GENESIS_HASH)])
        row = connection.exec_driver_sql(sql.claim_head, parameters).one()
    last_seq, last_hash, taken = row
    # PostgreSQL hands back the ids; SQLite the largest so far, after which they follow.
    ids = sorted(taken) if postgresql else [int(taken) + 1 + i for i in range(count)]
    return {chain: (last_seq, last_hash)}, ids


def _read_heads(
    connection: Connection, sql: _Statements, chains: list[int]
) -> dict[int, tuple[int, str]]:
    if sql is _POSTGRESQL:
        rows = connection.exec_driver_sql(sql.read_heads, (chains,))
    else:
        statement = sql.read_heads.format(chains=", ".join("?" * len(chains)))
        rows = connection.exec_driver_sql(statement, tuple(chains))
    return {chain: (seq, last) for chain, seq, last in rows}


def _take_ids(connection: Connection, sql: _Statements, count: int, postgresql: bool) -> list[int]:
    if postgresql:
        return sorted(connection.exec_driver_sql(sql.take_ids, (count,)).scalars())
    last = int(connection.exec_driver_sql(sql.take_ids).scalar_one())
    return list(range(last + 1, last + 1 + count))
