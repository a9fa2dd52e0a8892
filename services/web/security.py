"""Response headers, the Content-Security-Policy with its per-request nonce, and cookie settings."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from services.config import PREFIX, Settings, SettingsInvalid, check_secret_key

# Pages may show safeguarding records: never let a browser or proxy keep a copy.
_NO_STORE = "no-store"
_STATIC_ENDPOINTS = frozenset({"static", "govuk_assets.asset", "govuk_assets.favicon"})

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


def csp_nonce() -> str:
    """Return this request's script nonce (made on first use; new for every response)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        g.csp_nonce = nonce
    return str(nonce)


def content_security_policy(nonce: str, *, https_only: bool) -> str:
    """Return the policy: own origin only, no inline script but the one carrying the nonce."""
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    if https_only:
        directives.append("upgrade-insecure-requests")
    return "; ".join(directives)


def init_app(app: Flask, settings: Settings) -> None:
    """Configure cookies, trust the configured proxies, and add the headers to every response.

    In production, refuses (SettingsInvalid) a secret key that is missing, short or an example.
    """
    if settings.production:
        problem = check_secret_key(settings.secret_key)
        if problem is not None:
            raise SettingsInvalid(f"{PREFIX}SECRET_KEY: {problem} (refusing to start)")
    app.config.update(
        # __Host- makes the browser refuse the cookie unless Secure, host-only and path /.
        SESSION_COOKIE_NAME="__Host-session" if settings.secure_cookies else "safeguard_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_PATH="/",
        # Idle timeout: the cookie (and its signature's max age) is renewed on every request.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
    )
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    app.context_processor(lambda: {"cspNonce": csp_nonce()})

    @app.after_request
    def _add_security_headers(response: Response) -> Response:
        add_security_headers(response, https_only=settings.secure_cookies)
        return response


def add_security_headers(response: Response, *, https_only: bool) -> None:
    """Set the policy and hardening headers on a response."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), https_only=https_only)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if https_only:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.endpoint not in _STATIC_ENDPOINTS:
        headers["Cache-Control"] = _NO_STORE
