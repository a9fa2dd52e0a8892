"""Realistic demo incidents over a year, made through the engine's own commands. DEMO ONLY.

Each incident follows one of the guidance's scenarios (bpmn/scenarios), with the answers each
step needs, its police outcome and whether parents were told varied at random; the clock moves
as a school's would (reviews within hours, sometimes days; later steps over days and weeks), so
recent incidents are still open and some tasks are overdue. Children come from a pool of the
school's pupils, so some children appear in more than one incident.

`bulk_copy` is for growth benchmarks (100k incidents): it copies finished incidents made the
first way, with their tasks, answers, facts and children, shifted in time, in batches of plain
INSERTs (no engine work, and no audit rows per copy: one audit event records the run).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.domain.bus import MessageBus, bootstrap
from services.domain.children.messages import NameChild
from services.domain.clock import FixedClock
from services.domain.commands import (
    CompleteExternalTask,
    CompleteTask,
    FireDueTimers,
    StartIncident,
)
from services.domain.events import Event, ExternalTaskReady, TaskCancelled, TaskCompleted, TaskReady
from services.domain.results import Outcome
from services.scheduling.calendars import school_calendars
from workflow import engine
from workflow.definition import Definition
from workflow.formdata import placeholder_data
from workflow.model import FormSpec
from workflow.simulate import parse_duration

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "bpmn" / "scenarios"
# Scenarios that leave an incident waiting at their end (the demo seed leaves them out, so
# only recent incidents are open there).
OPEN_ENDED = frozenset(
    {"branch-deletion-deadline.json", "branch-overdue-review.json", "branch-sextortion.json"}
)
# (scenario file, weight): mostly in-house S1, the referral criteria, a few branches.
SCENARIOS = (
    ("s1.json", 30),
    ("s2.json", 8),
    ("s3.json", 6),
    ("s4.json", 5),
    ("s5.json", 5),
    ("s6.json", 6),
    ("s8.json", 3),
    ("s9.json", 5),
    ("branch-no-deletion-needed.json", 8),
    ("branch-deletion-deadline.json", 4),
    ("branch-overdue-review.json", 4),
    ("branch-headteacher-disagrees.json", 4),
    ("branch-new-concern.json", 3),
    ("branch-sextortion.json", 3),
)
POLICE_OUTCOMES = (
    ("outcome_21", 35),
    ("no_further_action", 25),
    ("community_resolution", 10),
    ("caution", 5),
    ("charged", 3),
    ("police_not_involved", 22),
)
CHILD_ROLES = ("pictured", "shared", "received", "disclosed")
FIRST_NAMES = (
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Ella",
    "Finn",
    "Grace",
    "Hamza",
    "Isla",
    "Jack",
    "Kai",
    "Leah",
    "Mia",
    "Noah",
    "Olivia",
    "Priya",
    "Quinn",
    "Ravi",
    "Sofia",
    "Theo",
    "Uma",
    "Vince",
    "Willow",
    "Xander",
    "Yara",
    "Zane",
    "Aisha",
    "Bilal",
    "Cara",
    "Dylan",
    "Erin",
    "Farah",
)
LAST_NAMES = (
    "Adeyemi",
    "Brown",
    "Chen",
    "Davies",
    "Evans",
    "Fraser",
    "Gill",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Nowak",
    "O'Neill",
    "Patel",
    "Quinn",
    "Roberts",
    "Singh",
    "Taylor",
    "Usman",
    "Vaughan",
    "Walsh",
    "Xu",
    "Young",
    "Zielinski",
)
YEAR_GROUPS = ("Year 7", "Year 8", "Year 9", "Year 10", "Year 11", "Year 12", "Year 13")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Step:
    """One step of a scenario: complete a task with answers, or let time pass (timers fire)."""

    bpmn_id: str | None
    data: Mapping[str, Any]
    form: FormSpec | None
    advance: timedelta | None = None


@dataclass(frozen=True)
class Cast:
    """Who does the work in the demo school."""

    school_id: int
    by_role: Mapping[str, int]  # staff, dsl, headteacher -> user id


@dataclass
class Pool:
    """The school's pupils the generator draws from (ids once they exist)."""

    size: int
    known: dict[int, int] = field(default_factory=dict)  # pool index -> child id


