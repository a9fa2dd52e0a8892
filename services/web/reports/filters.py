"""The dashboard's filters (period and school) read from the query string, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.domain.children.access import REPORT_ROLES
from services.web.auth.identity import SignedInUser

MAX_DAYS = 366 * 5


@dataclass(frozen=True)
class Filters:
    """What the reader asked for, and what was wrong with it (per field)."""

    date_from: date
    date_to: date
    school_id: int | None  # None: all the reader's schools
    errors: dict[str, str] = field(default_factory=dict)


def report_schools(user: SignedInUser) -> list[tuple[int, str]]:
    """The schools whose reports this person may read."""
    return [(s.school_id, s.school_name) for s in user.schools if REPORT_ROLES & set(s.roles)]


def read_filters(args: Mapping[str, str], user: SignedInUser, today: date) -> Filters:
    """The filters in the query string, defaulting to the last twelve months of every school."""
    errors: dict[str, str] = {}
    date_to = _date(args, "to", today, errors)
    date_from = _date(args, "from", date_to - timedelta(days=364), errors)
    if not errors and date_to < date_from:
        errors["from"] = "The start of the period must be on or before its end"
    if not errors and (date_to - date_from).days > MAX_DAYS:
        errors["from"] = "A report covers at most five years"
    school_id: int | None = None
    raw = (args.get("school") or "all").strip()
    allowed = {school_id for school_id, _ in report_schools(user)}
    if raw != "all":
        if not raw.isdigit() or int(raw) not in allowed:
            errors["school"] = "Choose one of your schools, or all of them"
        else:
            school_id = int(raw)
    if len(allowed) == 1 and school_id is None and "school" not in errors:
        school_id = next(iter(allowed))
    return Filters(date_from, date_to, school_id, errors)


def _date(args: Mapping[str, str], name: str, default: date, errors: dict[str, str]) -> date:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Enter a real date as YYYY-MM-DD, for example 2026-09-01"
        return default
