"""Checks of the camunda:formData forms declared on user tasks (docs/bpmn-conventions.md)."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import get_args

from workflow.errors import DiagramProblem
from workflow.lint_common import NS, DiagramFile, Element, bpmn_all
from workflow.model import FieldType
from workflow.xml_safety import line_of

FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
_INTEGER_CONSTRAINTS = frozenset({"minlength", "maxlength", "min", "max"})
_CONSTRAINTS = _INTEGER_CONSTRAINTS | {"required"}
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class _Field:
    element: Element
    id: str
    type: str
    options: tuple[str, ...]


def check_forms(diagram: DiagramFile) -> list[DiagramProblem]:
    """Every user task's form fields are well-formed and refer only to fields of the same form."""
    problems = []
    # SpiffWorkflow looks up elements by id across the whole file, camunda ids included.
    element_ids = {
        element.get("id", "")
        for element in diagram.root.iter()
        if isinstance(element.tag, str) and element.tag.startswith(f"{{{NS['bpmn']}}}")
    }
    for task in bpmn_all(diagram.root, "userTask"):
        fields = [
            _read_field(element)
            for element in task.iterfind(
                "bpmn:extensionElements/camunda:formData/camunda:formField", NS
            )
        ]
        checker = _FormChecker(diagram, task, fields, element_ids)
        problems.extend(checker.run())
    return problems


def _read_field(element: Element) -> _Field:
    options = tuple(value.get("id", "") for value in element.iterfind("camunda:value", NS))
    return _Field(element, element.get("id", ""), element.get("type", ""), options)


def is_variable_name(name: str) -> bool:
    """A name expressions can read: a Python identifier, not a keyword, no leading underscore."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


class _FormChecker:
    """Collects the problems of one user task's form, each located at the field's line."""

    def __init__(
        self, diagram: DiagramFile, task: Element, fields: list[_Field], element_ids: set[str]
    ) -> None:
        self.diagram = diagram
        self.element_ids = element_ids
        self.task = task
        self.fields = fields
        self.by_id = {f.id: f for f in fields}
        self.problems: list[DiagramProblem] = []

    def run(self) -> list[DiagramProblem]:
        seen: set[str] = set()
        for field in self.fields:
            self._check_id(field, seen)
            self._check_not_an_element_id(field)
            self._check_type(field)
            self._check_label(field)
            self._check_constraints(field)
            self._check_required_if(field)
        return self.problems

    def _report(self, field: _Field, message: str) -> None:
        # Located at the field's line but named by the task: the task is what a modeler can find.
        self.problems.append(
            DiagramProblem(
                self.diagram.name,
                line_of(field.element),
                self.task.get("id", ""),
                f"form field {field.id!r}: {message}",
                self.task.get("name", ""),
            )
        )

    def _check_id(self, field: _Field, seen: set[str]) -> None:
        if not is_variable_name(field.id):
            self._report(
                field,
                "id is not a Python identifier: use letters, digits and underscores, starting "
                "with a letter (e.g. 'inform_parents'); it names the variable of the answer",
            )
        if field.id in seen:
            self._report(field, "duplicate field id in this form: give each field its own id")
        seen.add(field.id)

    def _check_not_an_element_id(self, field: _Field) -> None:
        for name in (field.id, *field.options):
            if name in self.element_ids:
                self._report(
                    field,
                    f"{name!r} is also the id of an element of this diagram; SpiffWorkflow keeps "
                    "one namespace for both, so rename the field or option (or the element)",
                )

    def _check_type(self, field: _Field) -> None:
        if field.type not in FIELD_TYPES:
            self._report(
                field,
                f"unknown type {field.type!r}: use one of {', '.join(FIELD_TYPES)}",
            )
        elif field.type == "enum" and not field.options:
            self._report(field, "enum without values: add camunda:value id=... name=... options")
        elif field.type == "enum" and not all(is_variable_name(o) for o in field.options):
            self._report(field, "enum option ids must be identifiers (e.g. 'police')")

    def _check_label(self, field: _Field) -> None:
        if not (field.element.get("label") or "").strip():
            self._report(
                field,
                "has no label: give it the question people answer (Camunda Modeler: the "
                "field's 'Label')",
            )

    def _check_constraints(self, field: _Field) -> None:
        for constraint in field.element.iterfind("camunda:validation/camunda:constraint", NS):
            name = constraint.get("name", "")
            config = (constraint.get("config") or "").strip()
            if name not in _CONSTRAINTS:
                self._report(
                    field,
                    f"unknown constraint {name!r}: use one of {', '.join(sorted(_CONSTRAINTS))}",
                )
            elif name in _INTEGER_CONSTRAINTS and not _INTEGER.fullmatch(config):
                self._report(
                    field,
                    f"constraint {name!r} needs a whole-number config, got {config!r} "
                    '(e.g. config="4000")',
                )

    def _check_required_if(self, field: _Field) -> None:
        for prop in field.element.iterfind("camunda:properties/camunda:property", NS):
            if prop.get("id") != "required_if":
                continue
            value = prop.get("value", "")
            other_id, separator, expected = value.partition(":")
            if not separator or not other_id.strip() or not expected.strip():
                self._report(
                    field,
                    f"required_if {value!r} is not 'field:value' (e.g. 'inform_parents:false')",
                )
                continue
            other = self.by_id.get(other_id.strip())
            if other is None or other is field:
                self._report(
                    field,
                    f"required_if names field {other_id.strip()!r}, which is not another field "
                    "of this form",
                )
            elif not _value_fits(other, expected.strip()):
                allowed = "true, false" if other.type == "boolean" else ", ".join(other.options)
                self._report(
                    field,
                    f"required_if value {expected.strip()!r} is not a value of field "
                    f"{other.id!r} (use one of: {allowed})",
                )


def _value_fits(field: _Field, value: str) -> bool:
    if field.type == "boolean":
        return value in ("true", "false")
    if field.type == "enum":
        return value in field.options
    return True
