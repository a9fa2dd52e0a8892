"""The scenarios a draft runs: the statutory ones shipped with the product, then its own."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from workflow.scenario_check import Scenario

# Shipped with the product, beside the default process, never read from a school's folder.
STATUTORY_DIR = Path(__file__).resolve().parents[3] / "bpmn" / "statutory"
DEFAULT_PROCESS = "sharing_nudes_response"


def scenarios_for(process_id: str, local_dir: Path) -> list[Scenario]:
    """Statutory scenarios of the process, then its own scenarios in `local_dir`/scenarios."""
    statutory = [s for s in _load(STATUTORY_DIR, True) if _process_of(s) == process_id]
    local = [s for s in _load(local_dir / "scenarios", False) if _process_of(s) == process_id]
    return statutory + local


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
