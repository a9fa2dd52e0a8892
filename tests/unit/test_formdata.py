"""Submitted answers are typed and checked against the task's form; simulation fills the gaps."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from workflow.errors import TaskDataInvalid
from workflow.formdata import placeholder_data, validate_submission
from workflow.model import EnumOption, FieldSpec, FormSpec

FORM = FormSpec(
    key="initial_review",
    fields=(
        FieldSpec("summary", "string", "Summary", required=True, minlength=3, maxlength=10),
        FieldSpec("age", "long", "Age", min=4, max=19),
        FieldSpec("inform_parents", "boolean", "Inform parents?", required=True, is_decision=True),
        FieldSpec(
            "reason",
            "string",
            "Why not?",
            minlength=5,
            required_if=("inform_parents", "false"),
        ),
        FieldSpec(
            "route",
            "enum",
            "Route",
            options=(EnumOption("in_house", "In house"), EnumOption("refer", "Refer")),
        ),
        FieldSpec("deadline", "date", "Delete by"),
        FieldSpec("police_ref", "string", "Police reference", required_if=("route", "refer")),
    ),
)
GOOD = {"summary": "shared", "inform_parents": "true"}


def errors_of(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(TaskDataInvalid) as caught:
        validate_submission(FORM, data)
    assert caught.value.task_bpmn_id == "initial_review"
    return caught.value.errors


def test_html_strings_are_typed_and_missing_optional_fields_are_none() -> None:
    html = {**GOOD, "age": " 12 ", "route": "in_house", "deadline": "2026-02-01", "reason": ""}
    assert validate_submission(FORM, html) == {
        "summary": "shared",
        "age": 12,
        "inform_parents": True,
        "reason": None,
        "route": "in_house",
        "deadline": date(2026, 2, 1),
        "police_ref": None,
    }


def test_json_values_are_accepted_as_they_are() -> None:
    values = validate_submission(
        FORM, {"summary": "shared", "age": 7, "inform_parents": False, "reason": "at risk"}
    )
    assert (values["age"], values["inform_parents"], values["reason"]) == (7, False, "at risk")
    assert validate_submission(FORM, {**GOOD, "deadline": date(2026, 3, 1)})["deadline"] == date(
        2026, 3, 1
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("summary", "ab", "at least 3 characters"),
        ("summary", "x" * 11, "10 characters or fewer"),
        ("summary", 5, "must be text"),
        ("age", "3", "4 or more"),
        ("age", 20, "19 or less"),
        ("age", "1.5", "whole number"),
        ("age", True, "whole number"),
        ("inform_parents", "maybe", "yes or no"),
        ("route", "police", "one of in_house, refer"),
        ("deadline", "2026-02-30", "real date"),
        ("deadline", "01/02/2026", "real date"),
    ],
)
def test_each_bad_value_is_named_with_its_field(field: str, value: Any, message: str) -> None:
    errors = errors_of({**GOOD, field: value})
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_missing_required_unknown_keys_and_required_if_are_all_reported_at_once() -> None:
    errors = errors_of({"inform_parents": "false", "route": "refer", "photo": "x.jpg"})
    assert errors == {
        "photo": ["is not a field of this form"],
        "summary": ["is required"],
        "reason": ["is required when 'Inform parents?' is false"],
        "police_ref": ["is required when 'Route' is refer"],
    }


def test_required_if_is_quiet_when_its_condition_does_not_hold() -> None:
    assert validate_submission(FORM, {**GOOD, "route": "in_house"})["reason"] is None
    assert validate_submission(FORM, {**GOOD, "inform_parents": True})["police_ref"] is None


def test_placeholders_fill_required_and_triggered_fields_and_then_validate() -> None:
    filled = placeholder_data(FORM, {"route": "refer"})
    assert filled == {
        "route": "refer",
        "summary": "xxx",
        "inform_parents": False,
        "reason": "xxxxx",
        "police_ref": "x",
    }
    assert validate_submission(FORM, filled)["reason"] == "xxxxx"


def test_placeholders_keep_what_was_given_and_cover_every_type() -> None:
    form = FormSpec(
        key="t",
        fields=(
            FieldSpec("n", "long", "N", required=True, min=3),
            FieldSpec("m", "long", "M", required=True, max=-2),
            FieldSpec("e", "enum", "E", required=True, options=(EnumOption("a", "A"),)),
            FieldSpec("d", "date", "D", required=True),
            FieldSpec("s", "string", "S", required=True),
            FieldSpec("optional", "string", "O"),
        ),
    )
    filled = placeholder_data(form, {"s": "given"})
    assert filled == {"s": "given", "n": 3, "m": -2, "e": "a", "d": "2000-01-01"}
    assert validate_submission(form, filled)["d"] == date(2000, 1, 1)


def test_a_document_field_keeps_only_a_plain_file_name() -> None:
    form = FormSpec(
        key="upload_letter",
        fields=(FieldSpec(id="referral_letter", type="document", label="Letter", required=True),),
    )
    assert validate_submission(form, {"referral_letter": " letter.pdf "}) == {
        "referral_letter": "letter.pdf"
    }
    for bad in ("../etc/passwd", "a\\b.pdf", 42):
        with pytest.raises(TaskDataInvalid) as caught:
            validate_submission(form, {"referral_letter": bad})
        assert "referral_letter" in caught.value.errors
    assert placeholder_data(form, {}) == {"referral_letter": "placeholder.pdf"}


@pytest.mark.parametrize("text", ["before\x00after", "broken \ud800 unicode"])
def test_text_that_cannot_be_stored_is_a_field_error(text: str) -> None:
    form = FormSpec(key="k", fields=(FieldSpec(id="notes", type="string", label="Notes"),))
    with pytest.raises(TaskDataInvalid) as caught:
        validate_submission(form, {"notes": text})
    assert "cannot be stored" in caught.value.errors["notes"][0]
