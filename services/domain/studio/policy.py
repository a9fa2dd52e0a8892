"""Who may do what in the studio: process admins author and approve; auditors read."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership, ProcessDraft, School
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


def draft_schools(uow: SqlAlchemyUnitOfWork, draft: ProcessDraft) -> list[int]:
    """The schools a draft is for: where its author is a process admin (their school or trust)."""
    return schools_where(uow, draft.created_by, "process_admin") if draft.created_by else []


def in_draft_scope(uow: SqlAlchemyUnitOfWork, user_id: int, draft: ProcessDraft) -> bool:
    """Whether the user is a process admin of a school the draft is for."""
    mine = set(schools_where(uow, user_id, "process_admin"))
    return bool(mine.intersection(draft_schools(uow, draft)))


def require_draft_scope(
    uow: SqlAlchemyUnitOfWork, user_id: int, draft: ProcessDraft, action: str
) -> None:
    """AccessDenied unless the user is a process admin of a school the draft is for.

    A process admin of another school (not of the author's school or trust, which would run
    the version it becomes) may not change, approve, publish or discard it.
    """
    if in_draft_scope(uow, user_id, draft):
        return
    schools = draft_schools(uow, draft)
    if not schools:
        raise AccessDenied(
            f"you may not {action} draft {draft.id}: its author is no longer a process admin "
            "of any school; start a new draft from it"
        )
    names = sorted(uow.session.scalars(select(School.name).where(School.id.in_(schools)).limit(20)))
    raise AccessDenied(
        f"you may not {action} draft {draft.id}: it is for {', '.join(names)} (where its "
        "author is a process admin), and you are a process admin of none of them"
    )
