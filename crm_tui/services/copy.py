"""`crm db copy --to URL`: copy a whole database into another one (typically SQLite -> PostgreSQL).

The target is migrated to head, must hold no data yet, and is filled in one transaction: every
table in foreign-key order, in batches, read from one consistent snapshot of the source. A
table's references to itself (an activity type's next type, an activity's previous one) are
filled in a second pass, so the order of rows does not matter. PostgreSQL's id sequences are
moved past the copied ids. Either everything is copied or nothing is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlmodel import SQLModel

import crm_tui.models  # noqa: F401  (registers every table)
from crm_tui.db.engine import Database, DatabaseError
from crm_tui.db.migrate import ensure_schema

BATCH = 1000
_SKIP_EMPTY_CHECK = {"meta"}
"""Tables a freshly migrated database already has rows in."""


@dataclass(frozen=True)
class CopiedTable:
    name: str
    rows: int


def _tables() -> list[Table]:
    return list(SQLModel.metadata.sorted_tables)


def _self_references(table: Table) -> list[str]:
    return sorted(
        fk.parent.name for fk in table.foreign_keys if fk.column.table is table
    )


def _row_count(conn, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _same_database(source: Database, target: Database) -> bool:
    if source.is_sqlite and target.is_sqlite and source.path and target.path:
        try:
            return source.path.resolve() == target.path.resolve()
        except OSError:
            return False
    return source.url == target.url


def copy_database(
    source: Database,
    target: Database,
    *,
    progress: Callable[[str, int], None] | None = None,
    batch: int = BATCH,
) -> list[CopiedTable]:
    """Copy every row of `source` into the empty `target`. Returns the row count per table."""
    if _same_database(source, target):
        raise DatabaseError("db copy: the target is the source database")
    ensure_schema(source)
    ensure_schema(target, backup=False)
    tables = _tables()
    with target.write_engine.connect() as check:
        for table in tables:
            if table.name in _SKIP_EMPTY_CHECK:
                continue
            if _row_count(check, table):
                raise DatabaseError(
                    f"db copy: {target.display_name} is not empty (table {table.name} has rows); "
                    "copy into a new, empty database"
                )
    copied: list[CopiedTable] = []
    with source.read_engine.connect() as src, target.write_engine.begin() as dst:
        if not source.is_sqlite:
            # One snapshot for every table (SQLite's read transaction is one already).
            src = src.execution_options(isolation_level="REPEATABLE READ")
        for table in tables:
            count = _copy_table(src, dst, table, batch)
            copied.append(CopiedTable(table.name, count))
            if progress:
                progress(table.name, count)
        if dst.dialect.name == "postgresql":
            _fix_sequences(dst, tables)
        for entry in copied:
            have = _row_count(dst, SQLModel.metadata.tables[entry.name])
            if have != entry.rows:
                raise DatabaseError(
                    f"db copy: {entry.name} has {have} rows in the target, {entry.rows} in the source; "
                    "nothing was copied"
                )
    return copied


def _copy_table(src, dst, table: Table, batch: int) -> int:
    if table.name == "meta":
        dst.execute(table.delete())
    self_refs = _self_references(table)
    order = list(table.primary_key.columns)
    result = src.execution_options(yield_per=batch).execute(select(table).order_by(*order))
    count = 0
    later: list[dict] = []
    pk_names = [c.name for c in order]
    for chunk in result.mappings().partitions(batch):
        rows = [dict(r) for r in chunk]
        if self_refs:
            for row in rows:
                refs = {name: row[name] for name in self_refs if row[name] is not None}
                if refs:
                    later.append({**{f"pk_{k}": row[k] for k in pk_names}, **{f"v_{k}": v for k, v in refs.items()}})
                    for name in refs:
                        row[name] = None
        dst.execute(table.insert(), rows)
        count += len(rows)
    for name in self_refs:
        params = [p for p in later if f"v_{name}" in p]
        for start in range(0, len(params), batch):
            statement = (
                update(table)
                .where(*(table.c[k] == bindparam(f"pk_{k}") for k in pk_names))
                .values({name: bindparam(f"v_{name}")})
            )
            part = [{**{f"pk_{k}": p[f"pk_{k}"] for k in pk_names}, f"v_{name}": p[f"v_{name}"]}
                    for p in params[start:start + batch]]
            dst.execute(statement, part)
    return count


def _fix_sequences(dst, tables: list[Table]) -> None:
    """Move each serial id's sequence past the largest copied id."""
    for table in tables:
        id_column = table.c.get("id")
        if id_column is None or not id_column.primary_key or len(table.primary_key.columns) != 1:
            continue
        sequence = dst.execute(
            text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
        ).scalar()
        if sequence is None:
            continue
        dst.execute(
            text(
                f'SELECT setval(:s, COALESCE((SELECT max(id) FROM "{table.name}"), 1), '
                f'(SELECT max(id) FROM "{table.name}") IS NOT NULL)'
            ),
            {"s": sequence},
        )
