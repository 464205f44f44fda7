"""Duplicate contacts: the keys they are found by, the check while a contact is typed, the
clusters over the whole database, and merging.

Every contact carries normalised keys (columns kept by `contacts.refresh_derived`, one partial
index each): its name, its company, its e-mail address and domain, its phone and mobile numbers.
A check is a handful of exact lookups on those indexes, so it costs the same on a million
contacts as on ten. Contacts of every status count: converted, archived and closed ones included
(seed 001: a rep must see that somebody else already has this customer).

- name: person "Jürgen Müller" ~ "Mueller, Juergen"; company "Müller Bau GmbH" ~ "Mueller Bau".
- company: the company a person works for, or a company's own name.
- e-mail: the address, case-insensitively.
- e-mail domain: a company's domain ("@mueller-bau.de"), never a freemail one (gmail.com, web.de).
- phone: either number, in national form ("+49 2761 12345" ~ "02761/12345").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import String, cast, func, literal, union_all, update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.models import (
    Activity,
    Attachment,
    Contact,
    ContactGroup,
    GroupMember,
    HistoryEntry,
    Opportunity,
    OutboxMail,
    Team,
    User,
)
from crm_tui.services import history
from crm_tui.services.audit import record_merge
from crm_tui.services.errors import NotFound, ValidationError
from crm_tui.services.folding import normalised_name, phone_forms
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import check_contact, lock_holder

FREEMAIL_DOMAINS = frozenset({
    # international
    "gmail.com", "googlemail.com", "outlook.com", "outlook.de", "hotmail.com", "hotmail.de",
    "live.com", "live.de", "msn.com", "yahoo.com", "yahoo.de", "yahoo.co.uk", "ymail.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "aol.de", "proton.me", "protonmail.com",
    "gmx.com", "mail.com", "zoho.com", "yandex.com", "yandex.ru", "mail.ru",
    # German-speaking
    "web.de", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "t-online.de", "freenet.de", "arcor.de",
    "posteo.de", "mailbox.org", "online.de", "email.de", "kabelmail.de", "vodafone.de",
    "bluewin.ch", "aon.at", "chello.at",
    # Polish
    "wp.pl", "o2.pl", "onet.pl", "onet.eu", "op.pl", "interia.pl", "interia.eu", "poczta.fm",
    "gazeta.pl", "tlen.pl", "vp.pl", "go2.pl", "autograf.pl", "buziaczek.pl", "int.pl",
})
"""Mail providers whose domain says nothing about the company behind an address."""

MIN_PHONE_DIGITS = 6
"""Shorter numbers (extensions, "112") would match far too much."""
PER_REASON = 50
"""At most this many candidates per lookup: the form shows the best few anyway."""
REASONS = ("email", "phone", "name", "company", "email_domain")
"""Why two contacts look alike, strongest first."""
_WEIGHT = {"email": 16, "phone": 8, "name": 4, "company": 2, "email_domain": 1}
CLUSTER_REASONS = ("email", "phone", "name")
"""Keys that make a cluster in the database-wide report (a shared company or domain is normal)."""


# -- the keys ----------------------------------------------------------------------------------


def _collapse_umlauts(word: str) -> str:
    # "mueller" and "muller" (both folded from "Müller", or typed so) must meet.
    return word.replace("ae", "a").replace("oe", "o").replace("ue", "u")


@lru_cache(maxsize=1 << 16)
def name_words_key(text: str) -> str:
    """Folded, sorted words without legal forms; umlaut spellings collapsed."""
    words = sorted({_collapse_umlauts(w) for w in normalised_name(text or "").split()})
    return " ".join(words)[:200]


def name_key(kind: str, name: str, first_name: str = "") -> str:
    """A person by first and last name together, a company by its name."""
    if (kind or "person") == "company":
        return name_words_key(name)
    return name_words_key(f"{first_name or ''} {name or ''}")


def company_key(kind: str, name: str, company: str = "") -> str:
    if (company or "").strip():
        return name_words_key(company)
    return name_words_key(name) if (kind or "person") == "company" else ""


def email_key(email: str) -> str:
    text = (email or "").strip().lower()
    return text[:254] if "@" in text else ""


def email_domain(email: str) -> str:
    address = email_key(email)
    domain = address.rpartition("@")[2]
    return domain if "." in domain else ""


_FREEMAIL_PROVIDERS = frozenset(d.split(".")[0] for d in FREEMAIL_DOMAINS)


def is_freemail(domain: str) -> bool:
    """A free-mail domain: a shared domain says nothing about the company behind an address.

    The reserved `.example` top-level domain (demo data, documentation) counts by provider name,
    so that `gmx.example` is as free as `gmx.de`.
    """
    lowered = domain.lower()
    if lowered in FREEMAIL_DOMAINS:
        return True
    provider, _, tld = lowered.partition(".")
    return tld == "example" and provider in _FREEMAIL_PROVIDERS


def phone_key(phone: str) -> str:
    """Digits in national form, so that "+49 (0)2761 12345" and "02761 12345" are one key."""
    return _phone_key_of(phone_forms(phone or ""))


def _phone_key_of(forms: Sequence[str]) -> str:
    if not forms:
        return ""
    key = forms[-1]
    return key[:50] if len(key) >= MIN_PHONE_DIGITS else ""


def duplicate_keys(
    values: Mapping[str, object], *, phone_numbers: tuple[Sequence[str], Sequence[str]] | None = None
) -> dict[str, str]:
    """The duplicate-check columns for a contact's field values (missing fields count as empty).

    `phone_numbers`: the `phone_forms` of the phone and the mobile number, when the caller has
    them already (`contacts.derived_values`)."""

    def get(name: str) -> str:
        value = values.get(name)
        return "" if value is None else str(value)

    kind = get("kind") or "person"
    email = get("email")
    if phone_numbers is None:
        phone_numbers = (phone_forms(get("phone")), phone_forms(get("mobile")))
    return {
        "name_key": name_key(kind, get("name"), get("first_name")),
        "company_key": company_key(kind, get("name"), get("company")),
        "email_key": email_key(email),
        "email_domain": email_domain(email),
        "phone_key": _phone_key_of(phone_numbers[0]),
        "mobile_key": _phone_key_of(phone_numbers[1]),
    }


# -- the check while typing --------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing contact that looks like the one being entered, and why."""

    id: int
    kind: str
    name: str
    first_name: str
    company: str
    status: str
    city: str
    email: str
    phone: str
    assigned_to: str | None
    locked_by: str | None
    """Login of the rep a prospect is locked to right now, if any."""
    locked_until: datetime | None
    reasons: tuple[str, ...]
    """Some of `REASONS`, strongest first."""

    @property
    def display_name(self) -> str:
        return f"{self.name}, {self.first_name}" if self.first_name else self.name

    @property
    def why(self) -> str:
        words = {"email": "same e-mail", "phone": "same phone", "name": "same name",
                 "company": "same company", "email_domain": "same e-mail domain"}
        return ", ".join(words[r] for r in self.reasons)

    @property
    def score(self) -> int:
        return sum(_WEIGHT[r] for r in self.reasons)


