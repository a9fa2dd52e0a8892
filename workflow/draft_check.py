"""Check a draft as the studio does: parse, lint, the studio's rules, then every scenario."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from workflow.definition import Definition, load_definition
from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.lane_roles import apply_lane_roles
from workflow.lint_studio import check_studio_rules
from workflow.model import SourceFile
from workflow.scenario_check import Scenario, ScenarioOutcome, run_scenarios
from workflow.timing import Calendar
from workflow.xml_safety import parse_xml


@dataclass(frozen=True)
class DraftCheck:
    """The problems of a draft and what each scenario did; scenarios run only on a clean draft."""

    problems: tuple[DiagramProblem, ...]
    scenarios: tuple[ScenarioOutcome, ...]

    @property
    def passed(self) -> bool:
        """No problem and every statutory scenario passed (local scenarios only warn)."""
        return not self.problems and all(s.passed for s in self.scenarios if s.statutory)


def check_draft(
    files: Sequence[SourceFile],
    scenarios: Sequence[Scenario] | Callable[[str], Sequence[Scenario]],
    task_roles: Collection[str],
    calendar: Calendar | None = None,
) -> tuple[DraftCheck, Definition | None]:
    """Every check of a draft, and its Definition when it loads; nothing in it runs unsandboxed.

    `scenarios` may be a function of the process id the draft declares.
    """
    try:
        definition = load_definition(files)
    except DefinitionInvalid as error:
        return DraftCheck(tuple(error.problems), ()), None
    trees = []
    for source in files:
        tree = parse_xml(source)
        apply_lane_roles(tree)
        trees.append((source, tree))
    problems = check_studio_rules(trees, task_roles)
    if problems:
        return DraftCheck(tuple(problems), ()), definition
    chosen = scenarios(definition.process_id) if callable(scenarios) else scenarios
    return DraftCheck((), tuple(run_scenarios(definition, chosen, calendar))), definition
