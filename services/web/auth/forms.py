"""The sign-in forms (Flask-WTF, so each carries a CSRF token), drawn with GOV.UK components."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import IntegerField, PasswordField, RadioField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, Regexp, ValidationError

from forms.validators import NoImagery
from services.web.auth.totp import is_code_shaped, normalise_code

MAX_EMAIL_LENGTH = 320
# Argon2 takes any length, but hashing megabytes per request would be a cheap way to load us.
MAX_PASSWORD_LENGTH = 1024


class SignInForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """Email address and password."""

    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter your email address"),
            Length(
                max=MAX_EMAIL_LENGTH,
                message=f"Email address must be {MAX_EMAIL_LENGTH} characters or fewer",
            ),
            Regexp(
                r"^[^@\s]+@[^@\s]+$",
                message="Enter an email address in the correct format, like name@example.com",
            ),
        ],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Enter your password"),
            Length(
                max=MAX_PASSWORD_LENGTH,
                message=f"Password must be {MAX_PASSWORD_LENGTH} characters or fewer",
            ),
        ],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class CodeForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """The six-digit code from an authenticator app."""

    code = StringField(
        "Code from your authenticator app",
        description="The 6-digit code shown in the app for Safeguard Flow",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the 6-digit code from your authenticator app")],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())

    def validate_code(self, field: StringField) -> None:
        """Refuse anything that is not six digits (spaces and dashes are allowed inside)."""
        if not is_code_shaped(normalise_code(field.data or "")):
            raise ValidationError("Enter the code as 6 digits, like 123456")


def error_summary_items(form: FlaskForm) -> list[dict[str, str]]:
    """The GOV.UK error summary's list: each field's first error, linked to the field."""
    return [
        {"text": errors[0], "href": f"#{form[name].id}"}
        for name, errors in form.errors.items()
        if errors and name in form
    ]


class ApiTokenForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """A new API token: a name, what it may do, and how long it lasts."""

    label = StringField(
        "Name of the token",
        description="Say what will use it, like 'MIS export'",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter a name for the token"),
            Length(max=100, message="Name must be 100 characters or fewer"),
            NoImagery(),
        ],
    )
    scope = RadioField(
        "What may it do?",
        choices=[("read", "Read only"), ("write", "Read and change")],
        default="read",
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select what the token may do")],
    )
    days = IntegerField(
        "Days until it expires",
        default=90,
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the number of days until it expires, like 90"),
            NumberRange(min=1, max=366, message="Days must be between 1 and 366"),
        ],
    )
    submit = SubmitField("Create token", widget=GovSubmitInput())
