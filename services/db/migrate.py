"""Run the Alembic migrations programmatically: no alembic.ini needed anywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from services.db.engine import make_engine
from services.db.errors import MigrationFailed

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any fixed 64-bit number: processes starting together (web, relay, scheduler) migrate one
# at a time on PostgreSQL; the later ones find the schema current and do nothing.
_PG_MIGRATION_LOCK = 7_305_202_601

# command.upgrade or command.downgrade: both run under the same lock and checks.
_Step = Callable[[Config, str], None]


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic config for our migrations, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the newest migration revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(url: str | URL) -> str | None:
    """Return the revision a database is at, or None for a database never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade_database(url: str | URL, revision: str = "head") -> None:
    """Bring a database up to `revision` in one transaction; a no-op when it is there already."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                _upgrade_sqlite(connection, revision, command.upgrade)
            else:
                _upgrade_postgresql(connection, revision, command.upgrade)
    finally:
        engine.dispose()


def downgrade_database(url: str | URL, revision: str) -> None:
    """Take a database back to `revision` in one transaction (tests of migrations, rollbacks)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                _upgrade_sqlite(connection, revision, command.downgrade)
            else:
                _upgrade_postgresql(connection, revision, command.downgrade)
    finally:
        engine.dispose()


def _upgrade_postgresql(connection: Connection, revision: str, step: _Step) -> None:
    with connection.begin():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        step(alembic_config(connection), revision)


def _upgrade_sqlite(connection: Connection, revision: str, step: _Step) -> None:
    # SQLite's own recipe for schema changes: foreign keys off while batch mode copies and
    # renames tables, one write transaction (BEGIN IMMEDIATE also keeps two migrating
    # processes apart), and a foreign key check before commit.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        # The driver only opens transactions before DML; opened by hand, DDL joins it too.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            step(alembic_config(connection), revision)
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise MigrationFailed(
                    f"migration to {revision} left rows with broken foreign keys "
                    f"(table, rowid, parent, fk): {problems[:10]}"
                )
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
