"""The measured operations, one function per row (or pair of rows) of the issue's table.

Service calls run in this process through the same `Workspace.read` the app's workers use; whole
programs (`crm status`, the app) run as processes of their own. A comparison is always measured
in the same run, interleaved with what it is compared with (`common.alternate`).
"""

from __future__ import annotations

import csv
import json
import os
import pty
import random
import select
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perf.common import (
    DBS_DIR,
    LOGIN,
    REPO,
    Row,
    alternate,
    bench_env,
    crm_command,
    median,
    ms,
    p95,
    repeat,
    timed,
    verdict,
)
from perf.databases import AGENDA_LOGIN, BenchDb

HERE = Path(__file__).resolve().parent
SEARCH_TERMS = ("müller", "schmid", "kowals", "warsza", "wagner")
"""Typed a character at a time; the prefixes of 2 to 6 characters are measured."""
IMPORT_ROWS = 100_000
TERMINAL = (120, 40)


@dataclass
class Context:
    """What the operations of one run share."""

    repeat: int
    """Samples per in-process measurement (processes: fewer, see `process_repeat`)."""
    dbs: dict[str, BenchDb]
    reference: Callable[[], BenchDb]
    """The 10k database (built on first use when the run does not include 10k)."""
    workspaces: dict[tuple[str, str], object] = field(default_factory=dict)
    pilot_runs: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def process_repeat(self) -> int:
        return max(3, self.repeat // 2)

    def workspace(self, db: BenchDb, login: str = LOGIN):
        from crm_tui.workspace import open_workspace

        key = (str(db.path), login)
        if key not in self.workspaces:
            self.workspaces[key] = open_workspace(db.path, login)
        return self.workspaces[key]

    def close(self) -> None:
        for workspace in self.workspaces.values():
            workspace.close()
        self.workspaces.clear()


def _row(key, operation, db: BenchDb, samples_ms, comparison, target, ok, notes=(), unit="ms") -> Row:
    return Row(key, operation, db.scale, median(samples_ms), p95(samples_ms), unit, comparison,
               target, verdict(ok) if ok is not None else "INFO", list(notes))


# -- app start to first paint ----------------------------------------------------------------


def _paint_once(arguments: list[str]) -> float:
    """Seconds from starting `child_paint.py arguments` on a pseudo-terminal to its first paint."""
    master, slave = pty.openpty()
    import fcntl
    import termios

    columns, lines = TERMINAL
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    handle, report = tempfile.mkstemp(prefix="paint-", suffix=".txt")
    os.close(handle)
    env = bench_env(BENCH_PAINT_REPORT=report, TERM="xterm-256color", COLUMNS=str(columns),
                    LINES=str(lines))
    command = [sys.executable, str(HERE / "child_paint.py"), *arguments]
    started = time.time()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True, close_fds=True)
    os.close(slave)
    deadline = time.monotonic() + 120
    try:
        while process.poll() is None:  # drain the terminal so the app never blocks writing
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{command} did not paint within 120 s")
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    os.read(master, 1 << 16)
                except OSError:
                    break
        process.wait()
        text = Path(report).read_text().strip()
        if not text:
            raise RuntimeError(f"{command} exited ({process.returncode}) without painting rows")
        return float(text) - started
    finally:
        os.close(master)
        Path(report).unlink(missing_ok=True)


def first_paint(ctx: Context, db: BenchDb) -> list[Row]:
    runs = {
        "app": lambda: _paint_once(["app", "--db", str(db.path), "--user", LOGIN]),
        "bare": lambda: _paint_once(["bare"]),
    }
    samples: dict[str, list[float]] = {"app": [], "bare": []}
    rng = random.Random(1)
    for name in runs:  # warm the file cache and the bytecode
        runs[name]()
    for _ in range(ctx.process_repeat + 2):
        order = list(runs)
        rng.shuffle(order)
        for name in order:
            samples[name].append(ms(runs[name]()))
    app, bare = median(samples["app"]), median(samples["bare"])
    ratio = app / bare
    return [_row(
        "first_paint", "app start to first paint of the contact list with rows", db, samples["app"],
        f"bare Textual app {bare:.0f} ms -> {ratio:.2f}x", "<= 1.25x bare app", ratio <= 1.25,
        [f"{len(samples['app'])} starts each, alternating, on a {TERMINAL[0]}x{TERMINAL[1]} "
         "pseudo-terminal; from process start to the frame with rows"],
    )]


