"""A process definition: uploaded BPMN/DMN files, checked and parsed once, identified by digest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from workflow.errors import DefinitionInvalid, DiagramProblem
from workflow.lane_roles import apply_lane_roles
from workflow.lint import lint_bundle
from workflow.model import SourceFile
from workflow.spiff_parser import parse_process
from workflow.xml_safety import parse_xml


@dataclass(frozen=True)
class Definition:
    """One version of a process: its sources, the serialized spec and what admin views need."""

    process_id: str
    name: str
    spec: str  # serialized process spec + subprocess specs (JSON), stored once per version
    digest: str  # sha256 over the source files (names + bytes): the identity of a version
    sources: tuple[SourceFile, ...]
    user_tasks: tuple[tuple[str, str, str], ...]  # (bpmn_id, name, lane) of every user task


def load_definition(files: Sequence[SourceFile], process_id: str | None = None) -> Definition:
    """Parse safely, lint, parse with Spiff and serialize the spec; run nothing.

    Raises DefinitionInvalid with every problem found, each located by file, line and element.
    """
    trees = _parse_all(files)
    problems = lint_bundle(trees)
    if problems:
        raise DefinitionInvalid(problems)
    parsed = parse_process(trees, process_id)
    return Definition(
        process_id=parsed.process_id,
        name=parsed.name,
        spec=parsed.spec,
        digest=digest_of(files),
        sources=tuple(files),
        user_tasks=parsed.user_tasks,
    )


def validate_files(files: Sequence[SourceFile]) -> list[DiagramProblem]:
    """Every problem load_definition would raise for these files; [] when they would load."""
    try:
        load_definition(files)
    except DefinitionInvalid as error:
        return list(error.problems)
    return []


def digest_of(files: Sequence[SourceFile]) -> str:
    """sha256 over the files' names and bytes, in name order, each length-prefixed."""
    digest = hashlib.sha256()
    for source in sorted(files, key=lambda f: f.name):
        name = source.name.encode("utf-8")
        for part in (name, source.content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def _parse_all(files: Sequence[SourceFile]) -> list[tuple[SourceFile, etree._ElementTree]]:
    if not files:
        raise DefinitionInvalid([DiagramProblem("", None, "", "no files: upload a .bpmn file")])
    trees: list[tuple[SourceFile, etree._ElementTree]] = []
    problems: list[DiagramProblem] = []
    for source in files:
        try:
            tree = parse_xml(source)
            apply_lane_roles(tree)  # a modeller's `Lane_1x2y` with property role=dsl is 'dsl'
            trees.append((source, tree))
        except DefinitionInvalid as error:
            problems.extend(error.problems)
    if problems:
        raise DefinitionInvalid(problems)
    return trees
