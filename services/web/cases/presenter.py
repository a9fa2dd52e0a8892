"""The incidents list in words: what the page, the CSV and the API show for each row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forms.answers import date_time
from services.db.repositories.cases import CaseRow
from services.domain.history_queries import CasePage

CSV_HEADER = (
    "Reference",
    "Status",
    "Reported",
    "Closed",
    "Route",
    "Criteria that held",
    "Classification",
    "Process version",
    "Overdue",
    "Open tasks",
)


@dataclass(frozen=True)
class CaseLine:
    """One row of the incidents list, in words."""

    id: str
    reference: str
    status: str
    reported: str
    closed: str
    route: str
    criteria: tuple[str, ...]
    classification: str
    process_version: int
    overdue: bool
    open_tasks: int


def route_in_words(row: CaseRow) -> str:
    """The route the process took so far, as a sentence fragment."""
    if "route" in row.withheld:  # need-to-know: the steps deciding it are not theirs
        return "Not shown"
    if row.immediate_referral:
        return "Immediate referral"
    if row.route == "referral":
        return "Referred after the risk assessment"
    if row.route == "in_house":
        return "Handled in school"
    if row.immediate_referral is False:
        return "No immediate referral: assessing risk"
    return "Not decided yet"


def case_lines(page: CasePage) -> list[CaseLine]:
    """Every row of the page in words."""
    return [_line(row, page) for row in page.rows]


def _line(row: CaseRow, page: CasePage) -> CaseLine:
    return CaseLine(
        id=row.id,
        reference=row.reference,
        status="Closed" if row.status == "closed" else "Open",
        reported=date_time(row.created_at),
        closed=date_time(row.closed_at),
        route=route_in_words(row),
        criteria=tuple(
            page.criteria_words.get(c, c.replace("_", " ")) for c in row.referral_criteria
        ),
        classification=page.classification_words.get(row.classification or "", "")
        if row.classification
        else "",
        process_version=row.process_version,
        overdue=row.overdue,
        open_tasks=row.open_tasks,
    )


def csv_rows(page: CasePage) -> list[list[Any]]:
    """The page as CSV rows (CSV_HEADER's order)."""
    return [
        [
            line.reference,
            line.status,
            line.reported,
            line.closed,
            line.route,
            "; ".join(line.criteria),
            line.classification,
            line.process_version,
            line.overdue,
            line.open_tasks,
        ]
        for line in case_lines(page)
    ]


def case_json(row: CaseRow, page: CasePage) -> dict[str, Any]:
    """One row as the API's JSON: ids and values, with their words beside them."""
    line = _line(row, page)
    return {
        "id": row.id,
        "reference": row.reference,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "route": _route_id(row),
        "route_words": line.route,
        "immediate_referral": row.immediate_referral,
        "referral_criteria": [
            {"id": c, "label": w} for c, w in zip(row.referral_criteria, line.criteria, strict=True)
        ],
        "classification": row.classification,
        "classification_words": line.classification or None,
        "process_version": row.process_version,
        "definition_version_id": row.definition_version_id,
        "overdue": row.overdue,
        "open_tasks": row.open_tasks,
    }


def _route_id(row: CaseRow) -> str | None:
    if "route" in row.withheld:
        return None  # not theirs to read (step_access.FACT_SOURCES)
    if row.immediate_referral:
        return "immediate"
    if row.route in ("referral", "in_house"):
        return row.route
    return "undecided"
