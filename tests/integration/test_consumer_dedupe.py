"""A consumer whose effects all go through its unit of work dedupes at commit, without a look-up.

The framework normally looks a message up among the processed ones before handling it. A
consumer marked `effects_only_in_transaction` (the notifier) is spared the look-up: a
duplicate runs again and its commit, refused on the processed_messages key, rolls it back.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import event

from services.db import SqlAlchemyUnitOfWork
from services.messaging import Delivery, Outcome, RetryPolicy, handle_once, process_delivery
from services.notifications import Notifier
from tests.integration.messaging_fixtures import (  # noqa: F401  # fixtures, found by name
    Database,
    RecordingConsumer,
    database,
    effects,
)


@dataclass
class InTransactionConsumer(RecordingConsumer):
    """A RecordingConsumer that says its effects all go through the unit of work."""

    effects_only_in_transaction: bool = True


def processed_lookups(database: Database) -> list[str]:
    """Collects the statements that look a message up among the processed ones."""
    seen: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def _note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "processed_messages" in statement:
            seen.append(statement)

    return seen


def test_a_duplicate_of_an_in_transaction_consumer_runs_again_and_commits_nothing(
    database: Database,
) -> None:
    consumer = InTransactionConsumer("ledger")
    delivery = Delivery("m-twice", "school.7.x", "TestEvent", {})
    lookups = processed_lookups(database)

    first = handle_once(consumer, delivery, database.uow)
    assert lookups == []  # no look-up before handling
    second = handle_once(consumer, delivery, database.uow)

    assert (first, second) == (True, False)
    assert consumer.calls == 2  # the duplicate ran: its commit was refused
    assert len(lookups) == 1  # only after the refused commit, to tell a duplicate apart
    assert effects(database, "ledger") == {"m-twice": 1}


@dataclass
class KeyedEffectConsumer(InTransactionConsumer):
    """Its effect has a unique key of its own, written (flushed) inside the handler."""

    def handle(self, message: Delivery, uow: SqlAlchemyUnitOfWork) -> None:
        """Record the effect, then the keyed row, flushed as an autoflush would."""
        super().handle(message, uow)
        uow.processed.add(f"{self.name}.effect", message.message_id)
        uow.session.flush()


def test_a_duplicate_whose_effect_meets_the_first_inside_the_handler_is_a_duplicate(
    database: Database,
) -> None:
    consumer = KeyedEffectConsumer("keyed")
    delivery = Delivery("m-keyed", "school.7.x", "TestEvent", {})

    first = handle_once(consumer, delivery, database.uow)
    second = handle_once(consumer, delivery, database.uow)  # refused at its flush, not commit

    assert (first, second) == (True, False)
    assert effects(database, "keyed") == {"m-keyed": 1}


def test_a_consumer_not_so_marked_still_looks_first_and_never_reruns(database: Database) -> None:
    consumer = RecordingConsumer("jobs")
    delivery = Delivery("m-once", "school.7.x", "TestEvent", {})

    results = [handle_once(consumer, delivery, database.uow) for _ in range(2)]

    assert results == [True, False]
    assert consumer.calls == 1
    assert effects(database, "jobs") == {"m-once": 1}


def test_concurrent_duplicates_of_an_in_transaction_consumer_commit_one_effect(
    database: Database,
) -> None:
    consumer = InTransactionConsumer("ledger", delay=0.3)
    delivery = Delivery("m-concurrent", "school.7.x", "TestEvent", {})
    outcomes: list[Outcome] = []

    def deliver() -> None:
        result = process_delivery(consumer, delivery, database.uow, RetryPolicy(), lambda _s: True)
        outcomes.append(result.outcome)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(o.value for o in outcomes) == ["duplicate", "processed"]
    assert effects(database, "ledger") == {"m-concurrent": 1}


def test_the_notifier_is_marked_as_an_in_transaction_consumer() -> None:
    notifier = Notifier(base_url="http://localhost", email=True)
    assert getattr(notifier, "effects_only_in_transaction", False) is True
