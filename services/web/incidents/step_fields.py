"""The form fields of every user task of a deployed process, read from its BPMN sources.

The engine's history (workflow.model.CompletedStep) carries each step's answers by field id
but not the form they came from; the incident page needs the labels, types and enum option
labels to show them. Versions never change, so the result is cached by the sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import cast

from lxml import etree

from workflow.lint_common import NS
from workflow.model import EnumOption, FieldSpec, FieldType, SourceFile
from workflow.xml_safety import is_dmn, parse_xml

StepFields = Mapping[str, Mapping[str, FieldSpec]]  # user task id -> field id -> its spec


@lru_cache(maxsize=32)
def step_fields(sources: tuple[SourceFile, ...]) -> StepFields:
    """Field id -> FieldSpec (id, type, label, options) for each user task in the sources."""
    found: dict[str, dict[str, FieldSpec]] = {}
    for source in sources:
        tree = parse_xml(source)
        if is_dmn(tree):
            continue
        for task in tree.getroot().iterfind(".//bpmn:userTask", NS):
            fields = task.iterfind("bpmn:extensionElements/camunda:formData/camunda:formField", NS)
            found[task.get("id", "")] = {
                spec.id: spec for spec in (_field(element) for element in fields)
            }
    return found


def _field(element: etree._Element) -> FieldSpec:
    field_id = str(element.get("id", ""))
    options = tuple(
        EnumOption(str(value.get("id", "")), str(value.get("name") or value.get("id", "")))
        for value in element.iterfind("camunda:value", NS)
    )
    return FieldSpec(
        id=field_id,
        type=cast(FieldType, str(element.get("type", "string"))),
        label=str(element.get("label") or field_id),
        options=options,
    )
