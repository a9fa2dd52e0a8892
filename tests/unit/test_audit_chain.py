"""The audit trail's hash chain without a database: canonical content, hashes and the walk."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from services.domain.audit_chain import (
    GENESIS_HASH,
    GLOBAL_CHAIN,
    ChainHead,
    canonical_content,
    row_hash,
    verify_chains,
)

WHEN = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)


def chain(school_id: int | None, count: int, first_id: int = 1) -> list[dict[str, Any]]:
    """A well-formed chain of `count` rows for one school (None: the global chain)."""
    rows: list[dict[str, Any]] = []
    last = GENESIS_HASH
    for n in range(count):
        row: dict[str, Any] = {
            "id": first_id + n,
            "occurred_at": WHEN + timedelta(seconds=n),
            "actor_id": 7,
            "school_id": school_id,
            "incident_id": "0b7c5e1e-0000-4000-8000-000000000001",
            "action": "task.completed",
            "target": f"task:{n}",
            "reason": None,
            "old_values": None,
            "new_values": {"n": n, "answer": "yes"},
            "chain_seq": n + 1,
            "prev_hash": last,
        }
        row["row_hash"] = last = row_hash(row)
        rows.append(row)
    return rows


def head_of(rows: list[dict[str, Any]], key: int) -> ChainHead:
    """The head a database would hold for these rows."""
    return ChainHead(key, rows[-1]["chain_seq"], rows[-1]["row_hash"])


# --- canonical content ----------------------------------------------------------------------


def test_canonical_content_is_sorted_compact_utf8_and_leaves_out_nulls_and_the_hash() -> None:
    content = canonical_content(
        {"b": "é", "a": 1, "reason": None, "row_hash": "x", "v": {"z": [1, 2], "y": None}}
    )
    assert content == '{"a":1,"b":"é","v":{"y":null,"z":[1,2]}}'.encode()


def test_the_same_moment_and_values_hash_the_same_however_they_were_read() -> None:
    as_written = {"occurred_at": WHEN, "new_values": {"n": 1.0, "t": (1, 2)}, "id": 3}
    bst = timezone(timedelta(hours=1))
    as_read = {"id": 3, "new_values": {"t": [1, 2], "n": 1}, "occurred_at": WHEN.astimezone(bst)}
    naive_utc = {**as_read, "occurred_at": WHEN.replace(tzinfo=None)}  # SQLite text, read back
    assert row_hash(as_written) == row_hash(as_read) == row_hash(naive_utc)
    assert b'"occurred_at":"2026-12-03T09:30:15.123456Z"' in canonical_content(as_written)


def test_numbers_hash_as_postgresql_jsonb_gives_them_back() -> None:
    for written, read in [(1.0, 1), (1e16, 10**16), (1e100, 10**100), (-0.0, 0), (0.5, 0.5)]:
        assert row_hash({"v": {"x": written}}) == row_hash({"v": {"x": read}}), written
    assert row_hash({"v": {"x": 1}}) != row_hash({"v": {"x": 1.5}})


def test_any_change_of_any_column_changes_the_hash() -> None:
    [row] = chain(3, 1)
    original = row_hash(row)
    for name, value in [
        ("id", 2),
        ("occurred_at", WHEN + timedelta(microseconds=1)),
        ("actor_id", 8),
        ("school_id", 4),
        ("action", "task.cancelled"),
        ("target", "task:9"),
        ("reason", "because"),
        ("old_values", {}),
        ("new_values", {"n": 0, "answer": "no"}),
        ("chain_seq", 2),
        ("prev_hash", "1" * 64),
        ("added_later", "a value"),
    ]:
        assert row_hash({**row, name: value}) != original, name
    assert row_hash({**row, "added_later": None}) == original  # a new nullable column


def test_values_that_cannot_be_stored_are_refused() -> None:
    with pytest.raises(ValueError, match="not finite"):
        canonical_content({"new_values": {"x": float("nan")}})
    with pytest.raises(TypeError, match="bytes cannot be hashed"):
        canonical_content({"new_values": {"x": b"raw"}})


# --- the walk -------------------------------------------------------------------------------


def test_well_formed_chains_verify_and_report_their_heads() -> None:
    school, other, no_school = chain(3, 4), chain(5, 2, first_id=5), chain(None, 3, first_id=7)
    heads = {3: head_of(school, 3), 5: head_of(other, 5), 0: head_of(no_school, 0)}
    result = verify_chains([*no_school, *school, *other], heads)
    assert result.ok and result.first_break is None
    assert (result.chains, result.rows) == (3, 9)
    assert [(h.chain, h.last_seq) for h in result.heads] == [(GLOBAL_CHAIN, 3), (3, 4), (5, 2)]


def test_a_changed_row_is_named_with_its_id_school_and_sequence() -> None:
    rows = chain(3, 5)
    rows[2]["reason"] = "rewritten"
    result = verify_chains(rows, {3: head_of(rows, 3)})
    assert not result.ok
    first = result.first_break
    assert first is not None and (first.chain, first.event_id, first.seq) == (3, 3, 3)
    assert first.describe() == (
        "row id 3 (school 3, sequence 3): its content does not match its hash: the row was changed"
    )


def test_a_changed_row_with_its_hash_recomputed_breaks_the_next_link() -> None:
    rows = chain(3, 5)
    rows[2]["reason"] = "rewritten"
    rows[2]["row_hash"] = row_hash(rows[2])
    first = verify_chains(rows, {3: head_of(chain(3, 5), 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (4, 4)
    assert "does not link to the row before it (sequence 3)" in first.problem


def test_a_deleted_row_is_found_at_the_gap() -> None:
    rows = chain(3, 5)
    del rows[1]
    first = verify_chains(rows, {3: head_of(rows, 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (3, 3)
    assert "sequence jumps from 1 to 3: 1 row missing before it" in first.problem


def test_rows_deleted_from_the_end_are_found_by_the_head() -> None:
    rows = chain(3, 5)
    head = head_of(rows, 3)
    first = verify_chains(rows[:3], {3: head}).first_break
    assert first is not None and (first.event_id, first.seq) == (3, 3)
    assert "its head records sequence 5: 2 rows missing from the end" in first.problem
    everything = verify_chains([], {3: head}).first_break
    assert everything is not None and "5 rows missing" in everything.problem


def test_an_inserted_row_is_found() -> None:
    rows = chain(3, 5)
    forged = {**rows[2], "id": 99, "reason": "forged"}
    forged["row_hash"] = row_hash(forged)
    first = verify_chains([*rows[:3], forged, *rows[3:]], {3: head_of(rows, 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (99, 3)
    assert "sequence 3 again after 3" in first.problem


def test_a_row_added_past_the_head_is_found() -> None:
    rows = chain(3, 6)
    first = verify_chains(rows, {3: head_of(rows[:5], 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (6, 6)
    assert "runs past its head (sequence 5)" in first.problem


def test_reordered_rows_are_found() -> None:
    rows = chain(3, 5)
    swapped = [rows[0], rows[2], rows[1], *rows[3:]]
    swapped_seqs = [{**rows[0]}, {**rows[2], "chain_seq": 2}, {**rows[1], "chain_seq": 3}]
    first = verify_chains(swapped, {3: head_of(rows, 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (3, 3)
    assert "sequence jumps from 1 to 3" in first.problem
    first = verify_chains([*swapped_seqs, *rows[3:]], {3: head_of(rows, 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (3, 2)
    assert "content does not match its hash" in first.problem
    ids_swapped = [rows[0], {**rows[1], "id": 3}, {**rows[2], "id": 2}, *rows[3:]]
    first = verify_chains(ids_swapped, {3: head_of(rows, 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (3, 2)
    # Even re-hashed and re-linked, ids must grow along the chain (pages order by id).
    relinked = rechained(ids_swapped)
    first = verify_chains(relinked, {3: head_of(relinked, 3)}).first_break
    assert first is not None and (first.event_id, first.seq) == (2, 3)
    assert "its id comes before the previous row's (3): rows were reordered" in first.problem


def rechained(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with links and hashes recomputed in order, as a thorough forger would."""
    last, out = GENESIS_HASH, []
    for row in rows:
        row = {**row, "prev_hash": last}
        row["row_hash"] = last = row_hash(row)
        out.append(row)
    return out


