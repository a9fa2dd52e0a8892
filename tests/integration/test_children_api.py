"""The children endpoints of the JSON API on real databases: shapes, access, errors (issue 11)."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from werkzeug.test import TestResponse

from services.bootstrap import Runtime
from services.domain.commands import DeployDefinitions
from services.web.auth import issue_api_token
from tests.integration.service_fixtures import default_bundle, disclosure_data
from tests.integration.web_fixtures import (  # noqa: F401
    app,
    client,
    clock,
    web_runtime,
    web_settings,
)


@dataclass(frozen=True)
class Member:
    """Someone with one role in a school, and their API token."""

    id: int
    token: str


@dataclass(frozen=True)
class School:
    """A school's people by role, and a DSL of another school."""

    id: int
    by_role: dict[str, Member]
    outsider: Member


def member(runtime: Runtime, school_id: int, role: str) -> Member:
    """Make a person with one role in a school and an API token."""
    with runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        user = uow.users.add(f"{role}-{tag}@children.test", f"{role} {tag}", "not-a-hash")
        user.totp_secret = "JBSWY3DPEHPK3PXP"  # API tokens need a second factor
        uow.users.grant(user.id, school_id, role)
        token = issue_api_token(uow, user.id, "test", at=runtime.clock.now())
        uow.commit()
        return Member(user.id, token)


@pytest.fixture
def school(web_runtime: Runtime) -> School:
    """The default process deployed and a school with one person per role."""
    web_runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    with web_runtime.unit_of_work() as uow:
        tag = secrets.token_hex(4)
        own = uow.schools.add(f"Children School {tag}", f"children-{tag}").id
        other = uow.schools.add(f"Elsewhere {tag}", f"elsewhere-{tag}").id
        uow.commit()
    roles = ("staff", "dsl", "headteacher", "auditor")
    return School(
        own, {r: member(web_runtime, own, r) for r in roles}, member(web_runtime, other, "dsl")
    )


