"""Column types shared by the models: aware UTC timestamps, JSON, big integer keys, and the
mark of text columns the code computes (which the imagery guard may pass on their shape)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def utcnow() -> datetime:
    """Return the current moment as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that must be aware going in and always comes out as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; normalise to UTC (naive UTC text on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: the database stores aware UTC "
                "timestamps only (use datetime.now(UTC))"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite keeps text: one fixed UTC format means text order is time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC whatever the backend handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type(*, nullable: bool = False) -> TypeEngine[Any]:
    """JSON everywhere, JSONB on PostgreSQL; a nullable column stores None as SQL NULL."""
    return JSON(none_as_null=nullable).with_variant(JSONB(none_as_null=nullable), "postgresql")


def big_id_type() -> TypeEngine[int]:
    """A BIGINT key that still autoincrements on SQLite (only INTEGER PRIMARY KEY does there)."""
    return BigInteger().with_variant(Integer(), "sqlite")


IMAGERY_INFO = "imagery"  # Column.info key: how services.db.imagery_guard reads the column
ComputedShape = Literal["hex", "uuid"]


def computed_text(shape: ComputedShape) -> dict[str, str]:
    """Column info for text only code writes (a digest, a uuid): no person's words, ever.

    The imagery guard then passes a value of exactly that shape without decoding it; any
    other value of the column is checked in full. Never mark a column a person can fill.
    """
    return {IMAGERY_INFO: shape}
