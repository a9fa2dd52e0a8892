"""The email sender skips an email whose person left the school or whose notification is gone.

The sender looks both up (with the account and the task) in one statement just before it
sends; these are the reasons test_notifier.py does not reach.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from services.db.models import Membership, Notification
from tests.integration.messaging_fixtures import (  # noqa: F401  # fixtures, found by name
    Database,
    database,
)
from tests.integration.notifier_fixtures import (
    SmtpInbox,
    email_sender,
    emails,
    make_world,
    smtp_inbox,
)
from tests.integration.test_notifier import deliver_in_process, notifier_of


@pytest.fixture
def inbox() -> Iterator[SmtpInbox]:
    """A real SMTP server on a free loopback port."""
    yield from smtp_inbox()


def test_an_email_is_skipped_once_its_person_left_the_school_or_its_notification_is_gone(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))
    leaver, forgotten = world.person("dsl").id, world.person("deputy").id
    with world.runtime.unit_of_work() as uow:
        uow.session.execute(delete(Membership).where(Membership.user_id == leaver))
        uow.session.execute(delete(Notification).where(Notification.user_id == forgotten))
        uow.commit()

    assert email_sender(world, inbox.smtp_settings()).send_due() == 0

    assert inbox.messages() == []
    reasons = {e.user_id: (e.state, e.last_error) for e in emails(database)}
    assert reasons == {
        leaver: ("skipped", "not sent: the person no longer belongs to the school"),
        forgotten: (
            "skipped",
            "not sent: its notification is gone (the incident was deleted)",
        ),
    }


def test_an_email_still_due_goes_to_the_person_holding_the_task(
    database: Database, tmp_path: Path, inbox: SmtpInbox
) -> None:
    world = make_world(database, tmp_path)
    deliver_in_process(database, notifier_of(world, inbox.smtp_settings()))

    assert email_sender(world, inbox.smtp_settings()).send_due() == 2

    assert sorted(to for tos, _message in inbox.messages() for to in tos) == sorted(
        [world.person("dsl").email, world.person("deputy").email]
    )
    assert {e.state for e in emails(database)} == {"sent"}
