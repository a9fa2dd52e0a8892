"""Shared vocabulary of the diagram linter: namespaces, element lookups and located problems."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from workflow.errors import DiagramProblem
from workflow.xml_safety import BPMN_NS, line_of

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

Element = etree._Element


@dataclass(frozen=True)
class DiagramFile:
    """One parsed file of the bundle, with the name used in messages."""

    name: str
    tree: etree._ElementTree

    @property
    def root(self) -> Element:
        """The document's root element (bpmn:definitions or dmn:definitions)."""
        return self.tree.getroot()

    def problem(
        self, element: Element, message: str, element_name: str | None = None
    ) -> DiagramProblem:
        """A problem located at this element: its line, id and name."""
        name = element.get("name", "") if element_name is None else element_name
        return DiagramProblem(self.name, line_of(element), element.get("id", ""), message, name)


@dataclass
class Bundle:
    """Every file of an upload, split by kind, with the ids one file may use from another."""

    bpmn: list[DiagramFile] = field(default_factory=list)
    dmn: list[DiagramFile] = field(default_factory=list)
    decision_ids: set[str] = field(default_factory=set)
    process_ids: set[str] = field(default_factory=set)


def local_name(element: Element) -> str:
    """The element's tag without its namespace ("userTask")."""
    return etree.QName(element).localname


def bpmn_all(root: Element, local: str) -> list[Element]:
    """Every BPMN element with this local name under root (any depth)."""
    return list(root.iterfind(f".//bpmn:{local}", NS))


def elements(root: Element) -> Iterator[Element]:
    """Every element under root, skipping comments and processing instructions."""
    for element in root.iter():
        if isinstance(element.tag, str):
            yield element


def model_elements(root: Element) -> Iterator[Element]:
    """Elements carrying a model id: everything with an id outside extensionElements.

    Camunda's extension elements reuse ids on purpose (every form has a property "help"), so
    they are not part of the document's id space.
    """
    for element in elements(root):
        if element.get("id") is None:
            continue
        if any(local_name(ancestor) == "extensionElements" for ancestor in element.iterancestors()):
            continue
        yield element


def element_text(element: Element | None) -> str:
    """The element's text, or "" when the element or its text is missing."""
    if element is None:
        return ""
    return element.text or ""


def is_role_id(value: str) -> bool:
    """A lane id usable as a role id: a lowercase ASCII identifier such as "dsl"."""
    return (
        value.isascii()
        and value.isidentifier()
        and value == value.lower()
        and not value.startswith("_")
    )


def is_topic(value: str) -> bool:
    """An external task's topic: an ASCII identifier, so it is one word of a routing key."""
    return value.isascii() and value.isidentifier()
