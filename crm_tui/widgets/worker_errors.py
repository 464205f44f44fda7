"""Route every worker's failure to the app's one handler.

Textual posts `Worker.StateChanged` only to the node that started the worker (it does not
bubble), so each node that runs workers mixes this in; the app's `worker_failed` decides what
a person sees (a notification) and what goes to the log file.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class ReportsWorkerErrors:
    """Mixin for screens and widgets that start workers."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            handler = getattr(self.app, "worker_failed", None)  # type: ignore[attr-defined]
            if handler is not None:
                handler(event.worker)
