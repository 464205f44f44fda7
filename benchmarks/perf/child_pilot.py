"""Keystroke to repaint in the contact list, and the peak memory of browsing and searching.

    python child_pilot.py DB LOGIN OUTPUT.json

Runs the real app (`CrmApp`) under Pilot at 120x40 on DB and, once the list shows its rows:

- scrolling: down, page down, end, page up, home ... (each key timed on its own);
- search-as-you-type: `/`, then each term typed a character at a time; the keystrokes that
  leave 2 to 6 characters in the field are timed; escape clears the field between terms.

Measured once the workspace is open, each keystroke on its own (what the previous one started
has finished). A keystroke is timed from posting its key event to the app until the rows it asks
for are in the table and the screen has been brought up to date (the compositor's render of the changed
lines, which is what the terminal is sent). Keys are posted straight to the app's driver rather
than through `pilot.press`, which sleeps 2 x 20 ms per key waiting for the process to look idle.
The search field's debounce (`SEARCH_DELAY`, 150 ms of quiet typing) is set to 0: the figure is
the work a search costs, not the deliberate wait.

Writes {"scroll": [s, ...], "search": [s, ...], "peak_rss_mb": n, "peak_at": step, ...} to
OUTPUT.json (VmHWM, and the step during which a 5 ms sampler saw the peak).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import unicodedata

SIZE = (120, 40)
SCROLL_KEYS = (
    ["down"] * 8 + ["pagedown"] * 8 + ["end"] + ["up"] * 3 + ["pageup"] * 4 + ["home"]
    + ["pagedown"] * 4 + ["end", "home"]
)
SEARCH_TERMS = ("müller", "schmid", "kowals", "warsza", "wagner")
TIMEOUT = 60.0


def send_key(app, key: str) -> None:
    """What `Pilot.press` does for one key, without its idle waits."""
    from textual import events
    from textual.app import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    original = REPLACED_KEYS.get(key, key)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(original))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


def table_ready(table, generation: int | None) -> bool:
    """The table shows real rows where the viewport is (or its empty text), for `generation`."""
    if generation is not None and table._generation <= generation:
        return False
    count = table.row_count
    if count == 0:
        return True
    if count is None:
        # Only a table that draws rows before the count arrives is ready here.
        if table.row_at(int(table.scroll_y)) is None:
            return False
        return table.render_line(1).text.strip() not in ("", table.loading_text, "…")
    top = int(table.scroll_y)
    bottom = min(top + table._visible_rows, count)
    return all(table.row_at(index) is not None for index in range(top, bottom))


async def until(condition, what: str) -> None:
    deadline = time.perf_counter() + TIMEOUT
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)  # sleeps in select(): worker threads get the GIL


async def quiet(app, table=None) -> None:
    """Each keystroke is timed alone: the work the previous one started (its count, say) is
    done first. (Typing faster than the debounce never starts those loads in the app.) The
    table starts its count once the first window is painted: `table` is waited for until it
    has its count."""
    from textual.worker import WorkerCancelled

    while True:
        await asyncio.sleep(0.005)
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            continue
        if table is None or table.row_count is not None or table.source is None:
            return


async def keystroke(app, pilot, table, key: str, *, reload: bool) -> float:
    await quiet(app, table)
    generation = table._generation if reload else None
    cursor = table.cursor_row
    started = time.perf_counter()
    send_key(app, key)
    if not reload:  # the key has been handled once the cursor moved (every key here moves it)
        await until(lambda: table.cursor_row != cursor, f"the cursor after {key!r}")
    await until(lambda: table_ready(table, generation), f"rows after {key!r}")
    await pilot._wait_for_screen()
    app.screen._on_timer_update()  # the frame: compositor update of the changed lines
    return time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's peak resident size: VmHWM, the high-water mark of its own memory map.

    Not `ru_maxrss`: on Linux that keeps the largest RSS seen before `exec`, which for a
    child of a big benchmark process is the parent's size at the fork.
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemoryWatch:
    """Samples this process's resident size every 5 ms and remembers where it peaked."""

    def __init__(self) -> None:
        import os
        import threading

        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
        self.step = "start"
        self.peak = (0.0, "start")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            try:
                with open("/proc/self/statm") as handle:
                    resident = int(handle.read().split()[1]) * self.page_mb
            except OSError:
                return
            if resident > self.peak[0]:
                self.peak = (resident, self.step)

    def stop(self) -> None:
        self._stop.set()


async def main(db: str, login: str, output: str) -> None:
    import crm_tui.screens.contacts as contacts_screen
    from crm_tui.app import CrmApp
    from crm_tui.widgets.virtual_table import VirtualTable

    contacts_screen.SEARCH_DELAY = 0
    watch = MemoryWatch()
    app = CrmApp(db_target=db, login=login)
    result: dict = {"scroll": [], "search": [], "scroll_keys": [], "search_texts": []}
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#contacts-table", VirtualTable)
        # Steady state: the workspace is open and the list reads through the services (the
        # first rows come earlier, from crm_tui.quick, while SQLAlchemy still loads).
        await until(lambda: app.workspace is not None and type(table.source).__name__
                    == "ContactSource" and bool(table.row_count) and table_ready(table, None),
                    "the list from the workspace")
        await quiet(app)
        result["rows"] = table.row_count
        for key in SCROLL_KEYS:
            watch.step = f"scroll {key}"
            moves_window = key in ("end", "home", "pagedown", "pageup")
            seconds = await keystroke(app, pilot, table, key, reload=False)
            result["scroll"].append(seconds)
            result["scroll_keys"].append(key)
            if moves_window:
                await asyncio.sleep(0.01)
        search = app.screen.query_one("#search")
        for term in SEARCH_TERMS:
            send_key(app, "slash")
            await until(lambda: search.has_focus, "the search field")
            for position, char in enumerate(term, start=1):
                watch.step = f"search {term[:position]!r}"
                seconds = await keystroke(app, pilot, table, char, reload=True)
                if 2 <= position <= 6:
                    result["search"].append(seconds)
                    result["search_texts"].append(term[:position])
            await until(lambda: table.row_count is not None, "the count")
            before = table._generation
            send_key(app, "escape")  # clears the field: the whole list again
            await until(lambda before=before: table_ready(table, before) and bool(table.row_count),
                        "the list after the search")
        await app.workers.wait_for_complete()
    watch.stop()
    result["peak_rss_mb"] = peak_rss_mb()
    result["peak_at"] = watch.peak[1]
    result["peak_sampled_mb"] = watch.peak[0]
    with open(output, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
