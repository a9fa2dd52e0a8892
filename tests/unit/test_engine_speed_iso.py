"""iso_data's fast paths give what the plain recursion gives."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from workflow.spiff_runtime import iso_data


def _reference(value: Any) -> Any:
    # iso_data as it was before its fast paths.
    if isinstance(value, Mapping):
        return {str(k): _reference(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, list | tuple | set):
        return [_reference(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


class Colour(StrEnum):
    RED = "red"


def test_iso_data_matches_the_plain_recursion() -> None:
    moment = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    values: list[Any] = [
        None,
        True,
        3,
        2.5,
        "text",
        Colour.RED,
        moment,
        date(2026, 1, 5),
        [1, moment, {"a": date(2026, 1, 1)}],
        (1, 2),
        {"x"},
        {1: "one", "f": len, "nested": {"when": moment, "list": [None, (moment,)]}},
        OrderedDict([("b", moment), ("a", 1)]),
        {"enum": Colour.RED, "flag": False, "none": None, "callable": print},
    ]
    for value in values:
        got, expected = iso_data(value), _reference(value)
        assert got == expected and type(got) is type(expected)
        if isinstance(got, dict):
            assert list(got) == list(expected)
