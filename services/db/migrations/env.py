"""Alembic environment: runs on the connection services.db.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from services.db.models import Base


def _run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError(
            "offline (SQL script) migrations are not supported: use upgrade_database"
        )
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "no connection given to the migration environment: run migrations through "
            "services.db.migrate.upgrade_database(url)"
        )
    _run_online(connection)


_main()
