"""Who may do what in the studio: process admins author and approve; auditors read."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership
from services.domain.errors import AccessDenied

AUTHOR_ROLES = frozenset({"process_admin"})
READ_ROLES = frozenset({"process_admin", "auditor"})
# Roles whose lanes hold tasks: the people who act on incidents.
TASK_ROLES = frozenset({"staff", "dsl", "headteacher"})


def roles_anywhere(uow: SqlAlchemyUnitOfWork, user_id: int) -> frozenset[str]:
    """Every role the user holds in any school."""
    query = select(Membership.role).where(Membership.user_id == user_id).distinct()
    return frozenset(uow.session.scalars(query))


def schools_where(uow: SqlAlchemyUnitOfWork, user_id: int, role: str) -> list[int]:
    """The schools where the user holds this role."""
    query = select(Membership.school_id).where(
        Membership.user_id == user_id, Membership.role == role
    )
    return sorted(set(uow.session.scalars(query)))


def may_read(roles: Collection[str]) -> bool:
    """Process admins and auditors read every process, version, draft and diff."""
    return bool(READ_ROLES.intersection(roles))


def may_author(roles: Collection[str]) -> bool:
    """Only process admins change processes (an admin may hold the role too)."""
    return bool(AUTHOR_ROLES.intersection(roles))


def require_reader(uow: SqlAlchemyUnitOfWork, user_id: int) -> frozenset[str]:
    """The user's roles, or AccessDenied when they may not read the studio."""
    roles = roles_anywhere(uow, user_id)
    if not may_read(roles):
        raise AccessDenied("the process studio is for process admins and auditors")
    return roles


def require_author(uow: SqlAlchemyUnitOfWork, user_id: int) -> frozenset[str]:
    """The user's roles, or AccessDenied unless they are a process admin somewhere."""
    roles = roles_anywhere(uow, user_id)
    if not may_author(roles):
        what = "auditors read the studio but change nothing" if may_read(roles) else ""
        raise AccessDenied(
            "only a process admin may change a process" + (f": {what}" if what else "")
        )
    return roles
