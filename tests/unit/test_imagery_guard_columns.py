"""The imagery guard's marked columns: exactly the reviewed ones, and only their computed shape.

Columns only code writes (the audit chain's digests, uuids) are marked in the models so the
last door (services.db.imagery_guard) need not decode their values; a value of another shape
is still checked in full. No IO: the guard is called on a Session that has no database.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from typing import Any, cast

import pytest
from sqlalchemy import String, Table
from sqlalchemy.orm import Session, make_transient_to_detached

from services.db import imagery_guard
from services.db.column_types import IMAGERY_INFO
from services.db.imagery_guard import SHAPES, ImageryRefused, plan, refuse_imagery
from services.db.models import AuditEvent, HumanTask, OutboxMessage
from services.db.models.base import Base
from services.domain.audit_hashing import GENESIS_HASH
from tests.unit.imagery_corpus import data_uri, png_by_hand
from workflow.text_imagery import MIN_RUN, imagery_in_text

# Reviewed: every writer of each sets it from code, never from what a person typed or a
# diagram says. Adding a column here needs the same review (see computed_text's docstring).
REVIEWED = {
    # The chain's digests and salt: services.db.audit_chaining sets them on every new event.
    ("audit_events", "prev_hash"): "hex",
    ("audit_events", "row_hash"): "hex",
    ("audit_events", "payload_digest"): "hex",
    ("audit_events", "payload_salt"): "hex",
    # uuids: a value of that shape cannot carry imagery whoever wrote it (see below).
    ("audit_events", "incident_id"): "uuid",
    ("outbox", "message_id"): "uuid",
    ("human_tasks", "id"): "uuid",
    ("human_tasks", "incident_id"): "uuid",
    ("case_answers", "incident_id"): "uuid",
    ("case_answers", "task_id"): "uuid",
    ("completed_steps", "incident_id"): "uuid",
    ("completed_steps", "task_id"): "uuid",
    ("external_tasks", "id"): "uuid",
    ("external_tasks", "incident_id"): "uuid",
}
PICTURE = data_uri(png_by_hand(), "image/png")
SVG = "<svg>"  # five characters, and refused


def marked_columns() -> dict[tuple[str, str], Any]:
    """Every column of every model that carries the imagery mark."""
    return {
        (cast(Table, mapper.local_table).name, attribute.key): attribute.columns[0].info[
            IMAGERY_INFO
        ]
        for mapper in Base.registry.mappers
        for attribute in mapper.column_attrs
        if IMAGERY_INFO in attribute.columns[0].info
    }


def test_the_marked_columns_are_exactly_the_reviewed_ones() -> None:
    assert marked_columns() == REVIEWED


def test_no_marked_column_is_wide_enough_for_words() -> None:
    # A digest or a uuid fits in 64 characters; a column for a person's words is wider.
    for (table, key), _shape in REVIEWED.items():
        mapper = next(m for m in Base.registry.mappers if cast(Table, m.local_table).name == table)
        column_type = mapper.columns[key].type
        assert isinstance(column_type, String), (table, key)
        assert column_type.length is not None and column_type.length <= 64, (table, key)


def test_a_uuid_can_never_carry_imagery() -> None:
    # The proof SHAPES relies on: 36 characters of [0-9a-f-] hold no "<", ":", "%", "&" or
    # non-ASCII, so only a base64 or hex run could be read, and both are too short.
    assert MIN_RUN > 36 and 2 * MIN_RUN > 36
    samples = [str(uuid.uuid4()) for _ in range(2000)]
    samples += [str(uuid.UUID(int=0)), str(uuid.UUID(int=2**128 - 1))]
    for sample in samples:
        assert SHAPES["uuid"].fullmatch(sample)
        assert imagery_in_text(sample) is None


def test_digests_are_plain_text_to_the_full_check_too() -> None:
    # The hex shape is passed because code writes it; the full check agrees on real digests.
    assert 2 * MIN_RUN > 64  # a hex run is read from 96 digits: a 64-digit digest is never one
    samples = [hashlib.sha256(secrets.token_bytes(16)).hexdigest() for _ in range(2000)]
    samples += [secrets.token_hex(16) for _ in range(500)]
    samples += [GENESIS_HASH, "f" * 64]
    for sample in samples:
        assert SHAPES["hex"].fullmatch(sample)
        assert imagery_in_text(sample) is None


def test_the_shapes_are_strict() -> None:
    assert not SHAPES["hex"].fullmatch("F" * 64)  # digests are written lowercase
    assert not SHAPES["hex"].fullmatch("0" * 65)
    assert not SHAPES["hex"].fullmatch("")
    assert not SHAPES["uuid"].fullmatch(str(uuid.uuid4()).upper())
    assert not SHAPES["uuid"].fullmatch(str(uuid.uuid4()) + "\n")
    assert not SHAPES["uuid"].fullmatch(uuid.uuid4().hex)


def test_the_plan_holds_every_column_attribute_once() -> None:
    for mapper in Base.registry.mappers:
        keys = [key for key, _shape in plan(mapper)]
        assert keys == [attribute.key for attribute in mapper.column_attrs]
        assert plan(mapper) is plan(mapper)  # built once


def test_an_unknown_shape_is_refused_when_read() -> None:
    with pytest.raises(ValueError, match="unknown computed text shape"):
        imagery_guard._shape("computed")


def flush_check(*instances: Any) -> None:
    """Run the guard as a flush of these new rows would."""
    session = Session()
    session.add_all(instances)
    refuse_imagery(session, None, None)  # type: ignore[arg-type]


def human_task(**values: Any) -> HumanTask:
    """A ready task with uuids where the engine puts them."""
    defaults: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "incident_id": str(uuid.uuid4()),
        "school_id": 1,
        "bpmn_id": "initial_review",
        "name": "Initial review",
        "role": "dsl",
        "state": "ready",
    }
    return HumanTask(**{**defaults, **values})


def refused_column(*instances: Any) -> str:
    """The column the guard names when it refuses these new rows."""
    with pytest.raises(ImageryRefused) as refused:
        flush_check(*instances)
    return next(iter(refused.value.errors))


def test_computed_values_pass() -> None:
    event = AuditEvent(
        action="task.completed",
        target="task:1",
        incident_id=str(uuid.uuid4()),
        prev_hash=GENESIS_HASH,
        row_hash=hashlib.sha256(b"row").hexdigest(),
        payload_digest=hashlib.sha256(b"payload").hexdigest(),
        payload_salt=secrets.token_hex(16),
    )
    message = OutboxMessage(
        message_id=str(uuid.uuid4()), routing_key="task.ready", event_type="TaskReady", payload={}
    )
    flush_check(human_task(), event, message)


@pytest.mark.parametrize("payload", [PICTURE, SVG])
def test_a_checked_column_is_still_refused(payload: str) -> None:
    assert refused_column(human_task(name=payload)) == "name"
    assert refused_column(AuditEvent(action="x", target=payload)) == "target"


@pytest.mark.parametrize(
    "payload", [PICTURE, SVG, png_by_hand().hex(), base64.b16encode(png_by_hand()).decode()]
)
@pytest.mark.parametrize(
    "column", ["prev_hash", "row_hash", "payload_digest", "payload_salt", "incident_id"]
)
def test_a_marked_column_is_checked_when_its_value_is_not_computed(
    column: str, payload: str
) -> None:
    event = AuditEvent(action="x", target="y", **{column: payload})
    assert refused_column(event) == column


@pytest.mark.parametrize("column", ["id", "incident_id"])
def test_a_task_id_that_is_not_a_uuid_is_checked(column: str) -> None:
    assert refused_column(human_task(**{column: SVG})) == column


def test_a_changed_row_is_checked_for_what_changed() -> None:
    task = human_task()
    make_transient_to_detached(task)  # as if loaded: the session holds it as persistent
    session = Session()
    session.add(task)
    task.state = "completed"
    refuse_imagery(session, None, None)  # type: ignore[arg-type]
    task.name = PICTURE
    with pytest.raises(ImageryRefused) as refused:
        refuse_imagery(session, None, None)  # type: ignore[arg-type]
    assert list(refused.value.errors) == ["name"]
    task.name = "Initial review"
    task.incident_id = SVG  # marked, and not a uuid
    with pytest.raises(ImageryRefused) as refused:
        refuse_imagery(session, None, None)  # type: ignore[arg-type]
    assert list(refused.value.errors) == ["incident_id"]
