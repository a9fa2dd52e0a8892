"""Redaction for subject access exports: names withheld in every field, listed with reasons."""

from __future__ import annotations

from services.domain.children.redaction import Redactor, people_to_withhold


def redactor() -> Redactor:
    """The subject Ada Lovelace; another child Grace Hopper (and her sibling); a party; staff."""
    people = people_to_withhold(
        ["Grace Hopper", "Tom Lovelace", "Al Ng"], ["Karl Brandt, 19"], ["Dee Lead"]
    )
    return Redactor("Ada Lovelace", people)


def test_full_names_and_their_parts_are_withheld_whatever_the_case() -> None:
    r = redactor()
    text = "Ada said GRACE HOPPER sent it; grace then told Hopper's friend, and tom agreed."
    assert r.text(text, "here") == (
        "Ada said [another child] sent it; [another child] then told [another child]'s friend, "
        "and [another child] agreed."
    )
    assert {w.what for w in r.withheld} == {"the name of another child"}
    assert all(w.where == "here" and "personal data" in w.why for w in r.withheld)


def test_the_subjects_own_name_parts_stay_even_when_a_sibling_shares_them() -> None:
    r = redactor()
    assert r.text("Ada Lovelace and Tom Lovelace", "x") == "Ada Lovelace and [another child]"
    assert r.text("Lovelace family", "x") == "Lovelace family"


def test_parties_and_staff_are_withheld_by_their_full_name_only() -> None:
    r = redactor()
    assert r.text("Karl Brandt, 19 messaged her; Dee Lead met the parents", "x") == (
        "[third party] messaged her; [member of staff] met the parents"
    )
    assert r.text("the designated safeguarding lead", "x") == "the designated safeguarding lead"
    assert r.text("Al went home", "x") == "Al went home"  # too short to match alone


def test_every_string_in_nested_values_is_redacted_and_placed() -> None:
    r = redactor()
    value = {"a": ["Grace Hopper", {"b": "hopper"}], "n": 3, "ok": True}
    assert r.value(value, "step") == {
        "a": ["[another child]", {"b": "[another child]"}],
        "n": 3,
        "ok": True,
    }
    assert {w.where for w in r.withheld} == {"step, a", "step, a, b"}
