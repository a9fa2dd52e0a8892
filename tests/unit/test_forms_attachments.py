"""Attachments are refused by content: no image or video gets in, whatever its name.

Every image and video here is a few magic bytes built in the test; the repository holds none.
"""

from __future__ import annotations

import io
import zipfile
import zlib

import pytest

from forms import media_sniff
from forms.attachments import (
    MAX_DOCUMENT_BYTES,
    NO_IMAGERY,
    AttachmentRefused,
    check_document,
    identify_accepted_document,
)
from tests.unit.imagery_corpus import (
    FONT,
    PAGES,
    TEXT,
    clean_pdf_by_hand,
    page,
    pdf,
    pdf_drawing,
    stream,
)


def iso_media(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands + b"\x00" * 16


def riff(form: bytes) -> bytes:
    return b"RIFF" + (100).to_bytes(4, "little") + form + b"\x00" * 16


MEDIA = {
    "JPEG": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01",
    "PNG": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "GIF": b"GIF89a\x01\x00\x01\x00",
    "GIF87": b"GIF87a\x01\x00\x01\x00",
    "WebP": riff(b"WEBPVP8 "),
    "HEIC": iso_media(b"heic", b"mif1", b"heic"),
    "AVIF": iso_media(b"avif", b"avif", b"mif1", b"miaf"),
    "HEIF": iso_media(b"mif1", b"mif1"),
    "BMP": b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little") + b"\x00" * 20,
    "TIFF": b"II*\x00\x08\x00\x00\x00",
    "MP4": iso_media(b"isom", b"isom", b"iso2", b"avc1", b"mp41"),
    "MOV": iso_media(b"qt  ", b"qt  "),
    "MOV without ftyp": b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat",
    "3GP": iso_media(b"3gp5", b"3gp5"),
    "WebM": b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\x82\x84webm",
    "MKV": b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\x82\x88matroska",
    "AVI": riff(b"AVI LIST"),
    "SVG": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
    "SVG in UTF-16": '<svg xmlns="http://www.w3.org/2000/svg"/>'.encode("utf-16"),
    "ICO": b"\x00\x00\x01\x00\x01\x00\x10\x10",
    "PSD": b"8BPS\x00\x01",
}


@pytest.mark.parametrize("name", MEDIA)
def test_an_image_or_video_named_pdf_is_refused_as_imagery(name: str) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        check_document("letter.pdf", MEDIA[name])
    assert refused.value.message.startswith(
        ("This file looks like an image (", "This file looks like a video (")
    )
    assert refused.value.message.endswith(NO_IMAGERY)


@pytest.mark.parametrize("name", MEDIA)
def test_our_own_magic_numbers_recognise_each_without_the_filetype_package(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_sniff, "_by_filetype", lambda content: None)
    assert media_sniff.sniff_media(MEDIA[name]) is not None


def test_the_jpeg_message_names_the_format_and_says_why() -> None:
    with pytest.raises(AttachmentRefused) as refused:
        check_document("letter.pdf", MEDIA["JPEG"])
    assert str(refused.value) == (
        "This file looks like an image (JPEG). Safeguard Flow never accepts images or videos of "
        "children: describe what was seen in words instead."
    )


def test_a_video_is_named_as_a_video() -> None:
    with pytest.raises(AttachmentRefused, match=r"^This file looks like a video \(MP4\)\. "):
        check_document("notes.txt", MEDIA["MP4"])


MINIMAL_PDF = clean_pdf_by_hand()


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


CONTENT_TYPES = (
    b'<Types><Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCX = {"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w:document/>"}
ODT = {
    "mimetype": b"application/vnd.oasis.opendocument.text",
    "content.xml": b"<office:document-content/>",
}


@pytest.mark.parametrize(
    ("filename", "content", "kind"),
    [
        ("letter.pdf", MINIMAL_PDF, "pdf"),
        ("notes.txt", b"Pupil said the image was sent on Tuesday.\r\n\tNothing else.\n", "text"),
        ("notes.txt", "Caf\u00e9 \u2013 notes".encode(), "text"),
        ("notes.txt", "Notes in UTF-16".encode("utf-16"), "text"),
        ("notes.txt", "Caf\u00e9 notes from Notepad".encode("cp1252"), "text"),
        ("notes.txt", b"BM: a text file that starts like a bitmap would" * 2, "text"),
        ("letter.docx", zipped(DOCX), "docx"),
        ("letter.odt", zipped(ODT), "odt"),
        ("no name", MINIMAL_PDF, "pdf"),
    ],
)
def test_documents_are_accepted(filename: str, content: bytes, kind: str) -> None:
    check_document(filename, content)
    assert identify_accepted_document(filename, content) == kind


def pdf_with_content(content: bytes) -> bytes:
    """A one-page PDF drawing this (Flate-compressed) content."""
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    body = stream(b"/Filter /FlateDecode", zlib.compress(content))
    return pdf(catalog, PAGES, page(), FONT, body)


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("empty.pdf", b"", "The selected file is empty"),
        ("big.txt", b"a" * (MAX_DOCUMENT_BYTES + 1), "The selected file must be smaller than 10MB"),
        ("book.xlsx", zipped({"[Content_Types].xml": b"spreadsheetml"}), "an Excel spreadsheet"),
        ("files.zip", zipped({"a.txt": b"a"}), "a ZIP archive"),
        ("letter.rtf", b"{\\rtf1\\ansi Hello}", "a rich text (RTF) file"),
        ("song.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00", "an audio recording (MP3)"),
        ("data.bin", bytes(range(256)) * 4, "This file's type is not recognised"),
    ],
)
def test_anything_else_is_refused_naming_what_it_looks_like(
    filename: str, content: bytes, message: str
) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        check_document(filename, content)
    assert message in refused.value.message


