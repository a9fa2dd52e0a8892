"""The scenarios a draft runs: the statutory ones shipped with the product, then its own.

The statutory scenarios run against every process, whatever its key: a process key is only
the diagram's executable process id, each school chooses a version per key, and nothing ties
a key to one kind of incident, so any process a school could run for these incidents must keep
the guidance's routes (renaming the process id cannot step round the gate). The process's own
scenarios (bpmn/scenarios/) and those its schools add in the studio run for their process only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from workflow.scenario_check import Scenario

# Shipped with the product, beside the default process, never read from a school's folder.
STATUTORY_DIR = Path(__file__).resolve().parents[3] / "bpmn" / "statutory"
DEFAULT_PROCESS = "sharing_nudes_response"


def scenarios_for(
    process_id: str, local_dir: Path, school: Sequence[Scenario] = ()
) -> list[Scenario]:
    """Every statutory scenario, the process's own in `local_dir`/scenarios, then `school`'s."""
    local = [s for s in _load(local_dir / "scenarios", False) if _process_of(s) == process_id]
    return [*statutory_scenarios(), *local, *school]


def statutory_scenarios() -> tuple[Scenario, ...]:
    """The guidance's mandatory routes, which no school can edit or remove."""
    return _load(STATUTORY_DIR, True)


def reserved_names(local_dir: Path) -> frozenset[str]:
    """Names a school's scenario may not take: the statutory ones and the process's own."""
    shipped = [*statutory_scenarios(), *_load(local_dir / "scenarios", False)]
    return frozenset(s.name for s in shipped)


def _process_of(scenario: Scenario) -> str:
    process = scenario.body.get("process")
    return process if isinstance(process, str) else DEFAULT_PROCESS


@cache
def _load(folder: Path, statutory: bool) -> tuple[Scenario, ...]:
    if not folder.is_dir():
        return ()
    found = []
    for path in sorted(folder.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        found.append(Scenario(path.stem, statutory, body))
    return tuple(found)
