"""Parse a BPMN/DMN bundle with SpiffWorkflow's Camunda parser, keeping what we need on the spec.

Only workflow/spiff_*.py import SpiffWorkflow; this module returns JSON strings and our dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    IntermediateCatchEvent,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions import DurationTimerEventDefinition
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import (
    CAMUNDA_MODEL_NS,
    BusinessRuleTaskParser,
    CamundaTaskParser,
    UserTaskParser,
)
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import Form, UserTask

from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.lint import locate
from workflow.lint_common import is_topic
from workflow.model import SourceFile
from workflow.spiff_forms import FormProblem, form_spec
from workflow.spiff_runtime import (
    CLOCKED_TIMERS,
    ExternalServiceTask,
    dump_spec,
    new_serializer,
)
from workflow.step_readers import ReadersProblem, task_list
from workflow.timing import CALENDAR_NAMES, CALENDAR_PROPERTY
from workflow.xml_safety import BPMN_NS, is_dmn

# Keys of task_spec.extensions where the Camunda attributes Spiff ignores are kept (they are
# serialized with the spec). The lane is the lane's id, the role; Spiff only keeps its name.
LANE = "safeguard:lane"
CANDIDATE_GROUPS = "safeguard:candidate_groups"
ASSIGNEE = "safeguard:assignee"
DUE_DATE = "safeguard:due_date"
TOPIC = "safeguard:topic"  # an external service task's camunda:topic
# A message start event's camunda:formData (as Camunda's form dict) and its isInterrupting.
MESSAGE_FORM = "safeguard:form"
INTERRUPTING = "safeguard:interrupting"
_CAMUNDA_ATTRIBUTES = {
    CANDIDATE_GROUPS: "candidateGroups",
    ASSIGNEE: "assignee",
    DUE_DATE: "dueDate",
}
_LANE_OF = "//bpmn:lane[bpmn:flowNodeRef[normalize-space(.) = $ref]]"


@dataclass(frozen=True)
class ParsedProcess:
    """A parsed, serialized process: what a Definition is built from."""

    process_id: str
    name: str
    spec: str
    user_tasks: tuple[tuple[str, str, str], ...]


def lane_id(node: Any) -> str:
    """The id of the lane holding this element (or its enclosing subprocess), "" if none."""
    for element in [node, *node.iterancestors()]:
        element_id = element.get("id")
        if not element_id:
            continue
        lanes = element.getroottree().xpath(_LANE_OF, namespaces={"bpmn": BPMN_NS}, ref=element_id)
        if lanes:
            return str(lanes[-1].get("id", ""))  # nested lane sets: the innermost lane
    return ""


class KeepingUserTaskParser(UserTaskParser):  # type: ignore[misc]
    """Camunda user tasks, keeping lane id, candidate groups, assignee and due date on the spec."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        """Spiff's camunda:properties plus our safeguard:* keys."""
        extensions: dict[str, Any] = dict(super().parse_extensions(node))
        for key, attribute in _CAMUNDA_ATTRIBUTES.items():
            extensions[key] = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}{attribute}")
        extensions[LANE] = lane_id(self.node)
        calendar = extensions.get(CALENDAR_PROPERTY)
        if calendar is not None and calendar not in CALENDAR_NAMES:
            self.raise_validation_exception(
                f"unknown calendar {calendar!r} in the {CALENDAR_PROPERTY!r} property: "
                f"use one of {', '.join(CALENDAR_NAMES)}"
            )
        return extensions

    def get_form(self) -> Any:
        """The camunda:formData form, whether or not the task also names a camunda:formKey."""
        form = super().get_form()
        form.key = self.bpmn_id
        return form


class KeepingRuleTaskParser(BusinessRuleTaskParser):  # type: ignore[misc]
    """Camunda business rule tasks, keeping the lane id (for the history)."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        """Spiff's camunda:properties plus our lane key."""
        extensions: dict[str, Any] = dict(super().parse_extensions(node))
        extensions[LANE] = lane_id(self.node)
        return extensions


class ExternalTaskParser(CamundaTaskParser):  # type: ignore[misc]
    """Service tasks: only Camunda external tasks, keeping their topic and lane on the spec.

    The lint refuses other service tasks first, with the same words; this is the backstop.
    """

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        """Spiff's camunda:properties plus our topic and lane keys."""
        extensions: dict[str, Any] = dict(super().parse_extensions(node))
        kind = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}type")
        topic = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}topic") or ""
        if kind != "external":
            self.raise_validation_exception(
                'a service task must be an external task: set camunda:type="external" and '
                "camunda:topic (a worker does it)"
            )
        if not is_topic(topic):
            self.raise_validation_exception(
                f"external task topic {topic!r} is not an identifier: use letters, digits and "
                "'_', e.g. 'render_record_pdf'"
            )
        extensions[TOPIC] = topic
        extensions[LANE] = lane_id(self.node)
        return extensions


