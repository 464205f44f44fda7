"""SQLite under load: many writer processes, a reader and a daemon on one database file.

    uv run python benchmarks/stress.py                   # full size: 10 writers x 200 writes
    uv run python benchmarks/stress.py --writers 4 --writes 50 --db /tmp/x.sqlite3

Each writer process acts as its own rep and does, round robin, through the services and
`Database.transact` (exactly as the app and the command line do):

- create a contact;
- increment a shared counter (the expected revenue of one of a few shared contacts) with
  `update_contact(expected_version=...)`, re-reading and retrying on ConflictError;
- plan an activity with a reminder that is already due (the daemon must queue exactly one mail);
- plan a to-do and mark it done;
- move its own opportunity to the next stage or back.

Meanwhile a reader process lists and counts contacts and polls the change counter, and a daemon
process runs reminder passes. Afterwards the final state must be exactly what the operations
imply: no lost increment, no lost or doubled row, one mail per reminder, and no error (no
"database is locked") reaching any caller. tests/concurrency/test_stress.py runs a small size
of this in CI; this script prints a table of timings.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

SHARED_CONTACTS = 3
FROZEN_NOW = "2026-11-23T10:00:00+01:00"
"""Every process runs at this moment (CRM_NOW): reminders planned for today are due already."""
OPS = ("create", "increment", "remind", "complete", "move")
DEADLINE = 600.0


@dataclass
class WorkerReport:
    index: int
    counts: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    moves: int = 0


@dataclass
class ReaderReport:
    reads: int = 0
    versions_seen: int = 0
    went_backwards: bool = False
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


@dataclass
class DaemonReport:
    passes: int = 0
    queued: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class StressResult:
    writers: int
    writes: int
    seconds: float
    workers: list[WorkerReport]
    reader: ReaderReport
    daemon: DaemonReport | None
    problems: list[str]
    final: dict[str, object]

    @property
    def ok(self) -> bool:
        return not self.problems


def _settings():
    from crm_tui.config import RequiredSettings, Settings

    return Settings(required=RequiredSettings(prospect=("name",)))


def _env() -> None:
    os.environ["CRM_NOW"] = FROZEN_NOW


# -- set-up ------------------------------------------------------------------------------------


def prepare(path: str | Path, writers: int) -> dict[str, object]:
    """A fresh database with the defaults, an admin, one rep per writer (team Stress) and the
    shared contacts (assigned to the team)."""
    _env()
    from crm_tui.db.engine import open_database
    from crm_tui.db.migrate import ensure_schema
    from crm_tui.models import Team, TeamMember, User
    from crm_tui.services.contacts import create_contact
    from crm_tui.services.defaults import install_defaults
    from crm_tui.services.identity import actor_for
    from crm_tui.services.opportunities import create_opportunity

    settings = _settings()
    db = open_database(path)
    try:
        ensure_schema(db, backup=False)
        with db.write() as session:
            install_defaults(session)
            admin = User(login="boss", name="Boss", role="admin", email="boss@example.test")
            team = Team(name="Stress")
            session.add_all([admin, team])
            session.flush()
            for index in range(writers):
                user = User(login=f"w{index}", name=f"Writer {index}", role="rep",
                            email=f"w{index}@example.test", timezone="Europe/Berlin")
                session.add(user)
                session.flush()
                session.add(TeamMember(team_id=team.id, user_id=user.id))
            session.flush()
            boss = actor_for(session, admin, settings)
            shared = [
                create_contact(session, boss, {"name": f"Shared {n}", "status": "customer",
                                               "assigned_to": "team:Stress", "expected_revenue": "0"},
                               settings=settings, auto_plan=False).id
                for n in range(SHARED_CONTACTS)
            ]
            homes, opportunities = [], []
            for index in range(writers):
                home = create_contact(session, boss, {"name": f"Home {index}", "status": "customer",
                                                      "assigned_to": f"w{index}"},
                                      settings=settings, auto_plan=False)
                homes.append(home.id)
                opportunities.append(create_opportunity(
                    session, boss, {"title": f"Deal {index}", "contact": home.id, "owner": f"w{index}"},
                    settings=settings).id)
        return {"shared": shared, "homes": homes, "opportunities": opportunities}
    finally:
        db.dispose()


# -- the processes -----------------------------------------------------------------------------


def _timed(report_latencies: dict[str, list[float]], op: str, started: float) -> None:
    report_latencies.setdefault(op, []).append(time.perf_counter() - started)


def writer(path: str, index: int, writes: int, plan: dict, barrier, results) -> None:
    _env()
    report = WorkerReport(index)
    try:
        from sqlmodel import select

        from crm_tui.db.engine import open_database
        from crm_tui.models import User
        from crm_tui.services.activities import plan_activity
        from crm_tui.services.chaining import mark_done
        from crm_tui.services.contacts import create_contact, get_contact, update_contact
        from crm_tui.services.errors import ConflictError
        from crm_tui.services.identity import actor_for
        from crm_tui.services.opportunities import move_next, move_previous

        settings = _settings()
        db = open_database(path)
        with db.read() as session:
            me = actor_for(session, session.exec(select(User).where(User.login == f"w{index}")).one(), settings)
        home, opportunity = plan["homes"][index], plan["opportunities"][index]
        barrier.wait(timeout=60)
        for number in range(writes):
            op = OPS[(number + index) % len(OPS)]
            started = time.perf_counter()
            try:
                if op == "create":
                    db.transact(lambda s, n=number: create_contact(
                        s, me, {"name": f"W{index} contact {n}", "status": "customer", "phone": "0271 555"},
                        settings=settings, auto_plan=False))
                elif op == "increment":
                    target = plan["shared"][(number + index) % SHARED_CONTACTS]
                    while True:
                        with db.read() as session:
                            loaded = get_contact(session, me, target)
                        amount = (loaded.expected_revenue or Decimal(0)) + 1
                        try:
                            db.transact(lambda s, t=target, v=loaded.version, a=amount: update_contact(
                                s, me, t, {"expected_revenue": a}, expected_version=v,
                                settings=settings))
                            break
                        except ConflictError:
                            report.conflicts += 1
                elif op == "remind":
                    db.transact(lambda s, n=number: plan_activity(
                        s, me, {"type": "reminder", "contact_id": home, "due": "2026-11-23",
                                "reminder_minutes": 0, "summary": f"remind {index}/{n}"},
                        settings=settings))
                elif op == "complete":
                    activity = db.transact(lambda s, n=number: plan_activity(
                        s, me, {"type": "todo", "contact_id": home, "due": "2026-11-24",
                                "summary": f"todo {index}/{n}"}, settings=settings).id)
                    db.transact(lambda s, a=activity: mark_done(s, me, a, "done under load", settings=settings))
                elif op == "move":
                    move = move_next if report.moves % 2 == 0 else move_previous
                    db.transact(lambda s, m=move: m(s, me, opportunity))
                    report.moves += 1
                report.counts[op] = report.counts.get(op, 0) + 1
            except Exception as error:  # noqa: BLE001 - every error reaching a caller is a failure
                report.errors.append(f"{op}: {type(error).__name__}: {error}")
            _timed(report.latencies, op, started)
        db.dispose()
    except Exception:  # noqa: BLE001
        report.errors.append(traceback.format_exc())
    results.put(("writer", report))


def reader(path: str, stop, barrier, results) -> None:
    _env()
    report = ReaderReport()
    try:
        from crm_tui.db.engine import open_database
        from crm_tui.models import User
        from crm_tui.services.conflicts import data_version
        from crm_tui.services.contacts import count_contacts, list_contacts
        from crm_tui.services.identity import actor_for

        db = open_database(path)
        with db.read() as session:
            from sqlmodel import select

            me = actor_for(session, session.exec(select(User).where(User.login == "boss")).one(), _settings())
        barrier.wait(timeout=60)
        last = -1
        while not stop.is_set():
            started = time.perf_counter()
            try:
                with db.read() as session:
                    version = data_version(session)
                    list_contacts(session, me, sort="name", offset=0, limit=60)
                    count_contacts(session, me)
                if version < last:
                    report.went_backwards = True
                if version != last:
                    report.versions_seen += 1
                last = version
                report.reads += 1
            except Exception as error:  # noqa: BLE001
                report.errors.append(f"{type(error).__name__}: {error}")
            report.latencies.append(time.perf_counter() - started)
        db.dispose()
    except Exception:  # noqa: BLE001
        report.errors.append(traceback.format_exc())
    results.put(("reader", report))


def daemon(path: str, stop, barrier, results) -> None:
    _env()
    report = DaemonReport()
    try:
        import logging

        from crm_tui.daemon import Daemon
        from crm_tui.db.engine import open_database

        db = open_database(path)
        quiet = logging.getLogger("crm.stress.daemon")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        barrier.wait(timeout=60)
        while not stop.is_set():
            summary = Daemon(db, _settings(), logger=quiet).run_once()
            report.passes += 1
            report.queued += summary.queued
            report.errors.extend(summary.errors)
        db.dispose()
    except Exception:  # noqa: BLE001
        report.errors.append(traceback.format_exc())
    results.put(("daemon", report))


def daemon_available() -> bool:
    try:
        import crm_tui.daemon  # noqa: F401
    except ImportError:
        return False
    return True


# -- running and checking -------------------------------------------------------------------------

PRELOAD = [
    "crm_tui.services.contacts", "crm_tui.services.activities", "crm_tui.services.chaining",
    "crm_tui.services.opportunities", "crm_tui.services.conflicts", "crm_tui.db.engine",
]


def _context():
    """A fork server that has imported the services once: every process starts in milliseconds
    instead of importing SQLAlchemy anew, and no process inherits a parent's connections or
    threads (as plain fork would)."""
    context = mp.get_context("forkserver")
    preload = [*PRELOAD, __name__] if __name__ != "__main__" else PRELOAD
    if daemon_available():
        preload.append("crm_tui.daemon")
    context.set_forkserver_preload(preload)
    return context


def run(path: str | Path, writers: int = 10, writes: int = 200, *, with_daemon: bool | None = None,
        deadline: float = DEADLINE) -> StressResult:
    """Run the stress on `path` (an SQLite file to create, or the URL of an empty database)."""
    path = str(path)
    plan = prepare(path, writers)
    with_daemon = daemon_available() if with_daemon is None else with_daemon
    context = _context()
    helpers = 1 + (1 if with_daemon else 0)
    barrier = context.Barrier(writers + helpers + 1)
    stop = context.Event()
    results = context.Queue()
    processes = [
        context.Process(target=writer, args=(str(path), i, writes, plan, barrier, results), name=f"writer-{i}")
        for i in range(writers)
    ]
    processes.append(context.Process(target=reader, args=(str(path), stop, barrier, results), name="reader"))
    if with_daemon:
        processes.append(context.Process(target=daemon, args=(str(path), stop, barrier, results), name="daemon"))
    for process in processes:
        process.start()
    problems: list[str] = []
    workers: list[WorkerReport] = []
    reader_report, daemon_report = ReaderReport(), DaemonReport() if with_daemon else None
    end = time.monotonic() + deadline
    try:
        barrier.wait(timeout=120)
        started = time.perf_counter()
        while len(workers) < writers:
            kind, report = results.get(timeout=max(end - time.monotonic(), 0.1))
            if kind == "writer":
                workers.append(report)
            else:  # a helper that died early
                problems.extend(f"{kind}: {e}" for e in report.errors)
                if kind == "reader":
                    reader_report = report
                else:
                    daemon_report = report
        seconds = time.perf_counter() - started
        stop.set()
        for _ in range(helpers):
            kind, report = results.get(timeout=max(end - time.monotonic(), 0.1))
            if kind == "reader":
                reader_report = report
            else:
                daemon_report = report
    except Exception as error:  # noqa: BLE001 - a hung run is reported, not left behind
        problems.append(f"run did not finish: {type(error).__name__}: {error}")
        seconds = float("nan")
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=max(end - time.monotonic(), 5))
            if process.is_alive():
                process.kill()
                problems.append(f"{process.name} did not finish")
    workers.sort(key=lambda w: w.index)
    for report in workers:
        problems.extend(f"writer {report.index}: {e}" for e in report.errors)
    problems.extend(f"reader: {e}" for e in reader_report.errors)
    if reader_report.went_backwards:
        problems.append("reader: the change counter went backwards")
    if daemon_report is not None:
        problems.extend(f"daemon: {e}" for e in daemon_report.errors)
    final = check(path, plan, workers, writers, writes, with_daemon, problems)
    return StressResult(writers, writes, seconds, workers, reader_report, daemon_report, problems, final)


def check(path: str, plan: dict, workers: list[WorkerReport], writers: int, writes: int,
          with_daemon: bool, problems: list[str]) -> dict[str, object]:
    """Compare the final database with what the operations imply; append what differs."""
    _env()
    from sqlalchemy import func, text
    from sqlmodel import col, select

    from crm_tui.db.engine import open_database
    from crm_tui.models import Activity, Contact, HistoryEntry, Opportunity, OutboxMail, Stage

    done = {op: sum(w.counts.get(op, 0) for w in workers) for op in OPS}
    planned = {op: sum(1 for w in range(writers) for n in range(writes) if OPS[(n + w) % len(OPS)] == op)
               for op in OPS}
    if done != planned:
        problems.append(f"operations done {done} != planned {planned}")
    db = open_database(path)
    try:
        if with_daemon:
            from crm_tui.daemon import Daemon

            Daemon(db, _settings()).run_once()  # the pass that finds whatever came last
        with db.read() as s:
            def count(model, *where) -> int:
                return s.exec(select(func.count()).select_from(model).where(*where)).one()

            final = {
                "contacts": count(Contact),
                "shared_total": sum(
                    (s.get(Contact, cid).expected_revenue or Decimal(0)) for cid in plan["shared"]
                ),
                "increment_rows": count(HistoryEntry, HistoryEntry.action == "change",
                                        HistoryEntry.field == "expected_revenue",
                                        col(HistoryEntry.contact_id).in_(plan["shared"])),
                "reminders": count(Activity, Activity.summary.like("remind %")),
                "done": count(Activity, Activity.status == "done"),
                "reminder_mails": count(OutboxMail, OutboxMail.kind == "reminder"),
                "integrity": s.exec(text("PRAGMA integrity_check")).scalar() if db.is_sqlite else "ok",
            }
            expect = {
                "contacts": SHARED_CONTACTS + writers + planned["create"],
                "shared_total": Decimal(planned["increment"]),
                "increment_rows": planned["increment"],
                "reminders": planned["remind"],
                "done": planned["complete"],
                "integrity": "ok",
            }
            if with_daemon:
                expect["reminder_mails"] = planned["remind"]
            for key, value in expect.items():
                if final[key] != value:
                    problems.append(f"final {key}: {final[key]} != expected {value}")
            for report in workers:
                opportunity = s.get(Opportunity, plan["opportunities"][report.index])
                stage = s.get(Stage, opportunity.stage_id)
                first = s.exec(select(func.min(Stage.position)).where(Stage.pipeline_id == opportunity.pipeline_id)).one()
                moved = count(HistoryEntry, HistoryEntry.opportunity_id == opportunity.id, HistoryEntry.action == "stage")
                expected_position_is_first = report.moves % 2 == 0
                if (stage.position == first) != expected_position_is_first or moved < report.moves:
                    problems.append(f"writer {report.index}: opportunity in stage {stage.name} after "
                                    f"{report.moves} moves ({moved} stage rows)")
        return final
    finally:
        db.dispose()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(result: StressResult) -> str:
    lines = [
        f"{result.writers} writers x {result.writes} writes, 1 reader, "
        f"{'1 daemon' if result.daemon is not None else 'no daemon'}: {result.seconds:.1f} s, "
        f"{result.writers * result.writes / result.seconds:.0f} operations/s",
        "",
        f"{'operation':<12}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}",
    ]
    for op in OPS:
        values = [v for w in result.workers for v in w.latencies.get(op, [])]
        lines.append(f"{op:<12}{len(values):>8}{_pct(values, .5) * 1000:>10.1f}"
                     f"{_pct(values, .95) * 1000:>10.1f}{max(values, default=float('nan')) * 1000:>10.1f}")
    reads = result.reader.latencies
    lines.append(f"{'read':<12}{len(reads):>8}{_pct(reads, .5) * 1000:>10.1f}"
                 f"{_pct(reads, .95) * 1000:>10.1f}{max(reads, default=float('nan')) * 1000:>10.1f}")
    lines.append("")
    lines.append(f"conflicts retried: {sum(w.conflicts for w in result.workers)}; "
                 f"change counter values seen by the reader: {result.reader.versions_seen}")
    if result.daemon is not None:
        lines.append(f"daemon passes: {result.daemon.passes}, reminders queued: {result.daemon.queued}")
    lines.append(f"final: {result.final}")
    lines.append("OK: nothing lost, no error reached a caller" if result.ok else "PROBLEMS:")
    lines.extend(f"  {p}" for p in result.problems[:20])
    return "\n".join(lines)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=10)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--db", help="database file to create, or the URL of an empty database "
                        "(default: a temporary file)")
    parser.add_argument("--no-daemon", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm-stress-") as folder:
        path = args.db or str(Path(folder) / "stress.sqlite3")
        if "://" not in path and Path(path).exists():
            parser.error(f"{path} exists already")
        result = run(path, args.writers, args.writes, with_daemon=False if args.no_daemon else None)
    print(table(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
