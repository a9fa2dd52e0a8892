"""What chaining an append costs in SQL, and that the one-statement claim of a head keeps the
chain whole: one chain per flush (the claim), several (the ordered locks), a chain's first event.
"""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from services.db import SqlAlchemyUnitOfWork
from services.db.models import AuditChainHead
from services.domain.audit_chain import row_hash
from services.domain.reports import projection
from tests.integration.sql_statements import statements
from tests.integration.test_audit_tamper import (  # noqa: F401  # fixtures, found by name
    append,
    chain_db,
    factory,
    new_school,
    rows_of,
    verify,
)


@contextmanager
def chain_statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the statements on the chain heads (and the id look-ups) inside the block."""
    chain: list[str] = []
    with statements(engine) as seen:
        yield chain
    chain.extend(s for s in seen if "audit_chain_heads" in s or "nextval" in s)


def head(factory: sessionmaker[Session], chain: int) -> tuple[int, str]:
    """A chain's head as stored: (last sequence, last hash)."""
    with SqlAlchemyUnitOfWork(factory) as uow:
        row = uow.session.scalars(select(AuditChainHead).where(AuditChainHead.chain == chain)).one()
        return row.last_seq, row.last_hash


def assert_whole(engine: Engine, factory: sessionmaker[Session], school: int, count: int) -> None:
    """The school's chain holds `count` linked rows, ids growing, its head on the last one."""
    rows = rows_of(engine, school)
    assert [r["chain_seq"] for r in rows] == list(range(1, count + 1))
    assert all(b["prev_hash"] == a["row_hash"] for a, b in pairwise(rows))
    assert all(r["row_hash"] == row_hash(r) for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert head(factory, school) == (count, rows[-1]["row_hash"])
    result = verify(factory, school)
    assert result.ok and result.rows == count, result.breaks


def test_a_flush_of_one_chain_claims_its_head_in_one_statement_and_moves_it_in_another(
    factory: sessionmaker[Session], chain_db: Engine
) -> None:
    school = new_school(factory)
    with chain_statements(chain_db) as first:
        append(factory, school, 3, per_commit=3)  # the chain's first events: no head yet
    with chain_statements(chain_db) as later:
        append(factory, school, 4, per_commit=4)
    assert [s.split()[0] for s in later] == ["UPDATE", "UPDATE"], later
    assert "RETURNING" in later[0], later
    # The first flush finds no head, creates it, then claims it.
    assert [s.split()[0] for s in first] == ["UPDATE", "INSERT", "UPDATE", "UPDATE"], first
    assert_whole(chain_db, factory, school, 7)


def test_a_flush_of_several_chains_locks_them_in_order_and_chains_each(
    factory: sessionmaker[Session], chain_db: Engine
) -> None:
    school, other = new_school(factory), new_school(factory)
    append(factory, school, 2)
    for round_ in range(3):
        with SqlAlchemyUnitOfWork(factory) as uow:
            for school_id in (other, school, other):
                uow.audit.add("task.completed", f"task:{round_}", actor_id=7, school_id=school_id)
            uow.commit()
    assert_whole(chain_db, factory, school, 5)
    assert_whole(chain_db, factory, other, 6)


def append_with_a_change(
    factory: sessionmaker[Session], school: int, own: int, rounds: int
) -> None:
    """Each commit renames the school `own` and appends two events to `school`'s chain."""
    for round_ in range(rounds):
        with SqlAlchemyUnitOfWork(factory) as uow:
            renamed = uow.schools.get(own)
            assert renamed is not None
            renamed.name = f"Renamed {own} {round_}"
            for n in range(2):
                uow.audit.add("task.completed", f"task:{round_}.{n}", actor_id=7, school_id=school)
            uow.commit()


def test_a_commit_writes_everything_else_before_it_claims_the_chains_head(
    factory: sessionmaker[Session], chain_db: Engine
) -> None:
    projection.install()  # as the bus does: its before-commit step holds the events back
    school, own = new_school(factory), new_school(factory)
    append(factory, school, 1)
    with statements(chain_db) as seen:
        append_with_a_change(factory, school, own, 1)
    writes = [s for s in seen if s.split()[0] in ("INSERT", "UPDATE")]
    # The head stays locked from its claim to the commit: only the events (and the report
    # rows of incidents they name: none here) are written inside.
    assert writes[0].split()[:2] == ["UPDATE", "schools"], writes
    claim = next(i for i, s in enumerate(writes) if "audit_chain_heads" in s)
    inside = ("audit_chain_heads", "audit_events", "incident_report_rows")
    assert all(any(table in s for table in inside) for s in writes[claim:]), writes
    assert_whole(chain_db, factory, school, 3)


def test_commits_held_back_for_their_other_writes_never_fork_the_chain(
    factory: sessionmaker[Session], chain_db: Engine
) -> None:
    projection.install()
    school = new_school(factory)
    owns = [new_school(factory) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(owns))

    def writer(own: int) -> None:
        try:
            start.wait()
            append_with_a_change(factory, school, own, 6)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(own,)) for own in owns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert_whole(chain_db, factory, school, 48)
