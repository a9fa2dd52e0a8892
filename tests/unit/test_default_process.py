"""The default UKCIS process: it loads clean and every scenario file routes as the guidance says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workflow.definition import Definition, load_definition, validate_files
from workflow.model import SourceFile
from workflow.simulate import run_scenario

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
SCENARIOS = sorted((BPMN_DIR / "scenarios").glob("*.json"))
GUIDANCE_SCENARIOS = [f"s{n}.json" for n in range(1, 10)]


def _bundle() -> list[SourceFile]:
    paths = [BPMN_DIR / "sharing-nudes-response.bpmn", *sorted(BPMN_DIR.glob("*.dmn"))]
    return [SourceFile(name=f"bpmn/{p.name}", content=p.read_bytes()) for p in paths]


@pytest.fixture(scope="module")
def definition() -> Definition:
    return load_definition(_bundle())


def test_the_default_process_validates_clean() -> None:
    assert validate_files(_bundle()) == []


def test_every_guidance_scenario_has_a_file() -> None:
    assert {p.name for p in SCENARIOS} >= set(GUIDANCE_SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_routes_as_expected(definition: Definition, path: Path) -> None:
    scenario: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    expect = scenario["expect"]
    result = run_scenario(definition, scenario)
    assert result.completed == expect["completed"]
    if "ready" in expect:
        assert sorted(result.ready) == sorted(expect["ready"])
    if "ended" in expect:
        assert result.ended is expect["ended"]
    for key, value in expect.get("data", {}).items():
        assert result.data.get(key) == value, f"{key}: {result.data.get(key)!r} != {value!r}"
