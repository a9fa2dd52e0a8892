"""Lint a bundle of BPMN and DMN files: structure, forms, lanes, service tasks, expressions."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from workflow.errors import DiagramProblem
from workflow.lint_common import Bundle, DiagramFile, bpmn_all, elements, model_elements
from workflow.lint_dmn import check_dmn, decisions_of
from workflow.lint_expressions import check_bpmn_expressions
from workflow.lint_forms import check_forms
from workflow.lint_imagery import check_imagery
from workflow.lint_lanes import check_lanes
from workflow.lint_service_tasks import check_service_tasks
from workflow.lint_structure import (
    check_duplicate_ids,
    check_gateway_conditions,
    check_references,
    check_start_events,
    is_executable,
)
from workflow.model import SourceFile
from workflow.xml_safety import is_dmn, line_of


def lint_bundle(
    trees: Sequence[tuple[SourceFile, etree._ElementTree]],
) -> list[DiagramProblem]:
    """Structural and expression checks over a bundle of BPMN and DMN files; empty list = clean."""
    if not trees:
        return [DiagramProblem("", None, "", "no files uploaded: upload at least one .bpmn file")]
    bundle = Bundle()
    for source, tree in trees:
        diagram = DiagramFile(source.name, tree)
        (bundle.dmn if is_dmn(tree) else bundle.bpmn).append(diagram)
    problems = _collect_declared_ids(bundle)
    problems += _check_executable_process(bundle)
    for diagram in bundle.bpmn:
        problems += check_duplicate_ids(diagram)
        problems += check_references(diagram, bundle)
        problems += check_start_events(diagram)
        problems += check_gateway_conditions(diagram)
        problems += check_lanes(diagram)
        problems += check_forms(diagram)
        problems += check_service_tasks(diagram)
        problems += check_bpmn_expressions(diagram)
        problems += check_imagery(diagram)
    for diagram in bundle.dmn:
        problems += check_duplicate_ids(diagram)
        problems += check_dmn(diagram)
        problems += check_imagery(diagram)
    return sorted(problems, key=_reading_order)


def locate(tree: etree._ElementTree, file_name: str, element_id: str) -> tuple[int | None, str]:
    """Line number and name of the element with this id (for errors that come without a line).

    SpiffWorkflow's ValidationException, for one, names the element but not its line.
    """
    # file_name is accepted so callers can pass what they have; the tree alone decides.
    del file_name
    root = tree.getroot()
    # Model elements first: a Camunda property may reuse an id like "help".
    for candidates in (model_elements(root), elements(root)):
        for element in candidates:
            if element.get("id") == element_id:
                return line_of(element), element.get("name", "")
    return None, ""


def _reading_order(problem: DiagramProblem) -> tuple[str, int, str, str]:
    return (problem.file, problem.line or 0, problem.element_id, problem.message)


def _collect_declared_ids(bundle: Bundle) -> list[DiagramProblem]:
    """Fill in the ids files may use across the bundle; the same id in two files is a problem."""
    problems = []
    seen: dict[str, str] = {}
    for kind, files in (("process", bundle.bpmn), ("decision", bundle.dmn)):
        found = bundle.process_ids if kind == "process" else bundle.decision_ids
        for diagram in files:
            declared = (
                bpmn_all(diagram.root, "process") if kind == "process" else decisions_of(diagram)
            )
            for element in declared:
                element_id = element.get("id", "")
                if element_id in found:
                    problems.append(
                        diagram.problem(
                            element,
                            f"{kind} id {element_id!r} is also declared in {seen[element_id]}: "
                            "ids must be unique across the uploaded files",
                        )
                    )
                found.add(element_id)
                seen.setdefault(element_id, diagram.name)
    return problems


def _check_executable_process(bundle: Bundle) -> list[DiagramProblem]:
    if not bundle.bpmn:
        name = bundle.dmn[0].name if bundle.dmn else ""
        return [DiagramProblem(name, None, "", "no BPMN file in the upload: add the .bpmn process")]
    if any(is_executable(p) for d in bundle.bpmn for p in bpmn_all(d.root, "process")):
        return []
    first = bundle.bpmn[0]
    return [
        first.problem(
            first.root,
            'no executable process: add a process, or set isExecutable="true" on it '
            "(Camunda Modeler: the 'Executable' box of the process)",
        )
    ]
