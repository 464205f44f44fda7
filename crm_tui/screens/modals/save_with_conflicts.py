"""Finishing a save that conflicted: the one call every edit form makes on a `ConflictError`.

    save_or_resolve(screen, save, error, on_saved, *, labels=None, on_failed=None,
                    on_cancelled=None)

shows the `ConflictDialog` for `error` over `screen` (the form) and then:

- *cancel*: calls `on_cancelled()` (if given); the form stays open with the rep's values;
- nothing left to save (*take theirs*, or nothing really differed): calls `on_saved(None)`;
- otherwise runs `save(values, expected_version, base)` in a thread worker of `screen`, with the
  dialog's resolution, and calls `on_saved(result)` with what `save` returned. If that save
  conflicts again (a third session saved in between), the dialog shows again with the new
  values; any other `ServiceError` (or `DatabaseError`) goes to `on_failed(error)`, by default
  a notification. An unexpected error fails the worker: the form's `ReportsWorkerErrors`
  hands it to the app (a notification and the log, never a traceback on screen).

`save` blocks (it calls `workspace.write(...)`): it always runs in a worker thread. The
callbacks always run on the event loop. `save_or_resolve` itself may be called from the form's
own save worker (thread) or from the event loop; it moves itself onto the event loop.

In a form (the save worker catches ConflictError before ServiceError):

    except ConflictError as error:
        save_or_resolve(self, self._save_resolved, error, self._saved, labels=LABELS,
                        on_failed=self._failed)
        return

    def _save_resolved(self, values, expected_version, base):      # runs in a thread
        w = self.workspace
        return w.write(lambda s: update_contact(s, w.actor, self.contact_id, values,
                       expected_version=expected_version, base=base, settings=w.settings).id)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from crm_tui.screens.modals.conflict import ConflictDialog, ConflictResolution

if TYPE_CHECKING:
    from textual.screen import Screen

    from crm_tui.services.errors import ConflictError

T = TypeVar("T")

SaveResolved = Callable[[dict[str, object], int, dict[str, object]], Any]
"""`save(values, expected_version, base)`: the form's save with the resolution (blocking)."""


def save_or_resolve(
    screen: Screen,
    save: SaveResolved,
    error: ConflictError,
    on_saved: Callable[[Any], None],
    *,
    labels: Mapping[str, str] | None = None,
    on_failed: Callable[[Exception], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
) -> None:
    """Let the rep resolve `error`, then save the resolution (see the module docstring)."""
    app = screen.app
    if not _on_event_loop(app):
        app.call_from_thread(
            save_or_resolve, screen, save, error, on_saved,
            labels=labels, on_failed=on_failed, on_cancelled=on_cancelled,
        )
        return
    if not error.fields:
        # The other session saved exactly what this form holds: nothing to choose or save.
        on_saved(None)
        return

    def chosen(resolution: ConflictResolution | None) -> None:
        if resolution is None:
            if on_cancelled is not None:
                on_cancelled()
            return
        if resolution.nothing_to_save:
            on_saved(None)
            return
        screen.run_worker(
            partial(_save_resolution, screen, save, resolution, on_saved, labels, on_failed,
                    on_cancelled),
            thread=True, exit_on_error=False, group="save-resolved", name="save after a conflict",
        )

    app.push_screen(ConflictDialog(error, labels), chosen)


def _save_resolution(
    screen: Screen,
    save: SaveResolved,
    resolution: ConflictResolution,
    on_saved: Callable[[Any], None],
    labels: Mapping[str, str] | None,
    on_failed: Callable[[Exception], None] | None,
    on_cancelled: Callable[[], None] | None,
) -> None:
    """In a worker thread: save the chosen values with the version the other session left."""
    from crm_tui.db.engine import DatabaseError
    from crm_tui.services.errors import ConflictError, ServiceError

    app = screen.app
    try:
        result = save(dict(resolution.values), resolution.expected_version, dict(resolution.base))
    except ConflictError as again:
        app.call_from_thread(
            save_or_resolve, screen, save, again, on_saved,
            labels=labels, on_failed=on_failed, on_cancelled=on_cancelled,
        )
        return
    except (ServiceError, DatabaseError) as error:
        app.call_from_thread(_failed, screen, error, on_failed)
        return
    app.call_from_thread(on_saved, result)


def _failed(screen: Screen, error: Exception, on_failed: Callable[[Exception], None] | None) -> None:
    if on_failed is not None:
        on_failed(error)
    else:
        screen.notify(str(error), severity="error", title="Not saved")


def _on_event_loop(app: Any) -> bool:
    thread_id = getattr(app, "_thread_id", None)
    return thread_id is None or thread_id == threading.get_ident()
