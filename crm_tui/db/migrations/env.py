"""Alembic environment: runs on the connection crm-tui hands it (see crm_tui.db.migrate)."""

from __future__ import annotations

import warnings

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import crm_tui.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config


# Made by hand in 0002_contacts_fts, unknown to the models: autogenerate must not drop them.
HAND_MADE_TABLE_PREFIX = "contacts_fts"  # SQLite FTS5 table and its shadow tables
HAND_MADE_INDEXES = {"ix_contacts_search_trgm"}  # PostgreSQL trigram index


# SQLite cannot reflect expression indexes (the lower(...) ones of 0005); autogenerate skips
# them, which is all it can do with them.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name and name.startswith(HAND_MADE_TABLE_PREFIX):
        return False
    return not (type_ == "index" and name in HAND_MADE_INDEXES)


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _configure_and_run(connection)
        return
    _configure_and_run(connection)


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