def test_a_missing_head_and_one_broken_chain_among_good_ones() -> None:
    good, bad = chain(3, 2), chain(4, 3, first_id=3)
    bad[0]["action"] = "x"
    result = verify_chains([*good, *bad, *chain(5, 1, first_id=6)], {3: head_of(good, 3)})
    assert [(b.chain, b.event_id) for b in result.breaks] == [(4, 3), (5, 6)]
    assert result.breaks[1].problem == "the chain's head record is missing"
    assert result.rows == 6 and [h.chain for h in result.heads] == [3]


def test_rows_out_of_chain_order_are_a_programming_error() -> None:
    a, b = chain(3, 1), chain(4, 1, first_id=2)
    with pytest.raises(ValueError, match="school 3 seen twice"):
        verify_chains([*a, *b, *chain(3, 1, first_id=3)], {})


def test_the_walk_streams_in_bounded_memory() -> None:
    count = 20_000

    def rows() -> Iterator[dict[str, Any]]:
        last = GENESIS_HASH
        for n in range(count):
            row = {"id": n + 1, "school_id": 3, "action": "a", "chain_seq": n + 1}
            row["prev_hash"] = last
            row["row_hash"] = last = row_hash(row)
            yield row

    final = list(rows())[-1]
    tracemalloc.start()
    try:
        result = verify_chains(rows(), {3: ChainHead(3, count, final["row_hash"])})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.rows == count
    assert peak < 1_000_000  # a list of the rows alone would take several MB
