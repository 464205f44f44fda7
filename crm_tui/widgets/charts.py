"""Charts drawn with text: horizontal bars and sparklines, for the Reports screen and `crm report`.

Rich only (no Textual), so the command line draws the same charts. Readable without colour:
every bar is followed by its number by the caller, and two series side by side use different
fills (`FILLS`), so a monochrome terminal (NO_COLOR) still tells won from lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.text import Text

EIGHTHS = " ▏▎▍▌▋▊▉"
"""Partial cells of a solid bar, in eighths."""
SPARKS = "▁▂▃▄▅▆▇█"
FILLS = {"solid": "█", "light": "░", "medium": "▒", "dark": "▓"}


def bar(value: float | int | Decimal, maximum: float | int | Decimal, width: int, *,
        style: str = "", fill: str = "solid") -> Text:
    """A bar `width` cells long at `maximum`, in eighths of a cell for the solid fill (other
    fills in whole cells); a non-zero value always shows at least a sliver."""
    text = Text(no_wrap=True, end="")
    if width <= 0 or not maximum or value is None or value <= 0:
        return text
    share = min(float(value) / float(maximum), 1.0)
    if fill == "solid":
        eighths = max(1, round(share * width * 8))
        full, part = divmod(eighths, 8)
        text.append("█" * full + (EIGHTHS[part] if part else ""), style=style)
    else:
        cells = max(1, round(share * width))
        text.append(FILLS.get(fill, fill[:1] or "█") * cells, style=style)
    return text


def sparkline(values: Sequence[float | int | Decimal], *, style: str = "") -> Text:
    """One cell per value, eight heights; zero is the lowest block, so gaps stay visible."""
    text = Text(no_wrap=True, end="")
    numbers = [float(v or 0) for v in values]
    top = max(numbers, default=0)
    for number in numbers:
        if top <= 0 or number <= 0:
            text.append(" " if top > 0 else SPARKS[0], style=style)
            continue
        level = min(len(SPARKS) - 1, int(number / top * (len(SPARKS) - 1) + 0.5))
        text.append(SPARKS[max(level, 0)], style=style)
    return text
