"""The last door: no row is written with a picture or video written out as text in it.

A `before_flush` listener on every Session reads each text value of the rows a flush inserts or
changes. Pages and the API refuse such text earlier, next to its field (forms.validators,
workflow.formdata, services.web.api.parsing); this holds for any door that reads text another
way, so whatever the door, nothing is stored. JSON columns are left to those earlier checks
(every answer and body passes them), which keeps the cost to the few short strings of a row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from workflow.errors import TaskDataInvalid
from workflow.text_imagery import imagery_in_text


class ImageryRefused(TaskDataInvalid):
    """A value about to be stored carries a picture or video; its column names the field."""

    def __init__(self, table: str, column: str, message: str) -> None:
        super().__init__(table, {column: [message]})
        self.args = (f"{column}: {message}",)


def refuse_imagery(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    """Raise ImageryRefused before a flush writes a text value that carries imagery."""
    new = set(session.new)
    for instance in (*new, *session.dirty):
        state = inspect(instance)
        for attribute in state.mapper.column_attrs:
            # Only what this flush writes, read without loading anything (state is deferred).
            if instance in new:
                value = state.dict.get(attribute.key)
            else:
                added = state.attrs[attribute.key].history.added
                value = added[0] if added else None
            if not isinstance(value, str):
                continue
            refusal = imagery_in_text(value)
            if refusal is not None:
                raise ImageryRefused(state.mapper.local_table.name, attribute.key, refusal)


def install() -> None:
    """Listen on every Session (idempotent)."""
    if not event.contains(Session, "before_flush", refuse_imagery):
        event.listen(Session, "before_flush", refuse_imagery)
