"""Message events: a message start event opens an event subprocess with its own form."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from workflow import engine
from workflow.definition import Definition, load_definition
from workflow.errors import TaskDataInvalid, TaskNotReady
from workflow.model import InstanceStatus, SourceFile

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "messages.bpmn"
NOW = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
CONCERN = {"concern": "An adult has been asking a pupil for images", "child_at_risk": True}


@pytest.fixture(scope="module")
def definition() -> Definition:
    return load_definition([SourceFile(FIXTURE.name, FIXTURE.read_bytes())])


def ready(status: InstanceStatus) -> list[str]:
    return sorted(t.bpmn_id for t in status.ready)


def complete(
    definition: Definition, status: InstanceStatus, bpmn_id: str, **data: object
) -> InstanceStatus:
    task = next(t for t in status.ready if t.bpmn_id == bpmn_id)
    return engine.complete_task(definition, status.state, task.id, data, NOW)


def waiting_on_deletion(definition: Definition) -> InstanceStatus:
    status = engine.start_instance(definition, NOW)
    status = complete(definition, status, "choose_route", route="in_house")
    return complete(definition, status, "plan_deletion")


def test_the_process_lists_its_messages_with_their_forms(definition: Definition) -> None:
    found = {m.name: m for m in engine.messages(definition)}
    assert sorted(found) == ["concern", "withdraw"]
    concern = found["concern"]
    assert concern.bpmn_id == "new_concern"
    assert concern.interrupting is False
    assert concern.lane == "dsl"
    assert [f.id for f in concern.form.fields][:2] == ["concern", "child_at_risk"]
    assert concern.form.field("concern") is not None and concern.form.field("concern").required
    assert found["withdraw"].interrupting is True
    assert engine.message(definition, "concern") == concern


@pytest.mark.guidance("referral-criteria", "containment")
def test_a_concern_on_the_in_house_route_stops_deletion_and_its_deadline(
    definition: Definition,
) -> None:
    status = waiting_on_deletion(definition)
    assert [t.bpmn_id for t in status.timers] == ["deadline_passed"]

    after = engine.deliver_message(
        definition, status.state, "concern", CONCERN, NOW, actor="dsl@school"
    )

    assert ready(after) == ["refer"]
    assert after.timers == ()
    assert [c.bpmn_id for c in after.cancelled_now] == ["confirm_deletion"]
    assert after.cancelled_now[0].lane == "dsl"
    assert after.completed_now[0] == "new_concern"
    assert after.data["concern"] == CONCERN["concern"]
    step = engine.completed_steps(definition, after.state)[-1]
    assert (step.bpmn_id, step.actor) == ("new_concern", "dsl@school")
    assert {k: v for k, v in step.data.items() if v is not None} == CONCERN
    assert step.form is not None and step.form.key == "new_concern"
    assert step.completed_at == NOW


def test_a_concern_on_the_referral_route_tells_the_agencies_and_stops_nothing(
    definition: Definition,
) -> None:
    status = engine.start_instance(definition, NOW)
    status = complete(definition, status, "choose_route", route="referral")
    after = engine.deliver_message(definition, status.state, "concern", CONCERN, NOW)
    assert ready(after) == ["refer", "tell_agencies"]
    assert after.cancelled_now == ()
    again = engine.deliver_message(definition, after.state, "concern", CONCERN, NOW)
    assert ready(again) == ["refer", "tell_agencies", "tell_agencies"]


def test_an_interrupting_message_stops_every_other_task(definition: Definition) -> None:
    status = engine.start_instance(definition, NOW)
    status = complete(definition, status, "choose_route", route="referral")
    status = engine.deliver_message(definition, status.state, "concern", CONCERN, NOW)
    after = engine.deliver_message(definition, status.state, "withdraw", {}, NOW)
    assert ready(after) == ["record_withdrawal"]
    assert sorted(c.bpmn_id for c in after.cancelled_now) == ["refer", "tell_agencies"]
    assert complete(definition, after, "record_withdrawal").ended


def test_an_unknown_message_is_refused_naming_the_known_ones(definition: Definition) -> None:
    status = waiting_on_deletion(definition)
    with pytest.raises(engine.MessageUnknown, match=r"'nonsense'.*concern, withdraw"):
        engine.deliver_message(definition, status.state, "nonsense", {}, NOW)
    with pytest.raises(engine.MessageUnknown):
        engine.message(definition, "nonsense")


def test_a_message_when_the_process_has_ended_is_not_available(definition: Definition) -> None:
    status = waiting_on_deletion(definition)
    ended = complete(definition, status, "confirm_deletion")
    assert ended.ended
    with pytest.raises(engine.MessageNotAvailable, match="ended"):
        engine.deliver_message(definition, ended.state, "concern", CONCERN, NOW)
    assert isinstance(engine.MessageNotAvailable("x"), TaskNotReady)


def test_bad_data_is_refused_per_field_and_nothing_changes(definition: Definition) -> None:
    status = waiting_on_deletion(definition)
    with pytest.raises(TaskDataInvalid) as caught:
        engine.deliver_message(
            definition, status.state, "concern", {"concern": "", "child_at_risk": "maybe"}, NOW
        )
    assert set(caught.value.errors) == {"concern", "child_at_risk"}
    assert caught.value.task_bpmn_id == "new_concern"
    # The state given is untouched: the deletion still waits with its deadline.
    same = engine.get_status(definition, status.state, NOW)
    assert ready(same) == ["confirm_deletion"]
    assert [t.bpmn_id for t in same.timers] == ["deadline_passed"]


def test_a_check_can_refuse_before_anything_changes(definition: Definition) -> None:
    status = waiting_on_deletion(definition)
    seen: list[str] = []

    def refuse(view: object, data: object) -> None:
        seen.append(view.name)
        raise PermissionError("not yours")

    with pytest.raises(PermissionError):
        engine.deliver_message(definition, status.state, "concern", CONCERN, NOW, check=refuse)
    assert seen == ["concern"]


def test_simulate_takes_message_steps_with_fill_defaults(definition: Definition) -> None:
    from workflow.simulate import ScenarioInvalid, StepDataInvalid, run_scenario

    steps: list[dict[str, object]] = [
        {"complete": "choose_route", "data": {"route": "in_house"}},
        {"complete": "plan_deletion"},
        {"message": "concern", "data": {"child_at_risk": True}},
    ]
    result = run_scenario(definition, {"fill_defaults": True, "steps": steps})
    assert result.ready == ["refer"]
    assert result.cancelled == ["confirm_deletion"]
    assert result.as_dict()["cancelled"] == ["confirm_deletion"]
    with pytest.raises(StepDataInvalid) as caught:
        run_scenario(definition, {"steps": steps})
    assert caught.value.step == 3 and "concern" in caught.value.errors
    with pytest.raises(ScenarioInvalid, match="step 1: the process has no message 'nope'"):
        run_scenario(definition, {"steps": [{"message": "nope"}]})


def test_a_decision_without_its_reason_is_refused_and_values_are_typed(
    definition: Definition,
) -> None:
    status = waiting_on_deletion(definition)
    with pytest.raises(TaskDataInvalid) as caught:
        engine.deliver_message(
            definition, status.state, "concern", {**CONCERN, "refer_now": False}, NOW
        )
    assert set(caught.value.errors) == {"not_referring_reason"}
    typed = {
        **CONCERN,
        "child_at_risk": "true",
        "refer_now": "false",
        "not_referring_reason": "Agreed",
    }
    after = engine.deliver_message(definition, status.state, "concern", typed, NOW)
    assert after.data["child_at_risk"] is True and after.data["refer_now"] is False


def test_a_message_form_the_forms_cannot_render_is_refused_at_load() -> None:
    from workflow.errors import DefinitionInvalid

    text = FIXTURE.read_text(encoding="utf-8").replace(
        'id="child_at_risk" label="Is a child at risk?" type="boolean"',
        'id="child_at_risk" label="Is a child at risk?" type="colour"',
    )
    with pytest.raises(DefinitionInvalid) as caught:
        load_definition([SourceFile(FIXTURE.name, text.encode())])
    (problem,) = caught.value.problems
    assert problem.element_id == "new_concern" and problem.line is not None
    assert "'child_at_risk' has type 'colour'" in problem.message
