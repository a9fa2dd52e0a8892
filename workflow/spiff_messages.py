"""Messages a process declares: event subprocesses that a message start event opens.

A message start event carries its form in camunda:formData (kept by spiff_parser as a dict in
the spec's extensions); this module finds them in a spec and turns them into MessageViews.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.camunda.specs.user_task import Form

from workflow.errors import TaskNotReady
from workflow.model import FormSpec, MessageView
from workflow.spiff_forms import form_spec
from workflow.spiff_parser import INTERRUPTING, LANE, MESSAGE_FORM


class MessageUnknown(TaskNotReady):
    """No message start event of the process has this message name."""


class MessageNotAvailable(TaskNotReady):
    """The process declares the message, but the instance cannot take it now (it has ended)."""


def message_starts(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{message name: (event subprocess spec, its start event spec)} of the top-level process."""
    found: dict[str, tuple[Any, Any]] = {}
    for name in getattr(spec.start, "trigger_specs", []):
        sub = subprocess_specs.get(name)
        if sub is None:
            continue
        for start in sub.bpmn_start_events:
            definition = start.event_definition
            if isinstance(definition, MessageEventDefinition) and definition.name:
                found.setdefault(str(definition.name), (sub, start))
    return found


def message_view(sub: Any, start: Any) -> MessageView:
    """What a caller needs to offer a message: its name, event, form and whether it interrupts."""
    extensions = getattr(start, "extensions", None) or {}
    return MessageView(
        name=str(start.event_definition.name),
        bpmn_id=str(start.bpmn_id),
        name_of_event=str(start.bpmn_name or start.bpmn_id),
        subprocess_id=str(sub.name),
        subprocess_name=str(sub.description or sub.name),
        lane=str(extensions.get(LANE) or ""),
        interrupting=bool(extensions.get(INTERRUPTING, True)),
        form=start_form(start),
    )


def start_form(start: Any) -> FormSpec:
    """The FormSpec of a message start event (empty when it declares no formData)."""
    extensions = getattr(start, "extensions", None) or {}
    raw = extensions.get(MESSAGE_FORM) or {"key": start.bpmn_id, "fields": []}
    holder = SimpleNamespace(form=Form(init=raw), bpmn_id=start.bpmn_id, extensions={})
    return form_spec(holder)


def is_message_start(spec: Any) -> bool:
    """True for a start event whose extensions carry a message form (one of ours)."""
    return MESSAGE_FORM in (getattr(spec, "extensions", None) or {})


def find_start(starts: dict[str, tuple[Any, Any]], name: str) -> tuple[Any, Any]:
    """The event subprocess and start event for a message name; MessageUnknown otherwise."""
    if name not in starts:
        known = ", ".join(sorted(starts)) or "none"
        raise MessageUnknown(f"the process has no message {name!r} (messages it takes: {known})")
    return starts[name]
