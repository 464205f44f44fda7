"""A long reader never blocks writers, and the WAL shrinks once it has closed (SQLite).

A reader in this process holds one snapshot open while a writer process commits many
transactions; the writer must finish while the reader is still open (were it blocked, it would
never finish and the deadline would fail the test). The WAL grows meanwhile, because nothing
behind the reader's snapshot can be checkpointed; after the reader closes, the next writes
checkpoint and reset it down to the size limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from sqlalchemy import func
from sqlmodel import select

from crm_tui.db.engine import WAL_SIZE_LIMIT, Database
from crm_tui.models import Contact

WRITER = textwrap.dedent("""
    import sys
    from sqlalchemy import insert
    from crm_tui import clock
    from crm_tui.db.engine import open_database
    from crm_tui.models import Contact

    db = open_database(sys.argv[1])
    now = clock.now()
    text = "x" * 3000
    for batch in range(int(sys.argv[2])):
        rows = [dict(name=f"W{batch}-{n}", description=text, status="customer", kind="person",
                     created_at=now, updated_at=now) for n in range(100)]
        with db.write() as session:
            session.exec(insert(Contact), params=rows)
    db.dispose()
    print("done", flush=True)
""")
BATCHES = 30
"""30 transactions of 100 contacts with 3 KB each: about 9 MB of WAL, well above the limit."""


def _wal_size(db: Database) -> int:
    wal = db.path.with_name(db.path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _count(session) -> int:
    return session.exec(select(func.count()).select_from(Contact)).one()


def test_a_long_reader_does_not_block_writers_and_the_wal_shrinks_after(sqlite_db: Database):
    db = sqlite_db
    with db.read() as reader:
        before = _count(reader)  # the snapshot starts here and is held until the block ends
        writer = subprocess.run(
            [sys.executable, "-c", WRITER, str(db.path), str(BATCHES)],
            capture_output=True, text=True, timeout=120, env=dict(os.environ), stdin=subprocess.DEVNULL,
        )
        assert writer.returncode == 0 and writer.stdout.strip() == "done", writer.stderr
        assert _count(reader) == before, "the reader's snapshot moved"
        grown = _wal_size(db)
        assert grown > 2 * WAL_SIZE_LIMIT, f"WAL only {grown} bytes while the reader held it"
    with db.read() as session:
        assert _count(session) == before + BATCHES * 100
    for _ in range(2):  # a commit checkpoints; the next write resets (and truncates) the WAL
        with db.write() as session:
            session.add(Contact(name="after", status="customer"))
    assert _wal_size(db) <= WAL_SIZE_LIMIT, f"WAL still {_wal_size(db)} bytes"
