"""Draw an IncidentRecord as a tagged (accessible) A4 PDF: HTML through WeasyPrint, PDF/UA-1.

The record is written as semantic HTML (headings, tables with header cells, the document's
language and title) and WeasyPrint writes it as PDF/UA-1: a tagged PDF with its structure
tree, so screen readers read it in order. Text only, in the system's DejaVu Sans: no image, no
logo. Every page carries the OFFICIAL-SENSITIVE marking at top and bottom, the reference, the
generated date and "Page N of M". WeasyPrint needs Pango (Debian: libpango-1.0-0,
libpangoft2-1.0-0) and a font (fonts-dejavu-core); see the README's prerequisites.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from forms.answers import date_time, role_in_words
from services.workers.record import Answer, IncidentRecord

MARKING = "OFFICIAL-SENSITIVE"
TEMPLATES = Path(__file__).parent / "templates"


def record_pdf(record: IncidentRecord, generated_at: datetime) -> bytes:
    """The record as tagged PDF bytes (PDF/UA-1)."""
    from weasyprint import HTML  # loads Pango: only where a PDF is drawn

    html = record_html(record, generated_at)
    pdf: bytes = HTML(string=html).write_pdf(pdf_variant="pdf/ua-1")
    return pdf


def record_html(record: IncidentRecord, generated_at: datetime) -> str:
    """The record as the HTML the PDF is drawn from."""
    footer = f"Incident {record.reference} - generated {date_time(generated_at)}"
    return (
        _environment()
        .get_template("record.html")
        .render(
            record=record,
            summary=_summary(record, generated_at),
            marking=MARKING,
            footer=_css_string(footer),
        )
    )


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])
    )
    environment.filters["when"] = date_time
    environment.filters["role"] = role_in_words
    environment.filters["lines"] = _lines
    return environment


def _lines(value: str) -> Markup:
    # Keep the writer's line breaks, escaping everything else.
    return Markup("<br>").join(escape(line) for line in str(value).splitlines())


def _css_string(text: str) -> str:
    # The footer goes into a CSS string in the page's style: no quote or backslash may end it.
    return text.replace("\\", " ").replace('"', "'").replace("\n", " ")


def _summary(record: IncidentRecord, generated_at: datetime) -> list[Answer]:
    rows = [
        Answer("School", record.school_name),
        Answer("Reference", record.reference),
        Answer("Status", record.status),
        Answer("Process", record.process_name),
        Answer("Reported", date_time(record.reported_at)),
        Answer("Reported by", record.reported_by),
    ]
    if record.closed_at is not None:
        rows.append(Answer("Closed", date_time(record.closed_at)))
    rows.append(Answer("Record generated", date_time(generated_at)))
    return rows
