"""Bulk demo incidents for growth benchmarks: copies of finished engine-made incidents. DEMO ONLY.

A copy has its template's engine state, tasks, answers and case facts, shifted to a new start
time in the period, a new id and reference, and one to three children from a pool of made-up
pupils. Rows go in with batched INSERTs (no engine work); one audit event records the run
through the normal audit path, so the audit chain stays verifiable.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import (
    CaseAnswer,
    Child,
    HumanTask,
    Incident,
    IncidentCaseFacts,
    IncidentChild,
)
from services.db.repositories.incidents import REFERENCE_PREFIX
from services.domain.reports.projection import refresh

BATCH = 500
CHILD_ROLES = ("pictured", "shared", "received", "disclosed")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Template:
    """A finished incident's rows, as plain dicts, ready to copy."""

    incident: dict[str, Any]
    tasks: list[dict[str, Any]]
    answers: list[dict[str, Any]]
    facts: dict[str, Any] | None


def _row(obj: Any) -> dict[str, Any]:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


def load_templates(session: Session, school_id: int) -> list[Template]:
    """The school's closed incidents with everything a copy needs."""
    incidents = session.scalars(
        select(Incident).where(Incident.school_id == school_id, Incident.status == "closed")
    ).all()
    templates = []
    for incident in incidents:
        session.refresh(incident, ["state"])
        tasks = session.scalars(select(HumanTask).where(HumanTask.incident_id == incident.id))
        answers = session.scalars(select(CaseAnswer).where(CaseAnswer.incident_id == incident.id))
        facts = session.get(IncidentCaseFacts, incident.id)
        templates.append(
            Template(
                _row(incident),
                [_row(t) for t in tasks],
                [_row(a) for a in answers],
                _row(facts) if facts is not None else None,
            )
        )
    return templates


def _shift(value: datetime | None, by: timedelta) -> datetime | None:
    return None if value is None else value + by


