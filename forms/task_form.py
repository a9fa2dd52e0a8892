"""The base class of every form built from a user task's FormSpec, and how late errors attach."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from flask_wtf import FlaskForm

from forms import messages
from forms.fields import DayMonthYearField, DocumentField
from workflow.model import FormSpec

EXPIRED_FORM = "This form has expired or was sent twice: check your answers and submit it again"


class TaskForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """A task's form: one field per FieldSpec in order, typed answers and an error summary."""

    form_spec: ClassVar[FormSpec] = FormSpec(key="")

    def answer_fields(self) -> list[Any]:
        """The fields of the spec, in declaration order (no CSRF token)."""
        return [self[spec.id] for spec in self.form_spec.fields]

    def typed_data(self) -> dict[str, Any]:
        """Every answer typed for workflow.formdata.validate_submission (None when blank)."""
        return {field.spec.id: field.typed_value() for field in self.answer_fields()}

    @property
    def has_documents(self) -> bool:
        """True when the form uploads a file (and so must be sent as multipart/form-data)."""
        return any(isinstance(field, DocumentField) for field in self.answer_fields())

    def error_summary_items(self) -> list[dict[str, str]]:
        """The GOV.UK error summary's list: each field's first error, linked to its input."""
        items = [
            {"text": field.errors[0], "href": f"#{_anchor(field)}"}
            for field in self.answer_fields()
            if field.errors
        ]
        csrf = self._fields.get("csrf_token")
        if csrf is not None and csrf.errors:
            items.insert(0, {"text": EXPIRED_FORM})
        items.extend({"text": message} for message in self.form_errors)
        return items


def _anchor(field: Any) -> str:
    # The GOV.UK date input is linked to from the summary by its first box, the day.
    return f"{field.id}-day" if isinstance(field, DayMonthYearField) else str(field.id)


def apply_errors(form: TaskForm, errors: Mapping[str, Sequence[str]]) -> None:
    """Attach errors found after the form validated (TaskDataInvalid.errors) to their fields.

    A fragment such as "is required" becomes a sentence naming the field. An error for a field
    the form does not have goes to the form's own errors, so the error summary still shows it.
    """
    for field_id, field_messages in errors.items():
        field = form._fields.get(field_id)
        if field is None or not hasattr(field, "spec"):
            _add_new(form.form_errors, [f"{field_id}: {m}" for m in field_messages])
            continue
        field.errors = list(field.errors)
        _add_new(field.errors, [messages.as_sentence(field.spec, m) for m in field_messages])


def _add_new(target: list[str], new: list[str]) -> None:
    target.extend(message for message in new if message not in target)
