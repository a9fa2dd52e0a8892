"""Erasable payloads without a database: format-2 digests, tombstone seals and the walk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.domain.audit_chain import ChainHead, Verification, verify_chains
from services.domain.audit_erasure import TOMBSTONE_ACTION, erasure_values
from services.domain.audit_hashing import (
    GENESIS_HASH,
    new_salt,
    payload_digest,
    row_hash,
)

WHEN = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
GONE, LIVE = "incident-gone", "incident-live"


def event(n: int, incident: str, fmt: int, **payload: Any) -> dict[str, Any]:
    """An unchained row; format 2 rows get a salt and digest, format 1 rows none."""
    row: dict[str, Any] = {
        "id": n,
        "occurred_at": WHEN + timedelta(seconds=n),
        "actor_id": 7,
        "school_id": 3,
        "incident_id": incident,
        "action": payload.pop("action", "child.added"),
        "target": f"child:{n}",
        "reason": payload.pop("reason", None),
        "old_values": None,
        "new_values": payload or None,
        "chain_seq": n,
    }
    if fmt == 2:
        row["chain_format"], row["payload_salt"] = 2, new_salt()
        row["payload_digest"] = payload_digest(row, row["payload_salt"])
    return row


def chained(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Link and hash the rows in order (each in its own format)."""
    last = GENESIS_HASH
    for row in rows:
        row["prev_hash"] = last
        row["row_hash"] = last = row_hash(row)
    return rows


def walk(rows: list[dict[str, Any]]) -> Verification:
    """Verify one school's chain against the head its last row makes."""
    return verify_chains(rows, {3: ChainHead(3, rows[-1]["chain_seq"], rows[-1]["row_hash"])})


def erase(rows: list[dict[str, Any]], incident: str, tombstone_id: int) -> None:
    """What the database function does to the incident's rows before the tombstone."""
    for row in rows:
        if row["incident_id"] == incident and row["id"] < tombstone_id:
            row.update(reason=None, old_values=None, new_values=None, payload_salt=None)
            row["payload_erased_by"] = tombstone_id


def deleted_chain(first_format: int) -> list[dict[str, Any]]:
    """Two rows of GONE (the first in `first_format`), one of LIVE, then GONE's tombstone."""
    rows = [
        event(1, GONE, first_format, name="Alex Example", reason="named by the DSL"),
        event(2, LIVE, 2, name="Sam Example"),
        event(3, GONE, 2, what_was_said="Alex Example told a teacher"),
    ]
    if first_format == 1:  # as migration 0013 left it: hash format 1, digest backfilled
        rows[0]["chain_format"], rows[0]["payload_salt"] = 1, new_salt()
        rows[0]["payload_digest"] = payload_digest(rows[0], rows[0]["payload_salt"])
    chained(rows)
    erased = [r for r in rows if r["incident_id"] == GONE]
    rows.append(
        event(4, GONE, 2, action=TOMBSTONE_ACTION, reason="reviewed", **erasure_values(erased))
    )
    chained(rows)
    erase(rows, GONE, 4)
    return rows


def test_a_format_2_hash_covers_the_payload_through_its_salted_digest() -> None:
    [row] = chained([event(1, GONE, 2, name="Alex Example")])
    assert walk([row]).ok
    assert walk([{**row, "new_values": {"name": "Someone Else"}}]).first_break is not None
    assert walk([{**row, "payload_digest": "0" * 64}]).first_break is not None
    assert walk([{**row, "payload_salt": new_salt()}]).first_break is not None
    again = {**row, "payload_salt": new_salt()}
    assert payload_digest(again, again["payload_salt"]) != row["payload_digest"]  # salted
    assert row_hash({**row, "new_values": None, "payload_salt": None}) == row["row_hash"]


def test_erased_rows_of_both_formats_verify_under_their_tombstone() -> None:
    for first_format in (1, 2):
        rows = deleted_chain(first_format)
        assert "Alex Example" not in repr(rows)
        result = walk(rows)
        assert result.ok, (first_format, result.breaks)


def test_an_erased_format_1_row_changed_breaks_the_seal() -> None:
    rows = deleted_chain(1)
    rows[0]["target"] = "child:99"
    first = walk(rows).first_break
    assert first is not None and first.event_id == 4
    assert "not the ones it records erasing" in first.problem


def test_marks_without_a_genuine_tombstone_are_found() -> None:
    rows = deleted_chain(2)
    live = rows[1]
    live.update(new_values=None, payload_salt=None, payload_erased_by=4)  # another incident's
    first = walk(rows).first_break
    assert first is not None and first.event_id == 2 and "another incident" in first.problem

    rows = deleted_chain(2)
    rows[0]["payload_erased_by"] = 99  # no such tombstone in the chain
    rows[2]["payload_erased_by"] = 99
    first = walk(rows).first_break
    assert first is not None and first.event_id == 1
    assert "not a deletion later in its chain" in first.problem

    rows = deleted_chain(2)
    rows[2]["payload_erased_by"] = 1  # a row before it
    first = walk(rows).first_break
    assert first is not None and "does not come after it" in first.problem


def test_a_payload_put_back_or_a_tombstone_erased_is_found() -> None:
    rows = deleted_chain(2)
    rows[2]["new_values"] = {"what_was_said": "nothing happened"}
    first = walk(rows).first_break
    assert first is not None and "still holds a payload" in first.problem

    rows = deleted_chain(2)
    rows[3].update(reason=None, new_values=None, payload_salt=None)
    first = walk(rows).first_break
    assert first is not None and first.event_id == 4
