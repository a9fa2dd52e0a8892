"""A person's in-app notifications, and the operations page for process administrators."""

from __future__ import annotations

from flask import Flask

from services.web.navigation import add_navigation
from services.web.notifications.views import bp, is_operator


def register_notification_pages(app: Flask) -> None:
    """Add the notifications blueprint and its links ("Notifications", "Operations")."""
    app.register_blueprint(bp)
    add_navigation(app, "Notifications", "notifications.index")
    add_navigation(app, "Operations", "notifications.operations", visible=is_operator)


__all__ = ["bp", "register_notification_pages"]
