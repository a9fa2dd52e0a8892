"""A corpus of disguised pictures, and of clean documents and text, built at run time.

Every picture here is made from generated pixels (a colour gradient) when the tests run: the
repository holds no image of anyone. Each case says whether the system must refuse it.
"""

from __future__ import annotations

import base64
import gzip
import html
import io
import re
import struct
import urllib.parse
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

# --- pictures from generated pixels ---------------------------------------------------------


def pixels(width: int = 16, height: int = 16) -> Image.Image:
    """A colour gradient: pixels computed here, never a photograph."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            ((x * 16) % 256, (y * 16) % 256, (x * y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return image


def png_by_hand(width: int = 8, height: int = 8) -> bytes:
    """A PNG written with zlib and struct alone (no imaging library)."""
    rows = b"".join(
        b"\x00" + bytes((x * 29 + y * 7) % 256 for x in range(width * 3)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@cache
def encoded(kind: str) -> bytes:
    """The gradient saved by Pillow in this format (PNG, JPEG, GIF, WEBP, TIFF, BMP)."""
    buffer = io.BytesIO()
    pixels().save(buffer, format=kind)
    return buffer.getvalue()


def iso_media(major: bytes, *compatible: bytes) -> bytes:
    """The opening box of an ISO media file (MP4, HEIC ...), then some empty bytes."""
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands + b"\x00" * 64


WEBM = b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\x82\x84webm" + b"\x00" * 64


def pictures() -> dict[str, bytes]:
    """One picture or video per format the corpus hides."""
    return {
        "PNG": encoded("PNG"),
        "PNG by hand": png_by_hand(),
        "JPEG": encoded("JPEG"),
        "GIF": encoded("GIF"),
        "WebP": encoded("WEBP"),
        "TIFF": encoded("TIFF"),
        "BMP": encoded("BMP"),
        "HEIC": iso_media(b"heic", b"mif1", b"heic"),
        "MP4": iso_media(b"isom", b"isom", b"iso2", b"avc1", b"mp41"),
        "WebM": WEBM,
    }


# --- PDFs -----------------------------------------------------------------------------------


def pdf(*objects: bytes, extra: bytes = b"", trailer: bytes = b"") -> bytes:
    """A PDF of these objects (1 0 obj first), with a correct index; `extra` goes unlisted."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    out += extra
    index = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % index
    return bytes(out)


def pdf_update(base: bytes, replaced: dict[int, bytes]) -> bytes:
    """`base` with a second revision appended (as editors save), replacing these objects."""
    previous = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    size = int(re.findall(rb"/Size (\d+)", base)[-1])
    out = bytearray(base)
    offsets = {}
    for number, body in replaced.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    index = len(out)
    out += b"xref\n"
    for number, offset in offsets.items():
        out += b"%d 1\n%010d 00000 n \n" % (number, offset)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\n" % (size, previous)
    out += b"startxref\n%d\n%%%%EOF\n" % index
    return bytes(out)


def pdf_image_removed_later() -> bytes:
    """Revision 1 draws raw pixels; revision 2 swaps the image for an empty form and stops
    drawing it. Viewers show revision 2, but the pixels are still in the file."""
    first = pdf_drawing(b"/Subtype /Image")
    empty = stream(b"/Type /XObject /Subtype /Form /BBox [0 0 1 1]", b"")
    return pdf_update(first, {5: stream(b"", TEXT), 6: empty})


def stream(entries: bytes, data: bytes) -> bytes:
    """A stream object's body."""
    return b"<< %s /Length %d >>\nstream\n" % (entries, len(data)) + data + b"\nendstream"


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
TEXT = b"BT /F1 12 Tf 20 150 Td (Notes of the meeting with the DSL) Tj ET"


def page(resources: bytes = b"", annots: bytes = b"") -> bytes:
    """Page 3 0 obj, drawing content 5 0 R, with font 4 0 R and these resources."""
    return (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 5 0 R "
        b"/Resources << /Font << /F1 4 0 R >> %s >> %s >>" % (resources, annots)
    )


