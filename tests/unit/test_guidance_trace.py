"""The guidance trace: every step carried out by the model and proved by a scenario and tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.domain.studio.scenarios import STATUTORY_DIR
from services.guidance.trace import ROOT, build_trace, markdown
from services.scheduling.calendars import school_calendars
from workflow.definition import Definition, load_definition
from workflow.model import SourceFile
from workflow.scenario_check import Scenario, run_scenarios

DOC = ROOT / "docs" / "guidance-trace.md"
STATUTORY = sorted(STATUTORY_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def definition() -> Definition:
    paths = [ROOT / "bpmn" / "sharing-nudes-response.bpmn", *sorted((ROOT / "bpmn").glob("*.dmn"))]
    return load_definition([SourceFile(p.name, p.read_bytes()) for p in paths])


def test_every_step_has_an_element_and_a_scenario_and_names_are_known() -> None:
    trace = build_trace()
    assert trace.problems == ()
    assert [row.step.number for row in trace.rows] == list(range(1, 12))
    for row in trace.rows:
        assert row.tests, f"step {row.step.id} has no test"


def test_the_committed_trace_document_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(build_trace()), (
        "docs/guidance-trace.md is out of date: run "
        "`.venv/bin/safeguard guidance trace --markdown > docs/guidance-trace.md`"
    )


def _copy(tmp_path: Path) -> Path:
    for folder in ("bpmn", "tests"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_a_step_without_element_or_scenario_and_an_unknown_step_are_problems(
    tmp_path: Path,
) -> None:
    root = _copy(tmp_path)
    steps_file = root / "bpmn" / "guidance-steps.json"
    steps = json.loads(steps_file.read_text(encoding="utf-8"))
    steps["steps"].append({"id": "unmodelled", "number": 12, "title": "A step nobody models"})
    steps["steps"] = [s for s in steps["steps"] if s["id"] != "parents"]
    steps_file.write_text(json.dumps(steps), encoding="utf-8")
    problems = build_trace(root).problems
    assert "guidance step 12 (unmodelled) has no BPMN element" in problems
    assert "guidance step 12 (unmodelled) has no scenario" in problems
    assert any("'inform_parents_and_carers' names guidance step 'parents'" in p for p in problems)
    assert any("scenarios/s1 names guidance step 'parents'" in p for p in problems)


@pytest.mark.guidance("referral-criteria", "containment", "risk-assessment", "viewing", "parents")
@pytest.mark.parametrize("path", STATUTORY, ids=lambda p: p.stem)
def test_statutory_scenarios_pass(definition: Definition, path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    (outcome,) = run_scenarios(definition, [Scenario(path.stem, True, body)], school_calendars())
    assert outcome.passed, f"{outcome.message} (taken: {outcome.taken})"
