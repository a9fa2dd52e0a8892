"""`safeguard init`, `serve`, `token` and the demo-only `totp-code`: set up and run the app."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from types import FrameType

import click
from sqlalchemy.engine import make_url

from services.bootstrap import Runtime, bootstrap, ensure_instance_dir, start_embedded_services
from services.cli.bundles import BundleUnreadable, read_source
from services.cli.init_models import HeldBack, first_install, held_back
from services.cli.process import fail, load_settings, require_current_database
from services.config import PREFIX, Settings
from services.db import upgrade_database
from services.db.privileges import RoleSetupRefused, grant_application_role
from services.demo import (
    DEMO_SCHOOL_NAME,
    DemoSeed,
    is_demo_user,
    seed_demo,
    seed_demo_incidents,
)
from services.domain.commands import DeployDefinitions
from services.domain.results import Deployed
from services.web.auth import issue_api_token, totp
from services.web.auth.tokens import DEFAULT_LIFETIME_DAYS, TokenRefused, lifetime_days
from workflow.definition import validate_files
from workflow.model import SourceFile


@click.command()
@click.option("--demo", is_flag=True, help="Also add the Demo School and its people (DEMO ONLY).")
def init(demo: bool) -> None:
    """Create or upgrade the database and deploy every process model in SAFEGUARD_BPMN_DIR."""
    settings = load_settings()
    ensure_instance_dir(settings)
    migrate_and_grant(settings)
    runtime = bootstrap(settings)
    try:
        deploy_process_models(runtime, settings.bpmn_dir)
        if demo:
            _print_demo(seed_demo(runtime.unit_of_work()))
            made = seed_demo_incidents(runtime.session_factory)  # issue 11: charts
            if made:
                click.echo(f"Demo incidents: {made} made over the last year (DEMO ONLY).")
    finally:
        runtime.close()


def migrate_and_grant(settings: Settings) -> None:
    """Migrate (as the tables' owner when one is set), then grant the app's role its share."""
    owner_url = settings.migration_database_url
    upgrade_database(owner_url or settings.database_url)
    click.echo(f"Database ready: {_shown_url(owner_url or settings.database_url)}")
    if owner_url is None:
        if make_url(settings.database_url).get_backend_name() == "postgresql":
            click.echo(
                f"Note: {PREFIX}MIGRATION_DATABASE_URL is not set, so the app's role owns the "
                "tables and could rewrite the audit trail (safeguard audit verify would show "
                "it). Set it to the owner's URL in production.",
                err=True,
            )
        return
    try:
        granted = grant_application_role(owner_url, settings.database_url)
    except RoleSetupRefused as error:
        fail(f"Refused: {error}.")
    made = "created and granted" if granted.created else "granted"
    click.echo(
        f"App role {granted.role!r} {made} its privileges on {granted.tables} tables in "
        f"schema {granted.schema!r} (audit trail: SELECT and INSERT only)."
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the web app with Werkzeug's server (fine for the embedded default and demos).

    Without SAFEGUARD_AMQP_URL (the embedded default) it also runs, in background threads,
    the outbox relay delivering events to the notifier, and the timer scheduler; with a
    broker it serves the web only (`safeguard relay`, `notifier` and `scheduler` do the rest).
    """
    from werkzeug.serving import run_simple

    from services.web import create_app
    from services.web.assets import assets_built

    settings = load_settings()
    ensure_instance_dir(settings)
    require_current_database(settings)
    if not os.environ.get(f"{PREFIX}SECRET_KEY"):
        click.echo(
            f"Note: {PREFIX}SECRET_KEY is not set, so a random key is used and everyone is "
            "signed out when the server stops. Set it outside demos.",
            err=True,
        )
    if not assets_built():
        click.echo(
            "Note: the GOV.UK Frontend files are missing, so pages will look bare: run "
            "`npm ci && npm run build:assets` (make does this).",
            err=True,
        )
    runtime = bootstrap(settings)
    app = create_app(settings, runtime=runtime)
    embedded = None if settings.amqp_url else start_embedded_services(runtime)
    if embedded is not None:
        email = "email off: SAFEGUARD_SMTP_HOST unset" if settings.smtp is None else "email on"
        click.echo(f"Notifications and timers run in this process ({email}).")
    click.echo(f"Safeguard Flow is running at http://{host}:{port} (press Ctrl+C to stop)")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_simple(host, port, app, threaded=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if embedded is not None:
            embedded.stop()
        runtime.close()


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    # SIGTERM ends the server as Ctrl+C does, so the background threads stop cleanly.
    raise KeyboardInterrupt


@click.command()
@click.argument("email")
@click.option("--label", default="cli", show_default=True, help="A name for the token.")
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    default="read",
    show_default=True,
    help="read: GET only; write: read and write.",
)
@click.option(
    "--expires",
    default=f"{DEFAULT_LIFETIME_DAYS}d",
    show_default=True,
    help="Lifetime in days, like 30d (at most 366).",
)
def token(email: str, label: str, scope: str, expires: str) -> None:
    """Print a new API token for a user with a second factor (shown once: only its hash is kept)."""
    runtime = bootstrap(load_settings())
    try:
        days = lifetime_days(expires)
        with runtime.unit_of_work() as uow:
            user = uow.users.get_by_email(email)
            if user is None or not user.is_active:
                fail(f"No active user has the email address {email!r}.")
            value = issue_api_token(
                uow, user.id, label, scope=scope, days=days, at=runtime.clock.now()
            )
            uow.commit()
    except TokenRefused as refused:
        fail(f"No token issued: {refused}.")
    finally:
        runtime.close()
    click.echo(
        f"API token for {user.email} ({label}, {scope}, {days} days); it is shown only this once:",
        err=True,
    )
    click.echo(value)


@click.command("totp-code")
@click.argument("email")
def totp_code(email: str) -> None:
    """DEMO ONLY: print the current authenticator code of a Demo School account."""
    runtime = bootstrap(load_settings())
    try:
        with runtime.unit_of_work() as uow:
            user = uow.users.get_by_email(email)
            if user is None or not is_demo_user(uow, user):
                fail(
                    f"Refused: {email} is not a demo account. This command only serves people "
                    f"whose every role is in the {DEMO_SCHOOL_NAME}."
                )
            secret = user.totp_secret
        if secret is None:
            fail(f"{email} has no authenticator set up.")
        click.echo(totp.current_code(secret, runtime.clock.now()))
    finally:
        runtime.close()


def deploy_process_models(runtime: Runtime, bpmn_dir: Path) -> list[Deployed]:
    """Deploy each .bpmn (with the .dmn files beside it) on first install; exit 1 on problems.

    Every bundle is checked before any is deployed. Files are named by their name alone, so a
    version's digest does not depend on where the folder is: unchanged files deploy as a no-op.
    After the first install, changed models are not deployed (the versions stay as they are):
    a change needs `safeguard process deploy`, with its checks and a second admin's approval.
    """
    if not bpmn_dir.is_dir():
        fail(f"{bpmn_dir}: not a folder ({PREFIX}BPMN_DIR names where the process models are)")
    bundles = _read_bundles(bpmn_dir)
    first = first_install(runtime)
    results = []
    for files in bundles:
        held = None if first else held_back(runtime, files)
        if held is not None:
            _say_held_back(held, bpmn_dir)
            continue
        results.append(runtime.bus.handle(DeployDefinitions(files, actor_id=None)))
    for result in results:
        what = "Deployed" if result.created else "Unchanged"
        click.echo(f"{what}: {result.process_id} version {result.version}")
    if not bundles:
        click.echo(f"No .bpmn files in {bpmn_dir}: nothing deployed.")
    return results


def _say_held_back(held: HeldBack, bpmn_dir: Path) -> None:
    paths = " ".join(str(bpmn_dir / name) for name in held.files)
    current = f"version {held.latest}" if held.latest else "no version yet"
    click.echo(
        f"Not deployed: {paths} differ from every deployed version of {held.process_id} "
        f"({current}); the versions schools run are untouched. `safeguard init` deploys "
        "bpmn/ on first install only: to deploy a change, with the studio's checks and a "
        f"second process admin's approval, run\n  safeguard process deploy {paths} "
        "--note 'what changed and why' --actor EMAIL --approver OTHER_EMAIL",
        err=True,
    )


def _read_bundles(bpmn_dir: Path) -> list[list[SourceFile]]:
    dmn_files = sorted(bpmn_dir.glob("*.dmn"))
    bundles: list[list[SourceFile]] = []
    problems: list[str] = []
    for path in sorted(bpmn_dir.glob("*.bpmn")):
        try:
            files = [_named_by_name(path), *(_named_by_name(dmn) for dmn in dmn_files)]
        except BundleUnreadable as error:
            problems.append(str(error))
            continue
        problems += [
            str(dataclasses.replace(p, file=str(bpmn_dir / p.file) if p.file else ""))
            for p in validate_files(files)
        ]
        bundles.append(files)
    if problems:
        fail("\n".join(["Nothing deployed: these process models have problems:", *problems]))
    return bundles


def _named_by_name(path: Path) -> SourceFile:
    return dataclasses.replace(read_source(path), name=path.name)


def _print_demo(seed: DemoSeed) -> None:
    made = f"{len(seed.created)} new" if seed.created else "already there"
    lines = [
        "",
        f"DEMO ONLY: {DEMO_SCHOOL_NAME} accounts ({made}). Never use these on real data.",
        f"  Password for every demo account: {seed.password}",
    ]
    for account in seed.accounts:
        lines.append(f"  {account.email:<22} {account.role}")
        if account.totp_secret:
            lines.append(f"  {'':<22} TOTP secret: {account.totp_secret}")
    lines += [
        "  Accounts with a TOTP secret are asked for a code after the password: add the secret",
        "  to an authenticator app, or print the current code with `safeguard totp-code EMAIL`.",
    ]
    click.echo("\n".join(lines))


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