def raw_pixels() -> bytes:
    """8 x 8 RGB pixels of the gradient, Flate-compressed (no image signature in them)."""
    return zlib.compress(pixels(8, 8).tobytes())


def image_xobject(subtype: bytes = b"/Subtype /Image") -> bytes:
    """An image XObject of raw pixels; `subtype` spells its /Subtype entry."""
    return stream(
        b"/Type /XObject %s /Width 8 /Height 8 /ColorSpace /DeviceRGB /BitsPerComponent 8 "
        b"/Filter /FlateDecode" % subtype,
        raw_pixels(),
    )


def pdf_drawing(subtype: bytes, *more: bytes) -> bytes:
    """A page that draws image 6 0 R, whose /Subtype is spelled `subtype`."""
    content = stream(b"", TEXT + b" q 100 0 0 100 50 20 cm /Im1 Do Q")
    return pdf(
        CATALOG,
        PAGES,
        page(b"/XObject << /Im1 6 0 R >>"),
        FONT,
        content,
        image_xobject(subtype),
        *more,
    )


def clean_pdf_by_hand() -> bytes:
    """One page of text, written by hand."""
    return pdf(CATALOG, PAGES, page(), FONT, stream(b"", TEXT))


def inline_image() -> bytes:
    """BI ... ID ... EI: 8 x 8 pixels as hexadecimal, drawn in the page's content."""
    hexed = pixels(8, 8).tobytes().hex().encode() + b">"
    return b"q 8 0 0 8 20 20 cm BI /W 8 /H 8 /CS /RGB /BPC 8 /F /AHx ID " + hexed + b" EI Q"


def pdf_inline_image() -> bytes:
    content = zlib.compress(TEXT + b"\n" + inline_image())
    return pdf(CATALOG, PAGES, page(), FONT, stream(b"/Filter /FlateDecode", content))


def pdf_form_with_inline_image() -> bytes:
    form = stream(b"/Type /XObject /Subtype /Form /BBox [0 0 100 100]", inline_image())
    content = stream(b"", TEXT + b" /Fm1 Do")
    return pdf(CATALOG, PAGES, page(b"/XObject << /Fm1 6 0 R >>"), FONT, content, form)


def pdf_attachment(*, typed: bool = True) -> bytes:
    """A file attached in the document's names tree (its stream Flate-compressed)."""
    kind = b"/Type /EmbeddedFile" if typed else b""
    catalog = (
        b"<< /Type /Catalog /Pages 2 0 R "
        b"/Names << /EmbeddedFiles << /Names [(photo.png) 6 0 R] >> >> >>"
    )
    spec = b"<< /Type /Filespec /F (photo.png) /EF << /F 7 0 R >> >>"
    if not typed:
        spec = b"<< /F (photo.png) /EF << /F 7 0 R >> >>"
    embedded = stream(kind + b" /Filter /FlateDecode", zlib.compress(encoded("PNG")))
    return pdf(catalog, PAGES, page(), FONT, stream(b"", TEXT), spec, embedded)


def pdf_attachment_annotation() -> bytes:
    """A paper-clip annotation on the page holding a file."""
    annotation = b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 20 20] /FS 7 0 R >>"
    spec = b"<< /F (photo.jpg) /EF << /F 8 0 R >> >>"
    embedded = stream(b"/Filter /FlateDecode", zlib.compress(encoded("JPEG")))
    return pdf(
        CATALOG,
        PAGES,
        page(annots=b"/Annots [6 0 R]"),
        FONT,
        stream(b"", TEXT),
        annotation,
        spec,
        embedded,
    )


def pdf_with_unlisted_image() -> bytes:
    """An image object in the file that the index does not list (no viewer shows it)."""
    hidden = b"9 0 obj\n" + image_xobject() + b"\nendobj\n"
    return pdf(CATALOG, PAGES, page(), FONT, stream(b"", TEXT), extra=hidden)


