"""The OpenAPI description of the studio's API routes (added to the API's document)."""

from __future__ import annotations

from services.web.api.openapi import Operation, describe

_BODY = (400, 413, 415, 422)
_PROBLEM = {
    "type": "object",
    "properties": {
        "file": {"type": "string"},
        "line": {"type": ["integer", "null"]},
        "element_id": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["file", "line", "element_id", "message"],
}
_SCENARIO = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "statutory": {"type": "boolean"},
        "passed": {"type": "boolean"},
        "expected": {"type": "string", "description": "The route expected, in words."},
        "taken": {"type": "string", "description": "The route the draft took."},
        "message": {"type": "string"},
        "element_ids": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "statutory", "passed", "expected", "taken"],
}
_FILES = {
    "type": "object",
    "description": 'File name ("x.bpmn", "y.dmn") -> its XML text.',
    "additionalProperties": {"type": "string"},
}

SCHEMAS = {
    "StudioProcesses": {
        "type": "object",
        "properties": {"processes": {"type": "array", "items": {"type": "object"}}},
        "description": "Each process: versions (number, author, approver, note, schools, "
        "running incidents), drafts, and the version each school runs.",
    },
    "StudioDraftRequest": {
        "type": "object",
        "properties": {"files": _FILES, "note": {"type": "string"}},
        "required": ["files"],
    },
    "StudioSaveRequest": {
        "type": "object",
        "properties": {
            "files": _FILES,
            "revision": {"type": "integer", "description": "The revision these edits are on."},
            "note": {"type": "string"},
        },
        "required": ["files", "revision"],
    },
    "StudioApproveRequest": {
        "type": "object",
        "properties": {"revision": {"type": "integer"}},
    },
    "StudioPublishRequest": {"type": "object", "properties": {"note": {"type": "string"}}},
    "StudioDraft": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "process_key": {"type": "string"},
            "revision": {"type": "integer"},
            "state": {"enum": ["draft", "approved", "published", "discarded"]},
            "passed": {"type": "boolean"},
            "problems": {"type": "array", "items": _PROBLEM},
            "scenarios": {"type": "array", "items": _SCENARIO},
            "diff": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["id", "problems", "scenarios"],
    },
    "StudioPublished": {
        "type": "object",
        "properties": {"version": {"type": "integer"}},
        "required": ["version"],
    },
    "StudioVersionChoiceRequest": {
        "type": "object",
        "properties": {"process_key": {"type": "string"}, "version": {"type": "integer"}},
        "required": ["process_key", "version"],
    },
    "StudioScenarios": {
        "type": "object",
        "properties": {
            "process_key": {"type": "string"},
            "statutory": {"type": "array", "items": {"type": "object"}},
            "process": {"type": "array", "items": {"type": "object"}},
            "school": {"type": "array", "items": {"$ref": "#/components/schemas/StudioScenario"}},
        },
        "description": "The statutory scenarios (never editable), the process's own "
        "(bpmn/scenarios/) and those schools added; every draft of the process runs them all.",
    },
    "StudioScenario": {
        "type": "object",
        "properties": {
            "school_id": {"type": "integer"},
            "school": {"type": "string"},
            "name": {"type": "string"},
            "runs_as": {"type": "string", "description": "Its name in a draft's scenarios."},
            "title": {"type": "string"},
            "expected": {"type": "string"},
            "content": {"type": "string", "description": "The scenario file's JSON text."},
            "statutory": {"type": "boolean", "enum": [False]},
            "may_change": {"type": "boolean"},
        },
    },
    "StudioScenarioRequest": {
        "type": "object",
        "properties": {
            "content": {
                "type": "string",
                "description": "The scenario file's JSON text, in the format of "
                "bpmn/scenarios/*.json (at most 64 KiB).",
            }
        },
        "required": ["content"],
    },
    "StudioScenarioRemoved": {
        "type": "object",
        "properties": {
            "school_id": {"type": "integer"},
            "process_key": {"type": "string"},
            "removed": {"type": "string"},
        },
    },
    "StudioVersionChoice": {
        "type": "object",
        "properties": {
            "school_id": {"type": "integer"},
            "process_key": {"type": "string"},
            "version": {"type": "integer"},
        },
    },
}

