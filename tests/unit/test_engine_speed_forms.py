"""The form cache of spiff_forms: built once per user task spec, never for message holders."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from SpiffWorkflow.camunda.specs.user_task import Form, UserTask

from workflow import spiff_forms
from workflow.definition import load_definition
from workflow.model import SourceFile
from workflow.spiff_spec_cache import cached_specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"


def _user_tasks() -> list[UserTask]:
    files = ("intake.bpmn", "referral_rule.dmn")
    definition = load_definition([SourceFile(n, (FIXTURES / n).read_bytes()) for n in files])
    specs = cached_specs(definition)
    assert specs is not None
    spec, subs = specs
    found = [t for s in (spec, *subs.values()) for t in s.task_specs.values()]
    return [t for t in found if isinstance(t, UserTask)]


def test_a_user_task_form_is_built_once_and_equals_a_fresh_build() -> None:
    tasks = _user_tasks()
    assert tasks
    for task_spec in tasks:
        first = spiff_forms.form_spec(task_spec)
        assert spiff_forms.form_spec(task_spec) is first
        assert first == spiff_forms._form_spec(task_spec)


def test_a_form_problem_is_raised_every_time_and_not_cached() -> None:
    # Built without a process spec, so no cached spec gains a task.
    broken = UserTask.__new__(UserTask)
    broken.bpmn_id, broken.extensions = "broken_task", {}
    broken.form = Form(init={"key": "k", "fields": []})
    broken.form.fields.append(SimpleNamespace(id="f", type="colour", properties=[], validation=[]))
    for _ in range(2):
        with pytest.raises(spiff_forms.FormProblem):
            spiff_forms.form_spec(broken)
    assert broken not in spiff_forms._FORMS


def test_message_holders_are_not_cached() -> None:
    holder = SimpleNamespace(form=Form(init={"key": "m", "fields": []}), bpmn_id="m", extensions={})
    before = len(spiff_forms._FORMS)
    assert spiff_forms.form_spec(holder).key == "m"
    assert len(spiff_forms._FORMS) == before
