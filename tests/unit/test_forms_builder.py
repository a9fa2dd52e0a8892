"""Forms built from a FormSpec: fields, GOV.UK messages, typed data, and agreement with formdata."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from forms import apply_errors, build_form_class, init_app
from forms.fields import (
    DayMonthYearField,
    DocumentField,
    OptionRadioField,
    OptionSelectField,
    TextAnswerField,
    WholeNumberField,
    YesNoField,
)
from tests.unit.imagery_corpus import clean_pdf_by_hand
from workflow.errors import TaskDataInvalid
from workflow.formdata import validate_submission
from workflow.model import EnumOption, FieldSpec, FormSpec

ROUTES = (EnumOption("police", "Refer to the police"), EnumOption("in_house", "Handle in school"))
REVIEW = FormSpec(
    "initial_review",
    (
        FieldSpec("summary", "string", "Summary", required=True, minlength=5, maxlength=40),
        FieldSpec("pupils", "long", "How many pupils are involved?", required=True, min=1, max=30),
        FieldSpec(
            "inform_parents", "boolean", "Will parents or carers be informed?", required=True
        ),
        FieldSpec(
            "parents_not_informed_reason",
            "string",
            "Why will parents or carers not be told?",
            multiline=True,
            maxlength=4000,
            required_if=("inform_parents", "false"),
        ),
        FieldSpec("route", "enum", "Route", options=ROUTES, required=True),
        FieldSpec("incident_date", "date", "Date of incident", required=True),
        FieldSpec("police_letter", "document", "Letter from the police", help="A PDF or Word file"),
    ),
)
VALID = {
    "summary": "Image shared in year 9 chat",
    "pupils": "2",
    "inform_parents": "true",
    "route": "in_house",
    "incident_date": ["3", "2", "2025"],
}


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    init_app(app)
    return app


@pytest.fixture
def post(app: Flask) -> Iterator[Any]:
    """Build and bind the REVIEW form (or another spec) to a POST of the given fields."""
    contexts = []

    def bind(fields: dict[str, Any], spec: FormSpec = REVIEW) -> Any:
        data = MultiDict()
        for key, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                data.add(key, item)
        context = app.test_request_context(method="POST", data=data)
        context.push()
        contexts.append(context)
        return build_form_class(spec)()

    yield bind
    for context in reversed(contexts):
        context.pop()


def with_(**changes: Any) -> dict[str, Any]:
    answers = {**VALID, **changes}
    return {key: value for key, value in answers.items() if value is not None}


def test_one_field_per_spec_in_declaration_order_with_the_gov_uk_field_types(post: Any) -> None:
    form = post({})
    fields = form.answer_fields()
    assert [f.name for f in fields] == [spec.id for spec in REVIEW.fields]
    assert [type(f) for f in fields] == [
        TextAnswerField,
        WholeNumberField,
        YesNoField,
        TextAnswerField,
        OptionRadioField,
        DayMonthYearField,
        DocumentField,
    ]
    assert fields[0].label.text == "Summary"
    assert fields[6].description == "A PDF or Word file"
    assert [c.value for c in fields[2].choices] == ["true", "false"]
    assert [c.label for c in fields[2].choices] == ["Yes", "No"]


def test_a_valid_submission_gives_typed_answers(post: Any) -> None:
    form = post(with_(summary="  Shared in chat\r\nby two pupils  ", pupils=" 12 "))
    assert form.validate(), form.errors
    assert form.typed_data() == {
        "summary": "Shared in chat\nby two pupils",
        "pupils": 12,
        "inform_parents": True,
        "parents_not_informed_reason": None,
        "route": "in_house",
        "incident_date": "2025-02-03",
        "police_letter": None,
    }


def test_an_empty_submission_names_each_required_field_the_gov_uk_way(post: Any) -> None:
    form = post({})
    assert not form.validate()
    assert form.errors == {
        "summary": ["Enter summary"],
        "pupils": ["Enter an answer to \u201cHow many pupils are involved?\u201d"],
        "inform_parents": ["Select yes or no for \u201cWill parents or carers be informed?\u201d"],
        "route": ["Select route"],
        "incident_date": ["Enter date of incident"],
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"summary": "abc"}, "summary", "Summary must be 5 characters or more"),
        ({"summary": "x" * 41}, "summary", "Summary must be 40 characters or less"),
        ({"pupils": "0"}, "pupils", "must be between 1 and 30"),
        ({"pupils": "31"}, "pupils", "must be between 1 and 30"),
        ({"pupils": "two"}, "pupils", "must be a whole number"),
        ({"pupils": "1.5"}, "pupils", "must be a whole number"),
        ({"incident_date": ["31", "2", "2025"]}, "incident_date", "must be a real date"),
        ({"incident_date": ["3", "2", "25"]}, "incident_date", "must be a real date"),
        ({"incident_date": ["3", "", ""]}, "incident_date", "must include a month and year"),
        ({"route": "deleted"}, "route", "Select one of the options for \u201cRoute\u201d"),
        ({"inform_parents": "maybe"}, "inform_parents", "Select yes or no for"),
    ],
)
def test_each_constraint_fails_with_one_gov_uk_message(
    post: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    form = post(with_(**changes))
    assert not form.validate()
    assert list(form.errors) == [field]
    assert len(form.errors[field]) == 1
    assert message in form.errors[field][0]


def test_a_range_with_only_one_end_says_which(post: Any) -> None:
    spec = FormSpec("t", (FieldSpec("age", "long", "Age of the youngest pupil", min=4),))
    form = post({"age": "3"}, spec)
    assert not form.validate()
    assert form.errors == {"age": ["Age of the youngest pupil must be 4 or more"]}


def test_no_is_an_answer_to_a_required_yes_no_question(post: Any) -> None:
    form = post(with_(inform_parents="false", parents_not_informed_reason="Police advised not to"))
    assert form.validate(), form.errors
    assert form.typed_data()["inform_parents"] is False


def test_an_optional_yes_no_question_may_stay_unanswered(post: Any) -> None:
    spec = FormSpec("t", (FieldSpec("viewed", "boolean", "Was the image viewed?"),))
    form = post({}, spec)
    assert form.validate()
    assert form.typed_data() == {"viewed": None}


def test_required_if_demands_the_reason_when_the_decision_is_no(post: Any) -> None:
    form = post(with_(inform_parents="false"))
    assert not form.validate()
    assert form.errors == {
        "parents_not_informed_reason": [
            "Enter an answer to \u201cWhy will parents or carers not be told?\u201d"
        ]
    }


def test_required_if_leaves_the_reason_optional_when_the_decision_is_yes(post: Any) -> None:
    form = post(with_(inform_parents="true", parents_not_informed_reason="   "))
    assert form.validate(), form.errors
    assert form.typed_data()["parents_not_informed_reason"] is None


def test_required_if_on_an_enum_option(post: Any) -> None:
    spec = FormSpec(
        "t",
        (
            FieldSpec("route", "enum", "Route", options=ROUTES),
            FieldSpec("police_ref", "string", "Police reference", required_if=("route", "police")),
        ),
    )
    assert not post({"route": "police"}, spec).validate()
    assert post({"route": "in_house"}, spec).validate()


def test_many_options_or_the_select_widget_give_a_select_box(post: Any) -> None:
    many = tuple(EnumOption(f"year_{n}", f"Year {n}") for n in range(7, 14))
    spec = FormSpec(
        "t",
        (
            FieldSpec("year", "enum", "Year group", options=many, required=True),
            FieldSpec("route", "enum", "Route", options=ROUTES, widget="select"),
            FieldSpec("year_radios", "enum", "Year group again", options=many, widget="radios"),
        ),
    )
    form = post({"year": "", "route": ""}, spec)
    year, route, year_radios = form.answer_fields()
    assert isinstance(year, OptionSelectField)
    assert isinstance(route, OptionSelectField)
    assert isinstance(year_radios, OptionRadioField)
    assert not form.validate()
    assert form.errors == {"year": ["Select year group"]}
    assert [c.value for c in year.choices][:2] == ["", "year_7"]


def test_defaults_fill_the_form_shown_before_any_submission(app: Flask) -> None:
    spec = FormSpec(
        "t",
        (
            FieldSpec("n", "long", "Number", default="3"),
            FieldSpec("ok", "boolean", "OK?", default="No"),
            FieldSpec("on", "date", "On", default="2025-01-31"),
        ),
    )
    with app.test_request_context():
        form = build_form_class(spec)()
        assert form.typed_data() == {"n": 3, "ok": False, "on": "2025-01-31"}
        assert form.on.data == date(2025, 1, 31)


def test_a_default_that_does_not_fit_its_type_is_refused_naming_the_field() -> None:
    spec = FormSpec("review", (FieldSpec("n", "long", "Number", default="many"),))
    with pytest.raises(ValueError, match=r"task 'review'.*field 'n'.*default 'many'"):
        build_form_class(spec)


@pytest.mark.parametrize("field_id", ["data", "errors", "validate", "typed_data", "csrf_token"])
def test_a_field_id_the_form_itself_uses_is_refused(field_id: str) -> None:
    spec = FormSpec("review", (FieldSpec(field_id, "string", "Anything"),))
    with pytest.raises(ValueError, match=f"field id '{field_id}' is a name the form itself uses"):
        build_form_class(spec)


def test_the_same_spec_gives_the_same_class() -> None:
    assert build_form_class(REVIEW) is build_form_class(REVIEW)
    assert build_form_class(REVIEW).__name__ == "TaskForm_initial_review"


def test_a_date_with_fewer_than_three_parts_is_read_as_incomplete(post: Any) -> None:
    form = post(with_(incident_date="3"))
    assert not form.validate()
    assert form.errors == {"incident_date": ["Date of incident must include a month and year"]}


def test_a_document_field_accepts_a_pdf_and_refuses_a_jpeg_named_pdf(post: Any) -> None:
    pdf = (io.BytesIO(clean_pdf_by_hand()), "letter.pdf")  # pypdf must read it (issue 8)
    form = post(with_(police_letter=pdf))
    assert form.validate(), form.errors
    assert form.typed_data()["police_letter"] == "letter.pdf"
    assert form.police_letter.upload().read().startswith(b"%PDF"), "the stream is rewound"

    jpeg = (io.BytesIO(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "letter.pdf", "application/pdf")
    form = post(with_(police_letter=jpeg))
    assert not form.validate()
    assert form.errors["police_letter"] == [
        "This file looks like an image (JPEG). Safeguard Flow never accepts images or videos "
        "of children: describe what was seen in words instead."
    ]


def test_a_required_document_must_be_chosen(post: Any) -> None:
    spec = FormSpec("t", (FieldSpec("letter", "document", "Police letter", required=True),))
    form = post({}, spec)
    assert not form.validate()
    assert form.errors == {"letter": ["Select a file for \u201cPolice letter\u201d"]}


def test_apply_errors_attaches_late_errors_as_sentences(post: Any) -> None:
    form = post(VALID)
    assert form.validate()
    apply_errors(form, {"summary": ["is required"], "route": ["Select a route"], "extra": ["x"]})
    assert form.summary.errors == ["Summary is required"]
    assert form.route.errors == ["Select a route"]
    assert form.form_errors == ["extra: x"]
    assert [item["href"] for item in form.error_summary_items() if "href" in item] == [
        "#summary",
        "#route",
    ]


def test_apply_errors_from_task_data_invalid(post: Any) -> None:
    form = post(with_(inform_parents="false", parents_not_informed_reason="Police advice"))
    assert form.validate()
    data = form.typed_data()
    data["parents_not_informed_reason"] = None  # as if the server saw it differently
    with pytest.raises(TaskDataInvalid) as invalid:
        validate_submission(REVIEW, data)
    apply_errors(form, invalid.value.errors)
    assert form.parents_not_informed_reason.errors[0].startswith(
        "The answer to \u201cWhy will parents or carers not be told?\u201d is required"
    )


AGREEMENT_CASES = [
    VALID,
    with_(summary=None),
    with_(summary="abcd"),
    with_(summary="x" * 40),
    with_(summary="x" * 41),
    with_(summary=" " * 3),
    with_(pupils="30"),
    with_(pupils="-1"),
    with_(pupils="1e3"),
    with_(inform_parents="false"),
    with_(inform_parents="false", parents_not_informed_reason="Police said not yet"),
    with_(inform_parents=None),
    with_(route="police"),
    with_(route=None),
    with_(incident_date=["29", "2", "2024"]),
    with_(incident_date=["29", "2", "2023"]),
    with_(incident_date=["", "", ""]),
]


@pytest.mark.parametrize("answers", AGREEMENT_CASES)
def test_the_form_and_validate_submission_agree(post: Any, answers: dict[str, Any]) -> None:
    form = post(answers)
    form_accepts = form.validate()
    try:
        validate_submission(REVIEW, form.typed_data())
        server_accepts = True
    except TaskDataInvalid:
        server_accepts = False
    assert form_accepts == server_accepts, form.errors
