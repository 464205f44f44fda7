"""Marking activities done, and what follows: the type's chaining (Odoo's semantics).

When an activity of a type with chaining is done:

- `trigger`: the next activity is created at once (linked by `previous_id`) and reported;
- `suggest`: an `ActivityDraft` comes back, pre-filled, for a form the rep confirms or edits
  (then `plan_from_draft`); `plan_next=True` (the CLI's `--next`) plans it with its defaults.

The next activity takes its type, summary, note and reminder from the NEXT type; its assignee is
the next type's default assignee, else the done activity's assignee (else the rep marking it
done). It is due `delay_count delay_unit` (days, weeks, calendar months clamped at month ends)
after the done activity's deadline (`previous_deadline`, the default, as in Odoo) or after the
completion date (the actor's today), as the DONE activity's type says.

Completing an activity can store a file as an attachment (bytes in the database).
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from sqlmodel import Session

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import Activity, ActivityType, Attachment, Team, User
from crm_tui.services import history, validation
from crm_tui.services.activities import (
    ActivityRow,
    check_activity_change,
    plan_activity,
    row_of,
    touch_records,
)
from crm_tui.services.dates import shift
from crm_tui.services.errors import NotFound, ValidationError
from crm_tui.services.identity import Actor

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
"""The largest file an activity takes (the bytes live in the database)."""


@dataclass(frozen=True)
class ActivityDraft:
    """The next activity as proposed by a `suggest` chain: what the form shows pre-filled.

    The rep confirms or edits it (`dataclasses.replace` or `values()` plus edits), then
    `plan_from_draft` (or `plan_activity(..., previous_id=draft.previous_id)`) saves it.
    """

    type_id: int
    type: str
    category: str
    contact_id: int
    opportunity_id: int | None
    summary: str
    note: str
    due: date
    time: time | None
    assigned_to: str | None
    """A login, `team:NAME`, or None (the rep who plans it)."""
    reminder_minutes: int | None
    previous_id: int

    def values(self) -> dict[str, object]:
        """The draft as `plan_activity` values (fields of activities.PLAN_FIELDS)."""
        out: dict[str, object] = {
            "type": self.type_id, "contact_id": self.contact_id,
            "opportunity_id": self.opportunity_id, "summary": self.summary, "note": self.note,
            "due": self.due, "time": self.time, "reminder_minutes": self.reminder_minutes,
        }
        if self.assigned_to:
            out["assigned_to"] = self.assigned_to
        return out


@dataclass(frozen=True)
class DoneResult:
    done: ActivityRow
    """The activity just completed."""
    chaining: str
    """The done activity's type's chaining: none, suggest or trigger."""
    created: ActivityRow | None = None
    """The next activity, when one was planned (trigger, or suggest with plan_next)."""
    draft: ActivityDraft | None = None
    """The proposed next activity (suggest without plan_next), for the form."""
    attachment_id: int | None = None

    @property
    def message(self) -> str:
        """One line for the status bar or the terminal."""
        text = f"done: {self.done.type}: {self.done.summary}"
        if self.created is not None:
            text += f" · planned next: {self.created.type} on {self.created.due.isoformat()} (#{self.created.id})"
        elif self.draft is not None:
            text += f" · suggested next: {self.draft.type} on {self.draft.due.isoformat()}"
        return text


@dataclass(frozen=True)
class UploadFile:
    """A file read from disk, checked, ready to store."""

    filename: str
    mime_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def read_upload(path: str | os.PathLike[str], max_bytes: int = MAX_ATTACHMENT_BYTES) -> UploadFile:
    """Read a file for an attachment; ValidationError("file", ...) when it cannot be taken."""
    raw = os.fspath(path).strip() if path is not None else ""
    if not raw:
        raise ValidationError("file", "a file path is required")
    file_path = Path(raw).expanduser()
    try:
        info = file_path.stat()
    except FileNotFoundError:
        raise ValidationError("file", f"{raw}: no such file") from None
    except OSError as error:
        raise ValidationError("file", f"{raw}: {error.strerror}") from None
    if not file_path.is_file():
        raise ValidationError("file", f"{raw}: is not a file")
    if info.st_size > max_bytes:
        raise ValidationError(
            "file", f"{file_path.name} is {_megabytes(info.st_size)}; the limit is {_megabytes(max_bytes)}"
        )
    try:
        data = file_path.read_bytes()
    except OSError as error:
        raise ValidationError("file", f"{raw}: {error.strerror}") from None
    if len(data) > max_bytes:  # it grew between stat and read
        raise ValidationError(
            "file", f"{file_path.name} is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}"
        )
    name = file_path.name[:255]
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return UploadFile(filename=name, mime_type=mime[:100], data=data)


def next_due(kind: ActivityType, previous_deadline: date, completed_on: date) -> date:
    """When the next activity is due, by the done activity's type's delay settings."""
    base = completed_on if kind.delay_from == "completion_date" else previous_deadline
    return shift(base, kind.delay_count, kind.delay_unit)


def _assignee_text(session: Session, activity: Activity, next_kind: ActivityType, actor: Actor) -> str | None:
    if next_kind.default_assignee_id:
        user = session.get(User, next_kind.default_assignee_id)
        if user is not None and user.active:
            return user.login
    if activity.assigned_user_id:
        user = session.get(User, activity.assigned_user_id)
        if user is not None and user.active:
            return user.login
        return actor.login
    if activity.assigned_team_id:
        team = session.get(Team, activity.assigned_team_id)
        if team is not None:
            return f"team:{team.name}"
    return None


def draft_next(
    session: Session, actor: Actor, activity: Activity, *, completed_on: date | None = None
) -> ActivityDraft | None:
    """The next activity as the type's chaining would plan it (None when the type does not chain)."""
    kind = session.get(ActivityType, activity.type_id)
    if kind is None or kind.chaining == "none" or kind.next_type_id is None:
        return None
    next_kind = session.get(ActivityType, kind.next_type_id)
    if next_kind is None:
        return None
    return ActivityDraft(
        type_id=next_kind.id, type=next_kind.name, category=next_kind.category,
        contact_id=activity.contact_id, opportunity_id=activity.opportunity_id,
        summary=next_kind.default_summary or next_kind.name, note=next_kind.default_note,
        due=next_due(kind, activity.due_date, completed_on or actor.today()), time=None,
        assigned_to=_assignee_text(session, activity, next_kind, actor),
        reminder_minutes=next_kind.default_reminder_minutes, previous_id=activity.id,
    )


