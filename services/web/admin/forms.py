"""The administration forms (Flask-WTF: each carries a CSRF token), with GOV.UK components."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovPasswordInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Length

from forms.validators import NoImagery
from services.db.models.accounts import ROLES
from services.web.home.views import ROLE_LABELS

ROLE_CHOICES = [(role, ROLE_LABELS.get(role, role)) for role in ROLES]
MIN_PASSWORD_LENGTH = 12


class SchoolForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """A new school: its name and a short name for links."""

    name = StringField(
        "School name",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the school's name"), NoImagery()],
    )
    slug = StringField(
        "Short name",
        description="Lower-case letters, digits and hyphens, like st-marys-primary",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter a short name")],
    )
    submit = SubmitField("Add school", widget=GovSubmitInput())


class InviteForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """Invite a person to this school in a role."""

    display_name = StringField(
        "Full name",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the person's name"), NoImagery()],
    )
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the person's email address")],
    )
    role = SelectField(
        "Role",
        choices=ROLE_CHOICES,
        widget=GovSelect(),
        validators=[InputRequired(message="Choose a role")],
    )
    submit = SubmitField("Send invitation", widget=GovSubmitInput())


class RolesForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """The roles a person holds in this school."""

    roles = SelectMultipleField(
        "Roles in this school", choices=ROLE_CHOICES, widget=GovCheckboxesInput()
    )
    submit = SubmitField("Save roles", widget=GovSubmitInput())


class ReasonForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """A reason, recorded with the action (deactivate, reactivate, reset a second factor)."""

    reason = TextAreaField(
        "Reason",
        description="Kept in the audit trail",
        widget=GovTextArea(),
        validators=[
            InputRequired(message="Enter the reason"),
            Length(max=500, message="Reason must be 500 characters or fewer"),
            NoImagery(),
        ],
    )
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class SettingsForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """The school's sign-in setting."""

    staff_second_factor = BooleanField(
        "Staff sign in with an authenticator app too", widget=GovCheckboxInput()
    )
    submit = SubmitField("Save setting", widget=GovSubmitInput())


class AcceptInvitationForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """The invited person chooses a password."""

    password = PasswordField(
        "Choose a password",
        description=f"At least {MIN_PASSWORD_LENGTH} characters; a few unrelated words work well",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Enter a password"),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=f"Password must be {MIN_PASSWORD_LENGTH} to 1024 characters",
            ),
        ],
    )
    confirm = PasswordField(
        "Enter the password again",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Enter the password again"),
            EqualTo("password", message="The passwords do not match"),
        ],
    )
    submit = SubmitField("Set password", widget=GovSubmitInput())
