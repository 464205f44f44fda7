"""The filter language, shared by the app's filter bar, `--where` and dynamic groups.

    status:prospect city:Olpe assigned:@me state:overdue created:>2026-01-01
    contacted:2026-01..2026-03 -group:"Key accounts" müller

`field:value` terms, `-` in front negates a term, other words are full-text search. Values may
be quoted; dates take `>`, `>=`, `<`, `<=` or a range `a..b`, at day, month or year precision.
Parsing gives a `Filter` (plain data, printable back to text); `compile_contact_filter` turns it
into SQL conditions. A malformed query raises `QuerySyntaxError` with the position and reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from crm_tui.services.errors import ValidationError

FIELDS = {
    "status": "status",
    "assigned": "assigned",
    "assignee": "assigned",
    "team": "team",
    "city": "city",
    "country": "country",
    "source": "source",
    "created": "created",
    "contacted": "contacted",
    "state": "state",
    "has": "has",
    "group": "group",
    "kind": "kind",
    "name": "name",
    "company": "company",
    "email": "email",
    "phone": "phone",
    "number": "number",
    "customer": "number",
    "region": "region",
    "postal": "postal",
    "id": "id",
    "locked": "locked",
}
DATE_FIELDS = {"created", "contacted"}


class QuerySyntaxError(ValidationError):
    """A malformed filter: the position (1-based character) and the reason."""

    def __init__(self, position: int, reason: str, field: str = "where"):
        super().__init__(field, f"at position {position}: {reason}")
        self.position = position
        self.reason = reason


@dataclass(frozen=True)
class DateRange:
    """Half-open [start, end); either end may be open."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class Term:
    field: str
    value: str
    negated: bool = False
    position: int = 1
    dates: DateRange | None = None

    def text(self) -> str:
        value = f'"{self.value}"' if re.search(r'[\s"]', self.value) or not self.value else self.value
        return f"{'-' if self.negated else ''}{self.field}:{value}"


@dataclass(frozen=True)
class Filter:
    terms: tuple[Term, ...] = ()
    words: tuple[str, ...] = ()
    """Free words (full-text search), as typed."""
    negated_words: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.words or self.negated_words)

    def has_field(self, name: str) -> bool:
        return any(t.field == name for t in self.terms)

    def text(self) -> str:
        parts = [t.text() for t in self.terms]
        parts += [_quote_word(w) for w in self.words]
        parts += ["-" + _quote_word(w) for w in self.negated_words]
        return " ".join(parts)

    def with_words(self, text: str) -> Filter:
        """This filter with its free words replaced (search-as-you-type over a filter)."""
        words = tuple(w for w in tokenize_words(text))
        return Filter(self.terms, words, self.negated_words)


def _quote_word(word: str) -> str:
    return f'"{word}"' if re.search(r"[\s:]", word) else word


def tokenize_words(text: str) -> list[str]:
    return [w for w in re.split(r"\s+", text.strip()) if w]




def parse(text: str, today: date | None = None) -> Filter:
    """Parse a filter query. `today` resolves relative dates (`created:>-30d`)."""
    today = today or date.today()
    terms: list[Term] = []
    words: list[str] = []
    negated_words: list[str] = []
    i = 0
    length = len(text or "")
    while i < length:
        if text[i].isspace():
            i += 1
            continue
        start = i
        negated = False
        if text[i] == "-":
            negated = True
            i += 1
            if i >= length or text[i].isspace():
                raise QuerySyntaxError(start + 1, "'-' must stand right before a term or a word")
        match = re.match(r"([A-Za-z_]+):", text[i:])
        name = None
        if match:
            name = match.group(1).lower()
            i += match.end()
        value, i = _read_value(text, i, start)
        if name is None:
            (negated_words if negated else words).append(value)
            continue
        if name not in FIELDS:
            known = ", ".join(sorted(set(FIELDS.values())))
            raise QuerySyntaxError(start + 1, f"unknown field {name!r} (known: {known})")
        canonical = FIELDS[name]
        if value == "":
            raise QuerySyntaxError(i + 1, f"{canonical}: needs a value")
        term = Term(canonical, value, negated, start + 1)
        term = _check_term(term, today)
        terms.append(term)
    return Filter(tuple(terms), tuple(words), tuple(negated_words))


