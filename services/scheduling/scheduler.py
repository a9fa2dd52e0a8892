"""The timer scheduler: claims incidents whose next timer is due and fires them through the bus.

Each incident is claimed and fired in one transaction. On PostgreSQL the claim is
`SELECT ... FOR UPDATE SKIP LOCKED` and the FireDueTimers handler runs inside that transaction
(in a savepoint, on the claiming connection), so two schedulers never work on one incident at
once. SQLite has no row locks: the claim is a plain read and the handler commits on its own;
one scheduler is the supported topology there, and a second would still fire each timer once,
because the incident's version check turns the loser's write into ConcurrentUpdate.

An incident whose timers raise (a diagram error, an unreadable state) does not hold up the
others: the failure goes to the log and to the audit trail ('incident.timer_failed'), and the
incident is tried again later, waiting twice as long after each failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.db import ConcurrentUpdate, SqlAlchemyUnitOfWork
from services.db.models import AuditEvent
from services.db.repositories import IncidentRepository
from services.domain.bus import Handler, MessageBus, default_handlers
from services.domain.commands import FireDueTimers
from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound
from services.domain.handlers.common import incident_target
from services.domain.handlers.transfers import escalate_overdue_transfers
from services.domain.messages import Message

log = logging.getLogger(__name__)
UowFactory = Callable[[], SqlAlchemyUnitOfWork]

TIMER_FAILED = "incident.timer_failed"
MAX_RETRY_DELAY = timedelta(hours=6)
_ERROR_CHARACTERS = 2000


@dataclass(frozen=True)
class SchedulerOptions:
    """How often to look for due timers, how many to fire per round, how long to back off."""

    poll_seconds: float = 5.0
    batch_size: int = 50
    retry_delay: timedelta = timedelta(minutes=1)  # after a first failure; doubles each time

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0 or self.batch_size < 1 or self.retry_delay <= timedelta(0):
            raise ValueError(f"scheduler options out of range: {self}")


@dataclass
class Round:
    """What one round of the scheduler did, incident ids by result."""

    now: datetime
    fired: list[str] = field(default_factory=list)  # timers fired (or nothing was due after all)
    failed: list[str] = field(default_factory=list)  # their timers raised: backed off, audited
    skipped: list[str] = field(default_factory=list)  # changed or gone meanwhile: next round

    @property
    def attempted(self) -> int:
        """How many incidents this round claimed."""
        return len(self.fired) + len(self.failed) + len(self.skipped)


class Scheduler:
    """Fires due incident timers through the FireDueTimers command, exactly once each."""

    def __init__(
        self,
        engine: Engine,
        dependencies: Dependencies,
        options: SchedulerOptions | None = None,
    ) -> None:
        self._engine = engine
        self._dependencies = dependencies
        self._handlers: dict[type[Message[Any]], Handler] = default_handlers()
        self.options = options or SchedulerOptions()
        self._row_locks = engine.dialect.name == "postgresql"

    def run_once(self) -> Round:
        """Claim and fire due incidents, each at most once, up to the batch size."""
        result = Round(self._dependencies.clock.now())
        tried: set[str] = set()
        while len(tried) < self.options.batch_size:
            with self._claim(result.now, tried) as claimed:
                if claimed is None:
                    break
                incident_id, uow_factory = claimed
                tried.add(incident_id)
                self._fire(incident_id, uow_factory, result)
        # File transfers without receipt after five school days (issue 11): escalated once each.
        escalate_overdue_transfers(self._dependencies, result.now)
        if result.attempted:
            log.info(
                "timers: %d fired, %d failed, %d skipped",
                len(result.fired),
                len(result.failed),
                len(result.skipped),
            )
        return result

    def seconds_until_next_round(self, last: Round) -> float:
        """How long to sleep: until the earliest timer falls due, at most the poll interval."""
        if last.attempted >= self.options.batch_size:
            return 0.0  # a backlog: keep going
        with self._dependencies.uow_factory() as uow:
            earliest = uow.incidents.earliest_timer()
        if earliest is None:
            return self.options.poll_seconds
        wait = (earliest - self._dependencies.clock.now()).total_seconds()
        if wait <= 0:
            # Due, yet not fired this round: another scheduler holds it, or it was just tried.
            return self.options.poll_seconds
        return min(wait, self.options.poll_seconds)

    def run(self, stop: threading.Event) -> None:
        """Run rounds until `stop` is set; errors are logged and retried after a poll interval."""
        log.info("scheduler started (poll every %ss)", self.options.poll_seconds)
        while not stop.is_set():
            try:
                delay = self.seconds_until_next_round(self.run_once())
            except Exception:
                # A database outage or a bug here must not end the loop silently, nor spin.
                log.exception("scheduler round failed; trying again in a poll interval")
                delay = self.options.poll_seconds
            stop.wait(delay)
        log.info("scheduler stopped")

    @contextmanager
    def _claim(self, now: datetime, tried: set[str]) -> Iterator[tuple[str, UowFactory] | None]:
        """Claim the most overdue incident not tried yet; yield it with where to write."""
        if not self._row_locks:
            with self._dependencies.uow_factory() as uow:
                found = uow.incidents.claim_due(now, 1, tried)
            yield (found[0], self._dependencies.uow_factory) if found else None
            return
        with self._engine.connect() as connection, connection.begin():
            # The claim's row lock belongs to this outer transaction: it lasts until the
            # commit at the end of the block, whatever the savepoints inside it do.
            with Session(bind=connection) as claiming:
                found = IncidentRepository(claiming).claim_due(now, 1, tried)
            if not found:
                yield None
                return
            in_claim = sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            yield found[0], lambda: SqlAlchemyUnitOfWork(in_claim)

    def _fire(self, incident_id: str, uow_factory: UowFactory, result: Round) -> None:
        dependencies = replace(self._dependencies, uow_factory=uow_factory)
        try:
            MessageBus(self._handlers, dependencies).handle(FireDueTimers(incident_id, result.now))
        except (ConcurrentUpdate, NotFound) as error:
            # Someone changed (or deleted) the incident since the claim: nothing failed, and
            # a timer still due is picked up next round.
            log.info("timers of incident %s skipped this round: %s", incident_id, error)
            result.skipped.append(incident_id)
        except (OperationalError, InterfaceError):
            raise  # the database is unreachable or busy, not the incident's fault: end the round
        except Exception as error:
            log.exception("timers of incident %s failed", incident_id)
            record_failure(dependencies, incident_id, error, result.now, self.options.retry_delay)
            result.failed.append(incident_id)
        else:
            result.fired.append(incident_id)


def record_failure(
    dependencies: Dependencies,
    incident_id: str,
    error: Exception,
    now: datetime,
    first_delay: timedelta,
) -> datetime | None:
    """Audit a timer failure and move the incident's next attempt later; return when."""
    with dependencies.uow_factory() as uow:
        incident = uow.incidents.get_for_update(incident_id)
        if incident is None:
            return None
        attempt = _previous_attempt(uow, incident_id, incident.next_timer_at) + 1
        doublings = min(attempt - 1, 20)  # 2**20 minutes is far past the cap already
        retry_at = now + min(first_delay * (1 << doublings), MAX_RETRY_DELAY)
        uow.audit.add(
            TIMER_FAILED,
            incident_target(incident_id),
            actor_id=None,
            school_id=incident.school_id,
            incident_id=incident_id,
            old_values={"next_timer_at": _iso(incident.next_timer_at)},
            new_values={
                "next_timer_at": retry_at.isoformat(),
                "attempt": attempt,
                "error": f"{type(error).__name__}: {error}"[:_ERROR_CHARACTERS],
            },
            occurred_at=now,
        )
        incident.next_timer_at = retry_at
        uow.commit()
        return retry_at


def _previous_attempt(
    uow: SqlAlchemyUnitOfWork, incident_id: str, next_timer_at: datetime | None
) -> int:
    # The attempts go on counting while the incident waits for the retry its last failure
    # set; anything else (its timers moved on) starts again from one.
    query = (
        select(AuditEvent.new_values)
        .where(AuditEvent.incident_id == incident_id, AuditEvent.action == TIMER_FAILED)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    last = uow.session.scalar(query)
    if not last or next_timer_at is None or last.get("next_timer_at") != next_timer_at.isoformat():
        return 0
    return int(last.get("attempt", 0))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
