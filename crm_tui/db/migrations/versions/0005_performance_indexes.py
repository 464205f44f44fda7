"""indexes for a million contacts: sort orders with the status, filters, open activities, the board

Measured with `benchmarks/run.py` (issue 8); every index here serves a query that otherwise reads
rows in proportion to the table rather than to the rows it shows:

contacts
- the list's sort orders end in `status` (`name, id, status`, ...): the default filter (archived
  and closed hidden) and `status:` filters are checked in the index, so skipping to any window and
  counting never read the table; a new one for the customer-number sort, which sorted the whole
  table for every window;
- `assigned:` and `team:` lists by name likewise;
- `city:`, `country:`, `source:` compare case-insensitively as `lower(x) = lower(value)`: an
  index on `lower(x)` each (the plain indexes on country and source served no query).

activities
- `crm status` and the open counts: (assignee, paused, due date) of the open ones, covering (the
  status too: SQLite counts a partial index as covering only if it holds every column named);
- the daemon's due-reminder scan: only reminders still to send (`reminder_queued_for` is not the
  current `remind_at`). The older index holds every reminder of an open activity, sent or not,
  and the scan read all those already due: in proportion to the history, not to the work.

opportunities
- the board's money and rotting totals: (pipeline, status, stage, revenue, probability, entered
  the stage) read without the table.

Indexes only: nothing is rewritten, the change-counter and full-text triggers stay.

Revision ID: 0005_performance_indexes
Revises: 0004_contact_duplicate_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_performance_indexes"
down_revision = "0004_contact_duplicate_keys"
branch_labels = None
depends_on = None

# (name, old columns, new columns): the sort indexes, widened by the status (and the id where
# the id is the sort's tie-breaker but was left to the implicit rowid).
WIDENED = (
    ("ix_contacts_name_id", ["name", "id"], ["name", "id", "status"]),
    ("ix_contacts_company_id", ["company", "id"], ["company", "id", "status"]),
    ("ix_contacts_city_id", ["city", "id"], ["city", "id", "status"]),
    ("ix_contacts_next_due", ["next_activity_due"], ["next_activity_due", "id", "status"]),
    ("ix_contacts_created_at", ["created_at"], ["created_at", "id", "status"]),
    ("ix_contacts_assigned_user", ["assigned_user_id", "name"], ["assigned_user_id", "name", "id", "status"]),
    ("ix_contacts_assigned_team", ["assigned_team_id", "name"], ["assigned_team_id", "name", "id", "status"]),
)
LOWERED = ("city", "country", "source")
DROPPED_PLAIN = (("ix_contacts_country", ["country"]), ("ix_contacts_source", ["source"]))

OPEN = "status = 'planned'"
ARMED_SQLITE = (
    "status = 'planned' AND paused = 0 AND remind_at IS NOT NULL "
    "AND (reminder_queued_for IS NULL OR reminder_queued_for != remind_at)"
)
ARMED_POSTGRESQL = (
    "status = 'planned' AND NOT paused AND remind_at IS NOT NULL "
    "AND (reminder_queued_for IS NULL OR reminder_queued_for != remind_at)"
)


def upgrade() -> None:
    for name, _old, new in WIDENED:
        op.drop_index(name, table_name="contacts")
        op.create_index(name, "contacts", new)
    op.create_index("ix_contacts_number_id", "contacts", ["customer_number", "id", "status"])
    for name, _columns in DROPPED_PLAIN:
        op.drop_index(name, table_name="contacts")
    for column in LOWERED:
        op.create_index(f"ix_contacts_{column}_lower", "contacts", [sa.text(f"lower({column})")])

    op.create_index(
        "ix_activities_open_user_state", "activities",
        ["assigned_user_id", "paused", "due_date", "status"],
        sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_activities_reminder_armed", "activities", ["remind_at"],
        sqlite_where=sa.text(ARMED_SQLITE), postgresql_where=sa.text(ARMED_POSTGRESQL),
    )
    op.create_index(
        "ix_opportunities_money", "opportunities",
        ["pipeline_id", "status", "stage_id", "expected_revenue", "probability", "stage_entered_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_money", table_name="opportunities")
    op.drop_index("ix_activities_reminder_armed", table_name="activities")
    op.drop_index("ix_activities_open_user_state", table_name="activities")
    for column in LOWERED:
        op.drop_index(f"ix_contacts_{column}_lower", table_name="contacts")
    for name, columns in DROPPED_PLAIN:
        op.create_index(name, "contacts", columns)
    op.drop_index("ix_contacts_number_id", table_name="contacts")
    for name, old, _new in WIDENED:
        op.drop_index(name, table_name="contacts")
        op.create_index(name, "contacts", old)
