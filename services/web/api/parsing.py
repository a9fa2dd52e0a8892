"""Reading API input: a JSON object body checked against the keys it may hold, and query numbers.

Only the shape is checked here (types, required and unknown keys, ids in range, text a database
can store, nesting at most MAX_DEPTH deep, no picture or video written out as text anywhere in
the body); what values mean (form answers, reasons, who may do what) is the service layer's to
judge, exactly as for the HTML forms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flask import Request
from flask.json.provider import DefaultJSONProvider

from services.web.api.errors import ApiError
from workflow.text_imagery import imagery_in_text

Kind = Literal["integer", "string", "object"]
JSON_MEDIA_TYPE = "application/json"
UNKNOWN_KEY = "is not a field of this request"
NUL_MESSAGE = "must not contain a NUL character (\\u0000) or an unpaired surrogate"
# Ids and versions are 32-bit columns: a bigger number would fail in the database, not here.
MAX_INTEGER = 2**31 - 1
# No request of ours nests deeper than a few levels; 32 keeps the parser and every walk over the
# value far from Python's recursion limit (JSON nested 5,000 deep must be a 400, not a 500).
MAX_DEPTH = 32
# The blueprint caps bodies lower (request.max_content_length); this holds wherever json_body is
# used, so the work done on a body stays bounded.
MAX_JSON_BYTES = 1024 * 1024
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')


@dataclass(frozen=True)
class Key:
    """One key a request body may hold: its JSON type, whether it must be there, may be null."""

    kind: Kind
    required: bool = False
    nullable: bool = False
    low: int = 0  # integers only
    high: int = MAX_INTEGER


BodySpec = Mapping[str, Key]


def json_body(request: Request, spec: BodySpec, *, may_be_empty: bool = False) -> dict[str, Any]:
    """Parse the request's JSON object body and check its keys against `spec`.

    An empty body counts as `{}` when `may_be_empty` (actions that take no input). Raises
    ApiError: 415 (not JSON), 400 (malformed, naming the position), 422 (keys, per key).
    """
    raw = request.get_data(cache=False)  # raises 413 past request.max_content_length
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(
            413,
            "payload_too_large",
            f"the request body is larger than the {MAX_JSON_BYTES} bytes accepted",
        )
    if not raw.strip() and may_be_empty:
        return check_keys({}, spec)
    if not _is_json(request.mimetype):
        given = request.mimetype or "none"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the body as {JSON_MEDIA_TYPE} (Content-Type was {given})",
        )
    value = _decode(raw)
    if not isinstance(value, dict):
        raise ApiError(
            422, "invalid_request", f"the body must be a JSON object, not {_json_type(value)}"
        )
    unstorable = sorted(set(_unstorable_places(value, "")))
    if unstorable:
        # No text column can hold these (PostgreSQL refuses both): name where they are.
        raise ApiError(
            422,
            "invalid_data",
            f"text {NUL_MESSAGE}: {', '.join(unstorable)}",
            {key: [NUL_MESSAGE] for key in unstorable},
        )
    imagery = _imagery_places(value, "")
    if imagery:
        # A picture pasted as text (a data: address, base64 ...) never reaches the domain, the
        # audit trail or the outbox: refuse it here, naming each place.
        places = sorted(imagery)
        raise ApiError(
            422,
            "imagery_refused",
            f"the request carries a picture or video written out as text: {', '.join(places)}",
            imagery,
        )
    return check_keys(value, spec)


def check_keys(body: Mapping[str, Any], spec: BodySpec) -> dict[str, Any]:
    """Refuse unknown keys, missing required ones and values of the wrong JSON type, per key."""
    problems: dict[str, list[str]] = {key: [UNKNOWN_KEY] for key in body if key not in spec}
    for key, expected in spec.items():
        if key not in body:
            if expected.required:
                problems[key] = ["is required"]
            continue
        problem = _type_problem(body[key], expected)
        if problem:
            problems[key] = [problem]
    if problems:
        names = ", ".join(sorted(problems))
        raise ApiError(422, "invalid_request", f"the request body is not valid: {names}", problems)
    return dict(body)


def query_int(args: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high]; `default` when it is absent."""
    found = optional_query_int(args, name, low=low, high=high)
    return default if found is None else found


def optional_query_int(args: Mapping[str, str], name: str, *, low: int, high: int) -> int | None:
    """A whole-number query parameter within [low, high], or None when it is absent."""
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    stripped = raw.strip()
    digits = stripped[1:] if stripped.startswith("-") else stripped
    if not (digits.isdigit() and len(digits) <= 18 and low <= int(stripped) <= high):
        message = f"must be a whole number from {low} to {high}, not {raw!r}"
        raise ApiError(
            422, "invalid_request", f"query parameter {name} {message}", {name: [message]}
        )
    return int(stripped)


