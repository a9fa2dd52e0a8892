"""Warm workflows (spiff_warm): a command on a kept workflow ends exactly as on a fresh restore."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.scheduling.calendars import school_calendars
from workflow import engine, spiff_engine, spiff_warm
from workflow.definition import Definition, load_definition
from workflow.errors import ProcessFailed, SafeguardError, TaskDataInvalid, TaskNotReady
from workflow.formdata import placeholder_data
from workflow.model import InstanceStatus, SourceFile
from workflow.simulate import run_scenario

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
SCENARIOS = sorted((BPMN_DIR / "scenarios").glob("*.json")) + sorted(
    (BPMN_DIR / "statutory").glob("*.json")
)
LOOP = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "loop_user_task.bpmn"
NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
COMMANDS = ("complete_task", "complete_external_task", "fire_due_timers", "deliver_message")


@pytest.fixture(scope="module")
def definition() -> Definition:
    paths = [BPMN_DIR / "sharing-nudes-response.bpmn", *sorted(BPMN_DIR.glob("*.dmn"))]
    return load_definition([SourceFile(f"bpmn/{p.name}", p.read_bytes()) for p in paths])


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    spiff_warm.clear()
    yield
    spiff_warm.ENABLED = True
    spiff_warm.clear()


@pytest.fixture
def hits(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The workflows this thread's commands took from the cache."""
    taken: list[Any] = []
    take = spiff_warm.take

    def counting(definition: Definition, state: str) -> Any:
        found = take(definition, state)
        if found is not None:
            taken.append(found)
        return found

    monkeypatch.setattr(spiff_warm, "take", counting)
    return taken


def normalized(state: str) -> Any:
    """A state with its random task ids numbered in order of appearance, wall-clock times zeroed."""
    names: dict[str, str] = {}
    text = UUID_TEXT.sub(lambda m: names.setdefault(m.group(0), f"id{len(names)}"), state)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: 0 if k == "last_state_change" else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(json.loads(text))


def shape(status: InstanceStatus) -> dict[str, Any]:
    """Everything a caller gets, ids numbered as in the state."""
    released = [(s.bpmn_id, s.data, s.sequence, s.actor) for s in status.released_steps]
    return {
        "state": normalized(status.state),
        "stored": normalized(status.state_to_store),
        "ready": sorted(t.bpmn_id for t in status.ready),
        "timers": sorted((t.bpmn_id, t.due_at) for t in status.timers),
        "ended": status.ended,
        "data": status.data,
        "completed_now": status.completed_now,
        "external": [t.bpmn_id for t in status.external],
        "cancelled_now": [c.bpmn_id for c in status.cancelled_now],
        "released": released,
    }


