"""The engine's public API on small diagrams: routes, forms, errors, timers, loops, the sandbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workflow import engine, spiff_engine
from workflow.definition import Definition, digest_of, load_definition, validate_files
from workflow.errors import (
    DefinitionInvalid,
    EngineStepLimit,
    ExpressionError,
    ProcessFailed,
    StateUnreadable,
    TaskDataInvalid,
    TaskNotReady,
)
from workflow.model import InstanceStatus, SourceFile, TaskView
from workflow.spiff_parser import parse_process
from workflow.xml_safety import parse_xml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday morning
RECORD = {
    "summary": "A pupil said a photo was shared in a group chat.",
    "pupil_age": "14",
    "adult_involved": "false",
    "inform_parents": "true",
}


def sources(*names: str) -> list[SourceFile]:
    return [SourceFile(name, (FIXTURES / name).read_bytes()) for name in names]


def intake() -> Definition:
    return load_definition(sources("intake.bpmn", "referral_rule.dmn"))


def timers() -> Definition:
    return load_definition(sources("timers.bpmn"))


def ready(status: InstanceStatus) -> list[str]:
    return sorted(task.bpmn_id for task in status.ready)


def task_id(status: InstanceStatus, bpmn_id: str) -> str:
    return next(task.id for task in status.ready if task.bpmn_id == bpmn_id)


# --- definitions -------------------------------------------------------------------------------


def test_load_definition_keeps_process_user_tasks_and_lane_ids() -> None:
    definition = intake()
    assert definition.process_id == "intake"
    assert definition.name == "Intake for engine tests"
    assert definition.user_tasks == (
        ("record", "Record the disclosure", "staff"),
        ("refer", "Refer to police or social care", "dsl"),
        ("review", "Review in school", "dsl"),
    )
    assert [s.name for s in definition.sources] == ["intake.bpmn", "referral_rule.dmn"]
    spec = json.loads(definition.spec)
    assert spec["serializer_version"] == "1.5"
    assert spec["spec"]["name"] == "intake"
    assert "tasks" not in spec


def test_digest_is_the_identity_of_the_files_not_their_order() -> None:
    files = sources("intake.bpmn", "referral_rule.dmn")
    assert intake().digest == digest_of(files) == digest_of(list(reversed(files)))
    renamed = [replace(files[0], name="other.bpmn"), files[1]]
    edited = [replace(files[0], content=files[0].content + b"\n"), files[1]]
    assert len({digest_of(files), digest_of(renamed), digest_of(edited)}) == 3


def test_a_condition_that_imports_os_is_refused_at_load() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        load_definition(sources("unsafe.bpmn"))
    [problem] = caught.value.problems
    assert (problem.file, problem.element_id, problem.line) == ("unsafe.bpmn", "again", 23)
    assert "__import__" in problem.message
    assert validate_files(sources("unsafe.bpmn")) == caught.value.problems


def test_validate_files_is_empty_for_a_good_bundle_and_locates_bad_xml() -> None:
    assert validate_files(sources("timers.bpmn")) == []
    broken = SourceFile("broken.bpmn", b"<bpmn:definitions")
    [problem] = validate_files([broken])
    assert problem.file == "broken.bpmn"


def test_a_problem_only_spiffworkflow_finds_is_located_by_element_and_line() -> None:
    [source] = sources("timers.bpmn")
    second_flow = source.content.replace(
        b'<bpmn:sequenceFlow id="to_plan"',
        b'<bpmn:sequenceFlow id="extra" sourceRef="initial_review" targetRef="deleted" />'
        b'<bpmn:sequenceFlow id="to_plan"',
    )
    [problem] = validate_files([replace(source, content=second_flow)])
    assert (problem.file, problem.element_id, problem.line) == ("timers.bpmn", "initial_review", 26)
    assert "Multiple outgoing flows" in problem.message


def test_a_bundle_with_two_processes_needs_the_process_named() -> None:
    with pytest.raises(DefinitionInvalid, match="name the process to run"):
        load_definition(sources("loop.bpmn", "nowhere.bpmn"))
    assert load_definition(sources("loop.bpmn", "nowhere.bpmn"), "nowhere").process_id == "nowhere"


# --- starting and completing --------------------------------------------------------------------


def test_start_instance_shows_the_first_user_task_with_its_form_and_camunda_attributes() -> None:
    status = engine.start_instance(intake(), NOW, {"school": "north"})
    [task] = status.ready
    assert (task.bpmn_id, task.name, task.lane) == ("record", "Record the disclosure", "staff")
    assert task.candidate_groups == ("staff", "dsl")
    assert (task.assignee, task.due) == ("reporter", "'P1D'")
    assert task.documentation.startswith("Write down what was said")
    assert [f.id for f in task.form.fields][:3] == ["summary", "pupil_age", "adult_involved"]
    summary = task.form.field("summary")
    assert summary is not None and (summary.multiline, summary.minlength) == (True, 3)
    channel = task.form.field("channel")
    assert channel is not None and channel.widget == "select" and channel.default == "social"
    assert [o.id for o in channel.options] == ["airdrop", "social", "other"]
    reason = task.form.field("parents_not_informed_reason")
    assert reason is not None and reason.required_if == ("inform_parents", "false")
    decision = task.form.field("inform_parents")
    assert decision is not None and decision.is_decision
    assert (status.ended, status.timers, status.completed_now) == (False, (), ())
    assert status.data == {"school": "north"}


def test_complete_task_types_the_data_and_runs_the_decision_table() -> None:
    definition = intake()
    started = engine.start_instance(definition, NOW)
    data = {**RECORD, "incident_date": "2026-01-02", "channel": "airdrop"}
    status = engine.complete_task(definition, started.state, started.ready[0].id, data, NOW)
    assert status.completed_now == ("record", "triage")
    assert ready(status) == ["review"]
    assert status.data["pupil_age"] == 14
    assert status.data["adult_involved"] is False
    assert status.data["incident_date"] == "2026-01-02"
    assert status.data["refer_now"] is False
    assert status.data["parents_not_informed_reason"] is None


def test_the_decision_table_routes_a_young_child_to_referral_and_the_instance_ends() -> None:
    definition = intake()
    started = engine.start_instance(definition, NOW)
    young = {**RECORD, "pupil_age": 12}
    referred = engine.complete_task(definition, started.state, started.ready[0].id, young, NOW)
    assert ready(referred) == ["refer"]
    assert referred.data["refer_reason"] == "a child under 13"
    reference = {"referral_reference": "CSC-1"}
    done = engine.complete_task(definition, referred.state, referred.ready[0].id, reference, NOW)
    assert (done.ended, done.ready, done.completed_now) == (True, (), ("refer",))
    assert done.data["referral_reference"] == "CSC-1"


def test_completed_steps_lists_user_and_rule_tasks_in_order_with_their_own_data() -> None:
    definition = intake()
    started = engine.start_instance(definition, NOW)
    later = NOW + timedelta(hours=2)
    first = engine.complete_task(
        definition, started.state, started.ready[0].id, RECORD, NOW, actor="teacher@example.org"
    )
    done = engine.complete_task(definition, first.state, first.ready[0].id, {}, later, actor="dsl")
    steps = engine.completed_steps(definition, done.state)
    assert [s.bpmn_id for s in steps] == ["record", "triage", "review"]
    record, triage, review = steps
    assert record.data["summary"] == RECORD["summary"] and "refer_now" not in record.data
    assert (record.lane, record.actor, record.completed_at) == ("staff", "teacher@example.org", NOW)
    assert triage.data == {"refer_now": False, "refer_reason": ""}
    assert (triage.lane, triage.actor) == ("dsl", None)
    assert review.data == {"review_notes": None}
    assert (review.completed_at, review.actor) == (later, "dsl")


def test_get_status_is_read_only() -> None:
    definition = intake()
    started = engine.start_instance(definition, NOW)
    status = engine.get_status(definition, started.state, NOW + timedelta(days=30))
    assert status.state == started.state
    assert [t.id for t in status.ready] == [t.id for t in started.ready]


# --- refusals happen before any change ------------------------------------------------------------


def test_bad_data_is_refused_per_field_and_the_state_still_works() -> None:
    definition = intake()
    started = engine.start_instance(definition, NOW)
    bad = {"summary": "ok", "pupil_age": "three", "inform_parents": "false", "colour": "red"}
    with pytest.raises(TaskDataInvalid) as caught:
        engine.complete_task(definition, started.state, started.ready[0].id, bad, NOW)
    assert caught.value.task_bpmn_id == "record"
    assert set(caught.value.errors) == {
        "summary",
        "pupil_age",
        "adult_involved",
        "parents_not_informed_reason",
        "colour",
    }
    again = engine.get_status(definition, started.state, NOW)
    assert ready(again) == ["record"] and again.completed_now == ()
    fine = engine.complete_task(definition, started.state, started.ready[0].id, RECORD, NOW)
    assert fine.completed_now == ("record", "triage")


def test_unknown_done_and_non_user_tasks_are_not_ready() -> None:
    definition = intake()
    started = engine.start_instance(definition, NOW)
    record_id = started.ready[0].id
    done = engine.complete_task(definition, started.state, record_id, RECORD, NOW)
    triage_id = next(
        s.id for s in engine.completed_steps(definition, done.state) if s.bpmn_id == "triage"
    )
    with pytest.raises(TaskNotReady, match="not a task of this instance"):
        engine.complete_task(definition, started.state, "not-a-uuid", RECORD, NOW)
    with pytest.raises(TaskNotReady, match="not a task of this instance"):
        engine.complete_task(definition, started.state, "0" * 32, RECORD, NOW)
    with pytest.raises(TaskNotReady, match="COMPLETED, not READY"):
        engine.complete_task(definition, done.state, record_id, RECORD, NOW)
    with pytest.raises(TaskNotReady, match="not a user task"):
        engine.complete_task(definition, done.state, triage_id, {}, NOW)


def test_a_gateway_no_flow_matches_fails_naming_the_gateway() -> None:
    definition = load_definition(sources("nowhere.bpmn"))
    with pytest.raises(ProcessFailed) as caught:
        engine.start_instance(definition, NOW, {"choice": 3})
    assert caught.value.element_id == "choose"
    assert engine.start_instance(definition, NOW, {"choice": 2}).ended


def test_unreadable_states_are_refused() -> None:
    definition = intake()
    for state in ("", "not json", "[]", '{"tasks": {}}', '{"serializer_version": "9.9"}'):
        with pytest.raises(StateUnreadable):
            engine.get_status(definition, state, NOW)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.start_instance(intake(), datetime(2026, 1, 5, 9))


# --- timers ---------------------------------------------------------------------------------


def test_a_non_interrupting_boundary_timer_fires_only_when_due() -> None:
    definition = timers()
    started = engine.start_instance(definition, NOW)
    [timer] = started.timers
    assert (timer.bpmn_id, timer.name, timer.due_at) == (
        "review_overdue",
        "Review overdue",
        NOW + timedelta(hours=24),
    )
    early = engine.fire_due_timers(definition, started.state, timer.due_at - timedelta(seconds=1))
    assert ready(early) == ["initial_review"] and len(early.timers) == 1
    due = engine.fire_due_timers(definition, started.state, timer.due_at)
    assert ready(due) == ["chase_review", "initial_review"]
    assert due.timers == () and not due.ended


def test_a_timer_on_a_variable_date_interrupts_its_task_at_that_date() -> None:
    definition = timers()
    status = engine.start_instance(definition, NOW)
    status = engine.complete_task(
        definition, status.state, task_id(status, "initial_review"), {}, NOW
    )
    plan = {"deletion_deadline": "2026-01-12"}
    status = engine.complete_task(
        definition, status.state, task_id(status, "plan_deletion"), plan, NOW
    )
    [timer] = status.timers
    deadline = datetime(2026, 1, 12, tzinfo=UTC)
    assert (timer.bpmn_id, timer.due_at) == ("deletion_deadline_passed", deadline)
    before = engine.fire_due_timers(definition, status.state, deadline - timedelta(minutes=1))
    assert ready(before) == ["confirm_deletion"]
    after = engine.fire_due_timers(definition, status.state, deadline)
    assert ready(after) == ["escalate"] and after.timers == ()


def test_data_merges_parallel_branches_when_a_side_branch_finishes_last() -> None:
    definition = timers()
    status = engine.start_instance(definition, NOW)
    status = engine.fire_due_timers(definition, status.state, NOW + timedelta(days=1))
    status = engine.complete_task(
        definition, status.state, task_id(status, "initial_review"), {}, NOW
    )
    plan = {"deletion_deadline": "2026-01-12"}
    status = engine.complete_task(
        definition, status.state, task_id(status, "plan_deletion"), plan, NOW
    )
    chase = task_id(status, "chase_review")
    status = engine.complete_task(definition, status.state, chase, {}, NOW, actor="dsl")
    assert ready(status) == ["confirm_deletion"]
    assert status.data["deletion_deadline"] == "2026-01-12"


def test_durations_are_counted_on_the_calendar_given() -> None:
    class TwoDaysPerStep:
        def add(self, start: datetime, duration: str) -> datetime:
            return start + timedelta(days=2)

    status = engine.start_instance(timers(), NOW, calendar=TwoDaysPerStep())
    assert status.timers[0].due_at == NOW + timedelta(days=2)


def test_a_repeating_timer_fires_once_per_period_and_stops_after_its_count() -> None:
    definition = load_definition(sources("cycle.bpmn"))
    status = engine.start_instance(definition, NOW)
    assert [t.due_at for t in status.timers] == [NOW + timedelta(hours=1)]
    status = engine.fire_due_timers(definition, status.state, NOW + timedelta(hours=1))
    assert ready(status) == ["nudge", "wait"]
    assert [t.due_at for t in status.timers] == [NOW + timedelta(hours=2)]
    status = engine.fire_due_timers(definition, status.state, NOW + timedelta(hours=5))
    assert ready(status) == ["nudge", "nudge", "wait"] and status.timers == ()


# --- loops, bounds and the sandbox -------------------------------------------------------------


def test_a_loop_of_600_rounds_does_not_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spiff's default iterator depth (1000) made this loop look finished after 500 rounds.
    monkeypatch.setattr(spiff_engine, "MAX_SECONDS", 120.0)  # the time bound is not under test
    definition = load_definition(sources("loop.bpmn"))
    status = engine.start_instance(definition, NOW, {"counter": 0, "rounds": 600})
    assert status.ended
    assert status.data["counter"] == 600


def test_a_loop_without_a_wait_hits_the_step_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spiff_engine, "MAX_STEPS", 50)
    definition = load_definition(sources("loop.bpmn"))
    with pytest.raises(EngineStepLimit, match=r"^(count|more): the engine took 51 steps"):
        engine.start_instance(definition, NOW, {"counter": 0, "rounds": 1_000_000})


def test_a_condition_forced_past_lint_is_refused_by_the_sandbox_at_run_time() -> None:
    [source] = sources("unsafe.bpmn")
    parsed = parse_process([(source, parse_xml(source))], None)  # no lint
    unlinted = Definition(parsed.process_id, parsed.name, parsed.spec, "-", (source,), ())
    with pytest.raises(ExpressionError) as caught:
        engine.start_instance(unlinted, NOW, {"counter": 0, "rounds": 1})
    assert caught.value.element_id == "more"
    assert "__import__" in str(caught.value)


def test_a_failing_decision_table_cell_names_the_business_rule_task() -> None:
    bpmn, dmn = sources("intake.bpmn", "referral_rule.dmn")
    misspelt = replace(dmn, content=dmn.content.replace(b">pupil_age<", b">pupil_years<"))
    definition = load_definition([bpmn, misspelt])
    started = engine.start_instance(definition, NOW)
    with pytest.raises(ExpressionError) as caught:
        engine.complete_task(definition, started.state, started.ready[0].id, RECORD, NOW)
    assert caught.value.element_id == "triage"
    assert "pupil_years" in str(caught.value)


def test_a_check_sees_the_task_and_data_first_and_can_refuse_before_validation() -> None:
    definition = intake()
    started = engine.start_instance(definition, NOW, {"school_note": "kept"})
    seen: list[tuple[str, object]] = []

    class Refused(Exception):
        pass

    def refuse(view: TaskView, data: Mapping[str, Any]) -> None:
        seen.append((view.bpmn_id, data.get("school_note")))
        raise Refused

    with pytest.raises(Refused):  # not TaskDataInvalid: the check runs before validation
        engine.complete_task(definition, started.state, started.ready[0].id, {}, NOW, check=refuse)
    assert seen == [("record", "kept")]
    done = engine.complete_task(
        definition, started.state, started.ready[0].id, RECORD, NOW, check=lambda v, d: None
    )
    assert done.completed_now == ("record", "triage")
