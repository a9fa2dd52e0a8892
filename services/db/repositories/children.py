"""Children of a school, how they are involved in incidents, adults named as parties."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db.models import Child, Incident, IncidentChild, IncidentParty
from services.db.repositories.paging import check_page


def name_key(name: str) -> str:
    """A name as duplicates are compared: case and spacing ignored."""
    return " ".join(name.split()).casefold()


class ChildRecords:
    """Children (never merged-away duplicates unless asked), their links and the parties."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        school_id: int,
        name: str,
        *,
        date_of_birth: date | None,
        year_group: str | None,
        created_by: int | None,
        confirmed_at: datetime | None,
        at: datetime,
    ) -> Child:
        """Add a child to a school and return it with its id."""
        child = Child(
            school_id=school_id,
            display_name=name,
            date_of_birth=date_of_birth,
            year_group=year_group,
            created_by=created_by,
            confirmed_at=confirmed_at,
            created_at=at,
        )
        self._session.add(child)
        self._session.flush()
        return child

    def get(self, child_id: int) -> Child | None:
        """The child with this id, if any (merged ones too)."""
        return self._session.get(Child, child_id)

    def same_child(self, school_id: int, name: str, date_of_birth: date | None) -> list[Child]:
        """Active children of the school with this name (and date of birth, when known)."""
        query = select(Child).where(Child.school_id == school_id, Child.merged_into_id.is_(None))
        if date_of_birth is not None:
            query = query.where(Child.date_of_birth == date_of_birth)
        key = name_key(name)
        return [c for c in self._session.scalars(query) if name_key(c.display_name) == key]

    def of_school(self, school_id: int, *, search: str = "", limit: int = 200) -> list[Child]:
        """Active children of a school by name, optionally those whose name contains `search`."""
        check_page(limit)
        query = select(Child).where(Child.school_id == school_id, Child.merged_into_id.is_(None))
        if search.strip():
            query = query.where(func.lower(Child.display_name).contains(search.strip().lower()))
        return list(
            self._session.scalars(query.order_by(Child.display_name, Child.id).limit(limit))
        )

    def link(
        self, incident_id: str, child_id: int, role: str, *, added_by: int | None, at: datetime
    ) -> IncidentChild:
        """Record how a child is involved in an incident."""
        link = IncidentChild(
            incident_id=incident_id, child_id=child_id, role=role, added_by=added_by, added_at=at
        )
        self._session.add(link)
        return link

    def is_linked(self, incident_id: str, child_id: int, role: str) -> bool:
        """Is this child already recorded in this role in this incident?"""
        key = (incident_id, child_id, role)
        return self._session.get(IncidentChild, key) is not None

    def for_incident(self, incident_id: str) -> list[tuple[Child, IncidentChild]]:
        """The children of an incident with their links, by name."""
        query = (
            select(Child, IncidentChild)
            .join(IncidentChild, IncidentChild.child_id == Child.id)
            .where(IncidentChild.incident_id == incident_id)
            .order_by(Child.display_name, Child.id, IncidentChild.role)
        )
        return [(child, link) for child, link in self._session.execute(query)]

    def incidents_of(self, child_id: int) -> list[tuple[Incident, str]]:
        """The incidents a child is part of, oldest first, with the child's role in each."""
        query = (
            select(Incident, IncidentChild.role)
            .join(IncidentChild, IncidentChild.incident_id == Incident.id)
            .where(IncidentChild.child_id == child_id)
            .order_by(Incident.created_at, Incident.id, IncidentChild.role)
        )
        return [(incident, role) for incident, role in self._session.execute(query)]

    def children_of_incidents(self, incident_ids: list[str]) -> list[Child]:
        """Every child linked to any of these incidents (once each)."""
        if not incident_ids:
            return []
        query = (
            select(Child)
            .join(IncidentChild, IncidentChild.child_id == Child.id)
            .where(IncidentChild.incident_id.in_(incident_ids))
            .distinct()
        )
        return list(self._session.scalars(query))

    def move_links(self, from_child: int, to_child: int, at: datetime) -> int:
        """Point a duplicate's links at the child it is merged into; return how many moved."""
        moved = 0
        query = select(IncidentChild).where(IncidentChild.child_id == from_child)
        for link in list(self._session.scalars(query)):
            if not self.is_linked(link.incident_id, to_child, link.role):
                when = link.added_at or at
                self.link(link.incident_id, to_child, link.role, added_by=link.added_by, at=when)
                moved += 1
            self._session.delete(link)
        self._session.flush()
        return moved

    def add_party(
        self, incident_id: str, description: str, kind: str, *, added_by: int, at: datetime
    ) -> IncidentParty:
        """Record an adult involved in an incident (case tables only)."""
        party = IncidentParty(
            incident_id=incident_id,
            description=description,
            kind=kind,
            added_by=added_by,
            added_at=at,
        )
        self._session.add(party)
        self._session.flush()
        return party

    def parties_of(self, incident_id: str) -> list[IncidentParty]:
        """The adults named as parties of an incident, in the order they were added."""
        query = select(IncidentParty).where(IncidentParty.incident_id == incident_id)
        return list(self._session.scalars(query.order_by(IncidentParty.id)))
