"""Sending notification emails: the EmailSender port, its SMTP adapter, and a fake for tests.

The email sender (services.notifications.email_queue) hands each queued email to `send`; one
that could not be handed to the server raises EmailFailed, and the queue tries it again
later. Emails carry what services.notifications.messages allows, never details of children.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from services.config import SmtpSettings

logger = logging.getLogger(__name__)


class EmailFailed(Exception):
    """An email could not be handed to the SMTP server (refused, unreachable, timed out)."""


@dataclass(frozen=True)
class Email:
    """One email to one person."""

    to: str
    subject: str
    body: str


class EmailSender(Protocol):
    """Hands emails to a mail server."""

    def send(self, email: Email) -> None:
        """Send one email; raise EmailFailed if the server did not accept it."""
        ...

    def close(self) -> None:
        """Release what the sender keeps open between emails (an SMTP session)."""
        ...


class SmtpEmailSender:
    """Sends emails over SMTP: STARTTLS and sign-in as configured, one session kept for a while.

    Every step waits at most `timeout_seconds`. STARTTLS checks the server's certificate
    against the system's trust store (or `ssl_context`, for a private CA). The session stays
    open for the next email if that comes within `reuse_seconds` (the recipients of one
    event go out over one session); a kept session the server has closed meanwhile is
    replaced once, and any failure drops the session.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reuse_seconds: float = 10.0,
    ) -> None:
        self._settings = settings
        self._ssl_context = ssl_context
        self._reuse_seconds = reuse_seconds
        self._lock = threading.Lock()
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def send(self, email: Email) -> None:
        """Send one email; EmailFailed says which server refused it and how."""
        message = build_message(email, self._settings.sender)
        with self._lock:
            try:
                self._send_on_session(message)
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise EmailFailed(
                    f"SMTP server {self._settings.host}:{self._settings.port} did not take the "
                    f"email: {describe_smtp_error(exc)}"
                ) from exc
            self._last_used = time.monotonic()

    def close(self) -> None:
        """End the kept session, if any."""
        with self._lock:
            self._drop()

    def _send_on_session(self, message: EmailMessage) -> None:
        kept = self._smtp is not None
        if kept and time.monotonic() - self._last_used > self._reuse_seconds:
            self._drop()
            kept = False
        try:
            self._session().send_message(message)
        except _STALE_SESSION:
            if not kept:
                raise
            # The server ended the kept session while it was idle: one fresh one.
            self._drop()
            self._session().send_message(message)

    def _session(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        settings = self._settings
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        try:
            if settings.starttls:
                smtp.starttls(context=self._ssl_context or ssl.create_default_context())
            if settings.username is not None and settings.password is not None:
                smtp.login(settings.username, settings.password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


_STALE_SESSION: tuple[type[Exception], ...] = (
    smtplib.SMTPServerDisconnected,
    ConnectionResetError,
    BrokenPipeError,
)


def build_message(email: Email, sender: str) -> EmailMessage:
    """The MIME message of an email: plain text, marked as sent automatically."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = one_line(email.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # Out-of-office replies and mailing-list tools leave automatic mail alone (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body)
    return message


def one_line(text: str) -> str:
    """The text with line breaks turned into spaces (a header never spans injected lines)."""
    return " ".join(text.split())


def describe_smtp_error(exc: BaseException) -> str:
    """A short description of an SMTP failure: the server's code and words, or the OS error."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = ", ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
        return f"recipient refused ({codes})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__} {exc.smtp_code} {_text(exc.smtp_error)}"
    detail = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0]}" if detail else type(exc).__name__


def _text(reply: bytes | str) -> str:
    words = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return one_line(words)[:200]


@dataclass
class FakeEmailSender:
    """Keeps emails in `sent` instead of sending them (unit tests).

    `fail_with` makes every send raise EmailFailed with that text; `fail_after` lets that many
    sends succeed first.
    """

    sent: list[Email] = field(default_factory=list)
    fail_with: str | None = None
    fail_after: int = 0
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, email: Email) -> None:
        """Record the email, or fail as configured."""
        with self.lock:
            self.attempts += 1
            if self.fail_with is not None and self.attempts > self.fail_after:
                raise EmailFailed(self.fail_with)
            self.sent.append(email)

    def close(self) -> None:
        """Nothing to release."""
