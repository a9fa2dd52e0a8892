"""Limits every list query takes: repositories never load a whole table."""

from __future__ import annotations

MAX_PAGE_SIZE = 500


def check_page(limit: int, offset: int = 0) -> None:
    """Refuse a page size outside 1..MAX_PAGE_SIZE or a negative offset, naming the value."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit {limit} out of range: pass 1..{MAX_PAGE_SIZE}")
    if offset < 0:
        raise ValueError(f"offset {offset} is negative")
