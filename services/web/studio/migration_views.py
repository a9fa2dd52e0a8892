"""Moving running incidents to a newer version: the studio page and the JSON API.

Routes ride on the studio's page blueprint and on the API blueprint (imported by
services.web.studio before the app registers either), so they share their checks and errors.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify, render_template, request

from services.domain.studio import migration, versions
from services.web.api.blueprint import bp as api_bp
from services.web.api.context import api_user
from services.web.api.errors import ApiError, error_response
from services.web.api.openapi import Operation, describe
from services.web.api.parsing import Key, check_query, json_body, optional_query_int
from services.web.auth.identity import current_user, login_required
from services.web.studio.context import studio
from services.web.studio.views import bp

MAX_VERSION = 2**31 - 1


class _BodySpec(dict[str, Key]):
    """The keys json_body checks, plus those whose kinds it has none for (array, boolean)."""

    def __init__(self, keys: dict[str, Key], checked_here: frozenset[str]) -> None:
        super().__init__(keys)
        self.checked_here = checked_here

    def __contains__(self, key: object) -> bool:
        return key in self.checked_here or super().__contains__(key)


MIGRATE_BODY = _BodySpec(
    {"to": Key("integer", required=True, low=1), "expected_versions": Key("object")},
    frozenset({"incident_ids", "all"}),
)


# --- pages ----------------------------------------------------------------------------------


@bp.get("/processes/<key:process_key>/versions/<int:number>/migration")
@login_required
def migration_page(process_key: str, number: int) -> str:
    """Which open incidents can move to a newer version, and what changes for each."""
    user = current_user()
    if user is None:
        abort(401)
    to = request.args.get("to", type=int)
    if to is None:
        to = _newest(process_key, number, user.id)
    if to is None:
        return render_template(
            "studio/migration.html", key=process_key, number=number, preview=None
        )
    found = migration.preview(studio(), user.id, process_key, number, to)
    return render_template("studio/migration.html", key=process_key, number=number, preview=found)


@bp.post("/processes/<key:process_key>/versions/<int:number>/migration")
@login_required
def migrate_page(process_key: str, number: int) -> tuple[str, int]:
    """Move one incident, or every one the page showed could move, to the version chosen."""
    user = current_user()
    if user is None:
        abort(401)
    to = request.form.get("to", type=int)
    if to is None:
        abort(400)
    expected: dict[str, int] = {}
    for name, value in request.form.items():
        if name.startswith("version-") and value.isdigit():
            expected[name.removeprefix("version-")] = int(value)
    ids = request.form.getlist("incident_id")  # the page names those it previewed
    result = migration.migrate(studio(), user.id, process_key, number, to, ids, expected)
    status = 409 if result["refused"] and not result["migrated"] else 200
    page = render_template(
        "studio/migration_result.html", key=process_key, number=number, result=result
    )
    return page, status


def _newest(process_key: str, number: int, user_id: int) -> int | None:
    # The page opens on the newest version; the preview lists the others to choose from.
    listing = versions.list_processes(studio(), user_id)
    process = next((p for p in listing if p["process_key"] == process_key), None)
    if process is None or all(v["version"] != number for v in process["versions"]):
        abort(404)
    newer = [v["version"] for v in process["versions"] if v["version"] > number]
    return max(newer) if newer else None


# --- API ------------------------------------------------------------------------------------


@api_bp.get("/processes/<key:process_key>/versions/<int:number>/migration")
def migration_preview(process_key: str, number: int) -> Response:
    """Per open incident of the version: what moving it to `to` changes, or why it cannot."""
    check_query(request.args, frozenset({"to"}))
    to = optional_query_int(request.args, "to", low=1, high=MAX_VERSION)
    if to is None:
        message = "query parameter to is required"
        raise ApiError(422, "invalid_request", message, {"to": ["is required"]})
    return jsonify(migration.preview(studio(), api_user().id, process_key, number, to))


@api_bp.post("/processes/<key:process_key>/versions/<int:number>/migration")
def migrate_incidents(process_key: str, number: int) -> Response:
    """Move the named incidents (or all that can) to version `to`, each in its own commit."""
    body = json_body(request, MIGRATE_BODY)
    ids, expected = _targets(body)
    result = migration.migrate(
        studio(), api_user().id, process_key, number, body["to"], ids, expected
    )
    if result["refused"] and not result["migrated"]:
        reasons = "; ".join(r["reason"] for r in result["refused"])
        return error_response(409, "not_migrated", reasons, extra=result)
    return jsonify(result)


def _targets(body: dict[str, Any]) -> tuple[list[str] | None, dict[str, int]]:
    problems: dict[str, list[str]] = {}
    ids = body.get("incident_ids")
    every = body.get("all")
    if every is not None and every is not True:
        problems["all"] = ["must be true when given"]
    if ids is not None and (
        not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids)
    ):
        problems["incident_ids"] = ["must be a list of incident ids"]
    if (ids is None) == (every is None):
        problems["incident_ids"] = ['give either "incident_ids" or "all": true']
    expected = body.get("expected_versions") or {}
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in expected.values()):
        problems["expected_versions"] = ["must map incident ids to whole numbers"]
    if problems:
        names = ", ".join(sorted(problems))
        raise ApiError(422, "invalid_request", f"the request body is not valid: {names}", problems)
    return (None if every else list(ids or [])), dict(expected)


_PREVIEW_INCIDENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "reference": {"type": "string"},
        "school": {"type": "string"},
        "incident_version": {
            "type": "integer",
            "description": "Send it back in expected_versions: a change since is refused.",
        },
        "migratable": {"type": "boolean"},
        "may_migrate": {"type": "boolean", "description": "The caller may move it."},
        "blocked": {"type": "array", "items": {"type": "string"}},
        "tasks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "bpmn_id": {"type": "string"},
                    "name": {"type": "string"},
                    "state": {"enum": ["ready", "waiting", "started"]},
                    "outcome": {"enum": ["kept", "moved", "blocked"]},
                    "changes": {"type": "array", "items": {"type": "string"}},
                    "lane_before": {"type": "string"},
                    "lane_after": {"type": "string"},
                },
            },
        },
        "answers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "bpmn_id": {"type": "string"},
                    "name": {"type": "string"},
                    "answers": {"type": "integer"},
                },
            },
            "description": "Steps answered so far and how many answers carry over (no values).",
        },
    },
}

describe(
    {
        "api.migration_preview": Operation(
            summary="Preview moving incidents to a newer version",
            description="Per open incident of version `number`: each ready or waiting task "
            "kept, moved (another lane) or blocked (it no longer exists or changed kind), the "
            "reasons an incident cannot move, and the answers carried over. No personal "
            "details. Process admins and auditors.",
            success=200,
            response="StudioMigrationPreview",
            parameters=(
                {
                    "name": "to",
                    "in": "query",
                    "required": True,
                    "description": "The newer version of the same process.",
                    "schema": {"type": "integer"},
                },
            ),
            errors=(401, 403, 404, 422),
        ),
        "api.migrate_incidents": Operation(
            summary="Move incidents to a newer version",
            description="Move the named incidents, or all that can, each in its own "
            "transaction, audited (incident.migrated). Only a process admin of each "
            "incident's school (403 otherwise). An incident that changed since the preview "
            "(expected_versions) or cannot move is listed under refused with the reason, and "
            "nothing of it is written; 409 (code not_migrated) when none moved.",
            success=200,
            response="StudioMigrationResult",
            request="StudioMigrationRequest",
            errors=(401, 403, 404, 409, 400, 413, 415, 422),
        ),
    },
    {
        "StudioMigrationPreview": {
            "type": "object",
            "properties": {
                "process_key": {"type": "string"},
                "from_version": {"type": "integer"},
                "to_version": {"type": "integer"},
                "migratable": {"type": "integer"},
                "incidents": {
                    "type": "array",
                    "items": _PREVIEW_INCIDENT,
                    "description": "Open incidents of the schools where the caller is a "
                    "process admin or auditor, less those they are excluded from (at most "
                    "200); the read is audited per school.",
                },
                "open_not_shown": {
                    "type": "integer",
                    "description": "Open incidents of other schools, or that the caller is "
                    "excluded from: counted, not listed.",
                },
            },
        },
        "StudioMigrationRequest": {
            "type": "object",
            "properties": {
                "to": {"type": "integer"},
                "incident_ids": {"type": "array", "items": {"type": "string"}},
                "all": {"const": True},
                "expected_versions": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "Incident id -> the incident_version its preview showed.",
                },
            },
            "required": ["to"],
        },
        "StudioMigrationResult": {
            "type": "object",
            "properties": {
                "from_version": {"type": "integer"},
                "to_version": {"type": "integer"},
                "migrated": {"type": "array", "items": {"type": "object"}},
                "refused": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "reference": {"type": "string"},
                            "reason": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
)
