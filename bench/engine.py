"""Benchmark: the cost of completing one user task in the engine core, against plain SpiffWorkflow.

Runs scenario S1 on the default process many times. For each user-task completion it times
`workflow.engine.complete_task` (deserialize a fresh workflow from the stored spec + state,
validate the typed data, complete, run engine steps in the sandbox, serialize the state and the
state pruned of finished work, which is what the handlers store and the next step reads). The
baseline, measured in the same run on the same diagram and data, is what SpiffWorkflow does out of
the box: deserialize the whole workflow JSON (spec included), set the data, complete, run engine
steps with its unsandboxed eval, serialize everything again.

Usage: .venv/bin/python bench/engine.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from workflow import engine
from workflow.definition import Definition, load_definition
from workflow.formdata import placeholder_data
from workflow.model import SourceFile
from workflow.simulate import DEFAULT_START

ROOT = Path(__file__).resolve().parents[1]
BPMN = ROOT / "bpmn" / "sharing-nudes-response.bpmn"
SCENARIO = ROOT / "bpmn" / "scenarios" / "s1.json"


def load() -> tuple[Definition, list[dict[str, Any]]]:
    """The default definition and the S1 steps with their data filled in."""
    files = [BPMN, *sorted(BPMN.parent.glob("*.dmn"))]
    definition = load_definition([SourceFile(p.name, p.read_bytes()) for p in files])
    scenario = json.loads(SCENARIO.read_text())
    return definition, [s for s in scenario["steps"] if "complete" in s]


def ours(definition: Definition, steps: list[dict[str, Any]]) -> tuple[list[float], int]:
    """Time each completion through our core; return the timings and the final state size."""
    timings: list[float] = []
    status = engine.start_instance(definition, DEFAULT_START)
    state = status.state_to_store  # as the handlers store it: pruned of finished work
    for step in steps:
        task = next(t for t in status.ready if t.bpmn_id == step["complete"])
        data = placeholder_data(task.form, step.get("data") or {})
        started = time.perf_counter()
        status = engine.complete_task(definition, state, task.id, data, DEFAULT_START)
        timings.append(time.perf_counter() - started)
        state = status.state_to_store
    return timings, len(state.encode())


def baseline(steps: list[dict[str, Any]], filled: list[dict[str, Any]]) -> tuple[list[float], int]:
    """Time the same completions with SpiffWorkflow's defaults (full JSON, unsandboxed eval)."""
    parser = CamundaParser()
    # Plain Spiff cannot serialize an external service task: there it is a no-op task.
    plain = BPMN.read_text(encoding="utf-8").replace("bpmn:serviceTask", "bpmn:task")
    parser.add_bpmn_str(plain.encode("utf-8"), filename=str(BPMN))
    for dmn in sorted(BPMN.parent.glob("*.dmn")):
        parser.add_dmn_file(str(dmn))
    process_id = next(iter(parser.get_process_ids()))
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    workflow = BpmnWorkflow(parser.get_spec(process_id), parser.get_subprocess_specs(process_id))
    workflow.do_engine_steps()
    saved = serializer.serialize_json(workflow)
    timings: list[float] = []
    for step, data in zip(steps, filled, strict=True):
        started = time.perf_counter()
        workflow = serializer.deserialize_json(saved)
        task = next(
            t
            for t in workflow.get_tasks(state=TaskState.READY)
            if t.task_spec.bpmn_id == step["complete"]
        )
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()
        saved = serializer.serialize_json(workflow)
        timings.append(time.perf_counter() - started)
    return timings, len(saved.encode())


def filled_data(definition: Definition, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The typed data our core stores for each step, so the baseline completes the same route."""
    filled: list[dict[str, Any]] = []
    status = engine.start_instance(definition, DEFAULT_START)
    for step in steps:
        task = next(t for t in status.ready if t.bpmn_id == step["complete"])
        data = placeholder_data(task.form, step.get("data") or {})
        status = engine.complete_task(definition, status.state, task.id, data, DEFAULT_START)
        fields = {f.id for f in task.form.fields}
        filled.append({k: v for k, v in status.data.items() if k in fields})
    return filled


def measure(fn: Callable[[], tuple[list[float], int]], rounds: int) -> tuple[list[float], int]:
    """Run a timing function several rounds and pool the per-task timings."""
    timings: list[float] = []
    size = 0
    for _ in range(rounds):
        run_timings, size = fn()
        timings.extend(run_timings)
    return timings, size


def main() -> None:
    """Print our figures beside the baseline's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    definition, steps = load()
    filled = filled_data(definition, steps)
    ours(definition, steps)  # warm caches (compiled expressions, parsed spec dict)
    our_times, our_size = measure(lambda: ours(definition, steps), args.rounds)
    base_times, base_size = measure(lambda: baseline(steps, filled), args.rounds)
    our_median = statistics.median(our_times) * 1000
    base_median = statistics.median(base_times) * 1000
    p95 = statistics.quantiles(our_times, n=20)[-1] * 1000
    print(f"scenario S1: {len(steps)} user tasks x {args.rounds} rounds")
    print(f"safeguard core  complete_task median {our_median:6.2f} ms  p95 {p95:6.2f} ms")
    print(f"spiff baseline  complete+steps median {base_median:6.2f} ms (full JSON, unsandboxed)")
    print(f"ratio core/baseline: {our_median / base_median:.2f}")
    print(f"state after S1: {our_size} bytes per instance")
    print(f"spec, stored once per definition version: {len(definition.spec)} bytes")
    print(f"baseline state after S1 (spec inside every instance): {base_size} bytes")


if __name__ == "__main__":
    main()
