"""The expression sandbox: what BPMN/DMN expressions and scripts can do, and what they cannot."""

from __future__ import annotations

import ctypes
import datetime as datetime_module
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec

from workflow.errors import ExpressionError
from workflow.sandbox import Sandbox, lint_expression, set_default_time_limit
from workflow.sandbox_limits import DEFAULT_CPU_SECONDS
from workflow.sandbox_policy import SandboxPolicy

# CPU seconds of the test's thread: every refusal, bomb or time-out must end well within this.
# CPU time, not wall time, so a busy machine (CI shares two cores) cannot fail these tests.
QUICK = 1.0
# The bound the `sandbox` fixture runs with: well below QUICK, so a time-out fits inside it.
TEST_CPU_SECONDS = 0.25


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(time_limit=TEST_CPU_SECONDS)


def refusal(run: Callable[[], object]) -> tuple[str, float]:
    """Run, expect an ExpressionError; return its message and the CPU seconds it took."""
    started = time.thread_time()
    with pytest.raises(ExpressionError) as caught:
        run()
    return str(caught.value), time.thread_time() - started


# --- What expressions are for -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        ("immediate_referral == True", {"immediate_referral": True}, True),
        ("immediate_referral == True", {"immediate_referral": False}, False),
        ("(adult_involved) == (True)", {"adult_involved": True}, True),
        ("dmninputexpr > 3", {"dmninputexpr": 2}, False),
        ("dmninputexpr in ['a','b']", {"dmninputexpr": "b"}, True),
        ("dmninputexpr in ['a','b']", {"dmninputexpr": "c"}, False),
        ("age < 13 or not consent", {"age": 15, "consent": False}, True),
        ("'P1D'", {}, "P1D"),
        ("name.strip().lower() == 'sam'", {"name": "  Sam "}, True),
        ("f'{count} of {total}'", {"count": 2, "total": 5}, "2 of 5"),
        ("any(c in criteria for c in ['adult_involved', 'coercion'])", {"criteria": ["x"]}, False),
        ("sorted(set(xs))[-1] + max(xs) + min(xs) + sum(xs) + len(xs)", {"xs": [3, 1, 3]}, 17),
        ("[i * 2 for i in range(3)]", {}, [0, 2, 4]),
        ("{k: v for k, v in zip('ab', (1, 2))}", {}, {"a": 1, "b": 2}),
        ("dict(a=1)['a'] + int('2') + round(2.6) + abs(-1)", {}, 7),
        ("isinstance(x, (int, float)) and not isinstance(x, str)", {"x": 1.5}, True),
        ("list(enumerate('ab'))", {}, [(0, "a"), (1, "b")]),
        ("'%s has %d' % ('Sam', 2)", {}, "Sam has 2"),
        ("tuple(sorted(['bb', 'a'], key=len))", {}, ("a", "bb")),
        ("2 ** 10 + (1 << 4) + 7 % 3", {}, 1041),
        ("len(str(2**9999))", {}, 3010),
        ("{'a': 1}.keys() - ['a']", {}, set()),
    ],
)
def test_evaluates_conditions_and_dmn_cells(
    sandbox: Sandbox, expression: str, variables: dict[str, Any], expected: object
) -> None:
    assert sandbox.evaluate(expression, variables) == expected


def test_evaluates_timer_expressions_over_dates(sandbox: Sandbox) -> None:
    deadline = date(2025, 3, 1)
    assert sandbox.evaluate("deletion_deadline", {"deletion_deadline": deadline}) == deadline
    reported = datetime(2025, 1, 31, 9, 0)
    variables = {"reported_at": reported, "one_day": timedelta(days=1)}
    assert sandbox.evaluate("(reported_at + one_day).date().isoformat()", variables) == "2025-02-01"
    assert sandbox.evaluate("f'{reported_at:%d %B %Y}'", variables) == "31 January 2025"


def test_reads_any_mapping_of_variables(sandbox: Sandbox) -> None:
    assert sandbox.evaluate("a + 1", MappingProxyType({"a": 1})) == 2


def test_an_unknown_name_is_an_expression_error_naming_it(sandbox: Sandbox) -> None:
    message, _ = refusal(lambda: sandbox.evaluate("os", {}))
    assert "name 'os' is not defined" in message
    assert "'os'" in message  # the expression itself is quoted too


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("1 / 0", "ZeroDivisionError: division by zero"),
        ("d['missing']", "key 'missing' is missing"),
        ("d.missing", "'dict' object has no attribute 'missing'"),
        ("None > 1", "TypeError"),
        ("list(1, 2)", "list() takes"),
    ],
)
def test_runtime_failures_are_expression_errors(
    sandbox: Sandbox, expression: str, fragment: str
) -> None:
    message, _ = refusal(lambda: sandbox.evaluate(expression, {"d": {}}))
    assert fragment in message
    assert "_getattr_" not in message and "_getitem_" not in message


