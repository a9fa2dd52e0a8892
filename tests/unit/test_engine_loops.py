"""A loop that waits for a person every round: each round is one command on stored state.

The automatic loop in test_engine runs in one command; here every round is a user task, so the
instance is serialized and restored once per round, as in production: the state stored is the
pruned one, and the steps each command releases are kept aside as the handlers keep them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workflow import engine
from workflow.definition import load_definition
from workflow.model import CompletedStep, SourceFile

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "loop_user_task.bpmn"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ROUNDS = 300  # past the ~250 steps where Spiff's default iterator depth once stalled


@dataclass
class Run:
    """Per round: the stored state's size and how many tasks a command restored."""

    sizes: list[int] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)
    released: list[CompletedStep] = field(default_factory=list)
    state: str = ""
    full_state: str = ""


def tasks_in(state: str) -> int:
    """The tasks a command restores (and walks, and serializes again) from this state."""
    document = json.loads(state)
    return len(document["tasks"]) + sum(
        len(sub["tasks"]) for sub in document.get("subprocesses", {}).values()
    )


def run_rounds(rounds: int) -> Run:
    """Complete every round's user task on the stored (pruned) state."""
    definition = load_definition([SourceFile(FIXTURE.name, FIXTURE.read_bytes())])
    status = engine.start_instance(definition, NOW, {"counter": 0, "rounds": rounds})
    run = Run(released=list(status.released_steps))
    state = status.state_to_store
    for n in range(rounds):
        [task] = status.ready
        assert task.bpmn_id == "check_in", f"round {n + 1}: {task.bpmn_id} is ready"
        run.tasks.append(tasks_in(state))
        status = engine.complete_task(
            definition, state, task.id, {"note": f"round {n + 1}"}, NOW + timedelta(n), actor="7"
        )
        run.released += status.released_steps
        state = status.state_to_store
        run.sizes.append(len(state))
    assert status.ended and status.ready == ()
    assert status.data["counter"] == rounds
    run.state, run.full_state = state, status.state
    return run


@pytest.fixture(scope="module")
def run() -> Run:
    """One run of the loop, shared."""
    return run_rounds(ROUNDS)


def test_a_loop_with_a_user_task_each_round_runs_every_round_and_ends(run: Run) -> None:
    assert len(run.sizes) == ROUNDS


def test_the_state_of_a_long_loop_stays_bounded(run: Run) -> None:
    assert max(run.sizes[9:-1]) <= 1.5 * run.sizes[9]


def test_the_work_each_round_restores_stays_flat(run: Run) -> None:
    # Counted, not timed: the tasks a command deserializes, walks and serializes.
    assert max(run.tasks[9:]) <= 1.5 * run.tasks[9]
    assert max(run.tasks) < 30


def test_every_rounds_answers_and_the_path_survive_pruning(run: Run) -> None:
    definition = load_definition([SourceFile(FIXTURE.name, FIXTURE.read_bytes())])
    steps = engine.completed_steps(definition, run.state, run.released)
    assert [s.data["note"] for s in steps] == [f"round {n + 1}" for n in range(ROUNDS)]
    assert [s.sequence for s in steps] == list(range(1, ROUNDS + 1))
    assert {s.actor for s in steps} == {"7"}
    assert steps[-1].completed_at == NOW + timedelta(ROUNDS - 1)
    assert all(s.form is not None and s.form.field("note") for s in steps)  # forms from the spec
    assert engine.taken_flows(definition, run.state) == [
        ("check_in", "count"),
        ("count", "more"),
        ("more", "check_in"),
        ("more", "end"),
        ("start", "check_in"),
    ]


def test_stored_steps_already_in_the_state_are_read_once(run: Run) -> None:
    definition = load_definition([SourceFile(FIXTURE.name, FIXTURE.read_bytes())])
    held = engine.completed_steps(definition, run.full_state)
    merged = engine.completed_steps(definition, run.full_state, run.released + held)
    assert len({s.id for s in merged}) == len(merged)
