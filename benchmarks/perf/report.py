"""The printed table and `benchmarks/RESULTS.md`."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from perf.common import REPO, RESULTS, SCALES, Row

EXPLANATIONS: dict[str, str] = {}
"""Why a row misses its target and what would be needed (written next to a MISS in RESULTS.md).
Filled from `benchmarks/perf/misses.py` so the reasons sit with the measurements' code."""


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        import textual

        textual_version = textual.__version__
    except (ImportError, AttributeError):
        textual_version = "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        commit = commit + (" + uncommitted changes" if dirty else "")
    except OSError:
        commit = "?"
    return {
        "cores": str(os.cpu_count()),
        "memory": memory,
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "textual": textual_version,
        "os": f"{platform.system()} {platform.release()}",
        "commit": commit,
    }


def _figure(row: Row, value: float | None) -> str:
    return row.figure(value)


def table_lines(rows: list[Row]) -> list[str]:
    """A fixed-width table for the terminal."""
    header = ("operation", "scale", "median", "p95", "comparison (same run)", "target", "")
    body = [
        (r.operation, r.scale, _figure(r, r.median), _figure(r, r.p95), r.comparison, r.target,
         r.verdict)
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    widths[0] = min(widths[0], 62)
    out = []
    for line in [header, *body]:
        cells = [str(cell)[: widths[i]].ljust(widths[i]) for i, cell in enumerate(line)]
        out.append("  ".join(cells).rstrip())
        if line is header:
            out.append("  ".join("-" * w for w in widths))
    return out


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown(rows: list[Row], scales: list[str], started: datetime, load: tuple[float, float],
             command: str, rebuilt: dict[str, bool]) -> str:
    info = machine()
    lines = [
        "# Performance at a million contacts: benchmark results",
        "",
        "Written by `benchmarks/run.py` (issue 8); do not edit by hand. Run again with",
        f"`uv run python benchmarks/run.py --scale {','.join(scales)}`.",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC; command: `{command}`",
        f"- machine: {info['cores']} cores, {info['memory']}, {info['cpu']}; {info['os']}",
        f"- software: Python {info['python']}, SQLite {info['sqlite']}, Textual {info['textual']}; "
        f"commit {info['commit']}",
        f"- load average (1 min) at the start and the end of the run: {load[0]:.2f}, {load[1]:.2f} "
        "(the machine is shared: every comparison is measured in the same run, interleaved)",
        "- databases: `crm demo --contacts N` (seed 1, now frozen at 2026-11-23 10:00 Berlin) plus "
        "the scenarios in `benchmarks/perf/databases.py`; "
        + ", ".join(f"{s}: {'built in this run' if rebuilt.get(s) else 'reused'}" for s in scales),
        "- figures are medians unless a column says otherwise; p95 is the nearest-rank 95th "
        "percentile; for rows/s the p95 column holds the slowest run",
        "",
    ]
    misses = [r for r in rows if r.verdict == "MISS"]
    passes = sum(r.verdict == "PASS" for r in rows)
    lines += [f"**{passes} PASS, {len(misses)} MISS** "
              f"({sum(r.verdict == 'INFO' for r in rows)} rows for information).", ""]
    if len(scales) > 1:
        lines += ["## Scaling", "",
                  "The same operations at each scale (median; p95 in brackets where it is a target).",
                  ""]
        keys: list[tuple[str, str]] = []
        for row in rows:
            if (row.key, row.operation) not in keys:
                keys.append((row.key, row.operation))
        lines.append("| operation | " + " | ".join(scales) + " | target |")
        lines.append("|---|" + "---|" * len(scales) + "---|")
        for key, operation in keys:
            cells = []
            target = ""
            for scale in scales:
                match = next((r for r in rows if r.key == key and r.operation == operation
                              and r.scale == scale), None)
                if match is None:
                    cells.append("-")
                    continue
                target = match.target
                text = match.figure(match.median)
                if "p95" in match.target and match.p95 is not None:
                    text += f" ({match.figure(match.p95)})"
                if match.verdict == "MISS":
                    text += " **MISS**"
                cells.append(text)
            lines.append(f"| {_md_cell(operation)} | " + " | ".join(cells) + f" | {_md_cell(target)} |")
        lines.append("")
    for scale in scales:
        scoped = [r for r in rows if r.scale == scale]
        if not scoped:
            continue
        lines += [f"## {scale} ({SCALES[scale]:,} contacts)", "",
                  "| operation | median | p95 | comparison (same run) | target | |",
                  "|---|---|---|---|---|---|"]
        for r in scoped:
            lines.append(
                f"| {_md_cell(r.operation)} | {r.figure(r.median)} | {r.figure(r.p95)} | "
                f"{_md_cell(r.comparison)} | {_md_cell(r.target)} | **{r.verdict}** |"
            )
        lines.append("")
        noted = [r for r in scoped if r.notes]
        if noted:
            lines.append("Notes:")
            lines.append("")
            for r in noted:
                lines.append(f"- *{_md_cell(r.operation)}*: " + "; ".join(r.notes))
            lines.append("")
    if misses:
        lines += ["## Misses: by how much, and why", ""]
        for r in misses:
            lines.append(f"- **{r.operation} ({r.scale})**: {r.figure(r.median)} median, "
                         f"{r.figure(r.p95)} p95 against {r.target}. "
                         + EXPLANATIONS.get(r.key, "(no explanation recorded)"))
        lines.append("")
    lines += ["## How each figure is measured", "", *METHOD, ""]
    return "\n".join(lines)


METHOD = [
    "- **first paint**: `crm --db DB --user bench` started as a process on a 120x40 pseudo-"
    "terminal (`perf/child_paint.py` wraps `CrmApp.on_mount` with a 2 ms check), timed from "
    "just before the process starts to the screen refresh that follows the table's first rows; "
    "against a bare Textual app with the contact screen's widgets and stylesheet showing 60 "
    "in-memory rows; the two alternate.",
    "- **search**: `services.contacts.list_contacts` with the typed prefix as the free words, the "
    "default filter and sort, 60 rows, through `Workspace.read` (what the list's worker runs), "
    "against the plain SQL that returns the same rows (FTS5 MATCH on the folded key, default "
    "filter, ORDER BY name, id, LIMIT 60) on a raw `sqlite3` connection; interleaved.",
    "- **keystroke to repaint**: `perf/child_pilot.py`: the real app under Pilot; key events are "
    "posted to the app's driver and the time is taken when the table holds the rows of the new "
    "position (or of the new search) and the screen's compositor has rendered the update. The "
    "same script runs on the 10k database in the same run.",
    "- **windows**: `list_contacts(offset=o, limit=60)` at random offsets of the whole list.",
    "- **board**: `board_summary` plus `stage_cards(limit=30)` per column in one read session, as "
    "the board screen loads it.",
    "- **My activities**: `services.agenda.my_activities(offset=0, limit=60)`.",
    "- **daemon tick**: `Daemon.tick()` after 100 reminders were made due (not timed).",
    "- **crm status**: the console script as a process, against `python -c pass`, alternating.",
    "- **import**: `services.importer.import_contacts` of a 100,000-row CSV in a write "
    "transaction on the benchmark database, rolled back afterwards; against `sqlite3 .import` of "
    "the same file into a new table.",
    "- **demo**: wall clock of `crm demo --contacts N` on a new file (the database build).",
    "- **memory**: the Pilot child's peak resident size (`VmHWM`; not `ru_maxrss`, which on "
    "Linux keeps the parent's size from before `exec`), over its scrolling and searching.",
]


def write_results(text: str, path: Path = RESULTS) -> None:
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


def now_utc() -> datetime:
    return datetime.now(UTC)
