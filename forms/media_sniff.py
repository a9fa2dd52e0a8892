"""Recognise images and videos by their bytes (magic numbers), never by name or declared type.

Our own signatures (workflow.media_signatures, shared with the text guard) come first; the
`filetype` package's checks are a second opinion for whole files.
"""

from __future__ import annotations

import filetype

from forms.plain_text import is_plain_text
from workflow.media_signatures import (
    MediaCategory,
    MediaKind,
    find_signature_anywhere,
    sniff_signature,
)

__all__ = [
    "MEDIA_EXTENSIONS",
    "MediaCategory",
    "MediaKind",
    "find_signature_anywhere",
    "sniff_media",
]

# File name endings of image and video formats (refused whatever the bytes say).
_IMAGE_ENDINGS = (
    "jpg jpeg jpe jfif png apng gif webp heic heif avif bmp dib tif tiff svg svgz ico cur psd jxl "
    "jp2 j2k jpx qoi emf wmf emz wmz svm pict pct eps raw cr2 cr3 nef arw dng orf rw2 raf"
)
_VIDEO_ENDINGS = (
    "mp4 m4v mov qt avi wmv asf webm mkv flv f4v 3gp 3g2 mpg mpeg m2v ts mts m2ts ogv vob"
)
MEDIA_EXTENSIONS = frozenset(_IMAGE_ENDINGS.split() + _VIDEO_ENDINGS.split())


def sniff_media(content: bytes) -> MediaKind | None:
    """Return the image or video format these bytes are in, or None if they are neither."""
    return sniff_signature(content) or _by_filetype(content)


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