def storing(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Make the simulator pass each command the state handlers store (pruned), and record all."""
    stored: dict[str, str] = {}
    seen: list[dict[str, Any]] = []

    def wrap(command: Callable[..., InstanceStatus]) -> Callable[..., InstanceStatus]:
        def call(definition: Definition, state: str, *args: Any, **kwargs: Any) -> InstanceStatus:
            status = command(definition, stored.get(state, state), *args, **kwargs)
            stored[status.state] = status.state_to_store
            seen.append(shape(status))
            return status

        return call

    for name in COMMANDS:
        monkeypatch.setattr(engine, name, wrap(getattr(engine, name)))
    return seen


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_runs_the_same_warm_and_cold(
    definition: Definition, path: Path, monkeypatch: pytest.MonkeyPatch, hits: list[Any]
) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    runs: list[tuple[Any, ...]] = []
    for enabled in (False, True):
        spiff_warm.ENABLED = enabled
        spiff_warm.clear()
        with monkeypatch.context() as patch:
            seen = storing(patch)
            try:
                result = run_scenario(definition, scenario, calendar=school_calendars())
            except SafeguardError as error:  # a statutory scenario that must be refused
                runs.append((seen, str(error)))
                continue
        runs.append((seen, result.completed, result.ready, result.ended, result.data))
    assert runs[0] == runs[1]
    # Warm: every command but the first after the start (and a refused last one, if any).
    refused = len(runs[1]) == 2
    assert len(hits) == len(runs[1][0]) - 1 + refused


def test_a_pruned_loop_runs_the_same_warm_and_cold(hits: list[Any]) -> None:
    definition = load_definition([SourceFile(LOOP.name, LOOP.read_bytes())])
    runs = []
    for enabled in (False, True):
        spiff_warm.ENABLED = enabled
        spiff_warm.clear()
        status = engine.start_instance(definition, NOW, {"counter": 0, "rounds": 40})
        seen = [shape(status)]
        for n in range(40):
            note = {"note": f"round {n + 1}"}
            when = NOW + timedelta(hours=n)
            status = engine.complete_task(
                definition, status.state_to_store, status.ready[0].id, note, when, actor="7"
            )
            seen.append(shape(status))
            if n % 10 == 0:  # reads in between: they keep the workflow as it is
                engine.get_status(definition, status.state_to_store, when)
                engine.taken_flows(definition, status.state_to_store)
                engine.completed_steps(definition, status.state_to_store)
        assert status.ended
        runs.append(seen)
    assert runs[0] == runs[1]
    assert any(step["released"] for step in runs[1])  # pruning happened on warm workflows
    assert len(hits) == 39 + 3 * 4


def first_task(definition: Definition) -> tuple[InstanceStatus, str]:
    status = engine.start_instance(definition, NOW)
    return status, status.ready[0].id


def answers(definition: Definition, status: InstanceStatus) -> dict[str, Any]:
    task = status.ready[0]
    assert task.form is not None
    return placeholder_data(task.form, {})


def test_failed_commands_then_a_retry_end_as_without_the_cache(
    definition: Definition, monkeypatch: pytest.MonkeyPatch, hits: list[Any]
) -> None:
    results = []
    run = spiff_engine._run_engine

    def failing(command: spiff_engine.Command) -> None:
        run(command)  # the workflow has moved on: then the command fails
        raise ProcessFailed("x", "failed after changing the workflow")

    for enabled in (False, True):
        spiff_warm.ENABLED = enabled
        spiff_warm.clear()
        status, task_id = first_task(definition)
        data = answers(definition, status)
        step = engine.complete_task(definition, status.state, task_id, data, NOW)
        state = step.state_to_store
        nxt = step.ready[0]
        with monkeypatch.context() as patch:
            patch.setattr(spiff_engine, "_run_engine", failing)
            with pytest.raises(ProcessFailed):  # on the warm workflow, once it has changed
                engine.complete_task(definition, state, nxt.id, answers(definition, step), NOW)
        assert spiff_warm.size() == 0  # the changed workflow is gone, kept under no state
        engine.get_status(definition, state, NOW)  # restores afresh and keeps that
        with pytest.raises(TaskNotReady):
            engine.complete_task(definition, state, task_id, data, NOW)  # done already
        engine.get_status(definition, state, NOW)
        with pytest.raises(TaskDataInvalid):
            engine.complete_task(definition, state, nxt.id, {"no_such_field": 1}, NOW)
        engine.get_status(definition, state, NOW)
        retry = engine.complete_task(definition, state, nxt.id, answers(definition, step), NOW)
        results.append(shape(retry))
    assert results[0] == results[1]
    # Warm: the failing command, both refused ones and the retry; a failed command keeps
    # nothing, so each read after one restores afresh.
    assert len(hits) == 4


def test_a_state_written_elsewhere_is_never_served_from_the_cache(
    definition: Definition, hits: list[Any]
) -> None:
    status, task_id = first_task(definition)
    step = engine.complete_task(definition, status.state, task_id, answers(definition, status), NOW)
    kept = step.state_to_store
    same_meaning = json.dumps(json.loads(kept), separators=(",", ":"))
    assert engine.get_status(definition, same_meaning, NOW).ready == step.ready
    assert hits == []
    changed = json.loads(kept)
    root = changed["tasks"][changed["root"]]
    root["data"]["written_elsewhere"] = "yes"
    status = engine.get_status(definition, json.dumps(changed), NOW)
    assert hits == []
    assert status.data["written_elsewhere"] == "yes"
    assert engine.get_status(definition, kept, NOW).data.get("written_elsewhere") is None
    assert len(hits) == 1


def test_threads_never_share_a_workflow(definition: Definition, hits: list[Any]) -> None:
    status, task_id = first_task(definition)
    step = engine.complete_task(definition, status.state, task_id, answers(definition, status), NOW)
    theirs: list[Any] = []

    def other() -> None:
        theirs.append(spiff_warm.size())
        theirs.append(engine.get_status(definition, step.state_to_store, NOW))
        theirs.append(spiff_warm.size())

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert theirs[0] == 0 and theirs[2] == 1  # its own cache, filled by its own restore
    assert hits == []
    mine = engine.get_status(definition, step.state_to_store, NOW)
    assert len(hits) == 1
    assert shape(mine) == shape(theirs[1])


def test_the_cache_keeps_at_most_its_bound(
    definition: Definition, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spiff_warm, "MAX_PER_THREAD", 3)
    states = []
    for _ in range(5):
        status, task_id = first_task(definition)
        data = answers(definition, status)
        states.append(engine.complete_task(definition, status.state, task_id, data, NOW))
        assert spiff_warm.size() <= 3
    assert spiff_warm.size() == 3


def test_a_reused_workflow_runs_on_the_commands_clock(
    definition: Definition, hits: list[Any]
) -> None:
    status, task_id = first_task(definition)
    step = engine.complete_task(definition, status.state, task_id, answers(definition, status), NOW)
    later = datetime(2026, 9, 2, 9, 0, tzinfo=UTC)
    nxt = step.ready[0]
    done = engine.complete_task(
        definition, step.state_to_store, nxt.id, answers(definition, step), later
    )
    assert len(hits) == 1
    stored = engine.completed_steps(definition, done.state_to_store, done.released_steps)
    assert [s.completed_at for s in stored if s.bpmn_id == nxt.bpmn_id] == [later]