class _ClockedTimers:
    """Swaps Spiff's timer event definitions for ours, which read the command's clock."""

    def parse_timer_event(self, event: Any) -> Any:
        """Parse as Spiff does, then rebuild the definition as our clocked subclass."""
        definition = super().parse_timer_event(event)  # type: ignore[misc]
        clocked = CLOCKED_TIMERS[type(definition)]
        return clocked(definition.name, definition.expression, description=definition.description)

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        """The event's camunda:properties (Spiff keeps none on events); checks `calendar`."""
        parser: Any = self
        found = parser.xpath("./bpmn:extensionElements/camunda:properties/camunda:property")
        extensions = {str(p.get("name")): p.get("value") for p in found}
        calendar = extensions.get(CALENDAR_PROPERTY)
        if calendar is not None:
            _check_calendar(parser, calendar)
        return extensions


def _check_calendar(parser: Any, calendar: str) -> None:
    definition = getattr(parser.task, "event_definition", None)
    if not isinstance(definition, DurationTimerEventDefinition):
        parser.raise_validation_exception(
            f"the {CALENDAR_PROPERTY!r} property only applies to a timer with a duration "
            "(timeDuration): remove it here"
        )
    if calendar not in CALENDAR_NAMES:
        parser.raise_validation_exception(
            f"unknown calendar {calendar!r} in the {CALENDAR_PROPERTY!r} property: "
            f"use one of {', '.join(CALENDAR_NAMES)}"
        )


class StartParser(_ClockedTimers, CamundaStartEventParser):  # type: ignore[misc]
    """Start events with clocked timers; a message start event keeps its form and interrupting."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        """The event's properties, plus the form a message start event asks for."""
        extensions = super().parse_extensions(node)
        if self.node.find(f"{{{BPMN_NS}}}messageEventDefinition") is not None:
            extensions[MESSAGE_FORM] = _form_dict(self.node, self.bpmn_id)
            extensions[INTERRUPTING] = self.node.get("isInterrupting", "true") != "false"
            extensions[LANE] = lane_id(self.node)
        return extensions


def _form_dict(node: Any, key: str) -> dict[str, Any]:
    """camunda:formData as the dict Spiff's Camunda Form is restored from (JSON, so serialized)."""
    camunda = f"{{{CAMUNDA_MODEL_NS}}}"
    fields = []
    for xml_field in node.iterfind(
        f"{{{BPMN_NS}}}extensionElements/{camunda}formData/{camunda}formField"
    ):
        field: dict[str, Any] = {
            "id": xml_field.get("id"),
            "default_value": xml_field.get("defaultValue"),
            "label": xml_field.get("label"),
            "type": xml_field.get("type"),
            "properties": [
                {"id": p.get("id"), "value": p.get("value")}
                for p in xml_field.iterfind(f"{camunda}properties/{camunda}property")
            ],
            "validation": [
                {"name": v.get("name"), "config": v.get("config")}
                for v in xml_field.iterfind(f"{camunda}validation/{camunda}constraint")
            ],
        }
        if field["type"] == "enum":
            field["options"] = [
                {"id": v.get("id"), "name": v.get("name")}
                for v in xml_field.iterfind(f"{camunda}value")
            ]
        fields.append(field)
    return {"key": key, "fields": fields}


class CatchParser(_ClockedTimers, CamundaIntermediateCatchEventParser):  # type: ignore[misc]
    """Intermediate catch events with clocked timers."""


class BoundaryParser(_ClockedTimers, CamundaBoundaryEventParser):  # type: ignore[misc]
    """Boundary events with clocked timers."""


class SafeguardParser(CamundaParser):  # type: ignore[misc]
    """Spiff's Camunda parser with our user task, external task and timer parsers."""

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, tuple[type, type]]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (KeepingUserTaskParser, UserTask),
        full_tag("businessRuleTask"): (KeepingRuleTaskParser, BusinessRuleTask),
        full_tag("serviceTask"): (ExternalTaskParser, ExternalServiceTask),
        full_tag("startEvent"): (StartParser, StartEvent),
        full_tag("intermediateCatchEvent"): (CatchParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (BoundaryParser, BoundaryEvent),
    }