OPERATIONS = {
    "api.list_processes": Operation(
        summary="List processes",
        description="Processes, their versions and drafts, and the version each school runs "
        "(process admins and auditors).",
        success=200,
        response="StudioProcesses",
        errors=(401, 403),
    ),
    "api.create_draft": Operation(
        summary="Create a draft",
        description="Upload BPMN/DMN files as a draft of the process; it is checked at once "
        "(lint, the studio's rules, statutory and local scenarios). Files are parsed safely "
        "and nothing in them runs: a hostile file is a 422 naming file, line and problem.",
        success=201,
        response="StudioDraft",
        request="StudioDraftRequest",
        errors=(401, 403, *_BODY),
    ),
    "api.get_draft": Operation(
        summary="Read a draft",
        description="A draft with its problems and scenario results.",
        success=200,
        response="StudioDraft",
        errors=(401, 403, 404),
    ),
    "api.save_draft": Operation(
        summary="Save a draft",
        description="Save new files over `revision`; 409 (code draft_changed) showing both "
        "when someone saved since. Saving voids an approval.",
        success=200,
        response="StudioDraft",
        request="StudioSaveRequest",
        errors=(401, 403, 404, 409, *_BODY),
    ),
    "api.approve_draft": Operation(
        summary="Approve a draft",
        description="A second process admin of a school the draft is for (where its author "
        "is a process admin) approves (403 for anyone who changed it, or an admin of another "
        "school only); the "
        "checks run again (409, code checks_failed, naming the failing scenario).",
        success=200,
        response="StudioDraft",
        request="StudioApproveRequest",
        body_optional=True,
        errors=(401, 403, 404, 409, *_BODY),
    ),
    "api.publish_draft": Operation(
        summary="Publish a draft",
        description="A process admin of a school the draft is for (403 otherwise) publishes an "
        "approved, unchanged draft as the next version (409 unless "
        "approved); the publisher's schools run it.",
        success=200,
        response="StudioPublished",
        request="StudioPublishRequest",
        body_optional=True,
        errors=(401, 403, 404, 409, *_BODY),
    ),
    "api.choose_version": Operation(
        summary="Choose a school's version",
        description="Make a published version the one the school runs; an earlier one is a "
        "rollback. Only a process admin of the school.",
        success=200,
        response="StudioVersionChoice",
        request="StudioVersionChoiceRequest",
        errors=(401, 403, 404, *_BODY),
    ),
    "api.list_scenarios": Operation(
        summary="List a process's scenarios",
        description="The scenarios every draft of the process runs: statutory (never "
        "editable), the process's own, and those schools added (process admins and auditors).",
        success=200,
        response="StudioScenarios",
        errors=(401, 403),
    ),
    "api.put_scenario": Operation(
        summary="Add or replace a school's scenario",
        description="A process admin of the school adds (201) or replaces (200) one of its "
        "scenarios; it runs against every draft of the process (statutory: false, so a "
        "failure warns). A bad file is a 422 (code scenario_invalid) naming line and place; "
        "a statutory scenario's name is a 403. Audited.",
        success=200,
        response="StudioScenario",
        request="StudioScenarioRequest",
        errors=(401, 403, 404, *_BODY),
    ),
    "api.remove_scenario": Operation(
        summary="Remove a school's scenario",
        description="A process admin of the school removes one of its scenarios (audited); "
        "statutory scenarios and the process's own cannot be removed (403).",
        success=200,
        response="StudioScenarioRemoved",
        errors=(401, 403, 404),
    ),
}

describe(OPERATIONS, SCHEMAS)
