"""Engines and session factories for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000
# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 2.0
# Connections older than this are replaced (before a server or firewall idle limit bites).
RECYCLE_SECONDS = 1800
_IDLE_SINCE = "safeguard.idle_since"

# How SQLite transactions work here, and why.
#
# The sqlite3 driver runs in its "legacy" transaction control, with isolation_level IMMEDIATE:
# reads run outside any transaction (each SELECT sees the latest commit, like PostgreSQL's READ
# COMMITTED), and the driver issues BEGIN IMMEDIATE just before the first INSERT/UPDATE/DELETE.
# So a command reads, then takes the single write lock when it flushes, and holds it only for
# its writes and the commit (well under a millisecond).
#
# The alternative, a transaction opened with a plain BEGIN before the first read, deadlocks
# under concurrent writers: a transaction holding a read snapshot that tries to write after
# another writer committed gets SQLITE_BUSY at once, without waiting (the busy timeout does not
# apply to that upgrade). Taking the write lock with BEGIN IMMEDIATE before any read of the
# transaction avoids that: writers then queue on busy_timeout instead of failing.
#
# Lost updates are prevented the same way on both backends: the incident row carries a
# version (SQLAlchemy version_id_col); an UPDATE from a stale read matches no row and the unit
# of work raises ConcurrentUpdate. PostgreSQL can also lock the row (SELECT ... FOR UPDATE);
# SQLite ignores FOR UPDATE and relies on that version check.
#
# Do not use Session.begin_nested() (SAVEPOINT) on SQLite: in legacy mode a SAVEPOINT does
# not start the driver's transaction, so it would not roll back with it.
_SQLITE_BEGIN = "IMMEDIATE"


def make_engine(
    url: str | URL,
    *,
    echo: bool = False,
    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL with the settings this app relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo, busy_timeout_ms=sqlite_busy_timeout_ms)
    engine = create_engine(parsed, echo=echo, pool_recycle=RECYCLE_SECONDS)
    ping_idle_connections(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only when it sat idle for `idle_seconds` or more.

    pool_pre_ping pings at every checkout: a round trip on every unit of work, two per API
    call. A connection checked in moments ago is almost always alive, so only idle ones are
    pinged (SQLAlchemy's documented checkout-event recipe: a DisconnectionError makes the pool
    drop the connection and hand out a fresh one). A connection that dies while in busy use
    (a restart within `idle_seconds` of its last use) fails its statement instead; SQLAlchemy
    sees the disconnect and invalidates the whole pool, so the next unit of work reconnects,
    and the relay, scheduler and consumers already retry on OperationalError.
    """

    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(str(error)) from error


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory units of work use.

    Objects stay readable after commit (no reload per attribute): each unit of work has its
    own session, so nothing stale outlives the command that loaded it. Making one also
    installs the audit chaining on every Session (services.db.audit_chaining).
    """
    # The models import this module's package: import the listeners here, not at the top.
    from services.db import audit_chaining, imagery_guard

    audit_chaining.install()
    imagery_guard.install()  # no picture written out as text is ever stored (issue 8)
    return sessionmaker(engine, expire_on_commit=False)


def _sqlite_engine(url: URL, *, echo: bool, busy_timeout_ms: int) -> Engine:
    connect_args: dict[str, Any] = {
        # Web threads, workers and the scheduler share the pool; each connection is used by
        # one thread at a time, which is what sqlite3 needs.
        "check_same_thread": False,
        "isolation_level": _SQLITE_BEGIN,
        "timeout": busy_timeout_ms / 1000,
    }
    legacy = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", None)
    if legacy is not None:  # Python 3.12+: pin the mode described above; 3.16 changes the default
        connect_args["autocommit"] = legacy
    engine = create_engine(url, echo=echo, connect_args=connect_args)
    pragmas = (
        "PRAGMA journal_mode=WAL",  # readers never block the writer, nor it them
        "PRAGMA foreign_keys=ON",  # off by default in SQLite, per connection
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        "PRAGMA synchronous=NORMAL",  # safe with WAL: a power cut loses at most the last commits
        # Deleted content is overwritten with zeros: an erased incident leaves no bytes behind.
        "PRAGMA secure_delete=ON",
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "checkout")
    def _keep_immediate(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # An isolation-level reset (after AUTOCOMMIT, say) would fall back to a deferred BEGIN.
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = _SQLITE_BEGIN

    return engine
