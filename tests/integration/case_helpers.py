"""Run scenario steps through the domain bus for case history tests (no pages, no sleeps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.bootstrap import Runtime
from services.domain.commands import CompleteTask, StartIncident
from tests.integration.service_fixtures import scenario_steps
from workflow import engine
from workflow.formdata import placeholder_data


def start_scenario(runtime: Runtime, school_id: int, reporter: int, name: str) -> str:
    """Report the scenario's disclosure; return the incident id."""
    first = scenario_steps(name)[0]
    outcome = runtime.bus.handle(StartIncident(school_id, reporter, dict(first["data"])))
    assert outcome.incident_id is not None
    return outcome.incident_id


def run_steps(
    runtime: Runtime,
    incident_id: str,
    name: str,
    actors: Mapping[str, int],
    *,
    until: str | None = None,
) -> None:
    """Complete the scenario's user-task steps after the disclosure (placeholders filled).

    `actors` maps a lane ("dsl", "headteacher", "staff") to who completes its tasks; stops
    before the step completing `until`, and at the first step that is not a user task.
    """
    deps = runtime.bus.dependencies
    for step in scenario_steps(name)[1:]:
        bpmn_id = step.get("complete")
        if bpmn_id is None or bpmn_id == until:
            return
        with deps.uow_factory() as uow:
            incident = uow.incidents.get(incident_id)
            assert incident is not None
            definition = deps.definitions.get(uow, incident.definition_version_id)
            status = engine.get_status(definition, incident.state, deps.clock.now())
        task = next((t for t in status.ready if t.bpmn_id == bpmn_id), None)
        if task is None:
            return
        data: dict[str, Any] = placeholder_data(task.form, step.get("data", {}))
        runtime.bus.handle(CompleteTask(task.id, actors[task.lane], data))
