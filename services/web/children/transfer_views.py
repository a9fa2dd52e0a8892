"""File transfer pages: send a child's file, record receipt, accept it in the app, the pack."""

from __future__ import annotations

import json
from datetime import date

from flask import Response, redirect, render_template, request, url_for
from sqlalchemy import select

from services.db.models import School
from services.domain.children.messages import (
    AcceptTransfer,
    ExportTransferPack,
    ReadChronology,
    ReadTransfer,
    ReadTransfers,
    RecordReceipt,
    SendFile,
)
from services.domain.errors import RequestInvalid
from services.web.auth.identity import login_required
from services.web.children.pack import pack_json, pack_pdf
from services.web.children.views import Page, _sentence, _user, bp
from services.web.extensions import runtime
from services.web.incidents.pages import tell
from services.web.incidents.web_bus import bus

METHODS = {
    "secure_email": "Secure email",
    "by_hand": "By hand, signed for",
    "recorded_post": "Recorded post",
    "other": "Another secure way",
}


def _other_schools(own_school_id: int) -> list[tuple[int, str]]:
    # Schools that use this system: a transfer to one of them is accepted in the app.
    with runtime().unit_of_work() as uow:
        rows = uow.session.execute(
            select(School.id, School.name).where(School.id != own_school_id).order_by(School.name)
        )
        return [(school_id, name) for school_id, name in rows]


@bp.route("/children/<int:child_id>/transfer", methods=["GET", "POST"])
@login_required
def send_file(child_id: int) -> Page:
    """Record sending the child protection file to a new school (DSL)."""
    user = _user()
    chronology = bus().handle(ReadChronology(child_id, user.id))
    child = chronology.child
    errors: dict[str, str] = {}
    form = request.form
    if request.method == "POST":
        target = form.get("to_school_id", "").strip()
        command = SendFile(
            child.id,
            user.id,
            form.get("to_school_name", ""),
            form.get("method", ""),
            form.get("what_sent", ""),
            to_school_id=int(target) if target.isdigit() else None,
        )
        try:
            transfer_id = bus().handle(command)
        except RequestInvalid as refused:
            field = str(refused).partition(":")[0]
            errors[field if field in METHOD_FIELDS else "what_sent"] = _sentence(str(refused))
        else:
            tell("The transfer is recorded. Receipt must be confirmed within 5 school days.")
            return redirect(url_for("children.transfer", transfer_id=transfer_id))
    html = render_template(
        "children/send_file.html",
        child=child,
        schools=_other_schools(child.school_id),
        methods=METHODS,
        errors=errors,
        form=form,
    )
    return html, 422 if errors else 200


METHOD_FIELDS = {"to_school_name", "method", "what_sent", "to_school_id"}


@bp.get("/transfers/<int:transfer_id>")
@login_required
def transfer(transfer_id: int) -> Page:
    """A transfer: what, how, when, whether receipt is confirmed (either school's DSL, head)."""
    line = bus().handle(ReadTransfer(transfer_id, _user().id))
    return render_template(
        "children/transfer.html", transfer=line, methods=METHODS, errors={}, form={}
    )


@bp.post("/transfers/<int:transfer_id>/receipt")
@login_required
def record_receipt(transfer_id: int) -> Page:
    """The sending DSL records who confirmed receipt, and when."""
    user = _user()
    form = request.form
    errors: dict[str, str] = {}
    try:
        received_on = date.fromisoformat(form.get("received_on", "").strip())
    except ValueError:
        errors["received_on"] = "Enter the date receipt was confirmed as YYYY-MM-DD"
    else:
        try:
            bus().handle(
                RecordReceipt(transfer_id, user.id, form.get("received_by", ""), received_on)
            )
        except RequestInvalid as refused:
            field = str(refused).partition(":")[0]
            errors[field if field in ("received_by", "received_on") else "received_by"] = _sentence(
                str(refused)
            )
        else:
            tell("Receipt of the file is recorded.")
            return redirect(url_for("children.transfer", transfer_id=transfer_id))
    line = bus().handle(ReadTransfer(transfer_id, user.id))
    html = render_template(
        "children/transfer.html", transfer=line, methods=METHODS, errors=errors, form=form
    )
    return html, 422


@bp.post("/transfers/<int:transfer_id>/accept")
@login_required
def accept(transfer_id: int) -> Page:
    """The receiving DSL accepts a file sent in the app."""
    child_id = bus().handle(AcceptTransfer(transfer_id, _user().id))
    tell("The file is accepted and is on the child's chronology.")
    return redirect(url_for("children.chronology", child_id=child_id))


@bp.get("/transfers/<int:transfer_id>/pack.<kind>")
@login_required
def pack(transfer_id: int, kind: str) -> Response:
    """The export pack for a school outside the system: PDF or JSON (sending DSL; logged)."""
    if kind not in ("pdf", "json"):
        return Response("Choose pack.pdf or pack.json\n", status=404, mimetype="text/plain")
    found = bus().handle(ExportTransferPack(transfer_id, _user().id))
    now = runtime().clock.now()
    name = f"child-protection-file-{transfer_id}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if kind == "pdf":
        return Response(pack_pdf(found, now), mimetype="application/pdf", headers=headers)
    body = json.dumps(pack_json(found, now), indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json", headers=headers)


@bp.get("/transfers")
@login_required
def transfers() -> Page:
    """A school's transfers, sent and incoming (DSL and headteacher)."""
    user = _user()
    schools = [s for s in user.schools if {"dsl", "headteacher"} & set(s.roles)]
    if not schools:
        return render_template(
            "incidents/problem.html",
            heading="You cannot do this",
            paragraphs=("File transfers are for the DSL and headteacher.",),
            incident_url=None,
        ), 403
    wanted = request.args.get("school", type=int)
    school = next((s for s in schools if s.school_id == wanted), schools[0])
    lines = bus().handle(ReadTransfers(user.id, school_id=school.school_id))
    return render_template(
        "children/transfers.html", school=school, transfers=lines, methods=METHODS
    )
