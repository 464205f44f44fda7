"""contact duplicate keys and the status before archiving

Duplicate checks (services/duplicates.py) look contacts up by normalised keys: name, company,
e-mail address, e-mail domain, phone and mobile number. Each is a column kept by the services
(`contacts.refresh_derived`) with a partial index (`WHERE key <> ''`), so a check is a few exact
index lookups even on a million contacts. `previous_status` remembers what an archived or closed
contact was, for `restore`.

Columns are added with ALTER TABLE ... ADD COLUMN (no table rebuild on SQLite: the full-text and
change-counter triggers stay). Existing rows get their keys computed here, in windows.

Revision ID: 0004_contact_duplicate_keys
Revises: 0003_change_counter
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_contact_duplicate_keys"
down_revision = "0003_change_counter"
branch_labels = None
depends_on = None

KEY_COLUMNS = (
    ("name_key", 200), ("company_key", 200), ("email_key", 254), ("email_domain", 254),
    ("phone_key", 50), ("mobile_key", 50),
)
WINDOW = 5000


def upgrade() -> None:
    for name, length in (*KEY_COLUMNS, ("previous_status", 16)):
        op.add_column(
            "contacts", sa.Column(name, sa.String(length), nullable=False, server_default=sa.text("''"))
        )
    _fill_keys()
    if op.get_bind().dialect.name == "postgresql":
        # The change counter's deferred triggers (0003) queued an event per filled row; with
        # events pending, PostgreSQL refuses CREATE INDEX. Fire them now, then defer again.
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")
        op.execute("SET CONSTRAINTS ALL DEFERRED")
    for name, _length in KEY_COLUMNS:
        op.create_index(
            f"ix_contacts_{name}", "contacts", [name],
            sqlite_where=sa.text(f"{name} <> ''"), postgresql_where=sa.text(f"{name} <> ''"),
        )


def _fill_keys() -> None:
    """Compute the keys of the rows already there (the same function the services use)."""
    from crm_tui.services.duplicates import duplicate_keys

    bind = op.get_bind()
    contacts = sa.table(
        "contacts", *(sa.column(c) for c in (
            "id", "kind", "name", "first_name", "company", "email", "phone", "mobile",
            *(name for name, _ in KEY_COLUMNS),
        ))
    )
    assignments = {name: sa.bindparam(f"new_{name}") for name, _ in KEY_COLUMNS}
    statement = (
        sa.update(contacts).where(contacts.c.id == sa.bindparam("row_id")).values(**assignments)
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(
                contacts.c.id, contacts.c.kind, contacts.c.name, contacts.c.first_name,
                contacts.c.company, contacts.c.email, contacts.c.phone, contacts.c.mobile,
            ).where(contacts.c.id > last).order_by(contacts.c.id).limit(WINDOW)
        ).mappings().all()
        if not rows:
            return
        changes = []
        for row in rows:
            keys = duplicate_keys(row)
            changes.append({"row_id": row["id"], **{f"new_{k}": v for k, v in keys.items()}})
        bind.execute(statement, changes)
        last = rows[-1]["id"]


def downgrade() -> None:
    for name, _length in KEY_COLUMNS:
        op.drop_index(
            f"ix_contacts_{name}", "contacts",
            sqlite_where=sa.text(f"{name} <> ''"), postgresql_where=sa.text(f"{name} <> ''"),
        )
    for name, _length in (*KEY_COLUMNS, ("previous_status", 16)):
        op.drop_column("contacts", name)
