"""Erased audit payloads and the tombstones that account for them (no IO).

Deleting an incident under retention erases the payload of each of its audit events in the
tombstone's chain (reason, old and new values, the digest's salt: nulled) and marks each with
the tombstone's id (`payload_erased_by`). The tombstone, an 'incident.deleted' event appended
just before, records how many rows it erases and the seal of them: SHA-256 over each row's id
and `erased_residual` (what stays in it, its hash included), in id order. So a walk of the
chain can tell a recorded erasure from tampering: a row marked erased must come before its
tombstone, in the same chain, for the same incident, and the rows marked with one tombstone
must be exactly the ones it sealed. Format-1 rows, whose own hash covered the payload, are
vouched for by that seal once erased.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.domain.audit_hashing import ERASED_BY_COLUMN, erased_residual, has_payload

TOMBSTONE_ACTION = "incident.deleted"
ERASED_COUNT = "audit_events_erased"
ERASED_SEAL = "audit_events_erased_seal"


class _Seal:
    """A running seal over erased rows, fed in id order."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256(b"safeguard-audit-erasure-seal-v1\n")
        self.count = 0
        self.first_id: int | None = None
        self.first_seq: int | None = None

    def add(self, columns: Mapping[str, Any]) -> None:
        if self.first_id is None:
            self.first_id, self.first_seq = columns.get("id"), columns.get("chain_seq")
        self.count += 1
        self._digest.update(f"{columns.get('id')}:{erased_residual(columns)}\n".encode())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def seal_of(rows: Iterable[Mapping[str, Any]]) -> tuple[int, str]:
    """How many rows, and their seal, as a tombstone records it (rows in id order)."""
    seal = _Seal()
    for columns in sorted(rows, key=lambda c: int(c["id"])):
        seal.add(columns)
    return seal.count, seal.hexdigest()


def erasure_values(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The tombstone's record of the rows it erases: count and seal (no personal data)."""
    count, digest = seal_of(rows)
    return {ERASED_COUNT: count, ERASED_SEAL: digest}


Problem = tuple[int | None, int | None, str]  # the row at fault (id, sequence) and why


@dataclass
class ErasureLedger:
    """Per chain walk: erased rows waiting for their tombstone, checked when it comes."""

    # tombstone id -> incident id -> the seal of the rows marked with it
    _pending: dict[int, dict[Any, _Seal]] = field(default_factory=dict)

    def problem(self, columns: Mapping[str, Any]) -> Problem | None:
        """Account for one row (after its hash checked): why an erasure is not genuine."""
        tombstone = columns.get(ERASED_BY_COLUMN)
        event_id, seq = columns.get("id"), columns.get("chain_seq")
        if tombstone is not None:
            if not isinstance(tombstone, int) or not isinstance(event_id, int):
                return event_id, seq, "it is marked erased by something that is not an event id"
            if tombstone <= event_id:
                return (
                    event_id,
                    seq,
                    f"it is marked erased by event {tombstone}, which does not come after it",
                )
            marked = self._pending.setdefault(tombstone, {})
            marked.setdefault(columns.get("incident_id"), _Seal()).add(columns)
        if not isinstance(event_id, int) or event_id not in self._pending:
            # Rows it erased that lost their mark fail their own hashes; a downgrade to 0012
            # and back leaves them unmarked, as plain format-1 rows with no payload.
            return None
        return self._check_tombstone(columns, self._pending.pop(event_id))

    def _check_tombstone(
        self, columns: Mapping[str, Any], marked: dict[Any, _Seal]
    ) -> Problem | None:
        event_id, seq = columns.get("id"), columns.get("chain_seq")
        incident = columns.get("incident_id")
        if columns.get("action") != TOMBSTONE_ACTION:
            return event_id, seq, "rows are marked erased by it but it is no incident's deletion"
        for other, seal in sorted(marked.items(), key=lambda item: item[1].first_id or 0):
            if other != incident:
                return (
                    seal.first_id,
                    seal.first_seq,
                    f"it is marked erased by event {event_id}, a deletion of another incident",
                )
        if columns.get(ERASED_BY_COLUMN) is not None or not has_payload(columns):
            return event_id, seq, "its record of an erasure has itself been erased"
        seal = marked[incident]
        if _recorded(columns) != (seal.count, seal.hexdigest()):
            return (
                event_id,
                seq,
                f"{seal.count} rows are marked erased by it, but they are not the ones it "
                "records erasing",
            )
        return None

    def unaccounted(self) -> Problem | None:
        """After the chain's last row: the first row marked erased by no tombstone seen."""
        seals = [(t, seal) for t, marked in self._pending.items() for seal in marked.values()]
        if not seals:
            return None
        tombstone, seal = min(seals, key=lambda item: item[1].first_id or 0)
        return (
            seal.first_id,
            seal.first_seq,
            f"it is marked erased by event {tombstone}, which is not a deletion later in its chain",
        )


def _recorded(columns: Mapping[str, Any]) -> tuple[int, str] | None:
    values = columns.get("new_values")
    if columns.get("action") != TOMBSTONE_ACTION or not isinstance(values, Mapping):
        return None
    count, seal = values.get(ERASED_COUNT), values.get(ERASED_SEAL)
    if not isinstance(count, int) or not isinstance(seal, str):
        return None
    return count, seal


def deleted_yet_present(incident_id: Any) -> str:
    """Why a tombstone fails when its incident exists: deletion must be final."""
    return (
        f"it records the deletion of incident {incident_id}, but that incident exists: "
        "a deleted incident was created again (its audit payloads may have been erased "
        "while it is live)"
    )
