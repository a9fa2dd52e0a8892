"""What changed between two versions of a process, in words: elements, flows, forms, DMN rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from workflow.errors import DefinitionInvalid
from workflow.lint_common import CAMUNDA_NS, NS, Element, element_text, local_name, model_elements
from workflow.model import SourceFile
from workflow.xml_safety import is_dmn, parse_xml

Kind = Literal["added", "removed", "changed"]
_SKIPPED = frozenset(
    {
        "definitions",
        "collaboration",
        "participant",
        "laneSet",
        "BPMNDiagram",
        "BPMNPlane",
        "BPMNShape",
        "BPMNEdge",
        "BPMNLabel",
        "DMNDI",
        "DMNDiagram",
        "DMNShape",
        "DMNEdge",
    }
)


@dataclass(frozen=True)
class Change:
    """One difference: what kind, the element it concerns, and the sentence saying it."""

    kind: Kind
    element_id: str
    text: str

    def as_dict(self) -> dict[str, str]:
        """The JSON shape of a change."""
        return {"kind": self.kind, "element_id": self.element_id, "text": self.text}


def diff_files(old: Sequence[SourceFile], new: Sequence[SourceFile]) -> list[Change]:
    """Differences from `old` to `new`; files that do not parse are compared as empty."""
    before, after = _facts(old), _facts(new)
    changes: list[Change] = []
    for key in sorted(before.keys() | after.keys()):
        element_id, aspect = key
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        what = f"{aspect} of {element_id}" if aspect else element_id
        if was is None:
            changes.append(Change("added", element_id, f"added {what}: {now}"))
        elif now is None:
            changes.append(Change("removed", element_id, f"removed {what} (was: {was})"))
        else:
            changes.append(Change("changed", element_id, f"changed {what}: {was} → {now}"))
    return changes


Facts = dict[tuple[str, str], str]


def _facts(files: Sequence[SourceFile]) -> Facts:
    facts: Facts = {}
    for source in files:
        try:
            tree = parse_xml(source)
        except DefinitionInvalid:  # a broken file has no facts to compare
            continue
        if is_dmn(tree):
            _dmn_facts(tree.getroot(), facts)
        else:
            _bpmn_facts(tree.getroot(), facts)
    return facts


def _bpmn_facts(root: Element, facts: Facts) -> None:
    lanes = {
        element_text(ref).strip(): lane.get("id", "")
        for lane in root.iterfind(".//bpmn:lane", NS)
        for ref in lane.iterfind("bpmn:flowNodeRef", NS)
    }
    for element in model_elements(root):
        kind = local_name(element)
        if kind in _SKIPPED:
            continue
        element_id = element.get("id", "")
        name = element.get("name", "")
        facts[(element_id, "")] = f"{_words(kind)} {name!r}" if name else _words(kind)
        if kind == "sequenceFlow":
            facts[(element_id, "route")] = (
                f"{element.get('sourceRef', '')} → {element.get('targetRef', '')}"
            )
            condition = element.find("bpmn:conditionExpression", NS)
            if condition is not None and element_text(condition).strip():
                facts[(element_id, "condition")] = element_text(condition).strip()
        if element_id in lanes:
            facts[(element_id, "lane")] = lanes[element_id]
        due = element.get(f"{{{CAMUNDA_NS}}}dueDate")
        if due:
            facts[(element_id, "due date")] = due
        groups = element.get(f"{{{CAMUNDA_NS}}}candidateGroups")
        if groups:
            facts[(element_id, "candidate groups")] = groups
        for timer_kind in ("timeDuration", "timeDate", "timeCycle"):
            for timer in element.iterfind(f"bpmn:timerEventDefinition/bpmn:{timer_kind}", NS):
                facts[(element_id, "timer")] = element_text(timer).strip()
        for form_field in element.iterfind(
            "bpmn:extensionElements/camunda:formData/camunda:formField", NS
        ):
            facts[(element_id, f"form field {form_field.get('id', '')}")] = _field_words(form_field)


def _field_words(form_field: Element) -> str:
    words = f"{form_field.get('type', '')} {form_field.get('label', '')!r}"
    constraints = [
        c.get("name", "") + (f"={c.get('config')}" if c.get("config") else "")
        for c in form_field.iterfind("camunda:validation/camunda:constraint", NS)
    ]
    properties = [
        f"{p.get('id') or p.get('name')}={p.get('value', '')}"
        for p in form_field.iterfind("camunda:properties/camunda:property", NS)
        if (p.get("id") or p.get("name")) != "help"
    ]
    options = [v.get("id", "") for v in form_field.iterfind("camunda:value", NS)]
    for label, values in (("options", options), ("", constraints), ("", properties)):
        if values:
            words += f" ({label + ' ' if label else ''}{', '.join(values)})"
    return words


def _dmn_facts(root: Element, facts: Facts) -> None:
    for rule in (e for e in root.iter() if isinstance(e.tag, str) and local_name(e) == "rule"):
        cells = [
            element_text(_first_text(entry)).strip() or "-"
            for entry in rule
            if isinstance(entry.tag, str) and local_name(entry) in ("inputEntry", "outputEntry")
        ]
        facts[(rule.get("id", ""), "rule")] = " | ".join(cells)


def _first_text(entry: Element) -> Element | None:
    return next(
        (t for t in entry if isinstance(t.tag, str) and local_name(t) == "text"),
        None,
    )


def _words(kind: str) -> str:
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in kind)
    return spaced.strip()


def changed_ids(changes: Sequence[Change]) -> dict[str, Kind]:
    """Element id -> the strongest kind of change it had (for colouring the diagram)."""
    marks: dict[str, Kind] = {}
    for change in changes:
        if change.element_id and change.element_id not in marks:
            marks[change.element_id] = change.kind
    return marks
