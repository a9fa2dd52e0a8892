"""Mount the GOV.UK templates in a Flask app, and split a task's guidance into blocks to show."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal

from flask import Flask
from jinja2 import BaseLoader, ChoiceLoader, PackageLoader, PrefixLoader

EXTENSION_KEY = "safeguard_forms"
_BULLET = re.compile(r"[-*\u2022]\s+(.*)")
_NUMBERED = re.compile(r"\d+[.)]\s+(.*)")


def template_loader() -> BaseLoader:
    """Templates by prefix: govuk_frontend_jinja/..., govuk_frontend_wtf/... and forms/..."""
    return PrefixLoader(
        {
            "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
            "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
            "forms": PackageLoader("forms", "templates/forms"),
        }
    )


def init_app(app: Flask) -> None:
    """Add the GOV.UK and forms/ templates after the app's own, and the guidance helper."""
    if EXTENSION_KEY in app.extensions:
        return
    own = app.jinja_loader
    loader = template_loader()
    app.jinja_loader = ChoiceLoader([own, loader]) if own is not None else loader
    app.add_template_global(guidance_blocks, "safeguard_guidance_blocks")
    app.extensions[EXTENSION_KEY] = True


@dataclass(frozen=True)
class GuidanceBlock:
    """A paragraph, or a bulleted or numbered list, of a task's guidance text."""

    kind: Literal["paragraph", "bullets", "numbers"]
    items: tuple[str, ...]


def guidance_blocks(text: str | None) -> list[GuidanceBlock]:
    """Split guidance into blocks: a blank line ends a paragraph; "- ", "* ", "• " or "1. " lines
    make a list (an indented line after one goes on with it); other line breaks only wrap. The
    text stays plain: the template escapes it."""
    blocks: list[GuidanceBlock] = []
    paragraph: list[str] = []
    previous = ""
    for raw_line in textwrap.dedent(text or "").splitlines():
        line = raw_line.strip()
        item = _list_item(line)
        if item is not None or not line:
            _end_paragraph(blocks, paragraph)
        if item is not None:
            _add_item(blocks, *item)
        elif (
            line
            and previous
            and raw_line[:1].isspace()
            and blocks
            and blocks[-1].kind != "paragraph"
        ):
            _continue_item(blocks, line)
            continue
        elif line:
            paragraph.append(line)
        previous = line if item is not None else ""
    _end_paragraph(blocks, paragraph)
    return blocks


def _list_item(line: str) -> tuple[Literal["bullets", "numbers"], str] | None:
    bullet = _BULLET.fullmatch(line)
    if bullet:
        return "bullets", bullet.group(1)
    number = _NUMBERED.fullmatch(line)
    if number:
        return "numbers", number.group(1)
    return None


def _add_item(blocks: list[GuidanceBlock], kind: Literal["bullets", "numbers"], text: str) -> None:
    if blocks and blocks[-1].kind == kind:
        blocks[-1] = GuidanceBlock(kind, (*blocks[-1].items, text))
    else:
        blocks.append(GuidanceBlock(kind, (text,)))


def _continue_item(blocks: list[GuidanceBlock], text: str) -> None:
    last = blocks[-1]
    blocks[-1] = GuidanceBlock(last.kind, (*last.items[:-1], f"{last.items[-1]} {text}"))


def _end_paragraph(blocks: list[GuidanceBlock], paragraph: list[str]) -> None:
    if paragraph:
        blocks.append(GuidanceBlock("paragraph", (" ".join(paragraph),)))
        paragraph.clear()
