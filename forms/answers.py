"""Answers in words, as the incident page and the record PDF show them: labels from the form
spec, Yes/No, option labels, dates as "7 September 2026", times in UK time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from workflow.model import FieldSpec, FormSpec

UK = ZoneInfo("Europe/London")
ROLE_WORDS = {"staff": "staff", "dsl": "DSL", "headteacher": "headteacher"}


def role_in_words(role: str) -> str:
    """A lane id as people say it: "dsl" is "DSL"; other roles read as they are."""
    return ROLE_WORDS.get(role, role.replace("_", " "))


def label_of(key: str, spec: FieldSpec | None) -> str:
    """The question a value answers: the form's label, or the variable's name in words."""
    if spec is not None and spec.label:
        return spec.label
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def in_words(spec: FieldSpec | None, value: Any) -> str:
    """An answer as words: Yes/No, an option's label, a long date, a list joined by commas."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        shown = [in_words(spec, item) for item in value]
        return ", ".join(text for text in shown if text) or "None"
    if isinstance(value, Mapping):
        return "; ".join(f"{label_of(str(k), None)}: {in_words(None, v)}" for k, v in value.items())
    if spec is not None and spec.type == "enum":
        option = next((o for o in spec.options if o.id == str(value)), None)
        return option.label if option is not None else str(value)
    if (spec is not None and spec.type == "date") or isinstance(value, date):
        return long_date(value)
    return str(value)


def long_date(value: date | datetime | str) -> str:
    """A date as GOV.UK writes it: "7 September 2026" (text that is not a date is kept)."""
    if isinstance(value, datetime):
        value = value.astimezone(UK).date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return str(value)
    return f"{value.day} {value:%B %Y}"


def date_time(value: datetime | None) -> str:
    """A moment in UK time: "7 September 2026 at 9:05am"; "" for None."""
    if value is None:
        return ""
    local = value.astimezone(UK)
    clock = f"{local.hour % 12 or 12}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    return f"{long_date(local.date())} at {clock}"


def decisions_in(form: FormSpec, values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(question, answer in words, reason) of each decision field a completion answered.

    A decision's reason is the next field of the form whose id mentions "reason" and that
    was answered (e.g. viewing_requested -> viewing_request_reason).
    """
    found: list[tuple[str, str, str]] = []
    fields = list(form.fields)
    for index, spec in enumerate(fields):
        if not spec.is_decision or values.get(spec.id) in (None, ""):
            continue
        reason = ""
        for later in fields[index + 1 :]:
            if later.is_decision:
                break
            if "reason" in later.id and values.get(later.id) not in (None, ""):
                reason = str(values[later.id])
                break
        found.append((label_of(spec.id, spec), in_words(spec, values[spec.id]), reason))
    return found


def decision_output_in_words(name: str, value: Any, labels: Mapping[str, str] | None = None) -> str:
    """A decision table's output in words: a COLLECT list of flags is one Yes/No, and a
    list of ids is the labels of those that held ("Yes, Yes, No" never reaches a reader)."""
    words = labels or {}
    if isinstance(value, list | tuple):
        flags = [item for item in value if isinstance(item, bool)]
        if flags and len(flags) == len(value):
            return "Yes" if any(flags) else "No"
        held = [str(item) for item in value if item not in (None, "", False)]
        unique = list(dict.fromkeys(held))
        return "; ".join(words.get(item, item.replace("_", " ")) for item in unique) or "None"
    if isinstance(value, str):
        return words.get(value, value)
    return in_words(None, value)
