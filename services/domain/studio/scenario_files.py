"""A school's scenario file: the format of bpmn/scenarios/*.json, read safely and checked.

The text is parsed as JSON only (no code, no references, nothing fetched); its size, nesting
and shape are bounded, and every refusal names the file, the line when known, and the place in
the file (`steps[2].complete`), as DiagramProblems so the API shows them as it shows a diagram's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.text_imagery import imagery_in_text

MAX_SCENARIO_BYTES = 64 * 1024
MAX_STEPS = 200
MAX_DEPTH = 16
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
NAME_RULE = "1 to 64 lower-case letters, digits, '-' or '_', starting with a letter or digit"

_TOP_KEYS = frozenset(
    {"title", "description", "guidance", "statutory", "process", "fill_defaults", "start"}
    | {"steps", "expect", "note"}
)
_STEP_KEYS = frozenset({"complete", "advance", "message", "data", "note"})
_EXPECT_LISTS = ("reaches", "not_reaches", "completed", "ready")
_EXPECT_KEYS = frozenset({*_EXPECT_LISTS, "lanes", "refused", "ended", "data"})


def read_scenario(name: str, text: object, process_key: str) -> dict[str, Any]:
    """The scenario's body, or DefinitionInvalid naming every problem of the file."""
    file = f"{name}.json"
    if not NAME.fullmatch(name):
        raise _refused(DiagramProblem(file[:80], None, "", f"scenario name must be {NAME_RULE}"))
    if not isinstance(text, str):
        raise _refused(DiagramProblem(file, None, "", "the scenario must be sent as JSON text"))
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SCENARIO_BYTES:
        message = f"the file is {size} bytes; a scenario may have at most {MAX_SCENARIO_BYTES}"
        raise _refused(DiagramProblem(file, None, "", message))
    if "\x00" in text:
        raise _refused(DiagramProblem(file, None, "", "the file holds a NUL character"))
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} (column {error.colno})"
        raise _refused(DiagramProblem(file, error.lineno, "", message)) from None
    except RecursionError:
        raise _refused(DiagramProblem(file, None, "", "nested too deeply")) from None
    if _depth(body) > MAX_DEPTH:
        raise _refused(DiagramProblem(file, None, "", f"nested more than {MAX_DEPTH} deep"))
    pictures = [
        DiagramProblem(file, _line_of(text, path), path, f"refused: {refusal}")
        for path, refusal in _imagery(body, "")
    ]
    if pictures:  # scenario files are stored and shown: never a picture, test data included
        raise DefinitionInvalid(pictures)
    problems = [
        DiagramProblem(file, _line_of(text, path), path, message)
        for path, message in _shape_problems(body, process_key)
    ]
    if problems:
        raise DefinitionInvalid(problems)
    assert isinstance(body, dict)
    return body


def _refused(problem: DiagramProblem) -> DefinitionInvalid:
    return DefinitionInvalid([problem])


def _imagery(value: object, path: str) -> list[tuple[str, str]]:
    """Each place (key or value, at any depth) that holds imagery written out as text."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        refusal = imagery_in_text(value)
        found += [(path, refusal)] if refusal else []
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            refusal = imagery_in_text(str(key))
            found += [(where, refusal)] if refusal else []
            found += _imagery(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _imagery(item, f"{path}[{index}]")
    return found


def _depth(value: object) -> int:
    # Iterative, so a hostile nesting cannot exhaust the stack while it is measured.
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return deepest


def _shape_problems(body: object, process_key: str) -> list[tuple[str, str]]:
    if not isinstance(body, dict):
        return [("", 'a scenario is a JSON object with a "steps" list')]
    problems = [(key, "is not a key of a scenario file") for key in sorted(set(body) - _TOP_KEYS)]
    if body.get("statutory") not in (None, False):
        problems.append(
            ("statutory", "only the product's statutory scenarios are statutory: remove it")
        )
    process = body.get("process")
    if process is not None and process != process_key:
        problems.append(
            ("process", f"names {process!r}, but this is a scenario of {process_key!r}")
        )
    for key in ("title", "description", "note", "start"):
        if key in body and not isinstance(body[key], str):
            problems.append((key, "must be text"))
    if "fill_defaults" in body and not isinstance(body["fill_defaults"], bool):
        problems.append(("fill_defaults", "must be true or false"))
    problems += _steps_problems(body.get("steps"))
    if "expect" in body:
        problems += _expect_problems(body["expect"])
    return problems


def _steps_problems(steps: object) -> list[tuple[str, str]]:
    if not isinstance(steps, list) or not steps:
        return [("steps", "must be a list of at least one step")]
    if len(steps) > MAX_STEPS:
        return [("steps", f"has {len(steps)} steps; at most {MAX_STEPS}")]
    problems = []
    for number, step in enumerate(steps, start=1):
        where = f"steps[{number}]"
        if not isinstance(step, dict):
            problems.append((where, "must be an object"))
            continue
        kinds = sorted({"complete", "advance", "message"} & set(step))
        if len(kinds) != 1:
            problems.append((where, 'needs exactly one of "complete", "advance" or "message"'))
        for key in sorted(set(step) - _STEP_KEYS):
            problems.append((f"{where}.{key}", "is not a key of a step"))
        for key in kinds:
            if not isinstance(step[key], str) or not step[key]:
                problems.append((f"{where}.{key}", "must be a task id, duration or message name"))
        if "data" in step and not isinstance(step["data"], dict):
            problems.append((f"{where}.data", "must be an object of answers"))
    return problems


def _expect_problems(expect: object) -> list[tuple[str, str]]:
    if not isinstance(expect, dict):
        return [("expect", "must be an object")]
    problems = [
        (f"expect.{key}", "is not an expectation") for key in sorted(set(expect) - _EXPECT_KEYS)
    ]
    for key in _EXPECT_LISTS:
        value = expect.get(key)
        if value is not None and not _strings(value):
            problems.append((f"expect.{key}", "must be a list of task ids"))
    lanes = expect.get("lanes")
    if lanes is not None and not (
        isinstance(lanes, dict) and all(isinstance(v, str) for v in lanes.values())
    ):
        problems.append(("expect.lanes", "must map task ids to roles"))
    if "ended" in expect and not isinstance(expect["ended"], bool):
        problems.append(("expect.ended", "must be true or false"))
    for key in ("refused", "data"):
        if key in expect and not isinstance(expect[key], Mapping):
            problems.append((f"expect.{key}", "must be an object"))
    return problems


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _line_of(text: str, path: str) -> int | None:
    """The line of the path's key in the text (of "steps" for a step's), if found."""
    key = "steps" if path.startswith("steps[") else path.rsplit(".", 1)[-1]
    if not key:
        return None
    at = text.find(f'"{key}"')
    return text.count("\n", 0, at) + 1 if at >= 0 else None
