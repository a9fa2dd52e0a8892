"""Find pictures and videos written out as text: data: addresses, base64, hex or %-escaped bytes.

One guard for all text the system accepts (form answers, API bodies, reasons, notes). It decodes
what looks encoded and asks workflow.media_signatures what the bytes are, so a label cannot lie
and a missing label does not help. Escapes are undone first (HTML entities, %-escapes, NULs of
UTF-16 text), a few rounds at most. The work is linear in the text: candidates are found with
C-speed translate() and find(), and each candidate is decoded once.

Bare runs are checked only from 48 characters (36 bytes: no picture worth hiding is smaller)
and only against signatures of three or more fixed bytes, so ordinary prose, web addresses,
hashes and reference numbers are never refused.
"""

from __future__ import annotations

import binascii
import html
import re
from collections.abc import Iterator
from itertools import islice

from workflow.media_signatures import (
    WEAK_PREFIXES,
    MediaKind,
    could_open_media,
    find_signature_anywhere,
    sniff_signature,
)

NO_IMAGERY_IN_TEXT = (
    "This looks like a picture or video written out as text ({what}). Safeguard Flow never "
    "accepts images or videos of children: describe it in words instead."
)
MIN_RUN = 48  # base64 characters (36 bytes); hex runs need twice as many digits
_MAX_ROUNDS = 3  # rounds of unescaping (an entity inside a %-escape inside an entity ...)
_PREFIX_CHARS = 512  # how much of a run is decoded to read its opening signature (384 bytes)
# Runs long enough to hold other bytes and then a picture worth hiding (192 bytes) are searched
# throughout; shorter ones only from their start (at each of the four alignments).
_ANYWHERE_RUN = 256
_MAX_DATA_URIS = 5_000
_PAYLOAD_CHARS = 512  # how much of a data: address is decoded (signatures need < 400 bytes)
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-="
_HEX = b"0123456789abcdefABCDEF"
_SPACE = b" \t\r\n\x0b\x0c"


def _mask(members: bytes, member: bytes, spaces: bytes = b"", space: bytes = b".") -> bytes:
    table = bytearray(b"." * 256)
    for byte in members:
        table[byte] = member[0]
    for byte in spaces:
        table[byte] = space[0]
    return bytes(table)


_B64_MASK = _mask(_B64, b"a", _SPACE, b"w")  # alphabet -> a, white space -> w, else "."
_HEX_MASK = _mask(_HEX + b"xX\\:,-" + _SPACE, b"h")  # digits and separators -> h
_URL_SAFE = bytes.maketrans(b"-_", b"+/")
_B64_RUN = re.compile(rb"a{16,}+(?:w{1,4}+a{4,}+)*+")
_B64_WINDOW = b"a" * 16
_HEX_WINDOW = b"h" * 64
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
# Archives written out as text are refused too: what they hold cannot be seen without unpacking.
_ARCHIVES = (
    (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (b"Rar!\x1a\x07", "RAR"),
    *((b"BZh%d" % level, "bzip2") for level in range(1, 10)),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "Zstandard"),
)
_ARCHIVE_FIRST_BYTES = frozenset(prefix[:1] for prefix, _ in _ARCHIVES)
_HEX_BYTES = {f"{value:02x}".encode(): bytes([value]) for value in range(256)}
_NON_ASCII = re.compile("[\x80-\xff]")
_DATA_URI = re.compile(
    rb"d(?<![a-z0-9]d)\s*a\s*t\s*a\s*:\s*"  # "d" first: the regex engine then skips fast
    rb"(?P<mime>[a-z0-9.+\-]+\s*/\s*[a-z0-9.+\-]+)?"
    rb"(?P<params>(?:\s*;\s*[a-z0-9.+\-]+(?:\s*=\s*(?:\"[^\"]{0,200}\"|[^;,\s\"]{0,200}))?){0,16})"
    rb"\s*,\s*"
)
_SVG = re.compile(rb"<\s*svg[\s>:/]")


def imagery_in_text(text: str) -> str | None:
    """The refusal message for text that carries a picture or video, or None for plain text."""
    what = find_imagery(text)
    return None if what is None else NO_IMAGERY_IN_TEXT.format(what=what)


def find_imagery(text: str) -> str | None:
    """Describe the picture or video this text carries ("an image (JPEG) written as base64")."""
    for view, decoded in _views(text):
        found = _data_uri(view) or _base64_run(view) or _hex_run(view) or _svg(view)
        if found is None and decoded:
            found = _described(find_signature_anywhere(view), "in escaped bytes")
        if found is not None:
            return found
    return None


def _views(text: str) -> Iterator[tuple[bytes, bool]]:
    """The text as UTF-8, then with escapes undone, round by round while anything changes."""
    data = text.replace("\x00", "").encode("utf-8", "surrogatepass")
    yield data, False
    if _NON_ASCII.search(text) and max(text) <= "\xff":
        yield text.encode("latin-1"), True  # binary pasted as if it were Latin-1 text
    for _ in range(_MAX_ROUNDS):
        current = data
        if b"&" in current:
            words = current.decode("utf-8", "surrogateescape")
            current = html.unescape(words).encode("utf-8", "surrogateescape")
        if b"%" in current:
            current = _PERCENT.sub(_unescaped_byte, current)
        if current == data:
            return
        data = current
        yield data, True


