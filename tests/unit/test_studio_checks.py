"""The studio's checks of a draft: its extra lint rules and the statutory regression gate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.scheduling.calendars import school_calendars
from workflow.definition import load_definition
from workflow.draft_check import DraftCheck, check_draft
from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.model import SourceFile
from workflow.process_diff import changed_ids, diff_files
from workflow.scenario_check import Scenario, run_scenarios
from workflow.xml_safety import parse_xml

ROOT = Path(__file__).resolve().parents[2]
ROLES = frozenset({"staff", "dsl", "headteacher"})
BPMN = ROOT / "bpmn" / "sharing-nudes-response.bpmn"
DMN = ROOT / "bpmn" / "immediate-referral.dmn"
REFERRAL_FLOW = "flow_gw_immediate_referral_to_join_referral"


def statutory() -> list[Scenario]:
    return [
        Scenario(p.stem, True, json.loads(p.read_text()))
        for p in sorted((ROOT / "bpmn" / "statutory").glob("*.json"))
    ]


def draft(bpmn: str | None = None) -> list[SourceFile]:
    text = BPMN.read_text() if bpmn is None else bpmn
    return [SourceFile(BPMN.name, text.encode()), SourceFile(DMN.name, DMN.read_bytes())]


def run(bpmn: str | None = None) -> DraftCheck:
    check, _ = check_draft(draft(bpmn), statutory(), ROLES, school_calendars())
    return check


def problems_of(bpmn: str) -> list[DiagramProblem]:
    try:
        load_definition(draft(bpmn))
    except DefinitionInvalid as error:
        return error.problems
    return []


def edited(old: str, new: str, count: int = 1) -> str:
    text = BPMN.read_text()
    assert old in text, old
    return text.replace(old, new, count)


@pytest.fixture(scope="module")
def default_check() -> DraftCheck:
    return run()


def test_the_default_process_passes_every_statutory_scenario(default_check: DraftCheck) -> None:
    assert default_check.problems == ()
    assert len(default_check.scenarios) == len(statutory()) >= 13
    assert [s.name for s in default_check.scenarios if not s.passed] == []
    assert default_check.passed


def test_an_inverted_immediate_referral_condition_is_blocked() -> None:
    check = run(
        BPMN.read_text().replace("immediate_referral == True", "immediate_referral == False")
    )
    assert not check.passed
    adult = next(s for s in check.scenarios if s.name == "referral-adult-involved")
    assert not adult.passed
    assert "reaches refer_to_agencies" in adult.expected
    assert "risk_assessment" in adult.taken
    assert "never reached 'refer_to_agencies'" in adult.message
    assert "risk_assessment" in adult.element_ids


def test_removing_the_referral_flow_blocks_the_draft_and_names_the_scenario() -> None:
    text = BPMN.read_text()
    flow = re.search(
        rf'<bpmn:sequenceFlow id="{REFERRAL_FLOW}".*?</bpmn:sequenceFlow>',
        text,
        re.S,
    )
    assert flow is not None
    text = text.replace(flow.group(0), "")
    text = re.sub(
        r"<bpmn:outgoing>flow_gw_immediate_referral_to_join_referral</bpmn:outgoing>", "", text
    )
    text = re.sub(
        r"<bpmn:incoming>flow_gw_immediate_referral_to_join_referral</bpmn:incoming>", "", text
    )
    text = re.sub(
        rf'<bpmndi:BPMNEdge id="[^"]*" bpmnElement="{REFERRAL_FLOW}">.*?</bpmndi:BPMNEdge>',
        "",
        text,
        flags=re.S,
    )
    check = run(text)
    assert not check.passed
    failed = {s.name for s in check.scenarios if s.statutory and not s.passed}
    assert "referral-adult-involved" in failed


def test_a_renamed_statutory_task_is_reported_as_renamed() -> None:
    check = run(
        BPMN.read_text()
        .replace('"agree_in_house"', '"agree_local"')
        .replace(">agree_in_house<", ">agree_local<")
    )
    outcome = next(s for s in check.scenarios if s.name == "in-house-needs-headteacher-agreement")
    assert not outcome.passed
    assert "no element 'agree_in_house'" in outcome.message
    assert "renamed or removed" in outcome.message


def test_a_sign_off_moved_to_the_dsl_lane_is_blocked() -> None:
    text = BPMN.read_text()
    text = text.replace("<bpmn:flowNodeRef>sign_off_closure</bpmn:flowNodeRef>", "", 1)
    text = text.replace(
        "<bpmn:flowNodeRef>close_incident</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>close_incident</bpmn:flowNodeRef><bpmn:flowNodeRef>sign_off_closure</bpmn:flowNodeRef>",
        1,
    )
    check = run(text)
    outcome = next(s for s in check.scenarios if s.name == "non-referral-signed-off-by-headteacher")
    assert not outcome.passed
    assert "'sign_off_closure' is in the lane 'dsl', not 'headteacher'" in outcome.message


def test_a_sign_off_the_dsl_may_also_do_is_blocked() -> None:
    # The task stays in the headteacher's lane, but a candidate group lets the DSL do it too.
    old = 'id="sign_off_closure" name="'
    text = BPMN.read_text()
    start = text.index(old)
    head = text[start:].split(">", 1)[0]
    groups = head.replace(
        'camunda:candidateGroups="headteacher"', 'camunda:candidateGroups="headteacher,dsl"'
    )
    assert groups != head
    check = run(text.replace(head, groups, 1))
    outcome = next(s for s in check.scenarios if s.name == "non-referral-signed-off-by-headteacher")
    assert not outcome.passed
    assert "'sign_off_closure' may also be done by dsl" in outcome.message
    assert "sign_off_closure" in outcome.element_ids
    assert not check.passed


def test_parents_not_informed_without_a_reason_is_blocked() -> None:
    check = run(edited('<camunda:property id="required_if" value="inform_parents:false"/>', ""))
    assert not check.passed
    assert any(
        "'inform_parents': is a decision but the form asks for no reason when it is false"
        in p.message
        for p in check.problems
    )


def test_a_refusal_the_guidance_requires_is_checked_by_its_scenario() -> None:
    # The lint rule above stops the draft first; the scenario catches a reason made optional
    # in another way, here by answering the question with a text the form accepts.
    body = json.loads((ROOT / "bpmn/statutory/parents-not-informed-needs-reason.json").read_text())
    body["steps"][-1]["data"]["parents_not_informed_reason"] = "agreed with social care"
    check, _ = check_draft(draft(), [Scenario("lenient", True, body)], ROLES, school_calendars())
    [outcome] = check.scenarios
    assert not outcome.passed
    assert "step 6 was accepted, but the guidance requires it to be refused" in outcome.message
    assert outcome.element_ids == ("inform_parents_and_carers",)


def test_an_absurd_due_date_is_refused_with_its_place() -> None:
    [problem, *_] = problems_of(
        edited("camunda:dueDate=\"'P1D'\"", "camunda:dueDate=\"'P99999Y'\"")
    )
    assert problem.element_id == "initial_review"
    assert problem.line is not None
    assert "more than 10 years" in problem.message


@pytest.mark.parametrize("value", ["'P9' + '9999Y'", "'P' + str(10**4) + 'Y'"])
def test_a_computed_constant_due_date_is_refused_with_its_place(value: str) -> None:
    # It passed every check, then failed each new incident when the due date was worked out.
    [problem] = problems_of(edited("camunda:dueDate=\"'P1D'\"", f'camunda:dueDate="{value}"'))
    assert (problem.element_id, problem.file) == ("initial_review", BPMN.name)
    assert problem.line is not None
    assert "reads no answers, so write its value quoted" in problem.message


def test_a_timer_reading_an_answer_is_still_checked_when_it_runs() -> None:
    assert problems_of(BPMN.read_text()) == []  # the deletion deadline reads an answer


def test_a_form_field_without_a_label_is_refused() -> None:
    problems = problems_of(edited('label="Why not?" type="string"', 'type="string"'))
    assert any("'parents_not_informed_reason': has no label" in p.message for p in problems)


def test_a_modeller_lane_id_without_a_role_offers_the_property_fix() -> None:
    text = edited('<bpmn:lane id="dsl"', '<bpmn:lane id="Lane_0x1y2z"')
    text = text.replace('bpmnElement="dsl"', 'bpmnElement="Lane_0x1y2z"')
    [problem] = [p for p in problems_of(text) if p.element_id == "Lane_0x1y2z"]
    assert "add the extension property 'role'" in problem.message


def test_a_modeller_lane_id_with_a_role_property_runs_as_that_role() -> None:
    text = BPMN.read_text()
    lane = re.search(r'<bpmn:lane id="dsl"[^>]*>', text)
    assert lane is not None
    text = text.replace(
        lane.group(0),
        lane.group(0).replace('id="dsl"', 'id="Lane_0x1y2z"')
        + '<bpmn:extensionElements><camunda:properties><camunda:property name="role" value="dsl"/>'
        "</camunda:properties></bpmn:extensionElements>",
    ).replace('bpmnElement="dsl"', 'bpmnElement="Lane_0x1y2z"')
    check = run(text)
    assert check.problems == ()
    assert check.passed


def test_a_lane_of_an_unknown_role_is_refused() -> None:
    text = edited('<bpmn:lane id="dsl"', '<bpmn:lane id="janitor"').replace(
        'bpmnElement="dsl"', 'bpmnElement="janitor"'
    )
    check = run(text)
    assert any("lane 'janitor' is not a role that does tasks" in p.message for p in check.problems)


def test_a_candidate_group_of_a_role_that_does_no_tasks_is_refused() -> None:
    # An admin or process admin named as a candidate group would act on (and read) incidents.
    text = edited(
        'camunda:formKey="initial_review" camunda:candidateGroups="dsl"',
        'camunda:formKey="initial_review" camunda:candidateGroups="dsl, admin,"',
    )
    check = run(text)
    located = [p for p in check.problems if "candidate group" in p.message]
    assert [(p.element_id, p.file) for p in located] == [("initial_review", BPMN.name)]
    assert "candidate group 'admin' is not a role that does tasks" in located[0].message
    assert located[0].line is not None
    assert not check.passed


def test_a_dmn_input_no_task_sets_is_refused() -> None:
    dmn = DMN.read_text().replace("adult_involved", "adult_involvd", 1)
    check, _ = check_draft(
        [SourceFile(BPMN.name, BPMN.read_bytes()), SourceFile(DMN.name, dmn.encode())], [], ROLES
    )
    assert any(
        "reads 'adult_involvd', which no task of the process sets" in p.message
        for p in check.problems
    )


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "windows-1252", "UTF-16"])
def test_files_in_the_encoding_they_declare_are_read(encoding: str) -> None:
    text = BPMN.read_text().replace("encoding='UTF-8'", f"encoding='{encoding}'", 1)
    text = text.replace("Record the disclosure", "Record the disclosure \u2013 café", 1)
    tree = parse_xml(SourceFile("x.bpmn", text.encode(encoding, "xmlcharrefreplace")))
    assert "café" in (tree.getroot().find(".//{*}userTask").get("name") or "")


def test_an_entity_declaration_in_utf16_is_still_refused() -> None:
    bomb = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(DefinitionInvalid) as refused:
        parse_xml(SourceFile("bomb.bpmn", bomb.encode("utf-16")))
    assert "DOCTYPE/entity declarations are not allowed" in refused.value.problems[0].message


def test_the_diff_says_in_words_what_changed() -> None:
    old = draft()
    text = BPMN.read_text().replace('label="Why not?"', 'label="Why not, briefly?"')
    text = text.replace("immediate_referral == True", "immediate_referral is True")
    text = text.replace("camunda:dueDate=\"'P1D'\"", "camunda:dueDate=\"'P2D'\"", 1)
    new = [SourceFile(BPMN.name, text.encode()), SourceFile(DMN.name, DMN.read_bytes())]
    changes = {c.text for c in diff_files(old, new)}
    assert (
        "changed condition of flow_gw_immediate_referral_to_join_referral: "
        "immediate_referral == True → immediate_referral is True"
    ) in changes
    assert "changed due date of initial_review: 'P1D' → 'P2D'" in changes
    assert any("'Why not?'" in c and "'Why not, briefly?'" in c for c in changes)
    assert len(changes) == 3
    marks = changed_ids(diff_files(old, new))
    assert marks["initial_review"] == "changed"


def test_the_diff_names_added_and_removed_elements_and_dmn_rules() -> None:
    text = BPMN.read_text().replace('name="Assess the risks"', 'name="Assess risks"')
    dmn = DMN.read_text()
    rule = re.search(r"<rule id=\"([^\"]+)\">", dmn)
    assert rule is not None
    dmn_without = re.sub(rf'<rule id="{rule.group(1)}">.*?</rule>', "", dmn, count=1, flags=re.S)
    new = [SourceFile(BPMN.name, text.encode()), SourceFile(DMN.name, dmn_without.encode())]
    kinds = {(c.kind, c.element_id) for c in diff_files(draft(), new)}
    assert ("changed", "risk_assessment") in kinds
    assert ("removed", rule.group(1)) in kinds


def test_a_draft_whose_scenarios_spend_their_cpu_budget_is_blocked_naming_it() -> None:
    # A condition that burns CPU on every evaluation: each command stays within its own bound,
    # but all the scenarios together share one budget, so the checks stop (not wall clock).
    burn = "len([i for i in range(60000) for j in range(10)]) > 0 and "
    text = edited("immediate_referral == True", burn + "immediate_referral == True")
    definition = load_definition(draft(text))
    outcomes = run_scenarios(definition, statutory(), school_calendars(), cpu_seconds=0.5)
    assert not any(s.passed for s in outcomes[-3:])
    skipped = [s for s in outcomes if s.taken == "not run" and "0.5 s of CPU" in s.message]
    assert skipped, [s.message for s in outcomes]
    assert "not run: the draft's checks used up" in skipped[-1].message


def test_a_spent_budget_stops_the_engine_at_its_next_step() -> None:
    definition = load_definition(draft())
    first, *rest = run_scenarios(definition, statutory(), school_calendars(), cpu_seconds=0.0)
    assert not first.passed
    assert "used up their 0 s of CPU time" in first.message
    assert rest and all(s.taken == "not run" and not s.passed for s in rest)
