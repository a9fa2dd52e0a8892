"""Run every benchmark and print one table: each figure, its same-run baseline and the ratio.

    .venv/bin/python bench/run.py [--quick] [--postgres] [--rabbitmq] [--json FILE]

Without options it runs against the embedded default only (SQLite, no broker): the API, growth
and loop benchmarks. `--postgres` adds the PostgreSQL halves (127.0.0.1:5432, database `test`),
`--rabbitmq` the routing benchmark (it needs PostgreSQL too). `--quick` runs a reduced version
(10k incidents instead of 100k, 100 loop rounds instead of 500, 4 s API series) in a few
minutes. Each benchmark runs as its own process (bench/<name>.py --json); a progress line on
stderr says which is running. `--json FILE` writes every figure, keyed as issue 7 names them
(api_pg_per_s, api_pg_p95_ms, api_pg_baseline_per_s, api_sqlite_per_s,
api_sqlite_baseline_per_s, routing_p95_ms, inbox_growth_ratio, completion_growth_ratio,
loop_step_ratio, rss_mb), plus a few more.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bench:
    """One benchmark script and its arguments."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One line of the summary: a figure, its baseline and what the issue asks of it."""

    label: str
    key: str
    baseline_key: str | None
    target: str


ROWS = [
    Row("API completions/s, SQLite", "api_sqlite_per_s", "api_sqlite_baseline_per_s", ">= 400/s"),
    Row("API p95 ms, SQLite", "api_sqlite_p95_ms", None, ""),
    Row("API completions/s, PostgreSQL", "api_pg_per_s", "api_pg_baseline_per_s", ">= 50% of raw"),
    Row("API p95 ms, PostgreSQL", "api_pg_p95_ms", None, "<= 15 ms"),
    Row("web worker RSS MB after the API run", "rss_mb", None, "<= 150 MB"),
    Row(
        "commit -> notifier handled p95 ms", "routing_p95_ms", "routing_publish_p95_ms", "<= 20 ms"
    ),
    Row("inbox p95, filled / empty", "inbox_growth_ratio", None, "<= 1.25"),
    Row("completion p95, filled / empty", "completion_growth_ratio", None, "<= 1.25"),
    Row("loop step CPU, last rounds / first", "loop_step_ratio", None, "<= 1.5"),
]


def plan(args: argparse.Namespace) -> list[Bench]:
    """The benchmarks this run makes, with their arguments."""
    backends = "sqlite,postgres" if args.postgres else "sqlite"
    seconds = "4" if args.quick else "10"
    incidents = "10000" if args.quick else "100000"
    rounds = "100" if args.quick else "500"
    benches = [
        Bench("api", ("--backends", backends, "--seconds", seconds)),
        Bench("growth", ("--backends", backends, "--incidents", incidents)),
        Bench("loop", ("--rounds", rounds)),
    ]
    if args.rabbitmq:
        completions = "100" if args.quick else "200"
        benches.append(Bench("routing", ("--completions", completions, "--rate", "40")))
    return benches


def progress(done: int, total: int, name: str, started: float) -> None:
    """One line on stderr: a bar, which benchmark runs, time so far."""
    width = 30
    filled = width * done // total
    bar = "#" * filled + "." * (width - filled)
    elapsed = time.monotonic() - started
    end = "\n" if done == total else ""
    print(f"\r[{bar}] {done}/{total} {name:<10} {elapsed:6.0f}s", end=end, file=sys.stderr)


def run_one(bench: Bench, folder: Path) -> dict[str, float]:
    """Run one benchmark script, echo its table, return its figures."""
    out = folder / f"{bench.name}.json"
    command = [sys.executable, str(BENCH / f"{bench.name}.py"), *bench.args, "--json", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    print(f"\n--- {bench.name}: {' '.join(bench.args)}\n{result.stdout.rstrip()}")
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"bench/{bench.name}.py failed with exit code {result.returncode}")
    figures: dict[str, float] = json.loads(out.read_text(encoding="utf-8"))
    return figures


def summary(figures: dict[str, float]) -> None:
    """The table: figure, baseline, ratio, target."""
    print(f"\n{'figure':<40} {'value':>10} {'baseline':>10} {'ratio':>7}  target")
    for row in ROWS:
        if row.key not in figures:
            continue
        value = figures[row.key]
        baseline = figures.get(row.baseline_key) if row.baseline_key else None
        ratio = f"{value / baseline:7.2f}" if baseline else f"{'':>7}"
        shown = f"{baseline:10.1f}" if baseline else f"{'':>10}"
        print(f"{row.label:<40} {value:10.2f} {shown} {ratio}  {row.target}")
    print("(baselines are measured in the same run: API = raw Flask write; routing = commit ->")
    print(" relay published; growth = the empty database; loop = the first rounds)")


def main() -> None:
    """Run the plan, print the summary, write the JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run, a few minutes")
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL")
    parser.add_argument("--rabbitmq", action="store_true", help="also routing over RabbitMQ")
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    args = parser.parse_args()
    benches = plan(args)
    figures: dict[str, float] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as folder:
        for number, bench in enumerate(benches):
            progress(number, len(benches), bench.name, started)
            figures.update(run_one(bench, Path(folder)))
        progress(len(benches), len(benches), "done", started)
    summary(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True), encoding="utf-8")
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
