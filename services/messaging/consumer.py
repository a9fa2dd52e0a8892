"""The idempotent consumer: each message's effect and its processed_messages row commit together.

Both runners (RabbitMQ and in-process) hand every delivery to `process_delivery`, so the
dedupe, retry and dead-letter rules are the same code whatever carries the message.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from services.db import SqlAlchemyUnitOfWork
from services.messaging.ports import Consumer, Delivery, MessageInvalid

logger = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], SqlAlchemyUnitOfWork]
# Sleeps for the given seconds; returns False when the process was asked to stop meanwhile.
Sleep = Callable[[float], bool]

# Errors of the database connection rather than of the message: a PostgreSQL restart, a lost
# connection, SQLite busy past its timeout, a deadlock. Retried without using up attempts.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
_REASON_LIMIT = 1000


class Outcome(enum.Enum):
    """What became of a delivery."""

    PROCESSED = "processed"  # handled and committed: ack
    DUPLICATE = "duplicate"  # already processed earlier: ack, no effect
    DEAD_LETTERED = "dead-lettered"  # gave up: move to the dead letters with the reason
    ABANDONED = "abandoned"  # asked to stop mid-retry: leave it for redelivery


@dataclass(frozen=True)
class Result:
    """The outcome of a delivery, the attempt it ended on, and why it died (if it did)."""

    outcome: Outcome
    attempts: int
    reason: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a consumer retries a message before dead-lettering it."""

    max_attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0
    # A database outage is waited out this long (seconds) before its errors count as attempts.
    outage_budget: float = 300.0

    def delay(self, attempt: int) -> float:
        """The pause before attempt number `attempt` + 1."""
        return float(min(self.max_delay, self.first_delay * 2 ** min(attempt - 1, 30)))


def handle_once(consumer: Consumer, delivery: Delivery, uow_factory: UnitOfWorkFactory) -> bool:
    """Run the handler and record the message in one transaction; False if already processed."""
    with uow_factory() as uow:
        # A consumer whose every effect goes through the unit of work may skip the look-up:
        # a duplicate then runs, and its commit fails on the processed_messages key (below),
        # which rolls its effects back. One statement less for every message.
        look_first = not getattr(consumer, "effects_only_in_transaction", False)
        if look_first and uow.processed.seen(consumer.name, delivery.message_id):
            return False
        try:
            # The handler is inside: a duplicate's own writes may meet the first delivery's
            # rows at an autoflush (a unique key of its effects) before the commit does.
            consumer.handle(delivery, uow)
            uow.processed.add(consumer.name, delivery.message_id)
            uow.commit()
        except IntegrityError:
            # A concurrent delivery of the same message committed first: ours rolls back
            # whole (effects included). Anything else breaking a constraint is re-raised.
            uow.rollback()
            if uow.processed.seen(consumer.name, delivery.message_id):
                return False
            raise
    return True


def process_delivery(
    consumer: Consumer,
    delivery: Delivery,
    uow_factory: UnitOfWorkFactory,
    policy: RetryPolicy,
    sleep: Sleep,
) -> Result:
    """Handle a delivery idempotently, retrying in place, and say whether to ack or dead-letter."""
    attempt = delivery.attempts
    if attempt > policy.max_attempts:
        reason = (
            f"delivered {attempt - 1} times without an ack (the consumer crashed or lost its "
            "connection while handling it)"
        )
        return _dead(consumer, delivery, attempt - 1, reason)
    outage_used = 0.0
    while True:
        try:
            done = handle_once(consumer, replace(delivery, attempts=attempt), uow_factory)
            return Result(Outcome.PROCESSED if done else Outcome.DUPLICATE, attempt)
        except MessageInvalid as exc:
            return _dead(consumer, delivery, attempt, f"invalid message: {exc}")
        except DATABASE_UNAVAILABLE as exc:
            if outage_used < policy.outage_budget:
                pause = policy.delay(attempt)
                outage_used += pause
                logger.warning(
                    "consumer %s: database unavailable handling message %s (%s); retrying in %.1fs",
                    consumer.name,
                    delivery.message_id,
                    _describe(exc),
                    pause,
                )
                if not sleep(pause):
                    return Result(Outcome.ABANDONED, attempt)
                continue
            failure: Exception = exc
        except Exception as exc:
            failure = exc
        logger.error(
            "consumer %s failed on message %s (%s, attempt %d of %d): %s",
            consumer.name,
            delivery.message_id,
            delivery.routing_key,
            attempt,
            policy.max_attempts,
            _describe(failure),
            exc_info=failure,
        )
        if attempt >= policy.max_attempts:
            reason = f"handler failed {attempt} times, last with {_describe(failure)}"
            return _dead(consumer, delivery, attempt, reason)
        if not sleep(policy.delay(attempt)):
            return Result(Outcome.ABANDONED, attempt)
        attempt += 1


def _dead(consumer: Consumer, delivery: Delivery, attempts: int, reason: str) -> Result:
    reason = reason[:_REASON_LIMIT]
    logger.error(
        "consumer %s dead-letters message %s (%s): %s",
        consumer.name,
        delivery.message_id,
        delivery.routing_key,
        reason,
    )
    return Result(Outcome.DEAD_LETTERED, attempts, reason)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
