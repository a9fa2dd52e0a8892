"""Errors the persistence layer raises on purpose, each naming what went wrong and where."""

from __future__ import annotations


class PersistenceError(Exception):
    """Base class of the errors services/db raises on purpose."""


class ConcurrentUpdate(PersistenceError):
    """An incident changed underneath this unit of work since it was loaded: retry the command."""

    def __init__(self, incident_ids: tuple[str, ...], detail: str) -> None:
        self.incident_ids = incident_ids
        which = ", ".join(incident_ids) if incident_ids else "(unknown)"
        super().__init__(
            f"incident {which} was changed by another command since it was loaded "
            f"(retry the command): {detail}"
        )


class ImmutableRecord(PersistenceError):
    """Something tried to change a record that is written once and never updated."""


class MigrationFailed(PersistenceError):
    """The schema migration ran but left the database inconsistent; it was rolled back."""
