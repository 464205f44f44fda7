"""A contact's attachments (files stored in the database, e.g. by "upload document" activities):
listing them for the contact card and saving one out to a file.

Everybody who can see a contact can see and save its attachments (as with its history).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from crm_tui.models import Attachment, Contact, User
from crm_tui.services.errors import NotFound, ValidationError
from crm_tui.services.identity import Actor

MAX_LISTED = 500


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    filename: str
    mime_type: str
    size: int
    created_at: datetime
    created_by: str | None
    opportunity_id: int | None
    activity_id: int | None


def list_attachments(
    session: Session, actor: Actor, contact_id: int, *, limit: int = MAX_LISTED  # noqa: ARG001
) -> list[AttachmentRow]:
    """The attachments of one contact (its opportunities' and activities' included), newest
    first, without their data."""
    if session.get(Contact, contact_id) is None:
        raise NotFound("contact", contact_id)
    statement = (
        select(Attachment.id, Attachment.filename, Attachment.mime_type, Attachment.size,
               Attachment.created_at, User.login, Attachment.opportunity_id, Attachment.activity_id)
        .outerjoin(User, col(User.id) == col(Attachment.created_by_id))
        .where(col(Attachment.contact_id) == contact_id)
        .order_by(col(Attachment.created_at).desc(), col(Attachment.id).desc())
        .limit(max(0, min(limit, MAX_LISTED)))
    )
    return [AttachmentRow(*row) for row in session.exec(statement).all()]


def count_attachments(session: Session, contact_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(Attachment).where(col(Attachment.contact_id) == contact_id)
    ).one()


def attachment_data(session: Session, actor: Actor, attachment_id: int) -> tuple[str, bytes]:  # noqa: ARG001
    """(file name, bytes) of one attachment."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("attachment", attachment_id)
    return attachment.filename, bytes(attachment.data)


def save_attachment(session: Session, actor: Actor, attachment_id: int, path: str | os.PathLike[str]) -> int:
    """Write an attachment to `path` (replacing the file only once it is complete); returns the
    number of bytes written. ValidationError("path", ...) when the file cannot be written."""
    _name, data = attachment_data(session, actor, attachment_id)
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValidationError("path", f"{target} is a folder: add a file name")
    try:
        fd, temporary = tempfile.mkstemp(prefix=".crm-", dir=target.parent)
    except OSError as error:
        raise ValidationError("path", f"{target.parent}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ValidationError("path", f"{target}: {error.strerror}") from None
    return len(data)
