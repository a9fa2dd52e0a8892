"""What handlers are given: a unit-of-work factory, a clock, a calendar, the definition cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.db import SqlAlchemyUnitOfWork
from services.domain.clock import Clock
from services.domain.definitions import DefinitionCache
from workflow.timing import Calendar


@dataclass(frozen=True)
class Dependencies:
    """The ports every handler may use; built by bootstrap(), never at import time."""

    uow_factory: Callable[[], SqlAlchemyUnitOfWork]
    clock: Clock
    calendar: Calendar
    definitions: DefinitionCache
