"""Run scenario files against a definition and judge the route: the statutory regression gate.

A scenario is the format of `safeguard bpmn simulate` with expectations under "expect":
- "reaches": task ids the route must complete or leave ready;
- "not_reaches": task ids it must never complete or leave ready;
- "lanes": {task id: role}: the task must sit in that role's lane;
- "refused": {"step": n, "fields": [...]}: step n's data must be refused for those fields;
- "completed" (the exact list), "ready", "ended", "data": as the scenarios in bpmn/scenarios/.
A task named by an expectation that is not in the diagram is reported as renamed or removed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflow.cpu_budget import budget_spent, cpu_budget
from workflow.definition import Definition
from workflow.errors import SafeguardError
from workflow.lane_roles import apply_lane_roles
from workflow.lint_common import CAMUNDA_NS, NS, bpmn_all, element_text, model_elements
from workflow.simulate import ScenarioInvalid, SimulationResult, StepDataInvalid, run_scenario
from workflow.timing import Calendar
from workflow.xml_safety import is_dmn, parse_xml

_STEP_NUMBER = re.compile(r"^step (\d+):")
# CPU seconds all of a draft's scenarios may take together: the default process's 39 take
# about 2.4 s; a draft that burns more is refused, not left running (see workflow.cpu_budget).
CHECK_CPU_SECONDS = 30.0


@dataclass(frozen=True)
class Scenario:
    """A scenario file: its name, whether the guidance makes it mandatory, and its content."""

    name: str
    statutory: bool
    body: Mapping[str, Any]


@dataclass(frozen=True)
class ScenarioOutcome:
    """What a scenario did on a draft: passed, the route expected and the route taken."""

    name: str
    statutory: bool
    passed: bool
    expected: str
    taken: str
    message: str = ""
    element_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The API's shape of a scenario result."""
        return {
            "name": self.name,
            "statutory": self.statutory,
            "passed": self.passed,
            "expected": self.expected,
            "taken": self.taken,
            "message": self.message,
            "element_ids": list(self.element_ids),
        }


@dataclass
class _Diagram:
    """What the expectations need to know of the draft's diagram: its ids and task lanes."""

    ids: set[str] = field(default_factory=set)
    lanes: dict[str, str] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)  # camunda:candidateGroups


def run_scenarios(
    definition: Definition,
    scenarios: Sequence[Scenario],
    calendar: Calendar | None = None,
    cpu_seconds: float = CHECK_CPU_SECONDS,
) -> list[ScenarioOutcome]:
    """Run every scenario on the definition; never raises for a scenario's failure.

    `calendar` counts timers as the scheduler does (school days), as `safeguard bpmn simulate`.
    All of them share `cpu_seconds` of CPU time: once it is spent, the running scenario stops
    at its next engine step and the rest are not run (each fails, naming the budget).
    """
    diagram = _diagram_of(definition)
    outcomes = []
    with cpu_budget(cpu_seconds):
        for scenario in scenarios:
            if budget_spent():
                outcomes.append(_over_budget(scenario, cpu_seconds))
            else:
                outcomes.append(_run_one(definition, diagram, scenario, calendar))
    return outcomes


def _over_budget(scenario: Scenario, cpu_seconds: float) -> ScenarioOutcome:
    expected = describe_expectation(scenario.body.get("expect") or {})
    message = (
        f"not run: the draft's checks used up their {cpu_seconds:g} s of CPU time before this "
        "scenario; make the diagram's expressions and scripts cheaper"
    )
    return _failed(scenario, expected, "not run", message, ())


