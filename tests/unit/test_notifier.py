"""The notifier's pure parts: what a notification says, the email it builds, the events it reads,
how long a failing email is retried, the SMTP settings it takes, and how unrouted events are
declared and told apart. No database, no network.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email import message_from_string
from email.policy import default as default_policy

import pytest

from services.config import Settings, SettingsInvalid
from services.messaging import Delivery, MessageInvalid
from services.messaging.topology import Topology, deployment_topology, topic_matches
from services.notifications.break_glass import BREAK_GLASS_PATTERN, read_break_glass
from services.notifications.consumer import (
    TASK_ASSIGNED_PATTERN,
    TASK_READY_PATTERN,
    Notifier,
    read_notice,
)
from services.notifications.email import (
    Email,
    EmailFailed,
    FakeEmailSender,
    build_message,
    describe_smtp_error,
)
from services.notifications.email_queue import EmailRetryPolicy
from services.notifications.incident_messages import MESSAGE_PATTERN
from services.notifications.messages import (
    TASK_ASSIGNED,
    TASK_READY,
    break_glass_text,
    incident_path,
    incident_url,
    notice_text,
    task_path,
    task_url,
)
from services.notifications.operations import EXPECTED_ROUTES, school_of

URL = "https://safeguard.example.org/incidents/i-1/tasks/t-1"


def ready_delivery(**changes: object) -> Delivery:
    """A TaskReady delivery as the relay hands it over (payload as events.TaskReady makes it)."""
    payload: dict[str, object] = {
        "school_id": 3,
        "role": "dsl",
        "task_id": "t-1",
        "incident_id": "i-1",
        "bpmn_id": "initial_review",
        "candidate_groups": ["dsl"],
        "due_at": None,
    }
    payload.update(changes)
    return Delivery("m-1", "school.3.role.dsl.task.ready", "TaskReady", payload)


def test_a_ready_notice_names_the_school_the_task_type_and_the_link_only() -> None:
    text = notice_text(TASK_READY, "Demo School", "Hold the initial review meeting", URL)

    assert text.subject == "Safeguard Flow: a task awaits you (Demo School)"
    assert text.in_app == "A task awaits you at Demo School: Hold the initial review meeting."
    assert text.body.splitlines()[0] == text.in_app
    assert URL in text.body.splitlines()
    assert "sign in" in text.body and "do not forward" in text.body


def test_an_assigned_notice_says_the_task_was_given_to_the_reader() -> None:
    text = notice_text(TASK_ASSIGNED, "Demo School", "Record the viewing", URL)

    assert text.subject == "Safeguard Flow: a task was given to you (Demo School)"
    assert text.in_app == "A task at Demo School was given to you: Record the viewing."


def test_names_with_line_breaks_cannot_add_lines_or_headers_and_long_ones_are_cut() -> None:
    text = notice_text(TASK_READY, "Evil\r\nBcc: x@example.org", "T" * 400, URL)

    assert "\r" not in text.subject and "\n" not in text.subject
    assert "Evil Bcc: x@example.org" in text.subject
    assert text.in_app == f"A task awaits you at Evil Bcc: x@example.org: {'T' * 149}…."
    message = build_message(Email("dsl@school.test", text.subject, text.body), "sf@school.test")
    parsed = message_from_string(message.as_string(), policy=default_policy)
    assert parsed["Bcc"] is None
    assert parsed["To"] == "dsl@school.test"


def test_an_unknown_kind_has_no_words() -> None:
    with pytest.raises(ValueError, match=r"task\.done"):
        notice_text("task.done", "Demo School", "Anything", URL)


def test_links_point_at_the_task_page_behind_sign_in_and_quote_odd_ids() -> None:
    assert task_path("i-1", "t-1") == "/incidents/i-1/tasks/t-1"
    assert task_path("i/1", "t 1") == "/incidents/i%2F1/tasks/t%201"
    assert task_url("http://127.0.0.1:5000/", "i-1", "t-1") == (
        "http://127.0.0.1:5000/incidents/i-1/tasks/t-1"
    )


def test_the_email_is_plain_text_marked_automatic_with_a_date_and_message_id() -> None:
    message = build_message(Email("dsl@school.test", "Subject", "Body\n"), "sf@school.test")

    assert message["From"] == "sf@school.test"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] and message["Message-ID"].endswith("@school.test>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Body\n"


def test_smtp_errors_are_described_by_code_and_words_or_by_the_os_error() -> None:
    refused = smtplib.SMTPRecipientsRefused({"a@b": (550, b"no such user")})
    assert describe_smtp_error(refused) == "recipient refused (550 no such user)"
    busy = smtplib.SMTPDataError(451, b"try again\r\nlater")
    assert describe_smtp_error(busy) == "SMTPDataError 451 try again later"
    assert describe_smtp_error(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )


def test_the_fake_sender_keeps_emails_and_fails_after_as_many_as_asked() -> None:
    sender = FakeEmailSender(fail_with="server down", fail_after=1)
    sender.send(Email("a@school.test", "s", "b"))

    with pytest.raises(EmailFailed, match="server down"):
        sender.send(Email("b@school.test", "s", "b"))

    assert [e.to for e in sender.sent] == ["a@school.test"]
    assert sender.attempts == 2
    sender.close()  # nothing to release, and no error


def test_the_notifier_reads_a_ready_event_and_an_assigned_one() -> None:
    ready = read_notice(ready_delivery())
    assert (ready.kind, ready.school_id, ready.role, ready.assignee_id) == (
        TASK_READY,
        3,
        "dsl",
        None,
    )
    assert ready.candidate_groups == ("dsl",)

    assigned = read_notice(
        Delivery(
            "m-2",
            "school.3.user.9.task.assigned",
            "TaskAssigned",
            {
                "school_id": 3,
                "role": "dsl",
                "task_id": "t-1",
                "incident_id": "i-1",
                "bpmn_id": "initial_review",
                "assignee_id": 9,
            },
        )
    )
    assert (assigned.kind, assigned.assignee_id, assigned.candidate_groups) == (
        TASK_ASSIGNED,
        9,
        (),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"task_id": None},
        {"school_id": "3"},
        {"school_id": True},
        {"incident_id": ""},
        {"role": 4},
        {"candidate_groups": "dsl"},
        {"candidate_groups": [1]},
    ],
)
def test_an_event_lacking_what_the_notifier_needs_is_invalid(changes: dict[str, object]) -> None:
    with pytest.raises(MessageInvalid):
        read_notice(ready_delivery(**changes))


def test_the_notifier_binds_ready_and_assigned_tasks_and_break_glass_only() -> None:
    assert TASK_READY_PATTERN == "school.*.role.*.task.ready"
    assert TASK_ASSIGNED_PATTERN == "school.*.user.*.task.assigned"
    assert BREAK_GLASS_PATTERN == "school.*.incident.break_glass"
    assert MESSAGE_PATTERN == "school.*.incident.message"  # a new concern (issue 12)
    assert Notifier.bindings == (
        TASK_READY_PATTERN,
        TASK_ASSIGNED_PATTERN,
        BREAK_GLASS_PATTERN,
        MESSAGE_PATTERN,
    )


def test_a_break_glass_alert_names_who_when_the_school_and_the_link_but_never_a_reason() -> None:
    when = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)  # 2:05pm in London (GMT)
    url = "https://safeguard.example.org/incidents/i-1"

    text = break_glass_text("Demo School", "Pat\nJones", when, url)

    assert text.in_app == (
        "Pat Jones opened an incident at Demo School using break-glass access "
        "(outside the need to know) on 2 March 2026 at 2:05pm."
    )
    assert text.subject == (
        "Safeguard Flow: an incident was opened with break-glass access (Demo School)"
    )
    lines = text.body.splitlines()
    assert lines[0] == text.in_app and url in lines
    assert "reason they gave is in the incident's history" in text.body
    assert break_glass_text("Demo School", " ", when, url).in_app.startswith("Someone opened")
    assert incident_path("i/1") == "/incidents/i%2F1"
    assert incident_url("http://h/", "i-1") == "http://h/incidents/i-1"


def break_glass_delivery(**changes: object) -> Delivery:
    """A BreakGlassUsed delivery (payload as events.BreakGlassUsed makes it)."""
    payload: dict[str, object] = {"school_id": 3, "incident_id": "i-1", "user_id": 7}
    payload.update(changes)
    return Delivery("m-3", "school.3.incident.break_glass", "BreakGlassUsed", payload)


def test_the_notifier_reads_a_break_glass_event_and_refuses_one_lacking_its_ids() -> None:
    use = read_break_glass(break_glass_delivery())
    assert (use.school_id, use.incident_id, use.user_id) == (3, "i-1", 7)
    for changes in ({"user_id": None}, {"school_id": "3"}, {"incident_id": ""}):
        with pytest.raises(MessageInvalid):
            read_break_glass(break_glass_delivery(**changes))


def test_a_failing_email_is_retried_1_2_4_minutes_later_up_to_hourly_for_a_day() -> None:
    policy = EmailRetryPolicy()
    queued = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    now, failures, waits = queued, 0, []
    while (retry := policy.retry_at(failures + 1, queued, now)) is not None:
        waits.append(retry - now)
        now, failures = retry, failures + 1

    assert [w // timedelta(minutes=1) for w in waits[:8]] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert max(waits) == timedelta(hours=1)
    assert now == queued + timedelta(days=1)  # the last try falls on the deadline
    assert failures + 1 == 30  # tries in all: the first at once, the last on the deadline
    assert policy.retry_at(1, None, now) == now + timedelta(minutes=1)


def test_the_school_of_an_event_is_read_from_its_routing_key() -> None:
    assert school_of("school.12.role.dsl.task.ready") == 12
    assert school_of("school.1.incident.started") == 1
    assert school_of("definition.deployed") is None
    assert school_of("school.x.incident.started") is None


@pytest.mark.parametrize(
    ("routing_key", "expected_to_be_taken"),
    [
        ("school.1.role.dsl.task.ready", True),
        ("school.1.user.4.task.assigned", True),
        ("school.1.incident.break_glass", True),
        ("school.1.external.render_record_pdf", True),
        ("school.1.incident.started", False),
        ("school.1.role.dsl.task.completed", False),
        ("school.1.role.dsl.task.released", False),
        ("school.1.incident.timer.scheduled", False),
        ("definition.deployed", False),
    ],
)
def test_only_events_some_consumer_is_meant_to_take_count_as_missed_when_unrouted(
    routing_key: str, expected_to_be_taken: bool
) -> None:
    taken = any(topic_matches(pattern, routing_key) for pattern in EXPECTED_ROUTES)
    assert taken is expected_to_be_taken


def test_smtp_is_off_unless_a_host_is_set_and_then_needs_a_from_address() -> None:
    assert Settings.from_env({}).smtp is None
    with pytest.raises(SettingsInvalid, match="SAFEGUARD_SMTP_FROM"):
        Settings.from_env({"SAFEGUARD_SMTP_HOST": "mail.example.org"})

    smtp = Settings.from_env(
        {
            "SAFEGUARD_SMTP_HOST": "mail.example.org",
            "SAFEGUARD_SMTP_FROM": "safeguard@school.example.org",
            "SAFEGUARD_SMTP_USER": "sf",
            "SAFEGUARD_SMTP_PASSWORD": "s3cret-password",
        }
    ).smtp
    assert smtp is not None
    assert (smtp.port, smtp.starttls, smtp.timeout_seconds) == (587, True, 10.0)
    assert "s3cret-password" not in repr(smtp)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"SAFEGUARD_SMTP_USER": "sf"}, "both"),
        ({"SAFEGUARD_SMTP_PORT": "70000"}, "65535"),
        ({"SAFEGUARD_SMTP_STARTTLS": "maybe"}, "true or false"),
        ({"SAFEGUARD_SMTP_TIMEOUT_SECONDS": "0"}, "at least 1"),
    ],
)
def test_smtp_settings_that_cannot_work_are_refused_by_name(
    env: dict[str, str], problem: str
) -> None:
    base = {"SAFEGUARD_SMTP_HOST": "mail.example.org", "SAFEGUARD_SMTP_FROM": "sf@example.org"}
    with pytest.raises(SettingsInvalid, match=problem):
        Settings.from_env({**base, **env})


def test_the_amqp_prefix_defaults_to_safeguard_and_must_be_a_usable_name() -> None:
    assert Settings.from_env({}).amqp_prefix == "safeguard"
    assert Settings.from_env({"SAFEGUARD_AMQP_PREFIX": "school-a"}).amqp_prefix == "school-a"
    with pytest.raises(SettingsInvalid, match="SAFEGUARD_AMQP_PREFIX"):
        Settings.from_env({"SAFEGUARD_AMQP_PREFIX": "a b"})


def test_a_deployment_keeps_unrouted_events_through_an_alternate_exchange() -> None:
    topology = deployment_topology("sf")
    assert topology.events_exchange_arguments() == {"alternate-exchange": "sf.unrouted"}
    assert (topology.unrouted_exchange, topology.unrouted_queue) == ("sf.unrouted", "sf.unrouted")
    assert Topology(prefix="sf").events_exchange_arguments() == {}