def test_a_generator_result_is_refused_rather_than_run_outside_the_bounds(
    sandbox: Sandbox,
) -> None:
    message, _ = refusal(lambda: sandbox.evaluate("(x * 2 for x in xs)", {"xs": [1]}))
    assert "wrap it in list(...)" in message


# --- Scripts -------------------------------------------------------------------------------------


def test_script_task_assigns_the_referral_criteria(sandbox: Sandbox) -> None:
    variables: dict[str, Any] = {"adult_involved": True, "coercion_or_grooming": False}
    variables["locals_get"] = variables.get
    sandbox.execute(
        "referral_criteria = [c for c in ['adult_involved', 'coercion_or_grooming']"
        " if locals_get(c)]",
        variables,
    )
    assert variables["referral_criteria"] == ["adult_involved"]


def test_script_writes_back_new_changed_and_deleted_names(sandbox: Sandbox) -> None:
    variables: dict[str, Any] = {"count": 1, "notes": "a", "scratch": 0, "kept": [1]}
    script = """
summary = {'count': count, 'tags': []}
for tag in ['x', 'y']:
    if tag != 'y':
        summary['tags'].append(tag.upper())
count += 2
notes = notes + '-' + str(count)
total = 0
while total < 3:
    total = total + 1
when = today + timedelta_value
del scratch, tag
"""
    variables.update(today=date(2025, 1, 1), timedelta_value=timedelta(days=2))
    sandbox.execute(script, variables)
    assert variables["summary"] == {"count": 1, "tags": ["X"]}
    assert variables["count"] == 3
    assert variables["notes"] == "a-3"
    assert variables["total"] == 3
    assert variables["when"] == date(2025, 1, 3)
    assert "scratch" not in variables and "tag" not in variables
    assert variables["kept"] == [1]
    assert set(variables) == {
        *("count", "notes", "kept", "today", "timedelta_value"),
        *("summary", "total", "when"),
    }  # nothing of the sandbox's own (guards, builtins) leaks into the task data


def test_script_may_not_store_values_task_data_cannot_hold(sandbox: Sandbox) -> None:
    variables: dict[str, Any] = {"a": 1}
    message, _ = refusal(lambda: sandbox.execute("a = 2\npairs = zip('ab', 'cd')", variables))
    assert "variable 'pairs' holds a zip" in message
    assert variables == {"a": 1}  # nothing written when the script fails


def test_script_may_not_store_a_list_inside_itself(sandbox: Sandbox) -> None:
    message, _ = refusal(lambda: sandbox.execute("xs = []\nxs.append(xs)", {}))
    assert "inside itself" in message


def test_a_failing_script_leaves_the_variables_unchanged(sandbox: Sandbox) -> None:
    variables: dict[str, Any] = {"a": 1}
    refusal(lambda: sandbox.execute("a = 5\nb = 1 / 0", variables))
    assert variables == {"a": 1}


# --- Lint at deploy time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "mode"),
    [
        ("immediate_referral == True", "eval"),
        ("dmninputexpr in ['a','b']", "eval"),
        ("'PT24H'", "eval"),
        ("x = [c for c in ['a', 'b'] if c]\ny = {'k': len(x)}\nfor i in x:\n  y[i] = i", "exec"),
        ("for _ in range(3):\n    pass", "exec"),
    ],
)
def test_lint_accepts_ordinary_expressions_and_scripts(source: str, mode: Any) -> None:
    assert lint_expression(source, mode=mode) == []


def test_lint_reports_syntax_errors_with_line_and_column() -> None:
    assert lint_expression("a == )") == ["line 1, col 6: syntax error: unmatched ')'"]
    assert lint_expression("x = 1\ny = (", mode="exec")[0].startswith("line 2, col 5: syntax")
    assert lint_expression("return 1", mode="exec") == [
        "line 1, col 1: syntax error: 'return' outside function"
    ]


def test_lint_refuses_an_over_long_expression() -> None:
    assert "too long" in lint_expression("1 + " * 6000 + "1")[0]


