"""One structured (JSON) log line per request, with a request id, and no personal data.

Each request gets an id (the caller's `X-Request-ID` when it is a plain token, else a new one),
sent back in the `X-Request-ID` header and carried by every log record made during the request
(`JsonFormatter` adds it). The request line names the route (the endpoint, never the path or
query string, which may hold search words), the method, status, duration and the user's id:
nothing about children, no emails, no form data.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from services.web.auth.identity import current_user

logger = logging.getLogger("safeguard.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_STANDARD = frozenset(vars(logging.makeLogRecord({})))


def init_app(app: Flask) -> None:
    """Give each request an id and log it as one JSON line when answered."""

    @app.before_request
    def _assign_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()  # a measurement, never a deadline

    @app.after_request
    def _log(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is None:
            return response
        response.headers["X-Request-ID"] = request_id
        started = g.get("request_started", time.perf_counter())
        logger.info(
            "request",
            extra={
                "event": "request",
                "request_id": request_id,
                "route": request.endpoint or "unmatched",
                "method": request.method,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": _user_id(),
            },
        )
        return response


def _user_id() -> int | None:
    """Who made the request: an API token's holder, else the user signed in by the cookie."""
    api_user = g.get("api_user")
    if api_user is not None:
        return int(api_user.id)
    if request.endpoint == "static" or request.blueprint == "api":
        # The API never reads the session cookie (it signs in with a token alone); a cookie
        # sent along would otherwise cost a read of its user and name the wrong person.
        return None
    user = current_user()
    return user.id if user is not None else None


def current_request_id() -> str | None:
    """The id of the request being answered, if any."""
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """Format records as one JSON object per line, with the request id where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's time, level, logger, message, request id and extra fields, as JSON."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        found = current_request_id()
        if found is not None:
            entry["request_id"] = found
        entry.update(
            {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        )
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def use_json_logs() -> None:
    """Send every log record to stderr as JSON (SAFEGUARD_LOG_FORMAT=json, production)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
