"""Static checks of sandbox expressions and scripts, in words a process author understands.

These run before RestrictedPython compiles the code (which refuses much the same, in its own
words): a refused construct is reported here with its line and column, so a diagram is rejected
at upload time with a message that says what to change.
"""

from __future__ import annotations

import ast
import re
from typing import Literal

from workflow.sandbox_guards import MAX_FORMAT_WIDTH, REFUSED_ATTRIBUTES

Mode = Literal["eval", "exec"]
MAX_SOURCE_LENGTH = 20_000
# strftime writes up to 256 characters per format character: date format specs stay short.
MAX_FORMAT_SPEC_LENGTH = 100
# Builtins that run code, reach namespaces or introspect objects. None is offered, so code using
# them would fail anyway; naming them here makes the refusal explicit and early.
REFUSED_NAMES = frozenset(
    {
        "exec", "eval", "compile", "open", "input", "breakpoint", "help", "exit", "quit",
        "getattr", "setattr", "delattr", "hasattr", "globals", "locals", "vars", "dir", "type",
        "object", "super", "memoryview", "print", "printed",
    }
)  # fmt: skip
# Constructs a condition or a short script task never needs; each opens a way round the guards
# (a function keeps frames alive, `try` could swallow the time-out, `with` runs arbitrary hooks).
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Import: "import is not allowed",
    ast.ImportFrom: "import is not allowed",
    ast.FunctionDef: "function definitions (def) are not allowed",
    ast.AsyncFunctionDef: "function definitions (def) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.Try: "try/except is not allowed",
    ast.With: "'with' is not allowed",
    ast.AsyncWith: "'with' is not allowed",
    ast.AsyncFor: "'async for' is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Global: "'global' is not allowed",
    ast.Nonlocal: "'nonlocal' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Match: "'match' is not allowed",
    ast.AnnAssign: "type annotations are not allowed",
}
if hasattr(ast, "TryStar"):
    _REFUSED_NODES[ast.TryStar] = "try/except is not allowed"
_NUMBER = re.compile(r"\d+")


def lint_source(source: str, mode: Mode) -> list[str]:
    """Return the problems of `source` (empty when it may be compiled), each located."""
    if len(source) > MAX_SOURCE_LENGTH:
        return [f"is too long ({len(source):,} characters; at most {MAX_SOURCE_LENGTH:,})"]
    try:
        tree = ast.parse(source, "<sandbox>", mode)
    except SyntaxError as error:
        where = f"line {error.lineno or 1}, col {error.offset or 1}"
        return [f"{where}: syntax error: {error.msg}"]
    except (RecursionError, MemoryError):
        return ["is nested too deeply to read"]
    except ValueError as error:  # a null byte in the source
        return [f"cannot be read: {error}"]
    problems: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        message = problem_of(node)
        if message:
            problems.append((*_position(node), message))
    return [f"line {line}, col {col}: {message}" for line, col, message in sorted(set(problems))]


def _position(node: ast.AST) -> tuple[int, int]:
    # An attribute's node starts where its object starts: point at the attribute's own name.
    line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
    if isinstance(node, ast.Attribute) and node.end_lineno == line and node.end_col_offset:
        col = node.end_col_offset - len(node.attr) + 1
    return line, col


def problem_of(node: ast.AST) -> str | None:
    """What is wrong with this one node, if anything."""
    refused = _REFUSED_NODES.get(type(node))
    if refused:
        return refused
    if isinstance(node, ast.Name):
        return _name_problem(node.id)
    if isinstance(node, ast.Attribute):
        return _attribute_problem(node.attr, node.ctx)
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        return format_spec_problem(node.format_spec)
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
        return "assigning to a slice is not allowed" if isinstance(node.slice, ast.Slice) else None
    if isinstance(node, ast.Set) and any(isinstance(e, ast.Starred) for e in node.elts):
        return "unpacking (*) inside a set literal is not allowed: use set(...)"
    if isinstance(node, ast.AugAssign) and not isinstance(node.target, ast.Name):
        return "augmented assignment (+= and the like) works on plain names only"
    if isinstance(node, ast.keyword) and node.arg and node.arg.startswith("_"):
        return f"keyword {node.arg!r} is not allowed (names starting with '_' are reserved)"
    return None


def format_spec_problem(spec: ast.expr) -> str | None:
    """An f-string format spec must be constant, with widths up to MAX_FORMAT_WIDTH."""
    parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
    if not all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
        return "f-string format specs must be constant (no {...} inside them)"
    text = "".join(str(p.value) for p in parts if isinstance(p, ast.Constant))
    if len(text) > MAX_FORMAT_SPEC_LENGTH:
        return f"f-string format spec is too long; at most {MAX_FORMAT_SPEC_LENGTH} characters"
    if any(len(n) > 6 or int(n) > MAX_FORMAT_WIDTH for n in _NUMBER.findall(text)):
        return f"f-string format width is too large; at most {MAX_FORMAT_WIDTH} allowed"
    return None


def _name_problem(name: str) -> str | None:
    if name.startswith("_") and name != "_":
        return f"name {name!r} is not allowed (names starting with '_' are reserved)"
    if name in REFUSED_NAMES:
        return f"name {name!r} is not allowed"
    return None


def _attribute_problem(name: str, context: ast.expr_context) -> str | None:
    if name.startswith("_") or name in REFUSED_ATTRIBUTES:
        why = (
            " (str.format can reach hidden attributes: use an f-string)" if "format" in name else ""
        )
        return f"attribute {name!r} is not allowed{why}"
    if not isinstance(context, ast.Load):
        return "changing attributes is not allowed"
    return None
