"""The export pack of a file transfer: JSON and a text-only PDF of the child's chronology."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

from forms.answers import date_time, long_date
from services.domain.children.messages import TransferPack

MARKING = "OFFICIAL-SENSITIVE"
_STYLES = getSampleStyleSheet()


def pack_json(pack: TransferPack, generated_at: datetime) -> dict[str, Any]:
    """The pack as JSON: the transfer, the child, the chronology."""
    transfer, child = pack.transfer, pack.chronology.child
    return {
        "marking": MARKING,
        "generated_at": generated_at.isoformat(),
        "transfer": {
            "id": transfer.id,
            "from_school": transfer.from_school_name,
            "to_school": transfer.to_school_name,
            "method": transfer.method,
            "what_sent": transfer.what_sent,
            "sent_at": transfer.sent_at.isoformat(),
            "confirm_receipt_by": transfer.due_at.isoformat(),
        },
        "child": {
            "name": child.name,
            "date_of_birth": child.date_of_birth.isoformat() if child.date_of_birth else None,
            "year_group": child.year_group,
        },
        "chronology": [
            {
                "at": entry.at.isoformat(),
                "incident_reference": entry.reference,
                "what": entry.what,
                "decided": entry.decided,
            }
            for entry in pack.chronology.entries
        ],
    }


def pack_pdf(pack: TransferPack, generated_at: datetime) -> bytes:
    """The pack as an A4 PDF: text only, marked OFFICIAL-SENSITIVE."""
    transfer, child = pack.transfer, pack.chronology.child
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        title=f"Child protection file: {child.name}",
        author="Safeguard Flow",
        subject=MARKING,
        invariant=1,
    )
    body = _STYLES["BodyText"]
    born = long_date(child.date_of_birth) if child.date_of_birth else "not known"
    story = [
        Paragraph(MARKING, _STYLES["Heading4"]),
        Paragraph(f"Child protection file: {escape(child.name)}", _STYLES["Title"]),
        Paragraph(
            f"Date of birth: {born}. Year group: {escape(child.year_group or 'not known')}.", body
        ),
        Paragraph(
            f"Sent by {escape(transfer.from_school_name)} to {escape(transfer.to_school_name)} "
            f"on {date_time(transfer.sent_at)} ({escape(transfer.method.replace('_', ' '))}). "
            f"Please confirm receipt by {date_time(transfer.due_at)}.",
            body,
        ),
        Paragraph(f"What was sent: {escape(transfer.what_sent)}", body),
        Spacer(1, 6 * mm),
        Paragraph("Chronology", _STYLES["Heading2"]),
    ]
    rows = [
        [
            Paragraph("<b>When</b>", body),
            Paragraph("<b>What happened</b>", body),
            Paragraph("<b>What was decided</b>", body),
        ]
    ]
    for entry in pack.chronology.entries:
        what = f"{entry.reference}: {entry.what}" if entry.reference else entry.what
        rows.append(
            [
                Paragraph(date_time(entry.at), body),
                Paragraph(escape(what), body),
                Paragraph(escape(entry.decided), body),
            ]
        )
    story.append(Table(rows, colWidths=[35 * mm, 65 * mm, 74 * mm], repeatRows=1))
    story.append(Spacer(1, 6 * mm))
    story.append(Paragraph(f"Generated {date_time(generated_at)}. {MARKING}.", body))
    document.build(story)
    return buffer.getvalue()
