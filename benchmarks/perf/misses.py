"""Why a row misses its target on this machine, and what would be needed (for RESULTS.md).

Kept beside the measurements so that a change of the code and of its explanation go together.
Only the rows that miss in a run are written out.
"""

from __future__ import annotations

from perf.report import EXPLANATIONS

EXPLANATIONS.update({
    "import": (
        "Where the time goes (100,000 rows into the 100k database, measured by timing the "
        "importer's parts): reading and decoding the CSV 0.7 s, validating each row as a form "
        "is validated (`contacts.contact_values`: clean_text, e-mail, phone, duplicate keys, "
        "search key) 2.4 s, the inserts 7.4 s, the full-text index 1.4 s. The inserts are "
        "mostly SQLite maintaining the contacts table's 22 indexes row by row: the same "
        "100,000 rows copied with one `INSERT ... SELECT` in plain SQL take 7.2 s with the "
        "indexes and 0.4 s without (3.8 s with a 256 MB page cache; a 64 MB cache on the "
        "writer brought the whole import only 10 %). `sqlite3 .import` loads the file into "
        "one table with no index, no validation and no history, so the ratio says little. "
        "What would be needed for 20,000 rows/s: the importer (owned by the contacts/import "
        "work, still in progress) writing stored values straight through the DBAPI as "
        "`services.demo` does (no per-row SQLAlchemy type processing), a faster validation "
        "path for plain rows, and for imports that are large against the table, setting the "
        "secondary indexes aside and building them again in one sort (as the demo generator "
        "does; that pays off only when the file is a good part of the table's size)."
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
        "A search keystroke at 1m costs the Textual pipeline (about 15 ms: input change, "
        "reload, worker, render, as at 10k) plus the service call. With many hits (a 2-letter "
        "prefix matches 70,000-120,000 of a million contacts) the list walks the name index "
        "and tests each entry against the hit list, which SQLite first collects from the FTS5 "
        "index: that collection grows with the hits (about 10 ms for 100,000). The count for "
        "the status line runs after the first window, on the other core. Needed for less: "
        "an FTS index that can return hits in name order (a second, name-keyed full-text "
        "table), or results ordered by the full-text index itself (rowid) for 2-3 letter "
        "prefixes, which changes the list's order while typing."
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
