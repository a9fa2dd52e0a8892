"""Fixtures for tests on real databases: each test runs on SQLite (a temp file) and PostgreSQL.

PostgreSQL comes from SAFEGUARD_TEST_POSTGRES_URL (default: the local test server). Each test
session works in a fresh schema it drops at the end. When the server cannot be reached, the
PostgreSQL half of the tests is skipped with the reason, except under CI, where it fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from services.db import SqlAlchemyUnitOfWork, make_engine, make_session_factory, upgrade_database

POSTGRES_URL_ENV = "SAFEGUARD_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def running_in_ci() -> bool:
    """Tell whether the CI variable is set to something true."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def postgres_base_url() -> URL:
    """Return the PostgreSQL server URL the tests use."""
    return make_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))


def require_postgres(url: URL) -> None:
    """Skip (or under CI, fail) the calling test when PostgreSQL cannot be reached."""
    probe = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        where = url.render_as_string(hide_password=True)
        reason = (
            f"PostgreSQL not reachable at {where}: set {POSTGRES_URL_ENV} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
        )
        if running_in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    finally:
        probe.dispose()


@contextmanager
def postgres_schema(base: URL) -> Iterator[str]:
    """Create a fresh schema, yield a URL whose connections use it, then drop it."""
    schema = f"sf_test_{secrets.token_hex(4)}"
    admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """Yield the URL of an empty database on this backend."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'safeguard.db'}"
        return
    base = postgres_base_url()
    require_postgres(base)
    with postgres_schema(base) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: "sqlite" or "postgres"."""
    return str(request.param)


@pytest.fixture(scope="session")
def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head, shared by the test session (tests create their own rows)."""
    with empty_database(backend, tmp_path_factory.mktemp(backend)) as url:
        upgrade_database(url)
        yield url


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, for migration tests."""
    with empty_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    """The engine of the migrated test database."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The session factory units of work are built on."""
    return make_session_factory(engine)


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> SqlAlchemyUnitOfWork:
    """A unit of work on the migrated test database (enter it with `with uow:`)."""
    return SqlAlchemyUnitOfWork(session_factory)
