"""The filter language: parsing, printing back, and errors with their position."""

from datetime import date

import pytest

from crm_tui.services.query import DateRange, QuerySyntaxError, parse

TODAY = date(2026, 11, 23)


def test_parse_the_issue_example():
    f = parse(
        'status:prospect city:Olpe assigned:@me state:overdue created:>2026-01-01 '
        '-group:"Key accounts" müller', TODAY,
    )
    assert [(t.field, t.value, t.negated) for t in f.terms] == [
        ("status", "prospect", False), ("city", "Olpe", False), ("assigned", "@me", False),
        ("state", "overdue", False), ("created", ">2026-01-01", False), ("group", "Key accounts", True),
    ]
    assert f.words == ("müller",)
    assert f.terms[4].dates == DateRange(date(2026, 1, 2), None)


def test_text_round_trip():
    text = 'status:prospect -group:"Key accounts" city:Olpe müller'
    assert parse(parse(text, TODAY).text(), TODAY) == parse(text, TODAY)


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2026-01..2026-03", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026", date(2026, 1, 1), date(2027, 1, 1)),
        ("2026-02-10", date(2026, 2, 10), date(2026, 2, 11)),
        (">=2026-02", date(2026, 2, 1), None),
        ("<2026-02", None, date(2026, 2, 1)),
        ("<=2026-02", None, date(2026, 3, 1)),
        ("2026-05..", date(2026, 5, 1), None),
        ("-30d..today", date(2026, 10, 24), date(2026, 11, 24)),
    ],
)
def test_date_ranges(value, start, end):
    term = parse(f"contacted:{value}", TODAY).terms[0]
    assert term.dates == DateRange(start, end)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("foo:bar", 1, "unknown field 'foo'"),
        ("city:Olpe status:maybe", 11, "status: 'maybe'"),
        ('city:"Olpe', 6, "never closed"),
        ("- x", 1, "'-' must stand right before"),
        ("created:2026-13", 1, "not a date"),
        ("contacted:2026-03..2026-01", 1, "ends before it starts"),
        ("city:", 6, "needs a value"),
        ("state:late", 1, "state: 'late'"),
    ],
)
def test_errors_name_position_and_reason(text, position, reason):
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text, TODAY)
    assert caught.value.position == position
    assert reason in caught.value.reason
    assert caught.value.field == "where"


def test_empty_query_is_empty_filter():
    assert parse("   ", TODAY).is_empty


def test_with_words_keeps_terms():
    f = parse("status:customer alt", TODAY).with_words("neu wort")
    assert f.words == ("neu", "wort")
    assert f.terms[0].value == "customer"
