"""Instance state: stored without the spec, round-trips exactly, and loads from older releases."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from workflow import engine
from workflow.definition import Definition, load_definition
from workflow.errors import StateUnreadable
from workflow.model import SourceFile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEGACY_VERSIONS = ["1.2", "1.3", "1.4"]  # written by SpiffWorkflow 2.0.1, 3.0.0, 3.1.0


def definition(name: str) -> Definition:
    return load_definition([SourceFile(name, (FIXTURES / "engine" / name).read_bytes())])


def legacy_state(version: str) -> str:
    return (FIXTURES / "states" / f"legacy-{version}.json").read_text(encoding="utf-8")


def test_state_carries_its_version_and_no_spec() -> None:
    status = engine.start_instance(definition("timers.bpmn"), NOW)
    document = json.loads(status.state)
    assert document["serializer_version"] == "1.5"
    assert "spec" not in document and "subprocess_specs" not in document
    assert document["tasks"]


def test_a_state_round_trips_unchanged_when_nothing_is_due() -> None:
    timers = definition("timers.bpmn")
    status = engine.start_instance(timers, NOW)
    status = engine.complete_task(
        timers, status.state, status.ready[0].id, {}, NOW + timedelta(hours=1)
    )
    planned = engine.complete_task(
        timers, status.state, status.ready[0].id, {"deletion_deadline": "2026-02-01"}, NOW
    )
    again = engine.fire_due_timers(timers, planned.state, NOW + timedelta(hours=2))
    assert json.loads(again.state) == json.loads(planned.state)
    assert again.timers == planned.timers and again.data == planned.data


def test_dates_survive_serialization_as_dates() -> None:
    timers = definition("timers.bpmn")
    status = engine.start_instance(timers, NOW)
    status = engine.complete_task(timers, status.state, status.ready[0].id, {}, NOW)
    plan = {"deletion_deadline": date(2026, 2, 1)}
    status = engine.complete_task(timers, status.state, status.ready[0].id, plan, NOW)
    raw = json.dumps(json.loads(status.state))
    assert '{"value": "2026-02-01", "typename": "date"}' in raw
    assert status.data["deletion_deadline"] == "2026-02-01"


@pytest.mark.parametrize("version", LEGACY_VERSIONS)
def test_a_state_saved_by_an_older_spiffworkflow_loads_completes_and_ends(version: str) -> None:
    legacy = definition("legacy.bpmn")
    state = legacy_state(version)
    status = engine.get_status(legacy, state, NOW)
    [first] = status.ready
    assert (first.bpmn_id, first.lane, [f.id for f in first.form.fields]) == (
        "first",
        "staff",
        ["note"],
    )
    [timer] = status.timers
    saved_due = next(
        t["internal_data"]["event_value"]
        for t in json.loads(state)["tasks"].values()
        if t["task_spec"] == "first_overdue"
    )
    assert timer.due_at == datetime.fromisoformat(saved_due)
    status = engine.complete_task(legacy, state, first.id, {"note": "written"}, NOW)
    assert status.completed_now == ("first",) and status.timers == ()
    assert json.loads(status.state)["serializer_version"] == "1.5"
    [second] = status.ready
    assert (second.bpmn_id, second.lane) == ("second", "dsl")
    done = engine.complete_task(legacy, status.state, second.id, {"agreed": "true"}, NOW)
    assert done.ended
    assert done.data == {"note": "written", "agreed": True}


@pytest.mark.parametrize("version", LEGACY_VERSIONS)
def test_a_timer_saved_by_an_older_spiffworkflow_fires_on_our_clock(version: str) -> None:
    legacy = definition("legacy.bpmn")
    state = legacy_state(version)
    [timer] = engine.get_status(legacy, state, NOW).timers
    status = engine.fire_due_timers(legacy, state, timer.due_at)
    assert sorted(t.bpmn_id for t in status.ready) == ["chase", "first"]


def test_a_definition_spec_from_an_older_serializer_is_parsed_again() -> None:
    timers = definition("timers.bpmn")
    old_spec = json.loads(timers.spec)
    old_spec["serializer_version"] = "1.4"
    stale = replace(timers, spec=json.dumps(old_spec))
    status = engine.start_instance(stale, NOW)  # needs the current spec
    assert [t.bpmn_id for t in status.ready] == ["initial_review"]
    assert engine.get_status(stale, status.state, NOW).ready == status.ready


def test_a_state_older_than_its_definition_spec_is_refused() -> None:
    timers = definition("timers.bpmn")
    state = json.loads(engine.start_instance(timers, NOW).state)
    state["serializer_version"] = "1.4"
    with pytest.raises(
        StateUnreadable, match=r"saved by serializer 1\.4 but the definition's spec by 1\.5"
    ):
        engine.get_status(timers, json.dumps(state), NOW)


def test_a_state_of_another_process_is_refused() -> None:
    with pytest.raises(StateUnreadable, match="elements the definition does not have"):
        engine.get_status(definition("timers.bpmn"), legacy_state("1.4"), NOW)
