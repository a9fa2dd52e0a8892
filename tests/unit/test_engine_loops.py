"""A loop that waits for a person every round: each round is one command on stored state.

The automatic loop in test_engine runs in one command; here every round is a user task, so the
instance is serialized and restored once per round, as in production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workflow import engine
from workflow.definition import load_definition
from workflow.model import SourceFile

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "loop_user_task.bpmn"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ROUNDS = 200  # past the ~250 steps where Spiff's default iterator depth once stalled


def run_rounds(rounds: int) -> list[int]:
    """Complete every round's user task; return the state's size after each round."""
    definition = load_definition([SourceFile(FIXTURE.name, FIXTURE.read_bytes())])
    status = engine.start_instance(definition, NOW, {"counter": 0, "rounds": rounds})
    sizes = []
    for n in range(rounds):
        [task] = status.ready
        assert task.bpmn_id == "check_in", f"round {n + 1}: {task.bpmn_id} is ready"
        status = engine.complete_task(
            definition, status.state, task.id, {"note": f"round {n + 1}"}, NOW + timedelta(n)
        )
        sizes.append(len(status.state))
    assert status.ended and status.ready == ()
    assert status.data["counter"] == rounds
    return sizes


@pytest.fixture(scope="module")
def sizes() -> list[int]:
    """One run of the loop, shared: the state's size after each round."""
    return run_rounds(ROUNDS)


def test_a_loop_with_a_user_task_each_round_runs_every_round_and_ends(sizes: list[int]) -> None:
    assert len(sizes) == ROUNDS


@pytest.mark.xfail(
    strict=True,
    reason="issue 7, open: every completed task stays in SpiffWorkflow's state, so it grows "
    "with each round (pruning finished work once its history is in our tables is not done)",
)
def test_the_state_of_a_long_loop_stays_bounded(sizes: list[int]) -> None:
    assert sizes[-1] <= 1.5 * sizes[9]
