"""Turn the Camunda form SpiffWorkflow parsed from a user task into our FormSpec."""

from __future__ import annotations

import threading
from typing import Any, Literal, cast, get_args
from weakref import WeakKeyDictionary

from SpiffWorkflow.camunda.specs.user_task import UserTask

from workflow.model import EnumOption, FieldSpec, FieldType, FormSpec
from workflow.step_readers import (
    NEEDS_PROPERTY,
    READERS_PROPERTY,
    ReadersProblem,
    role_list,
    task_list,
)

FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
WIDGETS = ("radios", "select", "")
_INT_CONSTRAINTS = ("min", "max", "minlength", "maxlength")


class FormProblem(ValueError):
    """A form field Spiff accepted but our forms cannot render or validate."""


# A restored spec is never changed where its form is read (form, extensions, bpmn_id), and a
# FormSpec is frozen: so each user task spec's FormSpec is built once while the spec lives
# (a completion reads ~4 forms). Keyed on the spec object itself; the lock because gthread
# workers run commands on several threads (each with its own specs, one shared cache).
_FORMS: WeakKeyDictionary[Any, FormSpec] = WeakKeyDictionary()
_FORMS_LOCK = threading.Lock()


def form_spec(task_spec: Any) -> FormSpec:
    """The FormSpec of a Spiff Camunda user task spec (key = the task's bpmn id)."""
    if not isinstance(task_spec, UserTask):
        return _form_spec(task_spec)  # message holders: built afresh, cheap and short-lived
    with _FORMS_LOCK:
        found = _FORMS.get(task_spec)
    if found is None:
        found = _form_spec(task_spec)  # raises FormProblem, which is not cached
        with _FORMS_LOCK:
            _FORMS[task_spec] = found
    return found


def _form_spec(task_spec: Any) -> FormSpec:
    form = getattr(task_spec, "form", None)
    fields = tuple(_field(f) for f in (form.fields if form is not None else ()))
    extensions = getattr(task_spec, "extensions", None) or {}
    try:
        readers = role_list(_text(extensions.get(READERS_PROPERTY)))
        needs = task_list(_text(extensions.get(NEEDS_PROPERTY)))
    except ReadersProblem as problem:
        raise FormProblem(str(problem)) from None
    return FormSpec(key=str(task_spec.bpmn_id), fields=fields, readers=readers, needs=needs)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _field(field: Any) -> FieldSpec:
    field_id = str(field.id or "")
    if field.type not in FIELD_TYPES:
        raise FormProblem(
            f"field {field_id!r} has type {field.type!r}; use one of {', '.join(FIELD_TYPES)}"
        )
    properties = {p.id: p.value for p in field.properties}
    checks = {v.name: v.config for v in field.validation}
    limits = {
        name: _int(field_id, name, checks[name]) for name in _INT_CONSTRAINTS if name in checks
    }
    widget = properties.get("widget") or ""
    if widget not in WIDGETS:
        raise FormProblem(f"field {field_id!r}: widget {widget!r} is not 'radios' or 'select'")
    options = tuple(
        EnumOption(str(o.id), str(o.name or o.id)) for o in getattr(field, "options", [])
    )
    return FieldSpec(
        id=field_id,
        type=cast(FieldType, field.type),
        label=str(field.label or field_id),
        help=str(properties.get("help") or ""),
        required="required" in checks and str(checks["required"]).lower() != "false",
        min=limits.get("min"),
        max=limits.get("max"),
        minlength=limits.get("minlength"),
        maxlength=limits.get("maxlength"),
        options=options,
        default=field.default_value if field.default_value not in (None, "") else None,
        multiline=str(properties.get("multiline", "")).lower() == "true",
        widget=cast(Literal["radios", "select", ""], widget),
        required_if=_required_if(field_id, properties.get("required_if")),
        is_decision=str(properties.get("decision", "")).lower() == "true",
    )


def _int(field_id: str, name: str, config: Any) -> int:
    try:
        return int(str(config).strip())
    except ValueError:
        raise FormProblem(
            f"field {field_id!r}: constraint {name} needs a whole number, not {config!r}"
        ) from None


def _required_if(field_id: str, value: Any) -> tuple[str, str] | None:
    if value in (None, ""):
        return None
    other, separator, expected = str(value).partition(":")
    if not separator or not other.strip() or not expected.strip():
        raise FormProblem(
            f"field {field_id!r}: required_if must be '<field id>:<value>', not {value!r}"
        )
    return other.strip(), expected.strip()