# Each attack, the mode it is written in, and a fragment of the refusal. The sandbox refuses
# each one at lint time (deploy) and again when asked to run it.
ESCAPES = [
    ("dunder_import_shell", "__import__('os').system('id')", "eval", "name '__import__'"),
    ("subclasses_walk", "().__class__.__base__.__subclasses__()", "eval", "'__class__'"),
    ("str_format_attribute", "'{0.__class__}'.format(1)", "eval", "attribute 'format'"),
    ("format_map_globals", "'{x.__globals__}'.format_map({'x': f})", "eval", "'format_map'"),
    ("fstring_dunder", "f'{().__class__}'", "eval", "attribute '__class__' is not allowed"),
    ("fstring_nested_spec", "f'{x:{w}}'", "eval", "format specs must be constant"),
    ("getattr_builtin", "getattr(1, '__class__')", "eval", "name 'getattr'"),
    ("type_builtin", "type(1)", "eval", "name 'type'"),
    ("vars_builtin", "vars()", "eval", "name 'vars'"),
    ("globals_builtin", "globals()", "eval", "name 'globals'"),
    ("open_file", "open('/etc/passwd')", "eval", "name 'open'"),
    ("exec_builtin", "exec('1')", "eval", "name 'exec'"),
    ("eval_builtin", "eval('1')", "eval", "name 'eval'"),
    ("compile_builtin", "compile('1', 'x', 'eval')", "eval", "name 'compile'"),
    ("generator_frame", "(x for x in []).gi_frame", "eval", "'gi_frame'"),
    ("frame_globals", "(x for x in []).gi_frame.f_globals", "eval", "'f_globals'"),
    ("generator_code", "(x for x in []).gi_code", "eval", "'gi_code'"),
    ("builtins_via_function", "f.__globals__['__builtins__']", "eval", "'__globals__'"),
    ("builtins_attribute", "f.__builtins__", "eval", "'__builtins__'"),
    ("builtins_name", "__builtins__", "eval", "name '__builtins__'"),
    ("guard_name", "_getattr_", "eval", "name '_getattr_'"),
    ("mro_to_object", "int.mro()", "eval", "attribute 'mro'"),
    ("lambda", "lambda: 0", "eval", "lambda is not allowed"),
    ("import_statement", "import os", "exec", "import is not allowed"),
    ("from_import", "from os import system", "exec", "import is not allowed"),
    ("function_definition", "def f():\n    return 1", "exec", "function definitions"),
    ("class_definition", "class A:\n    pass", "exec", "class definitions"),
    ("try_swallowing_timeout", "try:\n    x = 1\nexcept BaseException:\n    pass", "exec", "try"),
    ("with_statement", "with x:\n    pass", "exec", "'with' is not allowed"),
    ("global_statement", "global x", "exec", "'global' is not allowed"),
    ("attribute_assignment", "f.x = 1", "exec", "changing attributes"),
    ("slice_assignment_growth", "xs[:0] = xs", "exec", "assigning to a slice"),
    ("print_collector", "print(1)", "eval", "name 'print'"),
]


@pytest.mark.parametrize(
    ("source", "mode", "fragment"),
    [attack[1:] for attack in ESCAPES],
    ids=[attack[0] for attack in ESCAPES],
)
def test_escape_is_refused_by_lint_and_at_run_time(
    sandbox: Sandbox, source: str, mode: Any, fragment: str
) -> None:
    problems = lint_expression(source, mode=mode)
    assert any(fragment in problem for problem in problems), problems
    assert all(problem.startswith("line ") for problem in problems)

    def function() -> None:
        return None

    variables: dict[str, Any] = {"f": function, "x": 1, "w": 5, "xs": [1]}
    if mode == "eval":
        message, _ = refusal(lambda: sandbox.evaluate(source, variables))
    else:
        message, _ = refusal(lambda: sandbox.execute(source, variables))
    assert fragment in message


@pytest.mark.parametrize(
    ("source", "mode"),
    [
        ("().__class__.__base__.__subclasses__()", "eval"),
        ("(x for x in []).gi_frame", "eval"),
        ("import os", "exec"),
        ("lambda: 0", "eval"),
        ("try:\n    pass\nexcept:\n    pass", "exec"),
    ],
    ids=["subclasses_walk", "generator_frame", "import", "lambda", "try"],
)
def test_the_restrictedpython_policy_alone_also_refuses(source: str, mode: str) -> None:
    # A second line behind the lint: compiled without it, the policy still refuses.
    compile_restricted = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    assert compile_restricted(source, policy=SandboxPolicy).errors


# --- Run-time guards: what only shows when the code runs --------------------------------------


def test_a_module_passed_in_cannot_be_used_to_reach_sys(sandbox: Sandbox) -> None:
    # The datetime module imports sys: `datetime.sys.modules['os']` would be a way out.
    message, _ = refusal(lambda: sandbox.evaluate("dt.sys", {"dt": datetime_module}))
    assert "modules are not available" in message


