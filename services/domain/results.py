"""What command handlers return: the events they recorded and the ids the caller needs next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from services.domain.events import Event

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Outcome:
    """The result of a command on an incident, after its commit."""

    events: tuple[Event, ...] = ()
    incident_id: str | None = None
    incident_version: int | None = None  # pass as expected_incident_version next time
    reference: str | None = None  # the incident's human reference, e.g. "DS-2026-0001"

    def of_type(self, kind: type[E]) -> list[E]:
        """The recorded events of one type, in order."""
        return [event for event in self.events if isinstance(event, kind)]


@dataclass(frozen=True)
class Deployed:
    """The result of deploying definitions: the version now in use and whether it is new."""

    process_id: str
    version: int
    version_id: int
    digest: str
    created: bool  # False when these exact files were deployed before (same digest)