def _diagram_of(definition: Definition) -> _Diagram:
    diagram = _Diagram()
    for source in definition.sources:
        tree = parse_xml(source)
        apply_lane_roles(tree)
        if is_dmn(tree):
            continue
        root = tree.getroot()
        diagram.ids.update(e.get("id", "") for e in model_elements(root))
        for element in model_elements(root):
            # Whoever is in a candidate group may do the task as well as the lane's role.
            groups = element.get(f"{{{CAMUNDA_NS}}}candidateGroups") or ""
            named = {g.strip() for g in groups.split(",") if g.strip()}
            if named:
                diagram.groups[element.get("id", "")] = named
        for lane in bpmn_all(root, "lane"):
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                diagram.lanes[element_text(ref).strip()] = lane.get("id", "")
    return diagram


def _run_one(
    definition: Definition, diagram: _Diagram, scenario: Scenario, calendar: Calendar | None
) -> ScenarioOutcome:
    expect = scenario.body.get("expect") or {}
    expected = describe_expectation(expect)
    missing = [task for task in _named_tasks(expect) if task not in diagram.ids]
    if missing:
        return _failed(
            scenario,
            expected,
            "not run",
            f"the draft has no element {', '.join(repr(t) for t in missing)}: a task this "
            "scenario checks was renamed or removed; scenarios refer to tasks by id, so keep "
            "the id (change the name freely)",
            (),
        )
    refused = expect.get("refused")
    try:
        result = run_scenario(definition, scenario.body, calendar=calendar)
    except StepDataInvalid as error:
        taken = _route(_partial(definition, scenario.body, error.step, calendar))
        if isinstance(refused, Mapping) and _refusal_matches(refused, error):
            return _passed(scenario, expected, f"{taken}; step {error.step} refused")
        return _failed(scenario, expected, taken, str(error), (_step_task(scenario, error.step),))
    except ScenarioInvalid as error:
        step = _step_of(error)
        partial = _partial(definition, scenario.body, step, calendar) if step else None
        taken = _route(partial) if partial else "not run"
        return _failed(scenario, expected, taken, str(error), _ready_ids(partial))
    except SafeguardError as error:
        return _failed(scenario, expected, "stopped", f"the draft failed: {error}", ())
    except Exception as error:  # a draft must never crash the checks
        message = f"the engine failed on this draft: {type(error).__name__}: {error}"
        return _failed(scenario, expected, "stopped", message, ())
    return _judge(scenario, expected, expect, result, diagram)


def _judge(
    scenario: Scenario,
    expected: str,
    expect: Mapping[str, Any],
    result: SimulationResult,
    diagram: _Diagram,
) -> ScenarioOutcome:
    taken = _route(result)
    route = set(result.completed) | set(result.ready)
    problems: list[str] = []
    marked: list[str] = []
    if isinstance(expect.get("refused"), Mapping):
        step = expect["refused"].get("step")
        problems.append(f"step {step} was accepted, but the guidance requires it to be refused")
        marked.append(_step_task(scenario, int(step)) if isinstance(step, int) else "")
    for task in expect.get("not_reaches") or []:
        if task in route:
            problems.append(f"the route reached {task!r}, which it must never reach")
            marked.append(task)
    for task in expect.get("reaches") or []:
        if task not in route:
            problems.append(f"the route never reached {task!r}")
            marked.append(task)
    for task, role in (expect.get("lanes") or {}).items():
        lane = diagram.lanes.get(task, "")
        if lane != role:
            problems.append(f"{task!r} is in the lane {lane or 'none'!r}, not {role!r}")
            marked.append(task)
        others = sorted(diagram.groups.get(task, set()) - {role})
        if others:
            problems.append(
                f"{task!r} may also be done by {', '.join(others)} (its candidate groups): "
                f"the guidance requires {role} alone"
            )
            marked.append(task)
    problems += _exact_expectations(expect, result)
    if problems:
        return _failed(scenario, expected, taken, "; ".join(problems), tuple(marked))
    return _passed(scenario, expected, taken)