def preview_next(session: Session, actor: Actor, activity_id: int) -> ActivityDraft | None:
    """The next activity that completing `activity_id` now would plan or suggest (read-only).

    For a "done & plan next" form that opens BEFORE anything is saved: show the draft, then
    `mark_done(..., plan_next=True, next_edits=form_values)` does both in one transaction.
    """
    activity = session.get(Activity, int(activity_id))
    if activity is None:
        raise NotFound("activity", activity_id)
    return draft_next(session, actor, activity)


def plan_from_draft(
    session: Session,
    actor: Actor,
    draft: ActivityDraft,
    edits: Mapping[str, object] | None = None,
    *,
    settings: Settings | None = None,
) -> Activity:
    """Plan the (confirmed, possibly edited) suggested activity, linked to the one before."""
    values = {**draft.values(), **(edits or {})}
    return plan_activity(session, actor, values, settings=settings, previous_id=draft.previous_id)


def attach_file(
    session: Session, actor: Actor, activity: Activity, upload: UploadFile
) -> Attachment:
    """Store a file on the activity's contact (and opportunity), written to the history."""
    attachment = Attachment(
        contact_id=activity.contact_id, opportunity_id=activity.opportunity_id,
        activity_id=activity.id, filename=upload.filename, mime_type=upload.mime_type,
        size=upload.size, data=upload.data, created_by_id=actor.id, created_at=clock.now(),
    )
    session.add(attachment)
    session.flush()
    history.record(
        session, actor, "attachment", contact_id=activity.contact_id,
        opportunity_id=activity.opportunity_id, activity_id=activity.id,
        subject=upload.filename, new=f"{upload.size} bytes, {upload.mime_type}",
    )
    return attachment


def mark_done(
    session: Session,
    actor: Actor,
    activity_id: int,
    feedback: str = "",
    *,
    plan_next: bool = False,
    next_edits: Mapping[str, object] | None = None,
    file: str | os.PathLike[str] | UploadFile | None = None,
    settings: Settings | None = None,
) -> DoneResult:
    """Complete an open activity with feedback; then follow its type's chaining.

    `trigger` plans the next activity at once; `suggest` returns a draft, or plans it when
    `plan_next` ("done & plan next"): with its defaults, or with `next_edits` (fields of
    activities.PLAN_FIELDS from the confirmed form) laid over them. `file` (a path, or an
    UploadFile already read) is stored as an attachment. All or nothing: an error writes nothing.
    """
    settings = settings or get_settings()
    note = validation.clean_text(feedback, "feedback", 20_000)
    upload = file if isinstance(file, UploadFile) or file is None else read_upload(file)
    activity = session.get(Activity, int(activity_id), with_for_update=True)
    if activity is None:
        raise NotFound("activity", activity_id)
    if activity.status != "planned":
        raise ValidationError("id", f"activity {activity.id} is already {activity.status}")
    check_activity_change(session, actor, [activity], "complete")
    kind = session.get(ActivityType, activity.type_id)
    now = clock.now()
    activity.status = "done"
    activity.done_at = now
    activity.feedback = note
    activity.paused = False
    activity.updated_at = now
    session.add(activity)
    session.flush()
    history.record(
        session, actor, "activity_done", contact_id=activity.contact_id,
        opportunity_id=activity.opportunity_id, activity_id=activity.id,
        subject=f"{kind.name}: {activity.summary}" if activity.summary else kind.name,
        field="status", old="planned", new="done", note=note,
    )
    touch_records(session, activity.contact_id, activity.opportunity_id)
    attachment_id = attach_file(session, actor, activity, upload).id if upload is not None else None
    draft = draft_next(session, actor, activity)
    created = None
    if draft is not None and (kind.chaining == "trigger" or plan_next):
        created = plan_from_draft(session, actor, draft, dict(next_edits or {}), settings=settings)
        draft = None
    return DoneResult(
        done=row_of(session, actor, activity), chaining=kind.chaining,
        created=row_of(session, actor, created) if created is not None else None,
        draft=draft, attachment_id=attachment_id,
    )


def log_activity(
    session: Session, actor: Actor, values: dict[str, object], *, settings: Settings | None = None
) -> Activity:
    """Record an activity that already happened (saved as done, with `feedback`); no chaining."""
    return plan_activity(session, actor, values, settings=settings, done=True)


__all__ = [
    "MAX_ATTACHMENT_BYTES", "ActivityDraft", "DoneResult", "UploadFile", "attach_file",
    "draft_next", "log_activity", "mark_done", "next_due", "plan_from_draft", "preview_next",
    "read_upload",
]
