"""The reports query and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.domain.messages import Message

SMALL_NUMBER = 5  # trust-wide views show counts below this as "<5"
REVIEW_LIMITS = (4, 24, 48, 72)  # hours: the review-time buckets' upper bounds (the last is open)


@dataclass(frozen=True)
class ReviewHours:
    """Hours from disclosure to the initial review done: how many, median, p90, per bucket."""

    done: int = 0
    median: float | None = None
    p90: float | None = None
    buckets: tuple[int, ...] = (0,) * (len(REVIEW_LIMITS) + 1)  # under 4 h, 4-24 h, ... over 72 h


@dataclass(frozen=True)
class Figures:
    """Every number of the dashboard, for the incidents reported in the period."""

    incidents: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    per_month: list[tuple[str, int]] = field(default_factory=list)
    by_route: dict[str, int] = field(default_factory=dict)
    by_criterion: dict[str, int] = field(default_factory=dict)
    review_hours: ReviewHours = ReviewHours()  # disclosure -> initial review done
    reviews_on_time: int = 0  # done by the task's due time (one school day)
    reviews_waiting: int = 0
    overdue_by_step: dict[str, int] = field(default_factory=dict)
    parents_not_informed: int = 0
    parents_not_informed_with_reason: int = 0
    parents_informed: int = 0
    police_outcomes: dict[str, int] = field(default_factory=dict)
    deletion: dict[str, int] = field(default_factory=dict)  # confirmed, not_confirmed, ...
    repeat_children: dict[str, int] = field(default_factory=dict)  # "2", "3", "4+" incidents

    @property
    def overdue_tasks(self) -> int:
        """Ready tasks past their due time."""
        return sum(self.overdue_by_step.values())


@dataclass(frozen=True)
class ReportScope:
    """Which schools and period a report covers, and whether small numbers are hidden."""

    school_ids: tuple[int, ...]
    school_names: tuple[str, ...]
    date_from: date
    date_to: date  # inclusive
    trust_wide: bool  # several schools: counts below 5 are shown as "<5"


@dataclass(frozen=True)
class Report:
    """A report: its scope and its figures."""

    scope: ReportScope
    figures: Figures


@dataclass(frozen=True)
class ReadReport(Message[Report]):
    """The dashboard's figures for one school, or every school the reader may report on."""

    actor_id: int
    date_from: date
    date_to: date
    school_id: int | None = None  # None: all the reader's schools (trust-wide)
