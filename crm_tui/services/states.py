"""Activity state and the words for a deadline.

An open activity is **overdue** (due before today), **today** or **planned** (after today), by
its due date in the user's time zone. An opportunity or a contact takes the most urgent state of
its open, unpaused activities, or **none**. Records keep the earliest such due date in
`next_activity_due`, so their state is one comparison and one index.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class State(StrEnum):
    OVERDUE = "overdue"
    TODAY = "today"
    PLANNED = "planned"
    NONE = "none"

    @property
    def colour(self) -> str:
        return STATE_COLOURS[self]

    @property
    def urgency(self) -> int:
        return _URGENCY[self]


STATE_COLOURS = {
    State.OVERDUE: "red",
    State.TODAY: "yellow",
    State.PLANNED: "green",
    State.NONE: "grey50",
}
_URGENCY = {State.OVERDUE: 0, State.TODAY: 1, State.PLANNED: 2, State.NONE: 3}
STATES = tuple(State)


def state_of_due(due: date | None, today: date) -> State:
    """State of one open activity due on `due` (or of a record whose earliest due is `due`)."""
    if due is None:
        return State.NONE
    if due < today:
        return State.OVERDUE
    if due == today:
        return State.TODAY
    return State.PLANNED


def rolled_up_state(dues: list[tuple[date, bool]], today: date) -> State:
    """The most urgent state of open activities given as (due date, paused)."""
    earliest = min((due for due, paused in dues if not paused), default=None)
    return state_of_due(earliest, today)


def relative_deadline(due: date, today: date) -> str:
    """ "7 days ago", "yesterday", "today", "tomorrow", "in 3 days"; the date beyond 99 days."""
    days = (due - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if abs(days) > 99:
        return due.isoformat()
    return f"in {days} days" if days > 0 else f"{-days} days ago"
