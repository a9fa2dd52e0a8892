"""The default UKCIS process: it loads clean and every scenario file routes as the guidance says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from services.scheduling.calendars import school_calendars
from workflow import spiff_engine
from workflow.definition import Definition, load_definition, validate_files
from workflow.engine import taken_flows
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
    result = run_scenario(definition, scenario, calendar=school_calendars())
    assert result.completed == expect["completed"]
    if "ready" in expect:
        assert sorted(result.ready) == sorted(expect["ready"])
    if "ended" in expect:
        assert result.ended is expect["ended"]
    assert result.cancelled == expect.get("cancelled", [])
    for key, value in expect.get("data", {}).items():
        assert result.data.get(key) == value, f"{key}: {result.data.get(key)!r} != {value!r}"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_routes_alike_on_specs_restored_afresh(
    definition: Definition, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each command as a thread without this definition's cached spec runs it (another gunicorn
    # thread, the scheduler, a worker): the route must not depend on which thread runs it.
    scenario: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    warm = run_scenario(definition, scenario, calendar=school_calendars())
    monkeypatch.setattr(spiff_engine, "cached_specs", lambda _definition: None)
    cold = run_scenario(definition, scenario, calendar=school_calendars())
    assert (cold.completed, sorted(cold.ready), cold.ended, cold.cancelled) == (
        warm.completed,
        sorted(warm.ready),
        warm.ended,
        warm.cancelled,
    )
    assert cold.data == warm.data


BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def _diagram() -> etree._ElementTree:
    return etree.parse(str(BPMN_DIR / "sharing-nudes-response.bpmn"))


def test_the_scenarios_take_every_gateway_branch_and_fire_every_boundary_timer(
    definition: Definition,
) -> None:
    taken: set[tuple[str, str]] = set()
    for path in SCENARIOS:
        scenario = json.loads(path.read_text(encoding="utf-8"))
        result = run_scenario(definition, scenario, calendar=school_calendars())
        taken.update(taken_flows(definition, result.state))
    tree = _diagram()
    gateways = {
        g.get("id")
        for g in tree.iterfind(".//bpmn:exclusiveGateway", BPMN_NS)
        if len(tree.findall(f".//bpmn:sequenceFlow[@sourceRef='{g.get('id')}']", BPMN_NS)) > 1
    }
    branches = {
        (flow.get("sourceRef"), flow.get("targetRef"))
        for flow in tree.iterfind(".//bpmn:sequenceFlow", BPMN_NS)
        if flow.get("sourceRef") in gateways
    }
    assert gateways, "the default process has decisions to route"
    assert branches - taken == set(), "gateway branches no scenario takes"
    timers = {
        event.get("id")
        for event in tree.iterfind(".//bpmn:boundaryEvent", BPMN_NS)
        if event.find("bpmn:timerEventDefinition", BPMN_NS) is not None
    }
    fired = {target for _, target in taken}
    assert timers, "the default process has deadlines"
    assert timers - fired == set(), "boundary timers no scenario fires"


def _s1_until(step_id: str) -> dict[str, Any]:
    s1 = json.loads((BPMN_DIR / "scenarios" / "s1.json").read_text(encoding="utf-8"))
    ids = [s["complete"] for s in s1["steps"]]
    return {"fill_defaults": True, "steps": s1["steps"][: ids.index(step_id)]}


NEW_CONCERN = {"message": "new_concern", "data": {"concern_adult_involved": True}}


@pytest.mark.guidance("referral-criteria")
@pytest.mark.parametrize(
    "open_step",
    [
        "risk_assessment",
        "agree_in_house",
        "talk_to_children",
        "inform_parents_and_carers",
        "containment",
        "confirm_deletion",
        "close_incident",
        "sign_off_closure",
    ],
)
def test_a_new_concern_on_the_in_house_route_stops_the_open_step_and_refers(
    definition: Definition, open_step: str
) -> None:
    scenario = _s1_until(open_step)
    before = run_scenario(definition, scenario, calendar=school_calendars())
    assert open_step in before.ready
    scenario["steps"] = [*scenario["steps"], NEW_CONCERN]
    after = run_scenario(definition, scenario, calendar=school_calendars())
    assert after.cancelled == [open_step]
    assert after.ready == ["refer_to_agencies"]
    assert after.data["route"] == "referral"


def test_a_new_concern_before_the_review_is_recorded_for_it_and_stops_nothing(
    definition: Definition,
) -> None:
    scenario = _s1_until("initial_review")
    scenario["steps"] = [*scenario["steps"], NEW_CONCERN]
    result = run_scenario(definition, scenario, calendar=school_calendars())
    assert result.completed[-1] == "new_concern"
    assert result.cancelled == []
    assert result.ready == ["initial_review"]
    assert result.data["concern_adult_involved"] is True