def test_an_attribute_holding_a_module_is_refused(sandbox: Sandbox) -> None:
    holder = SimpleNamespace(os=sys.modules["os"])
    message, _ = refusal(lambda: sandbox.evaluate("holder.os.system", {"holder": holder}))
    assert "modules are not available" in message


def test_only_lists_and_dicts_can_be_changed(sandbox: Sandbox) -> None:
    class Settings(dict[str, Any]):
        pass

    message, _ = refusal(lambda: sandbox.execute("t[0] = 1", {"t": (1, 2)}))
    assert "a tuple cannot be changed" in message
    settings = Settings()
    sandbox.execute("s['x'] = 1", {"s": settings})  # a dict subclass is still a dict
    assert settings == {"x": 1}


def test_isinstance_is_limited_to_the_offered_types(sandbox: Sandbox) -> None:
    message, _ = refusal(lambda: sandbox.evaluate("isinstance(x, c)", {"x": 1, "c": object}))
    assert "isinstance() accepts only" in message


# --- Bombs: single operations that would never yield a line event -------------------------------

BOMBS = [
    ("power_tower", "9**9**9", "digits"),
    ("string_repeat", "'a' * 10**10", "100,000 allowed"),
    ("list_repeat", "[0] * 10**10", "100,000 allowed"),
    ("left_shift", "1 << 10**9", "digits"),
    ("range_into_list", "list(range(10**12))", "range()"),
    ("range_into_sum", "sum(range(10**12))", "range()"),
    ("range_huge_overflow", "len(range(10**30))", "range()"),
    ("padding", "'a'.ljust(10**10)", "ljust()"),
    ("zero_fill", "'1'.zfill(10**10)", "zfill()"),
    ("replace_everywhere", "('a' * 1000).replace('', 'x' * 1000)", "replace()"),
    ("expand_tabs", "('\\t' * 1000).expandtabs(10**6)", "expandtabs()"),
    ("join_aliased_parts", "'-'.join(['a' * 100000] * 100000)", "join()"),
    ("str_of_aliased_list", "str(['a' * 100000] * 100000)", "str()"),
    ("fstring_of_aliased_list", "f\"{['a' * 100000] * 100000}\"", "formatted value"),
    ("percent_width", "'%1000000000d' % 1", "format width"),
    ("percent_star_width", "'%*d' % (10**9, 1)", "'*' widths"),
    ("percent_of_aliased_list", "'%s' % (['a' * 100000] * 100000,)", "formatted text"),
    ("round_to_huge_power", "round(1, -10**9)", "round()"),
    ("sum_of_lists", "sum([[0] * 1000 for _ in range(1000)], [])", "sum() adds numbers only"),
    ("zip_transpose", "list(zip(*[range(1000)] * 1000))", "zip() takes at most"),
    ("unpack_many_times", "[*(x := ['a'] * 100000)" + ", *x" * 24 + "]", "in total"),
]


@pytest.mark.parametrize(
    ("source", "fragment"), [bomb[1:] for bomb in BOMBS], ids=[bomb[0] for bomb in BOMBS]
)
def test_single_operation_bomb_ends_quickly(sandbox: Sandbox, source: str, fragment: str) -> None:
    message, took = refusal(lambda: sandbox.evaluate(source, {}))
    assert fragment in message
    assert took < QUICK


SCRIPT_BOMBS = [
    ("infinite_loop", "while True: pass", "used more than 0.25 s of CPU time"),
    (
        "infinite_loop_with_body",
        "x = 0\nwhile True:\n    x = x + 1",
        "used more than 0.25 s of CPU time",
    ),
    (
        "nested_comprehension",
        "n = len([0 for a in range(10**5) for b in range(10**5)])",
        "of CPU time",
    ),
    (
        "nested_for_loops",
        "for a in range(10**5):\n    for b in range(10**5):\n        pass",
        "of CPU time",
    ),
    ("quadratic_sort_key", "xs = list(range(10**5))\nm = max(xs, key=xs.count)", "of CPU time"),
    ("string_doubling", "s = 'a'\nwhile True:\n    s = s + s", "joined sequence"),
    ("number_squaring", "n = 3\nwhile True:\n    n = n * n", "digits"),
    ("in_place_doubling", "xs = [0]\nwhile True:\n    xs += xs", "joined sequence"),
    ("extend_doubling", "xs = [0]\nwhile True:\n    xs.extend(xs)", "extend()"),
    ("memory_by_appends", "xs = []\nwhile True:\n    xs.append('a' * 10**5)", "in total"),
    ("memory_by_copies", "s = 'a' * 10**5\nxs = []\nwhile True:\n    xs.append(s.upper())", "in"),
    (
        "hash_collisions_set",
        "P = 2**61 - 1\nkeys = [i * P for i in range(10**5)]\ns = set(keys)",
        "of CPU time",
    ),
    (
        "hash_collisions_view",
        "P = 2**61 - 1\nkeys = [i * P for i in range(10**5)]\ns = {}.keys() | keys",
        "of CPU time",
    ),
]


