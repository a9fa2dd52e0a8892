"""Tell plain text from binary: text decodes and holds no control characters but white space."""

from __future__ import annotations

import re

# Control characters other than tab, newlines, vertical tab and form feed: binary, not text.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def is_plain_text(content: bytes) -> bool:
    """True for UTF-8, UTF-16 (with its byte-order mark) or Windows-1252 text (not RTF)."""
    if content.startswith(b"{\\rtf"):
        return False
    text = decode_text(content)
    return text is not None and not _CONTROL_CHARACTERS.search(text)


def decode_text(content: bytes) -> str | None:
    """The bytes as text, or None when no accepted encoding fits them."""
    # UTF-16 only with its byte-order mark: without one, almost any even-length bytes "decode".
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
