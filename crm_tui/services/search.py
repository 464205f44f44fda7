"""Full-text search and filter compilation for contacts.

SQLite: the FTS5 index `contacts_fts` (external content, kept by triggers) matched on the folded
key with prefix queries. PostgreSQL: `ILIKE` on the same folded key (trigram-indexed).
User input never reaches FTS syntax: it is folded to plain words first, then quoted.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    table,
    text,
    true,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from crm_tui.models import Contact, ContactGroup, GroupMember, Opportunity, Team, User
from crm_tui.services.folding import digits, fold_words, looks_like_phone, phone_forms
from crm_tui.services.identity import Actor
from crm_tui.services.query import Filter, QuerySyntaxError, Term, parse

HIDDEN_BY_DEFAULT = ("archived", "closed")
_FTS = table("contacts_fts")


def fts_query(text_: str) -> str | None:
    """An FTS5 MATCH string for what a person typed, or None when nothing searchable is left.

    Every word becomes a quoted prefix token on the folded key, so quotes, `*`, `NEAR(` or a
    lone `AND` are just letters. A phone-like input is searched as one run of digits.
    """
    tokens = search_tokens(text_)
    if not tokens:
        return None
    return " AND ".join(f'search_key : "{token}"*' for token in tokens)


def search_tokens(text_: str) -> list[str]:
    if looks_like_phone(text_):
        return phone_forms(text_)[-1:]
    return fold_words(text_)


MANY_HITS = 8000
"""From this many full-text hits on, a search is read in the list's order (see below)."""


def _word_condition(session: Session, words: tuple[str, ...] | list[str]) -> ColumnElement | None:
    joined = " ".join(words)
    if session.get_bind().dialect.name == "sqlite":
        match = fts_query(joined)
        if match is None:
            return None
        subquery = (
            sa_select(literal_column("rowid"))
            .select_from(_FTS)
            .where(text("contacts_fts MATCH :m").bindparams(bindparam("m", match, unique=True)))
        )
        if _many_hits(session, match):
            # "mü" matches 70,000 of a million contacts: driving the query from the hits would
            # look up and sort all of them (2-3 us each) for 60 rows. `id + 0` keeps the planner
            # from looking contacts up by the hits' ids, so it walks the sort index in order
            # (covering: index only) and tests each id against the hits, collected once per
            # statement. Fewer hits are cheaper to look up and sort than to walk for.
            return (col(Contact.id) + 0).in_(subquery)
        return col(Contact.id).in_(subquery)
    tokens = search_tokens(joined)
    if not tokens:
        return None
    return and_(*(col(Contact.search_key).ilike(f"%{token}%") for token in tokens))


_hit_sizes: dict[tuple[str, str, int], bool] = {}
"""Remembered answers of `_many_hits`: they only choose a plan (the rows are the same either
way), so an answer from before the data changed is still a good one."""


def _many_hits(session: Session, match: str) -> bool:
    """Whether the full-text query has at least MANY_HITS hits (reads at most that many)."""
    key = (str(session.get_bind().url), match, MANY_HITS)
    known = _hit_sizes.get(key)
    if known is not None:
        return known
    probe = text(
        "SELECT count(*) FROM (SELECT 1 FROM contacts_fts WHERE contacts_fts MATCH :m LIMIT :n)"
    )
    many = session.execute(probe, {"m": match, "n": MANY_HITS}).scalar_one() >= MANY_HITS
    if len(_hit_sizes) >= 1024:
        _hit_sizes.clear()
    _hit_sizes[key] = many
    return many


def _ci_equals(column, value: str) -> ColumnElement:
    """Equal but for case. `lower(column) = lower(value)`, which the `ix_contacts_*_lower`
    indexes serve (city, country, source); ILIKE could use no index."""
    return column == value if not value else func.lower(column) == func.lower(value)


def _date_condition(column, term: Term, as_datetime: bool) -> ColumnElement:
    rng = term.dates
    parts = []
    if rng.start is not None:
        start = datetime.combine(rng.start, time(), UTC) if as_datetime else rng.start
        parts.append(column >= start)
    if rng.end is not None:
        end = datetime.combine(rng.end, time(), UTC) if as_datetime else rng.end
        parts.append(column < end)
    return and_(*parts) if parts else true()


def _state_condition(value: str, actor: Actor) -> ColumnElement:
    today = actor.today()
    due = col(Contact.next_activity_due)
    conditions = {
        "overdue": due < today,
        "today": due == today,
        "planned": due > today,
        "none": due.is_(None),
    }
    return or_(*(conditions[part] for part in value.lower().split(",")))


def _user_id(session: Session, login: str, term: Term) -> int:
    user_id = session.exec(select(User.id).where(User.login == login)).first()
    if user_id is None:
        raise QuerySyntaxError(term.position, f"{term.field}: no user with login {login!r}")
    return user_id


def _team_id(session: Session, name: str, term: Term) -> int:
    team_id = session.exec(select(Team.id).where(col(Team.name).ilike(name))).first()
    if team_id is None:
        raise QuerySyntaxError(term.position, f"{term.field}: no team named {name!r}")
    return team_id


