"""The studio's pages: processes and versions, the modeller, approval, publishing, diffs, impact."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from services.domain.errors import DomainError, http_status_of
from services.domain.studio import drafts, school_scenarios, versions
from services.domain.studio.errors import ChecksFailed, DraftConflict
from services.web.auth.identity import SignedInUser, current_user, login_required
from services.web.studio.context import studio
from workflow.errors import DefinitionInvalid, DiagramProblem

bp = Blueprint("studio", __name__, url_prefix="/studio")

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_SCENARIO_UPLOAD = 64 * 1024 + 1  # one more than a scenario may have, so the refusal says so
STUDIO_ROLES = frozenset({"process_admin", "auditor"})


def sees_studio(user: SignedInUser) -> bool:
    """Process admins and auditors see the studio in the menu."""
    return bool(STUDIO_ROLES.intersection(user.all_roles))


def _user() -> SignedInUser:
    user = current_user()
    if user is None:  # login_required let the request through
        abort(401)
    return user


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> tuple[str, int]:
    status = http_status_of(error) or 400
    return (
        render_template("studio/error.html", message=str(error), status=status),
        status,
    )


@bp.get("/")
@login_required
def index() -> str:
    """Every process with its versions, the schools running each, and open drafts."""
    user = _user()
    processes = versions.list_processes(studio(), user.id)
    return render_template(
        "studio/index.html",
        processes=processes,
        may_author=versions.may_author(studio(), user.id),
    )


@bp.post("/processes/<key:process_key>/drafts")
@login_required
def new_draft(process_key: str) -> BaseResponse:
    """Start a draft from a version (its files), or from uploaded .bpmn/.dmn files."""
    user = _user()
    files: dict[str, object] = {}
    uploads = [f for f in request.files.getlist("files") if f.filename]
    if uploads:
        names = [upload.filename or "" for upload in uploads]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:  # the second would silently replace the first
            problems = [
                DiagramProblem(n, None, "", "uploaded twice: upload it once") for n in twice
            ]
            return _refused(problems, process_key)
        for upload in uploads:
            files[upload.filename or ""] = upload.read(MAX_UPLOAD_BYTES + 1)
    else:
        number = request.form.get("version", type=int)
        if number is None:
            abort(400)
        files = dict(versions.version_files(studio(), user.id, process_key, number))
    try:
        draft_id = drafts.create_draft(
            studio(), user.id, process_key, files, request.form.get("note", "")
        )
    except DefinitionInvalid as error:
        return _refused(error.problems, process_key)
    return redirect(url_for(".draft", draft_id=draft_id))


def _refused(problems: list[DiagramProblem], process_key: str) -> Response:
    return Response(
        render_template("studio/refused.html", problems=problems, key=process_key), status=422
    )


@bp.get("/drafts/<int:draft_id>")
@login_required
def draft(draft_id: int) -> str:
    """The modeller page: the diagram, its problems and scenarios, approval and publishing."""
    view = versions.draft_view(studio(), _user().id, draft_id)
    return render_template("studio/draft.html", draft=view)


@bp.get("/drafts/<int:draft_id>/state")
@login_required
def draft_state(draft_id: int) -> Response:
    """The draft as JSON, for the modeller page's script."""
    return jsonify(versions.draft_view(studio(), _user().id, draft_id))


@bp.post("/drafts/<int:draft_id>/save")
@login_required
def save(draft_id: int) -> Response | tuple[Response, int]:
    """Autosave from the modeller (JSON, CSRF header); 409 with both versions on a clash."""
    request.max_content_length = MAX_UPLOAD_BYTES
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("files"), dict):
        return jsonify({"error": "send {files, revision}"}), 400
    revision = body.get("revision")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        return jsonify({"error": "revision must be a whole number of at least 1"}), 400
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        return jsonify({"error": "note must be text"}), 400
    user = _user()
    try:
        drafts.save_draft(studio(), user.id, draft_id, body["files"], revision, note)
    except DefinitionInvalid as error:
        problems = [_problem(p) for p in error.problems]
        return jsonify({"error": str(error), "problems": problems}), 422
    except DraftConflict as error:
        return jsonify(
            {"error": str(error), "theirs": error.theirs, "yours": error.yours_revision}
        ), 409
    except DomainError as error:  # the modeller's script reads JSON, not an error page
        return jsonify({"error": str(error)}), http_status_of(error) or 400
    return jsonify(versions.draft_view(studio(), user.id, draft_id))


@bp.post("/drafts/<int:draft_id>/approve")
@login_required
def approve(draft_id: int) -> BaseResponse | tuple[str, int]:
    """Approve the draft (four eyes): it is checked again first."""
    try:
        drafts.approve_draft(studio(), _user().id, draft_id, request.form.get("revision", type=int))
    except ChecksFailed as error:
        return render_template("studio/error.html", message=str(error), status=409), 409
    except DraftConflict as error:
        return render_template("studio/error.html", message=str(error), status=409), 409
    return redirect(url_for(".draft", draft_id=draft_id))