def _read_value(text: str, i: int, term_start: int) -> tuple[str, int]:
    if i < len(text) and text[i] == '"':
        j = i + 1
        out = []
        while j < len(text):
            ch = text[j]
            if ch == "\\" and j + 1 < len(text):
                out.append(text[j + 1])
                j += 2
                continue
            if ch == '"':
                return "".join(out), j + 1
            out.append(ch)
            j += 1
        raise QuerySyntaxError(i + 1, "the quote opened here is never closed")
    j = i
    while j < len(text) and not text[j].isspace():
        if text[j] == '"':
            raise QuerySyntaxError(j + 1, "a quote must start a value")
        j += 1
    return text[i:j], j


STATUS_VALUES = ("inbox", "prospect", "customer", "archived", "closed", "all", "open")
STATE_VALUES = ("overdue", "today", "planned", "none")
HAS_VALUES = ("activity", "opportunity", "email", "phone", "number")


def _check_term(term: Term, today: date) -> Term:
    value = term.value
    if term.field == "status":
        for part in value.lower().split(","):
            if part not in STATUS_VALUES:
                raise QuerySyntaxError(
                    term.position, f"status: {part!r} is not one of {', '.join(STATUS_VALUES)}"
                )
    elif term.field == "state":
        for part in value.lower().split(","):
            if part not in STATE_VALUES:
                raise QuerySyntaxError(
                    term.position, f"state: {part!r} is not one of {', '.join(STATE_VALUES)}"
                )
    elif term.field == "has":
        if value.lower() not in HAS_VALUES:
            raise QuerySyntaxError(term.position, f"has: {value!r} is not one of {', '.join(HAS_VALUES)}")
    elif term.field == "kind":
        if value.lower() not in ("person", "company"):
            raise QuerySyntaxError(term.position, "kind: must be person or company")
    elif term.field == "id":
        if not re.fullmatch(r"\d+(,\d+)*", value):
            raise QuerySyntaxError(term.position, "id: must be a number (or numbers, comma-separated)")
    elif term.field in DATE_FIELDS:
        return Term(term.field, value, term.negated, term.position, parse_date_range(value, today, term))
    return term


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_YEAR = re.compile(r"^\d{4}$")
_RELATIVE = re.compile(r"^([+-])(\d{1,4})([dwm])$")


def _period(text: str, today: date, term: Term) -> tuple[date, date]:
    """The [start, end) of one date at its precision."""
    from crm_tui.services.dates import add_months, shift

    raw = text.strip().lower()
    try:
        if _DAY.match(raw):
            day = date.fromisoformat(raw)
            return day, day + timedelta(days=1)
        if _MONTH.match(raw):
            first = date.fromisoformat(raw + "-01")
            return first, add_months(first, 1)
        if _YEAR.match(raw):
            first = date(int(raw), 1, 1)
            return first, date(first.year + 1, 1, 1)
    except ValueError:
        pass
    if raw == "today":
        return today, today + timedelta(days=1)
    if raw == "yesterday":
        return today - timedelta(days=1), today
    match = _RELATIVE.match(raw)
    if match:
        sign, count, unit = match.groups()
        day = shift(today, int(count) * (-1 if sign == "-" else 1), unit)
        return day, day + timedelta(days=1)
    raise QuerySyntaxError(
        term.position,
        f"{term.field}: {text!r} is not a date (2026-01-15, 2026-01, 2026, today, -30d)",
    )


def parse_date_range(value: str, today: date, term: Term) -> DateRange:
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            start, end = _period(value[len(op):], today, term)
            return {
                ">=": DateRange(start, None),
                ">": DateRange(end, None),
                "<=": DateRange(None, end),
                "<": DateRange(None, start),
            }[op]
    if ".." in value:
        low, _, high = value.partition("..")
        start = _period(low, today, term)[0] if low else None
        end = _period(high, today, term)[1] if high else None
        if start and end and start >= end:
            raise QuerySyntaxError(term.position, f"{term.field}: the range ends before it starts")
        return DateRange(start, end)
    start, end = _period(value, today, term)
    return DateRange(start, end)
