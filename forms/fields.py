"""WTForms fields for each form-spec type: each knows its FieldSpec, when it was left blank and
the typed value it gives (what workflow.formdata.validate_submission expects).

WTForms ships no type information, so its classes are `Any` to mypy: hence the
`type: ignore[misc]` on each subclass.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import DateField, IntegerField, RadioField, SelectChoice, SelectField, StringField

from forms import messages
from workflow.model import FieldSpec

YES, NO = "true", "false"
# The words workflow.formdata reads as a boolean (in `required_if` values and defaults).
TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "off", "0"})
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")
_DIGITS = re.compile(r"[0-9]{1,4}")


class _Answer:
    """Mixin: keeps the field's spec, passed by the builder as `spec=`."""

    spec: FieldSpec

    def __init__(self, *args: Any, spec: FieldSpec, **kwargs: Any) -> None:
        self.spec = spec
        super().__init__(*args, **kwargs)  # the WTForms field next in the MRO


def normalise_text(value: str) -> str:
    """Trim the answer and count a line break as one character, as the character count does."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


class TextAnswerField(_Answer, StringField):  # type: ignore[misc]
    """A `string` answer: one line or, with a text-area widget, several."""

    def text(self) -> str:
        """The answer as it will be stored: trimmed, with \\n line breaks."""
        return normalise_text(self.data or "")

    def is_blank(self) -> bool:
        """True when nothing but white space was entered."""
        return not self.text()

    def typed_value(self) -> str | None:
        """The trimmed text, or None when blank."""
        return self.text() or None


class WholeNumberField(_Answer, IntegerField):  # type: ignore[misc]
    """A `long` answer, read from a text input (GOV.UK avoids type=number)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read "1,200" or " 42 " as a whole number; refuse anything else in GOV.UK words."""
        self.data = None
        if not valuelist:
            return
        text = str(valuelist[0]).strip().replace(",", "")
        if not text:
            return
        if not _WHOLE_NUMBER.fullmatch(text):
            raise ValueError(messages.not_whole_number(self.spec))
        self.data = int(text)

    def is_blank(self) -> bool:
        """True when no number was entered."""
        return self.data is None and not (self.raw_data and str(self.raw_data[0]).strip())

    def typed_value(self) -> int | None:
        """The whole number, or None."""
        return self.data if isinstance(self.data, int) else None


class YesNoField(_Answer, RadioField):  # type: ignore[misc]
    """A `boolean` answer as Yes/No radios, so that "No" is an answer and blank is not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        choices = [SelectChoice(YES, "Yes"), SelectChoice(NO, "No")]
        super().__init__(*args, choices=choices, validate_choice=False, **kwargs)

    def is_blank(self) -> bool:
        """True when neither Yes nor No was chosen."""
        return not self.data

    def allowed_values(self) -> tuple[str, ...]:
        """The values a browser can send."""
        return (YES, NO)

    def typed_value(self) -> bool | None:
        """True for Yes, False for No, None when unanswered."""
        return {YES: True, NO: False}.get(self.data or "")


class _OptionAnswer(_Answer):
    """Mixin for `enum` answers: the choices are the spec's options, stored by id."""

    data: Any

    def is_blank(self) -> bool:
        """True when no option was chosen."""
        return not self.data

    def allowed_values(self) -> tuple[str, ...]:
        """The option ids."""
        return tuple(option.id for option in self.spec.options)

    def typed_value(self) -> str | None:
        """The chosen option's id, or None."""
        return self.data if self.data in self.allowed_values() else None


def option_choices(spec: FieldSpec) -> list[Any]:
    """The spec's options as WTForms choices."""
    return [SelectChoice(option.id, option.label) for option in spec.options]


class OptionRadioField(_OptionAnswer, RadioField):  # type: ignore[misc]
    """An `enum` answer as radios (GOV.UK's default for a few options)."""

    def __init__(self, *args: Any, spec: FieldSpec, **kwargs: Any) -> None:
        choices = option_choices(spec)
        super().__init__(*args, spec=spec, choices=choices, validate_choice=False, **kwargs)


class OptionSelectField(_OptionAnswer, SelectField):  # type: ignore[misc]
    """An `enum` answer as a select box, with an empty first option so blank is possible."""

    def __init__(self, *args: Any, spec: FieldSpec, **kwargs: Any) -> None:
        choices = [SelectChoice("", "Choose an option"), *option_choices(spec)]
        super().__init__(*args, spec=spec, choices=choices, validate_choice=False, **kwargs)


class DayMonthYearField(_Answer, DateField):  # type: ignore[misc]
    """A `date` answer typed as day, month and year boxes (the GOV.UK date input)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, format="%d %m %Y", **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the three boxes; say which part is missing, or that the date is not real."""
        self.data = None
        self.raw_data = ([str(part) for part in valuelist] + ["", "", ""])[:3]
        parts = [part.strip() for part in self.raw_data]
        if not any(parts):
            return
        missing = tuple(
            name for name, part in zip(messages.MONTH_PARTS, parts, strict=True) if not part
        )
        if missing:
            raise ValueError(messages.date_incomplete(self.spec, missing))
        day, month, year = parts
        if not all(_DIGITS.fullmatch(part) for part in parts) or len(year) != 4:
            raise ValueError(messages.date_not_real(self.spec))
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError as problem:
            raise ValueError(messages.date_not_real(self.spec)) from problem

    def is_blank(self) -> bool:
        """True when all three boxes were left empty."""
        return self.data is None and not any(str(p).strip() for p in self.raw_data or ())

    def typed_value(self) -> str | None:
        """The date as ISO 'YYYY-MM-DD', or None."""
        return self.data.isoformat() if isinstance(self.data, date) else None


class DocumentField(_Answer, FileField):  # type: ignore[misc]
    """A `document` answer: one uploaded file, checked by content (never an image or video)."""

    def upload(self) -> FileStorage | None:
        """The uploaded file, or None when none was chosen."""
        return self.data if isinstance(self.data, FileStorage) and self.data else None

    def is_blank(self) -> bool:
        """True when no file was chosen."""
        return self.upload() is None

    def typed_value(self) -> str | None:
        """The uploaded file's name (the bytes are in `upload()`), or None."""
        upload = self.upload()
        return upload.filename if upload is not None else None
