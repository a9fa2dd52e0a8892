"""WTForms validators enforcing a FieldSpec's rules, with GOV.UK-style messages.

They mirror workflow.formdata.validate_submission so a user sees a problem next to the field it is
about; the server-side check still runs after them. Every validator is stateless (one instance is
shared by every form built from a spec). Fields are WTForms objects, `Any` to mypy.
"""

from __future__ import annotations

from typing import Any

from wtforms.validators import StopValidation, ValidationError

from forms import messages
from forms.attachments import MAX_DOCUMENT_BYTES, AttachmentRefused, check_document
from forms.fields import FALSE_WORDS, TRUE_WORDS
from workflow.model import FieldSpec
from workflow.text_imagery import imagery_in_text


def answer_matches(spec: FieldSpec, value: Any, expected: str) -> bool:
    """Whether a typed answer equals a `required_if` value ("true"/"false", an option id ...)."""
    expected = expected.strip()
    if value is None:
        return False
    if isinstance(value, bool):
        # As workflow.formdata reads it: "yes" names True as well as "true".
        return expected.lower() in (TRUE_WORDS if value else FALSE_WORDS)
    return str(value) == expected


def required_if_applies(form: Any, spec: FieldSpec) -> bool:
    """Whether the field's `required_if` condition holds for the answers submitted with it."""
    if spec.required_if is None:
        return False
    other_id, expected = spec.required_if
    other = form._fields.get(other_id)
    if other is None or not hasattr(other, "typed_value"):
        return False
    return answer_matches(other.spec, other.typed_value(), expected)


class AnswerPresence:
    """First in every chain: a blank answer ends validation, with a message if one was due."""

    def __call__(self, form: Any, field: Any) -> None:
        """Stop at a blank answer (an error if required); stop quietly after a reading error."""
        if not field.is_blank():
            if field.errors:
                raise StopValidation()  # the answer could not be read: that message is enough
            return
        field.errors[:] = []
        if field.spec.required or required_if_applies(form, field.spec):
            raise StopValidation(messages.required(field.spec))
        raise StopValidation()


class KnownOption:
    """The choice is one the form offered (anything else came from a tampered request)."""

    def __call__(self, form: Any, field: Any) -> None:
        """Refuse a value outside the field's options."""
        if field.data not in field.allowed_values():
            raise StopValidation(messages.unknown_option(field.spec))


class TextLength:
    """The trimmed text is within the spec's minlength and maxlength."""

    def __call__(self, form: Any, field: Any) -> None:
        """Refuse text that is too short or too long."""
        spec: FieldSpec = field.spec
        length = len(field.text())
        if spec.minlength is not None and length < spec.minlength:
            raise ValidationError(messages.too_short(spec, spec.minlength))
        if spec.maxlength is not None and length > spec.maxlength:
            raise ValidationError(messages.too_long(spec, spec.maxlength))


class NoImagery:
    """The text carries no picture or video written out as text (workflow.text_imagery).

    Also usable on any WTForms text field outside task forms (reasons, notes).
    """

    def __call__(self, form: Any, field: Any) -> None:
        """Refuse text holding a data: address, or base64 or hex that decodes to imagery."""
        text = field.data if isinstance(field.data, str) else ""
        refusal = imagery_in_text(text)
        if refusal is not None:
            raise StopValidation(refusal)


class NumberRange:
    """The whole number is within the spec's min and max."""

    def __call__(self, form: Any, field: Any) -> None:
        """Refuse a number below min or above max."""
        spec: FieldSpec = field.spec
        number = field.typed_value()
        too_small = spec.min is not None and number < spec.min
        too_big = spec.max is not None and number > spec.max
        if too_small or too_big:
            raise ValidationError(messages.out_of_range(spec))


class AcceptableDocument:
    """The uploaded file is a document with no image or video in it (see forms.attachments)."""

    def __call__(self, form: Any, field: Any) -> None:
        """Read at most the size limit plus one byte, check it, and rewind for the caller."""
        upload = field.upload()
        start = upload.stream.tell()
        content = upload.stream.read(MAX_DOCUMENT_BYTES + 1)
        upload.stream.seek(start)
        try:
            check_document(upload.filename or "", content)
        except AttachmentRefused as refused:
            raise ValidationError(refused.message) from refused
