"""CSV and JSON bodies for exports: cells that could start a spreadsheet formula are defused."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

# OWASP "CSV injection": a cell starting with one of these may run as a formula in a spreadsheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def safe_cell(value: Any) -> str:
    """A value as CSV cell text; text that a spreadsheet would read as a formula gets a quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = str(value)
    if isinstance(value, (int, float)):
        return text
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """A CSV download (UTF-8 with a byte order mark, so spreadsheets read accents right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return _download("\ufeff" + buffer.getvalue(), "text/csv; charset=utf-8", filename)


def json_response(body: Any, filename: str) -> Response:
    """A JSON download."""
    text = json.dumps(body, ensure_ascii=False, indent=2, default=str)
    return _download(text, "application/json", filename)


def _download(text: str, media_type: str, filename: str) -> Response:
    response = Response(text, mimetype=media_type.split(";")[0])
    response.headers["Content-Type"] = media_type
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