@pytest.mark.parametrize(
    ("script", "fragment"),
    [bomb[1:] for bomb in SCRIPT_BOMBS],
    ids=[bomb[0] for bomb in SCRIPT_BOMBS],
)
def test_script_bomb_ends_quickly(sandbox: Sandbox, script: str, fragment: str) -> None:
    message, took = refusal(lambda: sandbox.execute(script, {}))
    assert fragment in message
    assert took < QUICK


def test_limits_follow_the_sandbox_settings() -> None:
    small = Sandbox(time_limit=0.05, max_sequence=10)
    assert small.evaluate("list(range(10))", {}) == list(range(10))
    assert "at most 10 allowed" in refusal(lambda: small.evaluate("list(range(11))", {}))[0]
    message, took = refusal(lambda: small.execute("while True:\n    pass", {}))
    assert "used more than 0.05 s of CPU time" in message
    assert took < 0.5


# --- Shared references: cheap to build, huge to walk ---------------------------------------------
# `[row] * n` and `[row for _ in range(n)]` hold n references to one list: little memory, but a
# comparison, hash, sort, search or str() walks n * len(row) items inside one C call, which the
# time bound never sees. The sandbox measures what C would walk first, and refuses.

NESTED_BOMBS = [
    ("compare_repeated", "[[0]*100000]*100000 == [[0]*100000]*100000", "repeated sequence"),
    ("hash_repeated", "len({((0,)*100000,)*100000})", "repeated sequence"),
    ("count_repeated", "([[0]*100000]*100000).count(1)", "repeated sequence"),
    ("compare_triple", "[[[0]*1000]*1000]*1000 == [[[0]*1000]*1000]*1000", "repeated sequence"),
    ("repeat_of_shared", "[[0] * 1000] * 1000", "counting the items of nested lists"),
    ("key_of_long_texts", "{}[('a' * 100000,) * 100000]", "uses a key too large"),
]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [bomb[1:] for bomb in NESTED_BOMBS],
    ids=[bomb[0] for bomb in NESTED_BOMBS],
)
def test_repeating_nested_values_is_charged_for_every_copy(
    sandbox: Sandbox, source: str, fragment: str
) -> None:
    assert lint_expression(source) == []  # nothing wrong in the text: only running shows it
    message, took = refusal(lambda: sandbox.evaluate(source, {}))
    assert fragment in message
    assert took < QUICK


SHARED = "row = [0] * 100000\nbig = [row for _ in range(100000)]\n"
TWIN = "twin = list(row)\nbig2 = [twin for _ in range(100000)]\n"  # equal to big, none of it shared
SHARED_BOMBS = [
    ("equal", "twin = list(row)\nr = big == [twin for _ in range(100000)]", "compares values"),
    ("chained", "r = 0 < len(big) <= len(big) and big < big == big", "compares values"),
    ("in_list", "r = row in big", "searches values too large"),
    ("in_set", "r = tuple(big) in {1, 2}", "looks up values too large"),
    ("set_builtin", "r = set([tuple(big)])", "hashes values too large"),
    ("set_literal", "r = {tuple(big), 1}", "hashes values too large"),
    ("set_comprehension", "r = {t for t in [tuple(big)]}", "uses a key too large"),
    ("dict_literal", "r = {tuple(big): 1}", "hashes values too large"),
    ("dict_literal_unpacked", "r = {**{}, tuple(big): 1}", "hashes values too large"),
    ("dict_comprehension", "r = {t: 1 for t in [tuple(big)]}", "uses a key too large"),
    ("dict_store", "d = {}\nd[tuple(big)] = 1", "uses a key too large"),
    ("dict_store_slice_tuple", "d = {}\nd[tuple(big), 0] = 1", "uses a key too large"),
    ("dict_delete", "d = {}\ndel d[tuple(big)]", "uses a key too large"),
    ("dict_load", "r = {}.get(tuple(big))", "uses a key too large"),
    ("dict_subscript", "r = {}[tuple(big)]", "uses a key too large"),
    ("set_add", "s = set()\ns.add(tuple(big))", "uses a key too large"),
    ("sorted", "r = sorted([big, big])", "sorted() compares values too large"),
    ("sorted_by_key", TWIN + "r = sorted([0, 1], key={0: big, 1: big2}.get)", "keys too large"),
    ("sort_in_place", "xs = [big, big]\nxs.sort()", "sort() compares values too large"),
    ("max", "r = max(big)", "max() compares values too large"),
    ("min_of_arguments", "r = min(big, big)", "min() compares values too large"),
    ("max_by_key", TWIN + "r = max([0, 1], key={0: big, 1: big2}.get)", "keys too large"),
    ("count", "r = big.count(row)", "searches values too large"),
    ("index", "r = big.index([1])", "searches values too large"),
    ("remove", "big.remove([1])", "searches values too large"),
    ("tuple_count", "r = tuple(big).count(row)", "searches values too large"),
    ("str", "r = str(big)", "str() would be longer"),
    ("f_string", "r = f'{big}'", "formatted value would be longer"),
    ("percent_format", "r = '%s' % (big,)", "formatted text would be longer"),
    ("str_of_views", "r = str({0: big}.items())", "str() would be longer"),
    ("stored", "r = 1", "leaves variable 'big' too large to store"),
]


