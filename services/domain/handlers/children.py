"""Name the children of an incident, confirm or merge them, and record adults as parties.

Children's names are written to the case tables and the audit trail only: never to the outbox,
so no notification or queue ever carries them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import (
    CHILD_ROLES,
    Child,
    FileTransfer,
    Incident,
    IncidentChild,
    IncidentExclusion,
)
from services.db.repositories.children import ChildRecords
from services.domain.access import can_view_incident, clean_reason
from services.domain.children.access import (
    can_lead_children,
    can_name_children,
    can_read_chronology,
)
from services.domain.children.messages import (
    AddParty,
    ChildLine,
    ChildNamed,
    ConfirmChild,
    IncidentPeople,
    MergeChildren,
    NameChild,
    PartyLine,
    PeopleOfIncident,
    SchoolChildren,
)
from services.domain.dependencies import Dependencies
from services.domain.errors import Conflict, NotFound, RequestInvalid
from services.domain.handlers.common import enforce, incident_target, user_facts
from services.domain.step_access import reads_records_by_role

PARTY_KINDS = ("adult", "staff_or_volunteer", "parent_or_carer", "other")
MAX_NAME = 200
MAX_YEAR_GROUP = 20
OLDEST_BIRTH = date(1990, 1, 1)


def child_target(child_id: int) -> str:
    """The audit target naming a child."""
    return f"child:{child_id}"


def child_line(child: Child, roles: tuple[str, ...] = ()) -> ChildLine:
    """A child row as a read model."""
    return ChildLine(
        id=child.id,
        school_id=child.school_id,
        name=child.display_name,
        date_of_birth=child.date_of_birth,
        year_group=child.year_group,
        confirmed=child.confirmed_at is not None,
        merged_into_id=child.merged_into_id,
        roles=roles,
    )


def _incident(uow: SqlAlchemyUnitOfWork, incident_id: str) -> Incident:
    incident = uow.session.get(Incident, incident_id)  # without its engine state
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def name_child(command: NameChild, deps: Dependencies) -> ChildNamed:
    """Record a child in an incident: a new child, or (DSL, headteacher) one the school knows."""
    now = deps.clock.now()
    if command.role not in CHILD_ROLES:
        raise RequestInvalid(f"role must be one of {', '.join(CHILD_ROLES)}, not {command.role!r}")
    with deps.uow_factory() as uow:
        incident = _incident(uow, command.incident_id)
        facts = user_facts(uow, incident, command.actor_id)
        enforce(
            can_name_children(facts.roles, facts.is_involved, facts.is_excluded),
            f"incident {incident.id}",
        )
        records = ChildRecords(uow.session)
        if command.child_id is not None:
            child, created = _known_child(records, incident, command, facts.roles), False
        else:
            child, created = _new_child(uow, records, incident, command, facts.roles, now), True
        if records.is_linked(incident.id, child.id, command.role):
            raise Conflict(
                f"child {child.id} is already recorded as {command.role} in this incident"
            )
        records.link(incident.id, child.id, command.role, added_by=command.actor_id, at=now)
        uow.audit.add(
            "child.linked",
            child_target(child.id),
            actor_id=command.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            new_values={"child_id": child.id, "role": command.role},
            occurred_at=now,
        )
        uow.commit()
        return ChildNamed(child.id, created)


def _known_child(
    records: ChildRecords, incident: Incident, command: NameChild, roles: frozenset[str]
) -> Child:
    enforce(can_read_chronology(roles), f"incident {incident.id}: linking a known child")
    assert command.child_id is not None
    child = records.get(command.child_id)
    if child is None or child.school_id != incident.school_id:
        raise NotFound(f"child {command.child_id} not found")
    if child.merged_into_id is not None:
        raise Conflict(f"child {child.id} was merged into child {child.merged_into_id}: use that")
    return child


def _new_child(
    uow: SqlAlchemyUnitOfWork,
    records: ChildRecords,
    incident: Incident,
    command: NameChild,
    roles: frozenset[str],
    now: datetime,
) -> Child:
    name = (command.name or "").strip()
    _check_child_fields(name, command.date_of_birth, command.year_group, now)
    is_lead = can_lead_children(roles).allowed
    if is_lead:
        # A DSL sees the school's children: a second record of the same child is refused.
        same = records.same_child(incident.school_id, name, command.date_of_birth)
        if same:
            raise Conflict(
                f"the school already knows this child (child {same[0].id}): "
                f'link them with {{"child_id": {same[0].id}, "role": ...}}'
            )
    year_group = (command.year_group or "").strip() or None
    child = records.add(
        incident.school_id,
        name,
        date_of_birth=command.date_of_birth,
        year_group=year_group,
        created_by=command.actor_id,
        confirmed_at=now if is_lead else None,
        at=now,
    )
    uow.audit.add(
        "child.added",
        child_target(child.id),
        actor_id=command.actor_id,
        school_id=incident.school_id,
        incident_id=incident.id,
        new_values={
            "name": name,
            "date_of_birth": command.date_of_birth.isoformat() if command.date_of_birth else None,
            "year_group": year_group,
            "confirmed": is_lead,
        },
        occurred_at=now,
    )
    return child


def _check_child_fields(
    name: str, date_of_birth: date | None, year_group: str | None, now: datetime
) -> None:
    if not name:
        raise RequestInvalid("name: enter the child's name (or send child_id for a known child)")
    if len(name) > MAX_NAME:
        raise RequestInvalid(f"name: at most {MAX_NAME} characters")
    if date_of_birth is not None and not OLDEST_BIRTH <= date_of_birth <= now.date():
        raise RequestInvalid(f"date_of_birth: must be between {OLDEST_BIRTH.isoformat()} and today")
    if year_group is not None and len(year_group.strip()) > MAX_YEAR_GROUP:
        raise RequestInvalid(f"year_group: at most {MAX_YEAR_GROUP} characters")


def _lead_child(uow: SqlAlchemyUnitOfWork, child_id: int, actor_id: int) -> Child:
    child = ChildRecords(uow.session).get(child_id)
    if child is None:
        raise NotFound(f"child {child_id} not found")
    enforce(can_lead_children(uow.users.roles_in(actor_id, child.school_id)), f"child {child_id}")
    if child.merged_into_id is not None:
        raise Conflict(f"child {child.id} was merged into child {child.merged_into_id}")
    return child


def confirm_child(command: ConfirmChild, deps: Dependencies) -> int:
    """A DSL confirms a child named by the person reporting."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        child = _lead_child(uow, command.child_id, command.actor_id)
        if child.confirmed_at is None:
            child.confirmed_at = now
            uow.audit.add(
                "child.confirmed",
                child_target(child.id),
                actor_id=command.actor_id,
                school_id=child.school_id,
                new_values={"confirmed": True},
                occurred_at=now,
            )
            uow.commit()
        return child.id


