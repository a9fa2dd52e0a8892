"""Check what a worker hands back for an external task before it joins the instance's data."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from workflow.errors import TaskDataInvalid

MAX_DEPTH = 8  # nesting a result may have (lists and objects inside each other)


def checked_result(bpmn_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """The result as a plain dict; TaskDataInvalid naming each key that is not JSON-friendly.

    Keys become process variables, so each must be an identifier; values must be what JSON
    holds (text, whole or finite numbers, true/false, null, lists and objects of those), so
    the state serializes and expressions read them as they were sent.
    """
    if not isinstance(result, Mapping):
        raise TaskDataInvalid(bpmn_id, {"": [f"a result is an object, not {_kind(result)}"]})
    errors: dict[str, list[str]] = {}
    for key, value in result.items():
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            errors[str(key)] = ["a result key must be an identifier not starting with '_'"]
            continue
        problem = _json_problem(value, 0)
        if problem:
            errors[key] = [problem]
    if errors:
        raise TaskDataInvalid(bpmn_id, errors)
    # A copy through JSON: tuples become lists now, as they would after the state round trip.
    copied: dict[str, Any] = json.loads(json.dumps(dict(result)))
    return copied


def _json_problem(value: Any, depth: int) -> str:
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels"
    if value is None or isinstance(value, str | bool | int):
        return ""
    if isinstance(value, float):
        return "" if math.isfinite(value) else f"{value} is not a JSON number"
    if isinstance(value, list | tuple):
        return next((p for p in (_json_problem(v, depth + 1) for v in value) if p), "")
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            return "object keys must be text"
        return next((p for p in (_json_problem(v, depth + 1) for v in value.values()) if p), "")
    return f"{_kind(value)} is not a JSON value (text, number, true/false, null, list, object)"


def _kind(value: Any) -> str:
    return type(value).__name__
