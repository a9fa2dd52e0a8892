"""Refuse any attachment that is not a plain document: never an image or a video, by content.

Only bytes already in memory are inspected; nothing is stored, decoded for display or forwarded.
"""

from __future__ import annotations

from forms.document_kinds import (
    KIND_NAMES,
    MEDIA_EXTENSIONS,
    DocumentKind,
    describe_other,
    find_embedded_picture,
    identify_document,
)
from forms.media_sniff import sniff_media

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
NO_IMAGERY = (
    "Safeguard Flow never accepts images or videos of children: "
    "describe what was seen in words instead."
)
ACCEPTED_FORMATS = "PDF, Word (DOCX), OpenDocument text (ODT) or plain text"


class AttachmentRefused(ValueError):
    """An uploaded file was refused; the message says why, in words a user can act on."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def check_document(filename: str, content: bytes) -> None:
    """Raise AttachmentRefused unless `content` is an accepted document free of pictures."""
    identify_accepted_document(filename, content)


def identify_accepted_document(filename: str, content: bytes) -> DocumentKind:
    """Return the accepted document format of `content`, or raise AttachmentRefused."""
    if not content:
        raise AttachmentRefused("The selected file is empty")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise AttachmentRefused("The selected file must be smaller than 10MB")
    media = sniff_media(content)
    if media is not None:
        article = "an" if media.category == "image" else "a"
        raise AttachmentRefused(
            f"This file looks like {article} {media.category} ({media.name}). {NO_IMAGERY}"
        )
    kind = identify_document(content)
    if kind is None:
        other = describe_other(content)
        seen = f"This file looks like {other}" if other else "This file's type is not recognised"
        raise AttachmentRefused(
            f"{seen}. Safeguard Flow accepts only {ACCEPTED_FORMATS} documents."
        )
    picture = find_embedded_picture(kind, content)
    if picture is not None:
        raise AttachmentRefused(
            f"This {KIND_NAMES[kind]} contains {picture}. Safeguard Flow never accepts images or "
            "videos of children: remove every picture from the document, or describe what was "
            "seen in words instead."
        )
    _refuse_media_name(filename)
    return kind


def _refuse_media_name(filename: str) -> None:
    # The bytes decide first; a media name on document bytes is still refused so that nothing
    # named as a photo or video is ever kept, whatever it holds.
    ending = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ending in MEDIA_EXTENSIONS:
        raise AttachmentRefused(
            f"The file name ends in .{ending}, which is an image or video format. {NO_IMAGERY}"
        )
