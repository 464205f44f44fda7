"""`crm demo`: a realistic, reproducible demo database, up to millions of contacts.

Owns the demo sales team (users, teams "Nord" and "Süd") and the generation of contacts,
opportunities, activities and a modest audit trail from the vocabulary in `data/demo_names.toml`
and `data/demo_texts.toml`. The same seed and the same `CRM_NOW` give the same rows.

Speed is a requirement (a million contacts and three million activities in well under three
minutes on two cores), so rows are plain tuples of the values SQLite stores (ISO date strings,
amounts as decimal strings), made from precomputed pieces with one `random.Random`, and stored by
one of two writers: SQLite gets raw `executemany` in one transaction on a connection of our own,
with the secondary indexes, the full-text triggers and the change-counter triggers set aside
during the load (see `_SqliteWriter`); PostgreSQL gets SQLAlchemy Core `insert()` executemany.
Big runs make the rows in a second process while this one writes them.

The derived columns (search key, phone digits, duplicate keys, `next_activity_due`, reminder
times) equal what `contacts.derived_values`, `activities.touch_records` and
`activities.compute_remind_at` compute; the tests compare them row by row.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import re
import sqlite3
import threading
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from random import Random

from sqlalchemy import Boolean, Date, Numeric, Time, insert, text
from sqlmodel import Session, SQLModel, col, select

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.db.engine import BUSY_TIMEOUT_MS, Database
from crm_tui.models import (
    ActivityType,
    LostReason,
    NumberSequence,
    Pipeline,
    Stage,
    Team,
    TeamMember,
    User,
)
from crm_tui.models.base import UTCDateTime
from crm_tui.services import duplicates
from crm_tui.services.conflicts import CHANGE_COUNTER_KEY
from crm_tui.services.dates import add_months
from crm_tui.services.defaults import CUSTOMER_SEQUENCE, install_defaults, shipped_toml
from crm_tui.services.duplicates import MIN_PHONE_DIGITS
from crm_tui.services.errors import ServiceError, ValidationError
from crm_tui.services.folding import digits, expanded_words, fold_words, phone_forms

MAX_CONTACTS = 10_000_000
CHUNK_CONTACTS = 20_000
"""Contacts made and written per round (with their opportunities and activities)."""
SEPARATE_PROCESS_FROM = 100_000
"""From this many contacts on, a second process makes the rows while this one writes them."""
HISTORY_SHARE = 0.1
"""Share of contacts that get "create" history rows: enough to show, cheap to write."""
CONTACT_YEARS = 3
"""Contacts were created over the last this many years, oldest first."""
PAST_DAYS = CONTACT_YEARS * 366 + 31
FUTURE_DAYS = 400
ACTIVITY_SHAPES = 8192
"""Pre-drawn combinations of an activity's type, text, time, reminder and priority."""

Progress = Callable[[int, int], None]
"""`progress(done, total)`: called as a long operation advances (for a progress bar)."""
INDEX_SHARE = 2 / 3
"""The final index build takes about two thirds of the time the rows took: the share of the
progress bar it gets (the bar waits there until the end)."""

CONTACT_COLUMNS = (
    "id", "kind", "name", "first_name", "company", "email", "phone", "mobile", "phone_digits",
    "street", "postal_code", "city", "region", "country", "source", "description",
    "expected_revenue", "currency", "contacted_on", "status", "customer_number",
    "assigned_user_id", "assigned_team_id", "created_by_id", "locked_by_id", "locked_until",
    "lost_reason_id", "close_note", "next_activity_due", "search_key", "name_key", "company_key",
    "email_key", "email_domain", "phone_key", "mobile_key", "previous_status", "created_at",
    "updated_at", "version",
)
OPPORTUNITY_COLUMNS = (
    "id", "title", "contact_id", "pipeline_id", "stage_id", "expected_revenue", "currency",
    "probability", "probability_overridden", "owner_id", "expected_close", "description",
    "stage_entered_at", "status", "lost_reason_id", "lost_note", "closed_at", "next_activity_due",
    "followup_first_at", "followup_count", "created_at", "updated_at", "version",
)
_OPP_NEXT_DUE = OPPORTUNITY_COLUMNS.index("next_activity_due")
ACTIVITY_COLUMNS = (
    "id", "type_id", "contact_id", "opportunity_id", "summary", "note", "due_date", "due_time",
    "assigned_user_id", "assigned_team_id", "priority", "place", "goal", "reminder_minutes",
    "remind_at", "reminder_queued_for", "status", "paused", "feedback", "done_at", "previous_id",
    "created_by_id", "created_at", "updated_at", "version",
)
HISTORY_COLUMNS = (
    "at", "user_id", "user_login", "contact_id", "opportunity_id", "activity_id", "action",
    "subject", "field", "old_value", "new_value", "note",
)
TABLE_COLUMNS = {
    "contacts": CONTACT_COLUMNS,
    "opportunities": OPPORTUNITY_COLUMNS,
    "activities": ACTIVITY_COLUMNS,
    "history": HISTORY_COLUMNS,
}
BULK_TABLES = ("contacts", "opportunities", "activities")
"""Tables whose secondary indexes are set aside during an SQLite load (history stays small)."""
GROWING_INDEXES = frozenset({
    "ix_contacts_created_at", "ix_opportunities_contact", "ix_activities_contact_due",
})
"""Indexes that new rows extend at their end (their keys grow with the ids): cheaper to keep
during the load than to rebuild."""
FTS_LOAD_AUTOMERGE = 16
"""FTS5 merges segments less eagerly during the load (restored afterwards): a third less work."""
FTS_DEFAULT_AUTOMERGE = 4
LOAD_CACHE_KIB = 512 * 1024
"""SQLite page cache of the loading connection: the index builds sort in memory. (Measured: a
cache as large as the new data is no faster.)"""

STATUS_WEIGHTS = (("prospect", 45), ("customer", 35), ("inbox", 7), ("archived", 7), ("closed", 6))
CATEGORY_WEIGHTS = {"call": 35, "email": 25, "meeting": 15, "todo": 15, "reminder": 5, "upload": 5}
ACTIVITY_COUNTS = (1, 2, 2, 3, 3, 3, 4, 4, 5, 3, 3, 4)
"""Activities per contact that is not in the inbox (an inbox contact has at most one)."""
OPEN_COUNTS = (0, 1, 1, 1, 1, 1, 1, 1, 2, 2)
"""How many of a prospect's or customer's activities are still open."""
OPPORTUNITY_CHANCE = {"prospect": 0.33, "customer": 0.36, "inbox": 0.0, "archived": 0.2, "closed": 0.3}
REMINDER_LEADS_TIMED = (15, 15, 30, 30, 60, 120)
REMINDER_LEADS_DAY = (0, 60, 1440)

_ASCII_WORD = re.compile(r"[0-9a-z]+")
log = logging.getLogger(__name__)


class DemoError(ServiceError):
    """The demo data could not be made (the message says why)."""


@dataclass(frozen=True)
class DemoSummary:
    """What `generate_demo` added."""

    contacts: int
    opportunities: int
    activities: int
    history: int
    users_created: int
    teams_created: int
    users: tuple[str, ...]
    """Logins of the demo team (and the acting user): the people the data is assigned to."""