Trees = Sequence[tuple[SourceFile, etree._ElementTree]]


def parse_process(trees: Trees, process_id: str | None) -> ParsedProcess:
    """Parse the bundle with Spiff and serialize the chosen process; raise DefinitionInvalid."""
    parser = SafeguardParser()
    try:
        for source, tree in trees:
            if is_dmn(tree):
                parser.add_dmn_xml(tree.getroot(), filename=source.name)
            else:
                parser.add_bpmn_xml(tree, filename=source.name)
        chosen = process_id or _only_process(parser)
        spec = parser.get_spec(chosen)
        subprocess_specs = parser.get_subprocess_specs(chosen)
    except ValidationException as error:
        raise DefinitionInvalid([_problem(trees, error)]) from error
    except DefinitionInvalid:
        raise
    except Exception as error:
        message = f"SpiffWorkflow could not parse the bundle: {type(error).__name__}: {error}"
        raise DefinitionInvalid([DiagramProblem("", None, "", message)]) from error
    user_tasks = _user_tasks(trees, [spec, *subprocess_specs.values()])
    _check_message_forms(trees, [spec, *subprocess_specs.values()])
    serialized = dump_spec(new_serializer(), spec, subprocess_specs)
    return ParsedProcess(chosen, str(spec.description or chosen), serialized, user_tasks)


def _only_process(parser: SafeguardParser) -> str:
    called = parser.get_process_dependencies()
    candidates = [pid for pid in parser.get_process_ids() if pid not in called]
    if len(candidates) == 1:
        return str(candidates[0])
    found = ", ".join(candidates) or "none"
    message = (
        f"the bundle must hold exactly one executable top-level process (found: {found}); "
        "name the process to run"
    )
    raise DefinitionInvalid([DiagramProblem("", None, "", message)])


def _user_tasks(trees: Trees, specs: list[Any]) -> tuple[tuple[str, str, str], ...]:
    found: list[tuple[str, str, str]] = []
    problems: list[DiagramProblem] = []
    needs: dict[tuple[str, str], tuple[str, ...]] = {}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if not isinstance(task_spec, UserTask):
                continue
            try:
                needs[(spec.file or "", task_spec.bpmn_id)] = form_spec(task_spec).needs
            except FormProblem as error:
                problems.append(_located(trees, spec.file or "", task_spec.bpmn_id, str(error)))
            lane = str(task_spec.extensions.get(LANE) or "")
            found.append((task_spec.bpmn_id, task_spec.bpmn_name or task_spec.bpmn_id, lane))
    known = [bpmn_id for bpmn_id, _name, _lane in found]
    for (file_name, bpmn_id), needed in needs.items():
        try:
            task_list(",".join(needed) or None, known)
        except ReadersProblem as error:
            problems.append(_located(trees, file_name, bpmn_id, str(error)))
    if problems:
        raise DefinitionInvalid(problems)
    return tuple(found)


def _check_message_forms(trees: Trees, specs: list[Any]) -> None:
    # A message start event's form is checked as a user task's is, before anything runs.
    problems = []
    for spec in specs:
        for task_spec in spec.task_specs.values():
            raw = (getattr(task_spec, "extensions", None) or {}).get(MESSAGE_FORM)
            if raw is None:
                continue
            holder = SimpleNamespace(form=Form(init=raw), bpmn_id=task_spec.bpmn_id, extensions={})
            try:
                form_spec(holder)
            except FormProblem as error:
                problems.append(_located(trees, spec.file or "", task_spec.bpmn_id, str(error)))
    if problems:
        raise DefinitionInvalid(problems)


def _problem(trees: Trees, error: ValidationException) -> DiagramProblem:
    message = str(error.args[0]) if error.args else str(error)
    return _located(trees, error.file_name or "", error.id or "", message, error.name or "")


def _located(
    trees: Trees, file_name: str, element_id: str, message: str, name: str = ""
) -> DiagramProblem:
    # Spiff's ValidationException has no line number for parser errors: find the element by id.
    for source, tree in trees:
        if file_name and source.name != file_name:
            continue
        line, found_name = locate(tree, source.name, element_id) if element_id else (None, "")
        if line is not None or file_name:
            return DiagramProblem(source.name, line, element_id, message, name or found_name)
    return DiagramProblem(file_name, None, element_id, message, name)
