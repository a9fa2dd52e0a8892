"""`safeguard mailer`: the emails the notifier queues are sent by a process of their own.

Sending email (TLS, a slow or refusing server) used to share the notifier's process and added
about 80 ms to every event's p95; now the notifier only queues, and the mailer sends.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from services.db.repositories.notifications import SPENT_BODY
from tests.integration.messaging_fixtures import (
    ROOT,
    SAFEGUARD,
    Database,
    database,
    stop_process,
    wait_for_exit,
    wait_until,
)
from tests.integration.notifier_fixtures import SENDER, SmtpInbox, emails, make_world, smtp_inbox
from tests.integration.test_notifier import deliver_in_process, notifier_of

__all__ = ["database"]  # fixture used by name

inbox = pytest.fixture(smtp_inbox)


def mailer_env(db: Database, smtp_port: int | None) -> dict[str, str]:
    """The environment of a mailer on this database, with or without an SMTP server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env["SAFEGUARD_DATABASE_URL"] = db.url
    if smtp_port is not None:
        env.update(
            SAFEGUARD_SMTP_HOST="127.0.0.1",
            SAFEGUARD_SMTP_PORT=str(smtp_port),
            SAFEGUARD_SMTP_FROM=SENDER,
            SAFEGUARD_SMTP_STARTTLS="false",
        )
    return env


def start_mailer(env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `safeguard mailer`, looking for due emails often."""
    return subprocess.Popen(
        [str(SAFEGUARD), "mailer", "--interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_mailer_sends_what_the_notifier_queued_and_stops_cleanly(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))
    assert inbox.messages() == []  # the notifier only queued them
    process = start_mailer(mailer_env(database, inbox.port))
    try:
        wait_until(lambda: len(inbox.messages()) == 2, 90, "the two DSLs' emails")
    finally:
        code, output = stop_process(process)
    assert code == 0, output
    told = sorted(r for recipients, _ in inbox.messages() for r in recipients)
    assert told == sorted([world.person("dsl").email, world.person("deputy").email])
    sent = emails(database)
    assert {e.state for e in sent} == {"sent"}
    # A body may hold a one-time link (invitations): it does not outlive its sending.
    assert {e.body for e in sent} == {SPENT_BODY}


def test_without_smtp_the_mailer_says_why_and_exits_cleanly(database: Database) -> None:
    code, output = wait_for_exit(start_mailer(mailer_env(database, None)))
    assert code == 0
    assert "SAFEGUARD_SMTP_HOST is not set" in output
