"""Settings, read from environment variables with one prefix: every setting is documented here.

Each setting, its meaning and its default:

- SAFEGUARD_DATABASE_URL: SQLAlchemy URL of the database.
  Default: a SQLite file in SAFEGUARD_INSTANCE_DIR.
- SAFEGUARD_INSTANCE_DIR: folder for the SQLite file and other local state. Default: ./instance.
- SAFEGUARD_SECRET_KEY: signs sessions and CSRF tokens; required outside the demo.
  Default: random per process (demo only: sessions end when it restarts).
- SAFEGUARD_AMQP_URL: RabbitMQ URL; unset means the in-process bus. Default: unset.
- SAFEGUARD_BPMN_DIR: process models deployed by `safeguard init`. Default: ./bpmn.
- SAFEGUARD_BASE_URL: public address used in links sent to people.
  Default: http://127.0.0.1:5000.
- SAFEGUARD_SECURE_COOKIES: `true` to send cookies over HTTPS only. Default: false.
- SAFEGUARD_SCHEDULER_POLL_SECONDS: how often the timer scheduler looks for due timers (it
  wakes sooner when the next timer is due sooner). Default: 5.
- SAFEGUARD_SCHEDULER_BATCH_SIZE: incidents the scheduler fires per round. Default: 50.
- SAFEGUARD_SCHEDULER_RETRY_SECONDS: wait before retrying an incident whose timers failed; it
  doubles after each further failure, up to 6 hours. Default: 60.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "SAFEGUARD_"


class SettingsInvalid(Exception):
    """An environment variable holds a value that cannot be used; the message names it."""


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
    proxy_hops: int = 0
    scheduler_poll_seconds: int = 5
    scheduler_batch_size: int = 50
    scheduler_retry_seconds: int = 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from the environment, applying the documented defaults."""
        env = os.environ if environ is None else environ
        instance_dir = Path(env.get(f"{PREFIX}INSTANCE_DIR", "instance")).resolve()
        database_url = env.get(f"{PREFIX}DATABASE_URL") or (
            f"sqlite:///{instance_dir / 'safeguard.sqlite3'}"
        )
        return cls(
            database_url=database_url,
            instance_dir=instance_dir,
            secret_key=env.get(f"{PREFIX}SECRET_KEY") or secrets.token_hex(32),
            amqp_url=env.get(f"{PREFIX}AMQP_URL") or None,
            bpmn_dir=Path(env.get(f"{PREFIX}BPMN_DIR", "bpmn")).resolve(),
            base_url=env.get(f"{PREFIX}BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            secure_cookies=_flag(env, f"{PREFIX}SECURE_COOKIES", default=False),
            session_idle_minutes=_count(env, f"{PREFIX}SESSION_IDLE_MINUTES", default=60, low=1),
            session_max_minutes=_count(env, f"{PREFIX}SESSION_MAX_MINUTES", default=600, low=1),
            login_max_failures=_count(env, f"{PREFIX}LOGIN_MAX_FAILURES", default=5, low=1),
            login_window_minutes=_count(env, f"{PREFIX}LOGIN_WINDOW_MINUTES", default=15, low=1),
            proxy_hops=_count(env, f"{PREFIX}PROXY_HOPS", default=0, low=0),
            scheduler_poll_seconds=_count(env, f"{PREFIX}SCHEDULER_POLL_SECONDS", default=5, low=1),
            scheduler_batch_size=_count(env, f"{PREFIX}SCHEDULER_BATCH_SIZE", default=50, low=1),
            scheduler_retry_seconds=_count(
                env, f"{PREFIX}SCHEDULER_RETRY_SECONDS", default=60, low=1
            ),
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
