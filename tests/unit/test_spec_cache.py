"""Restored specs are reused within a thread only, and never for multi-instance processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from workflow import engine
from workflow.definition import Definition, load_definition
from workflow.model import InstanceStatus, SourceFile
from workflow.spiff_spec_cache import cached_specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"
CONCERN = {"concern": "An adult has been asking a pupil for images", "child_at_risk": True}
ROUTE = {"route": "referral"}


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


def _in_new_thread(call: Callable[[], InstanceStatus]) -> InstanceStatus:
    # A thread of its own has no cached spec: it restores the definition's afresh.
    found: list[InstanceStatus] = []
    worker = threading.Thread(target=lambda: found.append(call()))
    worker.start()
    worker.join()
    assert found, "the command raised in its thread"
    return found[0]


def _withdrawn_and_done(definition: Definition, fresh: bool) -> InstanceStatus:
    run = _in_new_thread if fresh else (lambda call: call())
    now = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
    status = run(lambda: engine.start_instance(definition, now))
    task = next(t for t in status.ready if t.bpmn_id == "choose_route")
    status = run(lambda: engine.complete_task(definition, status.state, task.id, ROUTE, now))
    status = run(lambda: engine.deliver_message(definition, status.state, "concern", CONCERN, now))
    status = run(lambda: engine.deliver_message(definition, status.state, "withdraw", {}, now))
    task = next(t for t in status.ready if t.bpmn_id == "record_withdrawal")
    return run(lambda: engine.complete_task(definition, status.state, task.id, {}, now))


def test_an_opened_event_subprocess_runs_on_the_same_whichever_thread_restores_it() -> None:
    # Opening an event subprocess changes the spec it runs on (SpiffWorkflow connects it to
    # the process's start and end); a thread restoring the spec afresh must see that too.
    fixture = FIXTURES / "messages.bpmn"
    definition = load_definition([SourceFile(fixture.name, fixture.read_bytes())])
    same_thread = _withdrawn_and_done(definition, fresh=False)
    fresh_threads = _withdrawn_and_done(definition, fresh=True)
    assert same_thread.ended and fresh_threads.ended
    assert same_thread.data == fresh_threads.data


def test_an_instance_that_opened_none_runs_on_the_spec_as_built() -> None:
    # Another instance's subprocess, opened on this thread's cached spec, is not this one's.
    fixture = FIXTURES / "messages.bpmn"
    definition = load_definition([SourceFile(fixture.name, fixture.read_bytes())])
    now = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
    other = engine.start_instance(definition, now)
    task = next(t for t in other.ready if t.bpmn_id == "choose_route")
    other = engine.complete_task(definition, other.state, task.id, ROUTE, now)
    engine.deliver_message(definition, other.state, "concern", CONCERN, now)
    specs = cached_specs(definition)
    assert specs is not None
    status = engine.start_instance(definition, now)
    engine.get_status(definition, status.state, now)
    assert [t.name for t in specs[0].start.outputs] == ["start"]