class BulkCopier:
    """Writes copies of templates for one school."""

    def __init__(
        self, session_factory: sessionmaker[Session], school_id: int, actor_id: int, seed: int
    ) -> None:
        self.session_factory = session_factory
        self.school_id = school_id
        self.actor_id = actor_id
        self.rng = random.Random(seed)  # noqa: S311  # made-up demo data, not secrets
        self.numbers: dict[int, int] = {}

    def copy(
        self, count: int, *, days: int, now: datetime, progress: Progress | None = None
    ) -> int:
        """Write `count` copies started over the `days` before `now`; return how many."""
        with self.session_factory() as session:
            templates = load_templates(session, self.school_id)
            if not templates:
                raise LookupError(
                    "no closed incident to copy in this school: generate some first "
                    "(without --bulk)"
                )
            children = self._pupils(session, max(4, int(count * 0.6)), now)
            session.commit()
        done = 0
        while done < count:
            size = min(BATCH, count - done)
            with self.session_factory() as session:
                self._batch(session, templates, children, size, days, now)
                session.commit()
            done += size
            if progress is not None:
                progress(size)
        self._audit(count, now)
        with self.session_factory() as session:  # the reports' rows, so the first view is quick
            refresh(session, [self.school_id])
            session.commit()
        return count

    def _pupils(self, session: Session, size: int, now: datetime) -> list[int]:
        rows = [
            {
                "school_id": self.school_id,
                "display_name": f"Pupil {n + 1:06d}",
                "date_of_birth": date(2008, 9, 1) + timedelta(days=self.rng.randrange(365 * 6)),
                "year_group": f"Year {7 + self.rng.randrange(7)}",
                "confirmed_at": now,
                "created_at": now,
            }
            for n in range(size)
        ]
        first = session.scalar(select(func.coalesce(func.max(Child.id), 0))) or 0
        session.execute(insert(Child), rows)
        return list(
            session.scalars(
                select(Child.id).where(Child.id > first, Child.school_id == self.school_id)
            )
        )

    def _reference(self, session: Session, year: int) -> str:
        if year not in self.numbers:
            prefix = f"{REFERENCE_PREFIX}-{year}-"
            refs = session.scalars(
                select(Incident.reference).where(
                    Incident.school_id == self.school_id, Incident.reference.startswith(prefix)
                )
            )
            self.numbers[year] = max((int(r.removeprefix(prefix)) for r in refs), default=0)
        self.numbers[year] += 1
        # Six digits: longer than the app's own, so its next number still counts on from here.
        return f"{REFERENCE_PREFIX}-{year}-{self.numbers[year]:06d}"

    def _batch(
        self,
        session: Session,
        templates: list[Template],
        children: list[int],
        size: int,
        days: int,
        now: datetime,
    ) -> None:
        incidents, tasks, answers, facts, links = [], [], [], [], []
        for _ in range(size):
            template = self.rng.choice(templates)
            start = now - timedelta(seconds=self.rng.randrange(days * 86400))
            by = start - template.incident["created_at"]
            last = max([t["completed_at"] for t in template.tasks if t["completed_at"]] or [start])
            if last + by > now:  # would end in the future: start it earlier
                by -= last + by - now
            incident_id = str(uuid.uuid4())
            created = template.incident["created_at"] + by
            incidents.append(
                {
                    **template.incident,
                    "id": incident_id,
                    "reference": self._reference(session, created.year),
                    "created_at": created,
                    "closed_at": _shift(template.incident["closed_at"], by),
                    "next_timer_at": None,
                    "version_id": 1,
                }
            )
            new_ids = {t["id"]: str(uuid.uuid4()) for t in template.tasks}
            for task in template.tasks:
                tasks.append(
                    {
                        **task,
                        "id": new_ids[task["id"]],
                        "incident_id": incident_id,
                        "created_at": task["created_at"] + by,
                        "due_at": _shift(task["due_at"], by),
                        "completed_at": _shift(task["completed_at"], by),
                    }
                )
            for answer in template.answers:
                copied = {k: v for k, v in answer.items() if k != "id"}
                copied.update(
                    incident_id=incident_id,
                    task_id=new_ids.get(answer["task_id"], answer["task_id"]),
                    recorded_at=answer["recorded_at"] + by,
                )
                answers.append(copied)
            if template.facts is not None:
                facts.append({**template.facts, "incident_id": incident_id, "updated_at": created})
            picked = self.rng.sample(children, k=min(len(children), self.rng.choice((1, 2, 3))))
            for number, child_id in enumerate(picked):
                links.append(
                    {
                        "incident_id": incident_id,
                        "child_id": child_id,
                        "role": CHILD_ROLES[number % len(CHILD_ROLES)],
                        "added_by": self.actor_id,
                        "added_at": created,
                    }
                )
        session.execute(insert(Incident), incidents)
        for model, rows in (
            (HumanTask, tasks),
            (CaseAnswer, answers),
            (IncidentCaseFacts, facts),
            (IncidentChild, links),
        ):
            if rows:
                session.execute(insert(model), rows)

    def _audit(self, count: int, now: datetime) -> None:
        with SqlAlchemyUnitOfWork(self.session_factory) as uow:
            uow.audit.add(
                "demo.bulk_generated",
                f"school:{self.school_id}",
                actor_id=None,
                school_id=self.school_id,
                new_values={"incidents": count},
                occurred_at=now,
            )
            uow.commit()


def bulk_copy(
    session_factory: sessionmaker[Session],
    school_id: int,
    actor_id: int,
    count: int,
    *,
    days: int = 365,
    seed: int = 11,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> int:
    """Copy the school's closed incidents `count` times over the period (see module doc)."""
    copier = BulkCopier(session_factory, school_id, actor_id, seed)
    return copier.copy(count, days=days, now=now or datetime.now(UTC), progress=progress)
