"""Refusals of the studio, each with what the caller needs to show (both saves, the failures)."""

from __future__ import annotations

from typing import Any

from services.domain.errors import Conflict


class DraftConflict(Conflict):
    """Someone saved the draft since this editor loaded it: both versions are shown."""

    def __init__(self, message: str, theirs: dict[str, Any], yours_revision: int) -> None:
        super().__init__(message)
        self.theirs = theirs
        self.yours_revision = yours_revision


class ChecksFailed(Conflict):
    """The draft's checks fail (a problem, or a statutory scenario): it cannot be approved."""

    def __init__(self, message: str, checks: dict[str, Any]) -> None:
        super().__init__(message)
        self.checks = checks


class NotApproved(Conflict):
    """Only an approved draft, unchanged since its approval, is published."""
