"""Need-to-know per step: which completed steps of an incident one person may read. Pure.

Plain facts in, plain answers out: no database, no framework. Every page, API route, export,
PDF and search applies these functions (visibility.py is their SQL mirror for lists).

- Excluded, or no role in the school: nothing at all (the incident is hidden).
- Record readers, people holding a role of READ_BY_DEFAULT in the school (DSL and deputies,
  headteacher, auditor): every step, except a step whose `readers` property leaves their roles
  out. They also read what belongs to the whole record: its history and audit trail, the path
  taken, documents, children and exports.
- Break-glass (someone else in the school who gave a reason, logged and notified): as a DSL.
- Anyone else who may open the incident (the reporter, a person assigned a task) reads only:
  the steps they completed themselves (the reporter: their own report); steps whose `readers`
  property names one of their roles; and, while they hold a ready task, the answers that task
  needs: the report the incident began with plus the earlier tasks its `needs` property lists.
  They see the incident's status and the tasks asked of them, never the history, the route,
  other people's tasks, documents or exports.
- admin and process_admin are not reader roles: by those roles alone a person reads nothing.
- What the process derives from a step's answers is that step's (FACT_SOURCES): the route,
  the criteria that held and the classification show, in any page, list, filter, export or
  API, only to someone who may read every step the fact comes from (reads_facts_of); so does
  a decision step (a business rule task) deciding on a step's answers (DECISION_SOURCES).

The role names live in workflow/step_readers.py (the BPMN lint needs them too).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from workflow.model import CompletedStep, FormSpec
from workflow.step_readers import READ_BY_DEFAULT, READER_ROLES, ROLES

__all__ = [
    "FACT_SOURCES",
    "READER_ROLES",
    "READ_ONLY_ROLES",
    "RECORD_READER_ROLES",
    "ROLES",
    "Relationship",
    "StepFacts",
    "Viewer",
    "may_read_step",
    "readable_completed_steps",
    "readable_facts",
    "readable_steps",
    "reads_every_step",
    "reads_facts_of",
    "reads_record",
    "reads_records_by_role",
    "searchable_steps",
    "sees_task",
    "step_facts",
    "task_needs",
]

# Roles that read incident records of their school by role alone (deputy DSLs hold 'dsl').
RECORD_READER_ROLES = frozenset(READ_BY_DEFAULT)
# Roles that read but never act on a task (auditors).
READ_ONLY_ROLES = frozenset({"auditor"})

Relationship = Literal["reporter", "assignee", "excluded", "none"]

# Facts about an incident the process derives from user tasks' answers -> those tasks. The
# decision after the initial review says whether to refer at once and which criteria held;
# the risk assessment gives the classification and, with the headteacher's agreement, the
# route (which also tells whether immediate referral applied, so it needs the review too).
FACT_SOURCES: Mapping[str, tuple[str, ...]] = {
    "route": ("initial_review", "risk_assessment", "agree_in_house"),
    "criteria": ("initial_review",),
    "classification": ("risk_assessment",),
}
# Decision steps (business rule tasks, no form) -> the user tasks whose answers they decide on.
DECISION_SOURCES: Mapping[str, tuple[str, ...]] = {
    "decide_immediate_referral": ("initial_review",),
}


@dataclass(frozen=True)
class Viewer:
    """One person looking at one incident: the facts the policy needs about them."""

    user_id: int
    roles: frozenset[str]  # their roles in the incident's school
    relationship: Relationship = "none"
    break_glass: bool = False  # opened it with a logged reason
    # Steps the ready tasks they hold need (task_needs of each): read while those tasks wait.
    needs: frozenset[str] = frozenset()
    holds_task: bool = False  # holds a ready task now (so reads the report it follows)


@dataclass(frozen=True)
class StepFacts:
    """One completed step as the policy sees it."""

    bpmn_id: str
    readers: tuple[str, ...] | None  # the step's declared readers; None: READ_BY_DEFAULT
    completed_by: int | None  # the person who completed it (None: a decision table, the system)
    is_report: bool = False  # the step the incident began with (the disclosure)


def reads_records_by_role(roles: Collection[str]) -> bool:
    """Do these roles read a school's incident records (DSL, headteacher, auditor)?"""
    return bool(RECORD_READER_ROLES.intersection(roles))


def reads_record(viewer: Viewer) -> bool:
    """May this person read the whole-record parts: history, audit trail, route, documents?"""
    if viewer.relationship == "excluded" or not viewer.roles:
        return False
    return viewer.break_glass or reads_records_by_role(viewer.roles)


