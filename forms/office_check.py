"""Read a DOCX or ODT (a ZIP package) part by part: find any picture, archive or unreadable part.

Every entry is unpacked with zipfile (bounded in total) and judged by its name, its opening bytes,
image signatures anywhere in it and, for XML parts, pictures written out as text. An entry that
cannot be read (password-protected, packed with Deflate64 or another method zipfile lacks,
damaged), another archive inside, or bytes outside the entries mean refusal: what cannot be
checked is not accepted.
"""

from __future__ import annotations

import io
import struct
import zipfile

from forms.media_sniff import MEDIA_EXTENSIONS, find_signature_anywhere, sniff_media
from workflow.text_imagery import find_imagery

MAX_ENTRIES = 5_000
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MEDIA_FOLDERS = ("word/media/", "word/embeddings/", "Pictures/", "ObjectReplacements/")
# Office programs may save a preview of page one; it is a picture like any other.
THUMBNAILS = ("Thumbnails/", "docProps/thumbnail")
_READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
_ARCHIVES = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (b"MSCF", "a cabinet archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an embedded Office object"),
    (b"%PDF-", "a PDF"),
)
_ARCHIVES_ANYWHERE = (b"PK\x03\x04", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07")
_TEXT_ENDINGS = (".xml", ".rels", ".vml", ".txt", ".html", ".htm", ".svg", ".json")
_DESCRIPTOR_SIZES = {12, 16, 20, 24}  # CRC and sizes (4 or 8 bytes each), with or without PK78
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra length


class _Refused(Exception):
    """What was found, in words for the refusal message."""


def package_problem(content: bytes) -> str | None:
    """Describe a picture, archive or unreadable part of this ZIP package, or None if clean."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                return f"more than {MAX_ENTRIES} parts, too many to check"
            _check_layout(content, archive, infos)
            budget = MAX_UNPACKED_BYTES
            for info in infos:
                budget = _check_entry(archive, info, budget)
    except _Refused as found:
        return str(found)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return "parts that could not be read (the file may be damaged)"
    return None


def _check_layout(content: bytes, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Every byte belongs to an entry or the index: nothing hides between or after them."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    index_at = int(getattr(archive, "start_dir", -1))
    starts = [info.header_offset for info in ordered[1:]] + [index_at]
    position = 0
    for info, next_start in zip(ordered, starts, strict=True):
        if info.header_offset != position:
            raise _Refused("data outside its parts")
        signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(content, position)
        if signature != b"PK\x03\x04":
            raise _Refused("data outside its parts")
        position += _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        if info.flag_bits & 0x08:  # sizes follow the data: 12 to 24 bytes, too few to hide in
            if next_start - position not in _DESCRIPTOR_SIZES:
                raise _Refused("data outside its parts")
            position = next_start
    end_at = len(content) - 22 - len(archive.comment)
    if index_at != position or content[end_at : end_at + 4] != b"PK\x05\x06":
        raise _Refused("data outside its parts")


def _check_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    name = info.filename
    if info.flag_bits & 0x01:
        raise _Refused(f"a password-protected part ({name}) that cannot be checked")
    if info.compress_type not in _READABLE_METHODS:
        raise _Refused(
            f"a part packed in a way that cannot be checked ({name}, method {info.compress_type})"
        )
    if info.is_dir():
        return budget
    if name.startswith(THUMBNAILS):
        raise _Refused(
            f"a preview picture ({name}): save it again without a preview (thumbnail), or as PDF"
        )
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if name.startswith(MEDIA_FOLDERS) or extension in MEDIA_EXTENSIONS:
        raise _Refused(f"a picture or embedded object ({name})")
    if info.file_size > budget:
        raise _Refused("more content than can be checked when unpacked")
    data = _read(archive, info, budget)
    _check_data(name, data)
    return budget - len(data)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    try:
        with archive.open(info) as entry:
            data = entry.read(budget + 1)
    except Exception as error:  # bad CRC, zlib, EOF ...: unreadable is refused, never a crash
        raise _Refused(f"a part that could not be read ({info.filename})") from error
    if len(data) > budget:
        raise _Refused("more content than can be checked when unpacked")
    return data


def _check_data(name: str, data: bytes) -> None:
    media = sniff_media(data[:4096]) or find_signature_anywhere(data)
    if media is not None:
        raise _Refused(f"a picture ({name})" if media.category == "image" else f"a video ({name})")
    for signature, what in _ARCHIVES:
        if data.startswith(signature):
            raise _Refused(f"{what} inside it ({name})")
    if any(signature in data for signature in _ARCHIVES_ANYWHERE):
        raise _Refused(f"another archive inside it ({name})")
    if name.lower().endswith(_TEXT_ENDINGS) or name == "mimetype":
        written = find_imagery(data.decode("utf-8", "replace"))
        if written is not None:
            raise _Refused(f"{written} ({name})")
