"""The per-step need-to-know policy: who reads which completed step, from plain facts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from services.domain.step_access import (
    FACT_SOURCES,
    StepFacts,
    Viewer,
    may_read_step,
    readable_completed_steps,
    readable_facts,
    reads_every_step,
    reads_facts_of,
    reads_record,
    reads_records_by_role,
    searchable_steps,
    sees_task,
)
from workflow.definition import validate_files
from workflow.model import CompletedStep, FormSpec, SourceFile
from workflow.step_readers import ROLES, ReadersProblem, role_list, task_list

REPORTER, DSL, OTHER = 1, 2, 3
REPORT = StepFacts("record_disclosure", None, REPORTER, is_report=True)
REVIEW = StepFacts("initial_review", None, DSL)
REFERRAL = StepFacts("refer_to_agencies", None, DSL)
DECISION = StepFacts("decide_immediate_referral", None, None)
SHARED = StepFacts("close_incident", ("dsl", "headteacher", "auditor", "staff"), DSL)
DSL_ONLY = StepFacts("record_viewing", ("dsl", "auditor"), DSL)
STEPS = (REPORT, REVIEW, DECISION, REFERRAL, SHARED, DSL_ONLY)


def reads(viewer: Viewer) -> set[str]:
    return {step.bpmn_id for step in STEPS if may_read_step(viewer, step)}


@pytest.mark.parametrize("role", ["dsl", "auditor"])
def test_dsl_and_auditor_read_every_step(role: str) -> None:
    viewer = Viewer(OTHER, frozenset({role}))
    assert reads(viewer) == {step.bpmn_id for step in STEPS}
    assert reads_record(viewer) and reads_every_step(viewer, STEPS)


def test_headteacher_reads_all_but_a_step_whose_readers_leave_them_out() -> None:
    head = Viewer(OTHER, frozenset({"headteacher"}))
    assert reads(head) == {step.bpmn_id for step in STEPS} - {"record_viewing"}
    assert reads_record(head) and not reads_every_step(head, STEPS)


def test_reporter_reads_their_report_and_steps_shared_with_staff_only() -> None:
    reporter = Viewer(REPORTER, frozenset({"staff"}), "reporter")
    assert reads(reporter) == {"record_disclosure", "close_incident"}
    assert not reads_record(reporter) and not reads_every_step(reporter, STEPS)


def test_assignee_reads_the_report_and_what_their_task_needs_while_they_hold_it() -> None:
    holding = Viewer(OTHER, frozenset({"staff"}), "assignee", needs=frozenset({"initial_review"}))
    assert reads(holding) == {"close_incident"}  # needs apply only while a task is held
    holding = Viewer(
        OTHER,
        frozenset({"staff"}),
        "assignee",
        needs=frozenset({"initial_review"}),
        holds_task=True,
    )
    assert reads(holding) == {"record_disclosure", "initial_review", "close_incident"}


@pytest.mark.parametrize("roles", [{"admin"}, {"process_admin"}, {"staff"}, {"admin", "staff"}])
def test_no_relationship_and_no_reader_role_reads_nothing(roles: set[str]) -> None:
    viewer = Viewer(OTHER, frozenset(roles))
    assert reads(viewer) == set() and not reads_record(viewer)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_excluded_or_outside_the_school_reads_nothing(role: str) -> None:
    assert reads(Viewer(REPORTER, frozenset({role}), "excluded", break_glass=True)) == set()
    assert reads(Viewer(REPORTER, frozenset(), "reporter")) == set()


def test_break_glass_reads_as_the_dsl() -> None:
    viewer = Viewer(OTHER, frozenset({"staff"}), break_glass=True)
    assert reads(viewer) == {step.bpmn_id for step in STEPS} and reads_record(viewer)


def test_completed_steps_filtered_in_order_with_the_first_as_the_report() -> None:
    steps = [
        CompletedStep("a", "record_disclosure", "Report", "staff", {"x": 1}, actor=str(REPORTER)),
        CompletedStep("b", "initial_review", "Review", "dsl", {"y": 2}, actor=str(DSL)),
        CompletedStep(
            "c", "note", "Note", "dsl", form=FormSpec("note", readers=("dsl", "auditor", "staff"))
        ),
    ]
    reporter = Viewer(REPORTER, frozenset({"staff"}), "reporter")
    assert [s.id for s in readable_completed_steps(reporter, steps)] == ["a", "c"]


def test_readers_property_is_checked() -> None:
    assert role_list(None) is None
    assert role_list(" dsl, auditor ,staff,dsl") == ("dsl", "auditor", "staff")
    for bad, words in [
        ("", "empty"),
        ("dsl,auditor,deputy", "unknown role"),
        ("dsl,auditor,process_admin", "never read records"),
        ("headteacher,auditor", "leaves out 'dsl'"),
    ]:
        with pytest.raises(ReadersProblem, match=words):
            role_list(bad)
    assert task_list("a, b", ["a", "b"]) == ("a", "b")
    with pytest.raises(ReadersProblem, match="'c'"):
        task_list("a,c", ["a", "b"])


def _with_properties(properties: str) -> list[SourceFile]:
    root = Path(__file__).resolve().parents[2] / "bpmn"
    text = (root / "sharing-nudes-response.bpmn").read_text(encoding="utf-8")
    task = text.index('<bpmn:userTask id="initial_review"')
    at = text.index("<bpmn:extensionElements>", task) + len("<bpmn:extensionElements>")
    text = f"{text[:at]}<camunda:properties>{properties}</camunda:properties>{text[at:]}"
    dmn = [SourceFile(p.name, p.read_bytes()) for p in sorted(root.glob("*.dmn"))]
    return [SourceFile("p.bpmn", text.encode()), *dmn]


def test_diagrams_declare_readers_and_needs_and_bad_ones_are_located_problems() -> None:
    good = '<camunda:property name="readers" value="dsl,auditor,staff" />'
    good += '<camunda:property name="needs" value="record_disclosure" />'
    assert validate_files(_with_properties(good)) == []
    for bad, words in [
        ('<camunda:property name="readers" value="dsl,auditor,deputy" />', "unknown role"),
        ('<camunda:property name="needs" value="no_such_task" />', "no_such_task"),
    ]:
        problems = validate_files(_with_properties(bad))
        assert [(p.element_id, words in p.message) for p in problems] == [("initial_review", True)]
        assert problems[0].line is not None


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("relationship", ["reporter", "assignee", "none"])
def test_search_never_finds_a_step_the_policy_does_not_let_its_searcher_read(
    role: str, relationship: str
) -> None:
    # The list searches steps named by searchable_steps wherever the searcher may open the
    # incident (their role reads records, or they are its reporter or an assignee).
    roles = frozenset({role})
    readers = {step.bpmn_id: step.readers for step in STEPS}
    viewer = Viewer(OTHER, roles, relationship)  # type: ignore[arg-type]
    if relationship == "none" and not reads_records_by_role(roles):
        return  # the list never shows them the incident at all
    assert searchable_steps(roles, readers) <= reads(viewer)


@pytest.mark.parametrize(
    ("roles", "lane", "groups", "sees"),
    [
        ({"staff"}, "dsl", (), False),  # the DSL's next step tells a reporter the route
        ({"staff"}, "staff", (), True),  # a task they could do themselves
        ({"staff"}, "dsl", ("staff",), True),
        ({"auditor"}, "auditor", (), True),  # record readers see every task
        ({"headteacher"}, "dsl", (), True),
        ({"admin"}, "dsl", (), False),
        (set(), "staff", (), False),
    ],
)
def test_a_new_task_is_named_to_record_readers_and_to_people_who_could_do_it(
    roles: set[str], lane: str, groups: tuple[str, ...], sees: bool
) -> None:
    assert sees_task(roles, lane, groups) is sees


def test_what_a_task_lends_is_read_on_the_page_but_never_makes_a_whole_record_download() -> None:
    head = Viewer(
        OTHER,
        frozenset({"headteacher"}),
        "assignee",
        needs=frozenset({"record_viewing"}),
        holds_task=True,
    )
    assert reads(head) == {step.bpmn_id for step in STEPS}  # while their task waits
    assert reads_record(head) and not reads_every_step(head, STEPS)


def test_derived_facts_follow_the_steps_they_come_from() -> None:
    head = Viewer(7, frozenset({"headteacher"}))
    dsl = Viewer(DSL, frozenset({"dsl"}))
    declared = {"initial_review": ("dsl", "auditor"), "risk_assessment": None}
    assert readable_facts(dsl, declared) == {"route", "criteria", "classification"}
    # The review is not theirs: neither the route nor the criteria it decides; the
    # classification comes from the risk assessment, which they read.
    assert readable_facts(head, declared) == {"classification"}
    assert readable_facts(head, {}) == {"route", "criteria", "classification"}
    assert not reads_facts_of(head, FACT_SOURCES["route"], declared)
    # No role in the school, or excluded: nothing, whatever the readers say.
    assert readable_facts(Viewer(7, frozenset()), {}) == frozenset()
    excluded = Viewer(7, frozenset({"dsl"}), "excluded")
    assert readable_facts(excluded, {}) == frozenset()


def test_a_decision_step_is_read_by_whoever_reads_the_step_it_decides_on() -> None:
    review_form = FormSpec("initial_review", readers=("dsl", "auditor"))
    steps = [
        CompletedStep("a", "record_disclosure", "Report", "staff", actor=str(REPORTER)),
        CompletedStep("b", "initial_review", "Review", "dsl", actor=str(DSL), form=review_form),
        CompletedStep("c", "decide_immediate_referral", "Decide", "dsl"),
    ]
    head = Viewer(7, frozenset({"headteacher"}))
    assert [s.id for s in readable_completed_steps(head, steps)] == ["a"]
    dsl = Viewer(DSL, frozenset({"dsl"}))
    assert [s.id for s in readable_completed_steps(dsl, steps)] == ["a", "b", "c"]
    open_review = [steps[0], replace(steps[1], form=FormSpec("initial_review")), steps[2]]
    assert [s.id for s in readable_completed_steps(head, open_review)] == ["a", "b", "c"]
