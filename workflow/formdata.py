"""Check and type the answers submitted for a user task's form (HTML strings or JSON values)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from workflow.errors import TaskDataInvalid
from workflow.model import FieldSpec, FormSpec
from workflow.text_imagery import imagery_in_text

_WHOLE_NUMBER = re.compile(r"^[+-]?\d{1,18}$")
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
PLACEHOLDER_DATE = "2000-01-01"


class _Invalid(ValueError):
    """One field's value cannot be used; the message says why."""


def validate_submission(form: FormSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce and validate a submission: typed values for every field (missing optional -> None).

    Raises TaskDataInvalid(form.key, {field: [messages]}) naming each bad field; keys that are
    not fields of the form are an error too.
    """
    errors: dict[str, list[str]] = {
        str(key): ["is not a field of this form"] for key in data if form.field(str(key)) is None
    }
    values: dict[str, Any] = {}
    for spec in form.fields:
        try:
            values[spec.id] = _typed(spec, data.get(spec.id))
        except _Invalid as problem:
            errors[spec.id] = [str(problem)]
    for spec in form.fields:
        if spec.id in errors or values[spec.id] is not None:
            continue
        if spec.required or _required_now(form, spec, values):
            errors[spec.id] = [_missing_message(form, spec)]
    if errors:
        raise TaskDataInvalid(form.key, errors)
    return values


def placeholder_data(form: FormSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """For simulation: placeholders for required (and triggered required_if) fields not given."""
    data = dict(given)
    for spec in form.fields:
        if spec.id not in data and spec.required:
            data[spec.id] = _placeholder(spec)
    for spec in form.fields:
        if spec.id not in data and _required_now(form, spec, data):
            data[spec.id] = _placeholder(spec)
    return data


def _typed(spec: FieldSpec, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str) and not _storable_text(raw):
        raise _Invalid("contains characters that cannot be stored (a NUL or broken Unicode)")
    if isinstance(raw, str):
        refusal = imagery_in_text(raw)
        if refusal is not None:
            raise _Invalid(refusal)
    value = _COERCE[spec.type](spec, raw)
    _check_limits(spec, value)
    return value


def _storable_text(text: str) -> bool:
    # PostgreSQL text refuses NUL, and a lone surrogate cannot be encoded: refuse both here
    # with a field error rather than fail at commit.
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(spec: FieldSpec, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Invalid(f"must be text, not {type(raw).__name__}")
    return raw.strip()


def _long(spec: FieldSpec, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _Invalid("must be a whole number, not true/false")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _WHOLE_NUMBER.match(raw.strip()):
        return int(raw.strip())
    raise _Invalid(f"must be a whole number, not {raw!r}")


def _boolean(spec: FieldSpec, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if isinstance(raw, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Invalid(f"must be yes or no (true/false), not {raw!r}")


def _enum(spec: FieldSpec, raw: Any) -> str:
    choices = [option.id for option in spec.options]
    if isinstance(raw, str) and raw.strip() in choices:
        return raw.strip()
    raise _Invalid(f"must be one of {', '.join(choices)}, not {raw!r}")


def _date(spec: FieldSpec, raw: Any) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise _Invalid(f"must be a real date as YYYY-MM-DD, not {raw!r}")


def _document(spec: FieldSpec, raw: Any) -> str:
    # The process keeps only the name of an attachment the web layer has already checked by its
    # content (forms.check_document); the bytes never reach the engine.
    if not isinstance(raw, str):
        raise _Invalid(f"must be the name of an attached document, not {type(raw).__name__}")
    name = raw.strip()
    if len(name) > 255 or any(c in name for c in "/\\\x00"):
        raise _Invalid("must be a plain file name of at most 255 characters")
    return name


_COERCE: dict[str, Callable[[FieldSpec, Any], Any]] = {
    "document": _document,
    "string": _string,
    "long": _long,
    "boolean": _boolean,
    "enum": _enum,
    "date": _date,
}


def _check_limits(spec: FieldSpec, value: Any) -> None:
    if isinstance(value, str):
        if spec.minlength is not None and len(value) < spec.minlength:
            raise _Invalid(f"must be at least {spec.minlength} characters")
        if spec.maxlength is not None and len(value) > spec.maxlength:
            raise _Invalid(f"must be {spec.maxlength} characters or fewer")
    if isinstance(value, int) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            raise _Invalid(f"must be {spec.min} or more")
        if spec.max is not None and value > spec.max:
            raise _Invalid(f"must be {spec.max} or less")


def _required_now(form: FormSpec, spec: FieldSpec, values: Mapping[str, Any]) -> bool:
    if spec.required_if is None:
        return False
    other_id, expected = spec.required_if
    other = form.field(other_id)
    value = values.get(other_id)
    if other is None or value is None:
        return False
    try:
        actual = _as_text(_COERCE[other.type](other, value))
        # "true"/"yes" both name True: compare booleans by value, other types by their text.
        wanted = _as_text(_boolean(other, expected)) if other.type == "boolean" else expected
    except _Invalid:
        return False
    return actual == wanted


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _missing_message(form: FormSpec, spec: FieldSpec) -> str:
    if spec.required or spec.required_if is None:
        return "is required"
    other_id, expected = spec.required_if
    other = form.field(other_id)
    other_label = other.label if other is not None else other_id
    return f"is required when {other_label!r} is {expected}"


def _placeholder(spec: FieldSpec) -> Any:
    if spec.type == "string":
        return "x" * max(1, spec.minlength or 1)
    if spec.type == "long":
        number = spec.min if spec.min is not None else 0
        return min(number, spec.max) if spec.max is not None else number
    if spec.type == "boolean":
        return False
    if spec.type == "enum":
        return spec.options[0].id if spec.options else ""
    if spec.type == "document":
        return "placeholder.pdf"
    return PLACEHOLDER_DATE
