"""The words of notifications: the task type, the school and a link, nothing about children.

What a notification may say is fixed here, from three things only: the school's name, the
task type's name (from the process model, e.g. "Hold the initial review meeting") and the
link to the task, which asks the reader to sign in. Never answers, names, references or
anything else from the incident: an email can be forwarded, read over a shoulder or kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

TASK_READY = "task.ready"
TASK_ASSIGNED = "task.assigned"
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
    return f"/incidents/{quote(incident_id, safe='')}/tasks/{quote(task_id, safe='')}"


def task_url(base_url: str, incident_id: str, task_id: str) -> str:
    """The full link to a task's page, for emails."""
    return base_url.rstrip("/") + task_path(incident_id, task_id)


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
    body = "\n".join(
        [
            in_app,
            "",
            "Open it in Safeguard Flow (you will be asked to sign in):",
            url,
            "",
            _FOOTER,
            "",
        ]
    )
    return NoticeText(subject=subject, body=body, in_app=in_app)


def _short(name: str) -> str:
    words = " ".join(name.split())
    return words if len(words) <= _NAME_LIMIT else words[: _NAME_LIMIT - 1] + "…"
