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

Comparisons, set and dict literals, comprehension keys and subscript-store keys walk or hash
their operands in C, which shared references can make arbitrarily long; those operands go through
the nested-size checks of sandbox_nesting (whose docstring gives the soundness argument). An
operand compared with a literal of constants is not checked: the walk stops within the literal.
"""

from __future__ import annotations

import ast
from typing import Any, cast

from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from workflow.sandbox_lint import problem_of

_SEARCHES = (ast.In, ast.NotIn)
_IDENTITIES = (ast.Is, ast.IsNot)
# A single comparison becomes one guard call, which looks at both operands (sandbox_nesting).
_COMPARISON_GUARDS: dict[type[ast.cmpop], str] = {
    ast.Eq: "_eq_",
    ast.NotEq: "_ne_",
    ast.Lt: "_lt_",
    ast.LtE: "_le_",
    ast.Gt: "_gt_",
    ast.GtE: "_ge_",
    ast.In: "_in_",
    ast.NotIn: "_not_in_",
}
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

    def visit_Compare(self, node: ast.Compare) -> Any:
        """Check the size of the operands C would walk; chains keep their order and laziness."""
        node = self.node_contents_visit(node)
        operands = [node.left, *node.comparators]
        walked = _walked_operands(operands, node.ops)
        if not any(walked):  # `x == True`, `x in ['a', 'b']`, `a is b`: nothing to check
            return node
        if len(node.ops) == 1:
            return _guard_call(_COMPARISON_GUARDS[type(node.ops[0])], operands, node)
        # In a chain, wrapping each operand in place keeps it evaluated once, in order, and only
        # when the chain gets that far.
        checked = [
            _guard_call("_compared_", [operand], operand) if walk else operand
            for operand, walk in zip(operands, walked, strict=True)
        ]
        node.left, node.comparators = checked[0], checked[1:]
        return node

    def visit_Set(self, node: ast.Set) -> Any:
        """`{a, b}` with computed items: built by `_set_`, which checks and chunks the hashing."""
        node = self.node_contents_visit(node)
        return node if _is_small(node) else _guard_call("_set_", list(node.elts), node)

    def visit_Dict(self, node: ast.Dict) -> Any:
        """`{**value}`: size-check the value; computed keys: build it with `_dict_`."""
        node = self.node_contents_visit(node)
        node.values = [
            _guard_call("_sized_", [value], value) if key is None else value
            for key, value in zip(node.keys, node.values, strict=True)
        ]
        if all(key is None or _is_small(key) for key in node.keys):
            return node
        entries: list[ast.expr] = []
        for key, value in zip(node.keys, node.values, strict=True):
            entries += [key or _named("_mapping_", value), value]
        return _guard_call("_dict_", entries, node)

    def visit_SetComp(self, node: ast.SetComp) -> Any:
        """`{x for ...}`: check each item before it is hashed."""
        node = cast(ast.SetComp, super().visit_SetComp(node))  # the node itself, visited
        if not _is_small(node.elt):
            node.elt = _guard_call("_hashed_", [node.elt], node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> Any:
        """`{k: v for ...}`: check each key before it is hashed."""
        node = cast(ast.DictComp, super().visit_DictComp(node))
        if not _is_small(node.key):
            node.key = _guard_call("_hashed_", [node.key], node.key)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        """`d[k] = v` and `del d[k]`: check the key before it is hashed (loads: `_getitem_`)."""
        result = super().visit_Subscript(node)
        if not isinstance(result, ast.Subscript) or _is_small(result.slice):
            return result  # a load: `_getitem_(obj, key)` checks the key at run time
        node = result
        if isinstance(node.slice, ast.Tuple):  # d[a, b:c]: a slice may only stand here itself
            node.slice.elts = [_hashed_unless_slice(part) for part in node.slice.elts]
        else:
            node.slice = _hashed_unless_slice(node.slice)
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


def _named(name: str, where: ast.expr) -> ast.Name:
    node = ast.Name(name, ast.Load())
    copy_locations(node, where)
    return node


def _hashed_unless_slice(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Slice) or _is_small(node):
        return node
    return _guard_call("_hashed_", [node], node)


def _walked_operands(operands: list[ast.expr], ops: list[ast.cmpop]) -> list[bool]:
    # Which operands C may walk further than the literal they are compared with.
    walked = [False] * len(operands)
    for index, op in enumerate(ops):
        left, right = operands[index], operands[index + 1]
        if isinstance(op, _SEARCHES):
            walked[index] |= not (_is_small(left) or _bounds_search(right))
            walked[index + 1] |= not _is_small(right)
        elif not isinstance(op, _IDENTITIES) and not (_is_small(left) or _is_small(right)):
            walked[index] = walked[index + 1] = True
    return walked


def _is_small(node: ast.expr) -> bool:
    # A constant, or a list/tuple/set literal of them: its size is bounded by the source's.
    if isinstance(node, ast.Constant):
        return True
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and all(map(_is_small, node.elts))


def _bounds_search(container: ast.expr) -> bool:
    # `x in [1, 2]` compares x with each constant, and `x in 'abc'` needs x to be text: both
    # stop within the literal. A set literal hashes x instead, which walks all of x.
    return isinstance(container, ast.Constant) or (
        isinstance(container, (ast.List, ast.Tuple)) and _is_small(container)
    )
