"""Fixtures for browser tests: Debian's chromium driven by Playwright, and the real app served
on a free localhost port from a temp SQLite database set up by `safeguard init --demo`.

Without chromium or the playwright package the browser tests are skipped with the reason,
except under CI (CI=true), where they fail: CI must install both.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest

from services.bootstrap import bootstrap
from services.config import Settings
from services.demo import DemoSeed, seed_demo

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SAFEGUARD = Path(sys.executable).parent / "safeguard"
START_TIMEOUT_SECONDS = 120  # a hang guard: a loaded CI machine starts the server slowly


def running_in_ci() -> bool:
    """Tell whether the CI variable is set to something true."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _missing_browser() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install playwright (no browser download)"
    return None


@dataclass(frozen=True)
class LiveApp:
    """The app served over HTTP, and how to sign in as the demo people."""

    base_url: str
    demo: DemoSeed

    def secret_of(self, email: str) -> str | None:
        """The TOTP secret of a demo account."""
        return next(a.totp_secret for a in self.demo.accounts if a.email == email)

    def fresh_code(self, email: str) -> str:
        """A second-factor code for a demo account that this server has not accepted before.

        The server refuses a code whose time step it already accepted (RFC 6238 5.2), so two
        sign-ins of one person within 30 s cannot both use `.now()`. It accepts one step of
        drift either side: use the current step, else the next; when both are spent, wait for
        the clock to move on (a condition, not a guess at speed).
        """
        secret = self.secret_of(email)
        if secret is None:
            raise ValueError(f"{email} has no second factor")
        totp = pyotp.TOTP(secret)
        key = (self.base_url, email)
        while True:
            step = totp.timecode(datetime.now(UTC))
            for candidate in (step, step + 1):
                if candidate > _LAST_STEP.get(key, -1):
                    _LAST_STEP[key] = candidate
                    return str(totp.generate_otp(candidate))
            time.sleep(1)


# The last time step each (server, person) signed in with: shared by every test of a session.
_LAST_STEP: dict[tuple[str, str], int] = {}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Debian chromium under Playwright (skipped locally, failed in CI, if absent)."""
    missing = _missing_browser()
    if missing is not None:
        if running_in_ci():
            pytest.fail(f"browser tests cannot run under CI: {missing}", pytrace=False)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the app stopped at start: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not listen on port {port}: {log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """`safeguard init --demo` into a temp folder, then `safeguard serve` on a free port."""
    instance = tmp_path_factory.mktemp("browser-instance")
    env = {
        **os.environ,
        "SAFEGUARD_INSTANCE_DIR": str(instance),
        "SAFEGUARD_DATABASE_URL": f"sqlite:///{instance / 'safeguard.sqlite3'}",
        "SAFEGUARD_SECRET_KEY": secrets.token_hex(32),
        "SAFEGUARD_BPMN_DIR": str(ROOT / "bpmn"),
    }
    subprocess.run([str(SAFEGUARD), "init", "--demo"], env=env, check=True, capture_output=True)
    runtime = bootstrap(Settings.from_env(env))
    try:
        demo = seed_demo(runtime.unit_of_work())  # already seeded: returns the sign-ins
    finally:
        runtime.close()
    port = _free_port()
    log = instance / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(SAFEGUARD), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(port, server, log)
        yield LiveApp(f"http://127.0.0.1:{port}", demo)
    finally:
        server.terminate()
        server.wait(timeout=10)
