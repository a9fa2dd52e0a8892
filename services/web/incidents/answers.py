"""The answers of a completed step, ready for the incident page (words from forms.answers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from forms.answers import in_words, label_of
from workflow.model import CompletedStep, FieldSpec


@dataclass(frozen=True)
class Answer:
    """One answer of a completed step: the question and the answer's lines, ready to show."""

    label: str
    lines: tuple[str, ...]


def step_answers(step: CompletedStep, fields: Mapping[str, FieldSpec]) -> list[Answer]:
    """The step's answers in form order; questions left blank are left out."""
    answers: list[Answer] = []
    for key, value in step.data.items():
        if value is None or value == "":
            continue
        spec = fields.get(key)
        answers.append(
            Answer(label_of(key, spec), tuple(in_words(spec, value).splitlines() or [""]))
        )
    return answers
