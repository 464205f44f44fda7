"""change counter: one number that moves whenever any record changes, for refresh polling

Lists and the board of every running app poll `meta.change_counter` (one primary-key read) and
refresh only when it moved. The counter is bumped by triggers, not by the application:

- a trigger sees every write, whoever makes it: the services' ORM flushes, their Core
  `UPDATE`s (`touch_records`), the daemon, imports, other processes, the sqlite3 shell;
  a session event would miss every statement that does not pass through an ORM session;
- the bump commits (or rolls back) with the write that caused it, in the same transaction, so a
  poller never sees the counter move before the data it announces is visible, and a read-only
  transaction never moves it;
- it works across processes and machines: the counter is a row in the database itself.
  (`PRAGMA data_version` would need one long-lived connection per poller and does not exist on
  PostgreSQL.)

SQLite: AFTER INSERT/UPDATE/DELETE row triggers on every table but `meta` (SQLite has no
statement triggers). Writers are serialised by the database lock anyway, so the counter row adds
no contention; the cost is one primary-key UPDATE per changed row, in a page the transaction has
already dirtied.

PostgreSQL: a DEFERRABLE INITIALLY DEFERRED constraint trigger per table, calling a function that
bumps the counter once per transaction (a transaction-local setting remembers that it did). It
fires at commit, so the counter row is locked only for the instant of the commit: writers do not
queue behind each other for the whole transaction, and since it is the last lock a transaction
takes, two writers cannot deadlock on it.

A table added by a later migration must get the same triggers (tests/concurrency/
test_change_counter.py checks that every table but `meta` has them); a SQLite batch migration
that rebuilds a table drops its triggers and must create them again.

Revision ID: 0003_change_counter
Revises: 0002_contacts_fts
"""

from __future__ import annotations

from alembic import op

revision = "0003_change_counter"
down_revision = "0002_contacts_fts"
branch_labels = None
depends_on = None

COUNTER_KEY = "change_counter"
TRACKED_TABLES = (
    "users", "teams", "team_members", "pipelines", "stages", "activity_types", "lost_reasons",
    "number_sequences", "contacts", "contact_groups", "group_members", "opportunities",
    "activities", "history", "attachments", "outbox",
)
OPERATIONS = ("insert", "update", "delete")
PG_FUNCTION = "crm_bump_change_counter"


def sqlite_trigger_sql(table: str, operation: str) -> str:
    return (
        f"CREATE TRIGGER change_counter_{table}_{operation} AFTER {operation.upper()} ON {table} "
        "BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
        f"WHERE key = '{COUNTER_KEY}'; END"
    )


PG_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('crm.change_counter_xact', true) IS DISTINCT FROM txid_current()::text THEN
        UPDATE meta SET value = (COALESCE(NULLIF(value, ''), '0')::bigint + 1)::text
         WHERE key = '{COUNTER_KEY}';
        PERFORM set_config('crm.change_counter_xact', txid_current()::text, true);
    END IF;
    RETURN NULL;
END $$
"""


def pg_trigger_sql(table: str) -> str:
    return (
        f"CREATE CONSTRAINT TRIGGER change_counter_{table} AFTER INSERT OR UPDATE OR DELETE "
        f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
    )


def upgrade() -> None:
    op.execute(
        f"INSERT INTO meta (key, value) SELECT '{COUNTER_KEY}', '0' "
        f"WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = '{COUNTER_KEY}')"
    )
    if op.get_bind().dialect.name == "sqlite":
        for table in TRACKED_TABLES:
            for operation in OPERATIONS:
                op.execute(sqlite_trigger_sql(table, operation))
    else:
        op.execute(PG_FUNCTION_SQL)
        for table in TRACKED_TABLES:
            op.execute(pg_trigger_sql(table))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TRACKED_TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER IF EXISTS change_counter_{table}_{operation}")
    else:
        for table in TRACKED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS change_counter_{table} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    op.execute(f"DELETE FROM meta WHERE key = '{COUNTER_KEY}'")
