"""What every measurement shares: paths, the frozen environment, statistics and result rows."""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
DBS_DIR = BENCH_DIR / "dbs"
"""Demo databases per scale (git-ignored)."""
RESULTS = BENCH_DIR / "RESULTS.md"

FROZEN_NOW = "2026-11-23T10:00:00+01:00"
"""Every process of a run sees the same "now", so the demo's overdue/today/planned split and the
due reminders are the same whenever a database is reused."""
TIMEZONE = "Europe/Berlin"
LOGIN = "bench"
"""The acting user: `crm demo` makes it a rep with a rep's share of the contacts."""

SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
REFERENCE_SCALE = "10k"
"""Targets phrased "same at 10k" compare with this scale, measured in the same run."""


def bench_env(**extra: str) -> dict[str, str]:
    """The environment of every measured process: frozen clock, no user config, one acting user."""
    env = dict(os.environ)
    env.update({
        "CRM_NOW": FROZEN_NOW,
        "CRM_CONFIG": str(DBS_DIR / "no-config.toml"),  # never exists: built-in defaults only
        "CRM_GENERAL_TIMEZONE": TIMEZONE,
        "CRM_USER": LOGIN,
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    for key in [k for k in env if k.startswith("CRM_SMTP_")]:
        del env[key]  # no mail server: the daemon's tick is measured without sending
    env.update(extra)
    return env


def apply_bench_env() -> None:
    """This process runs with the same environment as the children it starts."""
    env = bench_env()
    os.environ.clear()
    os.environ.update(env)
    from crm_tui import config

    config.reset_settings()


def crm_command() -> list[str]:
    """`crm` as installed in this environment (the console script), else `python -m crm_tui`."""
    script = Path(sys.executable).with_name("crm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crm_tui"]


# -- statistics ------------------------------------------------------------------------------


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile (with 20 samples: the second largest)."""
    ordered = sorted(samples)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def repeat(work: Callable[[], object], times: int, warmup: int = 1) -> list[float]:
    """Seconds per call of `work`, after `warmup` calls that are not counted."""
    for _ in range(warmup):
        work()
    return [timed(work)[0] for _ in range(times)]


def alternate(
    works: dict[str, Callable[[], object]], times: int, warmup: int = 1, seed: int = 8
) -> dict[str, list[float]]:
    """Each of `works` `times` times, interleaved in a shuffled order per round, so that the
    machine's noise (other engineers' test runs on two cores) falls on all of them alike."""
    rng = random.Random(seed)
    names = list(works)
    for _ in range(warmup):
        for name in names:
            works[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(times):
        rng.shuffle(names)
        for name in names:
            samples[name].append(timed(works[name])[0])
    return samples


# -- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table."""

    key: str
    """The operation's name for `--only`."""
    operation: str
    scale: str
    median: float | None
    """In the row's unit: milliseconds, seconds, rows/s or MB (see `unit`)."""
    p95: float | None
    unit: str
    comparison: str
    """The comparison figure, measured in the same run ("bare app 612 ms -> 1.08x")."""
    target: str
    verdict: str
    """PASS, MISS or INFO (a figure without a target of its own)."""
    notes: list[str] = field(default_factory=list)

    def figure(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.unit == "ms":
            return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
        if self.unit == "s":
            return f"{value:.1f} s"
        if self.unit == "rows/s":
            return f"{value:,.0f} rows/s"
        if self.unit == "MB":
            return f"{value:.0f} MB"
        return f"{value:g} {self.unit}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ms(seconds: float) -> float:
    return seconds * 1000.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