# -- the demo team and what the database already holds ---------------------------------------


@dataclass(frozen=True)
class _Person:
    id: int
    login: str
    timezone: str
    weight: int
    """How often the person is picked as a contact's rep (reps more than managers)."""


@dataclass(frozen=True)
class _StageInfo:
    id: int
    probability: int
    duration_days: int


@dataclass(frozen=True)
class _PipelineInfo:
    id: int
    name: str
    open_stages: tuple[_StageInfo, ...]
    won_stage: _StageInfo | None
    lost_stage: _StageInfo | None
    followup_days: int
    """Days between follow-up mails; 0 when follow-ups are off."""


@dataclass(frozen=True)
class _Setup:
    """Everything the generator needs from the database, as plain (picklable) data."""

    people: tuple[_Person, ...]
    teams: dict[int, tuple[int, ...]]
    """team id -> the user ids of its demo members."""
    pipelines: tuple[_PipelineInfo, ...]
    types: tuple[tuple[int, str], ...]
    """(id, category) of the active activity types, in id order."""
    lost_reason_ids: tuple[int, ...]
    sequence_id: int | None
    sequence_prefix: str
    sequence_padding: int
    sequence_next: int
    users_created: int
    teams_created: int


def _prepare(session: Session, acting_login: str | None) -> _Setup:
    """Defaults, the demo team and the acting user; then what the generator needs."""
    install_defaults(session)
    vocabulary = shipped_toml("demo_names.toml")
    tld = vocabulary["email_tld"]
    users_created = teams_created = 0

    team_ids: dict[str, int] = {}
    for name in sorted({name for spec in vocabulary["users"] for name in spec.get("teams", ())}):
        team = session.exec(select(Team).where(Team.name == name)).first()
        if team is None:
            team = Team(name=name)
            session.add(team)
            session.flush()
            teams_created += 1
        team_ids[name] = team.id

    role_weight = {"rep": 4, "manager": 2, "admin": 1}
    people: list[_Person] = []
    members: dict[int, list[int]] = {team_id: [] for team_id in team_ids.values()}
    for spec in vocabulary["users"]:
        user = session.exec(select(User).where(User.login == spec["login"])).first()
        if user is None:
            user = User(
                login=spec["login"], name=spec["name"], email=f"{spec['login']}@crm-demo.{tld}",
                timezone=spec["timezone"], role=spec["role"],
            )
            session.add(user)
            session.flush()
            users_created += 1
        joined = set(
            session.exec(select(TeamMember.team_id).where(TeamMember.user_id == user.id)).all()
        )
        for team_name in spec.get("teams", ()):
            if team_ids[team_name] not in joined:
                session.add(TeamMember(team_id=team_ids[team_name], user_id=user.id))
            members[team_ids[team_name]].append(user.id)
        people.append(_Person(user.id, user.login, user.timezone, role_weight[user.role]))

    if acting_login and all(person.login != acting_login for person in people):
        user = session.exec(select(User).where(User.login == acting_login)).first()
        if user is None:
            user = User(login=acting_login, name=acting_login, role="admin")
            session.add(user)
            session.flush()
            users_created += 1
        # Whoever ran `crm demo` gets a rep's share, so their "My activities" is not empty.
        people.append(_Person(user.id, user.login, user.timezone, role_weight["rep"]))
    session.flush()

    pipelines = []
    for pipeline in session.exec(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).all():
        stages = session.exec(
            select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position, Stage.id)
        ).all()
        open_stages = tuple(
            _StageInfo(s.id, s.probability, s.duration_days)
            for s in stages
            if not (s.is_won or s.is_lost)
        )
        if not open_stages:
            continue
        won = next((s for s in stages if s.is_won), None)
        lost = next((s for s in stages if s.is_lost), None)
        unit_days = {"days": 1, "weeks": 7, "months": 30}[pipeline.followup_unit]
        interval = max(pipeline.followup_interval, 1)
        pipelines.append(_PipelineInfo(
            id=pipeline.id,
            name=pipeline.name,
            open_stages=open_stages,
            won_stage=_StageInfo(won.id, 100, 0) if won else None,
            lost_stage=_StageInfo(lost.id, 0, 0) if lost else None,
            followup_days=unit_days * interval if pipeline.followup_enabled else 0,
        ))
    types = tuple(
        (t.id, t.category)
        for t in session.exec(
            select(ActivityType).where(col(ActivityType.active)).order_by(ActivityType.id)
        ).all()
    )
    lost_reason_ids = tuple(
        session.exec(select(LostReason.id).where(col(LostReason.active)).order_by(LostReason.id)).all()
    )
    sequence = session.exec(
        select(NumberSequence).where(NumberSequence.name == CUSTOMER_SEQUENCE)
    ).first() or session.exec(select(NumberSequence).order_by(NumberSequence.id)).first()
    return _Setup(
        people=tuple(people),
        teams={team_id: tuple(ids) for team_id, ids in members.items() if ids},
        pipelines=tuple(pipelines),
        types=types,
        lost_reason_ids=lost_reason_ids,
        sequence_id=sequence.id if sequence else None,
        sequence_prefix=sequence.prefix if sequence else "K-{year}-",
        sequence_padding=sequence.padding if sequence else 5,
        sequence_next=sequence.next_value if sequence else 1,
        users_created=users_created,
        teams_created=teams_created,
    )


# -- vocabulary, precomputed -------------------------------------------------------------------


def _wheel(entries) -> tuple:
    """A tuple in which each value appears `weight` times: a weighted pick is one index."""
    return tuple(value for value, weight in entries for _ in range(weight))


def _search_words(text_: str) -> tuple[str, ...]:
    """The words `folding.search_key` takes from one field: folded, then umlauts written out."""
    return (*fold_words(text_), *expanded_words(text_))


class _PhoneFormat:
    """One way to write a number ("+48 42 ### ## ##" for Łódź), ready to fill with random digits.

    Makes the text, its digits and `folding.phone_forms` of it without parsing the text again.
    """

    def __init__(self, template: str):
        self.count = template.count("#")
        self.pattern = template.replace("%", "%%").replace("#", "%s")
        head = template.split("#", 1)[0]
        self.fixed = digits(head)
        # Numbers whose digits all come before the first `#` are filled the fast way.
        self.simple = digits(template) == self.fixed and bool(self.fixed)
        self.international = template.strip().startswith("+") or self.fixed.startswith("00")

    def make(self, random_digits: str) -> tuple[str, str, list[str]]:
        """(text, digits, search forms) for `count` random digits."""
        text_ = self.pattern % tuple(random_digits)
        if not self.simple:
            return text_, digits(text_), phone_forms(text_)
        number = self.fixed + random_digits
        if not self.international:
            return text_, number, [number]
        rest = number[2:] if number.startswith("00") else number
        national = "0" + rest[2:].lstrip("0")
        return text_, number, [number, national] if len(national) > 3 else [number]


@dataclass(frozen=True)
class _City:
    name: str
    region: str
    postal_codes: tuple[str, ...]
    words: tuple[str, ...]
    landlines: tuple[_PhoneFormat, ...]


