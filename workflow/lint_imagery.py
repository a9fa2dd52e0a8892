"""Lint: a diagram never carries a picture or video (a data: address, base64 ...) in its text.

Bundles come from the studio, the CLI and deployment alike, so this is the one door for diagrams.
The whole file is searched once; only when something is found is it traced to its element.
"""

from __future__ import annotations

from lxml import etree

from workflow.errors import DiagramProblem
from workflow.lint_common import DiagramFile
from workflow.text_imagery import find_imagery


def check_imagery(diagram: DiagramFile) -> list[DiagramProblem]:
    """A problem at each element whose text or attributes carry a picture or video."""
    if find_imagery(etree.tostring(diagram.root, encoding="unicode")) is None:
        return []
    problems = []
    for element in diagram.root.iter():
        texts = [element.text or "", element.tail or "", *map(str, element.attrib.values())]
        found = next((what for what in map(find_imagery, texts) if what), None)
        if found is not None:
            message = f"holds {found}: a diagram describes in words and never holds a picture"
            problems.append(diagram.problem(element, message))
    if not problems:  # found only across elements: name the file
        problems.append(
            DiagramProblem(diagram.name, None, "", "holds a picture or video written out as text")
        )
    return problems
