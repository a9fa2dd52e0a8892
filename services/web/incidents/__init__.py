"""The pages where staff run an incident: report a concern, the incident page, task forms,
break-glass and excluding a person. Views parse input, send a command or query, render."""

from services.web.incidents import (
    case_views,
    document_views,
    message_views,
    report_views,
    task_views,
)
from services.web.incidents.blueprint import bp
from services.web.incidents.web_bus import bus

__all__ = [
    "bp",
    "bus",
    "case_views",
    "document_views",
    "message_views",
    "report_views",
    "task_views",
]
