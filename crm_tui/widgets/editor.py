"""Text in the user's own editor: $VISUAL, else $EDITOR, else vi or nano.

- `edit_text(app, text, suffix)`: from the app. Suspends the app (`App.suspend()`: the terminal
  goes back to the shell state), runs the editor on a temporary file holding `text`, resumes,
  and returns the saved text -- or None when the editor failed (non-zero exit), no editor was
  found, or the app cannot be suspended (in a browser through `crm web`); a notification then
  says why. Call it on the event loop (an action or a message handler), not in a worker.
- `edit_file(path)` and `editor_command()`: the same without Textual, for the command line.

The temporary file is private (mode 600, removed afterwards) and its suffix (".md", ".tsv",
".txt") lets the editor choose its syntax mode. $VISUAL/$EDITOR may hold arguments
("code --wait", "emacsclient -t").
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

FALLBACKS = ("vi", "nano")


class EditorError(RuntimeError):
    """No editor could be started, or it failed."""


def editor_command(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            return shlex.split(value)
    for fallback in FALLBACKS:
        found = shutil.which(fallback)
        if found:
            return [found]
    raise EditorError("no editor: set $EDITOR (e.g. export EDITOR=nano)")


def edit_file(path: str | os.PathLike[str]) -> None:
    """Run the editor on `path` and wait for it; EditorError if it cannot start or fails."""
    command = [*editor_command(), str(path)]
    try:
        completed = subprocess.run(command, check=False)
    except OSError as error:
        raise EditorError(f"cannot start {command[0]!r}: {error.strerror}") from None
    if completed.returncode != 0:
        raise EditorError(f"{Path(command[0]).name} exited with status {completed.returncode}; "
                          "nothing was changed")


def edit_in_file(text: str, suffix: str = ".txt") -> str:
    """Write `text` to a private temporary file, edit it, return what was saved."""
    handle, name = tempfile.mkstemp(prefix="crm-", suffix=suffix)
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        edit_file(path)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EditorError("the file was removed in the editor; nothing was changed") from None
    finally:
        path.unlink(missing_ok=True)


def edit_text(app, text: str, suffix: str = ".txt") -> str | None:
    """Edit `text` in the user's editor with the app suspended; None if that did not work."""
    from textual.app import SuspendNotSupported

    try:
        with app.suspend():
            return edit_in_file(text, suffix)
    except SuspendNotSupported:
        app.notify("The editor needs a terminal (not available in the browser)", severity="warning")
    except EditorError as error:
        app.notify(str(error), severity="error", title="Editor")
    return None


def edit_field(app, widget, suffix: str = ".txt") -> None:
    """Edit a form field (an Input's value or a TextArea's text) in the user's editor.

    One key in every form ("… in $EDITOR") calls this; an Input keeps a single line.
    """
    from textual.widgets import Input, TextArea

    if isinstance(widget, TextArea):
        result = edit_text(app, widget.text, suffix)
        if result is not None:
            widget.text = result.rstrip("\n")
    elif isinstance(widget, Input):
        result = edit_text(app, widget.value, suffix)
        if result is not None:
            widget.value = " ".join(result.split())
    widget.focus()
