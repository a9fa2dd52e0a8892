"""What an audit row's hash covers, by chain format, and its payload's digest (no IO).

Format 1 (rows chained before migration 0013): SHA-256 of FORMAT and the canonical JSON of
every column (the payload included) but the ones 0013 added. Erasing such a row's payload
leaves its own hash uncheckable, so its erasure is sealed by the tombstone that did it
(services.domain.audit_erasure).

Format 2 (every row since): the hash covers a salted digest of the payload (`reason`,
`old_values`, `new_values`) instead of the payload itself, so the payload (and its salt) can
be erased and the row still verifies. The salt is random per row and erased with the payload:
the digest left behind cannot be used to test guesses of what it said (a child's name).

Canonical JSON: keys sorted, no spaces, UTF-8; columns holding NULL are left out (so a
nullable column added later leaves old rows' hashes as they were); timestamps as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC; numbers with an integral value as integers (JSONB on
PostgreSQL gives 1e+16 back as 10000000000000000). These formats are fixed: rows hashed
with them must verify for ever, so a change needs a new format and code that knows all.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

FORMAT = "safeguard-audit-v1"
FORMAT_2 = "safeguard-audit-v2"
PAYLOAD_FORMAT = "safeguard-audit-payload-v1"
ERASED_FORMAT = "safeguard-audit-erased-v1"
CURRENT_FORMAT = 2
GENESIS_HASH = "0" * 64
HASH_COLUMN = "row_hash"
FORMAT_COLUMN = "chain_format"
DIGEST_COLUMN = "payload_digest"
SALT_COLUMN = "payload_salt"
ERASED_BY_COLUMN = "payload_erased_by"
PAYLOAD_COLUMNS = ("reason", "old_values", "new_values")
# Added by migration 0013: not part of a format-1 row's hash.
ERASURE_COLUMNS = (FORMAT_COLUMN, DIGEST_COLUMN, SALT_COLUMN, ERASED_BY_COLUMN)
# Never part of a format-2 row's hash: what erasure nulls, and the mark it leaves.
_NOT_IN_FORMAT_2 = (*PAYLOAD_COLUMNS, SALT_COLUMN, ERASED_BY_COLUMN)
_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


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


def format_of(columns: Mapping[str, Any]) -> int:
    """The chain format a row was hashed with (1 when it has none: chained before 0013)."""
    value = columns.get(FORMAT_COLUMN)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def row_hash(columns: Mapping[str, Any]) -> str:
    """The hash a row must carry, in its own format (see the module's docstring)."""
    if format_of(columns) == 1:
        covered = {k: v for k, v in columns.items() if k not in ERASURE_COLUMNS}
        return _sha256(FORMAT, canonical_content(covered))
    covered = {k: v for k, v in columns.items() if k not in _NOT_IN_FORMAT_2}
    return _sha256(FORMAT_2, canonical_content(covered))


def new_salt() -> str:
    """A fresh random salt for one row's payload digest (128 bits, hex)."""
    return secrets.token_hex(16)


def payload_digest(columns: Mapping[str, Any], salt: str) -> str:
    """SHA-256 of the salt and the canonical JSON of the row's payload columns."""
    payload = {name: columns.get(name) for name in PAYLOAD_COLUMNS}
    return _sha256(PAYLOAD_FORMAT, salt.encode("ascii") + b"\n" + canonical_content(payload))


def has_payload(columns: Mapping[str, Any]) -> bool:
    """True when any payload column (or the salt) still holds something."""
    return any(columns.get(name) is not None for name in (*PAYLOAD_COLUMNS, SALT_COLUMN))


def erased_residual(columns: Mapping[str, Any]) -> str:
    """The hash of what stays in a row once its payload is erased (its own hash included)."""
    kept = {k: v for k, v in columns.items() if k not in _NOT_IN_FORMAT_2}
    return _sha256(
        ERASED_FORMAT, canonical_content(kept) + b"\n" + str(columns.get(HASH_COLUMN)).encode()
    )


def content_problem(columns: Mapping[str, Any]) -> str | None:
    """Why a row's content does not match its hash or digest (None: it does)."""
    changed = "its content does not match its hash: the row was changed"
    erased = columns.get(ERASED_BY_COLUMN) is not None
    digest, salt = columns.get(DIGEST_COLUMN), columns.get(SALT_COLUMN)
    if erased:
        if has_payload(columns):
            return "it is marked erased but still holds a payload"
        if digest is None:
            return "it is marked erased but has no payload digest"
    elif digest is not None or format_of(columns) != 1:
        if not isinstance(salt, str) or not isinstance(digest, str):
            return f"{changed} (its payload digest or salt is missing)"
        if payload_digest(columns, salt) != digest:
            return changed
    if erased and format_of(columns) == 1:
        return None  # its hash covered the payload: the tombstone's seal vouches for it
    if row_hash(columns) != columns.get(HASH_COLUMN):
        return changed
    return None


def _sha256(prefix: str, content: bytes) -> str:
    digest = hashlib.sha256(prefix.encode("ascii") + b"\n")
    digest.update(content)
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
