"""The words of notifications: what happened, the school and a link, nothing about children.

What a notification may say is fixed here. A task notification: the school's name, the task
type's name (from the process model, e.g. "Hold the initial review meeting") and the link to
the task. A break-glass alert: the school's name, the name of the staff member who opened
the incident outside the need to know, when, and the link to the incident. Each link asks
the reader to sign in. Never answers, children's names, references or the break-glass
reason (free text that may quote a child): an email can be forwarded, read over a shoulder
or kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from forms.answers import date_time

TASK_READY = "task.ready"
TASK_ASSIGNED = "task.assigned"
BREAK_GLASS = "incident.break_glass"
_NAME_LIMIT = 150
_FOOTER = (
    "This message holds no details of the incident on purpose: they stay in Safeguard Flow, "
    "behind sign-in. Please do not forward it."
)


@dataclass(frozen=True)
class NoticeText:
    """What a person is told: the email's subject and body, and the in-app text."""

    subject: str
    body: str
    in_app: str


def task_path(incident_id: str, task_id: str) -> str:
    """The path of a task's page (behind sign-in)."""
    return f"{incident_path(incident_id)}/tasks/{quote(task_id, safe='')}"


def task_url(base_url: str, incident_id: str, task_id: str) -> str:
    """The full link to a task's page, for emails."""
    return base_url.rstrip("/") + task_path(incident_id, task_id)


def incident_path(incident_id: str) -> str:
    """The path of an incident's page (behind sign-in)."""
    return f"/incidents/{quote(incident_id, safe='')}"


def incident_url(base_url: str, incident_id: str) -> str:
    """The full link to an incident's page, for emails."""
    return base_url.rstrip("/") + incident_path(incident_id)


def notice_text(kind: str, school_name: str, task_name: str, url: str) -> NoticeText:
    """The words telling someone that a task awaits them (`kind` TASK_READY or TASK_ASSIGNED)."""
    school = _short(school_name)
    task = _short(task_name)
    if kind == TASK_ASSIGNED:
        subject = f"Safeguard Flow: a task was given to you ({school})"
        in_app = f"A task at {school} was given to you: {task}."
    elif kind == TASK_READY:
        subject = f"Safeguard Flow: a task awaits you ({school})"
        in_app = f"A task awaits you at {school}: {task}."
    else:
        raise ValueError(f"no notification text for kind {kind!r}")
    lead = "Open it in Safeguard Flow (you will be asked to sign in):"
    return NoticeText(subject=subject, body=_body(in_app, lead, url), in_app=in_app)


def break_glass_text(school_name: str, person_name: str, when: datetime, url: str) -> NoticeText:
    """The words alerting a DSL that someone opened an incident with break-glass access."""
    school = _short(school_name)
    who = _short(person_name) or "Someone"
    in_app = (
        f"{who} opened an incident at {school} using break-glass access "
        f"(outside the need to know) on {date_time(when)}."
    )
    subject = f"Safeguard Flow: an incident was opened with break-glass access ({school})"
    lead = (
        "The reason they gave is in the incident's history. "
        "Check it in Safeguard Flow (you will be asked to sign in):"
    )
    return NoticeText(subject=subject, body=_body(in_app, lead, url), in_app=in_app)


def _body(in_app: str, lead: str, url: str) -> str:
    return "\n".join([in_app, "", lead, url, "", _FOOTER, ""])


def _short(name: str) -> str:
    words = " ".join(name.split())
    return words if len(words) <= _NAME_LIMIT else words[: _NAME_LIMIT - 1] + "…"
