"""Children and reports pages through the Flask test client, on real databases (issue 11)."""

# ruff: noqa: F811  # tests take the imported fixtures as arguments, as pytest intends
from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select

from services.bootstrap import Runtime
from services.db.models import AuditEvent
from services.domain.commands import DeployDefinitions, StartIncident
from tests.integration.service_fixtures import default_bundle, disclosure_data
from tests.integration.web_fixtures import (  # noqa: F401
    WebUser,
    app,
    client,
    clock,
    csrf_token,
    login,
    make_user,
    web_runtime,
    web_settings,
)


def start(runtime: Runtime, reporter: WebUser) -> str:
    """Report a concern as `reporter`; return the incident id."""
    runtime.bus.handle(DeployDefinitions(default_bundle(), None))
    outcome = runtime.bus.handle(
        StartIncident(reporter.school_id, reporter.id, disclosure_data("x"))
    )
    assert outcome.incident_id is not None
    return outcome.incident_id


def test_a_dsl_names_a_child_and_opens_their_chronology(
    client: FlaskClient, make_user: Callable[..., WebUser], web_runtime: Runtime
) -> None:
    dsl = make_user("dsl")
    staff = make_user("staff", school_id=dsl.school_id)
    incident_id = start(web_runtime, staff)
    login(client, dsl.email)
    incident = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert f"/incidents/{incident_id}/children" in incident
    path = f"/incidents/{incident_id}/children"
    token = csrf_token(client, path)
    bad = client.post(
        path,
        data={
            "csrf_token": token,
            "name": "Rowan Ash",
            "role": "pictured",
            "date_of_birth": "31/02/2011",
        },
    )
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    made = client.post(
        path,
        data={
            "csrf_token": token,
            "name": "Rowan Ash",
            "role": "pictured",
            "date_of_birth": "2011-02-03",
            "year_group": "Year 10",
        },
    )
    assert made.status_code == 302
    listing = html.fromstring(client.get(path).get_data(as_text=True))
    (link,) = listing.xpath("//table[@id='incident-children']//a")
    assert link.text == "Rowan Ash"
    again = client.post(
        path,
        data={
            "csrf_token": token,
            "name": "rowan ash",
            "role": "shared",
            "date_of_birth": "2011-02-03",
        },
    )
    assert again.status_code == 422 and "already knows" in again.get_data(as_text=True)
    page = client.get(link.get("href"))
    assert page.status_code == 200
    rows = html.fromstring(page.get_data(as_text=True)).xpath("//table[@id='chronology']//tbody/tr")
    assert rows and "Concern reported (pictured)" in rows[0].text_content()
    assert client.get("/children").status_code == 200
    found = client.get("/children?q=Rowan")
    assert found.status_code == 200 and "Rowan" in found.get_data(as_text=True)
    with web_runtime.session_factory() as session:
        searches = list(
            session.scalars(
                select(AuditEvent.new_values)
                .where(AuditEvent.action == "children.listed")
                .order_by(AuditEvent.id)
            )
        )
    # The words searched for are kept as a keyed hash only: a child's name typed into the
    # search must not outlive the child's records in the audit trail.
    assert searches[-1]["search_hmac"] and not any(v["search_hmac"] for v in searches[:-1])
    assert "rowan" not in str(searches).lower()


def test_staff_name_children_but_cannot_read_chronologies(
    client: FlaskClient, make_user: Callable[..., WebUser], web_runtime: Runtime
) -> None:
    staff = make_user("staff")
    incident_id = start(web_runtime, staff)
    login(client, staff.email)
    path = f"/incidents/{incident_id}/children"
    made = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "name": "Sky Birch", "role": "disclosed"},
    )
    assert made.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "Sky Birch" in page and "To confirm" in page
    with web_runtime.unit_of_work() as uow:
        from sqlalchemy import select

        from services.db.models import Child

        child_id = uow.session.scalar(select(Child.id).where(Child.display_name == "Sky Birch"))
    assert client.get(f"/children/{child_id}").status_code == 403
    assert client.get("/children").status_code == 403
    assert client.get("/reports").status_code == 403