def merge_children(command: MergeChildren, deps: Dependencies) -> int:
    """Merge a duplicate into the child the school knows: links move, the reason is logged."""
    now = deps.clock.now()
    reason = clean_reason(command.reason)
    if reason is None:
        raise RequestInvalid("reason: merging two children needs a reason")
    if command.duplicate_id == command.into_id:
        raise RequestInvalid("into: a child cannot be merged into itself")
    with deps.uow_factory() as uow:
        duplicate = _lead_child(uow, command.duplicate_id, command.actor_id)
        into = _lead_child(uow, command.into_id, command.actor_id)
        if duplicate.school_id != into.school_id:
            raise NotFound(f"child {command.into_id} not found")
        moved = ChildRecords(uow.session).move_links(duplicate.id, into.id, now)
        for transfer in uow.session.query(FileTransfer).filter_by(child_id=duplicate.id):
            transfer.child_id = into.id
        duplicate.merged_into_id = into.id
        into.date_of_birth = into.date_of_birth or duplicate.date_of_birth
        into.year_group = into.year_group or duplicate.year_group
        into.confirmed_at = into.confirmed_at or now
        uow.audit.add(
            "child.merged",
            child_target(duplicate.id),
            actor_id=command.actor_id,
            school_id=into.school_id,
            reason=reason,
            # No name: this event has no incident, so deleting the child's incidents cannot
            # erase it; the ids say which records were merged.
            old_values={"child_id": duplicate.id},
            new_values={"merged_into_id": into.id, "links_moved": moved},
            occurred_at=now,
        )
        uow.commit()
        return into.id


