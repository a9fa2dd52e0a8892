"""Persistence: SQLAlchemy models, Alembic migrations, repositories and the unit of work.

Runs the same code on SQLite (the embedded default, in WAL mode) and on PostgreSQL.
"""

from services.db.engine import make_engine, make_session_factory
from services.db.errors import ConcurrentUpdate, ImmutableRecord, MigrationFailed, PersistenceError
from services.db.migrate import head_revision, upgrade_database
from services.db.unit_of_work import SqlAlchemyUnitOfWork

__all__ = [
    "ConcurrentUpdate",
    "ImmutableRecord",
    "MigrationFailed",
    "PersistenceError",
    "SqlAlchemyUnitOfWork",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "upgrade_database",
]
