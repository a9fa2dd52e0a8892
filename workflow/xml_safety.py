"""Parse untrusted BPMN/DMN uploads safely: no DTDs, no entities, no network, bounded size."""

from __future__ import annotations

import codecs
import re
from dataclasses import replace

from lxml import etree

from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.model import SourceFile

MAX_FILE_BYTES = 2 * 1024 * 1024

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# DMN 1.1, 1.2 and 1.3: the versions SpiffWorkflow 3.2 knows (dmn/parser/BpmnDmnParser.py).
DMN_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
    }
)

# A DOCTYPE is the only way to declare entities or pull in an external DTD, and BPMN/DMN never
# needs one, so any declaration is refused before the parser sees the document. Looking at the
# raw text (comments and CDATA included) keeps the check independent of parser behaviour.
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(r"\ufeff?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)")
_DECLARED_ENCODING_BYTES = re.compile(
    rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']"
)
_UTF16_STARTS = {
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
    b"<\x00?\x00": "utf-16-le",
    b"\x00<\x00?": "utf-16-be",
}
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_LXML_POSITION_SUFFIX = re.compile(r", line \d+, column \d+$")


def parse_xml(source: SourceFile) -> etree._ElementTree:
    """Parse untrusted XML safely or raise DefinitionInvalid with one located DiagramProblem.

    Files in another encoding their XML declaration names (ISO-8859-1, windows-1252, UTF-16
    with or without a byte-order mark) are decoded to UTF-8 first; the checks then read text.
    """
    _check_size(source)
    source = _as_utf8(source)
    _check_text(source)
    tree = _parse(source)
    _check_root(source, tree)
    return tree


def declare_utf8(text: str) -> str:
    """Decoded text (from JSON, say) with its XML declaration saying UTF-8, as it is stored."""
    declared = _DECLARED_ENCODING.match(text)
    if declared is None:
        return text
    start, end = declared.span(1)
    return text[:start] + "UTF-8" + text[end:]


def as_utf8_text(source: SourceFile) -> str:
    """The file's text, decoded from the encoding it declares or marks; DefinitionInvalid if not."""
    _check_size(source)
    utf8 = _as_utf8(source)
    try:
        return utf8.content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = utf8.content.count(b"\n", 0, error.start) + 1
        raise _reject(
            source,
            line,
            f"file is not UTF-8 text (byte 0x{utf8.content[error.start]:02x} at offset "
            f"{error.start}): save it as UTF-8 BPMN or DMN XML",
        ) from None


def line_of(element: etree._Element) -> int | None:
    """The element's line in its file (lxml's sourceline; lxml-stubs mistype it)."""
    line: object = element.sourceline
    return line if isinstance(line, int) else None


def is_dmn(tree: etree._ElementTree) -> bool:
    """True when the document is a DMN definitions file (any DMN version Spiff supports)."""
    return etree.QName(tree.getroot()).namespace in DMN_NAMESPACES


def _reject(source: SourceFile, line: int | None, message: str) -> DefinitionInvalid:
    return DefinitionInvalid([DiagramProblem(source.name, line, "", message)])


def _check_size(source: SourceFile) -> None:
    content = source.content
    if len(content) > MAX_FILE_BYTES:
        size_kb = len(content) // 1024
        raise _reject(
            source,
            None,
            f"file is {size_kb} KB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB per file",
        )


def _as_utf8(source: SourceFile) -> SourceFile:
    """The file re-encoded as UTF-8 when it is in another encoding that it names or marks."""
    content = source.content
    encoding = next(
        (name for start, name in _UTF16_STARTS.items() if content.startswith(start)), None
    )
    if encoding is None:
        if content.startswith(codecs.BOM_UTF8):
            return replace(source, content=content[len(codecs.BOM_UTF8) :])
        declared = _DECLARED_ENCODING_BYTES.match(content)
        if declared is None or declared.group(1).decode("ascii").lower() in _UTF8_NAMES:
            return source
        encoding = declared.group(1).decode("ascii")
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise _reject(
            source, 1, f"file declares encoding {encoding!r}, which is not known: save it as UTF-8"
        ) from None
    try:
        text = content.decode(codec.name)
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise _reject(
            source,
            line,
            f"file is not valid {encoding} text (byte 0x{content[error.start]:02x} at offset "
            f"{error.start}): save it as UTF-8",
        ) from None
    text = text.removeprefix("\ufeff")
    declared_text = _DECLARED_ENCODING.match(text)
    if declared_text is not None:
        start, end = declared_text.span(1)
        text = text[:start] + "UTF-8" + text[end:]
    return replace(source, content=text.encode("utf-8"))


def _check_text(source: SourceFile) -> None:
    content = source.content
    if not content.strip():
        raise _reject(source, None, "file is empty: upload a .bpmn or .dmn file saved by a modeler")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise _reject(
            source,
            line,
            f"file is not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start}): "
            "save it as UTF-8 BPMN or DMN XML",
        ) from None
    declaration = _DECLARATION.search(text)
    if declaration is not None:
        line = text.count("\n", 0, declaration.start()) + 1
        raise _reject(
            source,
            line,
            "DOCTYPE/entity declarations are not allowed (XXE and entity-expansion protection): "
            "remove the <!DOCTYPE ...> block",
        )
    encoding = _DECLARED_ENCODING.match(text)
    if encoding is not None and encoding.group(1).lower() not in _UTF8_NAMES:
        raise _reject(source, 1, f"file declares encoding {encoding.group(1)!r}: save it as UTF-8")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def _parse(source: SourceFile) -> etree._ElementTree:
    try:
        root = etree.fromstring(source.content, _parser())
    except etree.XMLSyntaxError as error:
        line, column = error.position
        detail = _LXML_POSITION_SUFFIX.sub("", error.msg or "syntax error")
        raise _reject(
            source, line or None, f"malformed XML at line {line}, column {column}: {detail}"
        ) from None
    tree = root.getroottree()
    # Belt and braces: the text check above should make this unreachable.
    if tree.docinfo.internalDTD is not None:  # set by any DOCTYPE, with or without a subset
        raise _reject(source, 1, "DOCTYPE/entity declarations are not allowed")
    return tree


def _check_root(source: SourceFile, tree: etree._ElementTree) -> None:
    root = tree.getroot()
    name = etree.QName(root)
    if name.localname == "definitions" and (
        name.namespace == BPMN_NS or name.namespace in DMN_NAMESPACES
    ):
        return
    found = f"{{{name.namespace}}}{name.localname}" if name.namespace else name.localname
    raise _reject(
        source,
        line_of(root),
        f"root element is <{found}>; expected bpmn:definitions ({BPMN_NS}) "
        "or dmn:definitions (DMN 1.1, 1.2 or 1.3)",
    )
