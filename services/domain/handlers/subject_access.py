"""Subject access: one child's records as JSON, every other person's name withheld and listed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import (
    CaseAnswer,
    Child,
    FileTransfer,
    HumanTask,
    Incident,
    IncidentChild,
    IncidentParty,
    Membership,
    User,
)
from services.db.repositories.children import ChildRecords
from services.domain.children.access import can_read_chronology
from services.domain.children.messages import SubjectAccessExport
from services.domain.children.redaction import Redactor, Withheld, people_to_withhold
from services.domain.dependencies import Dependencies
from services.domain.handlers.children import child_target
from services.domain.handlers.chronology import (
    AnswerReadable,
    answer_reader,
    chronology_entries,
    hide_if_only_excluded,
    surviving_child,
)
from services.domain.handlers.common import enforce


def subject_access_export(query: SubjectAccessExport, deps: Dependencies) -> dict[str, Any]:
    """Build the redacted export of one child's records and log that it was made."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        child = surviving_child(uow, query.child_id)
        roles = uow.users.roles_in(query.actor_id, child.school_id)
        enforce(can_read_chronology(roles), f"child {query.child_id}")
        hide_if_only_excluded(uow, child, query.actor_id)
        readable = answer_reader(uow, deps, query.actor_id, roles)
        hidden: list[Withheld] = []
        incidents = _incidents(uow, child.id)
        excluded = [i for i, _ in incidents if uow.incidents.is_excluded(i.id, query.actor_id)]
        shown = [(i, roles) for i, roles in incidents if i not in excluded]
        redactor = Redactor(child.display_name, _others(uow, child, [i.id for i, _ in shown]))
        body = {
            "generated_at": now.isoformat(),
            "child": {
                "name": child.display_name,
                "date_of_birth": child.date_of_birth.isoformat() if child.date_of_birth else None,
                "year_group": child.year_group,
            },
            "incidents": [
                _incident(uow, redactor, i, child_roles, readable, hidden)
                for i, child_roles in shown
            ],
            "chronology": [
                {
                    "at": entry.at.isoformat(),
                    "incident_reference": entry.reference,
                    "what": redactor.text(entry.what, "chronology"),
                    "decided": redactor.text(entry.decided, "chronology"),
                }
                for entry in chronology_entries(uow, child, query.actor_id, readable)
            ],
            "file_transfers": _transfers(uow, child.id),
        }
        withheld = (
            _unique(redactor.withheld)
            + hidden
            + [
                Withheld(
                    "an incident record",
                    f"incident {i.reference}",
                    "the person exporting is excluded from it: another DSL must export it",
                )
                for i in excluded
            ]
        )
        body["withheld"] = [{"what": w.what, "where": w.where, "why": w.why} for w in withheld]
        uow.audit.add(
            "child.subject_access_exported",
            child_target(child.id),
            actor_id=query.actor_id,
            school_id=child.school_id,
            new_values={"incidents": len(shown), "withheld": len(withheld)},
            occurred_at=now,
        )
        uow.commit()
        return body


def _incidents(uow: SqlAlchemyUnitOfWork, child_id: int) -> list[tuple[Incident, list[str]]]:
    found: dict[str, tuple[Incident, list[str]]] = {}
    for incident, role in ChildRecords(uow.session).incidents_of(child_id):
        found.setdefault(incident.id, (incident, []))[1].append(role)
    return list(found.values())


def _others(uow: SqlAlchemyUnitOfWork, child: Child, incident_ids: list[str]) -> list[Any]:
    children = uow.session.scalars(
        select(Child.display_name)
        .join(IncidentChild, IncidentChild.child_id == Child.id)
        .where(IncidentChild.incident_id.in_(incident_ids), Child.id != child.id)
        .distinct()
    )
    parties = uow.session.scalars(
        select(IncidentParty.description).where(IncidentParty.incident_id.in_(incident_ids))
    )
    staff = uow.session.scalars(
        select(User.display_name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.school_id == child.school_id)
        .distinct()
    )
    return people_to_withhold(list(children), list(parties), list(staff))


def _incident(
    uow: SqlAlchemyUnitOfWork,
    redactor: Redactor,
    incident: Incident,
    roles: list[str],
    readable: AnswerReadable,
    hidden: list[Withheld],
) -> dict[str, Any]:
    names = dict(
        uow.session.execute(
            select(HumanTask.id, HumanTask.name).where(HumanTask.incident_id == incident.id)
        ).all()
    )
    steps = []
    answers = uow.session.scalars(
        select(CaseAnswer).where(CaseAnswer.incident_id == incident.id).order_by(CaseAnswer.id)
    )
    for answer in answers:
        step = names.get(answer.task_id) or answer.bpmn_id
        where = f"incident {incident.reference}, {step}"
        if not readable(incident, answer):  # need-to-know per step, as on the incident page
            why = "the step's readers leave out the person exporting: another DSL must export it"
            hidden.append(Withheld("a step's answers", where, why))
            continue
        steps.append(
            {
                "step": step,
                "kind": answer.kind,
                "recorded_at": answer.recorded_at.isoformat(),
                "answers": redactor.value(dict(answer.answers), where),
                "reason": redactor.text(answer.reason, where) if answer.reason else None,
            }
        )
    return {
        "reference": incident.reference,
        "reported_at": incident.created_at.isoformat(),
        "status": incident.status,
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "role_of_the_child": roles,
        "steps": steps,
    }


def _transfers(uow: SqlAlchemyUnitOfWork, child_id: int) -> list[dict[str, Any]]:
    rows = uow.session.scalars(select(FileTransfer).where(FileTransfer.child_id == child_id))
    return [
        {
            "to_school": row.to_school_name,
            "method": row.method,
            "sent_at": row.sent_at.isoformat(),
            "receipt_confirmed_at": row.received_at.isoformat() if row.received_at else None,
        }
        for row in rows
    ]


def _unique(withheld: list[Withheld]) -> list[Withheld]:
    seen: dict[tuple[str, str, str], Withheld] = {}
    for item in withheld:
        seen.setdefault((item.what, item.where, item.why), item)
    return list(seen.values())
