"""What API views need per request: the bearer token's user, and the app's message bus."""

from __future__ import annotations

from flask import g

from services.domain.bus import MessageBus
from services.web.auth.identity import SignedInUser
from services.web.extensions import runtime


def api_user() -> SignedInUser:
    """The user the request's bearer token belongs to (set by the blueprint's auth check)."""
    user = g.get("api_user")
    if not isinstance(user, SignedInUser):
        raise RuntimeError("no API user: the view ran without the blueprint's bearer-token check")
    return user


def message_bus() -> MessageBus:
    """The app's message bus (one per process: it holds the shared definition cache)."""
    return runtime().bus