def pdf_with_thumbnail_in_metadata() -> bytes:
    """XMP metadata holding a JPEG thumbnail as base64, lines broken by &#xA; as XMP does."""
    data = base64.b64encode(encoded("JPEG")).decode()
    wrapped = "&#xA;".join(data[i : i + 76] for i in range(0, len(data), 76))
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        f"><xmp:Thumbnails><xmpGImg:image>{wrapped}</xmpGImg:image></xmp:Thumbnails>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    catalog = b"<< /Type /Catalog /Pages 2 0 R /Metadata 6 0 R >>"
    metadata = stream(b"/Type /Metadata /Subtype /XML", xmp)
    return pdf(catalog, PAGES, page(), FONT, stream(b"", TEXT), metadata)


def reportlab_pdf(*, picture: bool = False) -> bytes:
    """A letter made by reportlab; with `picture`, the gradient drawn on it."""
    buffer = io.BytesIO()
    letter = canvas.Canvas(buffer)
    letter.drawString(72, 720, "Record of the meeting: the pupil described what was sent.")
    if picture:
        letter.drawImage(ImageReader(pixels()), 72, 500, width=64, height=64)
    letter.showPage()
    letter.save()
    return buffer.getvalue()


def pypdf_blank(pages: int = 2) -> bytes:
    """Blank pages written by pypdf."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pypdf_changed(
    source: bytes, change: Callable[[PdfWriter], None], *, incremental: bool
) -> bytes:
    """`source` with a change made by pypdf (as a new revision when `incremental`)."""
    if incremental:
        writer = PdfWriter(io.BytesIO(source), incremental=True)
    else:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(source)))
    change(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _attach_png(writer: PdfWriter) -> None:
    writer.add_attachment("photo.png", encoded("PNG"))


def _encrypt(writer: PdfWriter) -> None:
    writer.encrypt("secret")


def _retitle(writer: PdfWriter) -> None:
    writer.add_metadata({"/Title": "Meeting notes"})


# --- DOCX and ODT ---------------------------------------------------------------------------

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
    b"</Relationships>"
)


def document_xml(body: str = "The pupil described what was sent, in words.") -> bytes:
    """word/document.xml with one paragraph of text."""
    return (
        '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        f'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{body}</w:t></w:r></w:p>'
        "</w:body></w:document>"
    ).encode()


def docx_entries(**more: bytes) -> dict[str, bytes]:
    """The parts of a one-paragraph Word document, plus `more` (name -> bytes)."""
    return {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": RELS,
        "word/document.xml": document_xml(),
        **more,
    }


def zipped(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP package of these entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


class _Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek back in, so it writes sizes after the data (descriptors)."""

    def __init__(self) -> None:
        self.written = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.written += data
        return len(data)


def streamed(entries: dict[str, bytes], *, zip64: bool = False) -> bytes:
    """A ZIP package written as a stream, as LibreOffice and many tools do."""
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            with archive.open(name, "w", force_zip64=zip64) as entry:
                entry.write(content)
    return bytes(out.written)


def docx(**more: bytes) -> bytes:
    """A Word document with `more` parts."""
    return zipped(docx_entries(**more))


