"""`safeguard bpmn ...`: validate diagrams and simulate scenarios without a database."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from services.cli.bundles import BundleUnreadable, bundle_for
from services.cli.process import fail
from services.scheduling.calendars import school_calendars
from workflow.definition import load_definition, validate_files
from workflow.errors import DefinitionInvalid, SafeguardError
from workflow.simulate import StepDataInvalid, run_scenario


@click.group()
def bpmn() -> None:
    """Check and try out process diagrams."""


@bpmn.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Validate BPMN files (with the DMN files beside them); one line per problem."""
    dmn_files = [f for f in files if f.suffix.lower() == ".dmn"]
    failed = False
    for path in (f for f in files if f.suffix.lower() != ".dmn"):
        try:
            problems = validate_files(bundle_for(path, dmn_files))
        except BundleUnreadable as error:
            click.echo(str(error))
            failed = True
            continue
        for problem in problems:
            click.echo(str(problem))
        if problems:
            failed = True
        else:
            click.echo(f"{path}: valid", err=True)
    sys.exit(1 if failed else 0)


@bpmn.command()
@click.argument("bpmn_file", type=click.Path(path_type=Path))
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the route as JSON.")
def simulate(bpmn_file: Path, scenario_file: Path, as_json: bool) -> None:
    """Run a scenario against a diagram with no database and print the route it took."""
    try:
        definition = load_definition(bundle_for(bpmn_file))
        scenario = _read_scenario(scenario_file)
        # The calendars the scheduler uses, so school-day timers fall due as they will in use.
        result = run_scenario(definition, scenario, calendar=school_calendars())
    except (BundleUnreadable, DefinitionInvalid) as error:
        fail(str(error))
    except StepDataInvalid as error:
        lines = [f"{scenario_file}: step {error.step}: invalid data:"]
        lines += [f"  {field}: {' '.join(msgs)}" for field, msgs in error.errors.items()]
        fail("\n".join(lines))
    except SafeguardError as error:
        fail(f"{scenario_file}: {error}")
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True, default=str))
        return
    for number, task in enumerate(result.completed, start=1):
        click.echo(f"{number:>3}. {task}")
    if result.cancelled:
        click.echo(f"stopped by a message: {', '.join(result.cancelled)}")
    click.echo("ended" if result.ended else f"waiting on: {', '.join(result.ready) or 'nothing'}")


def _read_scenario(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BundleUnreadable(f"{path}: cannot read: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleUnreadable(f"{path}: not valid JSON: {error}") from None
