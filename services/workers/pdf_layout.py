"""Draw an IncidentRecord as an A4 PDF with reportlab: text only, marked, with page numbers.

Nothing is ever embedded but text in the standard Helvetica fonts: no image, no logo. Every
page carries the OFFICIAL-SENSITIVE marking at top and bottom, the reference, the generated
date and "Page N of M". `invariant` output: the same record and time give the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table

from forms.answers import date_time, role_in_words
from services.workers.record import Answer, Event, IncidentRecord, Step

MARKING = "OFFICIAL-SENSITIVE"
MARGIN = 20 * mm
_STYLES = getSampleStyleSheet()
_BODY = ParagraphStyle("record-body", parent=_STYLES["BodyText"], fontSize=9.5, leading=12)
_LABEL = ParagraphStyle("record-label", parent=_BODY, fontName="Helvetica-Bold")
_SMALL = ParagraphStyle("record-small", parent=_BODY, fontSize=8.5, textColor=colors.grey)
_TABLE_STYLE = [
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
    ("TOPPADDING", (0, 0), (-1, -1), 3),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


def record_pdf(record: IncidentRecord, generated_at: datetime) -> bytes:
    """The record as PDF bytes."""
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 6 * mm,
        bottomMargin=MARGIN + 6 * mm,
        title=f"Incident record {record.reference}",
        author="Safeguard Flow",
        subject=f"{MARKING}: child protection record of incident {record.reference}",
        creator="Safeguard Flow",
        invariant=1,
    )
    footer = f"Incident {record.reference} - generated {date_time(generated_at)}"
    document.build(_story(record, generated_at), canvasmaker=partial(_MarkedCanvas, footer=footer))
    return buffer.getvalue()


def _story(record: IncidentRecord, generated_at: datetime) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(_text(f"Incident record {record.reference}"), _STYLES["Title"]),
        Paragraph(_text(f"{MARKING}: for the child protection file only."), _LABEL),
        Spacer(1, 4 * mm),
        _pairs(_summary(record, generated_at)),
        Spacer(1, 6 * mm),
        Paragraph("Decisions and their reasons", _STYLES["Heading2"]),
    ]
    if not record.decisions:
        story.append(Paragraph("No decision was recorded.", _BODY))
    for decision in record.decisions:
        rows = [Answer("Decision", decision.question), Answer("Answer", decision.answer)]
        rows += [Answer(f"Reason: {r.question}", r.answer) for r in decision.reasons]
        if not decision.reasons:
            rows.append(Answer("Reason", "No reason was recorded with this decision."))
        heading = Paragraph(_text(decision.step), _STYLES["Heading4"])
        story.append(KeepTogether([heading, _pairs(rows)]))
    story.append(Paragraph("Steps, in the order they were completed", _STYLES["Heading2"]))
    if not record.steps:
        story.append(Paragraph("No step has been completed.", _BODY))
    for number, step in enumerate(record.steps, start=1):
        story += _step(number, step)
    story += _events("What was done, and by whom", record.timeline, "Nothing was recorded.")
    story += _events("Who opened the record", record.access, "Nobody has opened the record.")
    story += [
        Spacer(1, 6 * mm),
        Paragraph(
            "Produced by Safeguard Flow from the incident's recorded steps. This record holds "
            "words only: it never contains an image.",
            _SMALL,
        ),
    ]
    return story


def _events(title: str, events: tuple[Event, ...], empty: str) -> list[Flowable]:
    story: list[Flowable] = [Paragraph(_text(title), _STYLES["Heading2"])]
    if not events:
        return [*story, Paragraph(_text(empty), _BODY)]
    width = A4[0] - 2 * MARGIN
    cells = [[Paragraph(h, _LABEL) for h in ("When", "Who", "What", "Reason")]]
    cells += [
        [
            Paragraph(_text(e.when), _SMALL),
            Paragraph(_text(e.who), _BODY),
            Paragraph(_text(e.what), _BODY),
            Paragraph(_text(e.reason), _BODY),
        ]
        for e in events
    ]
    widths = [width * 0.22, width * 0.18, width * 0.38, width * 0.22]
    return [*story, Table(cells, colWidths=widths, style=_TABLE_STYLE, repeatRows=1)]


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


def _step(number: int, step: Step) -> list[Flowable]:
    when = date_time(step.completed_at) or "time not recorded"
    role = f" ({role_in_words(step.role)})" if step.role else ""
    heading = Paragraph(_text(f"{number}. {step.name}"), _STYLES["Heading3"])
    byline = Paragraph(_text(f"Completed by {step.by}{role}, {when}"), _SMALL)
    answers = _pairs(list(step.answers)) if step.answers else Paragraph("No answers.", _BODY)
    return [KeepTogether([heading, byline, Spacer(1, 1.5 * mm)]), answers, Spacer(1, 3 * mm)]


def _pairs(rows: list[Answer]) -> Table:
    width = A4[0] - 2 * MARGIN
    cells = [
        [Paragraph(_text(row.question), _LABEL), Paragraph(_text(row.answer), _BODY)]
        for row in rows
    ]
    return Table(cells, colWidths=[width * 0.38, width * 0.62], style=_TABLE_STYLE)


def _text(value: str) -> str:
    # Paragraph reads a little markup: escape it, and keep the writer's line breaks.
    return escape(value).replace("\n", "<br/>")


class _MarkedCanvas(Canvas):  # type: ignore[misc]
    """Holds each page until the end, so every page can say "Page N of M"."""

    def __init__(self, *args: Any, footer: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:
        """Keep the page's state; it is drawn, marked and numbered in save()."""
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        """Mark and number every held page, then write the document."""
        total = len(self._held)
        for number, state in enumerate(self._held, start=1):
            self.__dict__.update(state)
            self._mark(number, total)
            super().showPage()
        super().save()

    def _mark(self, number: int, total: int) -> None:
        width, height = A4
        self.saveState()
        self.setFont("Helvetica-Bold", 10)
        self.drawCentredString(width / 2, height - 12 * mm, MARKING)
        self.drawCentredString(width / 2, 9 * mm, MARKING)
        self.setFont("Helvetica", 8)
        self.drawString(MARGIN, 15 * mm, self._footer)
        self.drawRightString(width - MARGIN, 15 * mm, f"Page {number} of {total}")
        self.restoreState()
