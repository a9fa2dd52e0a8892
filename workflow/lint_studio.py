"""Checks a draft gets beyond the engine's lint: lanes of known roles, DMN inputs set upstream."""

from __future__ import annotations

import ast
from collections.abc import Collection, Sequence

from lxml import etree

from workflow.errors import DiagramProblem
from workflow.lint_common import (
    CAMUNDA_NS,
    NS,
    DiagramFile,
    Element,
    bpmn_all,
    element_text,
    local_name,
)
from workflow.model import SourceFile
from workflow.xml_safety import is_dmn, line_of

# Names every expression may read without a task setting them (the sandbox's own helpers).
_ALWAYS_KNOWN = frozenset({"True", "False", "None"})


def check_studio_rules(
    trees: Sequence[tuple[SourceFile, etree._ElementTree]], task_roles: Collection[str]
) -> list[DiagramProblem]:
    """Lanes name roles that own tasks; DMN input variables are set by the process before."""
    bpmn = [DiagramFile(s.name, t) for s, t in trees if not is_dmn(t)]
    dmn = [DiagramFile(s.name, t) for s, t in trees if is_dmn(t)]
    problems = []
    for diagram in bpmn:
        problems += check_lane_roles(diagram, task_roles)
        problems += check_candidate_groups(diagram, task_roles)
        problems += check_decision_reasons(diagram)
    known = set().union(*(variables_set_by(d) for d in bpmn)) if bpmn else set()
    for diagram in dmn:
        problems += check_dmn_inputs(diagram, known)
    return problems


def check_lane_roles(diagram: DiagramFile, task_roles: Collection[str]) -> list[DiagramProblem]:
    """Every lane holding a user task is a role people hold (staff, dsl, headteacher ...)."""
    problems = []
    # One pass for the ids (a search per reference is quadratic in a hostile upload).
    user_tasks = {task.get("id", "") for task in bpmn_all(diagram.root, "userTask")}
    for lane in bpmn_all(diagram.root, "lane"):
        lane_id = lane.get("id", "")
        holds_task = any(
            element_text(ref).strip() in user_tasks for ref in lane.iterfind("bpmn:flowNodeRef", NS)
        )
        if holds_task and lane_id not in task_roles:
            problems.append(
                diagram.problem(
                    lane,
                    f"lane {lane_id!r} is not a role that does tasks (known: "
                    f"{', '.join(sorted(task_roles))}): set the lane's extension property "
                    "'role' to one of them",
                )
            )
    return problems


def check_candidate_groups(
    diagram: DiagramFile, task_roles: Collection[str]
) -> list[DiagramProblem]:
    """Candidate groups name roles that do tasks: others (admin, process_admin) act on no incident.

    Whoever holds a candidate group may do the task and read what it needs, as the lane's role.
    """
    problems = []
    for element in diagram.root.iter():
        groups = (
            element.get(f"{{{CAMUNDA_NS}}}candidateGroups")
            if isinstance(element.tag, str)
            else None
        )
        if not groups:
            continue
        for group in sorted({g.strip() for g in groups.split(",") if g.strip()} - set(task_roles)):
            problems.append(
                diagram.problem(
                    element,
                    f"candidate group {group!r} is not a role that does tasks (known: "
                    f"{', '.join(sorted(task_roles))}): remove it or name one of them",
                )
            )
    return problems


def check_decision_reasons(diagram: DiagramFile) -> list[DiagramProblem]:
    """GUIDANCE: every decision carries its reason.

    A form field with the property decision=true passes when its form always requires a text,
    or requires one (required_if) for each of its answers.
    """
    problems = []
    for task in bpmn_all(diagram.root, "userTask"):
        fields = list(task.iterfind(".//camunda:formField", NS))
        texts = [f for f in fields if f.get("type") == "string"]
        if any(_is_required(f) for f in texts):
            continue
        covered = {_property(f, "required_if") or "" for f in texts}
        for field in fields:
            if _property(field, "decision") != "true":
                continue
            if field.get("type") == "boolean":
                answers: list[str] = ["true", "false"]
            else:
                answers = [v.get("id", "") for v in field.iterfind("camunda:value", NS)]
            missing = [a for a in answers if f"{field.get('id')}:{a}" not in covered]
            if missing:
                problems.append(
                    DiagramProblem(
                        diagram.name,
                        line_of(field),
                        task.get("id", ""),
                        f"form field {field.get('id')!r}: is a decision but the form asks for "
                        f"no reason when it is {' or '.join(missing)}: add a text field with "
                        f"required_if '{field.get('id')}:{missing[0]}' (or one required text "
                        "field) for the reason",
                        task.get("name", ""),
                    )
                )
    return problems


def _property(field: Element, name: str) -> str | None:
    for prop in field.iterfind("camunda:properties/camunda:property", NS):
        if prop.get("id") == name or prop.get("name") == name:
            return prop.get("value", "")
    return None


def _is_required(field: Element) -> bool:
    return any(
        c.get("name") == "required"
        for c in field.iterfind("camunda:validation/camunda:constraint", NS)
    )


def variables_set_by(diagram: DiagramFile) -> set[str]:
    """Names a process sets: form field ids, script assignments and decision outputs."""
    names: set[str] = set()
    for form_field in diagram.root.iterfind(".//camunda:formField", NS):
        names.add(form_field.get("id", ""))
    for script in bpmn_all(diagram.root, "script"):
        names |= _assigned(element_text(script))
    for task in bpmn_all(diagram.root, "businessRuleTask"):
        names.add(task.get(f"{{{NS['camunda']}}}resultVariable", "") or "")
    return names


def check_dmn_inputs(diagram: DiagramFile, known: set[str]) -> list[DiagramProblem]:
    """Every variable a decision table's input reads is set by a task of the process."""
    problems = []
    outputs = {e.get("name", "") for e in diagram.root.iter() if _is(e, "output")}
    for column in (e for e in diagram.root.iter() if _is(e, "input")):
        expression = "".join(
            element_text(t)
            for t in column.iter()
            if _is(t, "text") and _is(t.getparent(), "inputExpression")
        )
        for name in sorted(_read_names(expression) - known - outputs - _ALWAYS_KNOWN):
            label = column.get("label", "") or column.get("id", "")
            problems.append(
                diagram.problem(
                    column,
                    f"input {label!r} reads {name!r}, which no task of the process sets: "
                    "add a form field with that id before the decision, or fix the expression",
                    label,
                )
            )
    return problems


def _is(element: Element | None, local: str) -> bool:
    return element is not None and isinstance(element.tag, str) and local_name(element) == local


def _read_names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return set()  # the engine's lint reports it
    bound = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            bound |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    names = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return names - bound - called


def _assigned(script: str) -> set[str]:
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return set()
    return {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
