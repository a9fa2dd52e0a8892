"""Helpers for the notifier tests: a real SMTP server (aiosmtpd) on a free loopback port, and a
school whose incident has a task waiting for its DSLs, with people who must not be told.

    inbox = SmtpInbox.start()            # a local SMTP server; inbox.messages() are received
    world = make_world(database)         # runtime, schools, people, one incident (S1 started)
    sender = email_sender(world, smtp)   # sends the queued emails on the world's clock

The incident's free text holds MARKER and its child is called CHILD_NAME: neither may ever
reach an email or a notification.
"""

from __future__ import annotations

import email
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pyotp
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from services.bootstrap import Runtime, bootstrap
from services.config import Settings, SmtpSettings
from services.db.models import Child, IncidentChild, Notification, OutboxMessage
from services.db.models.notifications import EmailDelivery
from services.domain.clock import FixedClock
from services.domain.commands import DeployDefinitions, ExcludePerson, StartIncident
from services.notifications import EmailQueueSender, SmtpEmailSender
from tests.integration.messaging_fixtures import Database
from tests.integration.service_fixtures import default_bundle, disclosure_data
from tests.integration.web_fixtures import password_hash_for_tests, settings_for_tests

MARKER = "Zebedee-Quill"  # free text standing for what was said: must never leave the database
CHILD_NAME = "Tamsin Ormerod-Fairweather"  # test data: a child's name
SENDER = "safeguard@school.test"
TOTP_ROLES = frozenset({"dsl", "headteacher", "admin"})


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Handler:
    """aiosmtpd's handler: keeps each message, or refuses it while `refusals` lasts."""

    received: list[Any] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)  # the client end of each message's session
    accept_first: int = 0  # messages to accept before refusing any
    refusals: int = 0  # how many messages to refuse then (-1: all)
    refusal: str = "451 4.3.0 Try again later"
    refused_recipients: dict[str, str] = field(default_factory=dict)  # address -> reply
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.peers.append(session.peer)
            for recipient in envelope.rcpt_tos:
                if recipient in self.refused_recipients:
                    return self.refused_recipients[recipient]
            if self.accept_first > 0:
                self.accept_first -= 1
            elif self.refusals:
                if self.refusals > 0:
                    self.refusals -= 1
                return self.refusal
            self.received.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SmtpInbox:
    """A real SMTP server on 127.0.0.1 (no TLS, no sign-in) and what it received."""

    controller: Controller
    handler: _Handler
    port: int

    @classmethod
    def start(cls, *, idle_timeout: float = 300) -> SmtpInbox:
        """Start a server on a free port; it ends sessions idle for `idle_timeout` seconds."""
        handler = _Handler()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, timeout=idle_timeout)
        controller.start()
        return cls(controller, handler, port)

    def stop(self) -> None:
        """Stop the server."""
        self.controller.stop()

    def refuse(
        self, count: int = -1, *, after: int = 0, reply: str = "451 4.3.0 Try again later"
    ) -> None:
        """Accept `after` messages, then refuse `count` (-1: every one) with this reply."""
        with self.handler.lock:
            self.handler.accept_first = after
            self.handler.refusals = count
            self.handler.refusal = reply

    def refuse_recipient(self, address: str, reply: str) -> None:
        """Refuse every message to this address with this reply (others go as configured)."""
        with self.handler.lock:
            self.handler.refused_recipients[address] = reply

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        """(recipients, parsed message) of everything received, in order."""
        with self.handler.lock:
            envelopes = list(self.handler.received)
        return [(list(e.rcpt_tos), _parsed(e.content)) for e in envelopes]

    def sessions(self) -> int:
        """How many SMTP sessions carried the messages (accepted or refused)."""
        with self.handler.lock:
            return len(set(self.handler.peers))

    def smtp_settings(self) -> SmtpSettings:
        """Settings that send to this server."""
        return SmtpSettings("127.0.0.1", self.port, SENDER, starttls=False, timeout_seconds=5)


def smtp_inbox() -> Iterator[SmtpInbox]:
    """A started SmtpInbox, stopped afterwards (wrap with @pytest.fixture)."""
    inbox = SmtpInbox.start()
    try:
        yield inbox
    finally:
        inbox.stop()


def unreachable_smtp() -> SmtpSettings:
    """Settings for an SMTP server that refuses connections (nothing listens on the port)."""
    return SmtpSettings("127.0.0.1", free_port(), SENDER, starttls=False, timeout_seconds=2)


@dataclass(frozen=True)
class Person:
    """Someone made for a test."""

    id: int
    email: str
    totp_secret: str | None
    name: str


@dataclass(frozen=True)
class World:
    """A school with people and one incident waiting for its DSLs; another school's DSL."""

    runtime: Runtime
    clock: FixedClock
    school_id: int
    school_name: str
    people: dict[str, Person]
    incident_id: str
    reference: str
    other_school_id: int

    def person(self, name: str) -> Person:
        """One of the people by the name the tests use."""
        return self.people[name]


