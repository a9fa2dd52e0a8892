"""Error messages in the GOV.UK Design System's style, worded from a field's label."""

from __future__ import annotations

from workflow.model import FieldSpec

MONTH_PARTS = ("day", "month", "year")


def _is_question(label: str) -> bool:
    return label.rstrip().endswith("?")


def _quoted(label: str) -> str:
    return f"\u201c{label.strip()}\u201d"


def _as_object(label: str) -> str:
    """The label as the object of "Enter ..."/"Select ...": lower-cased unless an acronym."""
    label = label.strip()
    if _is_question(label):
        return f"an answer to {_quoted(label)}"
    if len(label) > 1 and label[1].isupper():
        return label  # "DSL name" stays "DSL name"
    return label[:1].lower() + label[1:]


def _as_subject(label: str) -> str:
    """The label as the subject of "... must be ...": a question becomes "The answer to ..."."""
    label = label.strip()
    if _is_question(label):
        return f"The answer to {_quoted(label)}"
    return label


def required(spec: FieldSpec) -> str:
    """The message for a required field left empty (also used when `required_if` applies)."""
    if spec.type == "boolean":
        return f"Select yes or no for {_quoted(spec.label)}"
    if spec.type == "enum":
        return f"Select {_as_object(spec.label)}"
    if spec.type == "document":
        return f"Select a file for {_quoted(spec.label)}"
    return f"Enter {_as_object(spec.label)}"


def unknown_option(spec: FieldSpec) -> str:
    """The message for a choice that is not one of the field's options (a tampered request)."""
    if spec.type == "boolean":
        return f"Select yes or no for {_quoted(spec.label)}"
    return f"Select one of the options for {_quoted(spec.label)}"


def too_short(spec: FieldSpec, minlength: int) -> str:
    """The message for text shorter than `minlength`."""
    return f"{_as_subject(spec.label)} must be {minlength} characters or more"


def too_long(spec: FieldSpec, maxlength: int) -> str:
    """The message for text longer than `maxlength`."""
    return f"{_as_subject(spec.label)} must be {maxlength} characters or less"


def not_whole_number(spec: FieldSpec) -> str:
    """The message for a number field holding something that is not a whole number."""
    return f"{_as_subject(spec.label)} must be a whole number"


def out_of_range(spec: FieldSpec) -> str:
    """The message for a whole number outside the field's min/max."""
    subject = _as_subject(spec.label)
    if spec.min is not None and spec.max is not None:
        return f"{subject} must be between {spec.min} and {spec.max}"
    if spec.min is not None:
        return f"{subject} must be {spec.min} or more"
    return f"{subject} must be {spec.max} or less"


def date_incomplete(spec: FieldSpec, missing: tuple[str, ...]) -> str:
    """The message for a date with some of day, month and year left empty."""
    return f"{_as_subject(spec.label)} must include a {' and '.join(missing)}"


def date_not_real(spec: FieldSpec) -> str:
    """The message for a day, month and year that make no real date."""
    return f"{_as_subject(spec.label)} must be a real date"


def as_sentence(spec: FieldSpec, message: str) -> str:
    """Make a message fragment such as "is required" a sentence naming the field."""
    message = message.strip()
    if not message or message[:1].isupper():
        return message
    return f"{_as_subject(spec.label)} {message}"
