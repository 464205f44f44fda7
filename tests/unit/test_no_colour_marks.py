"""Without colour (NO_COLOR), every activity state keeps a shape of its own."""

from crm_tui.widgets.format import marker, state_bar

COUNTS = {"overdue": 3, "today": 1, "planned": 5, "none": 2}


def test_markers_differ_by_shape_without_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    glyphs = [marker(s).plain for s in ("overdue", "today", "planned", "none")]
    assert glyphs == ["!", "*", "+", "·"]
    bar = state_bar(COUNTS, 22).plain
    assert len(bar) == 22
    assert set(bar) == {"█", "▓", "▒", "░"}


def test_markers_are_coloured_dots_with_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    dot = marker("overdue")
    assert dot.plain == "●"
    assert "red" in str(dot.style)
    assert set(state_bar(COUNTS, 22).plain) == {"█"}
