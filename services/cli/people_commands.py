"""`safeguard school add` and `safeguard user invite|disable`: administration for automation.

The command line acts as the server's operator (no administrator is named in the audit trail:
actor none). Everything goes through services.domain.people, as the admin pages do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from services.bootstrap import bootstrap
from services.cli.process import fail, load_settings, require_current_database
from services.db import SqlAlchemyUnitOfWork
from services.db.models.accounts import ROLES
from services.domain import people
from services.runtime import Runtime

_T = TypeVar("_T")


@click.group()
def school() -> None:
    """Manage schools."""


@school.command("add")
@click.argument("name")
@click.option("--slug", required=True, help="Short name for links: lower-case, digits, hyphens.")
def add_school(name: str, slug: str) -> None:
    """Add a school (then invite its administrator with `safeguard user invite`)."""
    added = _in_transaction(
        lambda uow, runtime: people.add_school(
            uow, name, slug, actor_id=None, at=runtime.clock.now()
        )
    )
    click.echo(f"Added school {added.name!r} (short name {added.slug}, id {added.id}).")


@click.group()
def user() -> None:
    """Manage people."""


@user.command("invite")
@click.argument("email")
@click.option("--name", "display_name", required=True, help="The person's full name.")
@click.option("--school", "school_slug", required=True, help="The school's short name.")
@click.option("--role", type=click.Choice(ROLES), required=True, help="Their role there.")
def invite(email: str, display_name: str, school_slug: str, role: str) -> None:
    """Invite a person to a school in a role; prints the one-time link (also emailed)."""

    def make(uow: SqlAlchemyUnitOfWork, runtime: Runtime) -> str | None:
        found = uow.schools.get_by_slug(school_slug.strip().lower())
        if found is None:
            raise people.PeopleRefused("school", f"No school has the short name {school_slug!r}")
        now = runtime.clock.now()
        invited = people.invite(
            uow,
            email=email,
            display_name=display_name,
            school_id=found.id,
            role=role,
            actor_id=None,
            at=now,
        )
        if invited is None:
            return None
        link = f"{runtime.settings.base_url}/invitations/{invited.token}"
        email_on = runtime.settings.smtp is not None
        people.tell_invitee(uow, invited, found, link, email_on=email_on, at=now)
        return link

    link = _in_transaction(make)
    if link is None:
        click.echo(f"{email} already had an account: they now have the role {role} too.")
        return
    click.echo(f"Invited {email} as {role}. One-time link (valid 7 days):", err=True)
    click.echo(link)


@user.command("disable")
@click.argument("email")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
def disable(email: str, reason: str) -> None:
    """Deactivate a person: they cannot sign in; their sessions and API tokens end."""

    def deactivate(uow: SqlAlchemyUnitOfWork, runtime: Runtime) -> None:
        found = uow.users.get_by_email(email)
        if found is None:
            raise people.PeopleRefused("email", f"No user has the email address {email!r}")
        people.set_active(
            uow, found.id, False, actor_id=None, reason=reason, at=runtime.clock.now()
        )

    _in_transaction(deactivate)
    click.echo(f"Deactivated {email}.")


def _in_transaction(work: Callable[[SqlAlchemyUnitOfWork, Runtime], _T]) -> _T:
    settings = load_settings()
    require_current_database(settings)
    runtime = bootstrap(settings)
    try:
        with runtime.unit_of_work() as uow:
            result = work(uow, runtime)
            uow.commit()
        return result
    except people.PeopleRefused as refused:
        fail(f"Refused: {refused}.")
    finally:
        runtime.close()
