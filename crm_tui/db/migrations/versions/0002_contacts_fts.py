"""full-text search over contacts

SQLite: an FTS5 external-content table over the searchable contact fields plus the app-built
folded key, kept in sync by triggers, filled from the existing rows. PostgreSQL: a trigram index
on the folded key (btree on its lower-case form where pg_trgm cannot be created).

Revision ID: 0002_contacts_fts
Revises: 0001_initial
"""

from __future__ import annotations

from alembic import op

revision = "0002_contacts_fts"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

FTS_COLUMNS = ("name", "first_name", "company", "email", "phone", "city", "customer_number", "search_key")


def _cols(prefix: str = "") -> str:
    return ", ".join(prefix + c for c in FTS_COLUMNS)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE contacts_fts USING fts5({_cols()}, content='contacts', "
            "content_rowid='id', tokenize=\"unicode61 remove_diacritics 2\", prefix='2 3')"
        )
        op.execute(
            "CREATE TRIGGER contacts_fts_ai AFTER INSERT ON contacts BEGIN "
            f"INSERT INTO contacts_fts(rowid, {_cols()}) VALUES (new.id, {_cols('new.')}); END"
        )
        op.execute(
            "CREATE TRIGGER contacts_fts_ad AFTER DELETE ON contacts BEGIN "
            f"INSERT INTO contacts_fts(contacts_fts, rowid, {_cols()}) "
            f"VALUES ('delete', old.id, {_cols('old.')}); END"
        )
        op.execute(
            f"CREATE TRIGGER contacts_fts_au AFTER UPDATE OF {_cols()} ON contacts BEGIN "
            f"INSERT INTO contacts_fts(contacts_fts, rowid, {_cols()}) "
            f"VALUES ('delete', old.id, {_cols('old.')}); "
            f"INSERT INTO contacts_fts(rowid, {_cols()}) VALUES (new.id, {_cols('new.')}); END"
        )
        op.execute("INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild')")
    else:
        op.execute(
            "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; "
            "EXCEPTION WHEN OTHERS THEN NULL; END $$"
        )
        op.execute(
            "DO $$ BEGIN "
            "IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN "
            "CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_key gin_trgm_ops); "
            "ELSE CREATE INDEX ix_contacts_search_trgm ON contacts (lower(search_key) text_pattern_ops); "
            "END IF; END $$"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("contacts_fts_ai", "contacts_fts_ad", "contacts_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS contacts_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_contacts_search_trgm")