@dataclass(frozen=True)
class _Company:
    name: str
    domain: str
    words: tuple[str, ...]
    own_name_key: str
    """`name_key` of the company as a contact of its own."""
    company_key: str


@dataclass(frozen=True)
class _Identity:
    """A person's name with everything derived from it (names repeat: made once, used often)."""

    first_name: str
    name: str
    words: tuple[str, ...]
    name_key: str
    mail_first: str
    mail_last: str


class _Country:
    def __init__(self, spec: dict, rng: Random, tld: str):
        self.name = spec["country"]
        self.expanded_email = spec.get("email_style") == "expanded"
        words_of = expanded_words if self.expanded_email else fold_words
        self.cities = _wheel(
            (
                _City(
                    c["name"], c["region"], tuple(c["postal_codes"]), _search_words(c["name"]),
                    tuple(
                        _PhoneFormat(
                            t.replace("{area_intl}", c["area"].lstrip("0")).replace("{area}", c["area"])
                        )
                        for t in spec["landline"]
                    ),
                ),
                c.get("weight", 1),
            )
            for c in spec["cities"]
        )
        self.mobiles = tuple(
            _PhoneFormat(t.replace("{mobile_intl}", prefix.lstrip("0")).replace("{mobile}", prefix))
            for t in spec["mobile"]
            for prefix in spec["mobile_prefixes"]
        )
        self.free_mail = tuple(f"{domain}.{tld}" for domain in spec["free_mail"])
        self.female_first = tuple(spec["female_first"])
        self.male_first = tuple(spec["male_first"])
        self.last = tuple((entry.split("/")[0], entry.split("/")[-1]) for entry in spec["last"])
        self.streets = tuple(spec["streets"])
        self._words_of = words_of
        self._identities: dict[tuple[bool, int, int], _Identity] = {}

        companies: dict[str, _Company] = {}
        trades, stems, forms = spec["company_trades"], spec["company_words"], spec["legal_forms"]
        for _ in range(len(trades) * len(stems) * 2):
            stem = rng.choice(stems) if rng.random() < 0.6 else rng.choice(self.last)[0]
            trade = rng.choice(trades)
            name = f"{stem} {trade} {rng.choice(forms)}"
            if name not in companies:
                companies[name] = _Company(
                    name=name,
                    domain=f"{'-'.join(words_of(stem) + words_of(trade))}.{tld}",
                    words=_search_words(name),
                    own_name_key=duplicates.name_key("company", name),
                    company_key=duplicates.company_key("person", "", name),
                )
        self.companies = tuple(companies.values())

    def identity(self, female: bool, first_index: int, last_index: int) -> _Identity:
        key = (female, first_index, last_index)
        found = self._identities.get(key)
        if found is None:
            first_name = (self.female_first if female else self.male_first)[first_index]
            name = self.last[last_index][1 if female else 0]
            found = self._identities[key] = _Identity(
                first_name=first_name,
                name=name,
                words=_search_words(name) + _search_words(first_name),
                name_key=duplicates.name_key("person", name, first_name),
                mail_first="-".join(self._words_of(first_name)),
                mail_last="-".join(self._words_of(name)),
            )
        return found


@dataclass(frozen=True)
class _Title:
    text: str
    needs_format: bool
    low: int
    """Cents, like `high` and `step`."""
    high: int
    step: int
    cents: bool


def _titles(specs: list[dict]) -> tuple[_Title, ...]:
    return _wheel(
        (
            _Title(
                s["title"], "{" in s["title"], s["min"] * 100, s["max"] * 100,
                s.get("step", 1) * 100, s.get("cents", False),
            ),
            s.get("weight", 1),
        )
        for s in specs
    )


# -- dates as the database stores them --------------------------------------------------------