# -- search-as-you-type ----------------------------------------------------------------------

RAW_SEARCH = """
SELECT c.id, c.kind, c.name, c.first_name, c.company, c.status, c.city, c.phone, c.email,
       u.login, t.name, c.next_activity_due, c.customer_number
FROM contacts c
LEFT JOIN users u ON u.id = c.assigned_user_id
LEFT JOIN teams t ON t.id = c.assigned_team_id
WHERE c.id IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)
  AND c.status NOT IN ('archived', 'closed')
ORDER BY c.name, c.id
LIMIT 60
"""
"""The same rows as the service returns (the list's default filter and sort), in plain SQL."""
RAW_FTS_ONLY = "SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ? LIMIT 60"


def _prefixes() -> list[str]:
    return [term[:length] for term in SEARCH_TERMS for length in range(2, 7)]


def search(ctx: Context, db: BenchDb) -> list[Row]:
    from crm_tui.services import search as search_service
    from crm_tui.services.contacts import count_contacts, list_contacts
    from crm_tui.services.query import Filter
    from crm_tui.services.search import fts_query

    workspace = ctx.workspace(db)
    actor = workspace.actor
    raw = sqlite3.connect(f"file:{db.path}?mode=ro", uri=True, check_same_thread=False)
    service: dict[str, list[float]] = {}
    plain: dict[str, list[float]] = {}
    floor: dict[str, list[float]] = {}
    counts: list[float] = []
    hits: dict[str, int] = {}
    try:
        for prefix in _prefixes():
            filt = Filter(words=(prefix,))
            match = fts_query(prefix)

            def listed(filt=filt):
                # As when the prefix is typed: the service has not seen it before.
                getattr(search_service, "_hit_sizes", {}).clear()
                return workspace.read(lambda s: list_contacts(s, actor, filt, sort="name", limit=60))

            def counted(filt=filt):
                return workspace.read(lambda s: count_contacts(s, actor, filt))

            samples = alternate({
                "service": listed,
                "raw": lambda match=match: raw.execute(RAW_SEARCH, (match,)).fetchall(),
                "fts": lambda match=match: raw.execute(RAW_FTS_ONLY, (match,)).fetchall(),
            }, ctx.repeat, warmup=1)
            service[prefix] = [ms(t) for t in samples["service"]]
            plain[prefix] = [ms(t) for t in samples["raw"]]
            floor[prefix] = [ms(t) for t in samples["fts"]]
            counts.extend(ms(t) for t in repeat(counted, max(3, ctx.repeat // 3), warmup=0))
            hits[prefix] = counted()
    finally:
        raw.close()
    every = [value for values in service.values() for value in values]
    service_total = sum(median(v) for v in service.values())
    raw_total = sum(median(v) for v in plain.values())
    fts_total = sum(median(v) for v in floor.values())
    ratio = service_total / raw_total
    worst = max(service, key=lambda p: p95(service[p]))
    # The issue sets both targets at 1m; at smaller scales the ratio is fixed overhead (a
    # session and three statements through SQLAlchemy, about 1 ms) over a 0.4 ms query.
    at_target = db.scale == "1m"
    return [
        _row("search", "search-as-you-type, 2-6 characters: service call (60 rows)", db, every,
             f"raw SQLite same rows {raw_total / len(plain):.1f} ms avg -> {ratio:.2f}x",
             "p95 <= 30 ms; <= 2x raw (at 1m)",
             p95(every) <= 30 and (ratio <= 2 or not at_target),
             [f"{len(every)} calls: {len(service)} prefixes of {', '.join(SEARCH_TERMS)} "
              f"x {ctx.repeat}; slowest prefix {worst!r} (p95 {p95(service[worst]):.1f} ms, "
              f"{hits[worst]:,} hits)",
              f"the bare FTS5 MATCH ... LIMIT 60 (rowids, unsorted): {fts_total / len(floor):.2f} ms "
              "avg per prefix; the list needs the rows in name order with the default filter",
              "hits per prefix: " + ", ".join(f"{p} {h:,}" for p, h in hits.items())]),
        _row("search_count", "search-as-you-type: counting the hits (status line)", db, counts,
             "-", "(runs beside the rows)", None,
             ["the table draws its rows without waiting for this"]),
    ]


# -- keystroke to repaint, peak memory -------------------------------------------------------


def _pilot_once(db: BenchDb) -> dict:
    handle, output = tempfile.mkstemp(prefix="pilot-", suffix=".json")
    os.close(handle)
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / "child_pilot.py"), str(db.path), LOGIN, output],
            env=bench_env(), capture_output=True, text=True, timeout=900,
        )
        if done.returncode != 0:
            raise RuntimeError(f"child_pilot.py on {db.scale} failed:\n{done.stderr[-3000:]}")
        return json.loads(Path(output).read_text())
    finally:
        Path(output).unlink(missing_ok=True)


