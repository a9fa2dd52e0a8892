"""DMN checks: one decision table per file, well-shaped rules, and every cell safe Python."""

from __future__ import annotations

import ast
import re

from workflow.errors import DiagramProblem
from workflow.lint_common import DiagramFile, Element, element_text, local_name
from workflow.lint_expressions import lint_located

# SpiffWorkflow's DMNEngine replaces a '?' standing outside quotes with the input's value
# ("4 < ? < 6"); this mirrors that substitution so the linted text is the text that will run.
_QUESTION_MARK_OUTSIDE_QUOTES = re.compile(r"\?(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")
_INPUT_VALUE = "dmninputexpr"
_ANY = ("", "-")


def check_dmn(diagram: DiagramFile) -> list[DiagramProblem]:
    """Check a DMN file the way SpiffWorkflow will read and run it."""
    decisions = _children(diagram.root, "decision")
    if not decisions:
        return [diagram.problem(diagram.root, "DMN file has no decision: add a decision table")]
    problems = [
        diagram.problem(
            extra,
            f"SpiffWorkflow reads one decision per DMN file: move decision {extra.get('id')!r} "
            "into a file of its own",
        )
        for extra in decisions[1:]
    ]
    tables = _children(decisions[0], "decisionTable")
    if not tables:
        problems.append(
            diagram.problem(decisions[0], "decision has no decision table (only tables are run)")
        )
        return problems
    return problems + _check_table(diagram, tables[0])


def decisions_of(diagram: DiagramFile) -> list[Element]:
    """The decisions the DMN file declares (SpiffWorkflow uses the first)."""
    return _children(diagram.root, "decision")


def _children(parent: Element, local: str) -> list[Element]:
    return [child for child in parent if isinstance(child.tag, str) and local_name(child) == local]


def _child_text(parent: Element, local: str) -> str:
    found = _children(parent, local)
    return element_text(found[0]) if found else ""


def _first_descendant(parent: Element, *path: str) -> Element | None:
    found: Element | None = parent
    for local in path:
        if found is None:
            return None
        found = next(iter(_children(found, local)), None)
    return found


def _check_table(diagram: DiagramFile, table: Element) -> list[DiagramProblem]:
    inputs = _children(table, "input")
    outputs = _children(table, "output")
    problems: list[DiagramProblem] = []
    input_expressions: list[str | None] = []
    for column in inputs:
        holder = _first_descendant(column, "inputExpression", "text")
        expression = element_text(holder)
        label = column.get("label", "") or column.get("id", "")
        if not expression.strip():
            problems.append(
                diagram.problem(
                    column, f"input {label!r} has no expression: set it (e.g. 'age')", label
                )
            )
            input_expressions.append(None)
            continue
        problems += lint_located(
            diagram,
            column,
            column if holder is None else holder,
            expression,
            "eval",
            f"input {label!r} ",
        )
        input_expressions.append(expression)
    for column in outputs:
        if not (column.get("name") or column.get("label")):
            problems.append(
                diagram.problem(
                    column, "output has no name: set the variable the result is stored in"
                )
            )
    for row, rule in enumerate(_children(table, "rule"), start=1):
        problems += _check_rule(diagram, rule, row, inputs, outputs, input_expressions)
    return problems


def _check_rule(
    diagram: DiagramFile,
    rule: Element,
    row: int,
    inputs: list[Element],
    outputs: list[Element],
    input_expressions: list[str | None],
) -> list[DiagramProblem]:
    where = f"row {row} (rule {rule.get('id', '?')})"
    input_entries = _children(rule, "inputEntry")
    output_entries = _children(rule, "outputEntry")
    if len(input_entries) != len(inputs) or len(output_entries) != len(outputs):
        return [
            diagram.problem(
                rule,
                f"{where} has {len(input_entries)} input and {len(output_entries)} output cells; "
                f"the table has {len(inputs)} inputs and {len(outputs)} outputs",
            )
        ]
    problems: list[DiagramProblem] = []
    for cell, column, input_expression in zip(
        input_entries, inputs, input_expressions, strict=True
    ):
        text = _child_text(cell, "text")
        if text.strip() in _ANY or input_expression is None:
            continue
        label = column.get("label", "") or column.get("id", "")
        problems += lint_located(
            diagram,
            cell,
            cell,
            match_expression(input_expression, text),
            "eval",
            f"{where}, input {label!r}: ",
            shown_as=text,
        )
    for cell, column in zip(output_entries, outputs, strict=True):
        text = _child_text(cell, "text")
        if text.strip():
            label = column.get("name", "") or column.get("label", "")
            context = f"{where}, output {label!r}: "
            problems += lint_located(diagram, cell, cell, text, "eval", context)
    return problems


def match_expression(input_expression: str, entry: str) -> str:
    """The Python expression SpiffWorkflow's DMNEngine evaluates for one input cell."""
    substituted = _QUESTION_MARK_OUTSIDE_QUOTES.sub(_INPUT_VALUE, entry)
    if _INPUT_VALUE in substituted:
        return substituted  # run with the input's value bound to dmninputexpr
    try:
        ast.parse(entry)
    except SyntaxError:
        # An entry that is not an expression on its own ("> 3") is appended to the input.
        return f"{input_expression}{entry}"
    return f"({input_expression}) == ({entry})"
