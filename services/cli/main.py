"""Entry point of the `safeguard` console script: one group per area."""

from __future__ import annotations

import click

from services.cli.admin_commands import init, serve, token, totp_code
from services.cli.audit_commands import audit
from services.cli.bpmn_commands import bpmn
from services.cli.demo_commands import demo
from services.cli.guidance_commands import guidance
from services.cli.messaging_commands import relay
from services.cli.notifier_commands import mailer, notifier
from services.cli.people_commands import school, user
from services.cli.process_commands import process
from services.cli.scheduler_commands import scheduler
from services.cli.worker_commands import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Safeguard Flow: run and manage the response to nude and semi-nude image sharing."""


cli.add_command(bpmn)
cli.add_command(demo)
cli.add_command(guidance)
cli.add_command(audit)
cli.add_command(school)
cli.add_command(user)
cli.add_command(process)
for command in (init, serve, token, totp_code, scheduler, relay, notifier, mailer, worker):
    cli.add_command(command)


def main() -> None:
    """Run the CLI."""
    cli()


if __name__ == "__main__":
    main()
