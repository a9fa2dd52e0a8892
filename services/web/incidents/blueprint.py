"""The incidents area's blueprint: report a concern, the incident page, task forms."""

from __future__ import annotations

from flask import Blueprint

from forms.answers import date_time, long_date
from services.web.incidents.pages import register_domain_errors

bp = Blueprint("incidents", __name__)
register_domain_errors(bp)
bp.add_app_template_filter(long_date, "sf_date")
bp.add_app_template_filter(date_time, "sf_date_time")
