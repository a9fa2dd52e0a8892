"""Moving a running instance of the default process to a changed version: what is kept, what
moves, what blocks, and that answers already given are kept exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from workflow import engine
from workflow.definition import Definition, load_definition
from workflow.errors import StateUnreadable
from workflow.model import CompletedStep, InstanceStatus, SourceFile
from workflow.spiff_migration import MigrationBlocked, migrate_state, preview_migration

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
NOW = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
STEPS: list[dict[str, Any]] = json.loads((BPMN / "scenarios" / "s1.json").read_text())["steps"]


@cache
def version(change: Callable[[str], str] | None = None) -> Definition:
    main = BPMN / "sharing-nudes-response.bpmn"
    text = main.read_text(encoding="utf-8")
    files = [SourceFile(main.name, (change(text) if change else text).encode("utf-8"))]
    files += [SourceFile(p.name, p.read_bytes()) for p in sorted(BPMN.glob("*.dmn"))]
    return load_definition(files)


def relabelled(text: str) -> str:
    return text.replace('name="Agree in-house handling"', 'name="Agree to handle it in school"')


def renamed(text: str) -> str:
    # The headteacher's agreement step gets a new id (and so do its boundary events).
    return text.replace("agree_in_house", "agree_locally")


def moved(text: str) -> str:
    # Talking to the children moves from the DSL's lane to the headteacher's.
    ref = "        <bpmn:flowNodeRef>{}</bpmn:flowNodeRef>\n"
    text = text.replace(ref.format("talk_to_children"), "", 1)
    text = text.replace(
        ref.format("agree_in_house"),
        ref.format("agree_in_house") + ref.format("talk_to_children"),
        1,
    )
    return text.replace(
        'camunda:formKey="talk_to_children" camunda:candidateGroups="dsl"',
        'camunda:formKey="talk_to_children" camunda:candidateGroups="headteacher"',
    )


def without_route_field(text: str) -> str:
    # The disclosure form drops a field every S1 incident has answered.
    start = text.index('<camunda:formField id="disclosure_route"')
    end = text.index("</camunda:formField>", start) + len("</camunda:formField>")
    return text[:start] + text[end:]


def run_until(definition: Definition, bpmn_id: str) -> InstanceStatus:
    """Start an S1 incident and complete its steps until `bpmn_id` is ready."""
    status = engine.start_instance(definition, NOW)
    for step in STEPS:
        if any(t.bpmn_id == bpmn_id for t in status.ready):
            return status
        status = complete(definition, status, step)
    raise AssertionError(f"{bpmn_id} never became ready")


def complete(
    definition: Definition, status: InstanceStatus, step: dict[str, Any]
) -> InstanceStatus:
    task = next(t for t in status.ready if t.bpmn_id == step["complete"])
    return engine.complete_task(definition, status.state, task.id, step["data"], NOW, actor="7")


def test_every_step_of_s1_migrates_keeping_tasks_timers_and_answers_and_ends() -> None:
    old, new = version(), version(relabelled)
    status = engine.start_instance(old, NOW)
    on = old
    for step in STEPS:
        target = new if on is old else old  # back and forth: every step runs on a migrated state
        state = migrate_state(on, status.state, target)
        after = engine.get_status(target, state, NOW)
        assert [(t.id, t.bpmn_id) for t in after.ready] == [(t.id, t.bpmn_id) for t in status.ready]
        assert after.timers == status.timers
        assert after.data == status.data
        history = [(s.bpmn_id, s.data, s.actor) for s in engine.completed_steps(target, state)]
        assert history == [
            (s.bpmn_id, s.data, s.actor) for s in engine.completed_steps(on, status.state)
        ]
        status, on = complete(target, engine.get_status(target, state, NOW), step), target
    assert status.ready == ()
    assert [e.bpmn_id for e in status.external] == ["render_record_pdf"]


def test_a_relabelled_ready_task_is_kept_and_says_it_is_renamed() -> None:
    status = run_until(version(), "agree_in_house")
    found = preview_migration(version(), status.state, version(relabelled))
    assert found.migratable
    task = next(t for t in found.tasks if t.bpmn_id == "agree_in_house")
    assert (task.outcome, task.name) == ("kept", "Agree to handle it in school")
    assert task.changes == ("is renamed from 'Agree in-house handling'",)
    answered = {a.bpmn_id: a.answers for a in found.answers}
    assert answered == {"record_disclosure": 8, "initial_review": 16, "risk_assessment": 11}


def test_a_ready_task_that_no_longer_exists_blocks_with_the_reason_and_changes_nothing() -> None:
    status = run_until(version(), "agree_in_house")
    found = preview_migration(version(), status.state, version(renamed))
    assert not found.migratable
    task = next(t for t in found.tasks if t.bpmn_id == "agree_in_house")
    assert task.outcome == "blocked"
    assert (
        "'Agree in-house handling' (agree_in_house), ready on this incident, no longer exists "
        "in the new version" in found.blocked
    )
    with pytest.raises(MigrationBlocked) as refused:
        migrate_state(version(), status.state, version(renamed))
    assert "agree_in_house" in str(refused.value)
    # The same change does not concern an incident that has not reached the step yet.
    earlier = run_until(version(), "initial_review")
    assert preview_migration(version(), earlier.state, version(renamed)).migratable


def test_a_task_moved_to_another_lane_is_reported_and_lands_there() -> None:
    status = run_until(version(), "talk_to_children")
    found = preview_migration(version(), status.state, version(moved))
    task = next(t for t in found.tasks if t.bpmn_id == "talk_to_children")
    assert (task.outcome, task.lane_before, task.lane_after) == ("moved", "dsl", "headteacher")
    assert "moves from the dsl lane to the headteacher lane" in task.changes
    state = migrate_state(version(), status.state, version(moved))
    ready = engine.get_status(version(moved), state, NOW).ready
    assert [(t.bpmn_id, t.lane, t.candidate_groups) for t in ready] == [
        ("talk_to_children", "headteacher", ("headteacher",))
    ]


def test_a_step_answered_whose_field_the_new_version_drops_blocks_the_move() -> None:
    status = run_until(version(), "initial_review")
    found = preview_migration(version(), status.state, version(without_route_field))
    assert not found.migratable
    assert any(
        "(record_disclosure), completed on this incident, loses or retypes the field(s) "
        "disclosure_route" in reason
        for reason in found.blocked
    )


def test_a_state_that_is_not_ours_is_unreadable() -> None:
    with pytest.raises(StateUnreadable):
        preview_migration(version(), "{not json", version(relabelled))
    with pytest.raises(StateUnreadable):
        migrate_state(version(), json.dumps({"tasks": {}}), version(relabelled))


def test_a_new_concern_open_in_its_event_subprocess_migrates_with_its_answers() -> None:
    old, new = version(), version(relabelled)
    status = run_until(old, "talk_to_children")
    message = json.loads(
        (BPMN / "scenarios" / "branch-new-concern-during-containment.json").read_text()
    )
    concern = next(s for s in message["steps"] if s.get("message") == "new_concern")["data"]
    status = engine.deliver_message(old, status.state, "new_concern", concern, NOW, actor="7")
    assert json.loads(status.state)["subprocesses"]  # the concern's subprocess is open
    state = migrate_state(old, status.state, new)
    after = engine.get_status(new, state, NOW)
    assert [(t.id, t.bpmn_id) for t in after.ready] == [(t.id, t.bpmn_id) for t in status.ready]
    assert after.data == status.data
    before = [(s.bpmn_id, s.data) for s in engine.completed_steps(old, status.state)]
    assert [(s.bpmn_id, s.data) for s in engine.completed_steps(new, state)] == before


@pytest.mark.parametrize("saved_by", ["1.2", "1.3", "1.4"])
def test_a_state_saved_by_an_older_spiffworkflow_migrates_and_ends_on_the_new_version(
    saved_by: str,
) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    text = (fixtures / "engine" / "legacy.bpmn").read_text(encoding="utf-8")
    old = load_definition([SourceFile("legacy.bpmn", text.encode("utf-8"))])
    changed = text.replace('name="Agree"', 'name="Agree to it"')
    assert changed != text
    new = load_definition([SourceFile("legacy.bpmn", changed.encode("utf-8"))])
    state = (fixtures / "states" / f"legacy-{saved_by}.json").read_text(encoding="utf-8")
    found = preview_migration(old, state, new)
    assert found.migratable, found.blocked
    assert [(t.bpmn_id, t.outcome) for t in found.tasks if t.state == "ready"] == [
        ("first", "kept")
    ]
    migrated = migrate_state(old, state, new)
    assert json.loads(migrated)["serializer_version"] == "1.5"
    [first] = engine.get_status(new, migrated, NOW).ready
    status = engine.complete_task(new, migrated, first.id, {"note": "written"}, NOW)
    [second] = status.ready
    assert second.name == "Agree to it"
    done = engine.complete_task(new, status.state, second.id, {"agreed": "true"}, NOW)
    assert done.ended and done.data == {"note": "written", "agreed": True}


def review_properties(properties: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        task = text.index('<bpmn:userTask id="initial_review"')
        at = text.index("<bpmn:extensionElements>", task) + len("<bpmn:extensionElements>")
        return f"{text[:at]}<camunda:properties>{properties}</camunda:properties>{text[at:]}"

    return change


STAFF_READ_THE_REVIEW = review_properties(
    '<camunda:property name="readers" value="dsl,auditor,staff" />'
)
REVIEW_NEEDS_THE_REPORT = review_properties(
    '<camunda:property name="needs" value="record_disclosure" />'
)


def test_answers_are_never_shown_to_more_readers_than_when_they_were_given() -> None:
    answered = run_until(version(), "risk_assessment")
    found = preview_migration(version(), answered.state, version(STAFF_READ_THE_REVIEW))
    assert not found.migratable
    assert found.blocked == (
        "'Hold the initial review meeting' (initial_review), completed on this incident, is "
        "read by staff in the new version: the answers given there were not theirs to read",
    )
    # Before the review is held, there is nothing of it for staff to read.
    waiting = run_until(version(), "initial_review")
    assert preview_migration(version(), waiting.state, version(STAFF_READ_THE_REVIEW)).migratable


def test_what_the_doer_of_a_ready_task_may_read_in_the_new_version_is_said() -> None:
    waiting = run_until(version(), "initial_review")
    found = preview_migration(version(), waiting.state, version(REVIEW_NEEDS_THE_REPORT))
    review = next(t for t in found.tasks if t.bpmn_id == "initial_review")
    assert review.outcome == "kept"
    assert review.changes == ("whoever does it may also read the answers of record_disclosure",)


def test_answers_kept_outside_the_state_are_judged_as_those_it_holds() -> None:
    # A state may be pruned of finished work; the caller passes the steps it keeps elsewhere.
    waiting = run_until(version(), "initial_review")
    kept_apart = CompletedStep(
        id="a-step-pruned-from-the-state",
        bpmn_id="record_disclosure",
        name="record_disclosure",
        lane="staff",
        data={"disclosure_route": "child_told_staff", "what_was_said": "(text)"},
    )
    found = preview_migration(version(), waiting.state, version(relabelled), [kept_apart])
    assert found.migratable
    assert [(a.bpmn_id, a.answers) for a in found.answers] == [
        ("record_disclosure", 8),
        ("record_disclosure", 2),
    ]
    blocked = preview_migration(
        version(), waiting.state, version(without_route_field), [kept_apart]
    ).blocked
    assert (
        "'Record the disclosure' (record_disclosure), completed on this incident, loses or "
        "retypes the field(s) disclosure_route in the new version: the answers given there "
        "would not be shown" in blocked
    )
    gone = replace(kept_apart, bpmn_id="a_step_no_version_has")
    with pytest.raises(MigrationBlocked, match="a_step_no_version_has"):
        migrate_state(version(), waiting.state, version(relabelled), [gone])
