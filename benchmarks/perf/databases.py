"""A demo database per scale, built once with `crm demo` and reused while it is at the schema head.

`benchmarks/dbs/<scale>.sqlite3` with `<scale>.json` beside it (what was built, when, how long
`crm demo` took, the scenario's ids). A database at an older schema revision, or made for an older
scenario, is built again: the demo generation is itself one of the measurements.

The scenarios the targets name, added after the demo data (the same at every scale, sized by it):

- a pipeline "Benchmark board" holding 0.3 x contacts open opportunities (300,000 at 1m; the
  demo spreads its ~110,000 open ones per pipeline over two pipelines, short of the 300k the
  target names), one per contact, in its open stages, with due dates and revenue varied by id;
- a user `bench.agenda` with min(20,000, a third of the open activities) open activities
  (20,000 from 100k on);
- 100 open activities whose reminders the daemon benchmark makes due before each tick;
- today's follow-up run marked as made, so that a tick is the steady-state one (reminders and
  delivery), not the once-a-day follow-up run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from perf.common import DBS_DIR, LOGIN, SCALES, bench_env, crm_command, log

SCENARIO_VERSION = 1
BOARD_PIPELINE = "Benchmark board"
BOARD_SHARE = 0.3
AGENDA_LOGIN = "bench.agenda"
AGENDA_OPEN = 20_000
DUE_REMINDERS = 100


@dataclass(frozen=True)
class BenchDb:
    scale: str
    path: Path
    info: dict
    reused: bool

    @property
    def contacts(self) -> int:
        return SCALES[self.scale]


def head_revision() -> str:
    from crm_tui.db.revision import HEAD_REVISION

    return HEAD_REVISION


def _revision(path: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _sidecar(scale: str) -> Path:
    return DBS_DIR / f"{scale}.json"


def db_path(scale: str) -> Path:
    return DBS_DIR / f"{scale}.sqlite3"


def ensure_db(scale: str, *, rebuild: bool = False) -> BenchDb:
    """The database of `scale`, built if missing, stale or asked for."""
    path = db_path(scale)
    sidecar = _sidecar(scale)
    if not rebuild and path.exists() and sidecar.exists():
        info = json.loads(sidecar.read_text())
        revision = _revision(path)
        if revision == head_revision() and info.get("scenario_version") == SCENARIO_VERSION:
            return BenchDb(scale, path, info, reused=True)
        log(f"[{scale}] {path.name} is at {revision} / scenario {info.get('scenario_version')}, "
            f"not {head_revision()} / {SCENARIO_VERSION}: building it again")
    return _build(scale)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", ".migrate.lock"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()


def _build(scale: str) -> BenchDb:
    DBS_DIR.mkdir(parents=True, exist_ok=True)
    path = db_path(scale)
    _remove(path)
    _sidecar(scale).unlink(missing_ok=True)
    contacts = SCALES[scale]
    log(f"[{scale}] crm demo --contacts {contacts:,} ...")
    command = [*crm_command(), "--db", str(path), "--user", LOGIN, "demo", "--contacts", str(contacts)]
    started = time.perf_counter()
    done = subprocess.run(command, env=bench_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"crm demo failed ({done.returncode}):\n{done.stderr}")
    log(f"[{scale}] {done.stdout.strip()} ({seconds:.1f} s wall clock)")
    info = {
        "scale": scale,
        "contacts": contacts,
        "revision": _revision(path),
        "scenario_version": SCENARIO_VERSION,
        "built_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "demo_seconds": round(seconds, 2),
        "demo_output": done.stdout.strip(),
        "load_average_at_build": os.getloadavg()[0],
    }
    started = time.perf_counter()
    info.update(_add_scenarios(path, contacts))
    log(f"[{scale}] scenarios added in {time.perf_counter() - started:.1f} s")
    _sidecar(scale).write_text(json.dumps(info, indent=2) + "\n")
    return BenchDb(scale, path, info, reused=False)


# -- scenarios -------------------------------------------------------------------------------


def _add_scenarios(path: Path, contacts: int) -> dict:
    """Board pipeline, agenda user, due-reminder candidates, today's follow-up run made."""
    from sqlmodel import col, select

    from crm_tui import clock
    from crm_tui.config import get_settings
    from crm_tui.db.engine import open_database
    from crm_tui.models import Activity, Meta, Pipeline, Stage, User
    from crm_tui.services.followups import GATE_KEY, latest_run

    db = open_database(path)
    now = clock.now()
    settings = get_settings()
    info: dict = {}
    try:
        with db.write() as session:
            template = session.exec(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).first()
            pipeline = Pipeline(name=BOARD_PIPELINE, position=99, followup_enabled=False)
            session.add(pipeline)
            session.flush()
            stages = session.exec(
                select(Stage).where(Stage.pipeline_id == template.id).order_by(Stage.position)
            ).all()
            for stage in stages:
                session.add(Stage(
                    pipeline_id=pipeline.id, name=stage.name, position=stage.position,
                    probability=stage.probability, duration_days=stage.duration_days,
                    is_won=stage.is_won, is_lost=stage.is_lost,
                ))
            agenda_user = User(login=AGENDA_LOGIN, name="Agenda Benchmark", role="rep",
                               email=f"{AGENDA_LOGIN}@example.test", timezone="Europe/Berlin")
            session.add(agenda_user)
            gate = session.get(Meta, GATE_KEY)
            if gate is None:
                session.add(Meta(key=GATE_KEY, value=latest_run(now, settings).isoformat()))
            else:
                gate.value = latest_run(now, settings).isoformat()
            session.flush()
            info["board_pipeline_id"] = pipeline.id
            open_stages = [
                (s.id, s.probability)
                for s in session.exec(
                    select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
                ).all()
                if not (s.is_won or s.is_lost)
            ]
            agenda_user_id = agenda_user.id
            # Due-reminder candidates: open, unpaused, assigned to an active user with an address.
            reminder_ids = session.exec(
                select(Activity.id)
                .join(User, col(User.id) == col(Activity.assigned_user_id))
                .where(col(Activity.status) == "planned", ~col(Activity.paused),
                       col(User.active), col(User.email) != "")
                .order_by(col(Activity.id))
                .limit(DUE_REMINDERS)
            ).all()
            info["reminder_ids"] = list(reminder_ids)
    finally:
        db.dispose()

    # Bulk rows in plain SQL: one statement each, as a script of the demo would.
    board_open = int(contacts * BOARD_SHARE)
    stage_case = " ".join(
        f"WHEN {i} THEN {stage_id}" for i, (stage_id, _p) in enumerate(open_stages)
    )
    probability_case = " ".join(
        f"WHEN {i} THEN {probability}" for i, (_s, probability) in enumerate(open_stages)
    )
    count = len(open_stages)
    today = clock.today(settings.general.timezone).isoformat()
    now_stored = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    conn = sqlite3.connect(path, timeout=60)
    try:
        with conn:
            conn.execute(
                f"""
                INSERT INTO opportunities (
                    title, contact_id, pipeline_id, stage_id, expected_revenue, currency,
                    probability, probability_overridden, owner_id, expected_close, description,
                    stage_entered_at, status, lost_reason_id, lost_note, closed_at,
                    next_activity_due, followup_first_at, followup_count, created_at, updated_at,
                    version)
                SELECT 'Benchmark deal ' || c.id, c.id, :pipeline,
                       CASE c.id % {count} {stage_case} END,
                       (c.id % 997) * 100 + 50, 'EUR',
                       CASE c.id % {count} {probability_case} END, 0,
                       coalesce(c.assigned_user_id, c.created_by_id),
                       date(:today, '+' || (7 + c.id % 170) || ' days'), '',
                       strftime('%Y-%m-%d %H:%M:%S.000000', :now, '-' || (c.id % 120) || ' days'),
                       'open', NULL, '', NULL,
                       CASE WHEN c.id % 4 = 0 THEN NULL
                            ELSE date(:today, ((c.id % 91) - 30) || ' days') END,
                       NULL, 0, c.created_at, c.created_at, 1
                FROM contacts c ORDER BY c.id LIMIT :limit
                """,
                {"pipeline": info["board_pipeline_id"], "today": today, "now": now_stored,
                 "limit": board_open},
            )
            planned = conn.execute("SELECT count(*) FROM activities WHERE status = 'planned'").fetchone()[0]
            agenda_open = min(AGENDA_OPEN, planned // 3)
            conn.execute(
                "UPDATE activities SET assigned_user_id = ?, assigned_team_id = NULL WHERE id IN ("
                "SELECT id FROM activities WHERE status = 'planned' ORDER BY id DESC LIMIT ?)",
                (agenda_user_id, agenda_open),
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    info.update(board_open=board_open, agenda_login=AGENDA_LOGIN, agenda_open=agenda_open)
    return info
