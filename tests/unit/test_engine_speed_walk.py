"""spiff_engine.walk finds, in one walk, exactly what Spiff's get_tasks finds for each state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskIterator, TaskState

from services.scheduling.calendars import school_calendars
from workflow import engine, spiff_engine
from workflow.definition import Definition, load_definition
from workflow.model import SourceFile
from workflow.simulate import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "bpmn" / "scenarios").glob("*.json"))
FIXTURES = ROOT / "tests" / "fixtures" / "engine"
NOW = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every walk the engine takes is compared with get_tasks; returns the walk count."""
    walks: list[int] = []
    real = spiff_engine.walk

    def compared(workflow: Any) -> spiff_engine.Walk:
        found = real(workflow)
        assert found.ready == workflow.get_tasks(state=TaskState.READY)
        assert found.waiting == workflow.get_tasks(state=TaskState.WAITING)
        assert found.open == workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
        assert found.completed == workflow.get_tasks(state=TaskState.COMPLETED)
        # As Workflow.is_completed looks for an unfinished task (without its cached flag).
        unfinished = TaskIterator(workflow.task_tree, state=TaskState.NOT_FINISHED_MASK)
        assert found.unfinished == (next(unfinished, None) is not None)
        walks.append(len(workflow.subprocesses))
        return found

    monkeypatch.setattr(spiff_engine, "walk", compared)
    return walks


@pytest.fixture(scope="module")
def default_process() -> Definition:
    paths = [ROOT / "bpmn" / "sharing-nudes-response.bpmn", *sorted((ROOT / "bpmn").glob("*.dmn"))]
    return load_definition([SourceFile(f"bpmn/{p.name}", p.read_bytes()) for p in paths])


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_of_the_default_process(
    default_process: Definition, path: Path, checked: list[int]
) -> None:
    run_scenario(default_process, json.loads(path.read_text()), calendar=school_calendars())
    assert checked


def test_messages_into_event_subprocesses_and_interruptions(checked: list[int]) -> None:
    fixture = FIXTURES / "messages.bpmn"
    definition = load_definition([SourceFile(fixture.name, fixture.read_bytes())])
    concern = {"concern": "An adult has been asking a pupil for images", "child_at_risk": True}
    status = engine.start_instance(definition, NOW)
    task = next(t for t in status.ready if t.bpmn_id == "choose_route")
    status = engine.complete_task(definition, status.state, task.id, {"route": "referral"}, NOW)
    status = engine.deliver_message(definition, status.state, "concern", concern, NOW)
    status = engine.deliver_message(definition, status.state, "withdraw", {}, NOW)
    engine.get_status(definition, status.state, NOW)
    engine.completed_steps(definition, status.state)
    assert any(count > 0 for count in checked)  # walked with subprocesses open
