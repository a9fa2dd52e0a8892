"""The cases blueprint: the incidents list, case history, diagram and exports."""

from __future__ import annotations

from flask import Blueprint

from services.web.incidents.pages import register_domain_errors

bp = Blueprint("cases", __name__)
register_domain_errors(bp)
