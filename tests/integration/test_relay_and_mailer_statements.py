"""What a relay batch and an email claim cost in SQL, and that batching them keeps their promises.

A relay batch is one claim and one mark-sent whatever its size (plus one update per refused
row); a claim of due emails is one select and one conditional update whatever the batch's size,
takes them in due order, never takes an email twice, and on PostgreSQL skips another
sender's locked emails.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, update

from services.db.models import EmailDelivery, OutboxMessage
from services.messaging import EventWakeup, OutboxRelay, OutgoingMessage, PublishOutcome
from tests.integration.messaging_fixtures import (  # noqa: F401  # fixtures, found by name
    Database,
    database,
    postgres_database,
    write_events,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the first word of every statement sent inside the block (no BEGIN/COMMIT)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


class ConfirmingPublisher:
    """Confirms every message except those with a refused routing key (no broker needed)."""

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.published: list[str] = []

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishOutcome:
        self.published.extend(m.message_id for m in messages)
        refused = {m.message_id: "unroutable" for m in messages if m.routing_key == self.refuse}
        confirmed = tuple(m.message_id for m in messages if m.message_id not in refused)
        return PublishOutcome(confirmed=confirmed, refused=refused)

    def keep_alive(self) -> None:
        """Nothing to keep alive."""

    def close(self) -> None:
        """Nothing to close."""


def relay_of(database: Database, publisher: ConfirmingPublisher) -> OutboxRelay:
    return OutboxRelay(database.uow, publisher, EventWakeup(), clock=lambda: datetime.now(UTC))


def unsent(database: Database) -> list[str]:
    with database.uow() as uow:
        query = select(OutboxMessage.message_id).where(OutboxMessage.sent_at.is_(None))
        return list(uow.session.scalars(query))


@pytest.mark.parametrize("size", [1, 25])
def test_a_relay_batch_is_one_claim_and_one_mark_sent_whatever_its_size(
    database: Database, size: int
) -> None:
    ids = write_events(database, size)
    publisher = ConfirmingPublisher()

    with statements(database.engine) as seen:
        assert relay_of(database, publisher).publish_batch() == size

    assert seen == ["SELECT", "UPDATE"], seen
    assert publisher.published == ids
    assert unsent(database) == []


def test_a_refused_row_keeps_its_reason_and_stays_unsent_beside_confirmed_ones(
    database: Database,
) -> None:
    sent = write_events(database, 3)
    refused = write_events(database, 2, routing_key="school.7.nowhere")
    publisher = ConfirmingPublisher(refuse="school.7.nowhere")

    with statements(database.engine) as seen:
        assert relay_of(database, publisher).publish_batch() == 5

    assert seen == ["SELECT", "UPDATE", "UPDATE", "UPDATE"], seen  # sent, then one per refused
    assert sorted(unsent(database)) == sorted(refused)
    with database.uow() as uow:
        rows = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(r.message_id, r.attempts, r.last_error) for r in rows if r.sent_at is None] == [
            (m, 1, "unroutable") for m in refused
        ]
        assert all(r.sent_at is not None and r.attempts == 0 for r in rows[: len(sent)])
    # Nothing due again before its retry time: the next batch claims nothing.
    assert relay_of(database, publisher).publish_batch() == 0


def queue_emails(database: Database, count: int, *, next_attempts: Sequence[Any] = ()) -> list[str]:
    """Queue `count` emails to one new person; the first ones due as `next_attempts` says."""
    with database.uow() as uow:
        user = uow.users.add(f"p{datetime.now(UTC).timestamp()}@example.test", "P", "x")
        uow.session.flush()
        ids = [f"m-{user.id}-{n:03}" for n in range(count)]
        for n, message_id in enumerate(ids):
            email = uow.notifications.queue_email(message_id, user.id, "Subject", "Body", NOW)
            if n < len(next_attempts):
                email.next_attempt_at = next_attempts[n]
        uow.commit()
    return ids


def claim(database: Database, limit: int = 50, now: datetime = NOW) -> list[str]:
    with database.uow() as uow:
        got = uow.notifications.claim_due_emails(now, now + LEASE, limit)
        uow.commit()
    return [e.message_id for e in got]


@pytest.mark.parametrize("size", [1, 30])
def test_a_claim_of_due_emails_is_one_select_and_one_update_whatever_its_size(
    database: Database, size: int
) -> None:
    ids = queue_emails(database, size)

    with statements(database.engine) as seen:
        assert sorted(claim(database)) == ids

    assert seen == ["SELECT", "UPDATE"], seen
    with database.uow() as uow:
        leases = uow.session.scalars(select(EmailDelivery.next_attempt_at)).all()
        assert set(leases) == {NOW + LEASE}


def test_claimed_emails_come_in_due_order_and_are_not_taken_again_until_the_lease_ends(
    database: Database,
) -> None:
    # Two tried before (due at different times), one not due yet, two never tried, one sent.
    later, earlier, future = NOW - timedelta(minutes=1), NOW - timedelta(hours=1), NOW + LEASE
    retried_late, retried_early, not_due, fresh1, fresh2, sent = queue_emails(
        database, 6, next_attempts=[later, earlier, future]
    )
    set_state(database, sent, "sent")

    got = claim(database, limit=3)

    assert set(got[:2]) == {fresh1, fresh2}  # never tried first,
    assert got[2] == retried_early  # then the longest waiting
    assert claim(database, limit=50) == [retried_late]  # the rest; not the one not yet due
    assert claim(database, limit=50) == []  # leased: nobody takes them again meanwhile
    after_lease = sorted(claim(database, limit=50, now=NOW + LEASE + timedelta(seconds=1)))
    assert after_lease == sorted([fresh1, fresh2, retried_early, retried_late, not_due])


def set_state(database: Database, message_id: str, state: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            update(EmailDelivery).where(EmailDelivery.message_id == message_id).values(state=state)
        )


def test_a_claim_does_not_take_an_email_another_sender_took_after_its_select(
    database: Database,
) -> None:
    if database.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL locks the selected emails: the SKIP LOCKED test covers it")
    first, second = queue_emails(database, 2)

    done: list[bool] = []

    def other_sender_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Just before this claim's UPDATE, another sender's claim of `first` commits.
        if statement.lstrip().upper().startswith("UPDATE") and not done:
            done.append(True)
            set_state(database, first, "sent")

    event.listen(database.engine, "before_cursor_execute", other_sender_first)
    try:
        got = claim(database)
    finally:
        event.remove(database.engine, "before_cursor_execute", other_sender_first)

    assert got == [second]


def test_on_postgresql_a_second_sender_skips_the_emails_a_first_one_holds(
    postgres_database: Database,
) -> None:
    ids = queue_emails(postgres_database, 4)
    with postgres_database.uow() as holding:
        held = [e.message_id for e in holding.notifications.claim_due_emails(NOW, NOW + LEASE, 2)]
        # The first sender's transaction is still open: its two emails are locked.
        other = claim(postgres_database)
        assert sorted(held + other) == ids and not set(held) & set(other)
        holding.commit()
    assert claim(postgres_database) == []
