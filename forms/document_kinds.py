"""Recognise the document formats Safeguard Flow accepts, and find pictures hidden inside them.

PDFs are read with pypdf (forms.pdf_check), DOCX and ODT packages with zipfile
(forms.office_check), and plain text with the text guard (workflow.text_imagery).
"""

from __future__ import annotations

import io
import zipfile
from typing import Literal

import filetype

from forms.media_sniff import MEDIA_EXTENSIONS
from forms.office_check import package_problem
from forms.pdf_check import pdf_problem
from forms.plain_text import decode_text, is_plain_text
from workflow.text_imagery import find_imagery

__all__ = [
    "KIND_NAMES",
    "MEDIA_EXTENSIONS",
    "DocumentKind",
    "describe_other",
    "find_embedded_picture",
    "identify_document",
]

DocumentKind = Literal["pdf", "docx", "odt", "text"]

KIND_NAMES: dict[DocumentKind, str] = {
    "pdf": "PDF",
    "docx": "Word document (DOCX)",
    "odt": "OpenDocument text (ODT)",
    "text": "plain text",
}

_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
_DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_ZIP_PACKAGES = (
    (b"spreadsheetml", "an Excel spreadsheet (XLSX)"),
    (b"presentationml", "a PowerPoint presentation (PPTX)"),
    (b"opendocument.spreadsheet", "an OpenDocument spreadsheet (ODS)"),
    (b"opendocument.presentation", "an OpenDocument presentation (ODP)"),
)
_MAX_ZIP_ENTRIES = 5_000
_MAX_XML_BYTES = 1_000_000


def identify_document(content: bytes) -> DocumentKind | None:
    """Return which accepted document format these bytes are in, or None."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"PK\x03\x04"):
        return _office_kind(content)
    if is_plain_text(content):
        return "text"
    return None


def find_embedded_picture(kind: DocumentKind, content: bytes) -> str | None:
    """Describe a picture (or a part that cannot be checked) inside a document, or None."""
    if kind == "pdf":
        return pdf_problem(content)
    if kind in ("docx", "odt"):
        return package_problem(content)
    return find_imagery(decode_text(content) or "")


def describe_other(content: bytes) -> str | None:
    """Name a refused file's format for a message ("an Excel spreadsheet (XLSX)"), if known."""
    if content.startswith(b"PK\x03\x04"):
        return _zip_package_name(content)
    if content.startswith(b"{\\rtf"):
        return "a rich text (RTF) file"
    kind = filetype.guess(content)
    if kind is None:
        return None
    name = str(kind.extension).upper()
    if str(kind.mime).startswith("audio/"):
        return f"an audio recording ({name})"
    return f"a {name} file ({kind.mime})"


def _open_zip(content: bytes) -> zipfile.ZipFile | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError):
        return None
    if len(archive.infolist()) > _MAX_ZIP_ENTRIES:
        return None
    return archive


def _read_entry(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        with archive.open(name) as entry:
            return entry.read(limit)
    except Exception:  # unreadable here only means "not this format"; the full check refuses it
        return b""


def _office_kind(content: bytes) -> DocumentKind | None:
    archive = _open_zip(content)
    if archive is None:
        return None
    with archive:
        if _read_entry(archive, "mimetype", 200).strip() == _ODT_MIMETYPE:
            return "odt"
        if _DOCX_MAIN in _read_entry(archive, "[Content_Types].xml", _MAX_XML_BYTES):
            return "docx"
    return None


def _zip_package_name(content: bytes) -> str:
    archive = _open_zip(content)
    if archive is None:
        return "a damaged or unusual ZIP archive"
    with archive:
        declared = _read_entry(archive, "mimetype", 200) + _read_entry(
            archive, "[Content_Types].xml", _MAX_XML_BYTES
        )
    for marker, name in _ZIP_PACKAGES:
        if marker in declared:
            return name
    return "a ZIP archive"
