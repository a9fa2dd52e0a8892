"""Tamper evidence for the audit trail: canonical content, row hashes and the chain walk (no IO).

Each audit event belongs to a chain: its school's, or the global chain for events of no
school. Rows of a chain carry a sequence number (1, 2, ...), the hash of the row before
(`prev_hash`; GENESIS_HASH for the first) and their own hash (`row_hash`): SHA-256 of
FORMAT and the canonical JSON of every other column, id, sequence and `prev_hash` included.
So changing, deleting, inserting or reordering any one row breaks the walk at that row (or
at the row after it); the chain's head (last sequence and hash, kept per chain) catches rows
removed from the end.

Canonical JSON: keys sorted, no spaces, UTF-8; columns holding NULL are left out (so a
nullable column added later leaves old rows' hashes as they were); timestamps as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC; numbers with an integral value as integers (JSONB on
PostgreSQL gives 1e+16 back as 10000000000000000). This format is fixed: rows
hashed with it must verify for ever, so a change of format needs a new FORMAT and code that
knows both.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

FORMAT = "safeguard-audit-v1"
GENESIS_HASH = "0" * 64
HASH_COLUMN = "row_hash"
GLOBAL_CHAIN = 0  # the chain key of events of no school (school ids start at 1)
_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def chain_of(school_id: int | None) -> int:
    """The chain an event belongs to: its school's id, or GLOBAL_CHAIN for no school."""
    return GLOBAL_CHAIN if school_id is None else school_id


def chain_name(chain: int) -> str:
    """How people read a chain key: "school 3" or "the global chain (no school)"."""
    return "the global chain (no school)" if chain == GLOBAL_CHAIN else f"school {chain}"


def canonical_content(columns: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a row's columns (all but row_hash; NULLs left out), as UTF-8."""
    content = {
        name: _plain(value)
        for name, value in columns.items()
        if name != HASH_COLUMN and value is not None
    }
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def row_hash(columns: Mapping[str, Any]) -> str:
    """The hash a row must carry: SHA-256 (hex) of FORMAT and its canonical content."""
    digest = hashlib.sha256(FORMAT.encode("ascii") + b"\n")
    digest.update(canonical_content(columns))
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    # JSON-ready values whose text does not depend on where the row was read from.
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime(_TIMESTAMP)
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be stored in the audit trail (not finite)")
        # Integral floats as the integer their shortest text names: JSONB keeps 1e+16 as
        # the number 10000000000000000, which reads back as an int.
        return int(Decimal(repr(value))) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} cannot be hashed in the audit trail: {value!r}")


@dataclass(frozen=True)
class ChainHead:
    """What the database records as a chain's end: its last sequence number and hash."""

    chain: int
    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class Break:
    """The first row of a chain that does not verify, and what is wrong with it."""

    chain: int
    event_id: int | None  # None when the problem is the chain's head, not a row
    seq: int | None
    problem: str

    def describe(self) -> str:
        """One line naming the row (id, school, sequence) and what is wrong."""
        where = chain_name(self.chain)
        if self.event_id is None:
            return f"{where}: {self.problem}"
        return f"row id {self.event_id} ({where}, sequence {self.seq}): {self.problem}"


