"""Recognise the document formats Safeguard Flow accepts, and find pictures hidden inside them."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import Literal

import filetype

from forms.media_sniff import sniff_media
from forms.plain_text import is_plain_text

DocumentKind = Literal["pdf", "docx", "odt", "text"]

KIND_NAMES: dict[DocumentKind, str] = {
    "pdf": "PDF",
    "docx": "Word document (DOCX)",
    "odt": "OpenDocument text (ODT)",
    "text": "plain text",
}

# File name endings of image and video formats (refused whatever the bytes say).
_IMAGE_ENDINGS = (
    "jpg jpeg jpe jfif png apng gif webp heic heif avif bmp dib tif tiff svg svgz ico cur psd jxl "
    "jp2 j2k jpx qoi emf wmf emz wmz svm pict pct eps raw cr2 cr3 nef arw dng orf rw2 raf"
)
_VIDEO_ENDINGS = (
    "mp4 m4v mov qt avi wmv asf webm mkv flv f4v 3gp 3g2 mpg mpeg m2v ts mts m2ts ogv vob"
)
MEDIA_EXTENSIONS = frozenset(_IMAGE_ENDINGS.split() + _VIDEO_ENDINGS.split())

_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
_DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_ZIP_PACKAGES = (
    (b"spreadsheetml", "an Excel spreadsheet (XLSX)"),
    (b"presentationml", "a PowerPoint presentation (PPTX)"),
    (b"opendocument.spreadsheet", "an OpenDocument spreadsheet (ODS)"),
    (b"opendocument.presentation", "an OpenDocument presentation (ODP)"),
)
# Entries that hold pictures, or other documents (which may hold pictures in turn).
_PICTURE_FOLDERS = ("word/media/", "word/embeddings/", "Pictures/", "ObjectReplacements/")
# A page-one preview office programs save; it shows pictures only if the document has some,
# and those are refused on their own.
_THUMBNAILS = ("Thumbnails/thumbnail.png", "docProps/thumbnail.jpeg", "docProps/thumbnail.wmf")
_MAX_ZIP_ENTRIES = 5_000
_MAX_XML_BYTES = 1_000_000

_PDF_SUBTYPE = re.compile(rb"/Subtype\s*/([A-Za-z0-9#]+)")
_PDF_STREAM = re.compile(rb"stream\r?\n")
_PDF_INLINE_IMAGE = re.compile(rb"(?:^|\s)BI\s+/\w+.{0,2000}?\sID\s", re.DOTALL)
_MAX_INFLATED_BYTES = 32 * 1024 * 1024
_DATA_URI_MEDIA = re.compile(rb"data:\s*(?:image|video)/", re.IGNORECASE)


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
    """Describe a picture (or embedded object) inside an accepted document, or None if none."""
    if kind == "pdf":
        return _pdf_picture(content)
    if kind in ("docx", "odt"):
        return _zip_picture(content)
    if _DATA_URI_MEDIA.search(content):
        return "an image written out as text (a data: address)"
    return None


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
    except (KeyError, zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error):
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


def _zip_picture(content: bytes) -> str | None:
    archive = _open_zip(content)
    if archive is None:
        return "contents that could not be read"
    with archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or name in _THUMBNAILS:
                continue
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if name.startswith(_PICTURE_FOLDERS) or extension in MEDIA_EXTENSIONS:
                return f"a picture or embedded object ({name})"
            if sniff_media(_read_entry(archive, name, 512)) is not None:
                return f"a picture ({name})"
    return None


def _pdf_picture(content: bytes) -> str | None:
    for match in _PDF_SUBTYPE.finditer(content):
        if _decode_pdf_name(match.group(1)) == b"Image":
            return "a picture"
    for stream in _inflated_streams(content):
        if _PDF_INLINE_IMAGE.search(stream):
            return "a picture drawn inline on a page"
    return None


def _decode_pdf_name(name: bytes) -> bytes:
    """PDF names may spell a character as #xx ("/Im#61ge" is "/Image")."""
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), name)


def _inflated_streams(content: bytes) -> Iterator[bytes]:
    """Inflate each zlib-compressed stream in turn, bounded in total so a zip bomb cannot hurt."""
    budget = _MAX_INFLATED_BYTES
    view = memoryview(content)
    for match in _PDF_STREAM.finditer(content):
        if budget <= 0:
            return
        end = content.find(b"endstream", match.end())
        try:
            data = zlib.decompressobj().decompress(
                view[match.end() : end if end >= 0 else None], budget
            )
        except zlib.error:
            continue
        budget -= len(data)
        yield data
