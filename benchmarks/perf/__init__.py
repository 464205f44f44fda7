"""The performance benchmark behind `benchmarks/run.py` (issue 8).

- `common`: paths, the frozen environment every measured process shares, statistics.
- `databases`: a demo database per scale under `benchmarks/dbs/`, built once (with `crm demo`)
  and reused while it is at the schema head, plus the scenarios the targets name.
- `operations`: one function per row of the issue's table.
- `report`: the printed table and `benchmarks/RESULTS.md`.
- `child_paint.py`, `child_pilot.py`: the app in a process of its own (first paint in a
  pseudo-terminal; keystrokes and peak memory under Pilot).
"""
