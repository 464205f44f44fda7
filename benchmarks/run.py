"""Performance at a million contacts: the benchmark suite of issue 8.

    uv run python benchmarks/run.py                          # 10k
    uv run python benchmarks/run.py --scale 1m               # the targets' scale
    uv run python benchmarks/run.py --scale 10k,100k,1m      # the scaling table
    uv run python benchmarks/run.py --scale 100k --only search,window --repeat 30

Builds (or reuses) a demo database per scale under `benchmarks/dbs/`, runs every measurement of
the issue's table several times, prints one table (operation, scale, median, p95, the comparison
figure, target, PASS/MISS) and writes it to `benchmarks/RESULTS.md` with the date, the machine
and, for several scales, the scaling table. Every comparison is measured in the same run,
interleaved with what it is compared with, so a ratio holds on a busy machine. These are
measurements, not tests: nothing here fails a build.

How each figure is taken: `benchmarks/perf/report.py` (METHOD) and the module docstrings in
`benchmarks/perf/`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf.common import REFERENCE_SCALE, SCALES, apply_bench_env, log  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from perf.operations import OPERATIONS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="10k",
                        help="10k, 100k, 1m or several, comma-separated (default 10k)")
    parser.add_argument("--repeat", type=int, default=20,
                        help="samples per in-process measurement (processes run fewer; default 20)")
    parser.add_argument("--only", default="",
                        help=f"comma-separated operations: {', '.join(OPERATIONS)}")
    parser.add_argument("--rebuild", action="store_true",
                        help="build the databases again even when they are current")
    parser.add_argument("--write", action="store_true",
                        help="write RESULTS.md also for an --only run (a full run always writes)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    scales = [s.strip().lower() for s in args.scale.split(",") if s.strip()]
    unknown = [s for s in scales if s not in SCALES]
    if unknown or not scales:
        parser.error(f"--scale: {', '.join(unknown) or '(none)'} not one of {', '.join(SCALES)}")
    args.scales = sorted(dict.fromkeys(scales), key=lambda s: SCALES[s])
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    bad = [o for o in only if o not in OPERATIONS]
    if bad:
        parser.error(f"--only: {', '.join(bad)} not one of {', '.join(OPERATIONS)}")
    args.operations = only or list(OPERATIONS)
    if args.repeat < 3:
        parser.error("--repeat: at least 3")
    return args


def main(argv: list[str] | None = None) -> int:
    apply_bench_env()
    args = parse_args(argv)
    import perf.misses  # noqa: F401  (fills report.EXPLANATIONS)
    from perf.databases import ensure_db
    from perf.operations import OPERATIONS, Context
    from perf.report import markdown, now_utc, table_lines, write_results

    started = now_utc()
    load_start = os.getloadavg()[0]
    dbs = {}
    rebuilt = {}
    for scale in args.scales:
        db = ensure_db(scale, rebuild=args.rebuild)
        dbs[scale] = db
        rebuilt[scale] = not db.reused

    def reference():
        if REFERENCE_SCALE not in dbs:
            dbs[REFERENCE_SCALE] = ensure_db(REFERENCE_SCALE)
        return dbs[REFERENCE_SCALE]

    ctx = Context(repeat=args.repeat, dbs=dbs, reference=reference)
    rows = []
    try:
        for scale in args.scales:
            for name in args.operations:
                began = time.perf_counter()
                log(f"[{scale}] {name} ...")
                produced = OPERATIONS[name](ctx, dbs[scale])
                rows.extend(produced)
                for row in produced:
                    log(f"[{scale}]   {row.operation}: {row.figure(row.median)} median, "
                        f"{row.figure(row.p95)} p95; {row.comparison}; {row.verdict}")
                log(f"[{scale}] {name} took {time.perf_counter() - began:.1f} s")
    finally:
        ctx.close()
    print()
    for line in table_lines(rows):
        print(line)
    missed = [r for r in rows if r.verdict == "MISS"]
    print(f"\n{sum(r.verdict == 'PASS' for r in rows)} PASS, {len(missed)} MISS")
    if not args.no_write and (args.write or args.only == ""):
        command = "uv run python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_results(markdown(rows, args.scales, started, (load_start, os.getloadavg()[0]),
                               command.strip(), rebuilt))
    elif not args.no_write:
        log("RESULTS.md not written (a partial --only run; add --write to write it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