def odt() -> bytes:
    """An OpenDocument text, saved without a preview picture."""
    entries = {
        "mimetype": b"application/vnd.oasis.opendocument.text",
        "content.xml": b"<office:document-content><office:text>Notes</office:text>"
        b"</office:document-content>",
        "META-INF/manifest.xml": b"<manifest:manifest/>",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", entries.pop("mimetype"), zipfile.ZIP_STORED)
        for name, content in entries.items():
            archive.writestr(name, content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def patched_entry(package: bytes, name: str, *, flags: int = 0, method: int | None = None) -> bytes:
    """The package with one entry's flags OR-ed and/or method changed in both its headers."""
    data = bytearray(package)
    encoded_name = name.encode()
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        info = archive.getinfo(name)
    local = info.header_offset
    central = _central_header(data, encoded_name)
    for at, flag_at, method_at in ((local, 6, 8), (central, 8, 10)):
        old_flags = int.from_bytes(data[at + flag_at : at + flag_at + 2], "little")
        data[at + flag_at : at + flag_at + 2] = (old_flags | flags).to_bytes(2, "little")
        if method is not None:
            data[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
    return bytes(data)


def _central_header(data: bytearray, name: bytes) -> int:
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        length = int.from_bytes(data[position + 28 : position + 30], "little")
        if data[position + 46 : position + 46 + length] == name:
            return position
        position = data.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"{name!r} has no central header")


def docx_with_junk_between_entries() -> bytes:
    """A JPEG placed between two entries, inside no entry at all."""
    package = bytearray(docx())
    with zipfile.ZipFile(io.BytesIO(bytes(package))) as archive:
        second = archive.infolist()[1].header_offset
    junk = encoded("JPEG")
    package[second:second] = junk
    # Move every later offset (the central headers and the end record) past the junk.
    index = package.rfind(b"PK\x05\x06")
    start = int.from_bytes(package[index + 16 : index + 20], "little")
    package[index + 16 : index + 20] = (start + len(junk)).to_bytes(4, "little")
    position = package.find(b"PK\x01\x02", start + len(junk))
    while position >= 0:
        offset = int.from_bytes(package[position + 42 : position + 46], "little")
        if offset >= second:
            package[position + 42 : position + 46] = (offset + len(junk)).to_bytes(4, "little")
        position = package.find(b"PK\x01\x02", position + 4)
    return bytes(package)


def docx_with_bad_crc() -> bytes:
    """A Word document whose text part fails its checksum."""
    package = bytearray(zipped(docx_entries(), zipfile.ZIP_STORED))
    at = package.find(b"The pupil described")
    package[at] = ord("t")
    return bytes(package)


# --- text -----------------------------------------------------------------------------------


def data_uri(picture: bytes, mime: str = "image/jpeg") -> str:
    """A data: address holding the picture as base64."""
    return f"data:{mime};base64,{base64.b64encode(picture).decode()}"


def wrapped(text: str, width: int = 76) -> str:
    """Text broken into lines, as e-mail and PEM do with base64."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def entity_escaped(text: str) -> str:
    """Every character as a decimal HTML entity."""
    return "".join(f"&#{ord(c)};" for c in text)


def disguised_texts() -> dict[str, str]:
    """Text carrying a picture, written out every way the guard must see through."""
    jpeg = encoded("JPEG")
    png = encoded("PNG")
    b64 = base64.b64encode(jpeg).decode()
    uri = data_uri(jpeg)
    cases = {
        "data URI": uri,
        "data URI in a sentence": f"The pupil sent this: {uri} on Tuesday.",
        "data URI upper case": uri.upper()[:30] + uri[30:],
        "data URI without ;base64": "data:image/png," + urllib.parse.quote_from_bytes(png),
        "data URI that lies about its type": data_uri(png, "text/plain"),
        "data URI with no type": "data:;base64," + base64.b64encode(png).decode(),
        "data URI percent-encoded": urllib.parse.quote(uri, safe=""),
        "data URI percent-encoded twice": urllib.parse.quote(urllib.parse.quote(uri, safe="")),
        "data URI as HTML entities": entity_escaped(uri[:30]) + uri[30:],
        "data URI as named entities": uri.replace(":", "&colon;").replace("/", "&sol;", 1),
        "data URI in an HTML img": f'<img src="{html.escape(uri)}">',
        "data URI split by new lines": "data:image/jpeg;\nbase64,\n" + wrapped(b64, 64),
        "data URI with spaces": "data: image/jpeg ; base64 , " + b64,
        "data URI in UTF-16 (NULs between)": "\x00".join(uri),
        "data URI of a video": data_uri(pictures()["MP4"], "video/mp4"),
        "data URI, base64url payload": "data:image/jpeg;base64,"
        + base64.urlsafe_b64encode(jpeg).decode(),
        "bare base64 JPEG": b64,
        "bare base64 PNG": base64.b64encode(png).decode(),
        "bare base64 wrapped at 76": wrapped(b64),
        "bare base64url": base64.urlsafe_b64encode(jpeg).decode().rstrip("="),
        "base64 after other text": "ref:" + "QUJD" + b64,
        "base64 of a WebM video": base64.b64encode(WEBM).decode(),
        "base64 of an HEIC photo": base64.b64encode(pictures()["HEIC"]).decode(),
        "base64 of base64": base64.b64encode(b64.encode()).decode(),
        "base64 of gzip": base64.b64encode(gzip.compress(jpeg)).decode(),
        "base64 of a zip": base64.b64encode(zipped({"a.jpg": jpeg})).decode(),
        "hex": png.hex(),
        "hex with spaces": " ".join(f"{b:02x}" for b in png),
        "hex as \\x escapes": "".join(f"\\x{b:02x}" for b in jpeg),
        "hex as 0x list": ", ".join(f"0x{b:02X}" for b in png),
        "percent-escaped bytes": urllib.parse.quote_from_bytes(jpeg),
        "bytes pasted as Latin-1": jpeg.decode("latin-1"),
        "SVG markup": '<svg xmlns="http://www.w3.org/2000/svg"><rect width="9"/></svg>',
    }
    return cases


CLEAN_TEXTS = {
    "prose": (
        "The pupil told their form tutor at 10:30 that a photo had been shared in a group chat "
        "on Saturday. They were upset, said it was not their idea, and asked for help. "
        "Parents were told at 3pm; the DSL will follow up tomorrow."
    ),
    "a web address": "See https://www.gov.uk/government/publications/sharing-nudes-and-semi-nudes"
    "-advice-for-education-settings-working-with-children-and-young-people?utm_source=abc123",
    "a long address with escapes": "https://example.org/search?q=sharing%20nudes%20advice&page=2"
    "&lang=en-GB%2Fcy&ref=%E2%9C%93",
    "police references": "Police ref CAD 1234/03DEC26, crime no. 01/123456/26, "
    "MASH referral MASH-2026-000123, CPOMS incident #445566.",
    "an email and phone": "Contact dsl@school.sch.uk or 01632 960 123 (ext. 204).",
    "a UUID and a hash": "Case 3f2504e0-4f89-11d3-9a0c-0305e82c3301, file sha256 "
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "an API token": "token sgf_Zk2pQ0xN4v8Jr7Tb1Ys5Wc3Ud6Ha9Le2Mg0Kf4Rn8Vq",
    "a JWT": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikpv"
    "aG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "base64 of words": base64.b64encode(
        b"This is a plain sentence about the meeting, " * 4
    ).decode(),
    "metadata in words": "The file's metadata: image/jpeg, 2.3 MB, taken 3 March. Not opened.",
    "data in words": "Type of data: image/video. The data: images were deleted by the pupil.",
    "a class name": "P5 10 12 pupils from P6 were in the chat",
    "a hex colour list": "Colours #ff0000, #00ff00, #0000ff and cafe babe deadbeef facade",
    "Welsh": "Dywedodd y disgybl wrth ei athro dosbarth bod llun wedi'i rannu.",
    "accents and symbols": "Caf\u00e9 \u2013 na\u00efve fa\u00e7ade; \u201cquoted\u201d "
    "\u2018text\u2019 \u2026 50% of pupils & staff \u00a35 \u20ac3",
    "a long word": "Pneumonoultramicroscopicsilicovolcanoconiosis and antidisestablishmentarianism",
    "markdown": "## Notes\n\n- **Saw**: nothing\n- _Said_: [link](https://example.org/a_b-c)",
    "a file path": "Saved to /home/dsl/Documents/Safeguarding/2026/Incidents/INC-000123/notes.txt",
    "numbers": "0123456789" * 12,
    "the letter A": "A" * 200,
}


@dataclass(frozen=True)
class Case:
    """One file of the corpus: its name as uploaded, its bytes, and whether it must be refused."""

    name: str
    filename: str
    content: bytes
    refused: bool


def document_cases() -> list[Case]:
    """Every disguised file of issue 8, and clean documents that must still pass."""
    jpeg = encoded("JPEG")
    png = encoded("PNG")
    clean = reportlab_pdf()
    refused = {
        "PDF image with /Subtype /Image": ("letter.pdf", pdf_drawing(b"/Subtype /Image")),
        "PDF image with /Subtype %c\\n/Image": (
            "letter.pdf",
            pdf_drawing(b"/Subtype %c\n/Image"),
        ),
        "PDF image with /Im#61ge": ("letter.pdf", pdf_drawing(b"/Subtype /Im#61ge")),
        "PDF image with /Subtype 7 0 R": (
            "letter.pdf",
            pdf_drawing(b"/Subtype 7 0 R", b"/Image"),
        ),
        "PDF drawn by reportlab with a picture": ("letter.pdf", reportlab_pdf(picture=True)),
        "PDF inline image": ("letter.pdf", pdf_inline_image()),
        "PDF form XObject with an inline image": ("letter.pdf", pdf_form_with_inline_image()),
        "PDF attached file": ("letter.pdf", pdf_attachment()),
        "PDF attached file without /Type": ("letter.pdf", pdf_attachment(typed=False)),
        "PDF file attachment annotation": ("letter.pdf", pdf_attachment_annotation()),
        "PDF attachment added by pypdf": (
            "letter.pdf",
            pypdf_changed(clean, _attach_png, incremental=False),
        ),
        "PDF with a JPEG after %%EOF": ("letter.pdf", clean + jpeg),
        "PDF with a JPEG and another %%EOF": ("letter.pdf", clean + jpeg + b"\n%%EOF\n"),
        "PDF with raw pixels after %%EOF": ("letter.pdf", clean + raw_pixels()),
        "PDF with an unlisted image object": ("letter.pdf", pdf_with_unlisted_image()),
        "PDF whose image was removed in a later revision": (
            "letter.pdf",
            pdf_image_removed_later(),
        ),
        "PDF with a base64 thumbnail in its metadata": (
            "letter.pdf",
            pdf_with_thumbnail_in_metadata(),
        ),
        "PDF password-protected": ("letter.pdf", pypdf_changed(clean, _encrypt, incremental=False)),
        "PDF cut short": ("letter.pdf", clean[: len(clean) // 2]),
        "PNG with a %PDF-1.4 prefix": ("letter.pdf", b"%PDF-1.4\n" + png),
        "JPEG with a %PDF-1.4 prefix": ("letter.pdf", b"%PDF-1.4\n" + jpeg),
        "JPEG with a %PDF prefix and %%EOF": ("letter.pdf", b"%PDF-1.4\n" + jpeg + b"\n%%EOF\n"),
        "DOCX with word/media/image1.png": ("letter.docx", docx(**{"word/media/image1.png": png})),
        "DOCX with a JPEG named .bin": ("letter.docx", docx(**{"word/a.bin": jpeg})),
        "DOCX with an encrypted image entry": (
            "letter.docx",
            patched_entry(docx(**{"word/a.bin": jpeg}), "word/a.bin", flags=0x1),
        ),
        "DOCX with a deflate64 image entry": (
            "letter.docx",
            patched_entry(docx(**{"word/a.bin": jpeg}), "word/a.bin", method=9),
        ),
        "DOCX with a bzip2 entry": (
            "letter.docx",
            patched_entry(docx(**{"word/a.xml": b"<a/>"}), "word/a.xml", method=12),
        ),
        "DOCX with a nested zip holding an image": (
            "letter.docx",
            docx(**{"word/parts.bin": zipped({"inner/photo.dat": png})}),
        ),
        "DOCX with a nested zip after a prefix": (
            "letter.docx",
            docx(**{"word/parts.bin": b"header" + zipped({"x": png})}),
        ),
        "DOCX with an embedded OLE object": (
            "letter.docx",
            docx(**{"word/ole.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64}),
        ),
        "DOCX with a thumbnail": ("letter.docx", docx(**{"docProps/thumbnail.jpeg": jpeg})),
        "DOCX with a JPEG between its entries": ("letter.docx", docx_with_junk_between_entries()),
        "DOCX with a JPEG after its end": ("letter.docx", docx() + jpeg),
        "DOCX streamed, with a JPEG inside an XML part": (
            "letter.docx",
            streamed(docx_entries(**{"word/a.xml": b"<a/>" + b" " * 64 + jpeg})),
        ),
        "DOCX with a data URI in its text": (
            "letter.docx",
            docx(**{"word/document.xml": document_xml(html.escape(data_uri(jpeg)))}),
        ),
        "DOCX with base64 in its XML": (
            "letter.docx",
            docx(**{"word/vml.xml": b"<v:x>" + base64.b64encode(png) + b"</v:x>"}),
        ),
        "DOCX with a broken checksum": ("letter.docx", docx_with_bad_crc()),
        "text with a data URI in UTF-16": ("notes.txt", data_uri(jpeg).encode("utf-16")),
        "text with a data URI in UTF-16 big-endian": (
            "notes.txt",
            b"\xfe\xff" + data_uri(jpeg).encode("utf-16-be"),
        ),
        "text with a data URI in UTF-16 without a BOM": (
            "notes.txt",
            data_uri(jpeg).encode("utf-16-le"),
        ),
        "text with a URL-encoded data URI": (
            "notes.txt",
            urllib.parse.quote(data_uri(jpeg)).encode(),
        ),
        "text with an entity-escaped data URI": (
            "notes.html",
            f'<img src="{entity_escaped(data_uri(png)[:25])}{data_uri(png)[25:]}">'.encode(),
        ),
        "text with base64 wrapped at 76": (
            "notes.txt",
            wrapped(base64.b64encode(jpeg).decode()).encode(),
        ),
        "text with a hex dump": ("notes.txt", " ".join(f"{b:02x}" for b in png).encode()),
        "text that is SVG": ("notes.txt", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
    }
    for name, picture in pictures().items():
        refused[f"{name} named as a PDF"] = ("letter.pdf", picture)
        refused[f"{name} after a text line"] = ("notes.pdf", b"%PDF-1.7 hello\n" + picture)
    accepted = {
        "PDF made by reportlab": ("letter.pdf", clean),
        "PDF written by hand": ("letter.pdf", clean_pdf_by_hand()),
        "PDF of blank pages by pypdf": ("letter.pdf", pypdf_blank()),
        "PDF with a second revision": (
            "letter.pdf",
            pypdf_changed(clean, _retitle, incremental=True),
        ),
        "PDF with a second revision by hand": (
            "letter.pdf",
            pdf_update(clean_pdf_by_hand(), {5: stream(b"", TEXT + b" (Revised)")}),
        ),
        "DOCX": ("letter.docx", docx()),
        "DOCX stored without compression": (
            "letter.docx",
            zipped(docx_entries(), zipfile.ZIP_STORED),
        ),
        "ODT": ("letter.odt", odt()),
        "DOCX written as a stream": ("letter.docx", streamed(docx_entries())),
        "DOCX written as a ZIP64 stream": ("letter.docx", streamed(docx_entries(), zip64=True)),
        "text": ("notes.txt", "\n".join(CLEAN_TEXTS.values()).encode()),
        "text in UTF-16": ("notes.txt", "\n".join(CLEAN_TEXTS.values()).encode("utf-16")),
        "text in Windows-1252": ("notes.txt", CLEAN_TEXTS["prose"].encode("cp1252")),
    }
    return [Case(n, f, c, True) for n, (f, c) in refused.items()] + [
        Case(n, f, c, False) for n, (f, c) in accepted.items()
    ]