def test_the_refusal_of_other_types_lists_what_is_accepted() -> None:
    with pytest.raises(AttachmentRefused) as refused:
        check_document("files.zip", zipped({"a.txt": b"a"}))
    assert refused.value.message == (
        "This file looks like a ZIP archive. Safeguard Flow accepts only PDF, Word (DOCX), "
        "OpenDocument text (ODT) or plain text documents."
    )


@pytest.mark.parametrize(
    ("filename", "content", "where"),
    [
        ("letter.docx", zipped({**DOCX, "word/media/image1.png": MEDIA["PNG"]}), "word/media/"),
        ("letter.docx", zipped({**DOCX, "word/a.bin": MEDIA["JPEG"]}), "a picture (word/a.bin)"),
        ("letter.odt", zipped({**ODT, "Pictures/1.jpg": b"x"}), "Pictures/1.jpg"),
        ("letter.odt", zipped({**ODT, "Thumbnails/thumbnail.png": b"x"}), "a preview picture"),
        ("letter.pdf", pdf_drawing(b"/Subtype /Image"), "a picture"),
        ("letter.pdf", pdf_drawing(b"/Subtype/Im#61ge"), "a picture"),
        (
            "letter.pdf",
            pdf_with_content(b"q BI /W 4 /H 4 /CS /G /BPC 8 /F /AHx ID 00010203> EI Q"),
            "a picture drawn inline",
        ),
        (
            "notes.html",
            b'<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA">',
            "a data: address",
        ),
    ],
)
def test_a_document_with_a_picture_inside_is_refused(
    filename: str, content: bytes, where: str
) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        check_document(filename, content)
    assert where in refused.value.message
    assert "remove every picture" in refused.value.message


def test_a_pdf_with_compressed_text_only_is_accepted() -> None:
    check_document("letter.pdf", pdf_with_content(TEXT + b" BT /F1 12 Tf (BI ID) Tj ET"))


@pytest.mark.parametrize("filename", ["photo.jpg", "clip.MP4", "drawing.svg", "shot.heic"])
def test_a_document_named_as_an_image_or_video_is_refused(filename: str) -> None:
    with pytest.raises(AttachmentRefused, match="which is an image or video format"):
        check_document(filename, b"plain words, not a picture")
