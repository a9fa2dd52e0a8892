"""The RestrictedPython policy of the sandbox: its own refusals plus rewrites for size guards.

RestrictedPython already turns attribute, item and iteration access into guard calls. Some bombs
never reach one of those and never yield a line event for the time bound to see: `9**9**9`,
`'a' * 10**10`, `[0] * 10**10` and `1 << 10**9` each run as one C-level operation. So this policy
also rewrites those operators into guard calls (`a * b` becomes `_mul_(a, b)`) that look at the
operands' sizes and refuse before computing: the result's digits or length are known from the
operands alone (bits of a*b <= bits(a) + bits(b); len(s*n) = len(s)*n), which makes the check
sound and cheap. `+` and `%` (joining and %-formatting), `|`, `&`, `^` and `-` (set operations of
dict views, which hash any iterable in C), `*x`/`**x` unpacking and f-string fields are wrapped
the same way. Rewriting the AST also keeps CPython's compiler from folding such
constant expressions at compile time.
"""

from __future__ import annotations

import ast
from typing import Any

from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from workflow.sandbox_lint import problem_of

_OPERATOR_GUARDS: dict[type[ast.operator], str] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
    ast.BitOr: "_or_",
    ast.BitAnd: "_and_",
    ast.BitXor: "_xor_",
    ast.Sub: "_sub_",
}


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's checks, the sandbox lint's refusals, and the size-guard rewrites."""

    def visit(self, node: ast.AST) -> Any:
        """Refuse what the lint refuses (a second line behind it), then transform."""
        problem = problem_of(node)
        if problem:
            self.error(node, problem)
        return super().visit(node)

    def visit_While(self, node: ast.While) -> Any:
        """Start every loop round with a `_tick_()` call, which checks the deadline."""
        # CPython compiles `while True: pass` to one instruction jumping to itself, and that jump
        # raises no line event (it is not to an earlier instruction), so the tracer alone would
        # never see the loop. A call is never optimised away and always raises a call event.
        node = self.node_contents_visit(node)
        tick = ast.Expr(_guard_call("_tick_", [], node.test))
        copy_locations(tick, node)
        node.body.insert(0, tick)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        """Route the operators that can build huge values through their guards."""
        node = self.node_contents_visit(node)
        guard = _OPERATOR_GUARDS.get(type(node.op))
        if guard is None:
            return node
        return _guard_call(guard, [node.left, node.right], node)

    def visit_Starred(self, node: ast.Starred) -> Any:
        """`*value` in a literal or call: size-check the value first."""
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _guard_call("_sized_", [node.value], node.value)
        return node

    def visit_Dict(self, node: ast.Dict) -> Any:
        """`{**value}`: size-check the value first."""
        node = self.node_contents_visit(node)
        node.values = [
            _guard_call("_sized_", [value], value) if key is None else value
            for key, value in zip(node.keys, node.values, strict=True)
        ]
        return node

    def visit_keyword(self, node: ast.keyword) -> Any:
        """`f(**value)`: size-check the value first."""
        node = self.node_contents_visit(node)
        if node.arg is None:
            node.value = _guard_call("_sized_", [node.value], node.value)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        """`f'{value}'`: refuse a value whose text would be too long."""
        node = self.node_contents_visit(node)
        node.value = _guard_call("_formatted_", [node.value], node.value)
        return node


def _guard_call(guard: str, args: list[ast.expr], where: ast.expr) -> ast.Call:
    call = ast.Call(func=ast.Name(guard, ast.Load()), args=args, keywords=[])
    copy_locations(call, where)
    return call
