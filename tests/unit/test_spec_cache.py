"""Restored specs are reused within a thread only, and never for multi-instance processes."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from workflow.definition import Definition, load_definition
from workflow.model import SourceFile
from workflow.spiff_spec_cache import cached_specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"


def intake() -> Definition:
    names = ("intake.bpmn", "referral_rule.dmn")
    return load_definition([SourceFile(n, (FIXTURES / n).read_bytes()) for n in names])


def test_a_thread_reuses_the_specs_it_restored() -> None:
    definition = intake()
    first = cached_specs(definition)
    assert first is not None
    assert cached_specs(definition) is first


def test_another_thread_restores_its_own_specs() -> None:
    definition = intake()
    mine = cached_specs(definition)
    theirs: list[object] = []
    worker = threading.Thread(target=lambda: theirs.append(cached_specs(definition)))
    worker.start()
    worker.join()
    assert mine is not None and theirs[0] is not None
    assert theirs[0] is not mine
    assert theirs[0][0] is not mine[0]  # type: ignore[index]


def test_specs_with_multi_instance_tasks_are_never_reused() -> None:
    definition = intake()
    marked = replace(
        definition,
        digest="multi-instance-" + definition.digest,
        spec=definition.spec.replace('"typename":"UserTask"', '"typename":"MultiInstanceX"', 1),
    )
    assert "MultiInstance" in marked.spec
    assert cached_specs(marked) is None
