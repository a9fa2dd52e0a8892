"""Read the incidents list's filters from a query string (pages and API alike), per field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.db.repositories.cases import MAX_QUERY_CHARS, ROUTES, SORTS, CaseFilter

UK = ZoneInfo("Europe/London")
STATUSES = ("open", "closed")
ROUTE_WORDS = {
    "immediate": "Immediate referral",
    "referral": "Referred after the risk assessment",
    "in_house": "Handled in school",
    "undecided": "Not decided yet",
}
SORT_WORDS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "reference": "Reference",
    "closed": "Recently closed (closed ones only)",
}
_CRITERION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class ParsedFilter:
    """The filter read from a request, and what was wrong with it (field -> messages)."""

    case: CaseFilter
    errors: dict[str, list[str]]


def parse_filter(args: Mapping[str, str], user_id: int) -> ParsedFilter:
    """Build a CaseFilter from query arguments; each bad value is named with the reason."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    status = _blank_none(args.get("status"))
    if status is not None and status not in STATUSES:
        bad("status", f"must be one of: {', '.join(STATUSES)}")
        status = None
    text = _blank_none(args.get("q"))
    if text is not None and (len(text) > MAX_QUERY_CHARS or "\x00" in text):
        bad("q", f"must be at most {MAX_QUERY_CHARS} characters of text")
        text = None
    route, criterion = _route(args, bad)
    overdue = _yes_no(args.get("overdue"), "overdue", bad)
    assigned = _yes_no(args.get("assigned"), "assigned", bad)
    start = _day(args.get("from"), "from", bad)
    end = _day(args.get("to"), "to", bad)
    if start is not None and end is not None and end < start:
        bad("to", "must be the same day as 'from' or later")
    version = _blank_none(args.get("version"))
    version_id = None
    if version is not None:
        if version.isdigit() and 0 < int(version) < 2**31:
            version_id = int(version)
        else:
            bad("version", "must be a process version id (a whole number)")
    sort = _blank_none(args.get("sort")) or "newest"
    if sort not in SORTS:
        bad("sort", f"must be one of: {', '.join(SORTS)}")
        sort = "newest"
    case = CaseFilter(
        status=status,
        text=text,
        route=route,
        criterion=criterion,
        overdue=overdue,
        assigned_to=user_id if assigned else None,
        created_from=_start_of(start) if start else None,
        created_to=_start_of(end + timedelta(days=1)) if end else None,
        definition_version_id=version_id,
        sort=sort,
    )
    return ParsedFilter(case, errors)


def _blank_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _route(args: Mapping[str, str], bad) -> tuple[str | None, str | None]:  # type: ignore[no-untyped-def]
    route = _blank_none(args.get("route"))
    criterion = _blank_none(args.get("criterion"))
    if route is not None and ":" in route:  # "immediate:adult_involved" is one filter
        route, _, criterion = route.partition(":")
    if route is not None and route not in ROUTES:
        bad("route", f"must be one of: {', '.join(ROUTES)}")
        route = None
    if criterion is not None and (len(criterion) > 100 or set(criterion) - _CRITERION_CHARS):
        bad("criterion", "must be a criterion id such as adult_involved")
        criterion = None
    if criterion is not None and route is None:
        route = "immediate"
    return route, criterion


def _yes_no(value: str | None, name: str, bad) -> bool | None:  # type: ignore[no-untyped-def]
    value = _blank_none(value)
    if value is None:
        return None
    if value.lower() in ("true", "yes", "1", "on"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    bad(name, "must be true or false")
    return None


def _day(value: str | None, name: str, bad) -> date | None:  # type: ignore[no-untyped-def]
    value = _blank_none(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        bad(name, "must be a date written as YYYY-MM-DD, e.g. 2026-09-07")
        return None


def _start_of(day: date) -> datetime:
    # Days are school days in England: midnight UK time.
    return datetime.combine(day, time(0, 0), tzinfo=UK).astimezone(UTC)
