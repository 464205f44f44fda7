"""First paint of the contact list with rows, in a process of its own on a pseudo-terminal.

    python child_paint.py app  [crm arguments...]   the real `crm` command line (cli.main)
    python child_paint.py bare                      a bare Textual app with the same widgets

Both run with the same hook: a 2 ms timer checks whether the contact table has rows; once it has,
the time is written to $BENCH_PAINT_REPORT right after the next screen refresh (the frame with the
rows has been written to the terminal), and the process ends at once. The parent took the time
just before starting the process, so the figure is "process start to first paint with rows".

The bare app: the contact screen itself (navigation bar, status lines, search and filter inputs,
groups sidebar, the virtual table with the same columns, footer) and the app's stylesheet in a
bare `App`, showing 60 rows made in memory: no database, no SQLAlchemy, no services, none of the
app's other screens, no command line.
"""

from __future__ import annotations

import os
import sys
import time

REPORT = os.environ["BENCH_PAINT_REPORT"]


def _painted() -> None:
    with open(REPORT, "w") as handle:
        handle.write(repr(time.time()))
    os._exit(0)


def _exit_on_rows(app_class) -> None:
    """Wrap `app_class.on_mount` with the hook that ends the process at the first paint with rows."""
    original = getattr(app_class, "on_mount", None)

    def on_mount(self):
        result = original(self) if original is not None else None

        def check() -> None:
            from crm_tui.widgets.virtual_table import VirtualTable

            tables = self.screen.query(VirtualTable)
            if not tables:
                return
            table = tables.first()
            # Rows loaded: the next refresh paints them (the table draws rows before their
            # count arrives; counting a million takes longer than the first window).
            if table.row_at(0) is not None:
                timer.stop()
                self.call_after_refresh(_painted)

        timer = self.set_interval(0.002, check)
        return result

    app_class.on_mount = on_mount


def run_app(arguments: list[str]) -> None:
    import crm_tui.app

    _exit_on_rows(crm_tui.app.CrmApp)
    from crm_tui.cli import main

    main(arguments)


def run_bare() -> None:
    """The contact screen itself (`ContactsScreen`, all its widgets, the app's stylesheet)
    in a bare `App`, showing 60 rows made in memory: no database, no SQLAlchemy, no services,
    none of the app's other screens."""
    import importlib.util
    from dataclasses import dataclass

    from textual.app import App
    from textual.reactive import reactive

    from crm_tui.screens.contacts import ContactsScreen
    from crm_tui.widgets.virtual_table import ListSource

    @dataclass(frozen=True)
    class Row:
        id: int
        display_name: str
        company: str = "Müller Immobilien GmbH"
        status: str = "prospect"
        city: str = "Olpe"
        phone: str = "+49 2761 123456"
        email: str = "anna.mueller@example.de"
        assigned_to: str | None = "bench"
        customer_number: str | None = None
        state: str = "planned"
        kind: str = "person"

    class BareApp(App[None]):
        # The app's stylesheet, found without importing the app (and its other screens).
        CSS_PATH = os.path.join(importlib.util.find_spec("crm_tui").submodule_search_locations[0],
                                "app.tcss")
        workspace = None
        workspace_status: reactive[str] = reactive("", init=False)

        def on_mount(self) -> None:
            screen = ContactsScreen()
            self.push_screen(screen)
            rows = [Row(i, f"Müller, Anna {i}") for i in range(60)]
            self.call_after_refresh(lambda: screen.table.set_source(ListSource(rows)))

    _exit_on_rows(BareApp)
    BareApp().run()


if __name__ == "__main__":
    if sys.argv[1] == "app":
        run_app(sys.argv[2:])
    else:
        run_bare()
