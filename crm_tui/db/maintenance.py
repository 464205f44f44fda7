"""Integrity checks of a database (`crm db check`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from crm_tui.db.engine import Database
from crm_tui.db.migrate import HEAD_REVISION, current_revision


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def check_database(db: Database) -> list[CheckResult]:
    revision = current_revision(db)
    results = [
        CheckResult("schema", revision == HEAD_REVISION, f"revision {revision or 'none'} (head {HEAD_REVISION})")
    ]
    with db.read_engine.connect() as conn:
        if db.is_sqlite:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            results.append(CheckResult("integrity", rows == ["ok"], "; ".join(rows[:5])))
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            results.append(
                CheckResult("foreign keys", not broken, f"{len(broken)} broken references" if broken else "ok")
            )
    if db.is_sqlite and revision is not None:
        # The FTS integrity check is a write-style command; run it in a transaction we roll back.
        with db.write_engine.connect() as conn:
            try:
                conn.exec_driver_sql("INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('integrity-check', 1)")
                results.append(CheckResult("full-text index", True, "ok"))
            except Exception as error:  # noqa: BLE001 - reported, not raised
                results.append(CheckResult("full-text index", False, str(getattr(error, "orig", error))))
            finally:
                conn.rollback()
    if not db.is_sqlite:
        with db.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        results.append(CheckResult("connection", True, "ok"))
    return results
