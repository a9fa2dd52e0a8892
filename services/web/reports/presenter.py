"""The dashboard's sections: each a chart, the table of its numbers, and CSV rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from services.domain.reports.figures import CRITERIA
from services.domain.reports.messages import REVIEW_LIMITS, SMALL_NUMBER, Figures, Report
from services.web.reports.charts import Bar, columns, horizontal_bars

ROUTES = {
    "referral": "Immediate referral",
    "in_house": "Handled in school",
    "undecided": "Not decided yet",
}
CRITERION_NAMES = {
    "adult_involved": "An adult is involved",
    "coercion_or_grooming": "Coercion, blackmail or grooming",
    "capacity_to_consent_concern": "Concern about capacity to consent",
    "unusual_or_violent_acts": "Acts unusual for the age, or violence",
    "under_13_sexual_acts": "Sexual acts, a child under 13",
    "immediate_risk_of_harm": "Immediate risk of harm",
    "financial_extortion": "Sextortion",
}
POLICE = {
    "outcome_21": "Outcome 21",
    "no_further_action": "No further action (other)",
    "community_resolution": "Community resolution",
    "caution": "Caution",
    "charged": "Charged",
    "police_not_involved": "Police not involved",
    "not_recorded": "Not recorded",
}
DELETION = {
    "confirmed_by_deadline": "Confirmed by the deadline",
    "not_confirmed": "Not confirmed",
    "deadline_passed": "Deadline passed",
    "waiting": "Waiting",
}
REPEATS = {"2": "In 2 incidents", "3": "In 3 incidents", "4+": "In 4 or more"}
REVIEW_BUCKETS = tuple(  # the database counts each bucket (messages.REVIEW_LIMITS)
    zip(
        (*REVIEW_LIMITS, None),
        ("Under 4 hours", "4 to 24 hours", "1 to 2 days", "2 to 3 days", "More than 3 days"),
        strict=True,
    )
)


@dataclass(frozen=True)
class Row:
    """One line of a section's table (and of the CSV)."""

    label: str
    shown: str


@dataclass(frozen=True)
class Section:
    """One panel of the dashboard."""

    id: str
    title: str
    chart: Markup
    rows: tuple[Row, ...]
    note: str = ""
    label_heading: str = "Category"
    value_heading: str = "Number"


def shown(count: int, suppress: bool) -> str:
    """A count as shown: fewer than five (but not none) is "<5" where small numbers are hidden."""
    return f"<{SMALL_NUMBER}" if suppress and 0 < count < SMALL_NUMBER else str(count)


def hours(value: float | None) -> str:
    """Hours with one decimal, or "none yet" when there is nothing to measure."""
    return "none yet" if value is None else f"{value:.1f} hours"


def sections(report: Report) -> list[Section]:
    """Every section of the dashboard, in the order the page shows them."""
    figures = report.figures
    suppress = report.scope.trust_wide
    counted = _counted_section(suppress)
    return [
        _months(figures, suppress),
        counted("routes", "Routes taken", _named(figures.by_route, ROUTES)),
        counted(
            "criteria",
            "Immediate referral criteria that held",
            [(CRITERION_NAMES[c], figures.by_criterion.get(c, 0)) for c in CRITERIA],
            "An incident may meet more than one criterion.",
        ),
        _reviews(figures, suppress),
        counted(
            "overdue",
            "Overdue tasks by step",
            list(figures.overdue_by_step.items()),
            "Tasks still waiting after their due time, today.",
            label_heading="Step",
        ),
        counted(
            "parents",
            "Parents and carers",
            [
                ("Informed", figures.parents_informed),
                ("Not informed, reason recorded", figures.parents_not_informed_with_reason),
                (
                    "Not informed, no reason recorded",
                    figures.parents_not_informed - figures.parents_not_informed_with_reason,
                ),
            ],
            "A decision not to tell parents needs a recorded reason.",
        ),
        counted(
            "police",
            "Police outcomes",
            _named(figures.police_outcomes, POLICE),
            "Outcome 21: no further action, not in the public interest.",
        ),
        counted(
            "deletion", "Deletion of images (in-house route)", _named(figures.deletion, DELETION)
        ),
        counted(
            "repeat",
            "Children involved in more than one incident",
            _named(figures.repeat_children, REPEATS),
            label_heading="Children",
        ),
    ]


def _named(counts: Mapping[str, int], names: Mapping[str, str]) -> list[tuple[str, int]]:
    known = [(names[key], counts.get(key, 0)) for key in names]
    others = [(key.replace("_", " "), n) for key, n in counts.items() if key not in names]
    return known + others


def _counted_section(suppress: bool) -> Callable[..., Section]:
    def make(
        section_id: str,
        title: str,
        counts: list[tuple[str, int]],
        note: str = "",
        *,
        label_heading: str = "Category",
    ) -> Section:
        bars = [_bar(label, n, suppress) for label, n in counts]
        rows = tuple(Row(bar.label, bar.shown) for bar in bars)
        if not rows:
            rows = (Row("None", "0"),)
        chart = horizontal_bars(f"chart-{section_id}", title, bars)
        return Section(section_id, title, chart, rows, note, label_heading)

    return make


def _bar(label: str, count: int, suppress: bool) -> Bar:
    text = shown(count, suppress)
    return Bar(label, count, text, suppressed=text.startswith("<"))


def _months(figures: Figures, suppress: bool) -> Section:
    bars = []
    for month, count in figures.per_month:
        day = date.fromisoformat(f"{month}-01")
        bar = _bar(day.strftime("%b %y"), count, suppress)
        bars.append((day.strftime("%B %Y"), bar))
    chart = columns("chart-months", "Incidents reported per month", [b for _, b in bars])
    rows = tuple(Row(label, bar.shown) for label, bar in bars) or (Row("None", "0"),)
    total = shown(figures.incidents, suppress)
    open_now = shown(figures.by_status.get("open", 0), suppress)
    note = f"{total} incidents in the period; {open_now} still open."
    return Section("months", "Incidents reported per month", chart, rows, note, "Month")


def _reviews(figures: Figures, suppress: bool) -> Section:
    reviewed = figures.review_hours
    labels = [label for _, label in REVIEW_BUCKETS]
    bars = [_bar(label, n, suppress) for label, n in zip(labels, reviewed.buckets, strict=True)]
    rows = (
        Row("Median", hours(reviewed.median)),
        Row("90th percentile", hours(reviewed.p90)),
        Row(
            "Reviewed within one school day",
            f"{shown(figures.reviews_on_time, suppress)} of {shown(reviewed.done, suppress)}",
        ),
        Row("Still waiting for review", shown(figures.reviews_waiting, suppress)),
        *(Row(bar.label, bar.shown) for bar in bars),
    )
    title = "Time from disclosure to the DSL's initial review"
    note = "The guidance expects the initial review within one school day of the disclosure."
    chart = horizontal_bars("chart-reviews", title, bars)
    return Section("reviews", title, chart, rows, note, "Measure", "Value")


def csv_rows(report: Report) -> list[list[str]]:
    """The dashboard's numbers as CSV rows: section, label, value (with a header)."""
    rows = [["section", "label", "value"]]
    for section in sections(report):
        rows += [[section.title, row.label, row.shown] for row in section.rows]
    return rows
