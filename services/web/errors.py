"""Error pages in the GOV.UK style, for HTTP errors and refused CSRF tokens."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from services.db.imagery_guard import ImageryRefused

_PAGES: dict[int, tuple[str, tuple[str, ...]]] = {
    400: ("Sorry, there is a problem with that request", ("Go back and try again.",)),
    403: ("You cannot see this page", ("Your roles do not include it.",)),
    404: (
        "Page not found",
        ("If you typed the web address, check it is correct.",),
    ),
    405: ("Sorry, there is a problem with that request", ("Go back and try again.",)),
    429: ("Too many requests", ("Wait a few minutes and try again.",)),
    500: (
        "Sorry, there is a problem with the service",
        ("Try again later. Nothing you entered on the page that failed was saved.",),
    ),
}


def init_app(app: Flask) -> None:
    """Render every HTTP error, and a refused CSRF token, as a GOV.UK error page."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ImageryRefused, _imagery_refused)


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    page = render_template(
        "errors/error.html",
        heading="This page has timed out",
        paragraphs=(
            "For your security, forms stop working after a while or once you sign out.",
            "Go back, reload the page and try again. What you entered was not saved.",
        ),
    )
    return page, 400


def _imagery_refused(error: ImageryRefused) -> tuple[str, int]:
    # Text a page's own form did not check reached the database's last door: nothing was saved.
    messages = tuple(message for field in error.errors.values() for message in field)
    page = render_template(
        "errors/error.html",
        heading="There is a problem with what you entered",
        paragraphs=(*messages, "Nothing was saved. Go back and describe it in words instead."),
    )
    return page, 422


def _http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    code = error.code or 500
    if code not in _PAGES:
        return error
    heading, paragraphs = _PAGES[code]
    return render_template("errors/error.html", heading=heading, paragraphs=paragraphs), code
