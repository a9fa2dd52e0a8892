"""The answers of a completed step, ready for the incident page (words from forms.answers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from forms.answers import decision_output_in_words, in_words, label_of
from workflow.model import CompletedStep, FieldSpec


@dataclass(frozen=True)
class Answer:
    """One answer of a completed step: the question and the answer's lines, ready to show."""

    label: str
    lines: tuple[str, ...]


def step_answers(
    step: CompletedStep,
    fields: Mapping[str, FieldSpec],
    labels: Mapping[str, str] | None = None,
) -> list[Answer]:
    """The step's answers in form order; questions left blank are left out.

    A decision table's step (no form) shows each output in words: its COLLECT list of
    per-rule flags is one Yes/No, and criteria ids are their labels (`labels`).
    """
    answers: list[Answer] = []
    for key, value in step.data.items():
        if value is None or value == "":
            continue
        spec = fields.get(key)
        if step.form is None:
            text = decision_output_in_words(key, value, labels)
        else:
            text = in_words(spec, value)
        answers.append(Answer(label_of(key, spec), tuple(text.splitlines() or [""])))
    return answers
