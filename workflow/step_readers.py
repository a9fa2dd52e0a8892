"""Who may read a user task's answers, as the BPMN declares it: its readers and needs properties.

A user task may carry, in its `camunda:properties`:

- `readers`: the roles that read its answers, comma-separated (e.g. "dsl,headteacher,auditor").
  Only roles that may read records at all are allowed, and the DSL and auditors always must;
  without the property the step is read by READ_BY_DEFAULT.
- `needs`: earlier user tasks (comma-separated ids) whose answers the person doing this task
  may read while it waits for them, besides the report the incident began with.

This module only parses and checks the text; services/domain/step_access.py applies it.
"""

from __future__ import annotations

from collections.abc import Iterable

READERS_PROPERTY = "readers"
NEEDS_PROPERTY = "needs"

# Every role a person may hold in a school (services/db/models/accounts.ROLES must match).
ROLES = ("staff", "dsl", "headteacher", "auditor", "admin", "process_admin")
# Roles a step may name as readers. Admins and process administrators run the system and the
# process; they never read children's records by that role (break-glass is the way, logged).
READER_ROLES = ("staff", "dsl", "headteacher", "auditor")
# Roles every declared readers list must hold: the DSL owns every decision, auditors check them.
ALWAYS_READERS = ("dsl", "auditor")
# Who reads a step that declares no readers (deputy DSLs hold the 'dsl' role).
READ_BY_DEFAULT = ("dsl", "headteacher", "auditor")


class ReadersProblem(ValueError):
    """A 'readers' or 'needs' property that cannot be applied."""


def role_list(value: str | None) -> tuple[str, ...] | None:
    """A 'readers' value as role ids (None when absent); ReadersProblem names what is wrong."""
    if value is None:
        return None
    roles = _items(value)
    if not roles:
        raise ReadersProblem(
            f"property {READERS_PROPERTY!r} is empty: list the roles that read this step's "
            f"answers, e.g. '{','.join(READ_BY_DEFAULT)}', or remove it for that default"
        )
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ReadersProblem(
            f"property {READERS_PROPERTY!r} names unknown role(s) {', '.join(map(repr, unknown))}: "
            f"use roles from {', '.join(READER_ROLES)}"
        )
    barred = [role for role in roles if role not in READER_ROLES]
    if barred:
        raise ReadersProblem(
            f"property {READERS_PROPERTY!r} names {', '.join(map(repr, barred))}: administrators "
            "and process administrators never read records by their role; use roles from "
            f"{', '.join(READER_ROLES)}"
        )
    missing = [role for role in ALWAYS_READERS if role not in roles]
    if missing:
        raise ReadersProblem(
            f"property {READERS_PROPERTY!r} leaves out {', '.join(map(repr, missing))}: the DSL "
            "and auditors read every step; add them"
        )
    return roles


def task_list(value: str | None, known: Iterable[str] | None = None) -> tuple[str, ...]:
    """A 'needs' value as task ids (() when absent); unknown ids are a ReadersProblem."""
    if value is None:
        return ()
    ids = _items(value)
    if known is not None:
        names = set(known)
        unknown = [task_id for task_id in ids if task_id not in names]
        if unknown:
            raise ReadersProblem(
                f"property {NEEDS_PROPERTY!r} names {', '.join(map(repr, unknown))}, which is "
                "not a user task of this process: list the ids of earlier user tasks"
            )
    return ids


def _items(value: str) -> tuple[str, ...]:
    found = [item.strip() for item in value.split(",")]
    return tuple(dict.fromkeys(item for item in found if item))
