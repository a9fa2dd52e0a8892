"""Tamper evidence for the audit trail: the chain walk (no IO).

Each audit event belongs to a chain: its school's, or the global chain for events of no
school. Rows of a chain carry a sequence number (1, 2, ...), the hash of the row before
(`prev_hash`; GENESIS_HASH for the first) and their own hash (`row_hash`, in the row's chain
format: services.domain.audit_hashing), id, sequence and `prev_hash` included. So changing,
deleting, inserting or reordering any one row breaks the walk at that row (or at the row
after it); the chain's head (last sequence and hash, kept per chain) catches rows removed
from the end. A payload erased under retention is accepted only as its tombstone records it
(services.domain.audit_erasure).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from services.domain.audit_erasure import ErasureLedger
from services.domain.audit_hashing import FORMAT as FORMAT  # re-exported
from services.domain.audit_hashing import GENESIS_HASH as GENESIS_HASH
from services.domain.audit_hashing import HASH_COLUMN, content_problem
from services.domain.audit_hashing import canonical_content as canonical_content
from services.domain.audit_hashing import row_hash as row_hash

GLOBAL_CHAIN = 0  # the chain key of events of no school (school ids start at 1)


def chain_of(school_id: int | None) -> int:
    """The chain an event belongs to: its school's id, or GLOBAL_CHAIN for no school."""
    return GLOBAL_CHAIN if school_id is None else school_id


def chain_name(chain: int) -> str:
    """How people read a chain key: "school 3" or "the global chain (no school)"."""
    return "the global chain (no school)" if chain == GLOBAL_CHAIN else f"school {chain}"


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
        self.erased = 0  # rows whose payload was erased under retention
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.last_id: int | None = None
        self.broken: Break | None = None
        self.erasures = ErasureLedger()

    def step(self, columns: Mapping[str, Any]) -> Break | None:
        """Check the next row; return its Break (and stop checking this chain) if it fails."""
        if self.broken is not None:
            return self.broken
        self.rows += 1
        if columns.get("payload_erased_by") is not None:
            self.erased += 1
        problem = self._problem(columns)
        event_id, seq = _int(columns.get("id")), _int(columns.get("chain_seq"))
        if problem is not None:
            self.broken = Break(self.chain, event_id, seq, problem)
            return self.broken
        erasure = self.erasures.problem(columns)
        if erasure is not None:  # possibly an earlier row's: the one marked wrongly
            self.broken = Break(self.chain, _int(erasure[0]), _int(erasure[1]), erasure[2])
            return self.broken
        self.last_seq, self.last_id = seq or 0, event_id
        self.last_hash = str(columns[HASH_COLUMN])
        return None

    def end(self) -> Break | None:
        """After the last row: the chain must end where its head says it does."""
        if self.broken is not None:
            return self.broken
        unaccounted = self.erasures.unaccounted()
        if unaccounted is not None:
            event_id, seq, problem = unaccounted
            self.broken = Break(self.chain, event_id, seq, problem)
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
        changed = content_problem(columns)
        if changed is not None:
            return changed
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
    erased: int = 0  # rows checked whose payload was erased under retention
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
    result.erased += walk.erased
    broken = walk.end()
    if broken is not None:
        result.breaks.append(broken)
    else:
        result.heads.append(ChainHead(walk.chain, walk.last_seq, walk.last_hash))


def _chain_of_row(columns: Mapping[str, Any]) -> int:
    return chain_of(columns.get("school_id"))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
