"""Who may do what. One module of rules, applied alike by the app, the command line and the daemon.

The rules, by role, action, assignment and lock:

- **view**: everybody sees every contact (seed 001: anyone must be able to check whether a
  customer exists).
- **edit** (fields), **assign**, **status** (convert, close, archive, restore):
  a rep changes contacts assigned to them, to one of their teams, or to everybody;
  a manager changes everything within their teams (assigned to them, to one of their teams, to a
  member of one of their teams, or to everybody); an admin changes everything.
- **lock**: a prospect is locked to the rep who created it for the lock period. While it is
  locked, nobody else below manager may edit, assign, change the status of, delete, or plan
  activities on it ("locked by X until DATE"). A manager (within their teams) and an admin may.
- **plan** (plan an activity on the contact): anyone, unless the prospect is locked to someone
  else (managers and admins excepted).
- **delete** (permanent): a rep deletes only contacts assigned to them personally; a manager
  what they may edit; an admin anything.
- **release_lock**: a manager, for contacts within their teams or locks held by a member of one of
  their teams; an admin, any.
- **configure** (pipelines, activity types, users, teams): admin only.
- **opportunities** (edit, move, won/lost, merge): the owner; a manager when the owner is in one
  of their teams; with no owner, whoever may edit the contact; never a rep on a prospect locked
  to someone else.
- **users**: an admin adds and changes users; anybody changes their own name, e-mail, time zone.

Every check either returns or raises `PermissionDenied` with a message that says why; a check
never writes, so a refused action changes nothing. `decide()` is the pure rule on plain facts
(used by the UI to grey out what is not allowed); `check_contact()` loads the facts it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from crm_tui import clock
from crm_tui.services.errors import PermissionDenied
from crm_tui.services.identity import Actor

CONTACT_ACTIONS = ("view", "edit", "assign", "status", "plan", "delete", "release_lock")
"""What can be done to one contact (see the module docstring for each rule)."""

_CHANGING = frozenset({"edit", "assign", "status", "delete"})
"""Actions that a lock held by someone else forbids (with `plan`)."""


@dataclass(frozen=True)
class ContactFacts:
    """What the rules look at, about one contact. Plain data: build it once, ask many times."""

    id: int | None
    status: str
    assigned_user_id: int | None
    assigned_team_id: int | None
    assignee_team_ids: frozenset[int] = frozenset()
    """The teams the assigned user belongs to (for the manager rule)."""
    locked_by_id: int | None = None
    locked_until: datetime | None = None
    lock_holder_login: str = ""
    lock_holder_team_ids: frozenset[int] = frozenset()

    @property
    def label(self) -> str:
        return f"contact {self.id}" if self.id is not None else "contact"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def lock_holder(contact, now: datetime | None = None) -> int | None:
    """The user a prospect is locked to right now, if any (a lock only binds prospects)."""
    if getattr(contact, "status", "prospect") != "prospect":
        return None
    now = now or clock.now()
    if contact.locked_by_id and contact.locked_until and contact.locked_until > now:
        return contact.locked_by_id
    return None


def _in_scope(actor: Actor, facts: ContactFacts) -> bool:
    """May the actor change this contact by its assignment (locks aside)?"""
    if actor.is_admin:
        return True
    user_id, team_id = facts.assigned_user_id, facts.assigned_team_id
    if user_id is None and team_id is None:
        return True  # assigned to everybody
    if user_id is not None and user_id == actor.id:
        return True
    if team_id is not None and team_id in actor.team_ids:
        return True
    return bool(
        actor.is_manager and user_id is not None and facts.assignee_team_ids & actor.team_ids
    )


def _lock_refusal(actor: Actor, facts: ContactFacts, now: datetime) -> Decision | None:
    holder = lock_holder(facts, now)
    if holder is None or holder == actor.id or actor.is_manager:
        return None
    until = facts.locked_until.date().isoformat() if facts.locked_until else "?"
    who = facts.lock_holder_login or "another rep"
    return Decision(False, f"{facts.label}: locked by {who} until {until}")


def decide(actor: Actor, action: str, facts: ContactFacts, now: datetime | None = None) -> Decision:
    """The rule for `actor` doing `action` to one contact."""
    if action not in CONTACT_ACTIONS:
        raise ValueError(f"unknown contact action {action!r}")
    now = now or clock.now()
    if action == "view" or actor.is_admin:
        return ALLOWED
    if action == "release_lock":
        if not actor.is_manager:
            return Decision(False, f"{facts.label}: only a manager or an admin may release a lock")
        if lock_holder(facts, now) is None:
            return ALLOWED  # nothing to release; harmless
        if _in_scope(actor, facts) or facts.lock_holder_team_ids & actor.team_ids:
            return ALLOWED
        return Decision(False, f"{facts.label}: locked by a rep outside your teams; ask an admin")
    refused = _lock_refusal(actor, facts, now)
    if refused is not None and (action in _CHANGING or action == "plan"):
        return refused
    if action == "plan":
        return ALLOWED
    if not _in_scope(actor, facts):
        return Decision(False, f"{facts.label}: assigned to someone else; ask them or a manager")
    if action == "delete" and not actor.is_manager:
        if facts.assigned_user_id != actor.id:
            return Decision(
                False, f"{facts.label}: a rep may delete only contacts assigned to them; ask a manager"
            )
    return ALLOWED


def require(actor: Actor, action: str, facts: ContactFacts, now: datetime | None = None) -> None:
    decision = decide(actor, action, facts, now)
    if not decision:
        raise PermissionDenied(decision.reason)


# -- facts from the database ------------------------------------------------------------------


def contact_facts(session, contact) -> ContactFacts:
    """The facts about `contact` (an ORM row), loading the teams and logins the rules need."""
    from sqlmodel import col, select

    from crm_tui.models import TeamMember, User

    def teams_of(user_id: int | None) -> frozenset[int]:
        if user_id is None or session is None:
            return frozenset()
        return frozenset(session.exec(select(TeamMember.team_id).where(TeamMember.user_id == user_id)).all())

    holder = lock_holder(contact)
    login = ""
    if holder is not None and session is not None:
        login = session.exec(select(User.login).where(col(User.id) == holder)).first() or ""
    return ContactFacts(
        id=contact.id,
        status=contact.status,
        assigned_user_id=contact.assigned_user_id,
        assigned_team_id=contact.assigned_team_id,
        assignee_team_ids=teams_of(contact.assigned_user_id),
        locked_by_id=contact.locked_by_id,
        locked_until=contact.locked_until,
        lock_holder_login=login,
        lock_holder_team_ids=teams_of(holder),
    )


def _session_of(contact, session):
    if session is not None:
        return session
    from sqlalchemy.orm import object_session

    return object_session(contact)


def check_contact(session, actor: Actor, contact, action: str = "edit") -> None:
    """Raise PermissionDenied unless `actor` may do `action` to `contact` (an ORM row)."""
    if actor.is_admin or action == "view":
        return
    require(actor, action, contact_facts(_session_of(contact, session), contact))


def allowed_actions(session, actor: Actor, contact) -> frozenset[str]:
    """Every contact action `actor` may take on `contact` now (for enabling keys in the UI)."""
    facts = contact_facts(session, contact)
    return frozenset(a for a in CONTACT_ACTIONS if decide(actor, a, facts))


def check_contact_edit(
    actor: Actor, contact, *, lock_owner_login: str = "", team_member_ids: Iterable[int] | None = None,
    session=None,
) -> None:
    """Raise PermissionDenied unless `actor` may change `contact`'s fields.

    Kept for the callers written before `check_contact`; the facts come from the contact's own
    session (`lock_owner_login` and `team_member_ids` are accepted for compatibility, the rule
    looks them up itself).
    """
    if actor.is_admin:
        return
    facts = contact_facts(_session_of(contact, session), contact)
    if lock_owner_login and not facts.lock_holder_login:
        facts = replace(facts, lock_holder_login=lock_owner_login)
    if team_member_ids is not None and facts.assigned_user_id in set(team_member_ids):
        facts = replace(facts, assignee_team_ids=facts.assignee_team_ids | actor.team_ids)
    require(actor, "edit", facts)


def check_can_plan(session, actor: Actor, contact) -> None:
    """Nobody plans activities on a prospect locked to someone else (a manager may)."""
    check_contact(session, actor, contact, "plan")


# -- opportunities -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpportunityFacts:
    id: int | None
    owner_id: int | None
    owner_team_ids: frozenset[int]
    contact: ContactFacts


def decide_opportunity(actor: Actor, facts: OpportunityFacts, now: datetime | None = None) -> Decision:
    """Edit, move, win, lose, merge an opportunity: its owner; a manager when the owner is in one
    of their teams; with no owner, whoever may edit its contact. A rep never acts on a prospect
    locked to somebody else."""
    if actor.is_admin:
        return ALLOWED
    label = f"opportunity {facts.id}" if facts.id is not None else "opportunity"
    refused = _lock_refusal(actor, facts.contact, now or clock.now())
    if refused is not None:
        return refused
    if facts.owner_id is None:
        decision = decide(actor, "edit", facts.contact, now)
        return decision if decision else Decision(False, f"{label}: {decision.reason}")
    if facts.owner_id == actor.id:
        return ALLOWED
    if actor.is_manager and facts.owner_team_ids & actor.team_ids:
        return ALLOWED
    return Decision(False, f"{label}: owned by someone else; ask them or a manager")


def check_opportunity_edit(session, actor: Actor, opportunity) -> None:
    """Raise PermissionDenied unless `actor` may change `opportunity` (an ORM row)."""
    if actor.is_admin:
        return
    from sqlmodel import select

    from crm_tui.models import Contact, TeamMember

    session = _session_of(opportunity, session)
    contact = session.get(Contact, opportunity.contact_id)
    owner_teams = frozenset()
    if opportunity.owner_id is not None:
        owner_teams = frozenset(
            session.exec(select(TeamMember.team_id).where(TeamMember.user_id == opportunity.owner_id)).all()
        )
    facts = OpportunityFacts(opportunity.id, opportunity.owner_id, owner_teams, contact_facts(session, contact))
    decision = decide_opportunity(actor, facts)
    if not decision:
        raise PermissionDenied(decision.reason)


# -- configuration and user records ------------------------------------------------------------


def check_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"{what}: only an admin may change this")


def check_manager(actor: Actor, what: str) -> None:
    if not actor.is_manager:
        raise PermissionDenied(f"{what}: only a manager may do this")


def check_configure(actor: Actor, what: str) -> None:
    """Pipelines, stages, activity types, number sequences, lost reasons, users and teams."""
    check_admin(actor, what)


SELF_SERVICE_USER_FIELDS = frozenset({"name", "email", "timezone"})
"""What anybody may change on their own user record (a rep sets their own time zone)."""


def check_user_edit(actor: Actor, user_id: int | None, fields: Iterable[str]) -> None:
    """An admin edits every user; anybody else only the personal fields of their own record."""
    if actor.is_admin:
        return
    fields = set(fields)
    if user_id == actor.id and fields <= SELF_SERVICE_USER_FIELDS:
        return
    if user_id == actor.id:
        denied = sorted(fields - SELF_SERVICE_USER_FIELDS)[0]
        raise PermissionDenied(f"user: only an admin may change {denied}")
    raise PermissionDenied("users: only an admin may add or change users")
