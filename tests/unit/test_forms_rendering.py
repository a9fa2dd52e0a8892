"""The task form rendered with the GOV.UK templates: error summary, guidance, CSRF, widgets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, render_template_string
from werkzeug.datastructures import MultiDict

from forms import apply_errors, build_form_class, init_app
from forms.rendering import GuidanceBlock, guidance_blocks
from workflow.model import EnumOption, FieldSpec, FormSpec

SPEC = FormSpec(
    "initial_review",
    (
        FieldSpec("summary", "string", "Summary", required=True, help="What was seen, in words"),
        FieldSpec("notes", "string", "Notes", multiline=True),
        FieldSpec("pupils", "long", "Pupils involved", required=True),
        FieldSpec("inform_parents", "boolean", "Will parents be informed?", required=True),
        FieldSpec(
            "route",
            "enum",
            "Route",
            options=(EnumOption("police", "Police"), EnumOption("in_house", "In school")),
        ),
        FieldSpec("incident_date", "date", "Date of incident", required=True),
    ),
)
PAGE = '{% from "forms/task_form.html" import task_form %}{{ task_form(form, guidance, action) }}'
GUIDANCE = """Do:
- listen to the child
- record what was said <script>alert("x")</script>

Don't view, copy or save the image."""


def make_app(csrf: bool) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=csrf)
    init_app(app)
    return app


def render(form: Any, guidance: str = GUIDANCE, action: str = "/tasks/1") -> str:
    return render_template_string(PAGE, form=form, guidance=guidance, action=action)


def post_data(**fields: Any) -> MultiDict[str, str]:
    data: MultiDict[str, str] = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(key, item)
    return data


def test_an_invalid_post_shows_the_error_summary_linked_to_each_field() -> None:
    app = make_app(csrf=False)
    with app.test_request_context(method="POST", data=post_data(incident_date=["1", "", ""])):
        form = build_form_class(SPEC)()
        assert not form.validate()
        html = render(form)
    assert 'class="govuk-error-summary"' in html
    assert "There is a problem" in html
    links = re.findall(r'<a href="(#[^"]+)">([^<]+)</a>', html)
    assert links == [
        ("#summary", "Enter summary"),
        ("#pupils", "Enter pupils involved"),
        ("#inform_parents", "Select yes or no for \u201cWill parents be informed?\u201d"),
        ("#incident_date-day", "Date of incident must include a month and year"),
    ]
    # Every link target exists in the page.
    for href, _ in links:
        assert f'id="{href[1:]}"' in html
    assert 'id="summary-error" class="govuk-error-message"' in html
    assert "govuk-form-group--error" in html


def test_the_form_uses_gov_uk_components() -> None:
    app = make_app(csrf=False)
    with app.test_request_context():
        html = render(build_form_class(SPEC)())
    assert "govuk-error-summary" not in html
    assert '<form method="post" action="/tasks/1" novalidate>' in html
    assert 'class="govuk-input' in html
    assert 'id="summary-hint" class="govuk-hint"' in html
    assert 'class="govuk-textarea' in html
    assert 'inputmode="numeric"' in html
    assert 'class="govuk-radios govuk-radios--inline"' in html
    assert 'value="true"' in html and 'value="false"' in html
    assert "govuk-date-input" in html and 'id="incident_date-day"' in html
    assert re.search(r'<button type="submit"[^>]*class="govuk-button"', html)
    assert re.search(r">\s*Submit\s*</button>", html)
    assert "inform_parents-hint" not in html, "no empty hint for radios without help"
    assert 'class="govuk-label govuk-label--s" for="summary"' in html
    assert 'class="govuk-fieldset__legend govuk-fieldset__legend--s"' in html
    assert "For example, 27 3 2024" in html


def test_guidance_is_shown_escaped_as_paragraphs_and_bullets() -> None:
    app = make_app(csrf=False)
    with app.test_request_context():
        html = render(build_form_class(SPEC)())
    assert '<div class="govuk-inset-text app-task-guidance">' in html
    assert '<p class="govuk-body">Do:</p>' in html
    assert '<ul class="govuk-list govuk-list--bullet">' in html
    assert "<li>listen to the child</li>" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "Don&#39;t view, copy or save the image." in html


def test_the_action_is_escaped() -> None:
    app = make_app(csrf=False)
    with app.test_request_context():
        html = render(build_form_class(SPEC)(), action='/t?a="><script>')
    assert 'action="/t?a=&#34;&gt;&lt;script&gt;"' in html


