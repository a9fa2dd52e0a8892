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


# Process keys are BPMN process ids (XML names): a letter or underscore, then name characters.
KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,254}"


# File names in URLs (a version's .bpmn/.dmn files): anything but a slash or a control character.
FILE_NAME_PATTERN = r"[^/\x00-\x1f\x7f]{1,255}"


class RecordIdConverter(BaseConverter):
    """URL converter for our ids: matches ID_PATTERN only."""

    regex = ID_PATTERN


class ProcessKeyConverter(BaseConverter):
    """URL converter for process keys: matches KEY_PATTERN only (so never a NUL byte)."""

    regex = KEY_PATTERN


class FileNameConverter(BaseConverter):
    """URL converter for file names: matches FILE_NAME_PATTERN only (no NUL, no slash)."""

    regex = FILE_NAME_PATTERN


def init_app(app: Flask) -> None:
    """Register the `id`, `key` and `file` converters (before the blueprints that use them)."""
    app.url_map.converters["id"] = RecordIdConverter
    app.url_map.converters["key"] = ProcessKeyConverter
    app.url_map.converters["file"] = FileNameConverter
