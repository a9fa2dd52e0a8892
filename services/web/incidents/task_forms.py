"""Task forms on pages: the form built from a task's FormSpec, plus the incident version it was
read at (so a change made meanwhile is refused, not overwritten), and reading a submission."""

from __future__ import annotations

from functools import lru_cache

from wtforms import HiddenField

from forms import TaskForm, build_form_class
from workflow.model import FormSpec

VERSION_FIELD = "expected_incident_version"


@lru_cache(maxsize=256)
def versioned_form_class(spec: FormSpec) -> type[TaskForm]:
    """The spec's form class with a hidden field carrying the incident version it was read at."""
    if spec.field(VERSION_FIELD) is not None:
        raise ValueError(
            f"form of task {spec.key!r}: field id {VERSION_FIELD!r} is used by the task page "
            "itself; rename the field in the diagram"
        )
    base = build_form_class(spec)
    return type(f"Versioned{base.__name__}", (base,), {VERSION_FIELD: HiddenField()})


def new_task_form(spec: FormSpec, incident_version: int) -> TaskForm:
    """The form of a task for this request: the submitted answers, or empty at this version.

    On a POST the version comes back from the hidden field as it was sent, so re-showing the
    form with errors never moves it forward past a change the person has not seen.
    """
    form = versioned_form_class(spec)()
    if not form.is_submitted():
        form[VERSION_FIELD].data = str(incident_version)
    return form


def submitted_version(form: TaskForm) -> int | None:
    """The incident version the submitted form was read at; None when missing or tampered."""
    raw = str(form[VERSION_FIELD].data or "").strip()
    return int(raw) if raw.isdigit() else None


def is_valid_submission(form: TaskForm) -> bool:
    """Validate a posted task form (types, required answers, documents by their content).

    A document field is checked by forms' AcceptableDocument validator, which runs
    forms.check_document on the uploaded bytes: an image or video is refused with its message.
    """
    return bool(form.validate_on_submit())
