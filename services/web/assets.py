"""GOV.UK Frontend's images at /assets/..., where its precompiled stylesheet looks for them.

The files are copied from the pinned npm package into static/govuk/ at set-up (`npm run
build:assets`, run by `make`); they are generated and not in git.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC_DIR = Path(__file__).with_name("static")
GOVUK_DIR = STATIC_DIR / "govuk"

bp = Blueprint("govuk_assets", __name__)


@bp.get("/assets/<path:filename>")
def asset(filename: str) -> Response:
    """Serve one of GOV.UK Frontend's assets (404 for anything outside its folder)."""
    return send_from_directory(GOVUK_DIR / "assets", filename)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """No icon (GOV.UK's crown is for GOV.UK only): say so without a 404 in every log."""
    return Response(status=204)


def assets_built() -> bool:
    """Tell whether the GOV.UK assets were copied in (the pages look bare without them)."""
    return (GOVUK_DIR / "govuk-frontend.min.css").is_file()
