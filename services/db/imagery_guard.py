"""The last door: no row is written with a picture or video written out as text in it.

A `before_flush` listener on every Session reads each text value of the rows a flush inserts or
changes. Pages and the API refuse such text earlier, next to its field (forms.validators,
workflow.formdata, services.web.api.parsing); this holds for any door that reads text another
way, so whatever the door, nothing is stored. JSON columns are left to those earlier checks
(every answer and body passes them), which keeps the cost to the few short strings of a row.

Columns only code writes (the audit chain's digests, uuids) are marked in the model
(services.db.column_types.computed_text): a value of the marked shape is passed without
decoding it, any other value of them is checked like the rest.
"""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import Table, event
from sqlalchemy.orm import Mapper, Session, UOWTransaction
from sqlalchemy.orm.attributes import instance_state

from services.db.column_types import IMAGERY_INFO, ComputedShape
from workflow.errors import TaskDataInvalid
from workflow.text_imagery import imagery_in_text

# What a computed value looks like. A uuid (36 characters of [0-9a-f-]) cannot carry imagery:
# it holds no "<", ":", "%", "&" or non-ASCII, and is shorter than the shortest base64 or hex
# run text_imagery decodes (tests/unit/test_imagery_guard_columns.py holds that to its limits).
# A lowercase hex digest is passed because every writer of the marked columns is code.
SHAPES: dict[ComputedShape, re.Pattern[str]] = {
    "hex": re.compile(r"[0-9a-f]{1,64}"),
    "uuid": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
}
# Per mapper: each column attribute's key, with the shape its computed values have (or None).
_Plan = tuple[tuple[str, re.Pattern[str] | None], ...]
_PLANS: dict[Mapper[Any], _Plan] = {}


class ImageryRefused(TaskDataInvalid):
    """A value about to be stored carries a picture or video; its column names the field."""

    def __init__(self, table: str, column: str, message: str) -> None:
        super().__init__(table, {column: [message]})
        self.args = (f"{column}: {message}",)


def refuse_imagery(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    """Raise ImageryRefused before a flush writes a text value that carries imagery."""
    for instance in session.new:
        state = instance_state(instance)
        values = state.dict  # what the INSERT writes, read without loading anything
        for key, shape in plan(state.mapper):
            value = values.get(key)
            if isinstance(value, str):
                _check(state.mapper, key, shape, value)
    for instance in session.dirty:
        state = instance_state(instance)
        # Only an attribute set since it was loaded (noted in committed_state) has history.
        changed = state.committed_state
        for key, shape in plan(state.mapper):
            if key not in changed:
                continue
            added = state.attrs[key].history.added
            if added and isinstance(added[0], str):
                _check(state.mapper, key, shape, added[0])


def plan(mapper: Mapper[Any]) -> _Plan:
    """The mapper's column attributes, each with its computed shape: read once per mapper."""
    found = _PLANS.get(mapper)
    if found is None:
        found = _PLANS[mapper] = tuple(
            (attribute.key, _shape(attribute.columns[0].info.get(IMAGERY_INFO)))
            for attribute in mapper.column_attrs
        )
    return found


def install() -> None:
    """Listen on every Session (idempotent)."""
    if not event.contains(Session, "before_flush", refuse_imagery):
        event.listen(Session, "before_flush", refuse_imagery)


def _shape(name: Any) -> re.Pattern[str] | None:
    if name is None:
        return None
    if name not in SHAPES:
        raise ValueError(f"unknown computed text shape {name!r}: one of {sorted(SHAPES)}")
    return SHAPES[name]


def _check(mapper: Mapper[Any], key: str, shape: re.Pattern[str] | None, value: str) -> None:
    if shape is not None and shape.fullmatch(value):
        return  # a computed value, as its column is marked (see SHAPES)
    refusal = imagery_in_text(value)
    if refusal is not None:
        raise ImageryRefused(cast(Table, mapper.local_table).name, key, refusal)