def test_the_headteacher_sees_the_dashboard_with_charts_and_a_csv(
    client: FlaskClient, make_user: Callable[..., WebUser], web_runtime: Runtime
) -> None:
    head = make_user("headteacher")
    staff = make_user("staff", school_id=head.school_id)
    start(web_runtime, staff)
    login(client, head.email)
    page = client.get("/reports")
    assert page.status_code == 200
    tree = html.fromstring(page.get_data(as_text=True))
    assert len(tree.xpath("//svg[@role='img']")) == 9
    assert len(tree.xpath("//section//table")) == 9
    assert not tree.xpath("//*[@style]")  # the CSP allows no inline style
    months = tree.xpath("//section[@id='section-months']//tbody/tr/td")
    assert [cell.text for cell in months] == ["1"]
    csv = client.get("/reports/dashboard.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "Incidents reported per month" in csv.get_data(as_text=True)
    assert client.get("/reports?from=yesterday").status_code == 422
    assert client.get("/reports?from=2026-02-01&to=2026-01-01").status_code == 422
    assert client.get("/reports?school=999999").status_code == 422
    assert client.get("/reports/dashboard.csv?to=nope").status_code == 422


def test_a_dsl_sends_a_file_records_receipt_and_another_school_accepts_one(
    app: Flask, client: FlaskClient, make_user: Callable[..., WebUser], web_runtime: Runtime
) -> None:
    dsl = make_user("dsl")
    incident_id = start(web_runtime, make_user("staff", school_id=dsl.school_id))
    login(client, dsl.email)
    path = f"/incidents/{incident_id}/children"
    client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "name": "Kit Moss",
            "role": "pictured",
            "date_of_birth": "2012-04-05",
        },
    )
    listing = html.fromstring(client.get(path).get_data(as_text=True))
    chronology = listing.xpath("//table[@id='incident-children']//a/@href")[0]
    send = html.fromstring(client.get(chronology).get_data(as_text=True)).xpath(
        "//a[@id='send-file']/@href"
    )[0]
    token = csrf_token(client, send)
    refused = client.post(
        send,
        data={
            "csrf_token": token,
            "to_school_name": "",
            "method": "secure_email",
            "what_sent": "The file",
        },
    )
    assert refused.status_code == 422 and "Name the new school" in refused.get_data(as_text=True)
    sent = client.post(
        send,
        data={
            "csrf_token": token,
            "to_school_name": "Hill School",
            "method": "secure_email",
            "what_sent": "The file",
        },
    )
    assert sent.status_code == 302
    transfer = sent.headers["Location"]
    page = client.get(transfer).get_data(as_text=True)
    assert "Waiting for receipt" in page and "Hill School" in page
    pdf = client.get(f"{transfer}/pack.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    pack = client.get(f"{transfer}/pack.json").get_json()
    assert pack["child"]["name"] == "Kit Moss" and pack["chronology"]
    token = csrf_token(client, transfer)
    bad = client.post(
        f"{transfer}/receipt",
        data={"csrf_token": token, "received_by": "Mr Lee", "received_on": "not a date"},
    )
    assert bad.status_code == 422
    done = client.post(
        f"{transfer}/receipt",
        data={
            "csrf_token": token,
            "received_by": "Mr Lee, DSL",
            "received_on": web_runtime.clock.now().date().isoformat(),
        },
    )
    assert done.status_code == 302
    assert "Receipt confirmed" in client.get(transfer).get_data(as_text=True)

    other_dsl = make_user("dsl")
    send_in_app = client.post(
        send,
        data={
            "csrf_token": csrf_token(client, send),
            "to_school_id": str(other_dsl.school_id),
            "what_sent": "The whole file",
        },
    )
    assert send_in_app.status_code == 302
    in_app = send_in_app.headers["Location"]
    other = app.test_client()
    login(other, other_dsl.email)
    assert "Waiting for you to accept" in other.get("/transfers").get_data(as_text=True)
    accepted = other.post(f"{in_app}/accept", data={"csrf_token": csrf_token(other, in_app)})
    assert accepted.status_code == 302
    theirs = other.get(accepted.headers["Location"]).get_data(as_text=True)
    assert "Kit Moss" in theirs and "Child protection file received from" in theirs
    assert other.get(chronology).status_code == 404  # the sending school's record stays there


def test_a_dsl_reviews_a_due_record_and_deletes_it(
    client: FlaskClient, make_user: Callable[..., WebUser], web_runtime: Runtime
) -> None:
    dsl = make_user("dsl")
    incident_id = start(web_runtime, make_user("staff", school_id=dsl.school_id))
    login(client, dsl.email)
    path = f"/incidents/{incident_id}/children"
    client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "name": "Old Record",
            "role": "pictured",
            "date_of_birth": "1995-03-01",
        },
    )
    queue = html.fromstring(client.get("/retention").get_data(as_text=True))
    (link,) = queue.xpath(f"//table[@id='review-queue']//a[contains(@href, '{incident_id}')]/@href")
    token = csrf_token(client, link)
    bad = client.post(f"{link}/keep", data={"csrf_token": token, "until": "soon", "reason": "x"})
    assert bad.status_code == 422
    unconfirmed = client.post(f"{link}/delete", data={"csrf_token": token, "reason": "done"})
    assert unconfirmed.status_code == 422
    deleted = client.post(
        f"{link}/delete", data={"csrf_token": token, "reason": "reviewed", "confirm": "yes"}
    )
    assert deleted.status_code == 302
    assert client.get(f"/incidents/{incident_id}").status_code == 404


def test_only_the_dsl_is_offered_the_retention_review_queue(
    app: Flask, client: FlaskClient, make_user: Callable[..., WebUser]
) -> None:
    # The queue is the DSL's (the headteacher gets a 403 there): never link a page that refuses.
    head = make_user("headteacher")
    dsl = make_user("dsl", school_id=head.school_id)
    login(client, head.email)
    assert "Records due for review" not in client.get("/children").get_data(as_text=True)
    assert client.get("/retention").status_code == 403
    other = app.test_client()
    login(other, dsl.email)
    assert "Records due for review" in other.get("/children").get_data(as_text=True)
