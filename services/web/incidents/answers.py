"""How answers and times read on the pages: labels from the form spec, Yes/No, option labels,
dates as "7 September 2026", times in UK time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from workflow.model import CompletedStep, FieldSpec

UK = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Answer:
    """One answer of a completed step: the question and the answer's lines, ready to show."""

    label: str
    lines: tuple[str, ...]


def step_answers(step: CompletedStep, fields: Mapping[str, FieldSpec]) -> list[Answer]:
    """The step's answers in form order; questions left blank are left out."""
    answers: list[Answer] = []
    for key, value in step.data.items():
        if value is None or value == "":
            continue
        spec = fields.get(key)
        label = spec.label if spec is not None else _words(key)
        answers.append(Answer(label, tuple(display_value(spec, value).splitlines() or [""])))
    return answers


def display_value(spec: FieldSpec | None, value: Any) -> str:
    """An answer as words: Yes/No, an option's label, a long date, a list joined by commas."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(display_value(spec, item) for item in value) or "None"
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


def _words(key: str) -> str:
    # Outputs of decision tables have no form: "referral_criteria" reads "Referral criteria".
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]
