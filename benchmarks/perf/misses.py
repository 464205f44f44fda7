"""Why a row misses its target on this machine, and what would be needed (for RESULTS.md).

Kept beside the measurements so that a change of the code and of its explanation go together.
Only the rows that miss in a run are written out.
"""

from __future__ import annotations

from perf.report import EXPLANATIONS

EXPLANATIONS.update({
    "import": (
        "The importer checks rows in windows of 4,000 while a worker thread writes the "
        "previous window (multi-row INSERTs of stored values through the driver, the full-text "
        "index filled once per 20,000 rows, a 256 MB page cache for the import): about three "
        "times the rate of the row-by-row importer it replaced (6,100 rows/s at 1m). What is "
        "left at 1m is SQLite itself, measured by timing the writer alone: keeping the contact "
        "table's 22 indexes costs about 3.1 s per 100,000 rows and the full-text index 1.35 s, "
        "against a budget of 5 s; the checking runs beside it on the other core. Of the "
        "full-text time about 0.4 s is merge work the demo loader leaves behind (15 segments "
        "on one level). Needed for a steady 20,000 at 1m: fewer contact indexes (every one of "
        "the 22 serves a filter or sort of the list; dropping any makes that list query up to "
        "10x slower), or deferring the full-text merges during an import, which leaves the "
        "index less merged and later searches slower. The run-to-run spread on this machine "
        "is about 10 %, and a database that has partly left the file cache is slower."
    ),
    "demo": (
        "The demo generator (owned by the demo work) makes the rows in a second process while "
        "this one writes them; the last third of the time is SQLite building the secondary "
        "indexes in one sort each. Migration 0005 widened the contact list's sort indexes "
        "(each ends in the status now) and added four (customer-number sort, lower(city), "
        "lower(country), lower(source)): more to build. On two cores shared with other test "
        "runs the wall clock follows the load (the load average when it was built is in the "
        "note). Needed: fewer or narrower indexes, or building the indexes of the three big "
        "tables in parallel processes on separate files is not possible in one SQLite file; "
        "the generator could skip the FTS segment merges until the end."
    ),
    "keystroke_search": (
        "The verdict joins two limits, the p95 and the median against the same run at 10k "
        "(the figures say which one is missed). A search keystroke costs the Textual "
        "pipeline (about 12 ms: input change, reload, "
        "worker, render; the same at every scale) plus the service call. The service call "
        "grows with the hits, not with the table: a 2-3 letter prefix matches 5-12 % of the "
        "contacts (90,000-120,000 at 1m), and the list walks the name index testing each entry "
        "against the hit list, which SQLite first collects from the FTS5 index (reading them "
        "2-4 ms, collecting them 6-9 ms). The count for the status line starts after the "
        "first window is painted. Needed for less: an index that returns hits in name order "
        "(a second, name-keyed full-text table), or a per-row prefix signature in the sort "
        "indexes so the walk needs no hit list."
    ),
    "keystroke_scroll": (
        "The first jump to the end of a million-row list learns the positions of the list "
        "(one walk of the covering sort index, about 120 ms, once per filter, sort and data "
        "version); every later jump costs a few milliseconds (`services.windows`)."
    ),
    "first_paint": (
        "The app shows the list's first rows from the SQLite file with the standard library "
        "(`crm_tui.quick`) before SQLAlchemy has loaded; what is left over the bare app is the "
        "command line (every command module is imported to build the parser: ~30 ms), the "
        "app's bindings and command palette, and reading the user and the schema revision. "
        "On a loaded machine process start-up varies by tens of milliseconds between runs."
    ),
    "search": (
        "With 8,000 hits or more the list walks the name index (in order, index only) and "
        "tests each entry against the hits; with fewer it looks the hits up and sorts them. "
        "The walk is cheap per entry, but a prefix whose hits sit late in the alphabet (most "
        "of its hits are one surname) walks far before finding 60."
    ),
    "window": (
        "Windows deeper than 16,384 rows seek from remembered positions (`services.windows`); "
        "a list whose filter is not in the sort index (assigned, team, city with a sort other "
        "than name) is sorted in memory for every window. Needed: a composite index per "
        "(filter column, sort) pair that matters, or planner statistics (ANALYZE) so that "
        "SQLite walks the sort index instead."
    ),
    "board": (
        "The board reads its counts and totals from two covering indexes (money and state); "
        "300,000 rows of a pipeline are still 300,000 index entries to add up. Needed for "
        "less: totals kept per stage by triggers (a summary table), at the cost of every "
        "opportunity write."
    ),
    "daemon": (
        "The tick is one write transaction (100 outbox rows with their mail bodies, 100 "
        "stamps) and its commit: the fsync of the write-ahead log on this disk is part of it. "
        "The recipients are looked up per assignee group (about 20 small queries)."
    ),
    "status": (
        "`crm status` is Python start-up (~10 ms), the command line's imports (~60 ms: the "
        "parser knows every command) and one covering-index count."
    ),
    "agenda": "My activities reads its window in the order of ix_activities_open_user_due.",
    "memory": (
        "Peak RSS of the app process: Textual, SQLAlchemy, the models and the row windows in "
        "the table's cache (12 windows of 60 rows)."
    ),
})
