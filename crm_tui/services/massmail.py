"""Mass e-mail: one templated mail per selected contact, queued through the outbox.

A template is plain text with `{name}`-style fields (the list is FIELDS; `{{` and `}}` write
braces). A first line `Subject: ...` gives the subject unless one is passed. Contacts without an
e-mail address are counted and skipped. The daemon sends the mails; each one sent is written to
its contact's history.

Queuing the same subject and text to the same contact again is a no-op (the dedupe key carries a
hash of both), so running a campaign twice by mistake sends nothing twice.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from crm_tui.config import Settings, get_settings
from crm_tui.models import Contact
from crm_tui.services.errors import ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.outbox import NewMail, enqueue, queued_keys
from crm_tui.services.query import Filter, parse
from crm_tui.services.search import contact_conditions

FIELDS = {
    "name": "last name of a person, the company name for a company",
    "first_name": "first name",
    "full_name": "first and last name (or the company name)",
    "company": "company",
    "email": "e-mail address",
    "phone": "phone",
    "street": "street",
    "postal_code": "postal code",
    "city": "city",
    "region": "state or region",
    "country": "country",
    "customer_number": "customer number",
    "sender_name": "the name of the user who sends the campaign",
    "sender_email": "the e-mail address of that user",
}
MAX_TEMPLATE = 100_000
Selection = Sequence[int] | Filter | str
"""Contact ids (a selection in the app), a parsed filter, or a filter query."""


@dataclass(frozen=True)
class Template:
    subject: str
    body: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.subject}\0{self.body}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RenderedMail:
    contact_id: int
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class MassMailPreview:
    count: int
    """Contacts that get a mail."""
    without_email: int
    """Selected contacts skipped for lack of an address."""
    already_queued: int
    """Contacts that got this very mail queued before (skipped again)."""
    sample: RenderedMail | None
    """The first mail, rendered."""
    recipients: list[str]
    """The first few addresses."""


def parse_template(text: str, subject: str | None = None) -> Template:
    """Split off a `Subject:` first line; check every field. Raises ValidationError."""
    if len(text) > MAX_TEMPLATE:
        raise ValidationError("template", f"longer than {MAX_TEMPLATE} characters")
    body = text.replace("\r\n", "\n")
    first, _, rest = body.partition("\n")
    if first.lower().startswith("subject:"):
        found = first[len("subject:"):].strip()
        body = rest.lstrip("\n")
        subject = subject if subject else found
    subject = " ".join((subject or "").split())
    if not subject:
        raise ValidationError("subject", "a subject is required (--subject, or a first line 'Subject: ...')")
    if not body.strip():
        raise ValidationError("template", "the text is empty")
    _check_fields(subject, "subject")
    _check_fields(body, "template")
    return Template(subject, body)


def _check_fields(text: str, where: str) -> None:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as error:
        raise ValidationError(where, f"{error} (write {{{{ and }}}} for literal braces)") from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in FIELDS:
            known = ", ".join("{" + f + "}" for f in FIELDS)
            raise ValidationError(where, f"unknown field {{{name}}} (known: {known})")
        if spec or conversion:
            raise ValidationError(where, f"{{{name}}}: formats and conversions are not supported")


def _values(contact: Contact, actor: Actor) -> dict[str, str]:
    full = f"{contact.first_name} {contact.name}".strip() if contact.first_name else contact.name
    return {
        "name": contact.name, "first_name": contact.first_name, "full_name": full,
        "company": contact.company, "email": contact.email, "phone": contact.phone,
        "street": contact.street, "postal_code": contact.postal_code, "city": contact.city,
        "region": contact.region, "country": contact.country,
        "customer_number": contact.customer_number or "", "sender_name": actor.display,
        "sender_email": actor.email,
    }


def render(template: Template, contact: Contact, actor: Actor) -> RenderedMail:
    values = _values(contact, actor)
    return RenderedMail(
        contact_id=contact.id, to=contact.email,
        subject=" ".join(template.subject.format_map(values).split()),
        body=template.body.format_map(values),
    )


def _statement(session: Session, actor: Actor, selection: Selection):
    statement = select(Contact)
    if isinstance(selection, str):
        selection = parse(selection, actor.today())
    if isinstance(selection, Filter):
        statement = statement.where(*contact_conditions(session, actor, selection))
    else:
        ids = sorted({int(i) for i in selection})
        if not ids:
            raise ValidationError("contacts", "no contacts selected")
        statement = statement.where(col(Contact.id).in_(ids))
    return statement.order_by(col(Contact.id))


def _selected(session: Session, actor: Actor, selection: Selection) -> list[Contact]:
    return list(session.exec(_statement(session, actor, selection)).all())


def mass_key(template: Template, contact_id: int) -> str:
    return f"mass:{template.digest}:{contact_id}"


def _as_template(template: Template | str, subject: str | None) -> Template:
    return template if isinstance(template, Template) else parse_template(template, subject)


def render_preview(
    session: Session, actor: Actor, selection: Selection, subject: str | None, template: Template | str,
    *, sample_size: int = 5,
) -> MassMailPreview:
    """What `queue_mass_mail` would do: counts, the first mail rendered, the first addresses."""
    parsed = _as_template(template, subject)
    contacts = _selected(session, actor, selection)
    with_email = [c for c in contacts if c.email]
    seen = queued_keys(session, (mass_key(parsed, c.id) for c in with_email))
    fresh = [c for c in with_email if mass_key(parsed, c.id) not in seen]
    return MassMailPreview(
        count=len(fresh), without_email=len(contacts) - len(with_email),
        already_queued=len(with_email) - len(fresh),
        sample=render(parsed, fresh[0], actor) if fresh else None,
        recipients=[c.email for c in fresh[:sample_size]],
    )


def queue_mass_mail(
    session: Session, actor: Actor, selection: Selection, subject: str | None, template: Template | str,
    *, settings: Settings | None = None,
) -> int:
    """Queue one mail per selected contact with an address; returns how many were queued."""
    settings = settings or get_settings()
    parsed = _as_template(template, subject)
    mails = []
    for contact in _selected(session, actor, selection):
        if not contact.email:
            continue
        rendered = render(parsed, contact, actor)
        mails.append(NewMail(
            dedupe_key=mass_key(parsed, contact.id), kind="mass", to=(rendered.to,),
            subject=rendered.subject, body=rendered.body, user_id=actor.id, contact_id=contact.id,
        ))
    return len(enqueue(session, mails, settings.smtp.sender))
