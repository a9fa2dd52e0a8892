"""The ids in our URLs (incidents, tasks, documents): one pattern, and the URL converter `id`.

Routes declare their ids as `<id:incident_id>`, so a URL whose id cannot be one of ours (too
long, a NUL byte, other characters) matches no route and is a 404 before any view runs: it
never reaches SQL, where PostgreSQL would refuse a NUL in text with a 500.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter

# Incident, task and document ids are UUID strings; this admits them and nothing that needs
# escaping, with room to spare.
ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"


class RecordIdConverter(BaseConverter):
    """URL converter for our ids: matches ID_PATTERN only."""

    regex = ID_PATTERN


def init_app(app: Flask) -> None:
    """Register the `id` converter (before any blueprint whose routes use it)."""
    app.url_map.converters["id"] = RecordIdConverter
