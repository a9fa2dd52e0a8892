"""The shape of a process as people read it: elements, flows, the path taken, what can follow.

Read from a definition's own BPMN/DMN sources with the safe XML parser (nothing runs); used to
put an incident's path on the diagram and to say in words what may happen next.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from workflow.definition import Definition
from workflow.model import SourceFile
from workflow.step_readers import READERS_PROPERTY, ReadersProblem, role_list
from workflow.xml_safety import BPMN_NS, is_dmn, parse_xml

# Elements where work waits for someone or something: what "can follow" lists.
TASK_KINDS = frozenset(
    {"userTask", "serviceTask", "manualTask", "sendTask", "receiveTask", "callActivity"}
)
_NON_NODES = frozenset(
    {
        "sequenceFlow",
        "laneSet",
        "lane",
        "documentation",
        "extensionElements",
        "incoming",
        "outgoing",
        "flowNodeRef",
        "textAnnotation",
        "association",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
    }
)
_QUOTED = re.compile(r"^\s*(['\"])([^'\"]+)\1\s*$")


@dataclass(frozen=True)
class Element:
    """One flow node of the process: id, name, BPMN kind (local tag), lane, boundary host."""

    id: str
    name: str
    kind: str
    lane: str = ""
    attached_to: str = ""  # for boundary events: the task they sit on


@dataclass(frozen=True)
class Flow:
    """One sequence flow."""

    id: str
    source: str
    target: str
    name: str = ""


@dataclass(frozen=True)
class ProcessGraph:
    """The elements and flows of one executable process."""

    process_id: str
    elements: dict[str, Element]
    flows: tuple[Flow, ...]

    def outgoing(self, element_id: str) -> list[Flow]:
        """The flows leaving an element, in document order."""
        return [flow for flow in self.flows if flow.source == element_id]

    def boundary_events(self, element_id: str) -> list[Element]:
        """The boundary events attached to a task."""
        return [e for e in self.elements.values() if e.attached_to == element_id]

    def name_of(self, element_id: str) -> str:
        """An element's name, or its id when it has none."""
        element = self.elements.get(element_id)
        return (element.name if element is not None else "") or element_id


def graph_of(definition: Definition) -> ProcessGraph:
    """The process graph of a definition (cached by its digest: versions never change)."""
    return _graph(definition.digest, definition.sources, definition.process_id)


@lru_cache(maxsize=32)
def _graph(digest: str, sources: tuple[SourceFile, ...], process_id: str) -> ProcessGraph:
    for source in sources:
        tree = parse_xml(source)
        if is_dmn(tree):
            continue
        for process in tree.getroot().iter(f"{{{BPMN_NS}}}process"):
            if process.get("id") == process_id:
                return _read_process(process)
    return ProcessGraph(process_id, {}, ())


def _read_process(process: etree._Element) -> ProcessGraph:
    lanes: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("id", "")
    elements: dict[str, Element] = {}
    flows: list[Flow] = []
    for node in process.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
            continue
        kind = etree.QName(node).localname
        node_id = node.get("id")
        if node_id is None or node is process:
            continue
        if kind == "sequenceFlow":
            flows.append(
                Flow(
                    node_id,
                    node.get("sourceRef", ""),
                    node.get("targetRef", ""),
                    node.get("name", ""),
                )
            )
        elif kind not in _NON_NODES and not kind.endswith("EventDefinition"):
            elements[node_id] = Element(
                node_id,
                node.get("name", ""),
                kind,
                lanes.get(node_id, ""),
                node.get("attachedToRef", ""),
            )
    return ProcessGraph(process.get("id", ""), elements, tuple(flows))


def path_taken(graph: ProcessGraph, taken: Iterable[tuple[str, str]]) -> list[str]:
    """Element and flow ids travelled, in the order they were reached from the start.

    `taken` is the engine's (source, target) pairs; a boundary event taken is listed after
    the task it sits on. Each id appears once, even where the path looped back.
    """
    pairs = set(taken)
    flows_by_pair = {(f.source, f.target): f for f in graph.flows}
    next_of: dict[str, list[tuple[str | None, str]]] = {}
    for source, target in pairs:
        flow = flows_by_pair.get((source, target))
        next_of.setdefault(source, []).append((flow.id if flow else None, target))
    targets = {target for _, target in pairs}
    starts = [
        e.id for e in graph.elements.values() if e.kind == "startEvent" and e.id not in targets
    ]
    starts += [s for s in sorted(next_of) if s not in targets and s not in starts]
    order: list[str] = []
    seen: set[str] = set()
    queue: deque[str] = deque(s for s in starts if s in next_of or s in targets)
    while queue:
        element = queue.popleft()
        if element in seen:
            continue
        seen.add(element)
        order.append(element)
        for flow_id, target in sorted(next_of.get(element, []), key=_document_order(graph)):
            if flow_id is not None and flow_id not in seen:
                seen.add(flow_id)
                order.append(flow_id)
            queue.append(target)
    return order