def _pilot_runs(ctx: Context, db: BenchDb, reference: BenchDb) -> tuple[list[dict], list[dict]]:
    """Runs of the Pilot child on `db` and on the 10k reference, alternating."""
    runs = max(2, ctx.process_repeat // 2)
    for _ in range(runs):
        for target in ([db] if db is reference else [db, reference]):
            done = ctx.pilot_runs.setdefault(target.scale, [])
            if len(done) < runs:
                done.append(_pilot_once(target))
    return ctx.pilot_runs[db.scale], ctx.pilot_runs[reference.scale]


def keystrokes(ctx: Context, db: BenchDb) -> list[Row]:
    reference = ctx.reference()
    runs, reference_runs = _pilot_runs(ctx, db, reference)
    rows = []
    for kind, label in (("scroll", "scrolling"), ("search", "search, 2-6 characters")):
        samples = [ms(s) for run in runs for s in run[kind]]
        base = [ms(s) for run in reference_runs for s in run[kind]]
        ratio = median(samples) / median(base)
        if db is reference:
            comparison, ok = "is the 10k reference", p95(samples) <= 50
        else:
            comparison = f"10k: median {median(base):.1f} / p95 {p95(base):.1f} ms -> {ratio:.2f}x"
            ok = p95(samples) <= 50 and ratio <= 2
        keys = runs[0][f"{kind}_keys" if kind == "scroll" else "search_texts"]
        slowest = max(range(len(runs[0][kind])), key=lambda i: runs[0][kind][i])
        rows.append(_row(
            f"keystroke_{kind}", f"keystroke to repaint, contact list (Pilot): {label}", db,
            samples, comparison, "p95 <= 50 ms; median <= 2x 10k", ok,
            [f"{len(samples)} keystrokes in {len(runs)} app runs; slowest in run 1: "
             f"{keys[slowest]!r} {ms(runs[0][kind][slowest]):.1f} ms",
             "search debounce (150 ms) set to 0; the list's rows drawn, not the count"],
        ))
    peaks = [run["peak_rss_mb"] for run in runs]
    base = [run["peak_rss_mb"] for run in reference_runs]
    rows.append(Row(
        "memory", "peak memory browsing and searching (RSS)", db.scale, max(peaks), max(peaks), "MB",
        "is the 10k reference" if db is reference else f"10k: {max(base):.0f} MB -> "
        f"+{max(peaks) - max(base):.0f} MB", "<= 200 MB", verdict(max(peaks) <= 200),
        [f"peak RSS (VmHWM) of the app process over the scrolling and search runs above "
         f"({len(runs)} runs: {', '.join(f'{p:.0f}' for p in peaks)} MB); highest while "
         f"{runs[peaks.index(max(peaks))].get('peak_at', '?')}"],
    ))
    return rows


# -- windows of the sorted, filtered list ----------------------------------------------------

WINDOW_LISTS = (
    ("", "name", False, "the list as it opens (default filter, by name)"),
    ("", "due", True, "default filter, by next activity, descending"),
    ("status:prospect", "company", False, "status:prospect by company"),
    ("assigned:@me", "name", False, "assigned:@me by name"),
)
"""Lists whose order an index gives (`tests/unit/test_query_plans.py` holds them to it). A
filter on another column combined with another sort (`assigned:@me` by next activity) is sorted
in memory for every window: see RESULTS.md."""


def windows(ctx: Context, db: BenchDb) -> list[Row]:
    from crm_tui.services import contacts as contact_service
    from crm_tui.services.query import parse

    try:
        from crm_tui.services import windows
    except ImportError:  # before the keyset windows existed
        windows = None

    workspace = ctx.workspace(db)
    actor = workspace.actor
    rows = []
    rng = random.Random(60)
    for query, sort, descending, label in WINDOW_LISTS:
        filt = parse(query, actor.today())
        total = workspace.read(
            lambda s, filt=filt: contact_service.count_contacts(s, actor, filt))
        last = max(total - 60, 0)
        offsets = [0, last, last // 2] + [rng.randint(0, last) for _ in range(ctx.repeat * 3)]

        def fetch(offset: int, filt=filt, sort=sort, descending=descending) -> list:
            return workspace.read(lambda s: contact_service.list_contacts(
                s, actor, filt, sort=sort, descending=descending, offset=offset, limit=60))

        forget = getattr(windows, "forget_all", None)
        if forget is not None:
            forget()
        cold, _ = timed(lambda fetch=fetch, last=last: fetch(last))
        samples = [ms(timed(lambda o=o, fetch=fetch: fetch(o))[0]) for o in offsets]
        notes = [f"{len(samples)} windows at random offsets of {total:,} rows (and the first, "
                 f"middle and last)",
                 f"the first jump to the end after a change of filter or data: {ms(cold):.1f} ms"]
        rows.append(_row(
            "window", f"fetch a 60-row window: {label}", db, samples, "-", "<= 10 ms (median)",
            median(samples) <= 10, notes,
        ))
    return rows


# -- board, agenda ---------------------------------------------------------------------------


def board(ctx: Context, db: BenchDb) -> list[Row]:
    from crm_tui.services.board import board_summary, stage_cards

    workspace = ctx.workspace(db)
    actor = workspace.actor
    pipeline_id = db.info["board_pipeline_id"]
    cards_per_column = 30  # screens.board.CARDS_PER_COLUMN

    def load(session):
        heads = board_summary(session, actor, pipeline_id)
        return heads, [stage_cards(session, actor, head.id, 0, cards_per_column) for head in heads]

    samples = [ms(s) for s in repeat(lambda: workspace.read(load), ctx.repeat)]
    heads, cards = workspace.read(load)
    shown = sum(head.open_count for head in heads)
    summary = repeat(lambda: workspace.read(lambda s: board_summary(s, actor, pipeline_id)),
                     ctx.repeat)
    return [_row(
        "board", "board: counts, totals and the first 30 cards of each column", db, samples,
        f"of which board_summary {median([ms(s) for s in summary]):.1f} ms", "<= 150 ms",
        median(samples) <= 150,
        [f"pipeline {db.info['board_pipeline_id']} 'Benchmark board': {shown:,} open "
         f"opportunities in {len(heads)} columns (the demo's own pipelines hold about "
         f"{int(db.contacts * 0.11):,} open ones each)"],
    )]


def agenda(ctx: Context, db: BenchDb) -> list[Row]:
    from crm_tui.services.agenda import my_activities, my_activities_total

    workspace = ctx.workspace(db, AGENDA_LOGIN)
    actor = workspace.actor
    samples = [ms(t) for t in repeat(
        lambda: workspace.read(lambda s: my_activities(s, actor, 0, 60)), ctx.repeat)]
    totals = [ms(t) for t in repeat(
        lambda: workspace.read(lambda s: my_activities_total(s, actor)), max(3, ctx.repeat // 2))]
    count, _revenue = workspace.read(lambda s: my_activities_total(s, actor))
    return [_row(
        "agenda", "My activities: first window (60 rows)", db, samples,
        f"the total line beside it: {median(totals):.1f} ms", "<= 50 ms", median(samples) <= 50,
        [f"user {AGENDA_LOGIN} with {count:,} open activities"],
    )]


# -- the daemon's tick -----------------------------------------------------------------------


def _arm_reminders(db: BenchDb, workspace) -> None:
    """Make the scenario's 100 reminders due (5 minutes ago) and unsent; forget earlier mails."""
    from datetime import timedelta

    from sqlalchemy import delete, update

    from crm_tui import clock
    from crm_tui.models import Activity, OutboxMail

    ids = db.info["reminder_ids"]
    table = Activity.__table__

    def arm(session):
        session.execute(delete(OutboxMail.__table__).where(OutboxMail.__table__.c.kind == "reminder"))
        session.execute(update(table).where(table.c.id.in_(ids)).values(
            remind_at=clock.now() - timedelta(minutes=5), reminder_queued_for=None))

    workspace.write(arm)


def _tick(db: BenchDb, workspace, daemon) -> float:
    _arm_reminders(db, workspace)
    seconds, summary = timed(daemon.tick)
    if summary.queued != len(db.info["reminder_ids"]) or summary.errors:
        raise RuntimeError(f"tick on {db.scale}: {summary}")
    return seconds


def daemon_tick(ctx: Context, db: BenchDb) -> list[Row]:
    import logging

    from crm_tui.config import get_settings
    from crm_tui.daemon import Daemon

    reference = ctx.reference()
    quiet = logging.getLogger("crm.remind.bench")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    targets = {db.scale: db} if db is reference else {db.scale: db, reference.scale: reference}
    daemons = {}
    for scale, target in targets.items():
        workspace = ctx.workspace(target)
        daemons[scale] = (target, workspace, Daemon(workspace.db, get_settings(), logger=quiet))
    samples = alternate({
        scale: (lambda t=t, w=w, d=d: _tick(t, w, d)) for scale, (t, w, d) in daemons.items()
    }, ctx.repeat, warmup=1)
    for target, workspace, _daemon in daemons.values():
        _arm_reminders(target, workspace)  # leave the reminders armed, the outbox empty
    mine = [ms(s) for s in samples[db.scale]]
    base = [ms(s) for s in samples[reference.scale]]
    from sqlalchemy import text

    activities = ctx.workspace(db).read(
        lambda s: s.execute(text("SELECT count(*) FROM activities")).scalar_one())
    return [_row(
        "daemon", "daemon tick with 100 due reminders", db, mine,
        "is the 10k reference" if db is reference
        else f"10k: {median(base):.1f} ms -> {median(mine) / median(base):.2f}x",
        "<= 20 ms", median(mine) <= 20,
        [f"Daemon.tick(): 100 reminders queued as 100 outbox mails and stamped, committed; "
         f"follow-up run of the day already made; no SMTP server (delivery not timed); "
         f"{activities:,} activities"],
    )]


# -- crm status ------------------------------------------------------------------------------


def _run_process(command: list[str]) -> Callable[[], None]:
    env = bench_env()

    def run() -> None:
        done = subprocess.run(command, env=env, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command}: {done.stderr.decode()[-2000:]}")

    return run


def status(ctx: Context, db: BenchDb) -> list[Row]:
    command = [*crm_command(), "--db", str(db.path), "--user", AGENDA_LOGIN, "status"]
    output = subprocess.run(command, env=bench_env(), capture_output=True, text=True).stdout.strip()
    samples = alternate({
        "status": _run_process(command),
        "python": _run_process([sys.executable, "-c", "pass"]),
    }, ctx.repeat, warmup=1)
    mine = [ms(s) for s in samples["status"]]
    python = median([ms(s) for s in samples["python"]])
    return [_row(
        "status", "`crm status`, the whole process", db, mine,
        f"python -c pass {python:.0f} ms -> +{median(mine) - python:.0f} ms", "<= 150 ms",
        median(mine) <= 150, [f"user {AGENDA_LOGIN}: {output!r}"],
    )]


# -- import ----------------------------------------------------------------------------------

FIRST = ("Anna", "Jürgen", "Łukasz", "Eva", "Hans", "Maria", "Piotr", "Sabine", "Tomasz", "Ute",
         "Zofia", "Jan", "Grzegorz", "Małgorzata", "Sören", "Björn")
LAST = ("Müller", "Schmidt", "Nowak", "Kowalski", "Schröder", "Wójcik", "Becker", "Weber",
        "Lewandowski", "Hoffmann", "Zieliński", "Koch", "Wagner", "Kamińska", "Schäfer", "Öztürk")
CITIES = (("Olpe", "57462", "NRW", "Deutschland"), ("Siegen", "57072", "NRW", "Deutschland"),
          ("Köln", "50667", "NRW", "Deutschland"), ("Gdańsk", "80-001", "pomorskie", "Polska"),
          ("Łódź", "90-001", "łódzkie", "Polska"), ("München", "80331", "Bayern", "Deutschland"))
SOURCES = ("Messe", "Website", "Empfehlung", "Kaltakquise", "Newsletter")


def import_file(rows: int = IMPORT_ROWS) -> Path:
    """A CSV of `rows` contacts as an export from another CRM looks (German headers, `;`)."""
    path = DBS_DIR / f"import-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(100)
    DBS_DIR.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(["Nachname", "Vorname", "Firma", "E-Mail", "Telefon", "Mobil", "Straße", "PLZ",
                      "Ort", "Bundesland", "Land", "Quelle", "Beschreibung"])
        for i in range(rows):
            last, first = rng.choice(LAST), rng.choice(FIRST)
            city, postal, region, country = rng.choice(CITIES)
            out.writerow([
                last, first, f"{rng.choice(LAST)} {rng.choice(['Bau', 'Handel', 'Logistik'])} GmbH",
                f"{first[0].lower()}.import{i}@firma{i % 5000}.example",
                f"0{rng.randint(200, 999)} {rng.randint(100000, 9999999)}",
                f"01{rng.randint(50, 79)} {rng.randint(1000000, 9999999)}" if i % 3 == 0 else "",
                f"Hauptstraße {i % 200 + 1}", postal, city, region, country, rng.choice(SOURCES),
                f"Messekontakt {i % 97}",
            ])
    return path


def _sqlite_import(csv_path: Path) -> float:
    """`sqlite3 .import` of the file into a new table of a new database file, the whole process."""
    folder = Path(tempfile.mkdtemp(prefix="import-"))
    target = folder / "plain.sqlite3"
    try:
        started = time.perf_counter()
        subprocess.run(["sqlite3", str(target), ".mode csv", ".separator ;",
                        f".import {csv_path} contacts_plain"], check=True, capture_output=True)
        return time.perf_counter() - started
    finally:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


def _python_executemany(csv_path: Path) -> float:
    """The fallback comparison: Python's csv + sqlite3 executemany into a plain table."""
    folder = Path(tempfile.mkdtemp(prefix="import-"))
    target = folder / "plain.sqlite3"
    try:
        started = time.perf_counter()
        with open(csv_path, encoding="utf-8", newline="") as handle, sqlite3.connect(target) as conn:
            reader = csv.reader(handle, delimiter=";")
            header = next(reader)
            conn.execute(f"CREATE TABLE t ({', '.join(f'c{i}' for i in range(len(header)))})")
            conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(header))})", reader)
        return time.perf_counter() - started
    finally:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


def _import_rolled_back(workspace, csv_path: Path) -> float:
    """The import into this database, in one write transaction that is then rolled back, so the
    database stays as it was. Everything but the final commit (one WAL fsync) is timed."""
    from sqlmodel import Session

    from crm_tui.services.importer import import_contacts

    session = Session(workspace.db.write_engine, expire_on_commit=False)
    try:
        session.connection()  # BEGIN IMMEDIATE: the write lock, as Database.write takes it
        started = time.perf_counter()
        report = import_contacts(session, workspace.actor, csv_path)
        session.flush()
        seconds = time.perf_counter() - started
        if report.imported != IMPORT_ROWS:
            raise RuntimeError(f"import: {report.imported} of {IMPORT_ROWS} ({report.problems[:3]})")
        return seconds
    finally:
        session.rollback()
        session.close()


def import_csv(ctx: Context, db: BenchDb) -> list[Row]:
    import shutil

    csv_path = import_file()
    workspace = ctx.workspace(db)
    have_cli = shutil.which("sqlite3") is not None
    plain = _sqlite_import if have_cli else _python_executemany
    times = max(2, ctx.repeat // 5)
    samples: dict[str, list[float]] = {"import": [], "plain": []}
    rng = random.Random(5)
    for _ in range(times):  # interleaved; each returns its own seconds
        for name in rng.sample(["import", "plain"], 2):
            if name == "import":
                samples[name].append(_import_rolled_back(workspace, csv_path))
            else:
                samples[name].append(plain(csv_path))
    mine = [IMPORT_ROWS / s for s in samples["import"]]
    base = median([IMPORT_ROWS / s for s in samples["plain"]])
    how = "sqlite3 CLI .import" if have_cli else "Python csv + sqlite3 executemany (no sqlite3 CLI)"
    return [Row(
        "import", "import of 100,000 CSV rows", db.scale, median(mine), min(mine), "rows/s",
        f"{how} {base:,.0f} rows/s -> {median(mine) / base:.2f}x", ">= 20,000 rows/s",
        verdict(median(mine) >= 20_000),
        [f"{len(mine)} imports into this database, each rolled back afterwards (final commit not "
         "timed); validation, inserts, full-text index, history rows; the p95 column shows the "
         "slowest", "the comparison loads the same file into a new table with no indexes"],
    )]


# -- demo generation -------------------------------------------------------------------------


def demo(ctx: Context, db: BenchDb) -> list[Row]:
    seconds = db.info["demo_seconds"]
    when = "this run" if not db.reused else f"when built, {db.info['built_at']}"
    at_target = db.scale == "1m"
    rate = db.contacts / seconds
    return [Row(
        "demo", f"demo data: `crm demo --contacts {db.contacts:,}`", db.scale, seconds, seconds, "s",
        f"{rate:,.0f} contacts/s", "<= 180 s at 1m", verdict(seconds <= 180) if at_target else "INFO",
        [f"measured {when} (load average then {db.info.get('load_average_at_build', 0):.1f}); "
         f"{_relative(db.info['demo_output'])}"],
    )]


def _relative(text: str) -> str:
    """`text` with this checkout's location left out: the report names paths in the project."""
    return text.replace(f"{REPO}/", "")


OPERATIONS: dict[str, Callable[[Context, BenchDb], list[Row]]] = {
    "first_paint": first_paint,
    "search": search,
    "keystroke": keystrokes,
    "window": windows,
    "board": board,
    "agenda": agenda,
    "daemon": daemon_tick,
    "status": status,
    "import": import_csv,
    "demo": demo,
}
"""In the order of the issue's table (`keystroke` also gives the memory row)."""