class _Calendar:
    """Stored forms of every day around today (UTC): rows are made without date arithmetic.

    Day offsets count from today: 0 is today, -1 yesterday.
    """

    def __init__(self, now: datetime):
        self.now = now
        self.today = now.astimezone(UTC).date()
        self.zero = PAST_DAYS
        """Index of today in `days`."""
        self.days = [
            (self.today + timedelta(days=offset)).isoformat()
            for offset in range(-PAST_DAYS, FUTURE_DAYS + 1)
        ]
        self.at = [f" {m // 60:02d}:{m % 60:02d}:00.000000" for m in range(24 * 60)]
        """" HH:MM:00.000000" per minute of the day: day + at[minute] is a stored datetime."""
        self.times = [t[1:] for t in self.at]
        """A stored time of day per minute."""
        self._later: dict[tuple[int, int], str] = {}
        self._utc_offsets: dict[tuple[int, str, int], int] = {}
        self.now_stored = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        """Now as a stored datetime: stored datetimes compare as strings."""

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def months_later(self, offset: int, minute: int, months: int) -> str:
        """The stored datetime `months` calendar months after day `offset`, at `minute`."""
        key = (offset, months)
        day = self._later.get(key)
        if day is None:
            day = self._later[key] = add_months(self.day(offset), months).isoformat()
        return day + self.at[minute]

    def reminder(self, offset: int, minute: int, zone: str, lead: int) -> tuple[str, str | None]:
        """(remind_at, reminder_queued_for): the due moment in `zone` minus `lead` minutes, UTC.

        What `activities.compute_remind_at` gives, by minute arithmetic on the zone's UTC offset
        at that hour. A reminder whose moment has passed counts as sent, so the daemon does not
        mail the whole demo history at its first run.
        """
        key = (offset, zone, minute // 60)
        utc_offset = self._utc_offsets.get(key)
        if utc_offset is None:
            local = clock.start_of_day_utc(self.day(offset), zone, minute // 60)
            moment = datetime(local.year, local.month, local.day, local.hour, local.minute)
            start = datetime(self.today.year, self.today.month, self.today.day)
            utc_offset = self._utc_offsets[key] = (
                offset * 1440 + (minute // 60) * 60 - int((moment - start).total_seconds()) // 60
            )
        day, at_minute = divmod(offset * 1440 + minute - utc_offset - lead, 1440)
        stored = self.days[day + self.zero] + self.at[at_minute]
        return stored, stored if stored <= self.now_stored else None


# -- generation --------------------------------------------------------------------------------


@dataclass
class _Chunk:
    contacts: list[tuple] = field(default_factory=list)
    opportunities: list[tuple] = field(default_factory=list)
    activities: list[tuple] = field(default_factory=list)
    history: list[tuple] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[str, list[tuple]]]:
        # Parents first: each table's foreign keys point at rows already written.
        yield "contacts", self.contacts
        yield "opportunities", self.opportunities
        yield "activities", self.activities
        yield "history", self.history


@dataclass(frozen=True)
class _IdBases:
    """The highest ids before the load; new rows are numbered on from there."""

    contacts: int
    opportunities: int
    activities: int


@dataclass(frozen=True)
class _Totals:
    opportunities: int
    activities: int
    customer_counter: int


@dataclass
class _Opportunity:
    id: int
    is_open: bool
    row: list


class _Generator:
    """Makes the rows: contacts with their opportunities, activities and history, a chunk at a time.

    One `Random`, one thread, one order: the same seed gives the same rows, whichever process
    makes them.
    """

    def __init__(
        self, rng: Random, setup: _Setup, calendar: _Calendar, settings: Settings, bases: _IdBases
    ):
        self.rng = rng
        self.r = rng.random
        self.setup = setup
        self.cal = calendar
        self.bases = bases
        names = shipped_toml("demo_names.toml")
        texts = shipped_toml("demo_texts.toml")
        self.countries = _wheel(
            (_Country(spec, rng, names["email_tld"]), spec.get("weight", 1))
            for _, spec in sorted(names["countries"].items())
        )
        self.sources = tuple(names["sources"])
        self.import_source = names["import_source"]
        self.descriptions = tuple(texts["contact_descriptions"])
        self.close_notes = tuple(texts["close_notes"])
        self.lost_notes = tuple(texts["lost_notes"])
        self.statuses = _wheel(STATUS_WEIGHTS)
        self.people = _wheel((p, p.weight) for p in setup.people)
        self.person_by_id = {p.id: p for p in setup.people}
        self.team_ids = tuple(setup.teams)
        self.titles = {
            p.id: _titles(texts["opportunities"].get(p.name) or texts["opportunities"]["*"])
            for p in setup.pipelines
        }
        self.stage_wheels = {
            # Earlier stages hold more opportunities, as on a real board.
            p.id: _wheel((s, len(p.open_stages) - i) for i, s in enumerate(p.open_stages))
            for p in setup.pipelines
        }
        self.shapes = self._activity_shapes(setup.types, texts)
        self.call_shapes = tuple(s for s in self.shapes if s[1] == "call") or self.shapes
        self.default_zone = settings.general.timezone or "UTC"
        self.default_minute = settings.general.default_due_hour * 60
        self.lock_months = settings.general.lock_months
        self.currency = settings.general.currency
        self.customer_counter = setup.sequence_next
        self.opportunities_made = 0
        self.activities_made = 0
        self._mail_words: dict[str, list[str]] = {}
        self._number_words: dict[str, list[str]] = {}

    def _activity_shapes(self, types: tuple[tuple[int, str], ...], texts: dict) -> tuple[tuple, ...]:
        """Pre-drawn activities without contact or date; an activity is one of them, dated.

        (type id, category, summary, summary needs the city, minute or None, reminder lead,
        priority, note, place, goal, feedback, cancel feedback, minute of completion)
        """
        if not types:
            return ()
        by_category: dict[str, list[int]] = {}
        for type_id, category in types:
            by_category.setdefault(category, []).append(type_id)
        weighted = []
        for category, ids in by_category.items():
            weight = CATEGORY_WEIGHTS.get(category, 5)
            # A category's first type is its main one; further types share a small part.
            weighted.append(((ids[0], category), weight * 4))
            weighted.extend(((extra, category), weight) for extra in ids[1:])
        kinds = _wheel(weighted)
        rng = self.rng
        activity_texts = texts["activities"]
        shapes = []
        for _ in range(ACTIVITY_SHAPES):
            type_id, category = rng.choice(kinds)
            summary = rng.choice(texts["summaries"].get(category) or ["Aktivität"])
            timed = rng.random() < {"meeting": 0.9, "call": 0.5}.get(category, 0.1)
            minute = (8 + rng.randrange(10)) * 60 + 15 * rng.randrange(4) if timed else None
            lead = None
            if rng.random() < (0.4 if timed else 0.1):
                lead = rng.choice(REMINDER_LEADS_TIMED if timed else REMINDER_LEADS_DAY)
            place = goal = ""
            if category == "meeting":
                place = rng.choice(activity_texts["places"])
                goal = rng.choice(activity_texts["goals"])
            elif category == "call" and rng.random() < 0.3:
                goal = rng.choice(activity_texts["goals"])
            priority = 0 if rng.random() < 0.7 else (1 if rng.random() < 0.65 else 2)
            shapes.append((
                type_id, category, summary, "{" in summary, minute, lead, priority,
                rng.choice(activity_texts["notes"]), place, goal,
                rng.choice(activity_texts["feedback"]), rng.choice(activity_texts["cancel_feedback"]),
                minute if minute is not None else 480 + rng.randrange(600),
            ))
        return tuple(shapes)

    def mail_words(self, text_: str) -> list[str]:
        """Search words of an address part (generated addresses are lower-case ASCII)."""
        found = self._mail_words.get(text_)
        if found is None:
            found = _ASCII_WORD.findall(text_)
            if len(self._mail_words) < 500_000:
                self._mail_words[text_] = found
        return found

    # -- one chunk --------------------------------------------------------------------------------

    def chunk(self, first: int, count: int, total: int) -> _Chunk:
        """Contacts number `first` to `first + count - 1` of `total`, with what belongs to them."""
        out = _Chunk()
        for index in range(first, first + count):
            self._contact(index, total, out)
        return out

    def _contact(self, index: int, total: int, out: _Chunk) -> None:
        r = self.r
        cal = self.cal
        days, zero, at = cal.days, cal.zero, cal.at
        contact_id = self.bases.contacts + index + 1
        # Oldest first: ids grow with creation time, as in a database that was used.
        created = -1 - (CONTACT_YEARS * 365 * (total - index)) // (total + 1)
        created_minute = 420 + int(r() * 720)
        created_at = days[created + zero] + at[created_minute]
        country = self.countries[int(r() * len(self.countries))]
        city = country.cities[int(r() * len(country.cities))]
        statuses = self.statuses
        status = statuses[int(r() * len(statuses))]

        # -- who ---------------------------------------------------------------------------------
        words: list[str] = []
        if r() < 0.75:
            kind = "person"
            female = r() < 0.5
            firsts = country.female_first if female else country.male_first
            person = country.identity(female, int(r() * len(firsts)), int(r() * len(country.last)))
            name, first_name = person.name, person.first_name
            words.extend(person.words)
            employer = country.companies[int(r() * len(country.companies))] if r() < 0.55 else None
            email = ""
            if r() < 0.88:
                style = r()
                if employer is not None:
                    domain = employer.domain
                    local = (
                        f"{person.mail_first}.{person.mail_last}" if style < 0.7
                        else f"{person.mail_first[0]}.{person.mail_last}"
                    )
                else:
                    domain = country.free_mail[int(r() * len(country.free_mail))]
                    if style < 0.5:
                        local = f"{person.mail_first}.{person.mail_last}"
                    elif style < 0.8:
                        local = f"{person.mail_first}.{person.mail_last}{int(r() * 90) + 10}"
                    else:
                        local = f"{person.mail_first[0]}{person.mail_last}"
                email = f"{local}@{domain}"
            has_phone, has_mobile = r() < 0.7, r() < 0.55
            if employer is not None:
                company = employer.name
                words.extend(employer.words)
                company_key = employer.company_key
            else:
                company = company_key = ""
            name_key = person.name_key
        else:
            kind = "company"
            employer = country.companies[int(r() * len(country.companies))]
            name = company = employer.name
            first_name = ""
            words.extend(employer.words)
            email = ""
            if r() < 0.9:
                email = f"{('info', 'kontakt', 'office', 'vertrieb')[int(r() * 4)]}@{employer.domain}"
            has_phone, has_mobile = r() < 0.92, r() < 0.15
            name_key, company_key = employer.own_name_key, employer.company_key
        words.extend(city.words)
        if email:
            local, _, domain = email.partition("@")
            words.extend(self.mail_words(local))
            words.extend(self.mail_words(domain))

        phone = mobile = phone_key = mobile_key = ""
        phone_digits = []
        forms_of_phones = []
        for wanted, formats in ((has_phone, city.landlines), (has_mobile, country.mobiles)):
            if not wanted:
                continue
            number_format = formats[int(r() * len(formats))]
            count = number_format.count
            text_, number, forms = number_format.make(f"{int(r() * 10**count):0{count}d}")
            phone_digits.append(number)
            forms_of_phones.append(forms)
            key = forms[-1] if len(forms[-1]) >= MIN_PHONE_DIGITS else ""
            if formats is city.landlines:
                phone, phone_key = text_, key
            else:
                mobile, mobile_key = text_, key
        street = ""
        if r() < 0.8:
            street = f"{country.streets[int(r() * len(country.streets))]} {int(r() * 120) + 1}"

        # -- assignment: one rep (65 %), everybody (15 %) or a team (20 %) ----------------------
        people = self.people
        choice = r()
        assigned_user = assigned_team = None
        if choice < 0.8 or not self.team_ids:
            owner = people[int(r() * len(people))]
            if choice < 0.65:
                assigned_user = owner.id
        else:
            assigned_team = self.team_ids[int(r() * len(self.team_ids))]
            members = self.setup.teams[assigned_team]
            owner = self.person_by_id[members[int(r() * len(members))]]
        creator = owner if r() < 0.8 else people[int(r() * len(people))]

        # -- status and what goes with it ---------------------------------------------------------
        source = self.import_source if status == "inbox" else self.sources[int(r() * len(self.sources))]
        revenue_cents = None
        if status in ("prospect", "customer") and r() < 0.55:
            revenue_cents = (int(r() * 1190) + 10) * 10_000
        description = ""
        if r() < 0.45:
            template = self.descriptions[int(r() * len(self.descriptions))]
            description = template.format(
                amount=f"{(revenue_cents or 1_200_000) // 100:,}".replace(",", "."),
                source=source, city=city.name, year=cal.today.year - 1 - int(r() * 5),
                n=int(r() * 40) + 5,
            ) if "{" in template else template
        contacted_on = (
            days[created + int(r() * -created) + zero] if status != "inbox" and r() < 0.75 else None
        )
        customer_number = None
        if status == "customer" or (status in ("archived", "closed") and r() < 0.4):
            customer_number = self._customer_number(days[created + zero][:4])
            words.extend(self._number_key_words(customer_number))
        locked_by = locked_until = None
        if status == "prospect" and self.lock_months > 0:
            locked_by = creator.id
            locked_until = cal.months_later(created, created_minute, self.lock_months)
        lost_reason = None
        close_note = previous_status = ""
        updated_at = created_at
        if status in ("closed", "archived"):
            previous_status = "customer" if customer_number else "prospect"
            closed_day = created + int(r() * -created)
            updated_at = max(created_at, days[closed_day + zero] + at[480 + int(r() * 600)])
            if status == "closed":
                reasons = self.setup.lost_reason_ids
                lost_reason = reasons[int(r() * len(reasons))] if reasons else None
                close_note = self.close_notes[int(r() * len(self.close_notes))]

        opportunities = self._opportunities(
            contact_id, status, created, created_at, city, street, company or name, owner
        )
        next_due = self._activities(
            contact_id, status, created, created_at, city, street, owner, creator, assigned_team,
            opportunities, out,
        )
        for opportunity in opportunities:
            out.opportunities.append(tuple(opportunity.row))

        for forms in forms_of_phones:
            words.extend(forms)
        out.contacts.append((
            contact_id, kind, name, first_name, company, email, phone, mobile, " ".join(phone_digits),
            street, city.postal_codes[int(r() * len(city.postal_codes))], city.name, city.region,
            country.name, source, description,
            None if revenue_cents is None else f"{revenue_cents // 100}.00", self.currency,
            contacted_on, status, customer_number, assigned_user, assigned_team, creator.id,
            locked_by, locked_until, lost_reason, close_note,
            None if next_due is None else days[next_due + zero],
            " ".join(dict.fromkeys(words)), name_key, company_key, email, email.partition("@")[2],
            phone_key, mobile_key, previous_status, created_at, updated_at, 1,
        ))
        if r() < HISTORY_SHARE:
            self._history(contact_id, name, first_name, status, created_at, updated_at, creator,
                          owner, locked_until, close_note, out)

    def _customer_number(self, year: str) -> str:
        prefix = self.setup.sequence_prefix.replace("{year}", year)
        number = f"{prefix}{self.customer_counter:0{self.setup.sequence_padding}d}"
        self.customer_counter += 1
        return number

    def _number_key_words(self, number: str) -> list[str]:
        lowered = number.lower()
        head = lowered.rstrip("0123456789")
        if not head or head[-1].isalnum():
            return _ASCII_WORD.findall(lowered)
        found = self._number_words.get(head)
        if found is None:
            found = self._number_words[head] = _ASCII_WORD.findall(head)
        return [*found, lowered[len(head):]]

    def _opportunities(
        self, contact_id: int, status: str, created: int, created_at: str, city: _City,
        street: str, company: str, owner: _Person,
    ) -> list[_Opportunity]:
        r = self.r
        days, zero, at = self.cal.days, self.cal.zero, self.cal.at
        pipelines = self.setup.pipelines
        made: list[_Opportunity] = []
        chance = OPPORTUNITY_CHANCE[status]
        while pipelines and r() < chance and len(made) < 3:
            chance *= 0.3
            self.opportunities_made += 1
            opp_id = self.bases.opportunities + self.opportunities_made
            pipeline = pipelines[int(r() * len(pipelines))]
            titles = self.titles[pipeline.id]
            template = titles[int(r() * len(titles))]
            title = template.text
            if template.needs_format:
                title = title.format(
                    city=city.name, street=street or city.name, company=company,
                    ref=f"{int(r() * 99999) + 1:05d}", n=int(r() * 9) + 2,
                    seats=(int(r() * 40) + 1) * 5, year=self.cal.today.year + int(r() * 2),
                )
            steps = (template.high - template.low) // template.step
            cents = template.low + int(r() * (steps + 1)) * template.step
            if template.cents:
                cents += int(r() * 100)
            u = r()
            if status == "closed":
                outcome = "lost"
            elif status == "archived":
                outcome = "won" if u < 0.5 else "lost"
            elif status == "customer":
                outcome = "open" if u < 0.55 else ("won" if u < 0.9 else "lost")
            else:
                outcome = "open" if u < 0.9 else "lost"
            opened = created + int(r() * -created)
            opened_at = max(created_at, days[opened + zero] + at[480 + int(r() * 600)])
            stages = self.stage_wheels[pipeline.id]
            stage = stages[int(r() * len(stages))]
            lost_reason = closed_at = followup_first = None
            lost_note = ""
            followups = overridden = 0
            if outcome == "open":
                probability = stage.probability
                if r() < 0.05:
                    probability = min(100, max(0, probability + (int(r() * 5) - 2) * 10))
                    overridden = 1
                # Up to half again the stage's duration: about a third are rotting.
                limit = stage.duration_days * 3 // 2 if stage.duration_days else 90
                entered = max(opened, -1 - int(r() * limit))
                entered_at = max(opened_at, days[entered + zero] + at[480 + int(r() * 600)])
                expected_close = days[7 + int(r() * 170) + zero]
                if pipeline.followup_days and stage.duration_days:
                    # Follow-up mails already sent: the daily run (07:00 UTC), the first on the
                    # day after the stage's duration ran out, then one per interval.
                    first_mail = entered + stage.duration_days + 1
                    if first_mail < 0:
                        followup_first = days[first_mail + zero] + at[420]
                        followups = 1 + (-1 - first_mail) // pipeline.followup_days
                updated_at = entered_at
            else:
                closed = opened + int(r() * -opened)
                closed_at = max(opened_at, days[closed + zero] + at[480 + int(r() * 600)])
                entered_at = updated_at = closed_at
                expected_close = days[closed + zero]
                if outcome == "won":
                    probability = 100
                    stage = pipeline.won_stage or stage
                else:
                    probability = 0
                    stage = pipeline.lost_stage or stage
                    reasons = self.setup.lost_reason_ids
                    lost_reason = reasons[int(r() * len(reasons))] if reasons else None
                    lost_note = self.lost_notes[int(r() * len(self.lost_notes))]
            made.append(_Opportunity(opp_id, outcome == "open", [
                opp_id, title, contact_id, pipeline.id, stage.id, f"{cents // 100}.{cents % 100:02d}",
                self.currency, probability, overridden, owner.id, expected_close, "", entered_at,
                outcome, lost_reason, lost_note, closed_at, None, followup_first, followups,
                opened_at, updated_at, 1,
            ]))
        return made

    def _activities(
        self, contact_id: int, status: str, created: int, created_at: str, city: _City,
        street: str, owner: _Person, creator: _Person, assigned_team: int | None,
        opportunities: list[_Opportunity], out: _Chunk,
    ) -> int | None:
        """Add the contact's activities; returns the day offset of its next open one (or None)."""
        r = self.r
        cal = self.cal
        days, zero, at, times = cal.days, cal.zero, cal.at, cal.times
        shapes = self.shapes
        if not shapes:
            return None
        if status == "inbox":
            # Imported, not reviewed: at most the call planned on creation.
            past, planned = 0, 1 if r() < 0.6 else 0
            shapes = self.call_shapes
        else:
            total = ACTIVITY_COUNTS[int(r() * len(ACTIVITY_COUNTS))]
            if status in ("archived", "closed"):
                planned = 0
            else:
                planned = min(total, OPEN_COUNTS[int(r() * len(OPEN_COUNTS))])
            past = total - planned
        dues = sorted(created + int(r() * -created) for _ in range(past))
        open_dues = []
        for _ in range(planned):
            u = r()
            if u < 0.25:  # overdue, mostly by a few days
                open_dues.append(max(created, -1 - int(r() * r() * 45)))
            elif u < 0.37:
                open_dues.append(0)
            else:
                open_dues.append(1 + int(r() * r() * 60))
        open_dues.sort()
        dues.extend(open_dues)
        open_opportunities = [o for o in opportunities if o.is_open]
        people, shape_count = self.people, len(shapes)
        next_due = previous = None
        add = out.activities.append
        activity_id = self.bases.activities + self.activities_made
        self.activities_made += len(dues)
        for position, due in enumerate(dues):
            activity_id += 1
            (type_id, _category, summary, summary_needs_city, minute, lead, priority, note, place,
             goal, feedback, cancel_feedback, done_minute) = shapes[int(r() * shape_count)]
            if summary_needs_city:
                summary = summary.format(city=city.name)
            if "{" in place:
                place = place.format(city=city.name, street=street or city.name)
            is_open = position >= past
            if is_open:
                linked = (
                    open_opportunities[int(r() * len(open_opportunities))]
                    if open_opportunities and r() < 0.75 else None
                )
            else:
                linked = (
                    opportunities[int(r() * len(opportunities))]
                    if opportunities and r() < 0.5 else None
                )
            # The contact's rep mostly, a colleague sometimes, or the team itself.
            if assigned_team is not None and r() < 0.3:
                doer, team = None, assigned_team
            else:
                doer, team = (owner if r() < 0.85 else people[int(r() * len(people))]), None
            remind_at = queued = None
            if lead is not None:
                remind_at, queued = cal.reminder(
                    due, self.default_minute if minute is None else minute,
                    (doer.timezone if doer else "") or self.default_zone, lead,
                )
            made_day = max(created, min(due, 0) - 1 - int(r() * 14))
            made_at = max(created_at, days[made_day + zero] + at[480 + int(r() * 600)])
            paused = 0
            done_at = None
            if is_open:
                state = "planned"
                feedback = ""
                updated_at = made_at
                if r() < 0.06:
                    paused = 1
                else:
                    if next_due is None or due < next_due:
                        next_due = due
                    if linked is not None:
                        row = linked.row
                        if row[_OPP_NEXT_DUE] is None or days[due + zero] < row[_OPP_NEXT_DUE]:
                            row[_OPP_NEXT_DUE] = days[due + zero]
            elif r() < 0.88:
                state = "done"
                done_at = updated_at = max(made_at, days[due + zero] + at[done_minute])
            else:
                state = "cancelled"
                feedback = cancel_feedback
                updated_at = made_at
            add((
                activity_id, type_id, contact_id, linked.id if linked else None, summary, note,
                days[due + zero], None if minute is None else times[minute],
                doer.id if doer else None, team, priority, place, goal, lead, remind_at, queued,
                state, paused, feedback, done_at,
                previous if previous is not None and r() < 0.6 else None,
                creator.id, made_at, updated_at, 1,
            ))
            previous = activity_id
        return next_due

    @staticmethod
    def _history(
        contact_id: int, name: str, first_name: str, status: str, created_at: str,
        updated_at: str, creator: _Person, owner: _Person, locked_until: str | None,
        close_note: str, out: _Chunk,
    ) -> None:
        """The rows `contacts.create_contact` writes (and a closing), for a share of contacts."""
        # As contacts.create_contact words it.
        subject = f"contact {contact_id} " + (f"{name}, {first_name}" if first_name else name)
        add = out.history.append
        add((created_at, creator.id, creator.login, contact_id, None, None, "create", subject,
             "", "", status, ""))
        if locked_until:
            until = locked_until.replace(" ", "T")[:19] + "+00:00"
            add((created_at, creator.id, creator.login, contact_id, None, None, "lock", subject,
                 "", "", until, ""))
        if status == "closed":
            add((updated_at, owner.id, owner.login, contact_id, None, None, "status", subject,
                 "status", "prospect", "closed", close_note))


# -- making rows in a second process -------------------------------------------------------------


@dataclass(frozen=True)
class _GeneratorArguments:
    seed: int
    setup: _Setup
    now: datetime
    settings: Settings
    bases: _IdBases
    contacts: int


def _chunks_here(arguments: _GeneratorArguments) -> Generator[_Chunk | _Totals]:
    """The chunks, made in this process; the totals last."""
    generator = _Generator(
        Random(arguments.seed), arguments.setup, _Calendar(arguments.now), arguments.settings,
        arguments.bases,
    )
    for first in range(0, arguments.contacts, CHUNK_CONTACTS):
        count = min(CHUNK_CONTACTS, arguments.contacts - first)
        yield generator.chunk(first, count, arguments.contacts)
    yield _Totals(generator.opportunities_made, generator.activities_made, generator.customer_counter)


def _make_chunks_for_parent(connection, arguments: _GeneratorArguments) -> None:
    """The second process: sends each chunk (pickled) through the pipe, or what went wrong."""
    # Rows hold no reference cycles; collecting would only re-scan them (a tenth of the time).
    gc.disable()
    try:
        for item in _chunks_here(arguments):
            connection.send_bytes(pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
    except BaseException:  # reported to the writing process, which raises it
        connection.send_bytes(pickle.dumps(traceback.format_exc(), pickle.HIGHEST_PROTOCOL))
    finally:
        connection.close()


def _chunks_from_child(arguments: _GeneratorArguments) -> Generator[_Chunk | _Totals]:
    """The chunks, made by a spawned process while the caller writes the previous ones.

    Making rows is pure Python and holds the GIL; a thread would starve the writer (which drops
    the GIL for every row it stores), so the second core gets a process of its own.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_make_chunks_for_parent, args=(sender, arguments), name="crm-demo-rows", daemon=True
    )
    try:
        process.start()
    except OSError as error:
        log.warning("demo: no second process (%s); making the rows here", error)
        receiver.close()
        sender.close()
        yield from _chunks_here(arguments)
        return
    sender.close()
    try:
        while True:
            try:
                item = pickle.loads(receiver.recv_bytes())
            except EOFError:
                process.join()
                raise DemoError(
                    f"demo: the row generator stopped (exit code {process.exitcode})"
                ) from None
            if isinstance(item, str):
                log.error("demo: the row generator failed:\n%s", item)
                raise DemoError(f"demo: the row generator failed: {item.strip().splitlines()[-1]}")
            yield item
            if isinstance(item, _Totals):
                return
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join()


# -- writers -------------------------------------------------------------------------------------


class _SqliteWriter:
    """Raw sqlite3 on a connection of our own, one transaction for the whole load.

    During the load the secondary indexes of the bulk tables are dropped (and re-created from
    their stored SQL at the end, which sorts once instead of inserting into a dozen b-trees per
    row), the full-text triggers are replaced by one INSERT ... SELECT per chunk, and the
    change-counter triggers by one bump at the end. Foreign keys are not checked (the generator
    makes consistent ids; the tests run `foreign_key_check`) and nothing is synced until the
    end. A failure rolls everything back, indexes and triggers included.

    When nobody else has the file open (the usual case: a new demo database), the load runs in
    rollback-journal mode, which writes each new page once instead of into the write-ahead log
    and then again into the file (a seventh of the time at a million contacts). Programs that
    open the file meanwhile wait for the load like for any writer; WAL mode is restored at the
    end. With others connected the load stays in WAL mode and is slower.
    """

    def __init__(self, db: Database):
        self._db = db
        self._connection = sqlite3.connect(
            db.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self._indexes: list[tuple[str, str]] = []
        self._triggers: list[tuple[str, str]] = []
        self._fts_columns = ""
        self._fts_automerge = FTS_DEFAULT_AUTOMERGE
        self._left_wal_mode = False
        self._syncing: threading.Thread | None = None
        self._inserts = {
            table: f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
            for table, columns in TABLE_COLUMNS.items()
        }

    def begin(self) -> _IdBases:
        run = self._connection.execute
        run(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        run("PRAGMA foreign_keys = OFF")  # takes effect only outside a transaction
        run("PRAGMA synchronous = OFF")
        run(f"PRAGMA cache_size = -{LOAD_CACHE_KIB}")
        run("PRAGMA temp_store = MEMORY")
        run("PRAGMA threads = 2")
        self._leave_wal_mode()
        run("BEGIN IMMEDIATE")
        bases = _IdBases(*(
            run(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0] for table in BULK_TABLES
        ))
        placeholders = ", ".join("?" * len(BULK_TABLES))
        self._indexes = run(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({placeholders}) ORDER BY name",
            BULK_TABLES,
        ).fetchall()
        # Triggers we stand in for: the full-text sync and the change counter.
        self._triggers = run(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            f"AND tbl_name IN ({placeholders}, 'history') "
            "AND (name LIKE 'change!_counter!_%' ESCAPE '!' OR sql LIKE '%contacts_fts%') "
            "ORDER BY name",
            BULK_TABLES,
        ).fetchall()
        if run("SELECT 1 FROM sqlite_master WHERE name = 'contacts_fts'").fetchone():
            self._fts_columns = ", ".join(row[1] for row in run("PRAGMA table_info(contacts_fts)"))
        self._indexes = [(name, sql) for name, sql in self._indexes if name not in GROWING_INDEXES]
        for name, _sql in self._indexes:
            run(f'DROP INDEX "{name}"')
        for name, _sql in self._triggers:
            run(f'DROP TRIGGER "{name}"')
        if self._fts_columns:
            row = run("SELECT v FROM contacts_fts_config WHERE k = 'automerge'").fetchone()
            self._fts_automerge = FTS_DEFAULT_AUTOMERGE if row is None else int(row[0])
            self._set_fts_automerge(FTS_LOAD_AUTOMERGE)
        return bases

    def write(self, chunk: _Chunk) -> None:
        for table, rows in chunk.rows():
            if rows:
                self._connection.executemany(self._inserts[table], rows)
        if self._left_wal_mode:
            self._start_background_sync()
        if self._fts_columns and chunk.contacts:
            # What the insert trigger would have done, in one statement per chunk.
            columns = self._fts_columns
            self._connection.execute(
                f"INSERT INTO contacts_fts(rowid, {columns}) SELECT id, {columns} FROM contacts "
                "WHERE id BETWEEN ? AND ?",
                (chunk.contacts[0][0], chunk.contacts[-1][0]),
            )

    def finish(self, sequence_id: int | None, sequence_next: int) -> None:
        run = self._connection.execute
        if self._fts_columns:
            self._set_fts_automerge(self._fts_automerge)
        for _name, sql in self._triggers:
            run(sql)
        if any(name.startswith("change_counter_") for name, _sql in self._triggers):
            run(
                "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = ?",
                (CHANGE_COUNTER_KEY,),
            )
        for _name, sql in self._indexes:
            run(sql)
        if sequence_id is not None:
            run(
                "UPDATE number_sequences SET next_value = ?, version = version + 1 "
                "WHERE id = ? AND next_value < ?",
                (sequence_next, sequence_id, sequence_next),
            )
        run("COMMIT")
        run("PRAGMA synchronous = FULL")
        run("PRAGMA foreign_keys = ON")
        if self._left_wal_mode:
            # Make the load durable (most of it was synced in the background), then WAL again.
            self._wait_for_background_sync()
            _sync_file(self._db.path)
            self._return_to_wal_mode()
        else:
            # Copy (and sync) the data into the main file; shrink the log the load inflated.
            run("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._wait_for_background_sync()
        try:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            if self._left_wal_mode:
                self._return_to_wal_mode()
        finally:
            self._connection.close()

    def _start_background_sync(self) -> None:
        """Sync what the load wrote so far, beside the load: the final sync then has little left.

        In rollback-journal mode the pages that do not fit the cache go straight to the file,
        unsynced; syncing two gigabytes at the end alone would take as long as the index builds.
        """
        if self._syncing is None or not self._syncing.is_alive():
            self._syncing = threading.Thread(
                target=_sync_file, args=(self._db.path,), name="crm-demo-sync", daemon=True
            )
            self._syncing.start()

    def _wait_for_background_sync(self) -> None:
        if self._syncing is not None:
            self._syncing.join()
            self._syncing = None

    def _set_fts_automerge(self, value: int) -> None:
        self._connection.execute(
            "INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('automerge', ?)", (value,)
        )

    def _leave_wal_mode(self) -> None:
        """Rollback-journal mode for the load, if this is the only connection to the file."""
        # Our own pooled connections are idle: close them, they reconnect when next used.
        self._db.write_engine.dispose()
        self._db.read_engine.dispose()
        run = self._connection.execute
        run("PRAGMA busy_timeout = 0")
        try:
            mode = run("PRAGMA journal_mode = DELETE").fetchone()[0]
        except sqlite3.OperationalError:  # another connection has the file open: stay in WAL
            mode = "wal"
        finally:
            run(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._left_wal_mode = str(mode).lower() == "delete"

    def _return_to_wal_mode(self) -> None:
        # Waits (busy timeout) for a reader that came in meanwhile; should that fail, the next
        # program to open the file switches it back (see db.engine), so the data is safe either way.
        try:
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._left_wal_mode = False
        except sqlite3.OperationalError:
            log.warning(
                "demo: %s stays in rollback-journal mode until it is opened next", self._db.path
            )


def _sync_file(path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _converter(column) -> Callable[[object], object] | None:
    """From the value SQLite stores (what the generator makes) to what SQLAlchemy binds."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return lambda value: datetime.fromisoformat(value).replace(tzinfo=UTC)
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, Time):
        return time.fromisoformat
    if isinstance(kind, Numeric):
        return Decimal
    if isinstance(kind, Boolean):
        return bool
    return None


class _CoreWriter:
    """SQLAlchemy Core executemany in one transaction (PostgreSQL, or any server database).

    The tables are locked against other writers for the load (we choose the ids); readers go on.
    Triggers stay: PostgreSQL's change counter bumps once per transaction anyway.
    """

    def __init__(self, db: Database):
        self._engine = db.write_engine
        self._connection = None
        self._transaction = None
        tables = SQLModel.metadata.tables
        self._tables = {name: tables[name] for name in TABLE_COLUMNS}
        self._converters = {
            name: [(i, convert) for i, column in enumerate(columns)
                   if (convert := _converter(self._tables[name].c[column])) is not None]
            for name, columns in TABLE_COLUMNS.items()
        }

    def begin(self) -> _IdBases:
        self._connection = self._engine.connect()
        self._transaction = self._connection.begin()
        if self._engine.dialect.name == "postgresql":
            self._connection.execute(text(
                "LOCK TABLE contacts, opportunities, activities IN SHARE ROW EXCLUSIVE MODE"
            ))
        return _IdBases(*(
            self._connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
            for table in BULK_TABLES
        ))

    def write(self, chunk: _Chunk) -> None:
        for table, rows in chunk.rows():
            if not rows:
                continue
            columns = TABLE_COLUMNS[table]
            converters = self._converters[table]
            records = []
            for row in rows:
                values = list(row)
                for i, convert in converters:
                    if values[i] is not None:
                        values[i] = convert(values[i])
                records.append(dict(zip(columns, values, strict=True)))
            self._connection.execute(insert(self._tables[table]), records)

    def finish(self, sequence_id: int | None, sequence_next: int) -> None:
        connection = self._connection
        if sequence_id is not None:
            connection.execute(
                text(
                    "UPDATE number_sequences SET next_value = :value, version = version + 1 "
                    "WHERE id = :id AND next_value < :value"
                ),
                {"value": sequence_next, "id": sequence_id},
            )
        if self._engine.dialect.name == "postgresql":
            for table in BULK_TABLES:
                # Explicit ids do not move the serial sequences; later inserts would collide.
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                ))
        self._transaction.commit()

    def close(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()
        if self._connection is not None:
            self._connection.close()


# -- the entry point ---------------------------------------------------------------------------


def generate_demo(
    db: Database,
    contacts: int,
    seed: int = 1,
    acting_login: str | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Add the demo sales team and `contacts` generated contacts, with about 0.3 opportunities
    and 3 activities each, to a migrated database. Dates are relative to `clock.now()`.

    `acting_login` (whoever runs `crm demo`) becomes an admin if not a user yet, and gets a
    share of the contacts. `progress(done, total)` counts contacts written, then jumps to
    `total` when the indexes are built.
    """
    if isinstance(contacts, bool) or not isinstance(contacts, int):
        raise ValidationError("contacts", f"{contacts!r} is not a whole number")
    if contacts < 0:
        raise ValidationError("contacts", "must be 0 or more")
    if contacts > MAX_CONTACTS:
        raise ValidationError("contacts", f"at most {MAX_CONTACTS:,}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError("seed", f"{seed!r} is not a whole number")

    settings = get_settings()
    now = clock.now()
    with db.write() as session:
        setup = _prepare(session, acting_login)
    logins = tuple(person.login for person in setup.people)
    if contacts == 0:
        return DemoSummary(0, 0, 0, 0, setup.users_created, setup.teams_created, logins)

    writer = _SqliteWriter(db) if db.is_sqlite and db.path is not None else _CoreWriter(db)
    history = written = 0
    steps = contacts + int(contacts * INDEX_SHARE)
    totals: _Totals | None = None
    chunks: Generator[_Chunk | _Totals] | None = None
    try:
        arguments = _GeneratorArguments(seed, setup, now, settings, writer.begin(), contacts)
        source = _chunks_from_child if contacts >= SEPARATE_PROCESS_FROM else _chunks_here
        chunks = source(arguments)
        for item in chunks:
            if isinstance(item, _Totals):
                totals = item
                continue
            writer.write(item)
            history += len(item.history)
            written += len(item.contacts)
            if progress:
                progress(written, steps)
        if totals is None:
            raise DemoError("demo: the row generator ended early")
        writer.finish(setup.sequence_id, totals.customer_counter)
        if progress:
            progress(steps, steps)
    finally:
        if chunks is not None:
            chunks.close()  # stops the second process if the writing failed
        writer.close()
    return DemoSummary(
        contacts=contacts,
        opportunities=totals.opportunities,
        activities=totals.activities,
        history=history,
        users_created=setup.users_created,
        teams_created=setup.teams_created,
        users=logins,
    )