def _exact_expectations(expect: Mapping[str, Any], result: SimulationResult) -> list[str]:
    problems = []
    if "completed" in expect and result.completed != list(expect["completed"]):
        problems.append("the completed steps differ from the expected list")
    if "ready" in expect and sorted(result.ready) != sorted(expect["ready"]):
        problems.append(f"ready at the end: {', '.join(result.ready) or 'none'}")
    if "ended" in expect and result.ended is not expect["ended"]:
        problems.append("the process ended" if result.ended else "the process did not end")
    for key, value in (expect.get("data") or {}).items():
        if result.data.get(key) != value:
            problems.append(f"{key} is {result.data.get(key)!r}, expected {value!r}")
    return problems


def describe_expectation(expect: Mapping[str, Any]) -> str:
    """The expected route in words."""
    parts = []
    if expect.get("reaches"):
        parts.append("reaches " + ", ".join(expect["reaches"]))
    if expect.get("not_reaches"):
        parts.append("never " + ", ".join(expect["not_reaches"]))
    for task, role in (expect.get("lanes") or {}).items():
        parts.append(f"{task} done by {role}")
    refused = expect.get("refused")
    if isinstance(refused, Mapping):
        fields = ", ".join(refused.get("fields") or [])
        parts.append(f"step {refused.get('step')} refused without {fields}")
    if "completed" in expect:
        parts.append("completes " + " → ".join(expect["completed"]))
    if expect.get("ready"):
        parts.append("then ready: " + ", ".join(expect["ready"]))
    if "ended" in expect:
        parts.append("ends" if expect["ended"] else "does not end")
    return "; ".join(parts) or "runs without error"


def _named_tasks(expect: Mapping[str, Any]) -> list[str]:
    names = [*(expect.get("reaches") or []), *(expect.get("not_reaches") or [])]
    names += list((expect.get("lanes") or {}).keys())
    refused = expect.get("refused")
    if isinstance(refused, Mapping) and isinstance(refused.get("task"), str):
        names.append(refused["task"])
    return [n for n in names if isinstance(n, str)]


def _refusal_matches(refused: Mapping[str, Any], error: StepDataInvalid) -> bool:
    if refused.get("step") != error.step:
        return False
    return all(name in error.errors for name in refused.get("fields") or [])


def _partial(
    definition: Definition, body: Mapping[str, Any], step: int, calendar: Calendar | None
) -> SimulationResult | None:
    """The route up to (not including) the step that failed."""
    truncated = dict(body)
    truncated["steps"] = list(body.get("steps") or [])[: max(step - 1, 0)]
    truncated.pop("expect", None)
    try:
        return run_scenario(definition, truncated, calendar=calendar)
    except Exception:  # the route is only shown; the failure is reported already
        return None


def _route(result: SimulationResult | None) -> str:
    if result is None:
        return "stopped"
    route = " → ".join(result.completed) or "nothing completed"
    if result.ready:
        route += f" (then ready: {', '.join(result.ready)})"
    elif result.ended:
        route += " (ended)"
    return route


def _ready_ids(result: SimulationResult | None) -> tuple[str, ...]:
    return tuple(result.ready) if result is not None else ()


def _step_of(error: ScenarioInvalid) -> int | None:
    match = _STEP_NUMBER.match(str(error))
    return int(match.group(1)) if match else None


def _step_task(scenario: Scenario, step: int) -> str:
    steps = scenario.body.get("steps") or []
    if 1 <= step <= len(steps) and isinstance(steps[step - 1], Mapping):
        return str(steps[step - 1].get("complete") or "")
    return ""


def _passed(scenario: Scenario, expected: str, taken: str) -> ScenarioOutcome:
    return ScenarioOutcome(scenario.name, scenario.statutory, True, expected, taken)


def _failed(
    scenario: Scenario, expected: str, taken: str, message: str, marked: tuple[str, ...]
) -> ScenarioOutcome:
    ids = tuple(dict.fromkeys(m for m in marked if m))
    return ScenarioOutcome(scenario.name, scenario.statutory, False, expected, taken, message, ids)
