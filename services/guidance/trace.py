"""Build the guidance trace: step -> BPMN elements -> form fields -> scenarios -> tests.

Sources, all in the repository:
- bpmn/guidance-steps.json: the numbered steps of the guidance, each with a stable id;
- BPMN elements name the steps they carry out in the Camunda property `guidance`
  (comma-separated ids), e.g. `<camunda:property name="guidance" value="containment"/>`;
- scenario files (bpmn/scenarios, bpmn/statutory) name the steps they prove in a top-level
  "guidance" list; a scenario without one proves the steps of the elements its expectations
  name ("reaches", "not_reaches", "lanes");
- tests name the steps they prove with `@pytest.mark.guidance("<step id>", ...)` (found by
  reading the test files, never by running them); every scenario file is also run by
  `tests/unit/test_default_process.py::test_scenario_routes_as_expected` (bpmn/scenarios) or
  `tests/unit/test_guidance_trace.py::test_statutory_scenarios_pass` (bpmn/statutory).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.lint_common import NS
from workflow.model import SourceFile
from workflow.xml_safety import parse_xml

ROOT = Path(__file__).resolve().parents[2]
PROPERTY = "guidance"
SCENARIO_RUNNERS = {
    "scenarios": "tests/unit/test_default_process.py::test_scenario_routes_as_expected",
    "statutory": "tests/unit/test_guidance_trace.py::test_statutory_scenarios_pass",
}


@dataclass(frozen=True)
class Step:
    """One numbered step of the guidance."""

    id: str
    number: int
    title: str


@dataclass(frozen=True)
class Element:
    """A BPMN element that carries out steps of the guidance, with its form's field ids."""

    id: str
    name: str
    steps: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass
class StepTrace:
    """Everything that carries out or proves one step."""

    step: Step
    elements: list[Element] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Trace:
    """The whole trace and the problems found in it (empty when complete)."""

    rows: tuple[StepTrace, ...]
    problems: tuple[str, ...]


def load_steps(path: Path) -> list[Step]:
    """The guidance's steps from guidance-steps.json, in order."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return [Step(s["id"], int(s["number"]), s["title"]) for s in document["steps"]]


def bpmn_elements(path: Path) -> list[Element]:
    """Elements of a BPMN file with a `guidance` property, in document order."""
    tree = parse_xml(SourceFile(path.name, path.read_bytes()))
    found = []
    for prop in tree.getroot().iterfind(".//camunda:properties/camunda:property", NS):
        if prop.get("name") != PROPERTY:
            continue
        element = _owner(prop)
        steps = tuple(s.strip() for s in (prop.get("value") or "").split(",") if s.strip())
        form_fields = element.iterfind(
            "bpmn:extensionElements/camunda:formData/camunda:formField", NS
        )
        found.append(
            Element(
                element.get("id", ""),
                element.get("name", ""),
                steps,
                tuple(f.get("id", "") for f in form_fields),
            )
        )
    return found


def _owner(prop: Any) -> Any:
    # camunda:property -> camunda:properties -> bpmn:extensionElements -> the element
    return prop.getparent().getparent().getparent()


def scenario_steps(path: Path, elements: Iterable[Element]) -> tuple[str, ...]:
    """The steps a scenario file proves: its own "guidance" list, else its expectations'."""
    body = json.loads(path.read_text(encoding="utf-8"))
    named = body.get(PROPERTY)
    if isinstance(named, list):
        return tuple(str(s) for s in named)
    expect = body.get("expect") or {}
    ids = {*expect.get("reaches", []), *expect.get("not_reaches", [])}
    ids |= set(expect.get("lanes") or {})
    steps = [s for e in elements if e.id in ids for s in e.steps]
    return tuple(dict.fromkeys(steps))


