"""The API blueprint at /api/v1: bearer tokens only, no cookies, JSON errors for every failure.

CSRF protection is off for this blueprint because it never reads the session cookie: a request
without a valid `Authorization: Bearer` token is refused with 401, whoever is signed in.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, request
from werkzeug.exceptions import HTTPException

from services.db.errors import ConcurrentUpdate
from services.domain.errors import DomainError
from services.web.api import errors
from services.web.auth.tokens import bearer_token, load_user_from_bearer
from services.web.extensions import exempt_from_csrf
from services.web.ids import ID_PATTERN
from workflow.errors import DefinitionInvalid, ProcessFailed, TaskDataInvalid

API_PREFIX = "/api/v1"
# Forms of the default process total under 25,000 characters; 256 KiB leaves room for edits.
MAX_BODY_BYTES = 256 * 1024
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
_ID = re.compile(ID_PATTERN)

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
exempt_from_csrf(bp)


@bp.before_request
def _authenticate() -> Response | None:
    request.max_content_length = MAX_BODY_BYTES
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = load_user_from_bearer(request)
    if user is None:
        return _unauthorized()
    g.api_user = user
    return _unknown_id()


def _unknown_id() -> Response | None:
    # Ids that cannot be ours must not reach SQL (see services.web.ids). The pages' `id` URL
    # converter is not used here: checked after the token, a request without one is a 401
    # whatever its URL, and the routes stay the paths of the OpenAPI document.
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and not _ID.fullmatch(value):
            return errors.error_response(404, "not_found", f"{name} {value!r} not found")
    return None


def _unauthorized() -> Response:
    if bearer_token(request) is None:
        challenge = 'Bearer realm="safeguard-api"'
        message = "send an API token as `Authorization: Bearer <token>` (cookies are not accepted)"
    else:
        challenge = 'Bearer realm="safeguard-api", error="invalid_token"'
        message = "the API token is unknown, revoked, or its user is deactivated"
    return errors.error_response(
        401, "unauthorized", message, headers={"WWW-Authenticate": challenge}
    )


@bp.before_app_request
def _routing_errors_as_json() -> Response | None:
    # A URL under /api/v1 that matches no route (404) or not with this method (405) never
    # reaches the blueprint, so its error handlers would not run: answer in JSON here.
    failure = request.routing_exception
    in_api = request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")
    if not in_api or not isinstance(failure, HTTPException):
        return None
    if failure.code is None or failure.code < 400:
        return None  # a redirect (say, a missing slash) is not an error
    return errors.http_error_response(failure)


@bp.errorhandler(errors.ApiError)
def _api_error(error: errors.ApiError) -> Response:
    return errors.api_error_response(error)


@bp.errorhandler(DomainError)
@bp.errorhandler(ConcurrentUpdate)
@bp.errorhandler(TaskDataInvalid)
@bp.errorhandler(DefinitionInvalid)
@bp.errorhandler(ProcessFailed)
def _domain_error(
    error: DomainError | ConcurrentUpdate | TaskDataInvalid | DefinitionInvalid | ProcessFailed,
) -> Response:
    return errors.domain_error_response(error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return errors.http_error_response(error)


@bp.errorhandler(Exception)
def _unexpected_error(error: Exception) -> Response:
    return errors.unexpected_error_response(error)
