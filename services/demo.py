"""Demo data for trying Safeguard Flow out: one school and one person per role. DEMO ONLY.

Everyone shares one published password, and the TOTP secrets are printed: never seed this
into a database real people use. Seeding is idempotent: run it again and nothing is duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Incident, Membership, User
from services.web.auth import passwords, totp
from services.web.auth.signin import TOTP_ROLES

DEMO_SCHOOL_NAME = "Demo School"
DEMO_SCHOOL_SLUG = "demo-school"
DEMO_PASSWORD = "demo-only-not-secret"  # noqa: S105  # published on purpose: demo data only
DEMO_PEOPLE = (
    ("staff@demo.school", "Sam Staff", "staff"),
    ("dsl@demo.school", "Dee Lead", "dsl"),
    ("head@demo.school", "Hari Head", "headteacher"),
    ("auditor@demo.school", "Ari Auditor", "auditor"),
    ("admin@demo.school", "Ada Admin", "admin"),
    # Two process admins: changing the process needs one to author and another to approve.
    ("process@demo.school", "Pat Process", "process_admin"),
    ("process2@demo.school", "Robin Process", "process_admin"),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo person: how to sign in as them."""

    email: str
    role: str
    totp_secret: str | None


@dataclass(frozen=True)
class DemoSeed:
    """What seeding found or made."""

    accounts: tuple[DemoAccount, ...]
    created: tuple[str, ...]  # emails of the accounts made by this run
    password: str = DEMO_PASSWORD


def seed_demo(uow: SqlAlchemyUnitOfWork) -> DemoSeed:
    """Create the Demo School and its people where missing; return how to sign in as each."""
    with uow:
        school = uow.schools.get_by_slug(DEMO_SCHOOL_SLUG) or uow.schools.add(
            DEMO_SCHOOL_NAME, DEMO_SCHOOL_SLUG
        )
        accounts: list[DemoAccount] = []
        created: list[str] = []
        for email, name, role in DEMO_PEOPLE:
            user = uow.users.get_by_email(email)
            if user is None:
                user = uow.users.add(email, name, passwords.hash_password(DEMO_PASSWORD))
                created.append(email)
            if role in TOTP_ROLES and user.totp_secret is None:
                user.totp_secret = totp.new_secret()  # pre-enrolled, so the demo skips set-up
            if role not in uow.users.roles_in(user.id, school.id):
                uow.users.grant(user.id, school.id, role)
            accounts.append(DemoAccount(user.email, role, user.totp_secret))
        uow.commit()
    return DemoSeed(tuple(accounts), tuple(created))


def is_demo_user(uow: SqlAlchemyUnitOfWork, user: User) -> bool:
    """Tell whether every role the user holds is in the Demo School (and they hold one)."""
    school = uow.schools.get_by_slug(DEMO_SCHOOL_SLUG)
    if school is None:
        return False
    query = select(Membership.school_id).where(Membership.user_id == user.id).distinct()
    return set(uow.session.scalars(query)) == {school.id}


DEMO_INCIDENTS = 72  # a year of incidents for the reports' charts (about 12 s of CPU)


def seed_demo_incidents(session_factory: sessionmaker[Session], count: int = DEMO_INCIDENTS) -> int:
    """A year of made-up incidents in the Demo School, made once (none while it has any)."""
    from services.demo_incidents import Cast, DemoGenerator

    with SqlAlchemyUnitOfWork(session_factory) as uow:
        school = uow.schools.get_by_slug(DEMO_SCHOOL_SLUG)
        if school is None or count <= 0:
            return 0
        if uow.session.scalar(select(Incident.id).where(Incident.school_id == school.id).limit(1)):
            return 0
        by_role: dict[str, int] = {}
        for email, _name, role in DEMO_PEOPLE:
            user = uow.users.get_by_email(email)
            if user is not None and role in ("staff", "dsl", "headteacher"):
                by_role[role] = user.id
    generator = DemoGenerator(session_factory, Cast(school.id, by_role), finished_only=True)
    return len(generator.generate(count))
