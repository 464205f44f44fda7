"""Contacts: create, edit, look up and list, with their validation and history.

Values come in as a dict of domain field names (the same names as the CLI options, the form
fields and the JSON keys) and go out as plain dataclasses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import CONTACT_KINDS, CONTACT_STATUSES, Contact, Team, User
from crm_tui.services import history, validation, windows
from crm_tui.services.dates import add_months, parse_optional_date
from crm_tui.services.duplicates import duplicate_keys
from crm_tui.services.errors import ConflictError, FieldConflict, NotFound, ValidationError
from crm_tui.services.folding import expanded_words, fold_words, phone_forms
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import check_contact_edit, lock_holder
from crm_tui.services.query import Filter
from crm_tui.services.rows import ContactRow, assigned_label
from crm_tui.services.search import contact_conditions
from crm_tui.services.states import state_of_due

EDITABLE_FIELDS = (
    "kind", "name", "first_name", "company", "email", "phone", "mobile", "street", "postal_code",
    "city", "region", "country", "source", "description", "expected_revenue", "currency",
    "contacted_on", "status", "customer_number", "assigned_to",
)
SORTS = {
    "name": (Contact.name,),
    "company": (Contact.company,),
    "city": (Contact.city,),
    "status": (Contact.status, Contact.name),
    "created": (Contact.created_at,),
    "number": (Contact.customer_number,),
    "due": (Contact.next_activity_due,),
}
NULLABLE_SORTS = frozenset({"number", "due"})
"""Sorts whose column may be NULL (SQLite lists those rows first ascending, last descending)."""
_TEXT_LIMITS = {
    "name": 200, "first_name": 100, "company": 200, "street": 200, "city": 100, "region": 100,
    "country": 100, "source": 100, "customer_number": 50,
}


@dataclass(frozen=True)
class ContactDetail:
    id: int
    kind: str
    name: str
    first_name: str
    company: str
    email: str
    phone: str
    mobile: str
    street: str
    postal_code: str
    city: str
    region: str
    country: str
    source: str
    description: str
    expected_revenue: Decimal | None
    currency: str
    contacted_on: date | None
    status: str
    customer_number: str | None
    assigned_to: str | None
    assigned_user: str | None
    assigned_team: str | None
    state: str
    next_activity_due: date | None
    locked_by: str | None
    locked_until: datetime | None
    lost_reason: str | None
    close_note: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def display_name(self) -> str:
        return f"{self.name}, {self.first_name}" if self.first_name else self.name

    def form_values(self) -> dict[str, object]:
        """The editable fields, as a form or `edit` starts from."""
        return {name: getattr(self, name) for name in EDITABLE_FIELDS}


# -- reading ---------------------------------------------------------------------------------

_Assignee = aliased(User)
_Team = aliased(Team)


_assigned_label = assigned_label


def list_contacts(
    session: Session,
    actor: Actor,
    filt: Filter | None = None,
    *,
    sort: str = "name",
    descending: bool = False,
    offset: int = 0,
    limit: int = 60,
) -> list[ContactRow]:
    """One window of the filtered, sorted list (never the whole table).

    The window's ids come from the sort index alone (`windows.window_ids`: a keyset seek for a
    deep offset), then its rows are read by id: rows skipped over are never read.
    """
    filt = filt or Filter()
    if sort not in SORTS:
        raise ValidationError("sort", f"{sort!r} is not one of {', '.join(SORTS)}")
    spec = windows.SortSpec(
        (*SORTS[sort], Contact.id), descending, nullable=sort in NULLABLE_SORTS
    )
    list_key = ("contacts", repr(filt), actor.id, actor.team_ids, actor.today(), sort, descending)
    ids = windows.window_ids(
        session, Contact, contact_conditions(session, actor, filt, sort=sort), spec, offset, limit,
        list_key,
    )
    if not ids:
        return []
    statement = (
        select(
            Contact.id, Contact.kind, Contact.name, Contact.first_name, Contact.company,
            Contact.status, Contact.city, Contact.phone, Contact.email, _Assignee.login,
            _Team.name, Contact.next_activity_due, Contact.customer_number,
        )
        .outerjoin(_Assignee, col(_Assignee.id) == col(Contact.assigned_user_id))
        .outerjoin(_Team, col(_Team.id) == col(Contact.assigned_team_id))
        .where(col(Contact.id).in_(ids))
    )
    today = actor.today()
    rows = {r[0]: r for r in session.exec(statement).all()}
    return [
        ContactRow(
            id=r[0], kind=r[1], name=r[2], first_name=r[3], company=r[4], status=r[5], city=r[6],
            phone=r[7], email=r[8], assigned_to=_assigned_label(r[9], r[10]),
            state=state_of_due(r[11], today).value, customer_number=r[12],
        )
        for r in (rows[i] for i in ids if i in rows)
    ]


def count_contacts(session: Session, actor: Actor, filt: Filter | None = None) -> int:
    statement = select(func.count()).select_from(Contact).where(
        *contact_conditions(session, actor, filt or Filter())
    )
    return session.exec(statement).one()


def _login(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.exec(select(User.login).where(User.id == user_id)).first()


def _team_name(session: Session, team_id: int | None) -> str | None:
    if team_id is None:
        return None
    return session.exec(select(Team.name).where(Team.id == team_id)).first()


def load_contact(session: Session, contact_id: int, *, for_update: bool = False) -> Contact:
    """`for_update`: lock the row (PostgreSQL) so a version check and the UPDATE see the same
    row; without it two saves of one version both pass the check and the second fails late."""
    contact = session.get(Contact, contact_id, with_for_update=for_update or None,
                          populate_existing=for_update)
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


def get_contact(session: Session, actor: Actor, contact_id: int) -> ContactDetail:
    return detail_of(session, actor, load_contact(session, contact_id))


def detail_of(session: Session, actor: Actor, contact: Contact) -> ContactDetail:
    from crm_tui.models import LostReason

    login = _login(session, contact.assigned_user_id)
    team = _team_name(session, contact.assigned_team_id)
    holder = lock_holder(contact)
    reason = session.get(LostReason, contact.lost_reason_id) if contact.lost_reason_id else None
    return ContactDetail(
        id=contact.id, kind=contact.kind, name=contact.name, first_name=contact.first_name,
        company=contact.company, email=contact.email, phone=contact.phone, mobile=contact.mobile,
        street=contact.street, postal_code=contact.postal_code, city=contact.city,
        region=contact.region, country=contact.country, source=contact.source,
        description=contact.description, expected_revenue=contact.expected_revenue,
        currency=contact.currency, contacted_on=contact.contacted_on, status=contact.status,
        customer_number=contact.customer_number, assigned_to=_assigned_label(login, team),
        assigned_user=login, assigned_team=team,
        state=state_of_due(contact.next_activity_due, actor.today()).value,
        next_activity_due=contact.next_activity_due,
        locked_by=_login(session, holder) if holder else None,
        locked_until=contact.locked_until if holder else None,
        lost_reason=reason.name if reason else None, close_note=contact.close_note,
        created_by=_login(session, contact.created_by_id), created_at=contact.created_at,
        updated_at=contact.updated_at, version=contact.version or 1,
    )


# -- validating ------------------------------------------------------------------------------


def resolve_assignee(session: Session, value: object) -> tuple[int | None, int | None]:
    """`login`, `team:NAME` or empty/`everybody` -> (user id, team id)."""
    text = ("" if value is None else str(value)).strip()
    if not text or text.lower() in ("everybody", "all", "none", "-"):
        return None, None
    if text.lower().startswith("team:"):
        name = text[5:].strip()
        team_id = session.exec(select(Team.id).where(col(Team.name).ilike(name))).first()
        if team_id is None:
            raise ValidationError("assigned_to", f"no team named {name!r}")
        return None, team_id
    user = session.exec(select(User).where(User.login == text)).first()
    if user is None:
        team_id = session.exec(select(Team.id).where(col(Team.name).ilike(text))).first()
        if team_id is not None:
            return None, team_id
        raise ValidationError("assigned_to", f"no user with login {text!r} (or team; write team:NAME)")
    if not user.active:
        raise ValidationError("assigned_to", f"user {text!r} is deactivated")
    return user.id, None


def clean_values(
    session: Session,
    actor: Actor,
    raw: Mapping[str, object],
    settings: Settings,
    *,
    assignees: AssigneeCache | None = None,
) -> dict[str, object]:
    """Validate the given fields (only those present) into column values.

    `assignees` caches resolved `assigned_to` values across many calls (an import): see
    `resolve_assignees`.
    """
    unknown = raw.keys() - _EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(name, "is not a contact field")
    out: dict[str, object] = {}
    for name, value in raw.items():
        limit = _TEXT_LIMITS.get(name)
        if limit is not None:
            out[name] = validation.clean_text(value, name, limit, required=name == "name")
        elif name == "assigned_to":
            out["assigned_user_id"], out["assigned_team_id"] = _assignee(session, value, assignees)
        else:
            out[name] = _CLEANERS[name](value, name, actor, settings)
    if "customer_number" in out and out["customer_number"] == "":
        out["customer_number"] = None
    return out


_Cleaner = Callable[[object, str, Actor, Settings], object]
"""(value, field, actor, settings) -> the column value, or ValidationError."""


def _text_cleaner(max_length: int, required: bool = False) -> _Cleaner:
    def clean(value: object, name: str, _actor: Actor, _settings: Settings) -> str:
        return validation.clean_text(value, name, max_length, required)

    return clean


def _clean_contacted_on(value: object, name: str, actor: Actor, _settings: Settings) -> date | None:
    if isinstance(value, date):
        return value
    return parse_optional_date(_str(value), actor.today(), name)


_CLEANERS: dict[str, _Cleaner] = {
    "description": _text_cleaner(20_000),
    "kind": lambda value, name, _actor, _settings: validation.choice(
        str(value or "person"), CONTACT_KINDS, name),
    "status": lambda value, name, _actor, _settings: validation.choice(
        str(value or ""), CONTACT_STATUSES, name),
    "email": lambda value, _name, _actor, _settings: validation.email(_str(value)),
    "phone": lambda value, name, _actor, _settings: validation.phone(_str(value), name),
    "mobile": lambda value, name, _actor, _settings: validation.phone(_str(value), name),
    "postal_code": lambda value, _name, _actor, _settings: validation.postal_code(_str(value)),
    "expected_revenue": lambda value, name, _actor, _settings: validation.parse_money(value, name),
    "currency": lambda value, _name, _actor, settings: validation.currency(
        _str(value), settings.general.currency),
    "contacted_on": _clean_contacted_on,
}
"""The validator of each editable field but the short texts (`_TEXT_LIMITS`) and `assigned_to`
(which sets two columns): a dict lookup instead of a chain of comparisons, for imports that
clean a million fields."""
_EDITABLE = frozenset(EDITABLE_FIELDS)

AssigneeCache = dict[str, "tuple[int | None, int | None] | ValidationError"]
"""`assigned_to` text (stripped) -> (user id, team id), or the refusal to repeat for it."""


def resolve_assignees(
    session: Session, values: Iterable[object], cache: AssigneeCache | None = None
) -> AssigneeCache:
    """Resolve each distinct `assigned_to` value once (refusals kept too): with the cache this
    returns, `clean_values` never reads the database for an assignee."""
    cache = {} if cache is None else cache
    for value in values:
        key = _str(value).strip()
        if key not in cache:
            cache[key] = _resolved_or_refused(session, value)
    return cache


def _resolved_or_refused(
    session: Session, value: object
) -> tuple[int | None, int | None] | ValidationError:
    try:
        return resolve_assignee(session, value)
    except ValidationError as refusal:
        return refusal


def _assignee(
    session: Session, value: object, cache: AssigneeCache | None
) -> tuple[int | None, int | None]:
    if cache is None:
        return resolve_assignee(session, value)
    key = _str(value).strip()
    found = cache.get(key)
    if found is None:
        found = cache[key] = _resolved_or_refused(session, value)
    if isinstance(found, ValidationError):
        raise ValidationError(found.field, found.message)
    return found


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _check_required(contact: Contact, settings: Settings) -> None:
    _check_required_values({f: getattr(contact, f, None) for f in _REQUIRED_SOURCES}, settings)


_REQUIRED_SOURCES = (*EDITABLE_FIELDS, "assigned_user_id", "assigned_team_id")


def _check_required_values(row: Mapping[str, object], settings: Settings,
                           status: str | None = None) -> None:
    """The required fields of `status` (default: the row's own) are filled in `row`."""
    status = status or str(row.get("status"))
    # Seed 001 lists "assignee" as required for a prospect; "everybody" is a valid assignment,
    # so it only fails when the field was configured and nobody at all is meant.
    required = tuple(f for f in settings.required.for_status(status) if f != "assigned_to")
    # Only editable fields count as filled: a configured name of anything else never is.
    values = {f: row.get(f) if f in _EDITABLE else None for f in required}
    validation.require_fields(values, required, status)


def _check_customer_number(session: Session, number: str | None, own_id: int | None) -> None:
    if not number:
        return
    clash = session.exec(
        select(Contact.id).where(Contact.customer_number == number, Contact.id != (own_id or -1))
    ).first()
    if clash is not None:
        raise ValidationError("customer_number", f"{number!r} already belongs to contact {clash}")


DERIVED_SOURCES = (
    "kind", "name", "first_name", "company", "city", "email", "customer_number", "phone", "mobile",
)
"""The fields the derived columns are computed from."""


def derived_values(row: Mapping[str, object]) -> dict[str, str]:
    """The denormalised columns for a contact's fields: the search key, the phone digits and
    the duplicate-check keys. Every write of a contact (form, import, merge, demo) stores these."""

    def get(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value)

    # Each number's forms (its digits, and the national form of an international one) feed the
    # search key, the phone digits and the duplicate keys: worked out once.
    numbers = (phone_forms(get("phone")), phone_forms(get("mobile")))
    return {
        "search_key": _search_key(
            (get("name"), get("first_name"), get("company"), get("city"), get("email"),
             get("customer_number")), numbers,
        ),
        "phone_digits": " ".join(forms[0] for forms in numbers if forms),
        **duplicate_keys(row, phone_numbers=numbers),
    }


_ASCII_WORD = re.compile(r"[0-9a-z]+")


@lru_cache(maxsize=1 << 16)
def _part_words(part: str) -> tuple[str, ...]:
    if part.isascii():
        # Folding changes nothing in ASCII but the case: skip the per-character work.
        return tuple(_ASCII_WORD.findall(part.lower()))
    return tuple(dict.fromkeys([*fold_words(part), *expanded_words(part)]))


def fast_search_key(parts: tuple[str, ...], phones: tuple[str, ...]) -> str:
    """`folding.search_key(*parts, phones=phones)`, exactly (a test holds them equal), with the
    folding of repeated values (cities, first names, sources) cached: imports fold 100,000 rows."""
    return _search_key(parts, tuple(phone_forms(phone or "") for phone in phones))


def _search_key(parts: tuple[str, ...], numbers: tuple[list[str], ...]) -> str:
    """`fast_search_key` with each phone number given as its `phone_forms`."""
    seen: dict[str, None] = {}
    for part in parts:
        if part:
            for word in _part_words(part):
                seen.setdefault(word, None)
    for forms in numbers:
        for number in forms:
            seen.setdefault(number, None)
    return " ".join(seen)


def refresh_derived(contact: Contact) -> None:
    """Keep the denormalised search and duplicate-check columns in step with the fields."""
    for name, value in derived_values({f: getattr(contact, f) for f in DERIVED_SOURCES}).items():
        setattr(contact, name, value)


# -- writing ---------------------------------------------------------------------------------


def create_contact(
    session: Session,
    actor: Actor,
    values: Mapping[str, object],
    *,
    settings: Settings | None = None,
    auto_plan: bool | None = None,
) -> Contact:
    """Validate and insert a contact; a new prospect is locked to its creator."""
    settings = settings or get_settings()
    contact = Contact(**contact_values(session, actor, values, settings=settings))
    session.add(contact)
    session.flush()
    history.record(session, actor, "create", contact_id=contact.id, subject=_subject(contact),
                   new=contact.status)
    if contact.locked_by_id:
        history.record(session, actor, "lock", contact_id=contact.id, subject=_subject(contact),
                       new=contact.locked_until)
    if auto_plan if auto_plan is not None else settings.general.auto_plan:
        from crm_tui.services.activities import auto_plan_for_new_contact

        auto_plan_for_new_contact(session, actor, contact, settings)
    return contact


def contact_values(
    session: Session,
    actor: Actor,
    values: Mapping[str, object],
    *,
    settings: Settings,
    check_unique: bool = True,
    now: datetime | None = None,
    assignees: AssigneeCache | None = None,
) -> dict[str, object]:
    """The column values `create_contact` inserts for `values`, validated (nothing written).

    Imports call this for every row; they check customer numbers for the whole file at once
    (`check_unique=False`) and share an assignee cache.
    """
    raw = dict(values)
    raw.setdefault("status", "prospect")
    raw.setdefault("kind", "person")
    if "name" not in raw:
        raise ValidationError("name", "is required")
    cleaned = clean_values(session, actor, raw, settings, assignees=assignees)
    now = now or clock.now()
    row: dict[str, object] = {
        "created_by_id": actor.id, "created_at": now, "updated_at": now,
        "currency": settings.general.currency,
    }
    row.update(cleaned)
    _check_required_values(row, settings)
    if check_unique:
        _check_customer_number(session, row.get("customer_number"), None)
    if row["status"] == "prospect" and settings.general.lock_months > 0:
        row["locked_by_id"] = actor.id
        row["locked_until"] = _add_months_dt(now, settings.general.lock_months)
    row.update(derived_values(row))
    return row


def _add_months_dt(moment: datetime, months: int) -> datetime:
    day = add_months(moment.date(), months)
    return moment.replace(year=day.year, month=day.month, day=day.day)


def _subject(contact: Contact) -> str:
    name = f"{contact.name}, {contact.first_name}" if contact.first_name else contact.name
    return f"contact {contact.id} {name}"


def update_contact(
    session: Session,
    actor: Actor,
    contact_id: int,
    values: Mapping[str, object],
    *,
    expected_version: int | None = None,
    base: Mapping[str, object] | None = None,
    settings: Settings | None = None,
) -> Contact:
    """Apply changed fields. `expected_version` is the version the form loaded: if somebody
    saved since, a ConflictError lists each field with the loaded, mine and their values."""
    settings = settings or get_settings()
    contact = load_contact(session, contact_id, for_update=True)
    check_contact_edit(actor, contact, lock_owner_login=_login(session, lock_holder(contact)) or "")
    if "status" in values and values["status"] != contact.status:
        raise ValidationError("status", "change the status with convert, close, archive or restore")
    cleaned = clean_values(session, actor, values, settings)
    if expected_version is not None and (contact.version or 1) != expected_version:
        raise _conflict(session, actor, contact, cleaned, base or {}, values)
    changes: dict[str, tuple[object, object]] = {}
    for name, value in cleaned.items():
        old = getattr(contact, name)
        if old != value:
            changes[name] = (old, value)
            setattr(contact, name, value)
    if not changes:
        return contact
    _check_required(contact, settings)
    if "customer_number" in changes:
        _check_customer_number(session, contact.customer_number, contact.id)
    refresh_derived(contact)
    contact.updated_at = clock.now()
    session.add(contact)
    session.flush()
    labelled = {_field_label(k): _labels(session, k, v) for k, v in changes.items()}
    history.record_changes(session, actor, labelled, contact_id=contact.id, subject=_subject(contact))
    return contact


def _field_label(column: str) -> str:
    return {"assigned_user_id": "assigned_to", "assigned_team_id": "assigned_team"}.get(column, column)


def _labels(session: Session, column: str, pair: tuple[object, object]) -> tuple[object, object]:
    if column == "assigned_user_id":
        return tuple(_login(session, v) for v in pair)
    if column == "assigned_team_id":
        return tuple(_team_name(session, v) for v in pair)
    return pair


def _conflict(session, actor, contact, cleaned, base, raw) -> ConflictError:
    theirs = detail_of(session, actor, contact).form_values()
    conflicts = []
    for name, mine in raw.items():
        loaded = base.get(name, theirs.get(name))
        their_value = theirs.get(name)
        if _same(mine, their_value):
            continue
        conflicts.append(FieldConflict(name, loaded, mine, their_value))
    return ConflictError("contact", contact.id, contact.version or 1, conflicts)


def _same(a: object, b: object) -> bool:
    norm = lambda v: "" if v is None else str(v)  # noqa: E731
    return norm(a) == norm(b)


def find_by_name(session: Session, text: str, limit: int = 10) -> list[Contact]:
    pattern = f"%{text}%"
    return list(
        session.exec(
            select(Contact)
            .where(or_(col(Contact.name).ilike(pattern), col(Contact.company).ilike(pattern)))
            .order_by(Contact.name)
            .limit(limit)
        ).all()
    )