def _unescaped_byte(match: re.Match[bytes]) -> bytes:
    return _HEX_BYTES[match.group(1).lower()]


def _described(kind: MediaKind | str | None, how: str) -> str | None:
    if kind is None:
        return None
    if isinstance(kind, str):
        return f"{kind} {how}"
    return f"{'an' if kind.category == 'image' else 'a'} {kind.category} ({kind.name}) {how}"


def _strong(decoded: bytes) -> MediaKind | str | None:
    """What decoded bytes open with: a picture, video or archive (which may hold pictures).

    Signatures too short to mean anything by chance are ignored.
    """
    if decoded[:1] in _ARCHIVE_FIRST_BYTES:
        for prefix, name in _ARCHIVES:
            if decoded.startswith(prefix):
                return f"a compressed archive ({name}), which may hold pictures,"
    if decoded.startswith(WEAK_PREFIXES) or not could_open_media(decoded):
        return None
    return sniff_signature(decoded)


def _data_uri(view: bytes) -> str | None:
    lowered = view.lower()
    if b"a" not in lowered or b":" not in lowered:
        return None
    checked_to = 0
    # Past the first few thousand, a data: address's payload is still caught as a base64 run or
    # as escaped bytes: stopping here only keeps a flood of empty "data:," cheap.
    for match in islice(_DATA_URI.finditer(lowered), _MAX_DATA_URIS):
        start = match.end()
        mime = (match.group("mime") or b"").translate(None, _SPACE)
        if mime.startswith((b"image/", b"video/")) and _written_tight(view, match):
            return f"a data: address of type {mime.decode('ascii', 'replace')}"
        if start < checked_to:
            continue  # inside the last payload read: decoding again would make the work grow
        payload = view[start : start + _PAYLOAD_CHARS]
        checked_to = start + _PAYLOAD_CHARS
        kind = _strong(payload) or _strong(_base64_decode(payload))
        if kind is not None:
            return _described(kind, "in a data: address")
    return None


def _written_tight(view: bytes, match: re.Match[bytes]) -> bool:
    """Written as a browser reads it: no space in "data:type;base64," and a payload after it.

    Prose like "the file's data: image/jpeg, IMG_2026.jpg" is not refused for its words alone;
    a payload that is really a picture is still found by decoding it, spaces or not.
    """
    header = match.group()
    payload = view[match.end() : match.end() + 16]
    return (
        header.translate(None, _SPACE) == header
        and len(payload) == 16
        and not payload.translate(None, _B64 + b"%")
    )


def _base64_run(view: bytes) -> str | None:
    mask = view.translate(_B64_MASK)
    seen: set[bytes] = set()  # the same token pasted again (a reference, a link) is checked once
    position = mask.find(_B64_WINDOW)
    while position >= 0:
        match = _B64_RUN.match(mask, position)
        end = match.end() if match else position + len(_B64_WINDOW)
        run = view[position:end]
        if run not in seen:
            found = _check_base64(run)
            if found is not None:
                return found
            if len(run) <= _PREFIX_CHARS:
                seen.add(run)
        position = mask.find(_B64_WINDOW, end)
    return None


def _check_base64(run: bytes, nested: bool = False) -> str | None:
    compact = run.translate(_URL_SAFE, _SPACE + b"=")
    if len(compact) < MIN_RUN:
        return None
    kind: MediaKind | str | None = None
    for offset in range(4):  # a picture after other bytes sits at one of four alignments
        kind = kind or _strong(_base64_decode(compact[offset : offset + _PREFIX_CHARS]))
        if len(compact) >= _ANYWHERE_RUN:
            kind = kind or find_signature_anywhere(_base64_decode(compact[offset:]))
    found = _described(kind, "written as base64")
    decoded = _base64_decode(compact)
    if found is None and not nested and not decoded[:64].translate(None, _B64):
        found = _check_base64(decoded, nested=True)  # base64 of base64: look once more
    return found


def _base64_decode(text: bytes) -> bytes:
    compact = text.translate(_URL_SAFE, _SPACE)
    compact = compact[: len(compact) // 4 * 4]
    try:
        return binascii.a2b_base64(compact, strict_mode=False)
    except binascii.Error:
        return b""


def _hex_run(view: bytes) -> str | None:
    mask = view.translate(_HEX_MASK)
    position = mask.find(_HEX_WINDOW)
    while position >= 0:
        end = mask.find(b".", position)
        end = len(mask) if end < 0 else end
        digits = _hex_digits(view[position:end])
        digits = digits[: len(digits) // 2 * 2]
        if len(digits) >= 2 * MIN_RUN:
            try:
                decoded = binascii.unhexlify(digits)
            except binascii.Error:
                decoded = b""  # an "x" or "\" left alone is not hex: not this
            kind = _strong(decoded) or find_signature_anywhere(decoded)
            if kind is not None:
                return _described(kind, "written as hexadecimal")
        position = mask.find(_HEX_WINDOW, end)
    return None


def _hex_digits(region: bytes) -> bytes:
    """The hex digits of "ff d8", "ff:d8", "\\xff\\xd8" or "0xff, 0xd8" runs, run together."""
    compact = region.translate(None, _SPACE + b":,-")
    return compact.replace(b"\\x", b"").replace(b"0x", b"").replace(b"0X", b"")


def _svg(view: bytes) -> str | None:
    lowered = view.lower()
    if b"<" in lowered and _SVG.search(lowered):
        return "an SVG image"
    return None