class ChainWalk:
    """Checks one chain's rows, fed in order of sequence (then id), against its head."""

    def __init__(self, chain: int, head: ChainHead | None) -> None:
        self.chain = chain
        self.head = head
        self.rows = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.last_id: int | None = None
        self.broken: Break | None = None

    def step(self, columns: Mapping[str, Any]) -> Break | None:
        """Check the next row; return its Break (and stop checking this chain) if it fails."""
        if self.broken is not None:
            return self.broken
        self.rows += 1
        problem = self._problem(columns)
        event_id, seq = _int(columns.get("id")), _int(columns.get("chain_seq"))
        if problem is not None:
            self.broken = Break(self.chain, event_id, seq, problem)
            return self.broken
        self.last_seq, self.last_id = seq or 0, event_id
        self.last_hash = str(columns[HASH_COLUMN])
        return None

    def end(self) -> Break | None:
        """After the last row: the chain must end where its head says it does."""
        if self.broken is not None:
            return self.broken
        head = self.head
        if head is None:
            if self.rows:
                self.broken = Break(
                    self.chain, self.last_id, self.last_seq, "the chain's head record is missing"
                )
            return self.broken
        if head.last_seq > self.last_seq:
            missing = head.last_seq - self.last_seq
            self.broken = Break(
                self.chain,
                self.last_id,
                self.last_seq or None,
                f"the chain stops here but its head records sequence {head.last_seq}: "
                f"{missing} row{'' if missing == 1 else 's'} missing from the end (deleted?)",
            )
        elif head.last_seq < self.last_seq:
            self.broken = Break(
                self.chain,
                self.last_id,
                self.last_seq,
                f"the chain runs past its head (sequence {head.last_seq}): rows were added "
                "without being chained",
            )
        elif head.last_hash != self.last_hash:
            self.broken = Break(
                self.chain,
                self.last_id,
                self.last_seq or None,
                "the last row is not the one the chain's head records (its hash differs)",
            )
        return self.broken

    def _problem(self, columns: Mapping[str, Any]) -> str | None:
        seq, event_id = _int(columns.get("chain_seq")), _int(columns.get("id"))
        expected = self.last_seq + 1
        if seq is None or event_id is None:
            return "it has no id or no sequence number"
        if seq < expected:
            return (
                f"sequence {seq} again after {self.last_seq}: a row was inserted or the rows "
                "were reordered"
            )
        if seq > expected:
            missing = seq - expected
            return (
                f"sequence jumps from {self.last_seq} to {seq}: {missing} "
                f"row{'' if missing == 1 else 's'} missing before it (deleted?)"
            )
        if self.last_id is not None and event_id <= self.last_id:
            return f"its id comes before the previous row's ({self.last_id}): rows were reordered"
        if row_hash(columns) != columns.get(HASH_COLUMN):
            return "its content does not match its hash: the row was changed"
        if columns.get("prev_hash") != self.last_hash:
            return (
                "it does not link to the row before it (sequence "
                f"{self.last_seq}): that row was replaced, or this row's link was changed"
            )
        return None


@dataclass
class Verification:
    """The outcome of walking some chains: counts, and each broken chain's first bad row."""

    chains: int = 0
    rows: int = 0
    breaks: list[Break] = field(default_factory=list)
    heads: list[ChainHead] = field(default_factory=list)  # where each good chain ended

    @property
    def ok(self) -> bool:
        """True when every chain verified."""
        return not self.breaks

    @property
    def first_break(self) -> Break | None:
        """The first broken row found (chains in order of key), if any."""
        return self.breaks[0] if self.breaks else None


def verify_chains(
    rows: Iterable[Mapping[str, Any]], heads: Mapping[int, ChainHead]
) -> Verification:
    """Walk rows ordered by (chain, sequence, id), streaming; check every chain in `heads` too.

    A chain with a head but no rows must have an empty head; one with rows but no head is
    broken. Memory stays bounded: one row and one chain's state at a time.
    """
    result = Verification()
    walked: set[int] = set()
    for chain, chain_rows in groupby(rows, key=_chain_of_row):
        if chain in walked:
            raise ValueError(f"rows are not ordered by chain: {chain_name(chain)} seen twice")
        walked.add(chain)
        _walk(result, ChainWalk(chain, heads.get(chain)), chain_rows)
    for chain in sorted(set(heads) - walked):
        _walk(result, ChainWalk(chain, heads[chain]), iter(()))
    result.breaks.sort(key=lambda b: b.chain)
    result.heads.sort(key=lambda h: h.chain)
    return result


def _walk(result: Verification, walk: ChainWalk, rows: Iterator[Mapping[str, Any]]) -> None:
    result.chains += 1
    for columns in rows:
        if walk.step(columns) is not None:
            break
    for _ in rows:  # rows after a break: counted, not checked
        walk.rows += 1
    result.rows += walk.rows
    broken = walk.end()
    if broken is not None:
        result.breaks.append(broken)
    else:
        result.heads.append(ChainHead(walk.chain, walk.last_seq, walk.last_hash))


def _chain_of_row(columns: Mapping[str, Any]) -> int:
    return chain_of(columns.get("school_id"))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
