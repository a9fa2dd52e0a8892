"""The process studio: pages for process admins (and auditors, read only) and its JSON API."""

from __future__ import annotations

from flask import Flask

from services.web.navigation import add_navigation
from services.web.studio import api_views as _api_views  # noqa: F401  # routes on the API bp
from services.web.studio import migration_views as _migration_views  # noqa: F401  # pages + API
from services.web.studio.views import bp, sees_studio


def register_studio(app: Flask) -> None:
    """Add the studio's pages and its menu link (the API routes ride on the API blueprint)."""
    app.register_blueprint(bp)
    add_navigation(app, "Process studio", "studio.index", visible=sees_studio)


__all__ = ["bp", "register_studio"]
