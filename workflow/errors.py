"""Errors the engine core raises, each naming what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiagramProblem:
    """One problem in an uploaded BPMN/DMN file, located by file, line and element."""

    file: str
    line: int | None
    element_id: str
    message: str
    element_name: str = ""

    def __str__(self) -> str:
        """Render as `file:line: element-id (name): message`, the CLI's line format."""
        where = f"{self.file}:{self.line if self.line is not None else '?'}"
        element = self.element_id or "-"
        if self.element_name:
            element = f"{element} ({self.element_name})"
        return f"{where}: {element}: {self.message}"


class SafeguardError(Exception):
    """Base class of every error the engine core raises on purpose."""


class DefinitionInvalid(SafeguardError):
    """A bundle of BPMN/DMN files was rejected; nothing from it was run."""

    def __init__(self, problems: list[DiagramProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class TaskDataInvalid(SafeguardError):
    """Submitted form data failed validation; field id -> list of messages."""

    def __init__(self, task_bpmn_id: str, errors: dict[str, list[str]]) -> None:
        self.task_bpmn_id = task_bpmn_id
        self.errors = errors
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        super().__init__(f"invalid data for task {task_bpmn_id}: {detail}")


class TaskNotReady(SafeguardError):
    """The task is not (or no longer) ready: completed already, cancelled, or unknown."""


class ExpressionError(SafeguardError):
    """A BPMN/DMN expression was refused by the sandbox or failed when run."""

    def __init__(self, expression: str, message: str, element_id: str = "") -> None:
        self.expression = expression
        self.message = message
        self.element_id = element_id
        where = f"{element_id}: " if element_id else ""
        super().__init__(f"{where}{message} in expression {expression!r}")


class EngineStepLimit(SafeguardError):
    """Engine steps ran past their time or step bound (a loop in the diagram, say)."""


class ProcessFailed(SafeguardError):
    """A running instance hit an error its diagram caused (no flow matched); nothing was saved."""

    def __init__(self, element_id: str, message: str) -> None:
        self.element_id = element_id
        self.message = message
        super().__init__(f"{element_id}: {message}" if element_id else message)


class StateUnreadable(SafeguardError):
    """A stored instance state could not be loaded (unknown serializer version, corrupt JSON)."""
