"""Build a Flask-WTF form class at run time from a user task's FormSpec, with GOV.UK widgets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovFileInput,
    GovSelect,
    GovTextArea,
    GovTextInput,
)

from forms.fields import (
    FALSE_WORDS,
    NO,
    TRUE_WORDS,
    YES,
    DayMonthYearField,
    DocumentField,
    OptionRadioField,
    OptionSelectField,
    TextAnswerField,
    WholeNumberField,
    YesNoField,
)
from forms.task_form import TaskForm
from forms.validators import (
    AcceptableDocument,
    AnswerPresence,
    KnownOption,
    NoImagery,
    NumberRange,
    TextLength,
)
from forms.widgets import GovDates, GovRadios
from workflow.model import FieldSpec, FormSpec

MAX_RADIO_OPTIONS = 6
DATE_HINT = "For example, 27 3 2024"
# Names the form class itself uses: a field with one of these ids would break the form.
RESERVED_IDS = frozenset(name for name in dir(TaskForm) if not name.startswith("_")) | {
    "csrf_token"
}


@lru_cache(maxsize=256)
def build_form_class(spec: FormSpec) -> type[TaskForm]:
    """A TaskForm subclass (CSRF on) with one field per FieldSpec, in the spec's order."""
    attributes: dict[str, Any] = {"form_spec": spec}
    for field_spec in spec.fields:
        if field_spec.id in RESERVED_IDS or field_spec.id.startswith("_"):
            raise ValueError(
                f"form of task {spec.key!r}: field id {field_spec.id!r} is a name the form "
                "itself uses; rename the field in the diagram"
            )
        attributes[field_spec.id] = _unbound_field(spec.key, field_spec)
    class_name = "TaskForm_" + "".join(c if c.isalnum() else "_" for c in spec.key)
    return type(class_name, (TaskForm,), attributes)


def _unbound_field(task_key: str, spec: FieldSpec) -> Any:
    make = _FACTORIES.get(spec.type)
    if make is None:
        raise ValueError(
            f"form of task {task_key!r}: field {spec.id!r} has unknown type {spec.type!r}"
        )
    try:
        default = _default(spec)
    except ValueError as problem:
        raise ValueError(
            f"form of task {task_key!r}: field {spec.id!r} has a default {spec.default!r} "
            f"that is not a valid {spec.type}"
        ) from problem
    return make(spec, default)


def _common(spec: FieldSpec, default: Any, *validators: Any, **params: Any) -> dict[str, Any]:
    # Several questions share a page, so labels are bold ("--s"), as GOV.UK advises.
    return {
        "render_kw": {"params": {"label": {"classes": "govuk-label--s"}, **params}},
        "label": spec.label,
        "description": spec.help,
        "default": default,
        "spec": spec,
        "validators": [AnswerPresence(), *validators],
    }


def _string(spec: FieldSpec, default: Any) -> Any:
    common = _common(spec, default, NoImagery(), TextLength())
    if not spec.multiline:
        return TextAnswerField(widget=GovTextInput(), **common)
    if spec.maxlength is not None:
        # GOV.UK pairs a limited text area with a character count (plain text area without JS).
        common = _common(spec, default, NoImagery(), TextLength(), maxlength=spec.maxlength)
        return TextAnswerField(widget=GovCharacterCount(), **common)
    return TextAnswerField(widget=GovTextArea(), **common)


def _long(spec: FieldSpec, default: Any) -> Any:
    common = _common(
        spec,
        default,
        NumberRange(),
        inputmode="numeric",
        spellcheck=False,
        classes="govuk-input--width-10",
    )
    return WholeNumberField(widget=GovTextInput(), **common)


def _boolean(spec: FieldSpec, default: Any) -> Any:
    common = _common(spec, default, KnownOption(), classes="govuk-radios--inline")
    return YesNoField(widget=GovRadios(), **common)


def _enum(spec: FieldSpec, default: Any) -> Any:
    common = _common(spec, default, KnownOption())
    if spec.widget == "select" or (
        spec.widget != "radios" and len(spec.options) > MAX_RADIO_OPTIONS
    ):
        return OptionSelectField(widget=GovSelect(), **common)
    return OptionRadioField(widget=GovRadios(), **common)


def _date(spec: FieldSpec, default: Any) -> Any:
    common = _common(spec, default)
    common["description"] = spec.help or DATE_HINT
    return DayMonthYearField(widget=GovDates(), **common)


def _document(spec: FieldSpec, default: Any) -> Any:
    return DocumentField(widget=GovFileInput(), **_common(spec, None, AcceptableDocument()))


_FACTORIES: dict[str, Callable[[FieldSpec, Any], Any]] = {
    "string": _string,
    "long": _long,
    "boolean": _boolean,
    "enum": _enum,
    "date": _date,
    "document": _document,
}


def _default(spec: FieldSpec) -> Any:
    """The spec's default as the field holds it; raises ValueError when it does not fit."""
    raw = spec.default
    if raw is None or spec.type == "document":
        return None
    if spec.type == "long":
        return int(raw)
    if spec.type == "date":
        return date.fromisoformat(raw)
    if spec.type == "boolean":
        value = raw.strip().lower()
        if value not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(raw)
        return YES if value in TRUE_WORDS else NO
    if spec.type == "enum" and raw not in {option.id for option in spec.options}:
        raise ValueError(raw)
    return raw
