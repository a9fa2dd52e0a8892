"""The Flask app factory: one app per call, built from Settings, with one blueprint per area.

Areas built next (incidents, inbox, JSON API) add a blueprint in `_register_areas` and, for a
menu link, a call to `services.web.navigation.add_navigation`. Routes declare incident, task and
document ids as `<id:name>` (services.web.ids), so malformed ids are a 404 before any view.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

import forms
from services.bootstrap import Runtime, bootstrap
from services.config import Settings
from services.web import assets, errors, health, ids, navigation, request_log, security
from services.web.admin import register_admin_pages
from services.web.api import bp as api_bp
from services.web.api.parsing import BoundedJSONProvider
from services.web.auth import bp as auth_bp
from services.web.auth.sso import init_sso
from services.web.cases import register_incident_list
from services.web.children import register_children_pages
from services.web.extensions import csrf, init_runtime
from services.web.home import bp as home_bp
from services.web.incidents.areas import register_case_pages
from services.web.notifications import register_notification_pages
from services.web.reports import register_report_pages
from services.web.studio import register_studio  # also adds the studio's routes to the API

WEB_DIR = Path(__file__).parent


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> Flask:
    """Build the web app; pass `runtime` to share an engine or a fixed clock (tests)."""
    app = Flask(
        __name__,
        template_folder=str(WEB_DIR / "templates"),
        static_folder=str(WEB_DIR / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # The token lives as long as the session; sign-in replaces the session, and the token.
        WTF_CSRF_TIME_LIMIT=None,
        # Referrer-Policy is no-referrer, so the Referer check Flask-WTF does on HTTPS would
        # refuse every form; the session-bound token and SameSite=Lax cookies do the job.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
    )
    app.json = BoundedJSONProvider(app)  # request.get_json(): too deep is a 400 (issue 8)
    init_runtime(app, runtime or bootstrap(settings))
    security.init_app(app, settings)
    csrf.init_app(app)
    forms.init_app(app)  # GOV.UK templates: govuk_frontend_jinja/..., govuk_frontend_wtf/...
    navigation.init_app(app)
    errors.init_app(app)
    ids.init_app(app)  # the `id` URL converter, before the routes that use it
    _register_areas(app, settings)
    return app


def _register_areas(app: Flask, settings: Settings) -> None:
    app.register_blueprint(assets.bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(api_bp)
    navigation.add_navigation(app, "Your schools", "home.index")
    register_case_pages(app)  # incidents and the inbox, with their menu links
    register_incident_list(app)  # the incidents list, case history and exports (issue 10)
    register_notification_pages(app)  # notifications and the operations page, with links
    register_children_pages(app)  # children, chronologies (issue 11)
    register_report_pages(app)  # the reports dashboard (issue 11)
    register_studio(app)  # the process studio, with its link
    register_admin_pages(app)  # schools, people, invitations (issue 8), with its link
    health.init_app(app, settings)  # /healthz, /readyz, /metrics (issue 8)
    request_log.init_app(app)  # a JSON line per request, with its id
    init_sso(app, settings.oidc)  # OpenID Connect single sign-on, when configured
