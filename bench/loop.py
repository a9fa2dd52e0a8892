"""Benchmark: does a step cost the same at round 500 of a loop as at round 10?

    .venv/bin/python bench/loop.py [--rounds 500] [--json FILE]

Runs tests/fixtures/engine/loop_user_task.bpmn (a user task, a script and a gateway each round)
through the engine's public API, one command per round on the stored state, as production does
(each round deserializes the instance, completes the task, runs to the next wait, serializes;
the state stored is the one pruned of finished work, whose released steps the handlers keep in
the completed_steps table).
Each step is timed in CPU seconds of this thread, so other load on the machine does not count.

Printed: the median CPU ms per step over rounds 1-20 (the baseline, measured first in the same
run) and over the last 20 rounds, their ratio, and the state's size at both ends. The figures
(`loop_step_ratio`, `loop_state_kb_first`, `loop_state_kb_last`) go to --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "engine" / "loop_user_task.bpmn"
WINDOW = 20
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def run(rounds: int) -> tuple[list[float], list[int]]:
    """CPU seconds of each round's command, and the state's size after it."""
    from workflow import engine
    from workflow.definition import load_definition
    from workflow.model import SourceFile

    definition = load_definition([SourceFile(FIXTURE.name, FIXTURE.read_bytes())])
    status = engine.start_instance(definition, NOW, {"counter": 0, "rounds": rounds})
    state = status.state_to_store
    cpu, sizes = [], []
    for n in range(rounds):
        [task] = status.ready
        started = time.thread_time()
        status = engine.complete_task(
            definition, state, task.id, {"note": f"round {n + 1}"}, NOW + timedelta(n)
        )
        cpu.append(time.thread_time() - started)
        state = status.state_to_store  # what the handlers store (its released steps go to a table)
        sizes.append(len(state))
    if not status.ended or status.data["counter"] != rounds:
        raise RuntimeError(f"the loop did not run {rounds} rounds: {status.data}")
    return cpu, sizes


def main() -> None:
    """Run the loop, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500, help="rounds (default 500)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.rounds < 2 * WINDOW:
        parser.error(f"--rounds must be at least {2 * WINDOW}")
    cpu, sizes = run(args.rounds)
    first = statistics.median(cpu[:WINDOW]) * 1000
    last = statistics.median(cpu[-WINDOW:]) * 1000
    print(f"loop of {args.rounds} rounds, one command per round (CPU ms per step, median):")
    print(f"  rounds 1-{WINDOW} (baseline)     {first:8.2f} ms   state {sizes[0] / 1024:8.1f} KB")
    print(
        f"  rounds {args.rounds - WINDOW + 1}-{args.rounds}        {last:8.2f} ms   "
        f"state {sizes[-1] / 1024:8.1f} KB"
    )
    print(f"  ratio last / first        {last / first:8.2f}")
    if args.json:
        figures = {
            "loop_step_ratio": round(last / first, 2),
            "loop_state_kb_first": round(sizes[0] / 1024, 1),
            "loop_state_kb_last": round(sizes[-1] / 1024, 1),
            "loop_rounds": args.rounds,
        }
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
