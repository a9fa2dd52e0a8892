"""BPMN expression checks: conditions, scripts, timers and due dates, through the sandbox lint."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Literal

from workflow.errors import DiagramProblem
from workflow.lint_common import CAMUNDA_NS, NS, DiagramFile, Element, bpmn_all, element_text
from workflow.lint_iso8601 import (
    duration_days,
    is_date_time,
    is_duration,
    is_repeating_interval,
    looks_like_iso,
)
from workflow.sandbox import lint_expression
from workflow.xml_safety import line_of

Mode = Literal["eval", "exec"]

# What a quoted timer value must be, by where it sits: (test, what it is, an example).
_TIMER_VALUES: dict[str, tuple[Callable[[str], bool], str, str]] = {
    "timeDuration": (is_duration, "ISO 8601 duration", "'PT24H'"),
    "timeDate": (is_date_time, "ISO 8601 date-time", "'2025-09-01T09:00:00Z'"),
    "timeCycle": (is_repeating_interval, "ISO 8601 repeating interval", "'R3/PT1H'"),
    "dueDate": (
        lambda value: is_duration(value) or is_date_time(value),
        "ISO 8601 duration or date",
        "'P1D'",
    ),
}
_SHOWN_CHARACTERS = 60
# A timer or due date further off than this is a typing slip ('P99999Y' overflows the clock).
MAX_TIMER_YEARS = 10


def check_bpmn_expressions(diagram: DiagramFile) -> list[DiagramProblem]:
    """Every condition, script, timer and due date of the file is safe, valid Python."""
    problems = []
    for flow in bpmn_all(diagram.root, "sequenceFlow"):
        for condition in flow.iterfind("bpmn:conditionExpression", NS):
            if element_text(condition).strip():
                problems += lint_located(diagram, flow, condition, element_text(condition), "eval")
    for task in bpmn_all(diagram.root, "scriptTask"):
        script = task.find("bpmn:script", NS)
        if not element_text(script).strip():
            problems.append(
                diagram.problem(task, "script task has no script: add one or remove it")
            )
        elif script is not None:
            problems += lint_located(diagram, task, script, element_text(script), "exec")
    for kind in ("timeDuration", "timeDate", "timeCycle"):
        for timer in bpmn_all(diagram.root, kind):
            problems += _check_timer(diagram, _event_of(timer), timer, element_text(timer), kind)
    for task in bpmn_all(diagram.root, "userTask"):
        due = task.get(f"{{{CAMUNDA_NS}}}dueDate")
        if due is not None and due.strip():
            problems += _check_timer(diagram, task, task, due, "dueDate")
    return problems


def lint_located(
    diagram: DiagramFile,
    owner: Element,
    holder: Element,
    expression: str,
    mode: Mode,
    context: str = "",
    shown_as: str | None = None,
) -> list[DiagramProblem]:
    """Sandbox-lint one expression; problems name the owner's id and the holder's line."""
    what = "script" if mode == "exec" else "expression"
    text = shown(expression if shown_as is None else shown_as)
    issues = lint_expression(expression, mode=mode)
    if not issues:
        return []
    return [
        DiagramProblem(
            diagram.name,
            line_of(holder),
            owner.get("id", ""),
            f"{context}{what} {text}: {'; '.join(issues)}",
            owner.get("name", ""),
        )
    ]


def shown(expression: str) -> str:
    """The expression as quoted in a message, cut short when long."""
    flat = " ".join(expression.split())
    if len(flat) > _SHOWN_CHARACTERS:
        flat = flat[: _SHOWN_CHARACTERS - 3] + "..."
    return repr(flat)


def _event_of(timer: Element) -> Element:
    # timeDuration sits in a timerEventDefinition, whose parent is the event people see.
    definition = timer.getparent()
    event = definition.getparent() if definition is not None else None
    return event if event is not None else timer


def _check_timer(
    diagram: DiagramFile, owner: Element, holder: Element, expression: str, kind: str
) -> list[DiagramProblem]:
    def problem(message: str) -> list[DiagramProblem]:
        return [
            DiagramProblem(
                diagram.name, line_of(holder), owner.get("id", ""), message, owner.get("name", "")
            )
        ]

    what = "due date" if kind == "dueDate" else "timer"
    test, description, example = _TIMER_VALUES[kind]
    bare = expression.strip()
    if not bare:
        return problem(f'{what} has no expression: give a quoted {description}, e.g. "{example}"')
    if looks_like_iso(bare):
        return problem(
            f"{what} expression must be quoted, e.g. \"'P1D'\": write '{bare}' with the quotes "
            f"(unquoted, Python reads {bare} as code, not as an {description})"
        )
    linted = lint_located(diagram, owner, holder, expression, "eval", f"{what} ")
    if linted:
        return linted
    constant = _constant(bare)
    if constant is None and not _reads_variables(bare):
        # 'P9' + '9999Y' would pass unseen and fail every incident once it runs.
        return problem(
            f"{what} {shown(bare)} reads no answers, so write its value quoted, e.g. "
            f'"{example}": a computed constant cannot be checked before it runs'
        )
    if constant is None:
        return []  # an expression over variables: only its result can be checked, when it runs
    if not isinstance(constant.value, str) or not test(constant.value):
        return problem(
            f'{what} value {constant.value!r} is not a valid {description} (e.g. "{example}")'
        )
    return _check_range(constant.value, problem, what)


def _check_range(
    value: str, problem: Callable[[str], list[DiagramProblem]], what: str
) -> list[DiagramProblem]:
    durations = [part for part in value.split("/") if duration_days(part) is not None]
    for part in durations:
        days = duration_days(part) or 0.0
        if days > MAX_TIMER_YEARS * 365.25:
            return problem(
                f"{what} {part!r} is more than {MAX_TIMER_YEARS} years: "
                "give a duration of at most 10 years (e.g. 'P28D')"
            )
    return []


def _reads_variables(expression: str) -> bool:
    """Whether the expression reads a name other than a function it calls."""
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        return True  # the sandbox lint reports it
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return bool(names - called - {"True", "False", "None"})


def _constant(expression: str) -> ast.Constant | None:
    try:
        body = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return None
    return body if isinstance(body, ast.Constant) else None
