"""Small text helpers shared by the screens: amounts, counts, state markers and colours.

Kept free of services (and so of SQLAlchemy): the colours mirror `services.states.STATE_COLOURS`.
"""

from __future__ import annotations

import os
from decimal import Decimal

from rich.text import Text

from crm_tui.widgets import state_marks

STATE_COLOURS = {"overdue": "red", "today": "yellow", "planned": "green", "none": "grey50"}
"""overdue red, today yellow, planned green, none grey (as `services.states.STATE_COLOURS`)."""
STATE_ORDER = ("overdue", "today", "planned", "none")
MARKER = "●"
CLOCK = "◷"
CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "PLN": "zł", "CHF": "CHF"}


def state_colour(state: str | None) -> str:
    return STATE_COLOURS.get(state or "none", "grey50")


def monochrome() -> bool:
    """NO_COLOR is set: states must be told apart by shape, not colour."""
    return bool(os.environ.get("NO_COLOR"))


def marker(state: str | None, symbol: str = MARKER) -> Text:
    """A dot (or another symbol) in the colour of `state`; without colour, the state's own
    glyph (! overdue, * today, + planned, · none)."""
    if monochrome():
        return state_marks.state_mark(state)
    return Text(symbol, style=state_colour(state))


def number(value: int | None) -> str:
    """1234567 -> "1,234,567"."""
    return f"{value or 0:,}"


def money(amount: Decimal | None, currency: str | None = None, *, cents: bool = True) -> str:
    """Decimal(1234.5) -> "1,234.50 €" (without the sign when no currency is given)."""
    if amount is None:
        return ""
    text = f"{amount:,.2f}" if cents else f"{amount.quantize(Decimal(1)):,}"
    if not currency:
        return text
    return f"{text} {CURRENCY_SIGNS.get(currency, currency)}"


def plural(count: int, word: str, words: str | None = None) -> str:
    """plural(1, "contact") -> "1 contact"; plural(1234, "contact") -> "1,234 contacts"."""
    return f"{number(count)} {word if count == 1 else (words or word + 's')}"


def state_bar(counts: dict[str, int], width: int) -> Text:
    """A one-line bar split into red/yellow/green/grey segments by the counts (at least one cell
    for every non-zero count, so a single overdue opportunity is never invisible)."""
    if monochrome():
        return state_marks.state_bar(counts, width)
    total = sum(counts.get(s, 0) for s in STATE_ORDER)
    bar = Text(no_wrap=True, end="")
    if width <= 0:
        return bar
    if total == 0:
        bar.append("─" * width, style="grey35")
        return bar
    present = [s for s in STATE_ORDER if counts.get(s, 0)]
    cells = {s: max(1, counts[s] * width // total) for s in present}
    # hand out what rounding left over (or take back what the minimum of one cell added)
    while sum(cells.values()) < width:
        biggest = max(present, key=lambda s: counts[s] * width / total - cells[s])
        cells[biggest] += 1
    while sum(cells.values()) > width:
        biggest = max((s for s in present if cells[s] > 1), key=lambda s: cells[s], default=None)
        if biggest is None:
            break
        cells[biggest] -= 1
    for state in present:
        bar.append("█" * cells[state], style=state_colour(state))
    return bar


def state_counts(counts: dict[str, int]) -> Text:
    """ "3 1 5 2" with each number in its state's colour."""
    text = Text(no_wrap=True, end="")
    for position, state in enumerate(STATE_ORDER):
        if position:
            text.append(" ")
        text.append(str(counts.get(state, 0)), style=state_colour(state))
    return text
