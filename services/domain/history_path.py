"""Where an incident is in its process: the path taken, what waits, what can follow.

Read after the incident's access check (ViewIncident) passed: it reloads the state and reads
the process graph of the version the incident runs on; nothing here is audited again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.domain.dependencies import Dependencies
from services.domain.errors import NotFound
from services.domain.read_models import IncidentView
from workflow import engine
from workflow.model import PendingTimer
from workflow.process_graph import ProcessGraph, graph_of, next_possible, path_taken


@dataclass(frozen=True)
class CasePath:
    """The incident on its diagram."""

    definition_version_id: int
    graph: ProcessGraph
    path_taken: tuple[str, ...]  # element and flow ids, in the order reached
    waiting: tuple[str, ...]  # element ids of ready user tasks and waiting external tasks
    timers: tuple[PendingTimer, ...]
    next_possible: tuple[str, ...]  # task element ids that can come after what waits
    data: dict[str, object]


def incident_path(deps: Dependencies, incident_id: str, now: datetime | None = None) -> CasePath:
    """The path, the waiting elements and what can follow, for an incident already opened."""
    moment = now or deps.clock.now()
    with deps.uow_factory() as uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} not found")
        definition = deps.definitions.get(uow, incident.definition_version_id)
        state = incident.state
        version_id = incident.definition_version_id
    graph = graph_of(definition)
    status = engine.get_status(definition, state, moment)
    taken = engine.taken_flows(definition, state)
    waiting = tuple([t.bpmn_id for t in status.ready] + [t.bpmn_id for t in status.external])
    # The engine lists connections into completed elements; those into what waits now were
    # travelled too.
    reached = {target for _, target in taken}
    taken += [
        (f.source, f.target) for f in graph.flows if f.target in waiting and f.source in reached
    ]
    return CasePath(
        definition_version_id=version_id,
        graph=graph,
        path_taken=tuple(path_taken(graph, taken)),
        waiting=waiting,
        timers=status.timers,
        next_possible=tuple(next_possible(graph, waiting)),
        data=dict(status.data),
    )


def path_shown(path: CasePath, view: IncidentView) -> CasePath:
    """The path as this person may see it: without the route when its steps are not theirs.

    Gateways, scripts, decisions and connections passed tell the route taken; someone who may
    not read it (step_access.readable_facts) sees the steps they read and what waits now.
    """
    if "route" in view.readable_facts:
        return path
    read = {step.bpmn_id for step in view.completed_steps}
    kept = tuple(i for i in path.path_taken if i in read)
    return replace(path, path_taken=kept, next_possible=())
