"""Ten writer processes, a reader and the daemon on one SQLite file (and a smaller run on
PostgreSQL): exactly the expected final state, no lost update, no error reaching a caller.

The full size (10 x 200) is `uv run python benchmarks/stress.py`; CI runs 10 x 40.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for `benchmarks.stress` here and in the worker processes

from benchmarks import stress  # noqa: E402

pytestmark = pytest.mark.slow


def _explain(result: stress.StressResult) -> str:
    return stress.table(result)


def test_ten_writers_a_reader_and_the_daemon_on_sqlite(tmp_path):
    if not stress.daemon_available():
        pytest.fail("crm_tui.daemon is missing: the stress test runs a daemon beside the writers")
    result = stress.run(tmp_path / "stress.sqlite3", writers=10, writes=40, deadline=240)
    assert result.ok, _explain(result)
    assert result.daemon is not None and result.daemon.passes >= 1
    assert result.reader.reads > 0 and result.reader.versions_seen > 1
    assert sum(w.conflicts for w in result.workers) >= 0  # retried, never surfaced
    print(_explain(result))


@pytest.mark.postgres
def test_writers_a_reader_and_the_daemon_on_postgres(pg_database_factory):
    result = stress.run(pg_database_factory(migrated=False), writers=6, writes=20, deadline=240)
    assert result.ok, _explain(result)
