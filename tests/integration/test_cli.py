"""The `safeguard bpmn` commands as a user runs them: exit codes and what they print."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BPMN = ROOT / "bpmn" / "sharing-nudes-response.bpmn"
SAFEGUARD = Path(sys.executable).parent / "safeguard"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAFEGUARD), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_validate_accepts_the_default_process() -> None:
    result = run("bpmn", "validate", "bpmn/sharing-nudes-response.bpmn")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_validate_prints_one_located_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpmn"
    bad.write_text(
        '<?xml version="1.0"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">\n'
        '  <bpmn:process id="p" isExecutable="true">\n'
        '    <bpmn:task id="t" />\n'
        '    <bpmn:sequenceFlow id="f" sourceRef="t" targetRef="nowhere" />\n'
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )
    result = run("bpmn", "validate", str(bad))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    assert all(line.startswith(f"{bad}:") for line in lines), lines
    assert any(":5: f" in line and "nowhere" in line for line in lines), lines
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_reports_an_unreadable_file() -> None:
    result = run("bpmn", "validate", "no/such/file.bpmn")
    assert result.returncode == 1
    assert "no/such/file.bpmn" in result.stdout and "cannot read" in result.stdout


def test_simulate_prints_the_route_as_json() -> None:
    result = run("bpmn", "simulate", str(DEFAULT_BPMN), "bpmn/scenarios/s2.json", "--json")
    assert result.returncode == 0, result.stderr
    route = json.loads(result.stdout)
    assert set(route) == {"completed", "ready", "ended", "data"}
    assert route["completed"][:2] == ["record_disclosure", "initial_review"]
    assert "refer_to_agencies" in route["completed"]
    assert "risk_assessment" not in route["completed"]
    assert route["data"]["immediate_referral"] is True


def test_simulate_reports_invalid_step_data_and_exits_1(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text(json.dumps({"steps": [{"complete": "record_disclosure", "data": {}}]}))
    result = run("bpmn", "simulate", str(DEFAULT_BPMN), str(scenario))
    assert result.returncode == 1
    assert "step 1: invalid data" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"steps": [{"complete": "no_such_task"}]}', "'no_such_task' is not ready"),
        ('{"steps": [{"advance": "two days"}]}', "ISO 8601 duration"),
        ('{"stairs": []}', '"steps" list'),
    ],
)
def test_simulate_names_what_is_wrong_with_a_scenario(
    tmp_path: Path, content: str, message: str
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(content)
    result = run("bpmn", "simulate", str(DEFAULT_BPMN), str(scenario))
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
