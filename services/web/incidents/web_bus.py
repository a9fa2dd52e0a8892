"""The message bus the HTML pages send their commands and queries to, one per app.

It shares the runtime bus's dependencies (units of work, clock, calendar, definition cache),
so pages and the rest of the process see the same time and data, and adds the page reads of
services.web.incidents.reads to the domain's handlers.
"""

from __future__ import annotations

from flask import current_app

from services.domain.bus import MessageBus, default_handlers
from services.web.extensions import runtime
from services.web.incidents.reads import page_read_handlers

WEB_BUS_KEY = "safeguard.web_bus"


def bus() -> MessageBus:
    """Return the current app's bus (built once; building twice in a race is harmless)."""
    found = current_app.extensions.get(WEB_BUS_KEY)
    if isinstance(found, MessageBus):
        return found
    handlers = {**default_handlers(), **page_read_handlers()}
    built = MessageBus(handlers, runtime().bus.dependencies)
    stored = current_app.extensions.setdefault(WEB_BUS_KEY, built)
    assert isinstance(stored, MessageBus)
    return stored
