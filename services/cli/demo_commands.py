"""`safeguard demo generate`: realistic demo incidents over a year, for charts and benchmarks."""

from __future__ import annotations

import time

import click
from sqlalchemy import select

from services.bootstrap import bootstrap
from services.cli.process import fail, load_settings, require_current_database
from services.db import SqlAlchemyUnitOfWork
from services.db.models import Membership
from services.demo import DEMO_SCHOOL_SLUG
from services.demo_bulk import bulk_copy
from services.demo_incidents import Cast, DemoGenerator

MAX_INCIDENTS = 1_000_000
CAST_ROLES = ("staff", "dsl", "headteacher")
ENGINE_SHARE = 300  # incidents made through the engine before the rest are copied


@click.group()
def demo() -> None:
    """Demo data (DEMO ONLY: never run against a database real people use)."""


@demo.command()
@click.option(
    "--incidents",
    "count",
    type=click.IntRange(1, MAX_INCIDENTS),
    required=True,
    help="How many incidents to make.",
)
@click.option(
    "--school",
    "slug",
    default=DEMO_SCHOOL_SLUG,
    show_default=True,
    help="The school's slug; it needs a staff member, a DSL and a headteacher.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=365,
    show_default=True,
    help="Spread the incidents over this many days before now.",
)
@click.option(
    "--bulk",
    is_flag=True,
    help="Only copy the school's closed incidents, with batched INSERTs (for 100k+).",
)
@click.option(
    "--engine-only",
    is_flag=True,
    help="Make every incident through the engine (about 6 a second), not only the first 300.",
)
@click.option("--seed", type=int, default=11, show_default=True, help="Random seed.")
def generate(count: int, slug: str, days: int, bulk: bool, engine_only: bool, seed: int) -> None:
    """Make incidents over a year through the engine's own commands.

    The engine path costs about 150 ms an incident, so past the first 300 the rest are
    copies of the closed ones (batched INSERTs), unless --engine-only; --bulk only copies.
    """
    settings = load_settings()
    require_current_database(settings)
    runtime = bootstrap(settings)
    by_engine = 0 if bulk else count if engine_only else min(count, ENGINE_SHARE)
    try:
        cast = _cast(runtime.unit_of_work(), slug)
        began = time.perf_counter()
        with click.progressbar(length=count, label="Making incidents", show_pos=True) as bar:
            if by_engine:
                generator = DemoGenerator(runtime.session_factory, cast, seed=seed)
                generator.generate(by_engine, days=days, progress=bar.update)
            if count > by_engine:
                bulk_copy(
                    runtime.session_factory,
                    cast.school_id,
                    cast.by_role["dsl"],
                    count - by_engine,
                    days=days,
                    seed=seed,
                    progress=bar.update,
                )
        took = time.perf_counter() - began
        click.echo(
            f"{count} incidents in {took:.1f} s ({count / took:.0f} per second; "
            f"{by_engine} through the engine, {count - by_engine} copies of closed ones)."
        )
    except LookupError as error:
        fail(f"Refused: {error}.")
    finally:
        runtime.close()


def _cast(uow: SqlAlchemyUnitOfWork, slug: str) -> Cast:
    with uow:
        school = uow.schools.get_by_slug(slug)
        if school is None:
            fail(f"Refused: no school {slug!r} (`safeguard init --demo` adds the demo one).")
        by_role: dict[str, int] = {}
        for role in CAST_ROLES:
            query = (
                select(Membership.user_id)
                .where(Membership.school_id == school.id, Membership.role == role)
                .order_by(Membership.user_id)
            )
            person = uow.session.scalar(query.limit(1))
            if person is not None:
                by_role[role] = person
        missing = [role for role in CAST_ROLES if role not in by_role]
        if missing:
            fail(f"Refused: school {slug!r} has nobody with the role(s) {', '.join(missing)}.")
        return Cast(school.id, by_role)
