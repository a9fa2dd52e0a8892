"""The WSGI entry point for production: `gunicorn services.web.wsgi:app`.

Importing this module builds the app from the environment (the one place that happens at
import: a WSGI server needs an object to import). It refuses to start without
SAFEGUARD_SECRET_KEY: a key made up per process would sign each gunicorn worker's sessions
differently, and every restart would sign everyone out. It runs in production mode (Secure
cookies, HSTS, a real secret key) unless SAFEGUARD_ENVIRONMENT=development.
"""

from __future__ import annotations

import os

from flask import Flask

from services.config import PREFIX, PRODUCTION, Settings
from services.web.app import create_app
from services.web.request_log import use_json_logs


def build_app() -> Flask:
    """The app for these environment variables; RuntimeError without a secret key."""
    if not os.environ.get(f"{PREFIX}SECRET_KEY"):
        raise RuntimeError(
            f"{PREFIX}SECRET_KEY is not set: set it to a long random value shared by every "
            "web process (e.g. the output of `python -c 'import secrets; "
            "print(secrets.token_hex(32))'`)"
        )
    settings = Settings.from_env(default_environment=PRODUCTION)
    if settings.log_format == "json":
        use_json_logs()
    return create_app(settings)


app = build_app()
