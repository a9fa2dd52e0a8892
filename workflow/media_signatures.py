"""Recognise images and videos by their bytes (magic numbers): pure, standard library only.

`sniff_signature` reads a file's opening bytes; `find_signature_anywhere` looks for the strong
(long, unlikely by chance) signatures at any offset, for pictures hidden inside other files.
forms.media_sniff adds the `filetype` package's checks on top for whole uploaded files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MediaCategory = Literal["image", "video"]


@dataclass(frozen=True)
class MediaKind:
    """What a file's bytes say it is: an image or a video, and its format's common name."""

    category: MediaCategory
    name: str


_PREFIXES: tuple[tuple[bytes, MediaCategory, str], ...] = (
    (b"\xff\xd8\xff", "image", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image", "PNG"),
    (b"GIF87a", "image", "GIF"),
    (b"GIF89a", "image", "GIF"),
    (b"II*\x00", "image", "TIFF"),
    (b"MM\x00*", "image", "TIFF"),
    (b"II+\x00", "image", "TIFF"),
    (b"MM\x00+", "image", "TIFF"),
    (b"II\xbc\x01", "image", "JPEG XR"),
    (b"IIRO", "image", "Olympus raw photo (ORF)"),
    (b"IIU\x00", "image", "Panasonic raw photo (RW2)"),
    (b"FUJIFILMCCD-RAW", "image", "Fujifilm raw photo (RAF)"),
    (b"8BPS", "image", "Photoshop (PSD)"),
    (b"gimp xcf", "image", "GIMP (XCF)"),
    (b"\x00\x00\x01\x00", "image", "icon (ICO)"),
    (b"\xff\x0a", "image", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image", "JPEG 2000"),
    (b"\xffO\xffQ", "image", "JPEG 2000"),
    (b"qoif", "image", "QOI"),
    (b"\xd7\xcd\xc6\x9a", "image", "Windows metafile (WMF)"),
    (b"FLV\x01", "video", "Flash video (FLV)"),
    (b"0&\xb2u\x8ef\xcf\x11", "video", "Windows Media (WMV)"),
    (b"\x00\x00\x01\xba", "video", "MPEG"),
    (b"\x00\x00\x01\xb3", "video", "MPEG"),
)
# Signatures too short to mean anything when found by chance in decoded text.
WEAK_PREFIXES = (b"\xff\x0a",)

# ISO base media file ("ftyp") brands that hold still images; every other brand is a movie.
_IMAGE_BRANDS = {
    **dict.fromkeys(
        (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"), "HEIC"
    ),
    **dict.fromkeys((b"mif1", b"msf1", b"mif2", b"miaf"), "HEIF"),
    **dict.fromkeys((b"avif", b"avis"), "AVIF"),
    b"crx ": "Canon raw photo (CR3)",
    b"jxl ": "JPEG XL",
}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_PNM = re.compile(rb"P[1-7][ \t\r\n]+(?:#[^\n]*\n[ \t\r\n]*)*[0-9]+[ \t\r\n]+[0-9]+[ \t\r\n]")
_SVG = re.compile(rb"<(?:svg[\s>:]|!doctype\s+svg)", re.IGNORECASE)

# Signatures long enough (six or more fixed bytes) that finding one at any offset of a document
# or decoded text means a picture or video is there, not a coincidence. Each is found by a literal
# anchor (C-speed find) and then checked in full where the anchor sits: (anchor, where the anchor
# sits in the pattern, pattern, category, name).
_ANYWHERE: tuple[tuple[bytes, int, bytes, MediaCategory, str], ...] = (
    (b"\x89PNG", 0, rb"\x89PNG\r\n\x1a\n", "image", "PNG"),
    (b"GIF8", 0, rb"GIF8[79]a", "image", "GIF"),
    (
        b"\xff\xd8\xff",
        0,
        rb"\xff\xd8\xff(?:\xe0..JFIF\x00|\xe1..Exif\x00|\xee..Adobe|\xe2..ICC_PROFILE"
        rb"|\xdb\x00[\x43\x84\xc5])",
        "image",
        "JPEG",
    ),
    (b"RIFF", 0, rb"RIFF....WEBPVP8[ LX]", "image", "WebP"),
    (b"RIFF", 0, rb"RIFF....AVI[ X]", "video", "AVI"),
    (
        b"ftyp",
        0,
        rb"ftyp(?:hei[cxms]|hev[cxms]|mif[12]|msf1|miaf|avi[fs]|crx |jxl )",
        "image",
        "HEIC or AVIF",
    ),
    (
        b"ftyp",
        0,
        rb"ftyp(?:isom|iso[2-9]|mp4[12]|avc1|qt  |3gp[0-9]|3g2[a-z]|M4V |MSNV|dash|f4v )",
        "video",
        "MP4",
    ),
    (b"\x1aE\xdf\xa3", 0, rb"\x1aE\xdf\xa3.{1,8}B\x86\x81\x01", "video", "WebM or Matroska"),
    (b"\r\n\x87\n", 8, rb"\x00\x00\x00\x0c(?:JXL |jP  )\r\n\x87\n", "image", "JPEG XL or 2000"),
    (b"8BPS", 0, rb"8BPS\x00[\x01\x02]\x00{6}", "image", "Photoshop (PSD)"),
    (b"II*\x00", 0, rb"II\*\x00\x08\x00\x00\x00", "image", "TIFF"),
    (b"MM\x00*", 0, rb"MM\x00\*\x00\x00\x00\x08", "image", "TIFF"),
    (b"FLV\x01", 0, rb"FLV\x01[\x01\x04\x05]\x00\x00\x00\x09", "video", "Flash video (FLV)"),
    (b"0&\xb2u", 0, rb"0&\xb2u\x8ef\xcf\x11\xa6\xd9\x00\xaa\x00b\xcel", "video", "Windows Media"),
    (b"OggS", 0, rb"OggS.{20,60}\x80theora", "video", "Ogg video"),
    (b"<svg", 0, rb"<svg[\s>:]", "image", "SVG"),
)
# The first bytes any check of sniff_signature can match (the rest of its checks look at the
# ISO box type at offset 4): RIFF, EBML, BMP, transport stream, EMF, Ogg, Netpbm, and SVG after
# white space, a byte-order mark or "<".
_OPENING_BYTES = frozenset(
    {prefix[0] for prefix, _, _ in _PREFIXES} | set(b"R\x1aBG\x01OP<\xef\xfe\xff \t\r\n")
)
_ISO_BOXES = _QUICKTIME_ATOMS | {b"ftyp"}
_ANYWHERE_CHECKS = tuple(
    (anchor, offset, re.compile(pattern, re.DOTALL), MediaKind(category, name))
    for anchor, offset, pattern, category, name in _ANYWHERE
)


def could_open_media(content: bytes) -> bool:
    """A cheap first look: False means sniff_signature would find nothing in these bytes."""
    if not content:
        return False
    return content[0] in _OPENING_BYTES or content[4:8] in _ISO_BOXES


def sniff_signature(content: bytes) -> MediaKind | None:
    """Return the image or video format these bytes open with, or None if neither."""
    for check in (_by_prefix, _riff, _iso_media, _ebml, _bitmap, _transport_stream, _other):
        found = check(content)
        if found is not None:
            return found
    return None


def find_signature_anywhere(content: bytes) -> MediaKind | None:
    """Return the first strong image or video signature at any offset of `content`, or None."""
    for anchor, offset, pattern, kind in _ANYWHERE_CHECKS:
        position = content.find(anchor, offset)
        while position >= 0:
            if pattern.match(content, position - offset):
                return kind
            position = content.find(anchor, position + 1)
    return None


def _by_prefix(content: bytes) -> MediaKind | None:
    for prefix, category, name in _PREFIXES:
        if content.startswith(prefix):
            return MediaKind(category, name)
    return None


def _riff(content: bytes) -> MediaKind | None:
    if not content.startswith(b"RIFF"):
        return None
    form = content[8:12]
    if form == b"WEBP":
        return MediaKind("image", "WebP")
    if form in (b"AVI ", b"AVIX"):
        return MediaKind("video", "AVI")
    if form == b"ACON":
        return MediaKind("image", "animated cursor (ANI)")
    return None


def _iso_media(content: bytes) -> MediaKind | None:
    box_type = content[4:8]
    if box_type in _QUICKTIME_ATOMS:
        return MediaKind("video", "QuickTime (MOV)")
    if box_type != b"ftyp":
        return None
    box_size = int.from_bytes(content[:4], "big")
    major = content[8:12]
    compatible = [content[i : i + 4] for i in range(16, min(box_size, len(content), 256) - 3, 4)]
    for brand in (major, *compatible):
        if brand in _IMAGE_BRANDS:
            return MediaKind("image", _IMAGE_BRANDS[brand])
    if major in _AUDIO_BRANDS:
        return None  # audio is refused as "not a document", not as imagery
    if major == b"qt  ":
        return MediaKind("video", "QuickTime (MOV)")
    if major.startswith((b"3gp", b"3g2")):
        return MediaKind("video", "3GP")
    return MediaKind("video", "MP4")


def _ebml(content: bytes) -> MediaKind | None:
    if not content.startswith(b"\x1aE\xdf\xa3"):
        return None
    return MediaKind("video", "WebM" if b"webm" in content[:64] else "Matroska (MKV)")


def _bitmap(content: bytes) -> MediaKind | None:
    # "BM" alone would also match text that starts with "BM": check the DIB header size too.
    header_size = int.from_bytes(content[14:18], "little")
    if content.startswith(b"BM") and header_size in _BMP_HEADER_SIZES:
        return MediaKind("image", "BMP")
    return None


def _transport_stream(content: bytes) -> MediaKind | None:
    # MPEG transport streams repeat the sync byte 0x47 ("G") every 188 bytes; text that happens
    # to do so has no NUL byte, while a stream's first packet header always has one.
    if len(content) > 376 and content[0] == content[188] == content[376] == 0x47:
        if b"\x00" not in content[:188]:
            return None
        return MediaKind("video", "MPEG transport stream")
    return None


def _other(content: bytes) -> MediaKind | None:
    if content.startswith(b"\x01\x00\x00\x00") and content[40:44] == b" EMF":
        return MediaKind("image", "Windows metafile (EMF)")
    if content.startswith(b"OggS") and b"\x80theora" in content[:128]:
        return MediaKind("video", "Ogg video")
    if _PNM.match(content):
        return MediaKind("image", "Netpbm")
    if _SVG.search(content) or _SVG.search(_utf16_as_ascii(content)):
        return MediaKind("image", "SVG")
    return None


def _utf16_as_ascii(content: bytes) -> bytes:
    """Text saved as UTF-16 hides "<svg" between NUL bytes: drop them to look again."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.replace(b"\x00", b"")
    return b""
