"""The audit trail: who did what, when, to which record."""

from __future__ import annotations

from sqlmodel import Session

from crm_tui import clock
from crm_tui.models import HistoryEntry
from crm_tui.services.identity import Actor


def _text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    contact_id: int | None = None,
    opportunity_id: int | None = None,
    activity_id: int | None = None,
    subject: str = "",
    field: str = "",
    old: object = None,
    new: object = None,
    note: str = "",
) -> HistoryEntry:
    entry = HistoryEntry(
        at=clock.now(),
        user_id=actor.id if actor else None,
        user_login=actor.login if actor else "system",
        contact_id=contact_id,
        opportunity_id=opportunity_id,
        activity_id=activity_id,
        action=action,
        subject=subject[:300],
        field=field,
        old_value=_text(old),
        new_value=_text(new),
        note=note,
    )
    session.add(entry)
    return entry


def record_changes(
    session: Session,
    actor: Actor | None,
    changes: dict[str, tuple[object, object]],
    **where,
) -> None:
    """One `change` row per field (old -> new)."""
    for field, (old, new) in changes.items():
        record(session, actor, "change", field=field, old=old, new=new, **where)
