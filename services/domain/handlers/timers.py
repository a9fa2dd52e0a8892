"""Fire an incident's due timers: the scheduler's command, through the same write path."""

from __future__ import annotations

from datetime import datetime

from services.domain.commands import FireDueTimers
from services.domain.dependencies import Dependencies
from services.domain.events import Event
from services.domain.handlers.common import incident_target, lock_incident, write_outbox
from services.domain.handlers.progress import Step, record_progress
from services.domain.results import Outcome
from workflow import engine


def fire_due_timers(command: FireDueTimers, deps: Dependencies) -> Outcome:
    """Run the incident's timers due at `command.now`; write only if something moved."""
    with deps.uow_factory() as uow:
        incident = lock_incident(uow, command.incident_id)
        unchanged = Outcome((), incident.id, incident.version_id, incident.reference)
        if incident.status != "open":
            return unchanged
        definition = deps.definitions.get(uow, incident.definition_version_id)
        after = engine.fire_due_timers(
            definition, incident.state, command.now, calendar=deps.calendar
        )
        if after.state == incident.state:
            return unchanged
        rows = uow.tasks.for_incident(incident.id, state="ready")
        uow.audit.add(
            "incident.timers_fired",
            incident_target(incident.id),
            actor_id=None,
            school_id=incident.school_id,
            incident_id=incident.id,
            old_values={"next_timer_at": _iso(incident.next_timer_at)},
            new_values={
                "next_timer_at": _iso(min((t.due_at for t in after.timers), default=None)),
                "completed": list(after.completed_now),
            },
            occurred_at=command.now,
        )
        step = Step(command.now, None, None, deps.calendar)
        events: list[Event] = record_progress(uow, incident, rows, after, step)
        write_outbox(uow, events)
        uow.commit()
        return Outcome(tuple(events), incident.id, incident.version_id, incident.reference)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
