"""Recognise images and videos by their bytes (magic numbers), never by name or declared type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import filetype

from forms.plain_text import is_plain_text

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
    (b"IIRO", "image", "Olympus raw photo (ORF)"),
    (b"IIU\x00", "image", "Panasonic raw photo (RW2)"),
    (b"FUJIFILMCCD-RAW", "image", "Fujifilm raw photo (RAF)"),
    (b"8BPS", "image", "Photoshop (PSD)"),
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


def sniff_media(content: bytes) -> MediaKind | None:
    """Return the image or video format these bytes are in, or None if they are neither."""
    for check in (_by_prefix, _riff, _iso_media, _ebml, _bitmap, _transport_stream, _other):
        found = check(content)
        if found is not None:
            return found
    return _by_filetype(content)


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


def _by_filetype(content: bytes) -> MediaKind | None:
    # Some of filetype's checks are looser than ours (a bitmap is any "BM..."): they would refuse
    # text that starts like one. Real images and videos are never plain text.
    if is_plain_text(content):
        return None
    kind = filetype.guess(content)
    if kind is None:
        return None
    mime = str(kind.mime)
    name = str(kind.extension).upper()
    if mime.startswith("image/"):
        return MediaKind("image", name)
    if mime.startswith("video/"):
        return MediaKind("video", name)
    return None
