"""Checking a draft: safe parsing of what was uploaded, then every check, as JSON-ready data."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.domain.studio.policy import TASK_ROLES
from services.domain.studio.scenarios import scenarios_for
from workflow.definition import Definition
from workflow.draft_check import check_draft
from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.lint_common import DiagramFile
from workflow.lint_duration_literals import check_duration_literals
from workflow.model import SourceFile
from workflow.scenario_check import Scenario
from workflow.timing import Calendar
from workflow.xml_safety import as_utf8_text, declare_utf8, is_dmn, parse_xml

MAX_FILES = 10
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}\.(bpmn|dmn)")


def accept_files(files: Mapping[str, object]) -> dict[str, str]:
    """The uploaded files as UTF-8 text, each safely parsed; DefinitionInvalid names every refusal.

    Names must be plain `.bpmn`/`.dmn` file names; each file goes through the same safe XML
    parsing as the command line (no DTDs or entities, bounded size); other encodings that a
    file declares are decoded. Nothing in a file runs.
    """
    problems: list[DiagramProblem] = []
    if not files:
        problems.append(DiagramProblem("", None, "", "no files: upload at least one .bpmn file"))
    if len(files) > MAX_FILES:
        problems.append(DiagramProblem("", None, "", f"at most {MAX_FILES} files per draft"))
    accepted: dict[str, str] = {}
    for name, content in files.items():
        if not _FILE_NAME.fullmatch(name):
            problems.append(
                DiagramProblem(
                    name[:100], None, "", "file name must be a plain name ending .bpmn or .dmn"
                )
            )
            continue
        if not isinstance(content, (str, bytes)):
            problems.append(DiagramProblem(name, None, "", "file content must be text (XML)"))
            continue
        try:
            if isinstance(content, str):  # already text (JSON): its declaration no longer applies
                text = as_utf8_text(SourceFile(name, declare_utf8(content).encode("utf-8")))
            else:
                text = as_utf8_text(SourceFile(name, content))
            parse_xml(SourceFile(name, text.encode("utf-8")))
        except DefinitionInvalid as error:
            problems.extend(error.problems)
            continue
        except UnicodeEncodeError as error:
            problems.append(
                DiagramProblem(
                    name, None, "", f"file holds an unpaired surrogate at character {error.start}"
                )
            )
            continue
        accepted[name] = text
    if not problems and not any(n.endswith(".bpmn") for n in accepted):
        problems.append(DiagramProblem("", None, "", "no .bpmn file: add the process diagram"))
    if problems:
        raise DefinitionInvalid(problems)
    return accepted


def sources_of(files: Mapping[str, str]) -> list[SourceFile]:
    """The draft's files as the engine takes them."""
    return [SourceFile(name, text.encode("utf-8")) for name, text in sorted(files.items())]


@dataclass(frozen=True)
class Checked:
    """A draft's checks as stored and shown, and the Definition when it loaded."""

    result: dict[str, Any]
    definition: Definition | None
    process_id: str | None


def run_checks(
    files: Mapping[str, str],
    process_hint: str,
    local_dir: Path,
    calendar: Calendar,
    school: Sequence[Scenario] = (),
) -> Checked:
    """Lint, the studio's rules and every scenario of the process; timed for the page.

    `school` are the scenarios schools added to `process_hint` in the studio.
    """
    started = time.perf_counter()
    sources = sources_of(files)

    def scenarios(process_id: str) -> list[Scenario]:
        return scenarios_for(process_id, local_dir, school if process_id == process_hint else ())

    check, definition = check_draft(sources, scenarios, TASK_ROLES, calendar)
    expected = scenarios(definition.process_id) if definition else []
    durations = _duration_problems(sources) if definition else []
    result = {
        "problems": [problem_json(p) for p in [*check.problems, *durations]],
        "scenarios": [s.as_dict() for s in check.scenarios],
        # A draft whose scenarios did not run (a problem stopped them) has not passed.
        "passed": check.passed and not durations and len(check.scenarios) == len(expected),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Checked(result, definition, definition.process_id if definition else process_hint)


def _duration_problems(sources: Sequence[SourceFile]) -> list[DiagramProblem]:
    """Durations past 10 years inside timer and due date expressions over answers."""
    problems = []
    for source in sources:
        tree = parse_xml(source)
        if not is_dmn(tree):
            problems += check_duration_literals(DiagramFile(source.name, tree))
    return problems


def problem_json(problem: DiagramProblem) -> dict[str, Any]:
    """The API's shape of a problem, with the CLI's located line as `text`."""
    return {
        "file": problem.file,
        "line": problem.line,
        "element_id": problem.element_id,
        "message": problem.message,
        "text": str(problem),
    }


def failures_in_words(result: Mapping[str, Any]) -> str:
    """Why a draft's checks fail, in one message."""
    parts = [p["text"] for p in result.get("problems", [])[:5]]
    for scenario in result.get("scenarios", []):
        if scenario["statutory"] and not scenario["passed"]:
            parts.append(
                f"statutory scenario {scenario['name']!r} failed: expected {scenario['expected']}; "
                f"the draft took {scenario['taken']} ({scenario['message']})"
            )
    return "; ".join(parts) or "the checks have not passed"
