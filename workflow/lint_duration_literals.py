"""The durations written inside a timer or due date that reads answers: each within 10 years.

The engine's lint checks a quoted constant ("'P1D'") and leaves an expression over answers to
be checked when it runs; but the quoted durations such an expression chooses between
("'P99999Y' if urgent else 'P1D'") are known now, and one past the clock fails every incident
that takes it. A duration that an answer supplies itself stays a run-time failure naming the task.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from workflow.errors import DiagramProblem
from workflow.lint_common import CAMUNDA_NS, NS, DiagramFile, Element, bpmn_all, element_text
from workflow.lint_expressions import MAX_TIMER_YEARS
from workflow.lint_iso8601 import duration_days
from workflow.xml_safety import line_of

_TIMER_KINDS = ("timeDuration", "timeDate", "timeCycle")


def check_duration_literals(diagram: DiagramFile) -> list[DiagramProblem]:
    """Every duration a timer or due date expression can give is at most 10 years.

    That is every quoted duration in it, and every duration among the choices of a form field
    it reads (a deadline picked from a list: "P1D", "P5D" ... or "P99999Y").
    """
    choices = _choices(diagram)
    problems = []
    for owner, holder, expression, what in _timed(diagram):
        for value in _durations_in(expression, choices):
            days = duration_days(value) or 0.0
            if days > MAX_TIMER_YEARS * 365.25:
                problems.append(
                    DiagramProblem(
                        diagram.name,
                        line_of(holder),
                        owner.get("id", ""),
                        f"{what} {expression.strip()[:60]!r} can give {value!r}, more than "
                        f"{MAX_TIMER_YEARS} years: give a duration of at most 10 years "
                        "(e.g. 'P28D')",
                        owner.get("name", ""),
                    )
                )
    return problems


def _timed(diagram: DiagramFile) -> Iterator[tuple[Element, Element, str, str]]:
    for kind in _TIMER_KINDS:
        for timer in bpmn_all(diagram.root, kind):
            definition = timer.getparent()
            event = definition.getparent() if definition is not None else None
            yield (event if event is not None else timer), timer, element_text(timer), "timer"
    for task in bpmn_all(diagram.root, "userTask"):
        due = task.get(f"{{{CAMUNDA_NS}}}dueDate")
        if due and due.strip():
            yield task, task, due, "due date"


def _choices(diagram: DiagramFile) -> dict[str, list[str]]:
    """Each list field's choices (camunda:value ids), by field id."""
    found: dict[str, list[str]] = {}
    for field in diagram.root.iterfind(".//camunda:formField", NS):
        values = [v.get("id", "") for v in field.iterfind("camunda:value", NS)]
        found.setdefault(field.get("id", ""), []).extend(values)
    return found


def _durations_in(expression: str, choices: dict[str, list[str]]) -> list[str]:
    """The durations an expression can give: its quoted ones and its list fields' choices."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # the engine's lint reports it
    if isinstance(tree.body, ast.Constant):
        return []  # a quoted constant: the engine's lint checks it, with its own message
    texts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            texts += choices.get(node.id, [])
    return [part for text in texts for part in text.split("/") if duration_days(part) is not None]