def scenario_steps(name: str, definition: Definition) -> tuple[Step, ...]:
    """A scenario's steps with each task's form, found by running it without a database."""
    scenario = json.loads((SCENARIO_DIR / name).read_text(encoding="utf-8"))
    now = datetime(2026, 9, 7, 9, tzinfo=UTC)
    status = engine.start_instance(definition, now)
    steps: list[Step] = []
    for raw in scenario["steps"]:
        if "advance" in raw:
            now += parse_duration(raw["advance"])
            status = engine.fire_due_timers(definition, status.state, now)
            steps.append(Step(None, {}, None, parse_duration(raw["advance"])))
            continue
        task = next(t for t in status.ready if t.bpmn_id == raw["complete"])
        data = placeholder_data(task.form, raw.get("data") or {})
        steps.append(Step(task.bpmn_id, data, task.form))
        status = engine.complete_task(definition, status.state, task.id, data, now)
        while status.external:
            external = status.external[0]
            status = engine.complete_external_task(definition, status.state, external.id, {}, now)
    return tuple(steps)


def pupil_name(index: int) -> str:
    """The made-up name of the pool's pupil number `index` (unique per index)."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[index // len(FIRST_NAMES) % len(LAST_NAMES)]
    cycle = index // (len(FIRST_NAMES) * len(LAST_NAMES))
    return f"{first} {last}" if cycle == 0 else f"{first} {last} {cycle + 1}"


class DemoGenerator:
    """Makes incidents for one school through the bus, with its own clock."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        cast: Cast,
        *,
        seed: int = 11,
        finished_only: bool = False,
    ) -> None:
        self.clock = FixedClock(datetime.now(UTC))
        self.bus: MessageBus = bootstrap(
            session_factory, clock=self.clock, calendar=school_calendars()
        )
        self.session_factory = session_factory
        self.cast = cast
        self.rng = random.Random(seed)  # noqa: S311  # made-up demo data, not secrets
        self.pool = Pool(size=0)
        self._definition: Definition | None = None
        self._steps: dict[str, tuple[Step, ...]] = {}
        self._scenarios = [(n, w) for n, w in SCENARIOS if not (finished_only and n in OPEN_ENDED)]

    def definition(self) -> Definition:
        """The deployed default process."""
        if self._definition is None:
            with SqlAlchemyUnitOfWork(self.session_factory) as uow:
                version = uow.definitions.latest("sharing_nudes_response")
                if version is None:
                    raise LookupError("deploy the default process first (safeguard init)")
                self._definition = self.bus.dependencies.definitions.get(uow, version.id)
        return self._definition

    def generate(
        self,
        count: int,
        *,
        days: int = 365,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> list[str]:
        """Make `count` incidents spread over the `days` before `now`; return their ids."""
        end = now or datetime.now(UTC)
        self.pool.size = max(4, int(count * 1.6))
        starts = sorted(self._spread(count, end - timedelta(days=days), end))
        made: list[str] = []
        for start in starts:
            made.append(self.one(start, end))
            if progress is not None:
                progress(1)
        return made

    def one(self, start: datetime, end: datetime) -> str:
        """One incident begun at `start`, taken as far as the time before `end` allows."""
        names, weights = zip(*self._scenarios, strict=True)
        name = self.rng.choices(names, weights)[0]
        definition = self.definition()
        if name not in self._steps:
            self._steps[name] = scenario_steps(name, definition)
        steps = self._steps[name]
        self.clock.set(start)
        first = steps[0]
        outcome = self.bus.handle(
            StartIncident(self.cast.school_id, self.cast.by_role["staff"], dict(first.data))
        )
        assert outcome.incident_id is not None
        incident_id = outcome.incident_id
        ready: dict[str, tuple[str, str]] = {}  # bpmn id -> (task id, role)
        self._track(outcome, ready)
        self._name_children(incident_id)
        when = start
        for step in steps[1:]:
            when = when + (step.advance or self._delay(step.bpmn_id))
            if when >= end:
                break
            self.clock.set(when)
            if step.advance is not None:
                outcome = self.bus.handle(FireDueTimers(incident_id, when))
            else:
                assert step.bpmn_id is not None and step.form is not None
                if step.bpmn_id not in ready:
                    break  # the route went elsewhere (a timer fired first): stop here
                task_id, role = ready[step.bpmn_id]
                data = placeholder_data(step.form, self._vary(step.bpmn_id, step.data))
                actor = self.cast.by_role.get(role, self.cast.by_role["dsl"])
                outcome = self.bus.handle(CompleteTask(task_id, actor, data))
            self._track(outcome, ready)
        return incident_id

    def _track(self, outcome: Outcome, ready: dict[str, tuple[str, str]]) -> None:
        for event in outcome.events:
            self._note(event, ready)
        for event in outcome.of_type(ExternalTaskReady):
            done = self.bus.handle(CompleteExternalTask(event.task_id, "demo-generator", {}))
            for later in done.events:
                self._note(later, ready)

    @staticmethod
    def _note(event: Event, ready: dict[str, tuple[str, str]]) -> None:
        if isinstance(event, TaskReady):
            ready[event.bpmn_id] = (event.task_id, event.role)
        elif isinstance(event, (TaskCompleted, TaskCancelled)):
            ready.pop(event.bpmn_id, None)

    def _delay(self, bpmn_id: str | None) -> timedelta:
        # Most reviews happen within hours; some wait days (the one-school-day expectation).
        if bpmn_id == "initial_review":
            hours = self.rng.choice((1, 2, 3, 4, 5, 6, 20, 26, 50, 75))
            return timedelta(hours=hours, minutes=self.rng.randrange(60))
        return timedelta(hours=self.rng.randrange(2, 96))

    def _vary(self, bpmn_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        varied = dict(data)
        if bpmn_id == "record_agency_outcome":
            outcomes = [o for o, _ in POLICE_OUTCOMES]
            varied["police_outcome"] = self.rng.choices(outcomes, [w for _, w in POLICE_OUTCOMES])[
                0
            ]
        if bpmn_id == "inform_parents_and_carers" and self.rng.random() < 0.12:
            for key in [k for k in varied if k.startswith("parents_informed")]:
                del varied[key]
            varied["inform_parents"] = False
            varied["parents_not_informed_reason"] = (
                "Social care advised that telling a parent would put the child at risk."
            )
        return varied

    def _name_children(self, incident_id: str) -> None:
        dsl = self.cast.by_role["dsl"]
        picks = self.rng.sample(
            range(self.pool.size), k=min(self.pool.size, self.rng.choice((1, 2, 2, 3)))
        )
        for number, index in enumerate(picks):
            role = CHILD_ROLES[number % len(CHILD_ROLES)]
            known = self.pool.known.get(index)
            if known is not None:
                self.bus.handle(NameChild(incident_id, dsl, role, child_id=known))
                continue
            born = date(2008, 9, 1) + timedelta(days=self.rng.randrange(365 * 6))
            named = self.bus.handle(
                NameChild(
                    incident_id,
                    dsl,
                    role,
                    name=pupil_name(index),
                    date_of_birth=born,
                    year_group=self.rng.choice(YEAR_GROUPS),
                )
            )
            self.pool.known[index] = named.child_id

    def _school_time(self, start: datetime, end: datetime) -> datetime:
        # A weekday in school hours (UTC is close enough for demo data); a slice that falls
        # on a weekend moves to the Monday after it.
        seconds = max(1, int((end - start).total_seconds()))
        moment = start + timedelta(seconds=self.rng.randrange(seconds))
        while moment.weekday() >= 5:
            moment += timedelta(days=1)
        clock = time(8 + self.rng.randrange(8), self.rng.randrange(60))
        chosen = datetime.combine(moment.date(), clock, UTC)
        while chosen > end:  # never in the future: back to the last weekday before `end`
            chosen -= timedelta(days=1)
            if chosen.weekday() < 5 and chosen.date() < end.date():
                break
        return chosen

    def _spread(self, count: int, start: datetime, end: datetime) -> list[datetime]:
        # One start in each of `count` equal slices of the period: even over the year, yet
        # random within each slice (plain random draws bunch up at a few hundred incidents).
        width = (end - start) / count
        return [self._school_time(start + width * n, start + width * (n + 1)) for n in range(count)]