def call(
    client: FlaskClient, method: str, path: str, who: Member, body: Any = None
) -> TestResponse:
    """Call the API with a person's token."""
    headers = {"Authorization": f"Bearer {who.token}"}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def assert_matches(doc: Mapping[str, Any], schema: str, body: Any) -> None:
    """Fail listing every mismatch unless `body` matches the document's component schema."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": doc["components"]}
    problems = [e.message for e in Draft202012Validator(root).iter_errors(body)]
    assert not problems, f"{schema}: {problems}"


def start(client: FlaskClient, school: School) -> str:
    """Report a concern as staff; return the incident id."""
    body = {"school_id": school.id, "values": disclosure_data("x")}
    response = call(client, "POST", "/incidents", school.by_role["staff"], body)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["incident"]["id"])


def test_a_dsl_names_children_and_reads_a_chronology(client: FlaskClient, school: School) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    validate_openapi(doc)
    assert "/incidents/{incident_id}/children" in doc["paths"]
    assert "/children/{child_id}/chronology" in doc["paths"]
    incident_id = start(client, school)
    dsl = school.by_role["dsl"]
    body = {
        "name": "Ivy Example",
        "date_of_birth": "2011-02-03",
        "year_group": "Year 10",
        "role": "pictured",
    }
    assert_matches(doc, "NameChildRequest", body)
    created = call(client, "POST", f"/incidents/{incident_id}/children", dsl, body)
    assert created.status_code == 201, created.get_json()
    assert_matches(doc, "ChildNamed", created.get_json())
    child_id = created.get_json()["child_id"]
    linked = call(
        client,
        "POST",
        f"/incidents/{incident_id}/children",
        dsl,
        {"child_id": child_id, "role": "shared"},
    )
    assert linked.status_code == 201 and linked.get_json() == {
        "child_id": child_id,
        "created": False,
    }
    people = call(client, "GET", f"/incidents/{incident_id}/children", dsl)
    assert_matches(doc, "IncidentPeople", people.get_json())
    assert people.get_json()["children"][0]["roles"] == ["pictured", "shared"]
    chronology = call(
        client, "GET", f"/children/{child_id}/chronology", school.by_role["headteacher"]
    )
    assert chronology.status_code == 200
    assert_matches(doc, "Chronology", chronology.get_json())
    found = chronology.get_json()
    assert found["child"]["name"] == "Ivy Example"
    assert found["entries"][0]["incident_id"] == incident_id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"role": "pictured"}, 422),
        ({"name": "A", "child_id": 1, "role": "pictured"}, 422),
        ({"name": "A", "role": "bystander"}, 422),
        ({"name": "A", "role": "pictured", "date_of_birth": "3 May"}, 422),
        ({"name": "A", "role": "pictured", "date_of_birth": "2099-01-01"}, 422),
        ({"name": "A", "role": "pictured", "colour": "red"}, 422),
        ({"child_id": 2**31, "role": "pictured"}, 422),
        ({"child_id": 2**31 - 1, "role": "pictured"}, 404),
        ({"name": 5, "role": "pictured"}, 422),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem(
    client: FlaskClient, school: School, body: dict[str, Any], status: int
) -> None:
    incident_id = start(client, school)
    response = call(
        client, "POST", f"/incidents/{incident_id}/children", school.by_role["dsl"], body
    )
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["message"]


def test_chronology_access_over_the_api(client: FlaskClient, school: School) -> None:
    incident_id = start(client, school)
    named = call(
        client,
        "POST",
        f"/incidents/{incident_id}/children",
        school.by_role["staff"],
        {"name": "Named By Staff", "role": "disclosed"},
    )
    assert named.status_code == 201
    path = f"/children/{named.get_json()['child_id']}/chronology"
    for role in ("staff", "auditor"):
        assert call(client, "GET", path, school.by_role[role]).status_code == 403
    assert call(client, "GET", path, school.outsider).status_code == 404
    assert (
        call(client, "GET", "/children/99999999999/chronology", school.by_role["dsl"]).status_code
        == 404
    )
    assert call(client, "GET", path, school.by_role["dsl"]).status_code == 200
    auditor_post = call(
        client,
        "POST",
        f"/incidents/{incident_id}/children",
        school.by_role["auditor"],
        {"name": "A", "role": "pictured"},
    )
    assert auditor_post.status_code == 403


def test_report_summary_counts_and_hides_small_numbers_trust_wide(
    client: FlaskClient, school: School, web_runtime: Runtime
) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    start(client, school)
    start(client, school)
    head = school.by_role["headteacher"]
    one = call(client, "GET", f"/reports/summary?school={school.id}", head)
    assert one.status_code == 200, one.get_json()
    assert_matches(doc, "ReportSummary", one.get_json())
    body = one.get_json()
    assert body["incidents"] == 2 and body["trust_wide"] is False
    assert body["by_route"] == {"undecided": 2}
    assert body["review_hours_median"] is None and body["outcome_21"] == 0
    auditor = school.by_role["auditor"]
    with web_runtime.unit_of_work() as uow:
        other = uow.schools.add(f"Second {secrets.token_hex(4)}", f"second-{secrets.token_hex(4)}")
        uow.users.grant(auditor.id, other.id, "auditor")
        uow.commit()
    trust = call(client, "GET", "/reports/summary", auditor).get_json()
    assert_matches(doc, "ReportSummary", trust)
    assert trust["trust_wide"] is True and trust["incidents"] == "<5"
    assert trust["by_route"] == {"undecided": "<5"} and trust["overdue_tasks"] == 0
    for query, status in (
        ("?from=2026-13-01", 422),
        ("?from=2026-02-01&to=2026-01-01", 422),
        ("?school=abc", 422),
        (f"?school={school.id}&colour=red", 422),
        ("?school=2147483647", 404),
    ):
        response = call(client, "GET", f"/reports/summary{query}", head)
        assert response.status_code == status, (query, response.get_json())
    assert call(client, "GET", "/reports/summary", school.by_role["staff"]).status_code == 403


def test_subject_access_export_over_the_api(client: FlaskClient, school: School) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    incident_id = start(client, school)
    dsl = school.by_role["dsl"]
    path = f"/incidents/{incident_id}/children"
    subject = call(client, "POST", path, dsl, {"name": "Nia Subject", "role": "pictured"})
    call(client, "POST", path, dsl, {"name": "Other Pupil", "role": "shared"})
    export = f"/children/{subject.get_json()['child_id']}/subject-access-export"
    response = call(client, "GET", export, school.by_role["headteacher"])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert_matches(doc, "SubjectAccessExport", response.get_json())
    assert "Other Pupil" not in response.get_data(as_text=True)
    assert call(client, "GET", export, school.by_role["auditor"]).status_code == 403
    assert call(client, "GET", export, school.outsider).status_code == 404
    assert call(client, "GET", f"{export}?x=1", dsl).status_code == 422
    incident = call(client, "GET", f"/incidents/{incident_id}", dsl).get_json()
    assert incident["review_date"] is None  # no date of birth yet
    call(
        client,
        "POST",
        path,
        dsl,
        {"name": "Born Pupil", "role": "received", "date_of_birth": "2012-03-04"},
    )
    incident = call(client, "GET", f"/incidents/{incident_id}", dsl).get_json()
    assert incident["review_date"] == "2037-03-04"
