"""Charts as server-rendered SVG: bars drawn with presentation attributes only.

The CSP allows no inline style and no script without a nonce, so the charts carry no `style`
and no script: `fill`, `x`, `width` and friends are attributes, which the CSP does not govern.
Each chart is an image with a title for assistive technology; the page puts the same numbers
in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR = "#1d70b8"  # GOV.UK blue
SUPPRESSED = "#b1b4b6"  # mid grey: a count shown as "<5"
TEXT = "#0b0c0c"
GRID = "#b1b4b6"
WIDTH = 560
LABEL_WIDTH = 210
ROW = 28
COLUMN_HEIGHT = 200


@dataclass(frozen=True)
class Bar:
    """One bar: its label, the number it stands for, and the text shown beside it."""

    label: str
    value: float
    shown: str  # "12", "<5", "3.5 h"
    suppressed: bool = False


def horizontal_bars(chart_id: str, title: str, bars: Sequence[Bar]) -> Markup:
    """Labelled horizontal bars (categories), each with its number at its end."""
    height = max(1, len(bars)) * ROW + 10
    top = max((b.value for b in bars if not b.suppressed), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 60
    parts = [_open(chart_id, title, WIDTH, height)]
    for row, bar in enumerate(bars):
        y = 5 + row * ROW
        length = 0 if bar.suppressed else round(room * bar.value / top)
        colour = SUPPRESSED if bar.suppressed else BAR
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 18}" text-anchor="end" font-size="14" '
            f'fill="{TEXT}">{escape(_clip(bar.label, 30))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{max(length, 2)}" height="{ROW - 8}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + max(length, 2) + 6}" y="{y + 18}" font-size="14" '
            f'fill="{TEXT}">{escape(bar.shown)}</text>'
        )
    parts.append("</svg>")
    # Every text piece above went through escape(); the rest is numbers and constants.
    return Markup("".join(parts))  # noqa: S704


def columns(chart_id: str, title: str, bars: Sequence[Bar]) -> Markup:
    """Vertical columns in order (months), labelled below, numbers above."""
    count = max(1, len(bars))
    slot = (WIDTH - 40) / count
    height = COLUMN_HEIGHT + 60
    top = max((b.value for b in bars if not b.suppressed), default=0) or 1
    parts = [_open(chart_id, title, WIDTH, height)]
    base = COLUMN_HEIGHT + 20
    parts.append(
        f'<line x1="30" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="{GRID}" '
        'stroke-width="1"/>'
    )
    for n, bar in enumerate(bars):
        x = 30 + n * slot + slot * 0.15
        size = 0 if bar.suppressed else round(COLUMN_HEIGHT * bar.value / top)
        colour = SUPPRESSED if bar.suppressed else BAR
        middle = x + slot * 0.35
        parts.append(
            f'<rect x="{x:.1f}" y="{base - max(size, 1)}" width="{slot * 0.7:.1f}" '
            f'height="{max(size, 1)}" fill="{colour}"/>'
            f'<text x="{middle:.1f}" y="{base - max(size, 1) - 4}" text-anchor="middle" '
            f'font-size="12" fill="{TEXT}">{escape(bar.shown)}</text>'
            f'<text x="{middle:.1f}" y="{base + 16}" text-anchor="middle" font-size="11" '
            f'fill="{TEXT}">{escape(_clip(bar.label, 8))}</text>'
        )
    parts.append("</svg>")
    # Every text piece above went through escape(); the rest is numbers and constants.
    return Markup("".join(parts))  # noqa: S704


def _open(chart_id: str, title: str, width: int, height: int) -> str:
    safe_id = escape(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{safe_id}-title" '
        f'focusable="false"><title id="{safe_id}-title">{escape(title)}</title>'
    )


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
