"""Pruning finished work from the state changes nothing a person or the process can see.

Every scenario of the default process (and the statutory ones) runs twice through the same
simulator: once on the full state, once storing only the pruned state and keeping the history
it releases, as the command handlers do. Route, waits, data, history and path must be equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from workflow import engine, simulate
from workflow.definition import Definition, load_definition
from workflow.formdata import placeholder_data
from workflow.model import CompletedStep, InstanceStatus, SourceFile

ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "bpmn"
SCENARIOS = sorted((BPMN / "scenarios").glob("*.json")) + sorted(
    (BPMN / "statutory").glob("*.json")
)


@pytest.fixture(scope="module")
def definition() -> Definition:
    """The default process with its decision tables."""
    files = [BPMN / "sharing-nudes-response.bpmn", *sorted(BPMN.glob("*.dmn"))]
    return load_definition([SourceFile(p.name, p.read_bytes()) for p in files])


@dataclass
class Kept:
    """What a handler stores: the steps the pruned states released."""

    steps: list[CompletedStep] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (full, pruned) lengths

    def take(self, status: InstanceStatus) -> InstanceStatus:
        """Keep the released steps and hand on the state a handler would store."""
        self.steps += status.released_steps
        self.sizes.append((len(status.state), len(status.state_to_store)))
        return replace(status, state=status.state_to_store)


class PrunedEngine:
    """workflow.engine as the simulator sees it, but every command returns the pruned state."""

    def __init__(self, kept: Kept) -> None:
        self.kept = kept

    def __getattr__(self, name: str) -> Any:
        call = getattr(engine, name)
        if name not in COMMANDS:
            return call

        def pruned(*args: Any, **kwargs: Any) -> InstanceStatus:
            return self.kept.take(call(*args, **kwargs))

        return pruned


COMMANDS = {
    "start_instance",
    "complete_task",
    "complete_external_task",
    "deliver_message",
    "fire_due_timers",
}


def _run(definition: Definition, scenario: dict[str, Any]) -> simulate.SimulationResult | str:
    # A scenario may be meant to be refused (a statutory check): then compare the refusals.
    try:
        return simulate.run_scenario(definition, scenario)
    except simulate.ScenarioInvalid as error:
        return f"{type(error).__name__}: {error}"


@pytest.fixture
def pruned_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Kept]:
    """Make the simulator store pruned states; yield what it released."""
    kept = Kept()
    monkeypatch.setattr(simulate, "engine", PrunedEngine(kept))
    yield kept


def _history(steps: list[CompletedStep]) -> list[tuple[Any, ...]]:
    ordered = sorted(steps, key=lambda s: s.sequence or 0)
    return [
        (s.bpmn_id, s.name, s.lane, s.data, s.actor, s.completed_at, s.sequence) for s in ordered
    ]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_a_scenario_on_pruned_states_takes_the_same_route_and_keeps_its_history(
    path: Path, definition: Definition, pruned_engine: Kept
) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    with pytest.MonkeyPatch.context() as plain:
        plain.setattr(simulate, "engine", engine)
        full = _run(definition, scenario)
    pruned = _run(definition, scenario)
    if isinstance(full, str) or isinstance(pruned, str):
        assert pruned == full
        return

    assert pruned.as_dict() == full.as_dict()
    assert pruned.cancelled == full.cancelled
    kept = pruned_engine
    in_state = engine.completed_steps(definition, pruned.state)
    assert _history(kept.steps + in_state) == _history(
        engine.completed_steps(definition, full.state)
    )
    assert engine.taken_flows(definition, pruned.state) == engine.taken_flows(
        definition, full.state
    )
    assert len({s.id for s in kept.steps + in_state}) == len(kept.steps + in_state)  # none twice
    assert len(pruned.state) < len(full.state) or len(full.state) < 20_000


def test_the_pruned_history_keeps_every_answer_of_every_step(definition: Definition) -> None:
    scenario = json.loads((BPMN / "scenarios" / "s1.json").read_text(encoding="utf-8"))
    full = _run(definition, scenario)
    assert not isinstance(full, str), full
    steps = engine.completed_steps(definition, full.state)
    assert steps, "the scenario completes steps"
    assert all(step.sequence is not None for step in steps)
    assert [s.sequence for s in steps] == sorted(s.sequence or 0 for s in steps)


def test_a_pruned_state_that_nothing_moves_is_saved_unchanged(definition: Definition) -> None:
    # The timer handler saves nothing when a command hands back the state it was given.
    kept = Kept()
    status = kept.take(engine.start_instance(definition, simulate.DEFAULT_START))
    task = status.ready[0]
    data = placeholder_data(task.form, {})
    status = kept.take(
        engine.complete_task(definition, status.state, task.id, data, simulate.DEFAULT_START)
    )
    assert status.timers, "the next task waits with a deadline"
    again = engine.fire_due_timers(definition, status.state, simulate.DEFAULT_START)
    assert again.state == status.state and again.pruned_state is None
    assert again.released_steps == ()


def test_a_state_listing_its_root_after_its_children_keeps_every_answer() -> None:
    # States migrated from SpiffWorkflow 1.x list tasks before their root: pruned, they must
    # still restore each task's data against a parent that already exists.
    fixtures = ROOT / "tests" / "fixtures"
    old = load_definition(
        [SourceFile("legacy.bpmn", (fixtures / "engine" / "legacy.bpmn").read_bytes())]
    )
    from workflow.spiff_migration import migrate_state

    state = migrate_state(old, (fixtures / "states" / "legacy-1.4.json").read_text(), old)
    [first] = engine.get_status(old, state, simulate.DEFAULT_START).ready
    status = engine.complete_task(old, state, first.id, {"note": "written"}, simulate.DEFAULT_START)
    assert status.pruned_state is not None
    [second] = status.ready
    done = engine.complete_task(
        old, status.state_to_store, second.id, {"agreed": "true"}, simulate.DEFAULT_START
    )
    assert done.ended and done.data == {"note": "written", "agreed": True}


class Twins:
    """One instance run on the full state and on the stored (pruned) state, command by command."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.kept = Kept()
        self.now = simulate.DEFAULT_START
        self.full = engine.start_instance(definition, self.now)
        self.pruned = self.kept.take(engine.start_instance(definition, self.now))

    def complete(self, bpmn_id: str, data: dict[str, Any] | None = None) -> None:
        """Complete the ready task `bpmn_id` (its placeholder answers unless given) on both."""
        [task] = [t for t in self.full.ready if t.bpmn_id == bpmn_id]
        [twin] = [t for t in self.pruned.ready if t.bpmn_id == bpmn_id]
        answers = data if data is not None else placeholder_data(task.form, {}) if task.form else {}
        self._both(
            lambda state, task_id: engine.complete_task(
                self.definition, state, task_id, answers, self.now, actor="u1"
            ),
            task.id,
            twin.id,
        )

    def finish_job(self, bpmn_id: str) -> None:
        """Complete the external task `bpmn_id` on both."""
        [job] = [e for e in self.full.external if e.bpmn_id == bpmn_id]
        [twin] = [e for e in self.pruned.external if e.bpmn_id == bpmn_id]
        self._both(
            lambda state, job_id: engine.complete_external_task(
                self.definition, state, job_id, {}, self.now
            ),
            job.id,
            twin.id,
        )

    def deliver(self, name: str) -> None:
        """Deliver the message `name` (its placeholder answers) to both."""
        form = engine.message(self.definition, name).form
        answers = placeholder_data(form, {}) if form else {}
        self._both(
            lambda state, _: engine.deliver_message(
                self.definition, state, name, answers, self.now, actor="u2"
            ),
            None,
            None,
        )

    def advance(self, by: timedelta) -> None:
        """Move the clock on and fire the timers due on both."""
        self.now += by
        self._both(
            lambda state, _: engine.fire_due_timers(self.definition, state, self.now), None, None
        )

    def _both(self, command: Any, full_id: Any, pruned_id: Any) -> None:
        self.full = command(self.full.state, full_id)
        self.pruned = self.kept.take(command(self.pruned.state, pruned_id))
        assert self.pruned.data == self.full.data
        assert sorted(t.bpmn_id for t in self.pruned.ready) == sorted(
            t.bpmn_id for t in self.full.ready
        )
        assert self.pruned.ended == self.full.ended