def _lookups(keys: Mapping[str, str], kind: str) -> list[tuple[str, list]]:
    """(reason, conditions) pairs: each an equality on one indexed key column."""

    def on(column, value) -> list:
        # `<> ''` too: the partial indexes (`WHERE key <> ''`) serve only queries that say so.
        return [col(column) == value, col(column) != ""]

    found: list[tuple[str, list]] = []
    if keys["email_key"]:
        found.append(("email", on(Contact.email_key, keys["email_key"])))
    for number in dict.fromkeys(k for k in (keys["phone_key"], keys["mobile_key"]) if k):
        found.append(("phone", on(Contact.phone_key, number)))
        found.append(("phone", on(Contact.mobile_key, number)))
    if keys["name_key"]:
        found.append(("name", on(Contact.name_key, keys["name_key"])))
    if keys["company_key"]:
        found.append(("company", on(Contact.company_key, keys["company_key"])))
    domain = keys["email_domain"]
    if domain and not is_freemail(domain):
        conditions = on(Contact.email_domain, domain)
        if kind != "company":
            # A person's colleagues share the domain; only their company's own record counts.
            conditions.append(col(Contact.kind) == "company")
        found.append(("email_domain", conditions))
    return found


def find_duplicates(
    session: Session,
    values: Mapping[str, object],
    *,
    exclude_id: int | None = None,
    limit: int = 20,
) -> list[DuplicateMatch]:
    """Existing contacts (any status) that match `values` (form fields, as typed: nothing is
    validated here, an unfinished address or number simply finds nothing), best first."""
    keys = duplicate_keys(values)
    kind = str(values.get("kind") or "person")
    reasons: dict[int, set[str]] = {}
    for reason, conditions in _lookups(keys, kind):
        statement = select(Contact.id).where(*conditions)
        if exclude_id is not None:
            statement = statement.where(col(Contact.id) != exclude_id)
        for contact_id in session.exec(statement.limit(PER_REASON)).all():
            reasons.setdefault(contact_id, set()).add(reason)
    matches = _matches(session, reasons)
    matches.sort(key=lambda m: (-m.score, m.name.lower(), m.first_name.lower(), m.id))
    return matches[: max(limit, 0)]


