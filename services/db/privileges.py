"""PostgreSQL: the app's role may only INSERT and SELECT on the audit trail.

Migrations run as the role that owns the tables (SAFEGUARD_MIGRATION_DATABASE_URL); the
app connects as another role (SAFEGUARD_DATABASE_URL) that `safeguard init` grants what
it needs after each migration: everything but TRUNCATE on the working tables, SELECT and
INSERT on the append-only ones, SELECT on alembic_version. Not owning the audit table, the
app's role cannot ALTER it or DISABLE its triggers either; not being granted UPDATE, DELETE
or TRUNCATE, it cannot rewrite it even with the triggers gone. Its one way to change an
audit row is EXECUTE on the SECURITY DEFINER functions in ERASURE_FUNCTIONS (migration 0013):
erasing the payloads of an incident it has deleted, under a tombstone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from services.db.errors import PersistenceError

APPEND_ONLY_TABLES = ("audit_events", "audit_verifications")
READ_ONLY_TABLES = ("alembic_version",)
ERASURE_FUNCTIONS = ("audit_erase_incident_payloads(character varying, bigint)",)
_WORKING = "SELECT, INSERT, UPDATE, DELETE"


class RoleSetupRefused(PersistenceError):
    """The app's role cannot be set up safely; the message says why and what to do."""


@dataclass(frozen=True)
class Granted:
    """What `grant_application_role` did, for `safeguard init` to print."""

    role: str
    schema: str
    tables: int
    created: bool


def grant_application_role(owner_url: str, app_url: str) -> Granted:
    """As the tables' owner: create the app's role if missing, then grant it its privileges."""
    owner, app = make_url(owner_url), make_url(app_url)
    if owner.get_backend_name() != "postgresql" or app.get_backend_name() != "postgresql":
        raise RoleSetupRefused(
            "SAFEGUARD_MIGRATION_DATABASE_URL is for PostgreSQL: both URLs must be postgresql"
        )
    role = app.username
    if not role:
        raise RoleSetupRefused("SAFEGUARD_DATABASE_URL names no user: the app's role is unknown")
    if role == owner.username:
        raise RoleSetupRefused(
            f"SAFEGUARD_DATABASE_URL and SAFEGUARD_MIGRATION_DATABASE_URL both use {role!r}: "
            "the app must connect as a role that does not own the tables"
        )
    # hide_parameters: an error must not print the app role's password.
    engine = create_engine(owner, hide_parameters=True, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            created = _create_role_if_missing(connection, role, app.password)
            schema = str(connection.execute(text("SELECT current_schema()")).scalar_one())
            _refuse_powerful_role(connection, role, schema)
            tables = _grant(connection, role, schema)
    finally:
        engine.dispose()
    return Granted(role=role, schema=schema, tables=tables, created=created)


def _create_role_if_missing(connection: Connection, role: str, password: str | None) -> bool:
    found = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if found.first() is not None:
        return False
    if not password:
        raise RoleSetupRefused(
            f"the app's role {role!r} does not exist and SAFEGUARD_DATABASE_URL has no "
            "password to create it with: create the role (LOGIN), or put a password in the URL"
        )
    # format() quotes the name and the password as PostgreSQL itself would.
    statement = connection.execute(
        text(
            "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', CAST(:r AS text), CAST(:p AS text))"
        ),
        {"r": role, "p": password},
    ).scalar_one()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)  # no parameters: nothing in it is read as a placeholder
    finally:
        cursor.close()
    return True


def _refuse_powerful_role(connection: Connection, role: str, schema: str) -> None:
    row = connection.execute(
        text(
            "SELECT r.rolsuper, r.rolbypassrls, t.tableowner, "
            "pg_has_role(r.rolname, t.tableowner, 'MEMBER') "
            "FROM pg_roles r, pg_tables t "
            "WHERE r.rolname = :r AND t.schemaname = :s AND t.tablename = 'audit_events'"
        ),
        {"r": role, "s": schema},
    ).first()
    if row is None:
        raise RoleSetupRefused(f"no audit_events table in schema {schema!r}: migrate first")
    superuser, bypass_rls, owner, member = row
    if superuser or bypass_rls:
        raise RoleSetupRefused(
            f"the app's role {role!r} is a superuser: it could rewrite the audit trail. "
            "Connect the app as an ordinary role"
        )
    if member:
        # An existing deployment whose app role made the tables: the owner must take them.
        raise RoleSetupRefused(
            f"the app's role {role!r} is (or is a member of) {owner!r}, the tables' owner: "
            "it could rewrite the audit trail. If the app's role created the tables, give "
            f"them to the owner first (as a superuser: REASSIGN OWNED BY {role} TO <owner>)"
        )


def _grant(connection: Connection, role: str, schema: str) -> int:
    quote = connection.dialect.identifier_preparer.quote
    who, where = quote(role), quote(schema)
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {where} TO {who}")
    tables = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
        {"s": schema},
    ).scalars()
    count = 0
    for table in tables.all():
        name = f"{where}.{quote(table)}"
        if table in APPEND_ONLY_TABLES:
            privileges = "SELECT, INSERT"
        elif table in READ_ONLY_TABLES:
            privileges = "SELECT"
        else:
            privileges = _WORKING
        # From scratch each time, so a privilege granted by hand (or by an older release)
        # does not linger.
        connection.exec_driver_sql(f"REVOKE ALL ON {name} FROM {who}")
        connection.exec_driver_sql(f"GRANT {privileges} ON {name} TO {who}")
        count += 1
    connection.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}")
    _grant_erasure(connection, who, where)
    return count


def _grant_erasure(connection: Connection, who: str, where: str) -> None:
    # Only once the migration that creates them has run (a database at 0012 has none).
    for function in ERASURE_FUNCTIONS:
        present = connection.execute(
            text("SELECT to_regprocedure(:f) IS NOT NULL"), {"f": f"{where}.{function}"}
        ).scalar_one()
        if present:
            connection.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {where}.{function} TO {who}")
