"""Fixtures for the app tests: a demo database (300 contacts, seed 1, generated once per session at
a frozen "now" and copied for each test) and helpers to drive the app and read its screen."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_tui import config

NOW = "2026-11-23T10:00:00+01:00"
DEMO_CONTACTS = 300


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crm_tui.db.engine import open_database
    from crm_tui.db.migrate import ensure_schema
    from crm_tui.services.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo-template")
    path = folder / "demo.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_NOW", NOW)
        patch.setenv("CRM_CONFIG", str(folder / "absent.toml"))
        config.reset_settings()
        db = open_database(path)
        try:
            ensure_schema(db, backup=False)
            generate_demo(db, DEMO_CONTACTS, seed=1, acting_login="tester")
        finally:
            db.dispose()  # checkpoints the WAL into the file
        config.reset_settings()
    return path


@pytest.fixture
def demo_db(_demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the demo database; CRM_NOW frozen at 2026-11-23 10:00 (Berlin), CRM_USER=tester."""
    path = tmp_path / "crm.sqlite3"
    shutil.copyfile(_demo_template, path)
    monkeypatch.setenv("CRM_NOW", NOW)
    monkeypatch.setenv("CRM_USER", "tester")
    return path


@pytest.fixture
def read_db(demo_db: Path) -> Callable:
    """`read_db(fn)` runs `fn(session, actor)` on the demo database (expectations from services)."""
    from crm_tui.workspace import open_workspace

    workspace = open_workspace(demo_db, "tester")

    def read(work):
        return workspace.read(lambda session: work(session, workspace.actor))

    yield read
    workspace.close()


class UI:
    """Helpers to read and settle a running app (the `ui` fixture)."""

    @staticmethod
    def text(app) -> str:
        return screen_text(app)

    @staticmethod
    async def settle(app, pilot) -> None:
        await settle(app, pilot)

    @staticmethod
    def static_text(widget, width: int = 200) -> str:
        """The whole content of a Static (also what is scrolled out of view), as plain text."""
        import io

        from rich.console import Console

        console = Console(file=io.StringIO(), width=width, color_system=None)
        console.print(widget.content)
        return console.file.getvalue()


@pytest.fixture
def ui() -> UI:
    return UI()


def screen_text(app) -> str:
    """What the terminal shows right now, as plain text lines.

    Uses the compositor (the same strips the driver writes), so assertions see exactly what a
    person sees, truncation included.
    """
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def settle(app, pilot) -> None:
    """Let workers finish and their messages be handled, until handling them starts no more."""
    from textual.worker import WorkerState

    for _ in range(5):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
            return


@pytest.fixture(autouse=True)
def _no_background_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's change-counter and reminder timers would reload screens in the middle of other
    tests; the tests of those features call the poll methods directly instead."""
    import crm_tui.app

    monkeypatch.setattr(crm_tui.app, "DATA_POLL_SECONDS", 3600)
    monkeypatch.setattr(crm_tui.app, "REMINDER_POLL_SECONDS", 3600)
