"""Structural checks of BPMN files: unique ids, references that resolve, start events, gateways."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from workflow.errors import DiagramProblem
from workflow.lint_common import (
    CAMUNDA_NS,
    NS,
    Bundle,
    DiagramFile,
    Element,
    bpmn_all,
    element_text,
    local_name,
    model_elements,
)
from workflow.xml_safety import line_of

# (element, attribute, local name the target must have or "" for any element, required?)
_ATTRIBUTE_REFERENCES: tuple[tuple[str, str, str, bool], ...] = (
    ("sequenceFlow", "sourceRef", "", True),
    ("sequenceFlow", "targetRef", "", True),
    ("messageFlow", "sourceRef", "", True),
    ("messageFlow", "targetRef", "", True),
    ("association", "sourceRef", "", False),
    ("association", "targetRef", "", False),
    ("boundaryEvent", "attachedToRef", "", True),
    ("messageEventDefinition", "messageRef", "message", False),
    ("receiveTask", "messageRef", "message", False),
    ("sendTask", "messageRef", "message", False),
    ("signalEventDefinition", "signalRef", "signal", False),
    ("errorEventDefinition", "errorRef", "error", False),
    ("escalationEventDefinition", "escalationRef", "escalation", False),
    ("participant", "processRef", "process", False),
)
# Child elements whose text is an id: (parent, child, local name the target must have).
_TEXT_REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("lane", "flowNodeRef", ""),
    ("*", "incoming", "sequenceFlow"),
    ("*", "outgoing", "sequenceFlow"),
)
_CHOICE_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")


def ids_by_element(diagram: DiagramFile) -> dict[str, Element]:
    """The first element carrying each id in the file."""
    found: dict[str, Element] = {}
    for element in model_elements(diagram.root):
        found.setdefault(element.get("id", ""), element)
    return found


def check_duplicate_ids(diagram: DiagramFile) -> list[DiagramProblem]:
    """Each model id may appear once in a file."""
    problems = []
    first: dict[str, Element] = {}
    for element in model_elements(diagram.root):
        element_id = element.get("id", "")
        if element_id in first:
            problems.append(
                diagram.problem(
                    element,
                    f"duplicate id {element_id!r}: also used at line "
                    f"{line_of(first[element_id])}; give each element its own id",
                )
            )
        else:
            first[element_id] = element
    return problems


def check_references(diagram: DiagramFile, bundle: Bundle) -> list[DiagramProblem]:
    """Every id an element points at names an element of the right kind."""
    known = ids_by_element(diagram)
    problems = []
    for tag, attribute, kind, required in _ATTRIBUTE_REFERENCES:
        for element in bpmn_all(diagram.root, tag):
            target = element.get(attribute)
            if target is None or target == "":
                if required:
                    problems.append(diagram.problem(element, f"{tag} has no {attribute}: set it"))
                continue
            problems.extend(_unresolved(diagram, known, element, element, attribute, target, kind))
    for parent, child, kind in _TEXT_REFERENCES:
        for element in diagram.root.iterfind(f".//bpmn:{parent}/bpmn:{child}", NS):
            holder = element.getparent()
            if holder is None:
                continue
            target = element_text(element)
            problems.extend(_unresolved(diagram, known, holder, element, child, target, kind))
    problems.extend(_check_defaults(diagram, known))
    problems.extend(_check_call_activities(diagram, bundle))
    problems.extend(_check_decision_refs(diagram, bundle))
    return problems


def _unresolved(
    diagram: DiagramFile,
    known: dict[str, Element],
    element: Element,
    line_from: Element,
    attribute: str,
    target: str,
    kind: str,
) -> list[DiagramProblem]:
    found = known.get(target)
    if found is None:
        where = f"no bpmn:{kind}" if kind else "no element"
        message = f"unknown reference: {attribute} {target!r} names {where} in this file"
    elif kind and local_name(found) != kind:
        message = (
            f"unknown reference: {attribute} {target!r} names a {local_name(found)}, "
            f"not a bpmn:{kind}"
        )
    else:
        return []
    problem = diagram.problem(element, message)
    return [replace(problem, line=line_of(line_from))]


def _outgoing_flows(diagram: DiagramFile) -> dict[str, list[Element]]:
    outgoing: dict[str, list[Element]] = defaultdict(list)
    for flow in bpmn_all(diagram.root, "sequenceFlow"):
        outgoing[flow.get("sourceRef", "")].append(flow)
    return outgoing


def _check_defaults(diagram: DiagramFile, known: dict[str, Element]) -> list[DiagramProblem]:
    outgoing = _outgoing_flows(diagram)
    problems = []
    for element in known.values():
        default = element.get("default")
        if default is None:
            continue
        own_flows = {flow.get("id") for flow in outgoing[element.get("id", "")]}
        if default not in own_flows:
            problems.append(
                diagram.problem(
                    element,
                    f"unknown reference: default flow {default!r} is not an outgoing sequence "
                    f"flow of {element.get('id')!r}; pick one of its outgoing flows",
                )
            )
    return problems


def _check_call_activities(diagram: DiagramFile, bundle: Bundle) -> list[DiagramProblem]:
    problems = []
    for call in bpmn_all(diagram.root, "callActivity"):
        called = call.get("calledElement", "")
        if not called:
            problems.append(diagram.problem(call, "call activity has no calledElement: set it"))
        elif called not in bundle.process_ids:
            problems.append(
                diagram.problem(
                    call,
                    f"unknown reference: calledElement {called!r} names no process in the "
                    f"uploaded BPMN files (known: {_listing(bundle.process_ids)})",
                )
            )
    return problems


def _check_decision_refs(diagram: DiagramFile, bundle: Bundle) -> list[DiagramProblem]:
    problems = []
    for task in bpmn_all(diagram.root, "businessRuleTask"):
        decision = task.get(f"{{{CAMUNDA_NS}}}decisionRef", "")
        if not decision:
            problems.append(
                diagram.problem(
                    task, "business rule task has no camunda:decisionRef: name a DMN decision id"
                )
            )
        elif decision not in bundle.decision_ids:
            problems.append(
                diagram.problem(
                    task,
                    f"unknown reference: camunda:decisionRef {decision!r} matches no decision "
                    f"in the uploaded DMN files (known: {_listing(bundle.decision_ids)})",
                )
            )
    return problems


def _listing(ids: set[str]) -> str:
    return ", ".join(sorted(ids)) if ids else "none"


def check_start_events(diagram: DiagramFile) -> list[DiagramProblem]:
    """Each executable process and each embedded sub-process needs a start event."""
    problems = []
    for process in bpmn_all(diagram.root, "process"):
        if is_executable(process) and not _children(process, "startEvent"):
            problems.append(
                diagram.problem(process, "process has no start event: add a start event")
            )
    for sub in bpmn_all(diagram.root, "subProcess"):
        if not _children(sub, "startEvent"):
            problems.append(diagram.problem(sub, "sub-process has no start event: add one"))
    return problems


def is_executable(process: Element) -> bool:
    """SpiffWorkflow treats a process as executable unless it says isExecutable="false"."""
    return process.get("isExecutable", "true") == "true"


def _children(parent: Element, local: str) -> list[Element]:
    return [child for child in parent if isinstance(child.tag, str) and local_name(child) == local]


def check_gateway_conditions(diagram: DiagramFile) -> list[DiagramProblem]:
    """A choosing gateway with several outgoing flows needs a condition or default on each."""
    outgoing = _outgoing_flows(diagram)
    problems = []
    for tag in _CHOICE_GATEWAYS:
        for gateway in bpmn_all(diagram.root, tag):
            flows = outgoing[gateway.get("id", "")]
            if len(flows) < 2:
                continue
            default = gateway.get("default")
            bare = [
                flow.get("id", "?")
                for flow in flows
                if flow.get("id") != default and not _condition_text(flow).strip()
            ]
            if bare:
                problems.append(
                    diagram.problem(
                        gateway,
                        f"gateway without conditions: outgoing flow(s) {', '.join(bare)} have no "
                        "condition and are not the default; add a condition to each, or make "
                        "one of them the gateway's default flow",
                    )
                )
    return problems


def _condition_text(flow: Element) -> str:
    return "".join(element_text(c) for c in _children(flow, "conditionExpression"))