def _document_order(graph: ProcessGraph):  # type: ignore[no-untyped-def]
    index = {f.id: i for i, f in enumerate(graph.flows)}

    def key(item: tuple[str | None, str]) -> tuple[int, str]:
        return (index.get(item[0] or "", len(index)), item[1])

    return key


def next_possible(graph: ProcessGraph, waiting: Sequence[str]) -> list[str]:
    """Task ids that can come after the waiting elements (through gateways, scripts, events).

    A waiting task's own boundary events count (a timer may fire); the waiting tasks
    themselves are not listed. Ends reached on the way add nothing.
    """
    found: list[str] = []
    seen: set[str] = set(waiting)
    queue: deque[str] = deque()
    for element_id in waiting:
        queue.extend(flow.target for flow in graph.outgoing(element_id))
        queue.extend(event.id for event in graph.boundary_events(element_id))
    while queue:
        element_id = queue.popleft()
        if element_id in seen:
            continue
        seen.add(element_id)
        element = graph.elements.get(element_id)
        if element is None:
            continue
        if element.kind in TASK_KINDS:
            found.append(element_id)
            continue
        queue.extend(flow.target for flow in graph.outgoing(element_id))
    return found


def criteria_labels(definition: Definition) -> dict[str, str]:
    """Text outputs of the definition's decision tables -> words, from each rule's description.

    A rule "Criterion 1: an adult is involved (always so in sextortion)." whose output is the
    literal 'adult_involved' gives {"adult_involved": "An adult is involved (always so in
    sextortion)"}; a description without the "Criterion" prefix gives its first part.
    """
    return dict(_labels(definition.digest, definition.sources))


@lru_cache(maxsize=32)
def _labels(digest: str, sources: tuple[SourceFile, ...]) -> tuple[tuple[str, str], ...]:
    labels: dict[str, str] = {}
    for source in sources:
        tree = parse_xml(source)
        if not is_dmn(tree):
            continue
        namespace = etree.QName(tree.getroot()).namespace
        for rule in tree.getroot().iter(f"{{{namespace}}}rule"):
            description = rule.find(f"{{{namespace}}}description")
            words = _rule_words((description.text or "") if description is not None else "")
            if not words:
                continue
            for entry in rule.iter(f"{{{namespace}}}outputEntry"):
                text = entry.find(f"{{{namespace}}}text")
                match = _QUOTED.match((text.text or "") if text is not None else "")
                if match and match.group(2) not in labels:
                    labels[match.group(2)] = words
    return tuple(labels.items())


def _rule_words(description: str) -> str:
    head, colon, rest = description.strip().partition(":")
    words = rest if colon and head.lower().startswith("criterion") else head
    words = words.strip().rstrip(".")
    return words[:1].upper() + words[1:]


CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def option_labels(definition: Definition) -> dict[str, dict[str, str]]:
    """Enum field id -> option id -> label, over every form of the definition."""
    return {
        field: dict(options) for field, options in _options(definition.digest, definition.sources)
    }


@lru_cache(maxsize=32)
def _options(
    digest: str, sources: tuple[SourceFile, ...]
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    found: dict[str, dict[str, str]] = {}
    for source in sources:
        tree = parse_xml(source)
        if is_dmn(tree):
            continue
        for form_field in tree.getroot().iter(f"{{{CAMUNDA_NS}}}formField"):
            options = found.setdefault(form_field.get("id", ""), {})
            for value in form_field.iter(f"{{{CAMUNDA_NS}}}value"):
                options.setdefault(
                    value.get("id", ""), value.get("name", "") or value.get("id", "")
                )
    return tuple((k, tuple(v.items())) for k, v in found.items() if v)


def task_readers(definition: Definition) -> dict[str, tuple[str, ...] | None]:
    """User task id -> the roles its `readers` property names (None: the default readers)."""
    return dict(_readers(definition.digest, definition.sources))


@lru_cache(maxsize=32)
def _readers(
    digest: str, sources: tuple[SourceFile, ...]
) -> tuple[tuple[str, tuple[str, ...] | None], ...]:
    found: dict[str, tuple[str, ...] | None] = {}
    for source in sources:
        tree = parse_xml(source)
        if is_dmn(tree):
            continue
        for task in tree.getroot().iter(f"{{{BPMN_NS}}}userTask"):
            readers: tuple[str, ...] | None = None
            extensions = task.find(f"{{{BPMN_NS}}}extensionElements")
            properties = (
                extensions.find(f"{{{CAMUNDA_NS}}}properties") if extensions is not None else None
            )
            for prop in properties if properties is not None else ():
                if prop.get("id") == READERS_PROPERTY or prop.get("name") == READERS_PROPERTY:
                    try:
                        readers = role_list(prop.get("value"))
                    except ReadersProblem:
                        readers = ()  # unreadable: nobody by role (lint refuses it anyway)
            found[task.get("id", "")] = readers
    return tuple(found.items())
