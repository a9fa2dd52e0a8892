"""The incident pages' own forms (Flask-WTF, so each carries a CSRF token), in GOV.UK style."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextArea
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from forms.validators import NoImagery

MAX_REASON = 1000
# The break-glass reason is kept in the session cookie until sign-out: keep it short.
MAX_BREAK_GLASS_REASON = 500


def strip_text(value: object) -> object:
    """Trim a text answer, so that only spaces count as no answer."""
    return value.strip() if isinstance(value, str) else value


def _reason_field(label: str, hint: str, missing: str, longest: int) -> TextAreaField:
    return TextAreaField(
        label,
        description=hint,
        widget=GovTextArea(),
        render_kw={"params": {"label": {"classes": "govuk-label--s"}}},
        filters=[strip_text],
        validators=[
            DataRequired(message=missing),
            NoImagery(),
            Length(max=longest, message=f"Reason must be {longest} characters or fewer"),
        ],
    )


class BreakGlassForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """Why someone outside the need to know must open this record (logged with each view)."""

    reason = _reason_field(
        "Why do you need to open this record?",
        "For example, you are covering for the DSL today. Your reason is logged with every page "
        "of the record you open.",
        "Enter why you need to open this record",
        MAX_BREAK_GLASS_REASON,
    )


class ExcludePersonForm(FlaskForm):  # type: ignore[misc]
    """Keep a named person out of an incident, with the reason."""

    person = SelectField(
        "Who must not see this incident?",
        widget=GovSelect(),
        render_kw={"params": {"label": {"classes": "govuk-label--s"}}},
        validators=[InputRequired(message="Select the person to exclude")],
        validate_choice=True,
    )
    reason = _reason_field(
        "Why must they be excluded?",
        "For example, the incident is about them. The reason is kept in the record's history.",
        "Enter why this person must be excluded",
        MAX_REASON,
    )