def may_read_step(viewer: Viewer, step: StepFacts) -> bool:
    """May this person read the answers of this completed step?"""
    if viewer.relationship == "excluded" or not viewer.roles:
        return False
    if viewer.break_glass and not reads_records_by_role(viewer.roles):
        return True  # break-glass reads as the DSL does, and the DSL reads every step
    if named_reader(viewer.roles, step.readers):
        # Staff named as readers read a step only once they may open the incident at all.
        return reads_records_by_role(viewer.roles) or viewer.relationship != "none"
    if viewer.relationship == "none":
        return False
    if step.completed_by is not None and step.completed_by == viewer.user_id:
        return True
    if viewer.holds_task and step.is_report:
        return True
    return viewer.holds_task and step.bpmn_id in viewer.needs


def reads_facts_of(
    viewer: Viewer, sources: Iterable[str], readers_by_task: Mapping[str, Sequence[str] | None]
) -> bool:
    """May this person read what the process derived from these steps (every one of them)?

    `readers_by_task`: the process version's declared readers (task id -> roles, None: the
    default). A step is taken as done by someone else: deriving gives nobody their own answers.
    """

    def readers(step_id: str) -> tuple[str, ...] | None:
        declared = readers_by_task.get(step_id)
        return tuple(declared) if declared is not None else None

    return all(
        may_read_step(viewer, StepFacts(step_id, readers(step_id), None)) for step_id in sources
    )


def readable_facts(
    viewer: Viewer, readers_by_task: Mapping[str, Sequence[str] | None]
) -> frozenset[str]:
    """The FACT_SOURCES facts ("route", "criteria", "classification") this person may read."""
    return frozenset(
        fact
        for fact, sources in FACT_SOURCES.items()
        if reads_facts_of(viewer, sources, readers_by_task)
    )


def named_reader(roles: Collection[str], readers: Sequence[str] | None) -> bool:
    """Do these roles appear among a step's readers (its `readers` property, else the default)?"""
    return bool(set(roles).intersection(readers if readers is not None else READ_BY_DEFAULT))


def searchable_steps(
    roles: Collection[str], readers_by_task: Mapping[str, Sequence[str] | None]
) -> frozenset[str]:
    """The steps whose answers these roles read wherever they may open the incident.

    What the incident list searches besides a person's own answers (the safe side of
    may_read_step: what a task lends its doer while it waits is not searched).
    """
    return frozenset(
        task for task, readers in readers_by_task.items() if named_reader(roles, readers)
    )


def sees_task(roles: Collection[str], lane: str, candidate_groups: Collection[str]) -> bool:
    """May someone learn that a task is now waiting (e.g. in a command's outcome)?

    Record readers see every task; anyone else only a task they could do themselves (as
    their inbox shows it): other people's tasks say which route the incident took.
    """
    if reads_records_by_role(roles):
        return True
    acting = set(roles) - READ_ONLY_ROLES
    return bool(acting.intersection({lane, *candidate_groups}))


def readable_steps(viewer: Viewer, steps: Sequence[StepFacts]) -> list[bool]:
    """For each step in order, may this person read it."""
    return [may_read_step(viewer, step) for step in steps]


def reads_every_step(viewer: Viewer, steps: Sequence[StepFacts]) -> bool:
    """May this person have the whole record (the PDF, exports): every step and its history?

    What a waiting task lends its doer (`needs`) does not count: a download outlives the task.
    """
    own = replace(viewer, needs=frozenset(), holds_task=False)
    return reads_record(own) and all(may_read_step(own, step) for step in steps)


def task_needs(form: FormSpec | None) -> frozenset[str]:
    """The earlier steps a ready task's `needs` property lists (the report is always needed)."""
    return frozenset(form.needs) if form is not None else frozenset()


def step_facts(step: CompletedStep, *, is_report: bool = False) -> StepFacts:
    """The policy's facts about a completed step (its readers come with its form)."""
    return StepFacts(
        bpmn_id=step.bpmn_id,
        readers=step.form.readers if step.form is not None else None,
        completed_by=_user_id(step.actor),
        is_report=is_report,
    )


def readable_completed_steps(
    viewer: Viewer, steps: Sequence[CompletedStep]
) -> tuple[CompletedStep, ...]:
    """The completed steps this person may read, in order (the first one is the report).

    A decision step is read by whoever reads the steps it decides on (DECISION_SOURCES).
    """
    readers = {s.bpmn_id: s.form.readers for s in steps if s.form is not None}
    return tuple(
        step
        for index, step in enumerate(steps)
        if may_read_step(viewer, step_facts(step, is_report=index == 0))
        and (
            step.form is not None
            or reads_facts_of(viewer, DECISION_SOURCES.get(step.bpmn_id, ()), readers)
        )
    )


def needs_of(forms: Iterable[FormSpec | None]) -> frozenset[str]:
    """What a person's ready tasks need between them."""
    needed: set[str] = set()
    for form in forms:
        needed |= task_needs(form)
    return frozenset(needed)


def _user_id(actor: str | int | None) -> int | None:
    # The engine names actors by user id as text ("12"); anything else is not a person.
    if actor is None:
        return None
    try:
        return int(actor)
    except (TypeError, ValueError):
        return None