@bp.post("/drafts/<int:draft_id>/publish")
@login_required
def publish(draft_id: int) -> BaseResponse:
    """Publish the approved draft as a new version, with its change note."""
    number = drafts.publish_draft(studio(), _user().id, draft_id, request.form.get("note", ""))
    view = versions.draft_view(studio(), _user().id, draft_id)
    return redirect(url_for(".index", published=number, process=view["process_key"]))


@bp.post("/drafts/<int:draft_id>/discard")
@login_required
def discard(draft_id: int) -> BaseResponse:
    """Set the draft aside."""
    drafts.discard_draft(studio(), _user().id, draft_id)
    return redirect(url_for(".index"))


@bp.get("/drafts/<int:draft_id>/files/<file:name>")
@login_required
def export_draft_file(draft_id: int, name: str) -> Response:
    """Download one file of the draft (to open it in Camunda Modeler)."""
    files = versions.draft_view(studio(), _user().id, draft_id)["files"]
    return _download(files, name)


@bp.get("/processes/<key:process_key>/versions/<int:number>")
@login_required
def version(process_key: str, number: int) -> str:
    """One version: its diagram, what changed from the one before, where it runs."""
    user = _user()
    previous = max(number - 1, 1)
    diff = versions.version_diff(studio(), user.id, process_key, previous, number)
    processes = versions.list_processes(studio(), user.id)
    process = next((p for p in processes if p["process_key"] == process_key), None)
    if process is None:
        abort(404)
    return render_template(
        "studio/version.html",
        process=process,
        number=number,
        diff=diff,
        may_author=versions.may_author(studio(), user.id),
    )


@bp.get("/processes/<key:process_key>/diff")
@login_required
def diff(process_key: str) -> str:
    """What changed between any two versions, in words and coloured on the diagram."""
    old = request.args.get("old", type=int)
    new = request.args.get("new", type=int)
    if old is None or new is None:
        abort(400)
    result = versions.version_diff(studio(), _user().id, process_key, old, new)
    return render_template("studio/diff.html", key=process_key, diff=result)


@bp.get("/processes/<key:process_key>/versions/<int:number>/files/<file:name>")
@login_required
def export_version_file(process_key: str, number: int, name: str) -> Response:
    """Download one file of a published version."""
    return _download(versions.version_files(studio(), _user().id, process_key, number), name)


@bp.get("/processes/<key:process_key>/versions/<int:number>/impact")
@login_required
def impact(process_key: str, number: int) -> str:
    """Open incidents on a version and where each stands; no personal details."""
    result = versions.impact(studio(), _user().id, process_key, number)
    return render_template("studio/impact.html", impact=result)


@bp.post("/schools/<int:school_id>/version")
@login_required
def choose_version(school_id: int) -> BaseResponse:
    """Choose (or roll back) the version a school runs."""
    key = request.form.get("process_key", "")
    number = request.form.get("version", type=int)
    if not key or number is None:
        abort(400)
    versions.choose_version(studio(), _user().id, school_id, key, number)
    return redirect(url_for(".index"))


@bp.get("/processes/<key:process_key>/scenarios")
@login_required
def scenarios(process_key: str) -> str:
    """The scenarios every draft of the process runs; a school's admins add and remove theirs."""
    user = _user()
    listing = school_scenarios.list_scenarios(studio(), user.id, process_key)
    schools = [
        s
        for p in versions.list_processes(studio(), user.id)
        if p["process_key"] == process_key
        for s in p["schools"]
        if s["may_choose"]
    ]
    return render_template("studio/scenarios.html", listing=listing, schools=schools)


@bp.post("/schools/<int:school_id>/processes/<key:process_key>/scenarios")
@login_required
def add_scenario(school_id: int, process_key: str) -> BaseResponse:
    """Add or replace one of the school's scenarios from an uploaded .json file."""
    upload = request.files.get("file")
    name = (request.form.get("name") or "").strip()
    if upload is None or not upload.filename:
        problem = DiagramProblem("", None, "", "choose a scenario file (.json) to upload")
        return _refused([problem], process_key)
    name = name or (upload.filename or "").rsplit(".", 1)[0]
    raw = upload.read(MAX_SCENARIO_UPLOAD)
    try:
        text: object = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = DiagramProblem(f"{name}.json", None, "", f"not UTF-8 text: {error.reason}")
        return _refused([problem], process_key)
    try:
        school_scenarios.put_scenario(studio(), _user().id, school_id, process_key, name, text)
    except DefinitionInvalid as error:
        return _refused(error.problems, process_key)
    return redirect(url_for(".scenarios", process_key=process_key))


@bp.post("/schools/<int:school_id>/processes/<key:process_key>/scenarios/<name>/remove")
@login_required
def remove_scenario(school_id: int, process_key: str, name: str) -> BaseResponse:
    """Remove one of the school's scenarios."""
    school_scenarios.remove_scenario(studio(), _user().id, school_id, process_key, name)
    return redirect(url_for(".scenarios", process_key=process_key))


def _download(files: dict[str, str], name: str) -> Response:
    if name not in files:
        abort(404)
    mimetype = "application/xml"
    response = Response(files[name], mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _problem(problem: Any) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "element_id": problem.element_id,
        "message": problem.message,
        "text": str(problem),
    }
