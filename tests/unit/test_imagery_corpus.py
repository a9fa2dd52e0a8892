"""No picture or video gets in as a document or as text, however it is disguised (issue 8).

The corpus (tests/unit/imagery_corpus.py) is built from generated pixels when the tests run.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from forms import build_form_class, init_app
from forms.attachments import AttachmentRefused, check_document
from services.domain.access import clean_reason
from services.domain.errors import RequestInvalid
from tests.unit.imagery_corpus import (
    CLEAN_TEXTS,
    Case,
    data_uri,
    disguised_texts,
    document_cases,
    encoded,
    pictures,
)
from workflow import text_imagery
from workflow.errors import TaskDataInvalid
from workflow.formdata import validate_submission
from workflow.lint import lint_bundle
from workflow.model import FieldSpec, FormSpec, SourceFile
from workflow.text_imagery import MIN_RUN, find_imagery, imagery_in_text
from workflow.xml_safety import parse_xml

ROOT = Path(__file__).resolve().parents[2]

CASES = document_cases()
DISGUISED = disguised_texts()


def test_the_corpus_covers_every_case_of_the_issue() -> None:
    names = " | ".join(case.name for case in CASES) + " | " + " | ".join(DISGUISED)
    for case in (
        "/Subtype %c\\n/Image",
        "/Subtype 7 0 R",
        "attached file",
        "JPEG after %%EOF",
        "PNG with a %PDF-1.4 prefix",
        "JPEG with a %PDF-1.4 prefix",
        "DOCX with an encrypted image entry",
        "deflate64",
        "nested zip",
        "data URI in UTF-16",
        "URL-encoded data URI",
    ):
        assert case in names, case
    assert sum(case.refused for case in CASES) >= 50
    assert sum(not case.refused for case in CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_document_of_the_corpus_is_judged_right(case: Case) -> None:
    if not case.refused:
        check_document(case.filename, case.content)
        return
    with pytest.raises(AttachmentRefused) as refused:
        check_document(case.filename, case.content)
    message = refused.value.message
    assert "never accepts images or videos of children" in message or "accepts only" in message


@pytest.mark.parametrize("name", DISGUISED)
def test_each_disguised_text_is_refused_saying_why(name: str) -> None:
    message = imagery_in_text(DISGUISED[name])
    assert message is not None
    assert message.startswith("This looks like a picture or video written out as text (")
    assert message.endswith("describe it in words instead.")


@pytest.mark.parametrize("name", CLEAN_TEXTS)
def test_ordinary_text_is_never_taken_for_a_picture(name: str) -> None:
    assert find_imagery(CLEAN_TEXTS[name]) is None


def test_a_long_mixture_of_ordinary_text_passes() -> None:
    rng = random.Random(8)
    words = " ".join(CLEAN_TEXTS.values()).split()
    text = " ".join(rng.choice(words) for _ in range(200_000))
    assert find_imagery(text) is None


def test_random_bytes_as_base64_or_hex_are_not_taken_for_pictures() -> None:
    # What is not a picture must not be refused as one: keys, hashes, encrypted blobs.
    rng = random.Random(8)
    for size in range(MIN_RUN, 3_000, 7):
        blob = rng.randbytes(size)
        assert find_imagery(base64.b64encode(blob).decode()) is None, blob[:16]
        assert find_imagery(blob.hex()) is None, blob[:16]


def test_every_picture_format_is_found_as_base64_at_any_offset() -> None:
    for name, picture in pictures().items():
        for prefix in ("", "A", "AB", "ABC", "note: "):
            text = prefix + base64.b64encode(picture).decode()
            assert find_imagery(text) is not None, (name, prefix)


def test_a_short_label_alone_is_not_refused_but_a_picture_in_it_is() -> None:
    assert find_imagery("the data: image/png, it said") is None
    assert find_imagery("data:image/png;base64,iVBORw0KGgoAAAANSUhEUg") is not None
    assert find_imagery("the data: image/jpeg, IMG_20260301_123456.jpg") is None
    assert find_imagery(f"see <{data_uri(encoded('GIF'), 'application/octet-stream')}>")


# --- where the guard is wired ---------------------------------------------------------------

FORM = FormSpec(
    "record_disclosure",
    (
        FieldSpec("what_was_said", "string", "What was said", required=True, multiline=True),
        FieldSpec("summary", "string", "Summary", maxlength=200),
    ),
)


@pytest.mark.parametrize("name", ["data URI", "bare base64 wrapped at 76", "hex with spaces"])
def test_the_engine_refuses_task_answers_carrying_a_picture(name: str) -> None:
    with pytest.raises(TaskDataInvalid) as invalid:
        validate_submission(FORM, {"what_was_said": DISGUISED[name]})
    (message,) = invalid.value.errors["what_was_said"]
    assert message.startswith("This looks like a picture or video written out as text")


@pytest.fixture
def post() -> Iterator[Any]:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    init_app(app)
    contexts = []

    def bind(fields: dict[str, str]) -> Any:
        context = app.test_request_context(method="POST", data=MultiDict(fields))
        context.push()
        contexts.append(context)
        return build_form_class(FORM)()

    yield bind
    for context in reversed(contexts):
        context.pop()


def test_a_task_form_shows_the_refusal_next_to_the_field(post: Any) -> None:
    form = post({"what_was_said": "Sent at 9pm", "summary": DISGUISED["data URI"][:200]})
    assert not form.validate()
    assert list(form.errors) == ["summary"]
    assert form.errors["summary"][0].startswith("This looks like a picture or video")
    assert post({"what_was_said": CLEAN_TEXTS["prose"]}).validate()


def test_a_reason_carrying_a_picture_is_refused_by_the_domain() -> None:
    with pytest.raises(RequestInvalid, match=r"^reason: This looks like a picture"):
        clean_reason(DISGUISED["data URI percent-encoded"])
    assert clean_reason("  covering for the DSL today  ") == "covering for the DSL today"
    assert clean_reason("   ") is None


def test_a_diagram_holding_a_picture_fails_its_lint_at_the_element() -> None:
    diagram = (ROOT / "tests" / "fixtures" / "minimal_ok.bpmn").read_text(encoding="utf-8")
    note = f"<bpmn:documentation>{DISGUISED['data URI']}</bpmn:documentation>"
    holding = diagram.replace(
        '<bpmn:participant id="school" name="School" processRef="minimal_ok" />',
        f'<bpmn:participant id="school" name="School" processRef="minimal_ok">{note}'
        "</bpmn:participant>",
    )
    file = SourceFile("holding.bpmn", holding.encode())
    problems = lint_bundle([(file, parse_xml(file))])
    assert [p.message.split(":")[0] for p in problems] == ["holds a data"]
    assert "never holds a picture" in problems[0].message
    clean = SourceFile("minimal_ok.bpmn", diagram.encode())
    assert lint_bundle([(clean, parse_xml(clean))]) == []


ADVERSARIAL = {
    "base64 everywhere": base64.b64encode(random.Random(1).randbytes(750_000)).decode(),
    "short distinct runs": ".".join(f"{i:064d}" for i in range(15_000)),
    "data: flood": "data:," * 160_000,
    "nested escapes": "%25" * 330_000,
    "entities": "&amp;" * 200_000,
    "hex everywhere": random.Random(2).randbytes(500_000).hex(),
    "one long run": "A" * 1_000_000,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_the_work_grows_in_step_with_the_text(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted in bytes decoded and searched, not in seconds: a bound that holds on any machine.
    work = [0]

    def counted(function: Any) -> Any:
        def wrapper(data: bytes, *args: Any, **kwargs: Any) -> Any:
            work[0] += len(data)
            return function(data, *args, **kwargs)

        return wrapper

    for name_ in ("_base64_decode", "find_signature_anywhere", "_strong", "sniff_signature"):
        monkeypatch.setattr(text_imagery, name_, counted(getattr(text_imagery, name_)))
    text = ADVERSARIAL[name]
    assert find_imagery(text) is None
    assert work[0] <= 16 * len(text), (work[0], len(text))