def test_a_branch_that_ended_early_keeps_its_answers_to_the_end(definition: Definition) -> None:
    # The overdue-review escalation ends first; the main path's end cancels its end join while a
    # new concern is open; the last end merges every finished end join's data into the
    # instance's. Pruning must keep what that merge reads.
    run = Twins(definition)
    run.complete("record_disclosure")
    run.advance(timedelta(hours=25))  # the initial review is overdue: the headteacher is alerted
    escalation = {
        "overdue_review_action": "Asked the deputy DSL",
        "review_expected_by": "2026-09-08",
    }
    run.complete("escalate_overdue_review", escalation)  # that branch ends here
    run.complete("initial_review")
    concern = False
    for _ in range(100):
        if run.full.ended:
            break
        ready = sorted(
            t.bpmn_id for t in run.full.ready if t.bpmn_id != "tell_agencies_new_concern"
        )
        if ready:
            run.complete(ready[0])
        elif run.full.external and not concern:
            run.deliver("new_concern")  # opens a branch that outlives the main path
            concern = True
        elif run.full.external:
            run.finish_job(run.full.external[0].bpmn_id)  # the main path ends here
        elif run.full.timers and not run.full.ready:
            run.advance(timedelta(days=1))
        else:
            run.complete("tell_agencies_new_concern")  # the last end
    assert concern and run.full.ended
    assert run.full.data["overdue_review_action"] == "Asked the deputy DSL"
    assert run.pruned.data == run.full.data
