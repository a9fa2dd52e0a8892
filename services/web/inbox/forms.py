"""The inbox's form: reassigning a task, with the reason that goes into the audit trail."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovTextArea
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from forms.validators import NoImagery
from services.web.incidents.forms import strip_text

BACK_TO_ROLE = "role"
MAX_REASON = 1000


class AssignForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """Who should do the task now, and why (for example, to cover an absence)."""

    assignee = RadioField(
        "Who should do this task now?",
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select who should do this task")],
    )
    reason = TextAreaField(
        "Why is it being reassigned?",
        description="For example, the DSL is absent this week. The reason is kept in the "
        "incident's history.",
        widget=GovTextArea(),
        render_kw={"params": {"label": {"classes": "govuk-label--s"}}},
        filters=[strip_text],
        validators=[
            DataRequired(message="Enter why the task is being reassigned"),
            NoImagery(),
            Length(max=MAX_REASON, message=f"Reason must be {MAX_REASON} characters or fewer"),
        ],
    )
