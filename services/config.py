"""Settings, read from environment variables with one prefix: every setting is documented here.

Each setting, its meaning and its default:

- SAFEGUARD_DATABASE_URL: SQLAlchemy URL of the database.
  Default: a SQLite file in SAFEGUARD_INSTANCE_DIR.
- SAFEGUARD_MIGRATION_DATABASE_URL: PostgreSQL only: the URL `safeguard init` migrates with,
  as the role that owns the tables; it then grants the role of SAFEGUARD_DATABASE_URL what
  the app needs, and on the audit trail only SELECT and INSERT (creating that role, with the
  password in its URL, if it does not exist). Default: unset (init migrates as the app's
  role, which then owns the tables and could rewrite the audit trail).
- SAFEGUARD_INSTANCE_DIR: folder for the SQLite file and other local state. Default: ./instance.
- SAFEGUARD_ENVIRONMENT: `production` or `development`. Production turns Secure cookies (and
  HSTS) on unless SAFEGUARD_SECURE_COOKIES says otherwise, and refuses to start without a real
  SAFEGUARD_SECRET_KEY. Default: development (`services.web.wsgi`, the gunicorn entry point,
  defaults to production).
- SAFEGUARD_SECRET_KEY: signs sessions and CSRF tokens; required in production (at least 32
  characters, not the example value). Default in development: random per process (sessions end
  when it restarts).
- SAFEGUARD_AMQP_URL: RabbitMQ URL; unset means the in-process bus. Default: unset.
- SAFEGUARD_BPMN_DIR: process models deployed by `safeguard init`. Default: ./bpmn.
- SAFEGUARD_BASE_URL: public address used in links sent to people.
  Default: http://127.0.0.1:5000.
- SAFEGUARD_SECURE_COOKIES: `true` to send cookies over HTTPS only, with HSTS. Default: true in
  production, false in development.
- SAFEGUARD_SESSION_IDLE_MINUTES / SAFEGUARD_SESSION_MAX_MINUTES: a session ends after this
  long without a request / this long after sign-in. Defaults: 60 / 600.
- SAFEGUARD_LOGIN_MAX_FAILURES: failed sign-ins of one account (from any address) before each
  further attempt waits, 30 s doubling per failure up to 15 minutes. Default: 5.
- SAFEGUARD_LOGIN_ADDRESS_MAX_FAILURES: failed sign-ins from one client address within
  SAFEGUARD_LOGIN_WINDOW_MINUTES before each attempt from it waits 30 s (people who have
  signed in from that address before are not held). Defaults: 20 and 15.
- SAFEGUARD_PROXY_HOPS: how many proxies in front set X-Forwarded-For/-Proto. Default: 0.
- SAFEGUARD_LOG_FORMAT: `json` (one JSON object per line, with the request id; no personal
  data) or `text`. Applies to the gunicorn entry point. Default: json in production, else text.
- SAFEGUARD_OIDC_ISSUER, SAFEGUARD_OIDC_CLIENT_ID, SAFEGUARD_OIDC_CLIENT_SECRET: single sign-on
  with an OpenID Connect provider (e.g. https://login.microsoftonline.com/<tenant>/v2.0 or
  https://accounts.google.com); people are matched to their accounts by verified email. Its
  redirect URI is SAFEGUARD_BASE_URL + /sign-in/sso/callback. Default: unset (no SSO).
- SAFEGUARD_OIDC_NAME: the provider's name on the sign-in page. Default: "your organisation's
  account".
- SAFEGUARD_OIDC_TRUST_MFA: `true` to accept the provider's second factor (an `amr` claim of
  mfa, otp, hwk, swk or fido) instead of asking for our code. Default: false.
- SAFEGUARD_METRICS_TOKEN: when set, /metrics answers only requests carrying it as
  `Authorization: Bearer <token>`. Default: unset (open; it shows counts only).
- SAFEGUARD_SCHEDULER_POLL_SECONDS: how often the timer scheduler looks for due timers (it
  wakes sooner when the next timer is due sooner). Default: 5.
- SAFEGUARD_SCHEDULER_BATCH_SIZE: incidents the scheduler fires per round. Default: 50.
- SAFEGUARD_SCHEDULER_RETRY_SECONDS: wait before retrying an incident whose timers failed; it
  doubles after each further failure, up to 6 hours. Default: 60.
- SAFEGUARD_AMQP_PREFIX: name prefix of the RabbitMQ exchanges and queues (one per deployment
  sharing a broker): `<prefix>.events`, `<prefix>.notifier`, ... Default: safeguard.
- SAFEGUARD_SMTP_HOST: the SMTP server notification emails go through; unset means no email
  (people still get in-app notifications, and the notifier logs that email is off).
  Default: unset.
- SAFEGUARD_SMTP_PORT: its port. Default: 587.
- SAFEGUARD_SMTP_STARTTLS: `true` to upgrade the connection with STARTTLS (certificate
  checked) before anything else is said; `false` only for a server on this machine or a
  trusted network. Default: true.
- SAFEGUARD_SMTP_USER and SAFEGUARD_SMTP_PASSWORD: sign in to the server (both or neither).
  Default: unset (no sign-in).
- SAFEGUARD_SMTP_FROM: the From address of notification emails; required with SMTP_HOST.
- SAFEGUARD_SMTP_TIMEOUT_SECONDS: how long to wait for the server at each step. Default: 10.
- SAFEGUARD_SANDBOX_CPU_MS: CPU time (of the thread evaluating it, so a busy server never
  trips it) one BPMN expression, DMN cell or script may use before it is stopped. Real
  expressions take microseconds; this only stops runaway loops. Default: 1000.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "SAFEGUARD_"
DEFAULT_AMQP_PREFIX = "safeguard"
_AMQP_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


PRODUCTION = "production"
DEVELOPMENT = "development"
MIN_SECRET_KEY_LENGTH = 32
# Values people leave in by mistake; `python -c 'import secrets; print(secrets.token_hex(32))'`.
EXAMPLE_SECRET_KEYS = frozenset({"change-me-to-a-long-random-value", "secret", "dev", "changeme"})


class SettingsInvalid(Exception):
    """An environment variable holds a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server that sends notification emails."""

    host: str
    port: int
    sender: str  # the From address
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:
        # Settings get logged and shown in tracebacks: never the password.
        shown = "***" if self.password else None
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, sender={self.sender!r}, "
            f"starttls={self.starttls}, username={self.username!r}, password={shown!r}, "
            f"timeout_seconds={self.timeout_seconds})"
        )


@dataclass(frozen=True)
class OidcSettings:
    """Single sign-on with one OpenID Connect provider (Microsoft Entra ID, Google Workspace)."""

    issuer: str
    client_id: str
    client_secret: str
    name: str = "your organisation's account"  # on the sign-in button
    trust_mfa: bool = False  # a second factor at the provider (amr claim) counts as ours

    def __repr__(self) -> str:
        # Settings get logged and shown in tracebacks: never the secret.
        return (
            f"OidcSettings(issuer={self.issuer!r}, client_id={self.client_id!r}, "
            f"client_secret='***', name={self.name!r}, trust_mfa={self.trust_mfa})"
        )


@dataclass(frozen=True)
class Settings:
    """Everything the composition root needs to build the app and its processes."""

    database_url: str
    instance_dir: Path
    secret_key: str
    amqp_url: str | None
    bpmn_dir: Path
    base_url: str
    secure_cookies: bool
    session_idle_minutes: int = 60
    session_max_minutes: int = 600
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_address_max_failures: int = 20
    proxy_hops: int = 0
    scheduler_poll_seconds: int = 5
    scheduler_batch_size: int = 50
    scheduler_retry_seconds: int = 60
    amqp_prefix: str = DEFAULT_AMQP_PREFIX
    smtp: SmtpSettings | None = None  # None: notification emails are off
    sandbox_cpu_ms: int = 1000
    migration_database_url: str | None = None  # the tables' owner; None: database_url
    environment: str = DEVELOPMENT  # PRODUCTION: Secure cookies by default, a real secret key
    metrics_token: str | None = None  # /metrics wants it as a bearer token when set
    log_format: str = "text"  # "json": one JSON object per log line (services.web.request_log)
    oidc: OidcSettings | None = None  # None: no single sign-on

    @property
    def production(self) -> bool:
        """Whether this is a production deployment (SAFEGUARD_ENVIRONMENT=production)."""
        return self.environment == PRODUCTION

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, default_environment: str = DEVELOPMENT
    ) -> Settings:
        """Read settings from the environment, applying the documented defaults.

        SettingsInvalid in production without a real secret key (missing, an example value,
        or shorter than 32 characters).
        """
        env = os.environ if environ is None else environ
        environment = _environment(env, default_environment)
        production = environment == PRODUCTION
        instance_dir = Path(env.get(f"{PREFIX}INSTANCE_DIR", "instance")).resolve()
        database_url = env.get(f"{PREFIX}DATABASE_URL") or (
            f"sqlite:///{instance_dir / 'safeguard.sqlite3'}"
        )
        return cls(
            database_url=database_url,
            migration_database_url=env.get(f"{PREFIX}MIGRATION_DATABASE_URL") or None,
            instance_dir=instance_dir,
            secret_key=_secret_key(env, production=production),
            amqp_url=env.get(f"{PREFIX}AMQP_URL") or None,
            bpmn_dir=Path(env.get(f"{PREFIX}BPMN_DIR", "bpmn")).resolve(),
            base_url=env.get(f"{PREFIX}BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            secure_cookies=_flag(env, f"{PREFIX}SECURE_COOKIES", default=production),
            environment=environment,
            metrics_token=env.get(f"{PREFIX}METRICS_TOKEN") or None,
            log_format=_log_format(env, production=production),
            oidc=_oidc(env),
            session_idle_minutes=_count(env, f"{PREFIX}SESSION_IDLE_MINUTES", default=60, low=1),
            session_max_minutes=_count(env, f"{PREFIX}SESSION_MAX_MINUTES", default=600, low=1),
            login_max_failures=_count(env, f"{PREFIX}LOGIN_MAX_FAILURES", default=5, low=1),
            login_window_minutes=_count(env, f"{PREFIX}LOGIN_WINDOW_MINUTES", default=15, low=1),
            login_address_max_failures=_count(
                env, f"{PREFIX}LOGIN_ADDRESS_MAX_FAILURES", default=20, low=1
            ),
            proxy_hops=_count(env, f"{PREFIX}PROXY_HOPS", default=0, low=0),
            scheduler_poll_seconds=_count(env, f"{PREFIX}SCHEDULER_POLL_SECONDS", default=5, low=1),
            scheduler_batch_size=_count(env, f"{PREFIX}SCHEDULER_BATCH_SIZE", default=50, low=1),
            scheduler_retry_seconds=_count(
                env, f"{PREFIX}SCHEDULER_RETRY_SECONDS", default=60, low=1
            ),
            amqp_prefix=_amqp_prefix(env),
            smtp=_smtp(env),
            sandbox_cpu_ms=_count(env, f"{PREFIX}SANDBOX_CPU_MS", default=1000, low=1),
        )


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    issuer = (env.get(f"{PREFIX}OIDC_ISSUER") or "").strip().rstrip("/")
    if not issuer:
        return None
    client_id = (env.get(f"{PREFIX}OIDC_CLIENT_ID") or "").strip()
    client_secret = env.get(f"{PREFIX}OIDC_CLIENT_SECRET") or ""
    if not client_id or not client_secret:
        raise SettingsInvalid(
            f"{PREFIX}OIDC_CLIENT_ID and {PREFIX}OIDC_CLIENT_SECRET: set both with "
            f"{PREFIX}OIDC_ISSUER (the app's registration at the identity provider)"
        )
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise SettingsInvalid(f"{PREFIX}OIDC_ISSUER={issuer!r}: use an https:// address")
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        name=(env.get(f"{PREFIX}OIDC_NAME") or "").strip() or "your organisation's account",
        trust_mfa=_flag(env, f"{PREFIX}OIDC_TRUST_MFA", default=False),
    )


def _log_format(env: Mapping[str, str], *, production: bool) -> str:
    name = f"{PREFIX}LOG_FORMAT"
    raw = (env.get(name) or "").strip().lower() or ("json" if production else "text")
    if raw not in ("json", "text"):
        raise SettingsInvalid(f"{name}={raw!r}: expected json or text")
    return raw


def _environment(env: Mapping[str, str], default: str) -> str:
    name = f"{PREFIX}ENVIRONMENT"
    raw = (env.get(name) or "").strip().lower() or default
    if raw not in (PRODUCTION, DEVELOPMENT):
        raise SettingsInvalid(f"{name}={raw!r}: expected {PRODUCTION} or {DEVELOPMENT}")
    return raw


def _secret_key(env: Mapping[str, str], *, production: bool) -> str:
    name = f"{PREFIX}SECRET_KEY"
    given = env.get(name) or ""
    if not production:
        return given or secrets.token_hex(32)
    problem = check_secret_key(given)
    if problem:
        raise SettingsInvalid(f"{name}: {problem} (production refuses to start without one)")
    return given


def check_secret_key(key: str) -> str | None:
    """Say what is wrong with a secret key for production, or None when it will do."""
    if not key:
        return "not set: set it to a long random value shared by every process"
    if key.strip().lower() in EXAMPLE_SECRET_KEYS or "change-me" in key.lower():
        return "still the example value: set it to a long random value"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"shorter than {MIN_SECRET_KEY_LENGTH} characters: use a long random value"
    return None


def _amqp_prefix(env: Mapping[str, str]) -> str:
    name = f"{PREFIX}AMQP_PREFIX"
    raw = (env.get(name) or "").strip()
    if not raw:
        return DEFAULT_AMQP_PREFIX
    if not _AMQP_PREFIX.fullmatch(raw):
        raise SettingsInvalid(
            f"{name}={raw!r}: use up to 100 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit"
        )
    return raw


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = (env.get(f"{PREFIX}SMTP_HOST") or "").strip()
    if not host:
        return None
    sender = (env.get(f"{PREFIX}SMTP_FROM") or "").strip()
    if not sender or "@" not in sender:
        raise SettingsInvalid(
            f"{PREFIX}SMTP_FROM={sender!r}: set it to the From address of notification emails "
            f"(required when {PREFIX}SMTP_HOST is set)"
        )
    username = env.get(f"{PREFIX}SMTP_USER") or None
    password = env.get(f"{PREFIX}SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        raise SettingsInvalid(
            f"{PREFIX}SMTP_USER and {PREFIX}SMTP_PASSWORD: set both to sign in, or neither"
        )
    port = _count(env, f"{PREFIX}SMTP_PORT", default=587, low=1)
    if port > 65535:
        raise SettingsInvalid(f"{PREFIX}SMTP_PORT={port}: must be at most 65535")
    return SmtpSettings(
        host=host,
        port=port,
        sender=sender,
        starttls=_flag(env, f"{PREFIX}SMTP_STARTTLS", default=True),
        username=username,
        password=password,
        timeout_seconds=float(_count(env, f"{PREFIX}SMTP_TIMEOUT_SECONDS", default=10, low=1)),
    )


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsInvalid(f"{name}={raw!r}: expected true or false")


def _count(env: Mapping[str, str], name: str, *, default: int, low: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsInvalid(f"{name}={raw!r}: expected a whole number") from None
    if value < low:
        raise SettingsInvalid(f"{name}={raw!r}: must be at least {low}")
    return value
