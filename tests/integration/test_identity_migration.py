"""Migration 0008 (identity) on SQLite and PostgreSQL: old tokens keep working for 90 days, and
the revision downgrades and upgrades again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.db import make_engine
from services.db.migrate import downgrade_database, upgrade_database
from services.db.models import ApiToken
from services.db.repositories.accounts import hash_token


def test_tokens_from_before_get_an_expiry_and_the_revision_goes_down_and_up(
    empty_db_url: str,
) -> None:
    upgrade_database(empty_db_url, "0007")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO users (email, display_name, password_hash, is_active, "
                    "session_generation, created_at) VALUES ('old@school.test', 'Old', 'x', "
                    "true, 0, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO api_tokens (user_id, token_hash, label, created_at) "
                    "SELECT id, :hash, 'old', CURRENT_TIMESTAMP FROM users"
                ),
                {"hash": hash_token("sgf_old")},
            )
        upgrade_database(empty_db_url)
        with sa.orm.Session(engine) as session:
            token = session.scalar(sa.select(ApiToken))
            assert token is not None and token.scope == "write"
            left = token.expires_at - datetime.now(UTC)
            assert timedelta(days=89) < left <= timedelta(days=90)
            tables = set(sa.inspect(engine).get_table_names())
        assert {"break_glass_grants", "invitations", "sign_in_throttles"} <= tables

        downgrade_database(empty_db_url, "0007")
        engine.dispose()
        assert "invitations" not in sa.inspect(engine).get_table_names()
        columns = {c["name"] for c in sa.inspect(engine).get_columns("api_tokens")}
        assert "scope" not in columns and "expires_at" not in columns
        upgrade_database(empty_db_url)
        engine.dispose()
        assert "invitations" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