def _term_condition(
    session: Session, actor: Actor, term: Term, seen_groups: frozenset[int],
    sort: str | None = None,
) -> ColumnElement:
    value = term.value
    name = term.field
    if name == "status":
        parts = value.lower().split(",")
        if "all" in parts:
            return true()
        statuses = set()
        for part in parts:
            statuses |= {"inbox", "prospect", "customer"} if part == "open" else {part}
        in_order = sort == "status" or (sort == "name" and len(statuses) == 1)
        if sort is not None and not in_order:
            # Tested on the sort's own index (every sort index ends in the status), not looked
            # up by it: ix_contacts_status_name gives the rows of one status in name order only,
            # so the planner would read all prospects and sort them for each window of
            # "status:prospect by company" (or "status:open by name").
            return func.lower(col(Contact.status)).in_(sorted(statuses))
        return col(Contact.status).in_(sorted(statuses))
    if name == "assigned":
        lowered = value.lower()
        if lowered == "@me":
            return col(Contact.assigned_user_id) == actor.id
        if lowered in ("@team", "@myteam"):
            return col(Contact.assigned_team_id).in_(sorted(actor.team_ids) or [-1])
        if lowered in ("none", "everybody", "all", "@all"):
            return and_(col(Contact.assigned_user_id).is_(None), col(Contact.assigned_team_id).is_(None))
        return col(Contact.assigned_user_id) == _user_id(session, value, term)
    if name == "team":
        if value.lower() in ("@me", "@mine", "@my"):
            return col(Contact.assigned_team_id).in_(sorted(actor.team_ids) or [-1])
        return col(Contact.assigned_team_id) == _team_id(session, value, term)
    if name in ("city", "country", "source", "region", "company", "name", "kind"):
        column = {
            "city": Contact.city, "country": Contact.country, "source": Contact.source,
            "region": Contact.region, "company": Contact.company, "name": Contact.name,
            "kind": Contact.kind,
        }[name]
        if value.endswith("*"):
            return col(column).ilike(value[:-1].replace("%", r"\%") + "%")
        return _ci_equals(col(column), value)
    if name == "email":
        if value.startswith("@"):
            return col(Contact.email).ilike(f"%{value}")
        return col(Contact.email).ilike(value)
    if name == "phone":
        number = digits(value)
        return col(Contact.phone_digits).like(f"%{number}%") if number else false()
    if name == "postal":
        return col(Contact.postal_code).like(value.rstrip("*") + "%")
    if name == "number":
        return col(Contact.customer_number) == value
    if name == "id":
        return col(Contact.id).in_([int(v) for v in value.split(",")])
    if name == "created":
        return _date_condition(col(Contact.created_at), term, as_datetime=True)
    if name == "contacted":
        return _date_condition(col(Contact.contacted_on), term, as_datetime=False)
    if name == "state":
        return _state_condition(value, actor)
    if name == "has":
        lowered = value.lower()
        if lowered == "activity":
            return col(Contact.next_activity_due).is_not(None)
        if lowered == "opportunity":
            return exists().where(col(Opportunity.contact_id) == col(Contact.id))
        column = {"email": Contact.email, "phone": Contact.phone_digits, "number": Contact.customer_number}[lowered]
        return and_(col(column).is_not(None), col(column) != "")
    if name == "locked":
        now = _now()
        if value.lower() in ("yes", "true", "1"):
            return col(Contact.locked_until) > now
        if value.lower() == "@me":
            return and_(col(Contact.locked_by_id) == actor.id, col(Contact.locked_until) > now)
        return or_(col(Contact.locked_until).is_(None), col(Contact.locked_until) <= now)
    if name == "group":
        return _group_condition(session, actor, term, seen_groups, sort)
    raise QuerySyntaxError(term.position, f"{name}: cannot be used to filter contacts")


def _now():
    from crm_tui import clock

    return clock.now()


def _group_condition(
    session: Session, actor: Actor, term: Term, seen_groups: frozenset[int],
    sort: str | None = None,
) -> ColumnElement:
    group = session.exec(
        select(ContactGroup).where(
            or_(col(ContactGroup.name).ilike(term.value), col(ContactGroup.number) == term.value)
        )
    ).first()
    if group is None:
        raise QuerySyntaxError(term.position, f"group: no group named {term.value!r}")
    if group.kind == "static":
        # IN (the members) rather than a correlated EXISTS: a count walks the group's members
        # (its primary key) instead of testing every contact.
        return col(Contact.id).in_(
            select(GroupMember.contact_id).where(col(GroupMember.group_id) == group.id)
        )
    if group.id in seen_groups:
        raise QuerySyntaxError(term.position, f"group: {group.name!r} refers to itself")
    inner = parse(group.query, actor.today())
    return and_(*contact_conditions(session, actor, inner, seen_groups | {group.id}, hide=False,
                                    sort=sort))


def contact_conditions(
    session: Session,
    actor: Actor,
    filt: Filter,
    seen_groups: frozenset[int] = frozenset(),
    hide: bool = True,
    sort: str | None = None,
) -> list[ColumnElement]:
    """SQL conditions on `contacts` for a parsed filter.

    Archived and closed contacts are hidden unless the filter names a status (`status:all`).
    `sort`: the list's sort (`services.contacts.SORTS`), when the conditions are for a window of
    it: a status filter is then tested on the sort's index unless `ix_contacts_status_name`
    gives its rows in the sort's order already.
    """
    conditions: list[ColumnElement] = []
    if hide and not filt.has_field("status"):
        conditions.append(col(Contact.status).not_in(HIDDEN_BY_DEFAULT))
    for term in filt.terms:
        condition = _term_condition(session, actor, term, seen_groups, sort)
        conditions.append(not_(condition) if term.negated else condition)
    if filt.words:
        words = _word_condition(session, filt.words)
        if words is not None:
            conditions.append(words)
    for word in filt.negated_words:
        excluded = _word_condition(session, [word])
        if excluded is not None:
            conditions.append(not_(excluded))
    return conditions
