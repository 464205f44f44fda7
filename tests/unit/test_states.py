"""Activity state, the roll-up of a record's state, and the words for a deadline."""

from datetime import date, timedelta

import pytest

from crm_tui.services.states import State, relative_deadline, rolled_up_state, state_of_due

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (TODAY - timedelta(days=1), State.OVERDUE),
        (TODAY, State.TODAY),
        (TODAY + timedelta(days=1), State.PLANNED),
        (None, State.NONE),
    ],
)
def test_state_of_due(due, expected):
    assert state_of_due(due, TODAY) is expected


def test_rolled_up_state_takes_most_urgent_unpaused():
    dues = [(TODAY + timedelta(days=5), False), (TODAY - timedelta(days=2), False)]
    assert rolled_up_state(dues, TODAY) is State.OVERDUE


def test_rolled_up_state_ignores_paused():
    dues = [(TODAY - timedelta(days=2), True), (TODAY, False)]
    assert rolled_up_state(dues, TODAY) is State.TODAY
    assert rolled_up_state([(TODAY, True)], TODAY) is State.NONE
    assert rolled_up_state([], TODAY) is State.NONE


def test_colours():
    assert [s.colour for s in State] == ["red", "yellow", "green", "grey50"]


@pytest.mark.parametrize(
    ("offset", "text"),
    [(-7, "7 days ago"), (-1, "yesterday"), (0, "today"), (1, "tomorrow"), (3, "in 3 days"),
     (99, "in 99 days"), (-99, "99 days ago")],
)
def test_relative_deadline(offset, text):
    assert relative_deadline(TODAY + timedelta(days=offset), TODAY) == text


def test_relative_deadline_plain_date_beyond_99_days():
    assert relative_deadline(TODAY + timedelta(days=100), TODAY) == "2027-03-03"
    assert relative_deadline(TODAY - timedelta(days=100), TODAY) == "2026-08-15"