@pytest.mark.parametrize(
    ("script", "fragment"),
    [bomb[1:] for bomb in SHARED_BOMBS],
    ids=[bomb[0] for bomb in SHARED_BOMBS],
)
def test_walking_shared_nested_values_is_refused_quickly(script: str, fragment: str) -> None:
    # Building the bombs alone takes ~0.35 s of CPU (two 100k comprehensions): the guard, not
    # the CPU bound, must be what refuses them, so the bound here is the test's own QUICK.
    sandbox = Sandbox(time_limit=QUICK)
    message, took = refusal(lambda: sandbox.execute(SHARED + script, {}))
    assert fragment in message
    assert took < QUICK


def test_a_value_only_compared_with_small_ones_is_not_refused(sandbox: Sandbox) -> None:
    # One bounded side bounds the comparison: C stops within the smaller value.
    script = SHARED + "r = [big == 1, big == [1], 5 in big, 'a' in big, big is big]\ndel row, big"
    variables: dict[str, Any] = {}
    sandbox.execute(script, variables)
    assert variables == {"r": [False, False, False, False, True]}


@pytest.mark.parametrize(
    ("printed", "fragment"),
    [
        ("str(top)", "str() would be longer"),
        ("f'{top}'", "formatted value would be longer"),
        ("'%s' % (top,)", "formatted text would be longer"),
    ],
)
def test_text_of_a_shared_structure_counts_every_time_it_prints(
    sandbox: Sandbox, printed: str, fragment: str
) -> None:
    # 3,000,000 characters of text from 10,300 items: each shared list prints each time.
    script = "row = [0] * 100\nmid = [row for _ in range(100)]\ntop = [mid for _ in range(100)]\n"
    message, _ = refusal(lambda: sandbox.execute(f"{script}s = {printed}", {}))
    assert fragment in message


def test_a_missing_key_too_long_to_print_is_named_by_its_type(sandbox: Sandbox) -> None:
    # Its text (100,000,000 characters) would be built outside the time bound.
    message, took = refusal(lambda: sandbox.evaluate("{}[('a' * 100000,) * 1000]", {}))
    assert "a key (tuple) is missing" in message
    assert took < QUICK
    assert "key ('k', 1) is missing" in refusal(lambda: sandbox.evaluate("{}[('k', 1)]", {}))[0]


def test_values_leaving_the_sandbox_are_bounded_too(sandbox: Sandbox) -> None:
    # The engine stores them as JSON, outside any time bound.
    message, took = refusal(lambda: sandbox.evaluate("[row for _ in range(100000)]", {"row": [0]}))
    assert "gives a value too large to store" in message
    assert took < QUICK
    variables: dict[str, Any] = {"cases": [], "row": [0] * 1000}
    script = "for _ in range(1000):\n    cases.append(row)"  # changes a list already stored
    message, took = refusal(lambda: sandbox.execute(script, variables))
    assert "leaves variable 'cases' too large to store" in message
    assert took < QUICK


def test_a_walk_over_many_tiny_lists_stays_within_the_time_bound(sandbox: Sandbox) -> None:
    script = "xs = [0]\nfor _ in range(40):\n    xs = [xs, xs]\nr = xs == [xs]"
    message, took = refusal(lambda: sandbox.execute(script, {}))
    assert "compares values too large" in message or "of CPU time" in message
    assert took < QUICK