def runtime_for(
    database: Database, tmp_path: Path, clock: FixedClock, **changes: object
) -> Runtime:
    """A runtime on the test database (its engine), with a fixed clock and these settings."""
    settings: Settings = settings_for_tests(database.url, tmp_path, **changes)
    return bootstrap(settings, clock=clock, engine=database.engine)


def add_person(runtime: Runtime, school_id: int, role: str, *, active: bool = True) -> Person:
    """A person holding `role` in the school (TOTP enrolled for dsl, headteacher, admin)."""
    tag = secrets.token_hex(4)
    with runtime.unit_of_work() as uow:
        user = uow.users.add(
            f"{role}-{tag}@school.test", f"{role} {tag}", password_hash_for_tests()
        )
        user.totp_secret = pyotp.random_base32(32) if role in TOTP_ROLES else None
        user.is_active = active
        uow.users.grant(user.id, school_id, role)
        uow.commit()
        return Person(user.id, user.email, user.totp_secret, user.display_name)


def make_world(database: Database, tmp_path: Path, **changes: object) -> World:
    """Deploy the default process; make the school, its people, and start an S1 incident.

    People: staff (reported it), dsl and deputy (to be told), excluded_dsl (excluded from the
    incident), inactive_dsl, head, auditor, admin, and outsider (DSL of another school).
    """
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    runtime = runtime_for(database, tmp_path, clock, **changes)
    runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    tag = secrets.token_hex(4)
    with runtime.unit_of_work() as uow:
        school = uow.schools.add(f"Oakfield {tag}", f"oakfield-{tag}")
        other = uow.schools.add(f"Elmbridge {tag}", f"elmbridge-{tag}")
        uow.commit()
        school_id, school_name, other_id = school.id, school.name, other.id
    roles = {
        "staff": "staff",
        "dsl": "dsl",
        "deputy": "dsl",
        "excluded_dsl": "dsl",
        "head": "headteacher",
        "auditor": "auditor",
        "admin": "admin",
    }
    people = {name: add_person(runtime, school_id, role) for name, role in roles.items()}
    people["inactive_dsl"] = add_person(runtime, school_id, "dsl", active=False)
    people["outsider"] = add_person(runtime, other_id, "dsl")
    outcome = runtime.bus.handle(
        StartIncident(school_id, people["staff"].id, disclosure_data(MARKER))
    )
    assert outcome.incident_id is not None
    incident_id = outcome.incident_id
    runtime.bus.handle(
        ExcludePerson(incident_id, people["dsl"].id, people["excluded_dsl"].id, "a relative")
    )
    with runtime.unit_of_work() as uow:
        child = Child(school_id=school_id, display_name=CHILD_NAME)
        uow.session.add(child)
        uow.session.flush()
        uow.session.add(IncidentChild(incident_id=incident_id, child_id=child.id, role="pictured"))
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        reference = incident.reference
        uow.commit()
    return World(runtime, clock, school_id, school_name, people, incident_id, reference, other_id)


def with_smtp(world: World, smtp: SmtpSettings | None) -> Settings:
    """The world's settings with this SMTP server (None: email off)."""
    return replace(world.runtime.settings, smtp=smtp)


def email_sender(world: World, smtp: SmtpSettings) -> EmailQueueSender:
    """The sender of queued emails over this SMTP server, on the world's clock."""
    return EmailQueueSender(SmtpEmailSender(smtp), world.runtime.uow_factory, clock=world.clock.now)


def emails(database: Database) -> list[EmailDelivery]:
    """Every queued or sent email, in the order queued (then by person)."""
    with database.uow() as uow:
        query = select(EmailDelivery).order_by(EmailDelivery.queued_at, EmailDelivery.user_id)
        return list(uow.session.scalars(query))


def ready_events(database: Database, bpmn_id: str = "initial_review") -> list[OutboxMessage]:
    """The TaskReady outbox rows of one task type."""
    with database.uow() as uow:
        rows = uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.event_type == "TaskReady")
            .order_by(OutboxMessage.id)
        )
        return [r for r in rows if r.payload.get("bpmn_id") == bpmn_id]


def notifications(database: Database) -> list[Notification]:
    """Every notification, in the order written."""
    with database.uow() as uow:
        return list(uow.session.scalars(select(Notification).order_by(Notification.id)))


def send_again(database: Database, message_id: str) -> None:
    """Make the relay publish an already sent outbox row again (a duplicate delivery)."""
    with database.uow() as uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id == message_id)
            .values(sent_at=None, last_error=None)
        )
        uow.commit()


def all_text(message: EmailMessage) -> str:
    """Every header and the body of an email, as one string."""
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return headers + "\n" + str(body.get_content())


def _parsed(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=default_policy)
    assert isinstance(message, EmailMessage)  # what the default policy makes
    return message
