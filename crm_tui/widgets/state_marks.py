"""Activity states that stay apart without colour: a glyph and a bar fill per state.

Colour says overdue red, today yellow, planned green, none grey; NO_COLOR (Textual shows the
app in monochrome) and 16-colour terminals with odd palettes lose that. Here every state also
has its own shape, so the marks read alike in any of them:

    state     mark  letter  bar fill
    overdue   !     O       █  (full)
    today     *     T       ▓  (dark shade)
    planned   +     P       ▒  (medium shade)
    none      ·     -       ░  (light shade)

Use `state_mark(state)` where a coloured dot (●) or clock (◷) marks a row or a card, and
`state_bar(counts, width)` for the board's column bar (a drop-in for `format.state_bar`, same
arguments). Rich only, no Textual and no services.
"""

from __future__ import annotations

from rich.text import Text

STATE_ORDER = ("overdue", "today", "planned", "none")
STATE_COLOURS = {"overdue": "red", "today": "yellow", "planned": "green", "none": "grey50"}
STATE_GLYPHS = {"overdue": "!", "today": "*", "planned": "+", "none": "·"}
STATE_LETTERS = {"overdue": "O", "today": "T", "planned": "P", "none": "-"}
STATE_FILLS = {"overdue": "█", "today": "▓", "planned": "▒", "none": "░"}


def _state(state: str | None) -> str:
    return state if state in STATE_GLYPHS else "none"


def state_glyph(state: str | None) -> str:
    return STATE_GLYPHS[_state(state)]


def state_mark(state: str | None, *, letters: bool = False) -> Text:
    """One cell: the state's glyph (or letter) in its colour; overdue also bold."""
    key = _state(state)
    style = STATE_COLOURS[key] + (" bold" if key == "overdue" else "")
    return Text((STATE_LETTERS if letters else STATE_GLYPHS)[key], style=style, end="")


def legend() -> Text:
    """"! overdue  * today  + planned  · none", each mark in its colour."""
    text = Text(no_wrap=True, end="")
    for index, state in enumerate(STATE_ORDER):
        if index:
            text.append("  ")
        text.append_text(state_mark(state))
        text.append(f" {state}")
    return text


def state_bar(counts: dict[str, int], width: int) -> Text:
    """A one-line bar of `width` cells split by the counts, each state in its colour and its
    own fill; every non-zero count gets at least one cell."""
    bar = Text(no_wrap=True, end="")
    total = sum(counts.get(s, 0) for s in STATE_ORDER)
    if width <= 0:
        return bar
    if total == 0:
        bar.append("─" * width, style="grey35")
        return bar
    present = [s for s in STATE_ORDER if counts.get(s, 0)]
    cells = {s: max(1, counts[s] * width // total) for s in present}
    while sum(cells.values()) < width:
        biggest = max(present, key=lambda s: counts[s] * width / total - cells[s])
        cells[biggest] += 1
    while sum(cells.values()) > width:
        biggest = max((s for s in present if cells[s] > 1), key=lambda s: cells[s], default=None)
        if biggest is None:
            break
        cells[biggest] -= 1
    for state in present:
        bar.append(STATE_FILLS[state] * cells[state], style=STATE_COLOURS[state])
    return bar