def marked_tests(tests_dir: Path) -> dict[str, list[str]]:
    """Step id -> test ids marked `@pytest.mark.guidance(...)` in the test files."""
    found: dict[str, list[str]] = {}
    for path in sorted(tests_dir.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for step in _marked_steps(node):
                test_id = f"{path.relative_to(tests_dir.parent).as_posix()}::{node.name}"
                found.setdefault(step, []).append(test_id)
    return found


def _marked_steps(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    steps = []
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        if call is None or ast.unparse(call.func) != "pytest.mark.guidance":
            continue
        steps += [
            a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
    return steps


def build_trace(root: Path = ROOT) -> Trace:
    """The trace of the default process, its scenarios and tests, with what is missing."""
    steps = load_steps(root / "bpmn" / "guidance-steps.json")
    rows = {s.id: StepTrace(s) for s in steps}
    problems: list[str] = []
    elements = bpmn_elements(root / "bpmn" / "sharing-nudes-response.bpmn")
    for element in elements:
        for step in element.steps:
            if step not in rows:
                problems.append(
                    f"element {element.id!r} names guidance step {step!r}, which does not exist"
                )
                continue
            rows[step].elements.append(element)
    for folder in SCENARIO_RUNNERS:
        for path in sorted((root / "bpmn" / folder).glob("*.json")):
            name = f"{folder}/{path.stem}"
            for step in scenario_steps(path, elements):
                if step not in rows:
                    problems.append(
                        f"scenario {name} names guidance step {step!r}, which does not exist"
                    )
                    continue
                rows[step].scenarios.append(name)
                rows[step].tests.append(f"{SCENARIO_RUNNERS[folder]}[{path.stem}]")
    for step, tests in marked_tests(root / "tests").items():
        if step not in rows:
            problems.append(
                f"tests {', '.join(tests)} name guidance step {step!r}, which does not exist"
            )
            continue
        rows[step].tests.extend(tests)
    for row in rows.values():
        if not row.elements:
            problems.append(f"guidance step {row.step.number} ({row.step.id}) has no BPMN element")
        if not row.scenarios:
            problems.append(f"guidance step {row.step.number} ({row.step.id}) has no scenario")
    return Trace(tuple(rows.values()), tuple(problems))


def markdown(trace: Trace) -> str:
    """The trace as the Markdown of docs/guidance-trace.md."""
    lines = [
        "# Guidance trace",
        "",
        "Generated by `safeguard guidance trace --markdown` (do not edit by hand: a test fails "
        "when this file is out of date). Each numbered step of the UKCIS guidance (ids in "
        "`bpmn/guidance-steps.json`) -> the elements of `bpmn/sharing-nudes-response.bpmn` that "
        "carry it out (their `guidance` property) -> their form fields -> the scenarios that "
        "prove it -> the tests that run them.",
        "",
        "| Step | Elements | Form fields | Scenarios | Tests |",
        "|---|---|---|---|---|",
    ]
    for row in trace.rows:
        step = f"{row.step.number}. **{row.step.id}**: {row.step.title}"
        elements = "<br>".join(f"`{e.id}` {e.name}".strip() for e in row.elements) or "**none**"
        fields = (
            "<br>".join(f"`{e.id}`: " + ", ".join(e.fields) for e in row.elements if e.fields)
            or "-"
        )
        scenarios = "<br>".join(row.scenarios) or "**none**"
        tests = "<br>".join(f"`{t}`" for t in dict.fromkeys(row.tests)) or "**none**"
        lines.append(
            f"| {step} | {elements} | {fields} | {scenarios} | {tests} |".replace("\n", " ")
        )
    if trace.problems:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in trace.problems]
    return "\n".join(lines) + "\n"


def text(trace: Trace) -> str:
    """The trace as plain text for the terminal."""
    out = []
    for row in trace.rows:
        out.append(f"{row.step.number:>2}. {row.step.id}: {row.step.title}")
        for element in row.elements:
            fields = f" [{', '.join(element.fields)}]" if element.fields else ""
            out.append(f"      element  {element.id}{fields}")
        out += [f"      scenario {s}" for s in row.scenarios]
        out += [f"      test     {t}" for t in dict.fromkeys(row.tests)]
    out += [f"problem: {p}" for p in trace.problems]
    return "\n".join(out) + "\n"