def _names(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    """Logins by user id and team names by id (small tables, read once per check)."""
    return dict(session.exec(select(User.id, User.login)).all()), dict(session.exec(select(Team.id, Team.name)).all())


def _matches(
    session: Session, reasons: Mapping[int, Iterable[str]], names: tuple[dict, dict] | None = None
) -> list[DuplicateMatch]:
    if not reasons:
        return []
    logins, teams = names or _names(session)
    out = []
    ids = sorted(reasons)
    for start in range(0, len(ids), 500):
        for contact in session.exec(select(Contact).where(col(Contact.id).in_(ids[start:start + 500]))).all():
            holder = lock_holder(contact)
            assigned = logins.get(contact.assigned_user_id) if contact.assigned_user_id else None
            if assigned is None and contact.assigned_team_id:
                assigned = f"team:{teams.get(contact.assigned_team_id, '?')}"
            out.append(DuplicateMatch(
                id=contact.id, kind=contact.kind, name=contact.name, first_name=contact.first_name,
                company=contact.company, status=contact.status, city=contact.city,
                email=contact.email, phone=contact.phone or contact.mobile, assigned_to=assigned,
                locked_by=logins.get(holder) if holder else None,
                locked_until=contact.locked_until if holder else None,
                reasons=tuple(r for r in REASONS if r in reasons[contact.id]),
            ))
    return out


# -- clusters over the whole database ----------------------------------------------------------


@dataclass(frozen=True)
class DuplicateCluster:
    """Contacts that share a key: likely one customer entered more than once."""

    reasons: tuple[str, ...]
    key: str
    """The shared key of the first reason (an address, a number, the normalised name)."""
    size: int
    contacts: tuple[DuplicateMatch, ...]
    """The members (at most `members` of them; `size` counts all)."""

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(c.id for c in self.contacts)


def duplicate_clusters(
    session: Session,
    *,
    reasons: Sequence[str] = CLUSTER_REASONS,
    limit: int = 100,
    members: int = 20,
) -> list[DuplicateCluster]:
    """Groups of contacts sharing an e-mail address, a phone number or a name, biggest first.

    One GROUP BY per key over its index; clusters with the same members found by several keys
    are reported once, with every reason.
    """
    unknown = set(reasons) - set(CLUSTER_REASONS)
    if unknown:
        raise ValidationError("reason", f"{sorted(unknown)[0]!r} is not one of {', '.join(CLUSTER_REASONS)}")
    found: list[tuple[str, str, int]] = []
    for reason in reasons:
        found.extend((reason, key, count) for key, count in session.exec(_grouped(reason, limit)).all())
    clusters: dict[frozenset[int], tuple[list[str], str, int, list[int]]] = {}
    for reason, key, size in found:
        ids = _members_of(session, reason, key)
        slot = frozenset(ids)
        if slot in clusters:
            clusters[slot][0].append(reason)
        else:
            clusters[slot] = ([reason], key, size, ids)
    out = []
    names = _names(session)
    for reason_list, key, size, ids in clusters.values():
        shown = ids[: max(members, 1)]
        matches = {m.id: m for m in _matches(session, {i: reason_list for i in shown}, names)}
        out.append(DuplicateCluster(
            reasons=tuple(r for r in REASONS if r in reason_list), key=key, size=size,
            contacts=tuple(matches[i] for i in shown if i in matches),
        ))
    out.sort(key=lambda c: (-c.size, c.reasons[0], c.key))
    return out[: max(limit, 0)]


def _grouped(reason: str, limit: int):
    """The keys shared by more than one contact, with their counts, biggest first. A single key
    is grouped over its own partial index (read in key order, never sorted whole); phone numbers
    are two columns."""
    if reason == "phone":
        numbers = union_all(
            select(Contact.id, col(Contact.phone_key).label("key")).where(col(Contact.phone_key) != ""),
            select(Contact.id, col(Contact.mobile_key).label("key")).where(col(Contact.mobile_key) != ""),
        ).subquery()
        key, size = numbers.c.key, func.count(func.distinct(numbers.c.id))
        statement = select(key, size)
    else:
        key = col({"email": Contact.email_key, "name": Contact.name_key}[reason])
        size = func.count()
        statement = select(key, size).where(key != "")
    return (
        statement.group_by(key).having(size > 1).order_by(size.desc(), key).limit(max(limit, 0))
    )


def _members_of(session: Session, reason: str, key: str) -> list[int]:
    if reason == "phone":
        ids = set(session.exec(select(Contact.id).where(col(Contact.phone_key) == key)).all())
        ids |= set(session.exec(select(Contact.id).where(col(Contact.mobile_key) == key)).all())
        return sorted(ids)
    column = {"email": Contact.email_key, "name": Contact.name_key}[reason]
    return list(session.exec(select(Contact.id).where(col(column) == key).order_by(Contact.id)).all())


# -- merging -----------------------------------------------------------------------------------

MERGE_FILL_FIELDS = (
    "first_name", "company", "email", "phone", "mobile", "street", "postal_code", "city", "region",
    "country", "source", "description", "expected_revenue", "contacted_on", "customer_number",
)
"""Fields the survivor takes from a merged contact when its own are empty."""


@dataclass(frozen=True)
class MergeResult:
    survivor_id: int
    merged_ids: tuple[int, ...]
    moved: dict[str, int] = field(default_factory=dict)
    """Rows moved to the survivor, by kind: opportunities, activities, history, attachments, groups."""
    filled: tuple[str, ...] = ()
    """Survivor fields that were empty and were taken from a merged contact."""


def merge_contacts(
    session: Session,
    actor: Actor,
    survivor_id: int,
    other_ids: Iterable[int],
    *,
    fill_empty: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> MergeResult:
    """Keep `survivor_id`; move the others' opportunities, activities, history, attachments,
    group memberships (and outbox references) to it; delete the others.

    The survivor keeps its own values; with `fill_empty` its empty fields are filled from the
    others (in the order given). History records each merge on the survivor.
    """
    from crm_tui.services.activities import touch_many
    from crm_tui.services.contacts import refresh_derived

    others = list(dict.fromkeys(int(i) for i in other_ids))
    if not others:
        raise ValidationError("other_ids", "name at least one contact to merge into the survivor")
    if survivor_id in others:
        raise ValidationError("other_ids", f"contact {survivor_id} cannot be merged into itself")
    survivor = session.get(Contact, survivor_id)
    if survivor is None:
        raise NotFound("contact", survivor_id)
    check_contact(session, actor, survivor, "edit")
    merged: list[Contact] = []
    for other_id in others:
        other = session.get(Contact, other_id)
        if other is None:
            raise NotFound("contact", other_id)
        check_contact(session, actor, other, "delete")
        merged.append(other)

    total = len(merged) + 1
    filled: dict[str, object] = {}
    if fill_empty:
        for name in MERGE_FILL_FIELDS:
            if _empty(getattr(survivor, name)):
                for other in merged:
                    if not _empty(getattr(other, name)):
                        filled[name] = getattr(other, name)
                        break

    moved = {"opportunities": 0, "activities": 0, "history": 0, "attachments": 0, "groups": 0}
    touched_opportunities: set[int] = set()
    for done, other in enumerate(merged, start=1):
        touched_opportunities |= set(session.exec(
            select(Opportunity.id).where(col(Opportunity.contact_id) == other.id)
        ).all())
        for key, model in (("opportunities", Opportunity), ("activities", Activity),
                           ("history", HistoryEntry), ("attachments", Attachment)):
            result = session.exec(
                update(model.__table__)
                .where(model.__table__.c.contact_id == other.id)
                .values(contact_id=survivor.id)
            )
            moved[key] += result.rowcount or 0
        session.exec(
            update(OutboxMail.__table__)
            .where(OutboxMail.__table__.c.contact_id == other.id)
            .values(contact_id=survivor.id)
        )
        moved["groups"] += _move_memberships(session, other.id, survivor.id)
        record_merge(session, actor, survivor, [(other.id, _display(other))])
        if progress:
            progress(done, total)

    for other in merged:
        session.delete(other)
    session.flush()  # the merged rows (and their customer numbers) are gone before we copy any
    if filled:
        changes = {}
        for name, value in filled.items():
            changes[name] = (getattr(survivor, name), value)
            setattr(survivor, name, value)
        refresh_derived(survivor)
        survivor.updated_at = clock.now()
        session.add(survivor)
        session.flush()
        history.record_changes(session, actor, changes, contact_id=survivor.id, subject=_subject(survivor))
    touch_many(session, [survivor.id], touched_opportunities)
    session.expire(survivor)
    if progress:
        progress(total, total)
    return MergeResult(survivor.id, tuple(o.id for o in merged), moved, tuple(filled))


def _move_memberships(session: Session, from_id: int, to_id: int) -> int:
    groups = set(session.exec(select(GroupMember.group_id).where(col(GroupMember.contact_id) == from_id)).all())
    have = set(session.exec(select(GroupMember.group_id).where(col(GroupMember.contact_id) == to_id)).all())
    new = sorted(groups - have)
    if new:
        known = set(session.exec(select(ContactGroup.id).where(col(ContactGroup.id).in_(new))).all())
        session.add_all(GroupMember(group_id=g, contact_id=to_id) for g in new if g in known)
        session.flush()
    return len(new)


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _display(contact: Contact) -> str:
    return f"{contact.name}, {contact.first_name}" if contact.first_name else contact.name


def _subject(contact: Contact) -> str:
    return f"contact {contact.id} {_display(contact)}"


def subject_expression(table=None):
    """SQL for `contact ID NAME[, FIRST]`, the subject of contact history rows (bulk inserts)."""
    from sqlalchemy import case

    t = (table if table is not None else Contact.__table__).c
    display = case((t.first_name != "", t.name + literal(", ") + t.first_name), else_=t.name)
    return func.substr(literal("contact ") + cast(t.id, String) + literal(" ") + display, 1, 300)
