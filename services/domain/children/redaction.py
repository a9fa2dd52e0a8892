"""Redact names from text for a subject access export, listing what was withheld and why.

Pure: given the names to withhold (each with the label that replaces it and the reason), it
replaces whole-word matches, ignoring case, in any JSON value: full names first, then (for
children) each part of a name that is not part of the subject's own (siblings share a surname).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MIN_PART = 3  # shorter name parts ("Al", "Jo") match too many words to be told apart


@dataclass(frozen=True)
class Withheld:
    """One thing withheld from the export: what kind, where, and why."""

    what: str  # e.g. "the name of another child"
    where: str  # e.g. "incident DS-2026-0001, Hold the initial review meeting, what_is_known"
    why: str


@dataclass(frozen=True)
class Person:
    """A name to withhold, what replaces it, and the reason."""

    name: str
    label: str  # e.g. "[another child]"
    what: str
    why: str
    parts_too: bool = False  # also each part of the name alone (children's first names)


@dataclass
class Redactor:
    """Replaces the names of everyone but the subject, and remembers what it withheld."""

    subject_name: str
    people: list[Person]
    withheld: list[Withheld] = field(default_factory=list)
    _patterns: list[tuple[re.Pattern[str], Person]] = field(default_factory=list)

    def __post_init__(self) -> None:
        own = {part.casefold() for part in self.subject_name.split()}
        full: list[tuple[str, Person]] = []
        parts: list[tuple[str, Person]] = []
        for person in self.people:
            name = " ".join(person.name.split())
            if not name or name.casefold() == " ".join(self.subject_name.split()).casefold():
                continue
            full.append((name, person))
            for part in name.split() if person.parts_too else ():
                if len(part) >= MIN_PART and part.casefold() not in own:
                    parts.append((part, person))
        # Longest first, so "Ada Lovelace" goes before "Ada".
        for text, person in sorted(full + parts, key=lambda item: -len(item[0])):
            pattern = re.compile(rf"(?<!\w){re.escape(text)}(?!\w)", re.IGNORECASE)
            self._patterns.append((pattern, person))

    def text(self, value: str, where: str) -> str:
        """The text with every withheld name replaced by its label."""
        for pattern, person in self._patterns:
            value, count = pattern.subn(person.label, value)
            if count:
                self.withheld.append(Withheld(person.what, where, person.why))
        return value

    def value(self, value: Any, where: str) -> Any:
        """Any JSON value with its strings redacted (keys are field ids, kept as they are)."""
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, list):
            return [self.value(item, where) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item, f"{where}, {key}") for key, item in value.items()}
        return value


def people_to_withhold(
    children: Iterable[str], parties: Iterable[str], staff: Iterable[str]
) -> list[Person]:
    """Other children, adults named as parties, and staff, each with their label and reason."""
    return (
        [
            Person(
                name,
                "[another child]",
                "the name of another child",
                "another child's personal data (UK GDPR Article 15(4); DPA 2018 Sch. 2 Part 3)",
                parts_too=True,
            )
            for name in children
        ]
        + [
            Person(
                name,
                "[third party]",
                "a third party's details",
                "a third party's personal data, disclosed without their consent",
            )
            for name in parties
        ]
        + [
            Person(
                name,
                "[member of staff]",
                "the name of a member of staff",
                "a third party's personal data (staff name)",
            )
            for name in staff
        ]
    )