def check_query(args: Mapping[str, str], allowed: frozenset[str]) -> None:
    """Refuse query parameters the endpoint does not know, naming them."""
    unknown = sorted(name for name in args if name not in allowed)
    if unknown:
        raise ApiError(
            422,
            "invalid_request",
            f"unknown query parameters: {', '.join(unknown)}",
            {name: ["is not a parameter of this endpoint"] for name in unknown},
        )


def _is_json(mimetype: str) -> bool:
    return mimetype == JSON_MEDIA_TYPE or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            400,
            "malformed_json",
            f"the body is not UTF-8: byte {error.start} cannot be decoded",
            position={"offset": error.start},
        ) from None
    _check_depth(text)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:  # not reached past _check_depth; kept so depth can never be a 500
        raise ApiError(400, "malformed_json", _too_deep_message(None)) from None
    except json.JSONDecodeError as error:
        raise ApiError(
            400,
            "malformed_json",
            f"the body is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno} (character {error.pos})",
            position={"line": error.lineno, "column": error.colno, "offset": error.pos},
        ) from None
    except _BadJson as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    except ValueError:  # an integer of thousands of digits: Python refuses to convert it
        raise ApiError(
            400, "malformed_json", "the body holds a number too long to read (over 4,300 digits)"
        ) from None


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON for every `request.get_json()` of the app: too deep is a 400, not a 500.

    Python's parser recurses once per level and fails with RecursionError (a 500) long before a
    5,000-deep body ends; a ValueError instead makes Flask answer 400 (or None when silent).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Refuse nesting deeper than MAX_DEPTH, then parse as Flask does."""
        text = s.decode("utf-8", "replace") if isinstance(s, bytes | bytearray) else s
        where = too_deep_at(text)
        if where is not None:
            raise ValueError(_too_deep_message(where))
        return super().loads(s, **kwargs)


def too_deep_at(text: str) -> int | None:
    """Where JSON text first nests arrays and objects deeper than MAX_DEPTH, or None."""
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return token.start()
        elif bracket in ("]", "}"):
            depth -= 1
    return None


def _check_depth(text: str) -> None:
    """Refuse arrays and objects nested deeper than MAX_DEPTH, before the parser recurses."""
    where = too_deep_at(text)
    if where is not None:
        raise ApiError(400, "malformed_json", _too_deep_message(where), position={"offset": where})


def _too_deep_message(offset: int | None) -> str:
    where = "" if offset is None else f" (character {offset})"
    return f"the body nests arrays and objects more than {MAX_DEPTH} deep{where}"


class _BadJson(ValueError):
    """JSON Python would read but the API refuses (duplicate keys, NaN)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key would silently keep the last value: refuse rather than guess.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _BadJson(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _BadJson(f"{name} is not a JSON number")


def _type_problem(value: Any, expected: Key) -> str | None:
    if value is None:
        return None if expected.nullable else "must not be null"
    if expected.kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be an integer"
        if not expected.low <= value <= expected.high:
            return f"must be an integer from {expected.low} to {expected.high}"
        return None
    ok = isinstance(value, str) if expected.kind == "string" else isinstance(value, dict)
    return None if ok else f"must be a {expected.kind}"


def _unstorable_places(value: Any, key: str) -> list[str]:
    # The innermost object key names the place: a form field id inside `values`.
    if isinstance(value, str):
        return [key or "(body)"] if _unstorable(value) else []
    if isinstance(value, dict):
        found = [ascii(k) for k in value if _unstorable(k)]
        for k, item in value.items():
            found += _unstorable_places(item, str(k))
        return found
    if isinstance(value, list):
        return [name for item in value for name in _unstorable_places(item, key)]
    return []


def _imagery_places(value: Any, key: str) -> dict[str, list[str]]:
    # As for unstorable text, the innermost object key names the place (a form field id).
    if isinstance(value, str):
        refusal = imagery_in_text(value)
        return {key or "(body)": [refusal]} if refusal else {}
    found: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for k, item in value.items():
            refusal = imagery_in_text(k)
            if refusal:
                found[ascii(k)[:40]] = [refusal]
            found.update(_imagery_places(item, str(k)))
    elif isinstance(value, list):
        for item in value:
            found.update(_imagery_places(item, key))
    return found


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        return True
    return False
