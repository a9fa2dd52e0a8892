"""The expression sandbox: BPMN conditions, DMN cells, timer expressions and script tasks.

SpiffWorkflow's own script engine runs eval/exec with the real builtins, so a condition could
run shell commands; stripping builtins or eval'ing with RestrictedPython's `safe_globals` is
escapable (`().__class__.__base__.__subclasses__()`). Here code is linted (sandbox_lint), then
compiled by RestrictedPython with our policy (sandbox_policy), which turns attribute, item,
iteration and size-sensitive operator use into guard calls (sandbox_guards, sandbox_methods).
It runs with a handful of bounded builtins (sandbox_builtins) under a CPU-time bound and a
size budget (sandbox_limits); values C code would walk are measured first (sandbox_nesting). What
leaves the sandbox (a result, a script's variables) is measured too, since the engine walks it
(to store it as JSON) outside any bound. Every refusal or failure is an ExpressionError.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from types import CodeType
from typing import Any, Literal

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec

from workflow.errors import ExpressionError
from workflow.sandbox_builtins import SAFE_BUILTINS
from workflow.sandbox_guards import GUARDS
from workflow.sandbox_limits import (
    DEFAULT_CPU_SECONDS,
    SANDBOX_FILENAME,
    CallLimits,
    DeadlineExceeded,
    Refusal,
    run_bounded,
)
from workflow.sandbox_lint import lint_source
from workflow.sandbox_nesting import nested_size
from workflow.sandbox_policy import SandboxPolicy
from workflow.sandbox_sizes import text_size

Mode = Literal["eval", "exec"]
# Distinct expressions across all deployed definitions; each entry is one small code object.
_CACHE_SIZE = 4096
_PLAIN_RESULTS = (bool, str, int, float, type(None))
_STORABLE_SCALARS = (str, int, float, bool, type(None), date)  # datetime is a date
_MAX_STORED_DEPTH = 100
# What leaves the sandbox counts text at one item per this many characters: the JSON it becomes
# stays within max_sequence * this many characters, however its parts are shared.
_STORED_CHARS = 100
# A missing key is quoted in the error message only when its text is this short.
_QUOTED_KEY_LENGTH = 200
_MISSING = object()


@dataclass(frozen=True)
class _Compiled:
    code: CodeType | None
    problems: tuple[str, ...]


def lint_expression(source: str, *, mode: Literal["eval", "exec"] = "eval") -> list[str]:
    """Return human-readable problems of an expression or script (empty list = OK)."""
    return list(_compile(source, mode).problems)


_default_time_limit = DEFAULT_CPU_SECONDS


def set_default_time_limit(cpu_seconds: float) -> None:
    """Set the CPU seconds a call may use in sandboxes made without their own bound (settings)."""
    global _default_time_limit  # one process-wide setting, set at start-up from Settings
    if cpu_seconds <= 0:
        raise ValueError("the sandbox CPU time limit must be positive")
    _default_time_limit = cpu_seconds


class Sandbox:
    """Runs expressions and scripts with guarded access, a CPU-time bound and size bounds.

    `time_limit` is in CPU seconds of the evaluating thread, so a busy machine never trips it;
    without one, the process-wide default applies (SAFEGUARD_SANDBOX_CPU_SECONDS, 1 s).
    """

    def __init__(self, *, time_limit: float | None = None, max_sequence: int = 100_000) -> None:
        if time_limit is None:
            time_limit = _default_time_limit
        if time_limit <= 0 or max_sequence <= 0:
            raise ValueError("time_limit and max_sequence must be positive")
        self.time_limit = time_limit
        self.max_sequence = max_sequence
        self._globals: dict[str, Any] = {"__builtins__": SAFE_BUILTINS, **GUARDS}

    def evaluate(self, expression: str, variables: Mapping[str, Any]) -> Any:
        """Evaluate an expression over the variables; raise ExpressionError on any failure."""
        namespace = dict(variables)
        namespace.update(self._globals)
        result = self._run(expression, "eval", namespace)
        if isinstance(result, _PLAIN_RESULTS):
            return result
        if isinstance(result, Iterator):
            raise ExpressionError(
                expression, "gives an iterator, not a value: wrap it in list(...)"
            )
        if self._stored_size(result, self.max_sequence) > self.max_sequence:
            raise ExpressionError(expression, f"gives a value {self._too_large}")
        return result

    def execute(self, script: str, variables: dict[str, Any]) -> None:
        """Run a script; write its new, changed and deleted top-level names back to `variables`."""
        namespace = dict(variables)
        namespace.update(self._globals)
        self._run(script, "exec", namespace)
        self._check_stored_size(script, namespace)
        changed = {
            name: value
            for name, value in namespace.items()
            if variables.get(name, _MISSING) is not value and name[:1] != "_"
        }
        for name, value in changed.items():
            problem = _storable_problem(value, 0, set())
            if problem:
                raise ExpressionError(script, f"variable {name!r} {problem}")
        for name in [n for n in variables if n not in namespace and n[:1] != "_"]:
            del variables[name]
        variables.update(changed)

    def _check_stored_size(self, script: str, namespace: dict[str, Any]) -> None:
        # Every variable, not only the new ones: a list already in the task data may have been
        # appended to in place. Containers shared between variables count in each.
        left = self.max_sequence
        for name, value in namespace.items():
            if name[:1] != "_":
                left -= self._stored_size(value, left)
                if left < 0:
                    raise ExpressionError(script, f"leaves variable {name!r} {self._too_large}")

    @staticmethod
    def _stored_size(value: object, budget: int) -> int:
        return nested_size(value, budget, chars_per_item=_STORED_CHARS)

    @property
    def _too_large(self) -> str:
        return (
            f"too large to store: over {self.max_sequence:,} items (and {_STORED_CHARS} "
            f"characters of text count as one) in all, counting the items of nested lists each "
            f"time they appear (a list or dict inside itself never ends)"
        )

    def _run(self, source: str, mode: Mode, namespace: dict[str, Any]) -> Any:
        compiled = _compile(source, mode)
        if compiled.code is None:
            raise ExpressionError(source, "; ".join(compiled.problems))
        limits = CallLimits(self.time_limit, self.max_sequence)
        try:
            return run_bounded(limits, compiled.code, namespace, mode)
        except DeadlineExceeded:
            raise ExpressionError(
                source, f"used more than {self.time_limit:g} s of CPU time"
            ) from None
        except Refusal as refusal:
            raise ExpressionError(source, str(refusal)) from None
        except ExpressionError:
            raise  # from a function passed in the variables that itself uses a sandbox
        except RecursionError:
            raise ExpressionError(source, "nests too deeply") from None
        except MemoryError:
            raise ExpressionError(source, "ran out of memory") from None
        except Exception as error:
            raise ExpressionError(source, _describe(error)) from error


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str, mode: Mode) -> _Compiled:
    if not isinstance(source, str):
        return _Compiled(None, (f"must be text, not {type(source).__name__}",))
    if mode == "eval":
        # Modellers put conditions on their own indented line in the XML; that is not an error.
        source = source.strip()
    problems = lint_source(source, mode)
    if problems:
        return _Compiled(None, tuple(problems))
    compile_restricted = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compile_restricted(source, filename=SANDBOX_FILENAME, policy=SandboxPolicy)
    except SyntaxError as error:  # found by the compiler, not the parser: `return` at top level
        where = f"line {error.lineno or 1}, col {error.offset or 1}"
        return _Compiled(None, (f"{where}: syntax error: {error.msg}",))
    except (ValueError, RecursionError, MemoryError) as error:
        return _Compiled(None, (f"cannot be compiled: {error}",))
    if result.errors:
        # RestrictedPython's own wording ("Line 2: ..."): only reached if our lint missed it.
        return _Compiled(
            None, tuple(f"l{e[1:]}" if e.startswith("Line") else e for e in result.errors)
        )
    return _Compiled(result.code, ())


def _describe(error: Exception) -> str:
    if isinstance(error, (NameError, AttributeError)):
        return str(error)  # "name 'os' is not defined", "'int' object has no attribute 'x'"
    if isinstance(error, KeyError) and error.args:
        # Outside the time bound: a key's text is measured before it is printed.
        key = error.args[0]
        if text_size(key, _QUOTED_KEY_LENGTH) > _QUOTED_KEY_LENGTH:
            return f"a key ({type(key).__name__}) is missing"
        return f"key {key!r} is missing"
    return f"{type(error).__name__}: {error}"


def _storable_problem(value: Any, depth: int, path: set[int]) -> str | None:
    # Task data is stored as JSON: plain scalars, dates, and lists and dicts of them.
    if isinstance(value, _STORABLE_SCALARS):
        return None
    if not isinstance(value, (list, dict)):
        return (
            f"holds a {type(value).__name__}, which task data cannot store (use str, int, float, "
            f"bool, None, list, dict, date or datetime; `del` it if it is temporary)"
        )
    if id(value) in path or depth > _MAX_STORED_DEPTH:
        return "holds a list or dict nested too deeply (or inside itself)"
    if isinstance(value, dict):
        key = next((k for k in value if not isinstance(k, str)), None)
        if key is not None:
            return f"holds a dict with the key {key!r}; task data keys must be strings"
    path.add(id(value))
    items = value.values() if isinstance(value, dict) else value
    problem = next((p for p in (_storable_problem(v, depth + 1, path) for v in items) if p), None)
    path.discard(id(value))
    return problem
