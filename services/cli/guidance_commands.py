"""`safeguard guidance trace`: where each step of the guidance lives in the model and its tests."""

from __future__ import annotations

import sys

import click

from services.guidance.trace import build_trace, markdown, text


@click.group()
def guidance() -> None:
    """Trace the UKCIS guidance to the default process, its scenarios and tests."""


@guidance.command()
@click.option("--markdown", "as_markdown", is_flag=True, help="Print docs/guidance-trace.md.")
def trace(as_markdown: bool) -> None:
    """Print step -> elements -> form fields -> scenarios -> tests; exit 1 if a step lacks any."""
    found = build_trace()
    click.echo(markdown(found) if as_markdown else text(found), nl=False)
    sys.exit(1 if found.problems else 0)
