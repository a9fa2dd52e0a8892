"""External (service) tasks: they wait for a worker, complete with its result, survive a reload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workflow import engine
from workflow.definition import Definition, load_definition, validate_files
from workflow.errors import TaskDataInvalid, TaskNotReady
from workflow.model import ExternalTaskView, SourceFile
from workflow.simulate import run_scenario

NOW = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
HEAD = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs">'
    '<bpmn:process id="p" isExecutable="true">'
)
LANES = (
    '<bpmn:laneSet id="roles"><bpmn:lane id="dsl" name="DSL">'
    "<bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>render</bpmn:flowNodeRef>"
    "</bpmn:lane></bpmn:laneSet>"
)
REVIEW = (
    '<bpmn:userTask id="review" name="Review"><bpmn:extensionElements><camunda:formData>'
    '<camunda:formField id="note" label="Note" type="string" /></camunda:formData>'
    "</bpmn:extensionElements></bpmn:userTask>"
)
RENDER = (
    '<bpmn:serviceTask id="render" name="File the record" camunda:type="external" '
    'camunda:topic="render_record_pdf" />'
)
# start -> render (external) -> gateway on the result -> review (user) or end
ROUTED = (
    f"{HEAD}{LANES}<bpmn:startEvent id='start' />{RENDER}{REVIEW}"
    '<bpmn:exclusiveGateway id="gw" default="to_end" /><bpmn:endEvent id="end" />'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="render" />'
    '<bpmn:sequenceFlow id="f2" sourceRef="render" targetRef="gw" />'
    '<bpmn:sequenceFlow id="to_review" sourceRef="gw" targetRef="review">'
    "<bpmn:conditionExpression>pages &gt; 2</bpmn:conditionExpression></bpmn:sequenceFlow>"
    '<bpmn:sequenceFlow id="to_end" sourceRef="gw" targetRef="end" />'
    '<bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end" />'
    "</bpmn:process></bpmn:definitions>"
)

# start -> render (external) -> end
LINEAR = (
    f"{HEAD}<bpmn:startEvent id='start' />{RENDER}<bpmn:endEvent id='end' />"
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="render" />'
    '<bpmn:sequenceFlow id="f2" sourceRef="render" targetRef="end" />'
    "</bpmn:process></bpmn:definitions>"
)


def definition_of(xml: str) -> Definition:
    return load_definition([SourceFile("p.bpmn", xml.encode("utf-8"))])


@pytest.fixture(scope="module")
def routed() -> Definition:
    return definition_of(ROUTED)


@pytest.fixture(scope="module")
def linear() -> Definition:
    return definition_of(LINEAR)


def test_an_external_task_waits_for_its_worker_and_is_not_a_persons_task(
    routed: Definition,
) -> None:
    status = engine.start_instance(routed, NOW)

    assert status.ready == ()
    assert not status.ended
    [task] = status.external
    assert task == ExternalTaskView(
        task.id, "render", "File the record", "render_record_pdf", "dsl"
    )
    assert status.completed_now == ()


def test_the_waiting_task_survives_the_state_round_trip(routed: Definition) -> None:
    started = engine.start_instance(routed, NOW)
    reloaded = engine.get_status(routed, json.loads(json.dumps(started.state)), NOW)

    assert reloaded.external == started.external
    later = engine.fire_due_timers(routed, started.state, NOW + timedelta(days=30))
    assert later.external == started.external  # time alone never completes it


def test_completing_it_merges_the_result_and_runs_on(routed: Definition) -> None:
    started = engine.start_instance(routed, NOW)
    [task] = started.external

    done = engine.complete_external_task(
        routed, started.state, task.id, {"pages": 3, "document": {"id": "d1"}}, NOW
    )

    assert done.completed_now == ("render",)
    assert done.external == ()
    assert [t.bpmn_id for t in done.ready] == ["review"]  # the gateway read the result
    assert done.data["pages"] == 3 and done.data["document"] == {"id": "d1"}
    assert engine.get_status(routed, done.state, NOW).data["pages"] == 3
    # History is people's answers and decisions: the worker's step is not in it.
    assert engine.completed_steps(routed, done.state) == []


def test_an_empty_result_ends_a_process_with_nothing_after_it(linear: Definition) -> None:
    started = engine.start_instance(linear, NOW)
    done = engine.complete_external_task(linear, started.state, started.external[0].id, {}, NOW)

    assert done.ended and done.ready == () and done.external == ()


def test_it_completes_once(linear: Definition) -> None:
    started = engine.start_instance(linear, NOW)
    task_id = started.external[0].id
    done = engine.complete_external_task(linear, started.state, task_id, {}, NOW)

    with pytest.raises(TaskNotReady, match="not READY"):
        engine.complete_external_task(linear, done.state, task_id, {}, NOW)


def test_unknown_ids_and_the_wrong_kind_of_task_are_refused(routed: Definition) -> None:
    started = engine.start_instance(routed, NOW)
    waiting = started.external[0].id
    at_review = engine.complete_external_task(routed, started.state, waiting, {"pages": 5}, NOW)
    [review] = at_review.ready

    with pytest.raises(TaskNotReady, match="not a task of this instance"):
        engine.complete_external_task(routed, started.state, "not-a-uuid", {}, NOW)
    with pytest.raises(TaskNotReady, match=r"\(review\) is not an external task"):
        engine.complete_external_task(routed, at_review.state, review.id, {}, NOW)
    with pytest.raises(TaskNotReady, match=r"\(render\) is not a user task"):
        engine.complete_task(routed, started.state, waiting, {}, NOW)


@pytest.mark.parametrize(
    ("result", "key", "message"),
    [
        ({"when": datetime(2026, 9, 7, tzinfo=UTC)}, "when", "datetime is not a JSON value"),
        ({"blob": b"%PDF"}, "blob", "bytes is not a JSON value"),
        ({"ratio": float("nan")}, "ratio", "nan is not a JSON number"),
        ({"nested": {"deep": [object()]}}, "nested", "object is not a JSON value"),
        ({"not an identifier": 1}, "not an identifier", "must be an identifier"),
        ({"_private": 1}, "_private", "must be an identifier"),
    ],
)
def test_a_result_that_is_not_json_is_refused_per_key(
    routed: Definition, result: dict[str, Any], key: str, message: str
) -> None:
    started = engine.start_instance(routed, NOW)

    with pytest.raises(TaskDataInvalid) as refused:
        engine.complete_external_task(routed, started.state, started.external[0].id, result, NOW)

    assert refused.value.task_bpmn_id == "render"
    assert message in " ".join(refused.value.errors[key])


def test_simulation_completes_external_tasks_with_an_empty_result(linear: Definition) -> None:
    result = run_scenario(linear, {"steps": []})

    assert result.completed == ["render"]
    assert result.ended


def test_a_boundary_timer_can_take_the_path_away_from_a_waiting_worker() -> None:
    timed = definition_of(
        f"{HEAD}<bpmn:startEvent id='start' />{RENDER}<bpmn:endEvent id='end' />"
        '<bpmn:boundaryEvent id="too_long" attachedToRef="render"><bpmn:timerEventDefinition '
        'id="t"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>'
        '</bpmn:boundaryEvent><bpmn:endEvent id="gave_up" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="render" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="render" targetRef="end" />'
        '<bpmn:sequenceFlow id="f3" sourceRef="too_long" targetRef="gave_up" />'
        "</bpmn:process></bpmn:definitions>"
    )
    started = engine.start_instance(timed, NOW)
    assert [t.bpmn_id for t in started.external] == ["render"]

    fired = engine.fire_due_timers(timed, started.state, NOW + timedelta(hours=2))

    assert fired.external == ()
    assert fired.ended


def test_an_external_task_with_an_identifier_topic_lints_clean() -> None:
    assert validate_files([SourceFile("p.bpmn", ROUTED.encode("utf-8"))]) == []
