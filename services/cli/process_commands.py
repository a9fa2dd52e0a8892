"""`safeguard process deploy`: a new version from the command line, through the studio's checks.

The files become a draft authored by --actor, checked (lint, the studio's rules, statutory and
local scenarios), approved by --approver (another process admin: four eyes) and published with
the note. Nothing is published when a check fails; the draft stays for the studio to show.
"""

from __future__ import annotations

from pathlib import Path

import click

from services.bootstrap import bootstrap
from services.cli.process import fail, load_settings, require_current_database
from services.db import SqlAlchemyUnitOfWork
from services.domain.errors import DomainError
from services.domain.studio.drafts import Studio, approve_draft, create_draft, publish_draft
from services.domain.studio.errors import ChecksFailed
from services.domain.studio.policy import schools_where
from services.domain.studio.versions import draft_view
from workflow.errors import DefinitionInvalid

MAX_READ_BYTES = 4 * 1024 * 1024


@click.group()
def process() -> None:
    """Change the response process (the same checks and approval as the studio)."""


@process.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--note", required=True, help="The change note: what changed and why.")
@click.option("--actor", required=True, help="Email of the process admin making the change.")
@click.option("--approver", required=True, help="Email of a second process admin approving it.")
@click.option("--process-key", default=None, help="The process (default: the diagram's own id).")
@click.option(
    "--school", "schools", multiple=True, type=int, help="Run it in this school (repeatable)."
)
def deploy(
    files: tuple[Path, ...],
    note: str,
    actor: str,
    approver: str,
    process_key: str | None,
    schools: tuple[int, ...],
) -> None:
    """Check, approve and publish FILES (.bpmn with its .dmn) as a new version of their process."""
    settings = load_settings()
    require_current_database(settings)
    contents: dict[str, object] = {}
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
        contents[path.name] = path.read_bytes()[:MAX_READ_BYTES]
    runtime = bootstrap(settings)
    try:
        studio = Studio(runtime.bus.dependencies, settings.bpmn_dir)
        with runtime.unit_of_work() as uow:
            author = uow.users.get_by_email(actor)
            second = uow.users.get_by_email(approver)
            if author is None or second is None:
                fail(
                    f"Not deployed: no user has the email {actor if author is None else approver!r}"
                )
            _require_two_admins(uow, author.id, second.id, actor, approver)
        key = process_key or _process_key(contents)
        draft_id = create_draft(studio, author.id, key, contents, note)
        view = draft_view(studio, author.id, draft_id)
        _print_checks(view)
        approve_draft(studio, second.id, draft_id)
        number = publish_draft(
            studio, author.id, draft_id, note, list(schools) if schools else None
        )
        click.echo(f"Published: {key} version {number} (draft {draft_id}).")
    except DefinitionInvalid as error:
        fail("\n".join(str(p) for p in error.problems))
    except ChecksFailed as error:
        fail(f"Not published: {error}")
    except DomainError as error:
        fail(f"Not published: {error}")
    finally:
        runtime.close()


def _require_two_admins(
    uow: SqlAlchemyUnitOfWork, author_id: int, approver_id: int, actor: str, approver: str
) -> None:
    """Exit (nothing made) unless two different process admins of one school are named."""
    if author_id == approver_id:
        fail(
            f"Not deployed: --actor and --approver are both {actor}: another process admin "
            "must approve the change (four eyes), so the author cannot approve it"
        )
    ours = schools_where(uow, author_id, "process_admin")
    if not ours:
        fail(f"Not deployed: {actor} (--actor) is not a process admin of any school")
    theirs = schools_where(uow, approver_id, "process_admin")
    if not theirs:
        fail(f"Not deployed: {approver} (--approver) is not a process admin of any school")
    if not set(ours) & set(theirs):
        fail(
            f"Not deployed: {approver} (--approver) is not a process admin of a school where "
            f"{actor} is one (schools {', '.join(map(str, ours))}): the approver must be a "
            "process admin of a school that would run the change"
        )


def _process_key(contents: dict[str, object]) -> str:
    from services.domain.studio.checks import accept_files, sources_of
    from workflow.definition import load_definition

    try:
        return load_definition(sources_of(accept_files(contents))).process_id
    except DefinitionInvalid as error:
        fail("\n".join(str(p) for p in error.problems))


def _print_checks(view: dict[str, object]) -> None:
    problems = view.get("problems") or []
    scenarios = view.get("scenarios") or []
    assert isinstance(problems, list) and isinstance(scenarios, list)
    for problem in problems:
        click.echo(problem["text"], err=True)
    failed = [s for s in scenarios if not s["passed"]]
    for scenario in failed:
        kind = "statutory" if scenario["statutory"] else "local (warning)"
        click.echo(
            f"{kind} scenario {scenario['name']}: expected {scenario['expected']}; "
            f"took {scenario['taken']}: {scenario['message']}",
            err=True,
        )
    passing = len(scenarios) - len(failed)
    click.echo(f"Checks: {len(problems)} problems, {passing}/{len(scenarios)} scenarios pass.")