def add_party(command: AddParty, deps: Dependencies) -> int:
    """Record an adult involved in an incident (a DSL or the headteacher, or the reporter)."""
    now = deps.clock.now()
    description = (command.description or "").strip()
    if not description or len(description) > MAX_NAME:
        raise RequestInvalid(f"description: describe the adult in 1 to {MAX_NAME} characters")
    if command.kind not in PARTY_KINDS:
        raise RequestInvalid(f"kind must be one of {', '.join(PARTY_KINDS)}")
    with deps.uow_factory() as uow:
        incident = _incident(uow, command.incident_id)
        facts = user_facts(uow, incident, command.actor_id)
        enforce(
            can_name_children(facts.roles, facts.is_involved, facts.is_excluded),
            f"incident {incident.id}",
        )
        party = ChildRecords(uow.session).add_party(
            incident.id, description, command.kind, added_by=command.actor_id, at=now
        )
        uow.audit.add(
            "party.added",
            f"party:{party.id}",
            actor_id=command.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            new_values={"description": description, "kind": command.kind},
            occurred_at=now,
        )
        uow.commit()
        return party.id


def people_of_incident(query: PeopleOfIncident, deps: Dependencies) -> IncidentPeople:
    """The children and adults of an incident, for those who may see it (the read is logged)."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        incident = _incident(uow, query.incident_id)
        facts = user_facts(uow, incident, query.actor_id)
        enforce(
            can_view_incident(facts.roles, facts.is_involved, facts.is_excluded),
            f"incident {incident.id}",
        )
        records = ChildRecords(uow.session)
        # Need-to-know (step_access): the reporter and assignees see only whom they named.
        everyone = reads_records_by_role(facts.roles)
        by_child: dict[int, tuple[Child, list[str]]] = {}
        for child, link in records.for_incident(incident.id):
            if everyone or link.added_by == query.actor_id:
                by_child.setdefault(child.id, (child, []))[1].append(link.role)
        children = tuple(child_line(c, tuple(roles)) for c, roles in by_child.values())
        parties = tuple(
            PartyLine(p.id, p.description, p.kind)
            for p in records.parties_of(incident.id)
            if everyone or p.added_by == query.actor_id
        )
        uow.audit.add(
            "incident.people_viewed",
            incident_target(incident.id),
            actor_id=query.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            occurred_at=now,
        )
        uow.commit()
        return IncidentPeople(
            incident_id=incident.id,
            reference=incident.reference,
            school_id=incident.school_id,
            children=children,
            parties=parties,
            may_lead=can_lead_children(facts.roles).allowed and not facts.is_excluded,
            may_name=can_name_children(facts.roles, facts.is_involved, facts.is_excluded).allowed,
        )


def _only_in_excluded(uow: SqlAlchemyUnitOfWork, user_id: int, child_ids: list[int]) -> set[int]:
    # Need-to-know: a child named only in incidents someone is excluded from is not listed
    # to them (the register would tell them whom the case is about).
    if not child_ids:
        return set()
    excluded = select(IncidentExclusion.incident_id).where(IncidentExclusion.user_id == user_id)
    links = uow.session.execute(
        select(IncidentChild.child_id, IncidentChild.incident_id.in_(excluded)).where(
            IncidentChild.child_id.in_(child_ids)
        )
    )
    seen: dict[int, bool] = {}
    for child_id, is_excluded in links:
        seen[child_id] = seen.get(child_id, True) and bool(is_excluded)
    return {child_id for child_id, only_excluded in seen.items() if only_excluded}


def school_children(query: SchoolChildren, deps: Dependencies) -> list[ChildLine]:
    """The children a school knows (DSL and headteacher); the listing is logged."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        roles = uow.users.roles_in(query.actor_id, query.school_id)
        enforce(can_read_chronology(roles), f"school {query.school_id}")
        children = ChildRecords(uow.session).of_school(query.school_id, search=query.search)
        hidden = _only_in_excluded(uow, query.actor_id, [child.id for child in children])
        children = [child for child in children if child.id not in hidden]
        uow.audit.add(
            "children.listed",
            f"school:{query.school_id}",
            actor_id=query.actor_id,
            school_id=query.school_id,
            # A keyed hash, never the words: a name typed here must not outlive the child's
            # records in the audit trail (as incidents.listed does).
            new_values={
                "search_hmac": query.search_fingerprint if query.search.strip() else None,
                "count": len(children),
            },
            occurred_at=now,
        )
        uow.commit()
        return [child_line(child) for child in children]