HASH_COLLISION_BOMBS = [
    ("tuple_keys", "keys = [(i * P, 0) for i in range(10**5)]\nd = dict((k, 1) for k in keys)"),
    ("update_in_place", "s = set()\ns.symmetric_difference_update([i * P for i in range(10**5)])"),
]


@pytest.mark.parametrize(
    "script",
    [bomb[1] for bomb in HASH_COLLISION_BOMBS],
    ids=[bomb[0] for bomb in HASH_COLLISION_BOMBS],
)
def test_hash_collisions_in_tuple_keys_and_set_updates_end_quickly(
    sandbox: Sandbox, script: str
) -> None:
    message, took = refusal(lambda: sandbox.execute("P = 2**61 - 1\n" + script, {}))
    assert "of CPU time" in message
    assert took < QUICK


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        ("[1, 2] == [1, 2]", {}, True),
        ("'a' in ['a', 'b']", {}, True),
        ("x in {'a', 'b'}", {"x": "b"}, True),
        ("x not in xs", {"x": "c", "xs": ["a", "b"]}, True),
        ("1 < x <= 3", {"x": 3}, True),
        ("1 < x <= 3", {"x": 4}, False),
        ("a < b < c", {"a": [1], "b": [1, 0], "c": [2]}, True),
        ("xs == ys != zs", {"xs": [[1]], "ys": [[1]], "zs": [[2]]}, True),
        ("{(1, 'a'): 'x', (k, 'b'): 'y'}[(2, 'b')]", {"k": 2}, "y"),
        ("{(k, 1): v for k, v in [('a', 1), ('b', 2)]}", {}, {("a", 1): 1, ("b", 1): 2}),
        ("{k: 1, **d, 'x': 3}", {"k": "x", "d": {"x": 2, "y": 2}}, {"x": 3, "y": 2}),
        ("{a, b, (a, b)}", {"a": 1, "b": 1}, {1, (1, 1)}),
        ("d[(1, 2)] + d[1, 2]", {"d": {(1, 2): 5}}, 10),
        ("sorted([(2, 'b'), (1, 'a')])[0]", {}, (1, "a")),
        ("max([[1, 2], [3]], key=len)", {}, [1, 2]),
        ("min(3, 1, 2) + max([4, 5]) + max((), default=0)", {}, 6),
        ("[(1, 2), (3,)].index((3,)) + (1, 2, 1).count(1)", {}, 3),
        ("{'a': 1}.get(('a', 1), 0) + len({1, 2} | {3})", {}, 3),
        ("(5).bit_length() + (2.5).as_integer_ratio()[1] + x.numerator", {"x": True}, 6),
        ("d.year + d.toordinal() - td.days", {"d": date(2025, 1, 2), "td": timedelta(3)}, 741275),
        ("d.strftime('%d %B %Y')", {"d": date(2025, 1, 2)}, "02 January 2025"),
    ],
)
def test_comparisons_and_literals_keep_their_python_results(
    sandbox: Sandbox, expression: str, variables: dict[str, Any], expected: object
) -> None:
    assert sandbox.evaluate(expression, variables) == expected


def test_chained_comparisons_evaluate_each_operand_once_and_stop_early(sandbox: Sandbox) -> None:
    calls: list[str] = []

    def value(name: str, result: object) -> object:
        calls.append(name)
        return result

    variables = {"v": value}
    assert sandbox.evaluate("v('a', [2]) < v('b', [1]) < v('c', [0])", variables) is False
    assert calls == ["a", "b"]  # the first comparison was false: c never evaluated
    calls.clear()
    assert sandbox.evaluate("v('a', [0]) < v('b', [1]) < v('c', [2])", variables) is True
    assert calls == ["a", "b", "c"]


def test_a_dict_literal_unpacks_only_mappings(sandbox: Sandbox) -> None:
    message, _ = refusal(lambda: sandbox.evaluate("{k: 1, **xs}", {"k": "a", "xs": [("b", 2)]}))
    assert "'list' object is not a mapping" in message


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("(1).to_bytes(10**9, 'big')", "attribute 'to_bytes' of int is not allowed"),
        ("int.to_bytes(1, 10**9, 'big')", "attribute 'to_bytes' of int is not allowed"),
        ("int.from_bytes(b'1' * 100000, 'big')", "attribute 'from_bytes' of int is not allowed"),
        ("True.to_bytes(10**9, 'big')", "attribute 'to_bytes' of bool is not allowed"),
        ("d.strftime('%c' * 1000)", "the result of strftime() would have 512,000 items"),
    ],
)
def test_numbers_and_dates_offer_only_bounded_methods(
    sandbox: Sandbox, expression: str, fragment: str
) -> None:
    message, took = refusal(lambda: sandbox.evaluate(expression, {"d": date(2025, 1, 2)}))
    assert fragment in message
    assert took < QUICK


