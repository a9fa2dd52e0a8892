"""The incidents list page: find any incident one may see, filter, sort, page, download."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template, request, url_for
from werkzeug.wrappers import Response

from services.domain.history_queries import CasePage, ListCases, fingerprint, list_incidents
from services.domain.step_access import RECORD_READER_ROLES
from services.web.auth.identity import SchoolRoles, SignedInUser, current_user, login_required
from services.web.cases.blueprint import bp
from services.web.cases.exports import csv_response, json_response
from services.web.cases.filters import ROUTE_WORDS, SORT_WORDS, parse_filter
from services.web.cases.presenter import CSV_HEADER, case_json, case_lines, csv_rows
from services.web.extensions import runtime

PAGE_SIZE = 25
MAX_PAGE = 4_000
EXPORT_LIMIT = 10_000
FILTER_KEYS = (
    "q",
    "status",
    "route",
    "criterion",
    "overdue",
    "assigned",
    "from",
    "to",
    "version",
    "sort",
)
Page = Response | tuple[str, int] | str


def text_key() -> bytes:
    """The key search words are hashed with before they are audited (the app's secret)."""
    secret = current_app.secret_key
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret or b"")


def run_list(query: ListCases) -> CasePage:
    """Run the list query with the app's dependencies."""
    return list_incidents(query, runtime().bus.dependencies)


@bp.get("/incidents")
@login_required
def index() -> Page:
    """The incidents of one school the person may see, with search, filters and paging."""
    user = _user()
    school = _chosen_school(user)
    if school is None:
        return render_template("cases/index.html", school=None, schools=user.schools)
    parsed = parse_filter(request.args, user.id)
    export = request.args.get("format")
    if export not in (None, "", "csv", "json"):
        parsed.errors.setdefault("format", []).append("must be csv or json")
    if parsed.errors:
        return _page(user, school, None, parsed.errors, 1), 422
    text_hash = fingerprint(text_key(), parsed.case.text) if parsed.case.text else None
    if export in ("csv", "json"):
        page = run_list(
            ListCases(
                user.id,
                school.school_id,
                parsed.case,
                EXPORT_LIMIT,
                0,
                text_hash,
                "export",
                {"format": export},
            )
        )
        name = f"incidents-{school.school_id}.{export}"
        if export == "csv":
            return csv_response(CSV_HEADER, csv_rows(page), name)
        return json_response({"incidents": [case_json(r, page) for r in page.rows]}, name)
    number = min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)
    query = ListCases(
        user.id, school.school_id, parsed.case, PAGE_SIZE + 1, (number - 1) * PAGE_SIZE, text_hash
    )
    return _page(user, school, run_list(query), {}, number)


def _page(
    user: SignedInUser,
    school: SchoolRoles,
    page: CasePage | None,
    errors: dict[str, list[str]],
    number: int,
) -> str:
    lines = case_lines(page)[:PAGE_SIZE] if page is not None else []
    more = page is not None and len(page.rows) > PAGE_SIZE
    kept = {k: request.args[k] for k in FILTER_KEYS if request.args.get(k)}
    return render_template(
        "cases/index.html",
        school=school,
        schools=user.schools,
        lines=lines,
        errors=errors,
        args=request.args,
        versions=page.versions if page is not None else [],
        criteria=sorted((page.criteria_words if page is not None else {}).items()),
        route_words=ROUTE_WORDS,
        sort_words=SORT_WORDS,
        page_number=number,
        previous_url=_url(school, {**kept, "page": str(number - 1)}) if number > 1 else None,
        next_url=_url(school, {**kept, "page": str(number + 1)}) if more else None,
        csv_url=_url(school, {**kept, "format": "csv"}),
        json_url=_url(school, {**kept, "format": "json"}),
        filtered=bool(kept),
        # Route, criteria and overdue are the record's (need-to-know): shown to its readers.
        reads_records=bool(RECORD_READER_ROLES.intersection(school.roles)),
    )


def _url(school: SchoolRoles, values: dict[str, str]) -> str:
    arguments: dict[str, Any] = {"school": school.school_id, **values}
    return url_for("cases.index", **arguments)


def _chosen_school(user: SignedInUser) -> SchoolRoles | None:
    wanted = request.args.get("school", type=int)
    if wanted is not None:
        found = next((s for s in user.schools if s.school_id == wanted), None)
        if found is None:
            abort(404)
        return found
    return user.schools[0] if user.schools else None


def _user() -> SignedInUser:
    user = current_user()
    assert user is not None  # login_required let the request through
    return user
