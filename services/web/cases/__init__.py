"""The incidents area: the list and search of incidents, case history and exports (issue 10)."""

from __future__ import annotations

from flask import Flask

from services.web.cases.blueprint import bp
from services.web.navigation import add_navigation


def register_incident_list(app: Flask) -> None:
    """Add the incidents list (with its menu link) and the case history pages."""
    from services.web.cases import (  # noqa: F401  # routes register on bp
        correction_views,
        history_views,
        views,
    )

    app.register_blueprint(bp)
    add_navigation(
        app,
        "Incidents",
        "cases.index",
        visible=lambda user: bool(user.schools),
        areas=("cases", "incidents"),
    )
