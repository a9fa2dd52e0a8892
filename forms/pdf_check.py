"""Read a PDF with pypdf and find any picture, video, attached file or part that cannot be read.

Every object the file lists is resolved (so `/Subtype 6 0 R` and `/Subtype %c\n/Image` read as
what they are), every stream is decoded and searched for image signatures and pictures written
out as text, and every content stream is parsed for inline images. Anything pypdf cannot read,
data after the end marker and objects the file's index does not list are refused too: what
cannot be checked is not accepted.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    ContentStream,
    DictionaryObject,
    IndirectObject,
    StreamObject,
)

from forms.media_sniff import find_signature_anywhere
from workflow.text_imagery import find_imagery

MAX_OBJECTS = 100_000
MAX_REVISIONS = 16
MAX_DECODED_BYTES = 64 * 1024 * 1024
_MEDIA_SUBTYPES = {
    "/Image": "a picture",
    "/FileAttachment": "an attached file",
    "/Movie": "a video",
    "/Sound": "a sound recording",
    "/Screen": "a video or other media",
    "/RichMedia": "a video or other media",
    "/3D": "a 3D model",
}
_CONTENT_SUBTYPES = {"/Form"}
_SKIPPED_STREAM_TYPES = {"/XRef", "/ObjStm"}
# What may follow an end marker: nothing, or the next revision (an object, "xref", a comment).
_NEXT_REVISION = re.compile(rb"[\s\x00]*+(?:$|\d+\s+\d+\s+obj\b|xref\b|%)")
_INDEX_AT = re.compile(rb"(?:startxref|/Prev)\s+(\d{1,12})")
_OBJECT_HEADER = re.compile(rb"(?<![0-9])(\d{1,10})\s+(\d{1,5})\s+obj\b")
_MAX_WALK_DEPTH = 64


class _Refused(Exception):
    """What was found, in words for the refusal message."""


def pdf_problem(content: bytes) -> str | None:
    """Describe a picture, attachment or unreadable part of this PDF, or None if it is clean."""
    try:
        _check_bytes(content, "in its bytes")
        ends = _check_ends(content)
        if len(ends) > MAX_REVISIONS:
            raise _Refused(f"more than {MAX_REVISIONS} revisions, too many to check")
        for end in ends[:-1]:
            _check_earlier_revision(content[:end])
        _check_objects(content)
    except _Refused as found:
        return str(found)
    except Exception:  # pypdf raises many kinds of error: any of them means unreadable
        return "parts that could not be read (the file may be damaged or unusual)"
    return None


def _check_ends(content: bytes) -> list[int]:
    """Where each revision ends; refuse bytes after an end that begin no next revision."""
    ends = [m.end() for m in re.finditer(rb"%%EOF", content)]
    if not ends:
        raise _Refused("no end marker (%%EOF): it is incomplete or not really a PDF")
    for end in ends:
        if not _NEXT_REVISION.match(content, end):
            raise _Refused("data after its end (%%EOF)")
    return ends


def _check_earlier_revision(prefix: bytes) -> None:
    """An earlier revision is still in the file: a picture it showed is refused like any other.

    A prefix that cannot be read alone (the first part of a linearised file) is not a refusal.
    """
    try:
        _check_objects(prefix)
    except _Refused:
        raise
    except Exception:  # noqa: S110  # not a document on its own: its objects are checked later
        pass


def _check_bytes(data: bytes, where: str) -> None:
    kind = find_signature_anywhere(data)
    if kind is not None:
        raise _Refused(f"{_article(kind.category)} {kind.category} ({kind.name}) {where}")
    written = find_imagery(data.decode("latin-1"))
    if written is not None:
        raise _Refused(f"{written} {where}")


def _check_objects(content: bytes) -> None:
    reader = PdfReader(io.BytesIO(content), strict=False)
    if reader.is_encrypted:
        raise _Refused("password protection, so its contents cannot be checked")
    listed = _listed_ids(reader)
    _check_unlisted(content, listed)
    objects = {key: reader.get_object(IndirectObject(key[0], key[1], reader)) for key in listed}
    drawn: set[tuple[int, int]] = set()  # streams of Type 3 glyphs, drawn like pages
    for obj in objects.values():
        _walk(obj, 0, drawn)
    budget = MAX_DECODED_BYTES
    # Streams holding the "BI" that begins every inline image: only these need parsing (the
    # parser, not this hint, decides; parsing every page would cost seconds on long documents).
    hinted: set[tuple[int, int]] = set()
    for key in sorted(objects):
        obj = objects[key]
        if isinstance(obj, StreamObject):
            budget = _check_stream(reader, key, obj, key in drawn, budget, hinted)
    for page in reader.pages:  # a page's contents parsed as one, as a viewer draws them
        refs = page.get("/Contents")
        refs = refs if isinstance(refs, ArrayObject) else [refs]
        keyed = {(r.idnum, r.generation) for r in refs if isinstance(r, IndirectObject)}
        contents = page.get_contents() if keyed & hinted else None
        if contents is not None:
            _check_inline_images(contents.operations)


def _check_unlisted(content: bytes, listed: set[tuple[int, int]]) -> None:
    """Refuse objects in the file that its index does not list (no viewer would show them)."""
    # An index kept as a stream (PDF 1.5) need not list itself: it sits where startxref says.
    indexes = {int(at) for at in _INDEX_AT.findall(content)}
    for header in _OBJECT_HEADER.finditer(content):
        key = (int(header.group(1)), int(header.group(2)))
        if key not in listed and header.start() not in indexes:
            raise _Refused(f"objects its index does not list (object {key[0]} {key[1]})")


def _listed_ids(reader: PdfReader) -> set[tuple[int, int]]:
    listed = {(num, gen) for gen, table in reader.xref.items() for num in table}
    listed |= {(num, 0) for num in reader.xref_objStm}
    if len(listed) > MAX_OBJECTS:
        raise _Refused(f"more than {MAX_OBJECTS} objects, too many to check")
    return listed


def _walk(obj: Any, depth: int, drawn: set[tuple[int, int]]) -> None:
    """Refuse pictures, media and attached files in this object and the direct objects in it."""
    if depth > _MAX_WALK_DEPTH:
        raise _Refused("objects nested too deeply to check")
    if isinstance(obj, DictionaryObject):
        _check_dictionary(obj)
        procs = obj.get("/CharProcs")
        if isinstance(procs, DictionaryObject):
            drawn.update(
                (ref.idnum, ref.generation)
                for ref in procs.values()
                if isinstance(ref, IndirectObject)
            )
        for value in obj.values():
            _walk(value, depth + 1, drawn)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            _walk(value, depth + 1, drawn)


def _check_dictionary(obj: DictionaryObject) -> None:
    subtype = _resolved_name(obj.get("/Subtype"))
    if subtype in _MEDIA_SUBTYPES:
        raise _Refused(_MEDIA_SUBTYPES[subtype])
    kind = _resolved_name(obj.get("/Type"))
    if "/EF" in obj or "/EmbeddedFiles" in obj or kind in ("/EmbeddedFile", "/Filespec"):
        raise _Refused("an attached file")
    if "/ImageMask" in obj:
        raise _Refused("a picture")


def _resolved_name(value: Any) -> str | None:
    for _ in range(8):  # a chain of references to references ends somewhere
        if not isinstance(value, IndirectObject):
            break
        value = value.get_object()
    return str(value) if value is not None else None


def _check_stream(
    reader: PdfReader,
    key: tuple[int, int],
    obj: StreamObject,
    drawn: bool,
    budget: int,
    hinted: set[tuple[int, int]],
) -> int:
    if _resolved_name(obj.get("/Type")) in _SKIPPED_STREAM_TYPES:
        return budget  # the file's own index, already read by pypdf
    data = obj.get_data()
    budget -= len(data)
    if budget < 0:
        raise _Refused("more content than can be checked when unpacked")
    _check_bytes(data, f"in object {key[0]}")
    if b"BI" not in data:
        return budget
    hinted.add(key)
    is_form = _resolved_name(obj.get("/Subtype")) in _CONTENT_SUBTYPES
    if drawn or is_form or "/PatternType" in obj:
        _check_inline_images(ContentStream(obj, reader).operations)
    return budget


def _check_inline_images(operations: list[tuple[Any, bytes]]) -> None:
    for _operands, operator in operations:
        if operator == b"INLINE IMAGE":
            raise _Refused("a picture drawn inline on a page")


def _article(category: str) -> str:
    return "an" if category == "image" else "a"
