"""The filter builder: the filter language as fields, for people who prefer them to typing.

It opens on the current filter (terms it has a field for fill the fields; anything else stays in
"More terms" as typed), and dismisses with the query text (`status:prospect city:Olpe ...`) that
the contact list puts in its filter bar. The text is checked with the same parser the bar uses;
an error is shown next to the field it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from crm_tui.screens.modals.dialog import Dialog

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace

STATUS_CHOICES = (
    ("active (inbox, prospect, customer)", ""),
    ("inbox", "inbox"),
    ("prospect", "prospect"),
    ("customer", "customer"),
    ("archived", "archived"),
    ("closed", "closed"),
    ("archived or closed", "archived,closed"),
    ("all statuses", "all"),
)
STATE_CHOICES = (
    ("any", ""), ("overdue", "overdue"), ("today", "today"), ("planned", "planned"),
    ("none (no open activity)", "none"),
)
HAS_CHOICES = (("any", ""), ("yes", "yes"), ("no", "no"))
ANYONE = (("anyone", ""), ("me", "@me"), ("my teams", "@team"), ("everybody (unassigned)", "none"))
TEXT_FIELDS = ("city", "country", "source")
DATE_FIELDS = ("created", "contacted")
SELECT_FIELDS = ("status", "assigned", "team", "state", "has", "group")


@dataclass(frozen=True)
class Choices:
    users: list[tuple[str, str]]
    teams: list[str]
    groups: list[str]


def split_range(value: str) -> tuple[str, str] | None:
    """`>=A` -> (A, ""), `<=B` -> ("", B), `A..B` -> (A, B), `A` -> (A, A); else None."""
    if value.startswith(">="):
        return value[2:], ""
    if value.startswith("<="):
        return "", value[2:]
    if value.startswith((">", "<")):
        return None
    if ".." in value:
        low, _, high = value.partition("..")
        return low, high
    return value, value


def join_range(low: str, high: str) -> str:
    low, high = low.strip(), high.strip()
    if low and high:
        return low if low == high else f"{low}..{high}"
    if low:
        return f">={low}"
    if high:
        return f"<={high}"
    return ""


class FilterBuilder(Dialog[str]):
    """Fields for each filter term; dismisses with the query text."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Apply", id="builder.apply"),
        Binding("ctrl+l", "clear", "Clear all fields", id="builder.clear"),
    ]

    DEFAULT_CSS = """
    FilterBuilder > #dialog {
        width: 76;
    }
    FilterBuilder VerticalScroll {
        height: auto;
        max-height: 16;
    }
    FilterBuilder .range > Input {
        width: 1fr;
    }
    FilterBuilder .range > .to {
        width: 4;
        padding-left: 1;
    }
    """

    class _Loaded(Message, bubble=False):
        def __init__(self, choices: Choices) -> None:
            super().__init__()
            self.choices = choices

    def __init__(self, workspace: Workspace, text: str = "") -> None:
        super().__init__()
        self.workspace = workspace
        self.initial = text
        self.values: dict[str, str] = {}
        """What the current filter says, by builder field."""
        self.more: list[str] = []
        self.words = ""
        self._read(text)

    # -- reading the current filter ----------------------------------------------------------

    def _read(self, text: str) -> None:
        from crm_tui.services.query import QuerySyntaxError, parse

        try:
            parsed = parse(text, self.workspace.actor.today())
        except QuerySyntaxError:
            self.more = [text] if text.strip() else []
            return
        for term in parsed.terms:
            if not self._take(term):
                self.more.append(term.text())
        self.more += ["-" + _quoted(w) for w in parsed.negated_words]
        self.words = " ".join(_quoted(w) for w in parsed.words)

    def _take(self, term) -> bool:
        """Put one term into its field; False when the fields cannot say it."""
        name, value = term.field, term.value
        if term.field == "has" and value.lower() == "activity":
            if "has" in self.values:
                return False
            self.values["has"] = "no" if term.negated else "yes"
            return True
        if term.negated or name in self.values:
            return False
        if name == "status":
            if value.lower() not in {v for _, v in STATUS_CHOICES if v}:
                return False
            self.values[name] = value.lower()
        elif name == "state":
            if value.lower() not in {v for _, v in STATE_CHOICES if v}:
                return False
            self.values[name] = value.lower()
        elif name in DATE_FIELDS:
            parts = split_range(value)
            if parts is None:
                return False
            self.values[f"{name}_from"], self.values[f"{name}_to"] = parts
            self.values[name] = value
        elif name in (*TEXT_FIELDS, "assigned", "team", "group"):
            self.values[name] = value
        else:
            return False
        return True

    # -- the form ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        v = self.values
        with Vertical(id="dialog"):
            yield self.heading("Filter contacts")
            with VerticalScroll():
                yield from self.field("status", "Status", self._select("status", STATUS_CHOICES))
                yield from self.field("assigned", "Assigned to", self._select("assigned", ANYONE))
                yield from self.field("team", "Team", self._select("team", (("any", ""),)))
                for name in TEXT_FIELDS:
                    yield from self.field(name, name.capitalize(),
                                          self.input(name, v.get(name, ""), "any; Olp* for a prefix"))
                for name in DATE_FIELDS:
                    yield from self._range(name)
                yield from self.field("has", "Open activity", self._select("has", HAS_CHOICES))
                yield from self.field("state", "Activity state", self._select("state", STATE_CHOICES))
                yield from self.field("group", "Group", self._select("group", (("any", ""),)))
                yield from self.field("more", "More terms", self.input("more", " ".join(self.more),
                                                                       "-city:Olpe kind:company"))
                yield from self.field("words", "Words", self.input("words", self.words,
                                                                   "full-text search"))
            yield Static(id="error-form", classes="field-error", markup=False)
            yield Static("", id="builder-preview", classes="hint", markup=False)
            yield Static("ctrl+s apply · ctrl+l clear · escape cancel", classes="hint")
            yield from self.buttons(("save", "Apply", "primary"), ("cancel", "Cancel", "default"))

    def _select(self, name: str, choices) -> Select:
        value = self.values.get(name, "")
        options = list(choices)
        if value and value not in {v for _, v in options}:
            options.append((value, value))
        return Select(options, value=value, allow_blank=False, id=f"field-{name}", compact=True)

    def _range(self, name: str) -> ComposeResult:
        with Horizontal(classes="field-row range", id=f"row-{name}"):
            yield Label(name.capitalize())
            yield Input(self.values.get(f"{name}_from", ""), placeholder="2026-01, -30d",
                        id=f"field-{name}_from", compact=True)
            yield Label("to", classes="to")
            yield Input(self.values.get(f"{name}_to", ""), placeholder="2026-03-31, today",
                        id=f"field-{name}_to", compact=True)
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#field-status", Select).focus()
        self._preview()
        self.load_choices()

    @work(thread=True, exclusive=True, exit_on_error=False, name="load filter choices")
    def load_choices(self) -> None:
        from crm_tui.services.catalog import list_users
        from crm_tui.services.groups import list_groups
        from crm_tui.services.users import list_teams

        workspace = self.workspace

        def read(session) -> Choices:
            users = [(f"{u.name or u.login} ({u.login})", u.login) for u in list_users(session) if u.active]
            teams = [t.name for t in list_teams(session)]
            groups = [g.name for g in list_groups(session, workspace.actor)]
            return Choices(users, teams, groups)

        self.post_message(self._Loaded(workspace.read(read)))

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        choices = message.choices
        self._fill("assigned", [*ANYONE, *choices.users])
        self._fill("team", [("any", ""), *((t, t) for t in choices.teams)])
        self._fill("group", [("any", ""), *((g, g) for g in choices.groups)])

    def _fill(self, name: str, options: list[tuple[str, str]]) -> None:
        select = self.query_one(f"#field-{name}", Select)
        value = select.value if isinstance(select.value, str) else ""
        known = {v for _, v in options}
        if value and value not in known:
            # a value typed in the bar that the lists do not have (it may be a typo): keep it
            options.append((value, value))
        select.set_options(options)
        select.value = value

    # -- building the text -------------------------------------------------------------------

    def _get(self, name: str) -> str:
        widget = self.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            return widget.value if isinstance(widget.value, str) else ""
        assert isinstance(widget, Input)
        return widget.value.strip()

    def query_text(self) -> str:
        from crm_tui.services.query import Term

        parts: list[str] = []
        for name in ("status", "assigned", "team", *TEXT_FIELDS):
            value = self._get(name)
            if value:
                parts.append(Term(name, value).text())
        for name in DATE_FIELDS:
            value = join_range(self._get(f"{name}_from"), self._get(f"{name}_to"))
            if value:
                parts.append(Term(name, value).text())
        has = self._get("has")
        if has:
            parts.append(("-" if has == "no" else "") + "has:activity")
        for name in ("state", "group"):
            value = self._get(name)
            if value:
                parts.append(Term(name, value).text())
        for name in ("more", "words"):
            value = self._get(name)
            if value:
                parts.append(value)
        return " ".join(parts)

    def _preview(self) -> None:
        text = self.query_text()
        self.query_one("#builder-preview", Static).update(f"filter: {text or '(none)'}")

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        if self.is_mounted:
            self._preview()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_clear(self) -> None:
        for select in self.query(Select):
            select.value = ""
        for field in self.query(Input):
            field.value = ""
        self._preview()

    def action_save(self) -> None:
        from crm_tui.services.query import QuerySyntaxError, parse

        self.clear_errors()
        text = self.query_text()
        try:
            parse(text, self.workspace.actor.today())
        except QuerySyntaxError as error:
            self.show_error(self._field_of(error.reason), error.reason)
            return
        self.dismiss(text)

    def _field_of(self, reason: str) -> str:
        name = reason.split(":", 1)[0].strip()
        if name in DATE_FIELDS:
            return name
        if self.query(f"#field-{name}"):
            return name
        return "more"


def _quoted(word: str) -> str:
    return f'"{word}"' if re.search(r"[\s:]", word) else word
