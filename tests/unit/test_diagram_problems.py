"""Uploaded BPMN/DMN files: hostile XML is refused, and every diagram problem is located."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.lint import lint_bundle, locate
from workflow.lint_dmn import match_expression
from workflow.lint_iso8601 import is_date_time, is_duration, is_repeating_interval
from workflow.model import SourceFile
from workflow.xml_safety import MAX_FILE_BYTES, parse_xml

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "fixtures" / "bad_diagrams"
MINIMAL_OK = ROOT / "tests" / "fixtures" / "minimal_ok.bpmn"
EXPECTED: dict[str, dict[str, object]] = json.loads(
    (BAD / "expected.json").read_text(encoding="utf-8")
)
DEFAULT_PROCESS = ROOT / "bpmn" / "sharing-nudes-response.bpmn"
DEFAULT_DECISION = ROOT / "bpmn" / "immediate-referral.dmn"

BPMN_HEAD = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs">\n'
)
DMN_13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def source(name: str, content: str | bytes) -> SourceFile:
    return SourceFile(name, content.encode("utf-8") if isinstance(content, str) else content)


def fixture(path: Path) -> SourceFile:
    return SourceFile(path.name, path.read_bytes())


def problems_of(*files: SourceFile) -> list[DiagramProblem]:
    """Parse and lint like an upload: a refused file gives its one problem."""
    try:
        trees = [(f, parse_xml(f)) for f in files]
    except DefinitionInvalid as refused:
        return refused.problems
    return lint_bundle(trees)


def refusal(file: SourceFile) -> DiagramProblem:
    with pytest.raises(DefinitionInvalid) as refused:
        parse_xml(file)
    [problem] = refused.value.problems
    return problem


def process(body: str, lanes: str = "") -> str:
    return (
        f'{BPMN_HEAD}  <bpmn:process id="p" isExecutable="true">\n{lanes}{body}\n'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )


def timer_process(kind: str, expression: str) -> str:
    return process(
        '<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />\n'
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="t">'
        f"<bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>\n"
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />'
    )


def decision(entries: list[str], decision_id: str = "referral") -> str:
    rules = "".join(
        f'<rule id="r{n}"><inputEntry id="r{n}_in"><text>{entry}</text></inputEntry>'
        f'<outputEntry id="r{n}_out"><text>True</text></outputEntry></rule>'
        for n, entry in enumerate(entries, start=1)
    )
    return (
        f'<definitions xmlns="{DMN_13}" id="d" name="D" namespace="x">'
        f'<decision id="{decision_id}" name="Referral"><decisionTable id="t">'
        '<input id="i" label="Age"><inputExpression id="ie"><text>age</text></inputExpression>'
        '</input><output id="o" name="refer" />'
        f"{rules}</decisionTable></decision></definitions>"
    )


# --- the corpus ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_each_bad_diagram_gives_its_one_located_problem(name: str) -> None:
    files = [fixture(BAD / name)]
    if name.endswith(".dmn"):  # a DMN file alone is no process: pair it with a clean one
        files.insert(0, fixture(MINIMAL_OK))
    expected = EXPECTED[name]

    problems = problems_of(*files)

    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    [problem] = problems
    assert (problem.file, problem.line, problem.element_id) == (
        name,
        expected["line"],
        expected["element_id"],
    )
    assert str(expected["message_contains"]) in problem.message


def test_every_corpus_file_is_indexed_and_says_what_it_tests() -> None:
    corpus = {p.name for p in BAD.iterdir() if p.suffix in (".bpmn", ".dmn")}
    assert corpus == set(EXPECTED)
    for name in corpus:
        assert (BAD / name).read_bytes().startswith(b"<!-- Tests: "), name


def test_the_minimal_process_lints_clean() -> None:
    assert problems_of(fixture(MINIMAL_OK)) == []


# --- hostile and broken XML ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["xxe_external_entity.bpmn", "billion_laughs.bpmn"])
def test_entity_declarations_are_refused_fast_without_expansion(name: str) -> None:
    started = time.thread_time()  # CPU time: a busy machine does not inflate it
    problem = refusal(fixture(BAD / name))
    elapsed = time.thread_time() - started

    assert "DOCTYPE/entity declarations are not allowed" in problem.message
    assert "XXE and entity-expansion protection" in problem.message
    assert problem.line == 2
    assert elapsed < 0.5  # expanding the entities would take minutes


def test_an_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER", encoding="utf-8")
    hostile = (
        f'<!DOCTYPE d [<!ENTITY leak SYSTEM "file://{secret}">]>\n'
        f"{BPMN_HEAD}<bpmn:documentation>&leak;</bpmn:documentation></bpmn:definitions>"
    )
    problem = refusal(source("leak.bpmn", hostile))
    assert "not allowed" in problem.message
    assert "TOP-SECRET-MARKER" not in str(problem)


@pytest.mark.parametrize(
    "prolog",
    [
        '<?xml version="1.0"?>\n<!-- hidden after a comment -->\n<!DOCTYPE d>\n',
        "<?pi data?>\n<!doctype d>\n",
        "<!--c-->\n<!DOCTYPE\n d SYSTEM 'http://example.invalid/x.dtd'>\n",
    ],
)
def test_any_doctype_is_refused_wherever_the_prolog_puts_it(prolog: str) -> None:
    problem = refusal(source("d.bpmn", prolog + BPMN_HEAD + "</bpmn:definitions>"))
    assert "DOCTYPE/entity declarations are not allowed" in problem.message
    assert problem.line == 3 if prolog.startswith("<?xml") else problem.line == 2


def test_an_undeclared_entity_reference_is_malformed_not_expanded() -> None:
    problem = refusal(source("e.bpmn", BPMN_HEAD + "&lol9;</bpmn:definitions>"))
    assert problem.message.startswith("malformed XML at line 2, column")
    assert "Entity 'lol9' not defined" in problem.message


def test_malformed_xml_reports_line_and_column() -> None:
    problem = refusal(fixture(BAD / "malformed.bpmn"))
    assert problem.line == 7
    assert "malformed XML at line 7, column 21" in problem.message
    assert "tag mismatch" in problem.message


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_an_empty_file_is_refused(content: bytes) -> None:
    assert "file is empty" in refusal(source("empty.bpmn", content)).message


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    huge = BPMN_HEAD.encode() + b" " * MAX_FILE_BYTES + b"</bpmn:definitions>"
    started = time.thread_time()  # CPU time: parsing 2 MB would take far more than this
    problem = refusal(source("huge.bpmn", huge))
    assert time.thread_time() - started < 0.5
    assert "the limit is 2 MB" in problem.message
    assert problem.line is None


def test_a_file_just_under_the_limit_is_accepted() -> None:
    body = process('<bpmn:startEvent id="start" />')
    padded = body.replace("</bpmn:definitions>", "<!--" + "x" * 100_000 + "--></bpmn:definitions>")
    assert len(padded) < MAX_FILE_BYTES
    assert problems_of(source("ok.bpmn", padded)) == []


def test_garbage_bytes_are_refused_as_not_utf8() -> None:
    problem = refusal(source("garbage.bpmn", b"<\x00b\x9c\x80\xff"))
    assert "not UTF-8" in problem.message


def test_an_unknown_declared_encoding_is_refused() -> None:
    odd = '<?xml version="1.0" encoding="x-no-such-codec"?>\n' + BPMN_HEAD + "</bpmn:definitions>"
    problem = refusal(source("odd.bpmn", odd))
    assert "declares encoding 'x-no-such-codec', which is not known" in problem.message


@pytest.mark.parametrize(
    "namespace",
    [
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        DMN_13,
    ],
)
def test_every_dmn_version_spiff_reads_is_accepted(namespace: str) -> None:
    tree = parse_xml(source("d.dmn", f'<definitions xmlns="{namespace}" id="d" />'))
    assert tree.getroot().get("id") == "d"


@pytest.mark.parametrize(
    "root",
    [
        '<definitions xmlns="https://www.omg.org/spec/DMN/20211108/MODEL/" id="d" />',
        '<definitions id="no-namespace" />',
        '<bpmn:process xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="p" />',
    ],
)
def test_other_roots_are_refused(root: str) -> None:
    problem = refusal(source("r.xml", root))
    assert "expected bpmn:definitions" in problem.message
    assert problem.line == 1


# --- lint behaviour beyond the corpus ------------------------------------------------------


def test_a_business_rule_task_may_use_a_decision_of_another_file() -> None:
    bpmn = process(
        '<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />\n'
        '<bpmn:businessRuleTask id="decide" camunda:decisionRef="referral" />\n'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end" />'
    )
    table = decision(["&lt; 13", "-", "", "4 &lt; ? &lt; 6", "'13'", "[1, 2]"])
    assert problems_of(source("p.bpmn", bpmn), source("d.dmn", table)) == []


def test_a_decision_id_in_two_files_is_a_problem() -> None:
    problems = problems_of(
        fixture(MINIMAL_OK), source("a.dmn", decision(["-"])), source("b.dmn", decision(["-"]))
    )
    assert [(p.file, p.element_id) for p in problems] == [("b.dmn", "referral")]
    assert "also declared in a.dmn" in problems[0].message


def test_a_gateway_with_one_condition_and_a_default_is_fine() -> None:
    bpmn = process(
        '<bpmn:startEvent id="start" /><bpmn:endEvent id="a" /><bpmn:endEvent id="b" />\n'
        '<bpmn:exclusiveGateway id="g" default="f_b" />\n'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="g" />'
        '<bpmn:sequenceFlow id="f_a" sourceRef="g" targetRef="a">'
        "<bpmn:conditionExpression>x &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f_b" sourceRef="g" targetRef="b" />'
    )
    assert problems_of(source("g.bpmn", bpmn)) == []


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("timeDuration", "'P1D'"),
        ("timeDuration", "'PT24H'"),
        ("timeDuration", '"P2W"'),
        ("timeDuration", "review_period"),
        ("timeDate", "deletion_deadline"),
        ("timeDate", "'2025-09-01T09:00:00Z'"),
        ("timeCycle", "'R3/PT1H'"),
        ("timeCycle", "'R/2025-09-01T09:00:00Z/P1D'"),
    ],
)
def test_quoted_iso_values_and_variables_are_valid_timers(kind: str, expression: str) -> None:
    assert problems_of(source("t.bpmn", timer_process(kind, expression))) == []


@pytest.mark.parametrize(
    ("kind", "expression", "message"),
    [
        ("timeDuration", "P1D", "must be quoted, e.g. \"'P1D'\": write 'P1D'"),
        ("timeCycle", "R3/PT1H", "must be quoted"),
        ("timeDate", "'P1D'", "not a valid ISO 8601 date-time"),
        ("timeDuration", "86400", "86400 is not a valid ISO 8601 duration"),
        ("timeDuration", "", "timer has no expression"),
    ],
)
def test_timers_that_cannot_fire_are_problems(kind: str, expression: str, message: str) -> None:
    [problem] = problems_of(source("t.bpmn", timer_process(kind, expression)))
    assert (problem.element_id, problem.line) == ("wait", 4)
    assert message in problem.message


@pytest.mark.parametrize("value", ["P1D", "PT24H", "P1Y2M3DT4H5M6S", "PT1.5H", "P2W", "p1d"])
def test_iso_durations(value: str) -> None:
    assert is_duration(value)


@pytest.mark.parametrize("value", ["P", "PT", "P1DT", "P1X", "1D", "P1W2D", "P1.5DT2H", "P-1D"])
def test_not_iso_durations(value: str) -> None:
    assert not is_duration(value)


def test_iso_dates_and_repeating_intervals() -> None:
    assert is_date_time("2025-09-01") and is_date_time("2025-W36-1")
    assert not is_date_time("2025-02-30") and not is_date_time("next week")
    assert is_repeating_interval("R/PT1H") and is_repeating_interval("R2/P1D/2025-09-01")
    assert not is_repeating_interval("R3/P1D/P2D") and not is_repeating_interval("PT1H")


@pytest.mark.parametrize(
    ("entry", "runs_as"),
    [
        ("> 3", "age> 3"),
        ("13", "(age) == (13)"),
        ("'yes'", "(age) == ('yes')"),
        ("4 < ? < 6", "4 < dmninputexpr < 6"),
        ("'why?'", "(age) == ('why?')"),
    ],
)
def test_dmn_cells_are_linted_as_spiff_runs_them(entry: str, runs_as: str) -> None:
    assert match_expression("age", entry) == runs_as


def test_problems_come_in_file_then_line_order() -> None:
    files = [
        fixture(BAD / "user_task_no_lanes.bpmn"),
        fixture(BAD / "duplicate_ids.bpmn"),
        fixture(BAD / "gateway_without_conditions.bpmn"),
    ]
    broken_twice = files[1].content.replace(b'targetRef="end"', b'targetRef="nowhere"')
    files[1] = SourceFile(files[1].name, broken_twice)
    problems = problems_of(*files)
    # Each fixture's process is called fixture_process: a clash the later files report.
    assert [(p.file, p.line) for p in problems] == [
        ("duplicate_ids.bpmn", 3),  # process id also declared in user_task_no_lanes.bpmn
        ("duplicate_ids.bpmn", 7),  # duplicate id 'work'
        ("duplicate_ids.bpmn", 9),  # targetRef 'nowhere'
        ("gateway_without_conditions.bpmn", 3),
        ("gateway_without_conditions.bpmn", 7),
        ("user_task_no_lanes.bpmn", 6),
    ]
    assert "also declared in user_task_no_lanes.bpmn" in problems[0].message


def test_an_empty_upload_and_a_dmn_only_upload_are_problems() -> None:
    assert "no files uploaded" in lint_bundle([])[0].message
    only = source("d.dmn", decision(["-"]))
    [problem] = lint_bundle([(only, parse_xml(only))])
    assert "no BPMN file" in problem.message


# --- locate --------------------------------------------------------------------------------


def test_locate_finds_line_and_name_of_an_element() -> None:
    tree = parse_xml(fixture(MINIMAL_OK))
    assert locate(tree, "minimal_ok.bpmn", "initial_review") == (27, "Initial review")
    assert locate(tree, "minimal_ok.bpmn", "flow_to_review")[0] == 66
    assert locate(tree, "minimal_ok.bpmn", "no_such_id") == (None, "")


def test_locate_prefers_the_model_element_to_an_extension_reusing_its_id() -> None:
    tree = parse_xml(
        source(
            "x.bpmn",
            BPMN_HEAD + '<bpmn:extensionElements><camunda:property id="start" value="x" />'
            '</bpmn:extensionElements>\n<bpmn:process id="p">\n'
            '<bpmn:startEvent id="start" name="Begin" /></bpmn:process></bpmn:definitions>',
        )
    )
    assert locate(tree, "x.bpmn", "start") == (4, "Begin")


# --- the real default process --------------------------------------------------------------


def test_the_default_process_lints_clean() -> None:
    problems = problems_of(fixture(DEFAULT_PROCESS), fixture(DEFAULT_DECISION))
    assert problems == [], "\n".join(str(p) for p in problems)
