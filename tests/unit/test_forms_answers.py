"""Answers in words, shared by the incident page and the record PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime

from forms.answers import date_time, in_words, label_of, long_date
from workflow.model import EnumOption, FieldSpec

ROUTE = FieldSpec(
    id="disclosure_route",
    type="enum",
    label="How did this come to light?",
    options=(EnumOption("child_told_staff", "A child told a member of staff"),),
)


def test_answers_read_as_words() -> None:
    assert in_words(None, True) == "Yes" and in_words(None, False) == "No"
    assert in_words(ROUTE, "child_told_staff") == "A child told a member of staff"
    assert (
        in_words(FieldSpec(id="d", type="date", label="Date"), "2026-09-07") == "7 September 2026"
    )
    assert in_words(None, ["adult_involved", "", "coercion_or_grooming"]) == (
        "adult_involved, coercion_or_grooming"
    )
    assert in_words(None, None) == ""


def test_a_value_without_a_form_is_labelled_by_its_name() -> None:
    assert label_of("referral_criteria", None) == "Referral criteria"
    assert label_of("disclosure_route", ROUTE) == "How did this come to light?"


def test_dates_and_times_read_in_uk_time() -> None:
    assert long_date(date(2026, 12, 25)) == "25 December 2026"
    assert long_date("not a date") == "not a date"
    summer = datetime(2026, 9, 7, 8, 5, tzinfo=UTC)  # 9:05am in London (BST)
    assert date_time(summer) == "7 September 2026 at 9:05am"
    assert date_time(None) == ""