def test_with_csrf_on_the_form_carries_the_token() -> None:
    app = make_app(csrf=True)
    with app.test_request_context():
        html = render(build_form_class(SPEC)())
    assert re.search(r'<input id="csrf_token" name="csrf_token" type="hidden" value="[^"]+">', html)


def test_with_csrf_off_there_is_no_token() -> None:
    app = make_app(csrf=False)
    with app.test_request_context():
        assert "csrf_token" not in render(build_form_class(SPEC)())


VALID = {
    "summary": "Shared in a group chat",
    "pupils": "2",
    "inform_parents": "true",
    "incident_date": ["3", "2", "2025"],
}


def test_a_csrf_on_post_without_a_token_fails_and_says_the_form_expired() -> None:
    app = make_app(csrf=True)
    with app.test_request_context(method="POST", data=post_data(**VALID)):
        form = build_form_class(SPEC)()
        assert not form.validate()
        assert list(form.errors) == ["csrf_token"]
        html = render(form)
    assert "This form has expired or was sent twice" in html


def test_a_csrf_on_post_with_its_token_validates() -> None:
    app = make_app(csrf=True)
    client = app.test_client()

    @app.route("/form", methods=["GET", "POST"])
    def page() -> str:
        form = build_form_class(SPEC)()
        if form.validate_on_submit():
            return "accepted"
        return render(form)

    html = client.get("/form").get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match is not None
    response = client.post("/form", data=post_data(csrf_token=match.group(1), **VALID))
    assert response.get_data(as_text=True) == "accepted"


def test_a_form_with_a_document_is_sent_as_multipart() -> None:
    spec = FormSpec("t", (FieldSpec("letter", "document", "Police letter"),))
    app = make_app(csrf=False)
    with app.test_request_context():
        html = render(build_form_class(spec)())
    assert 'enctype="multipart/form-data"' in html
    assert 'class="govuk-file-upload"' in html


def test_late_errors_render_inline_and_in_the_summary() -> None:
    app = make_app(csrf=False)
    with app.test_request_context(method="POST", data=post_data(**VALID)):
        form = build_form_class(SPEC)()
        assert form.validate()
        apply_errors(form, {"pupils": ["must be 30 or less"]})
        html = render(form)
    assert '<a href="#pupils">Pupils involved must be 30 or less</a>' in html
    assert 'id="pupils-error"' in html


def test_submitted_answers_are_shown_again_escaped() -> None:
    app = make_app(csrf=False)
    data = post_data(summary='<b onclick="x">bold</b>', pupils="many")
    with app.test_request_context(method="POST", data=data):
        form = build_form_class(SPEC)()
        form.validate()
        html = render(form)
    assert 'value="&lt;b onclick=&#34;x&#34;&gt;bold&lt;/b&gt;"' in html
    assert 'value="many"' in html


def test_init_app_keeps_the_apps_own_templates_first(tmp_path: Any) -> None:
    (tmp_path / "page.html").write_text("own page")
    app = Flask(__name__, template_folder=str(tmp_path))
    init_app(app)
    init_app(app)  # a second call changes nothing
    with app.app_context():
        assert app.jinja_env.get_template("page.html").render() == "own page"
        assert app.jinja_env.get_template("govuk_frontend_jinja/template.html")
        assert app.jinja_env.get_template("govuk_frontend_wtf/input.html")
        assert app.jinja_env.get_template("forms/task_form.html")


P, BULLETS, NUMBERS = "paragraph", "bullets", "numbers"


@pytest.mark.parametrize(
    ("text", "blocks"),
    [
        ("", []),
        (None, []),
        (
            "One line\nwrapped.\n\nSecond.",
            [GuidanceBlock(P, ("One line wrapped.",)), GuidanceBlock(P, ("Second.",))],
        ),
        (
            "  Steps:\n  1. Listen\n  2) Record\n     the words used\n  * Tell the DSL",
            [
                GuidanceBlock(P, ("Steps:",)),
                GuidanceBlock(NUMBERS, ("Listen", "Record the words used")),
                GuidanceBlock(BULLETS, ("Tell the DSL",)),
            ],
        ),
        (
            "\u2022 a\n- b\nAfter",
            [GuidanceBlock(BULLETS, ("a", "b")), GuidanceBlock(P, ("After",))],
        ),
    ],
)
def test_guidance_blocks(text: str | None, blocks: list[GuidanceBlock]) -> None:
    assert guidance_blocks(text) == blocks