def test_lint_refuses_a_long_date_format_spec() -> None:
    problems = lint_expression("f'{d:" + "%Y" * 60 + "}'")
    assert len(problems) == 1
    assert problems[0].endswith("f-string format spec is too long; at most 100 characters")


# --- The time bound and the tracer --------------------------------------------------------------


def test_the_time_bound_works_in_a_thread_that_is_not_the_main_one(sandbox: Sandbox) -> None:
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            sandbox.execute("while True:\n    x = 1", {})
            outcome.append(None)
        except BaseException as error:  # recorded for the assertion below
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=120)  # a hang guard only: the bound is CPU time, whatever the load
    assert not worker.is_alive()
    assert isinstance(outcome[0], ExpressionError)
    assert "of CPU time" in str(outcome[0])


def test_the_previous_trace_function_is_restored(sandbox: Sandbox) -> None:
    def previous(frame: Any, event: str, arg: Any) -> None:
        return None

    before = sys.gettrace()
    sys.settrace(previous)
    try:
        sandbox.evaluate("a == 1", {"a": 1})
        assert sys.gettrace() is previous
        refusal(lambda: sandbox.evaluate("1 / 0", {}))
        assert sys.gettrace() is previous
        refusal(lambda: sandbox.execute("while True: pass", {}))
        assert sys.gettrace() is previous
    finally:
        sys.settrace(before)


def test_sandboxes_in_parallel_threads_keep_their_own_bounds() -> None:
    slow, fast = Sandbox(time_limit=0.5), Sandbox(time_limit=0.05)
    results: dict[str, float] = {}

    def run(name: str, sandbox: Sandbox) -> None:
        started = time.thread_time()
        with pytest.raises(ExpressionError):
            sandbox.execute("while True:\n    x = 1", {})
        results[name] = time.thread_time() - started

    threads = [threading.Thread(target=run, args=item) for item in [("slow", slow), ("fast", fast)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)  # a hang guard only
    assert results["fast"] < results["slow"]
    assert results["slow"] >= 0.5


def test_a_condition_written_on_its_own_indented_lines_still_evaluates() -> None:
    assert lint_expression("\n      immediate_referral == True\n    ") == []
    assert Sandbox().evaluate("\n  x > 1\n", {"x": 2}) is True


def _stall_while_evaluating(sandbox: Sandbox, script: str, stall_seconds: float) -> float:
    """Evaluate `script` over and over while another thread holds the GIL for `stall_seconds`.

    The other thread calls libc's usleep through ctypes.PyDLL, which keeps the GIL: this thread
    is then kept off the CPU exactly as on a busy machine. Every evaluation must succeed; the
    longest one's wall time is returned (it spans the stall unless the stall fell between two).
    """
    libc = ctypes.PyDLL(None)
    go, done = threading.Event(), threading.Event()

    def hog() -> None:
        go.wait()
        libc.usleep(int(stall_seconds * 1_000_000))
        done.set()

    thread = threading.Thread(target=hog)
    thread.start()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # hand the GIL over promptly once the hog asks for it
    longest = 0.0
    try:
        go.set()
        while not done.is_set():
            started = time.perf_counter()
            sandbox.execute(script, {})
            longest = max(longest, time.perf_counter() - started)
    finally:
        sys.setswitchinterval(previous)
        thread.join(timeout=120)  # a hang guard only
    return longest


def test_time_spent_off_the_cpu_does_not_count_against_the_bound() -> None:
    # The literal `False` once failed a decision under CI load: the bound was wall-clock.
    sandbox = Sandbox(time_limit=0.2)
    script = "x = 0\nfor i in range(5000):\n    x = x + i"
    for _ in range(5):  # the stall may fall between two evaluations; then arrange it again
        if _stall_while_evaluating(sandbox, script, stall_seconds=0.6) > sandbox.time_limit:
            return  # one evaluation waited past the bound in wall time, and still succeeded
    pytest.fail("no evaluation spanned the other thread's stall; the test proved nothing")


def test_the_default_bound_is_generous_and_configurable() -> None:
    assert Sandbox().time_limit >= 1.0
    set_default_time_limit(3.0)
    try:
        assert Sandbox().time_limit == 3.0
        assert Sandbox(time_limit=0.1).time_limit == 0.1
    finally:
        set_default_time_limit(DEFAULT_CPU_SECONDS)
    with pytest.raises(ValueError, match="positive"):
        set_default_time_limit(0)
