"""Concurrent edits: resolving a stale save, and noticing that others changed data.

**Refresh polling.** `data_version(session)` reads one number that moves whenever any record is
written by anybody (any process; bumped by triggers, see migration 0003_change_counter) and never
moves for reads. A screen remembers the number it last drew with and refreshes when it differs.

**Resolving a stale save**: what the conflict dialog shows and what it saves.

A form saves with the version it loaded (`expected_version`) and the values it loaded (`base`).
When somebody else saved first, the service raises `ConflictError` listing, per field, the
loaded value (base), mine and theirs. Not every listed field needs a person to decide:

- only I changed it (base == theirs): keep mine, no question;
- only they changed it (base == mine, the form just sent it along): take theirs, no question;
- both changed it to different values: a real conflict, the person chooses mine or theirs.

`classify()` gives the dialog its rows with a default choice each; `resolve_conflict()` turns the
choices into the values to save again with `expected_version=error.current_version` (and
`base=resolution.base`, so a third save in between is caught again). Keep mine for all = every
field "mine"; take theirs for all = every field "theirs" (nothing to save: just reload).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import text

from crm_tui.services.errors import ConflictError, FieldConflict, ValidationError

CHANGE_COUNTER_KEY = "change_counter"

MINE = "mine"
THEIRS = "theirs"
CHOICES = (MINE, THEIRS)


def _norm(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _same(a: object, b: object) -> bool:
    return _norm(a) == _norm(b)


@dataclass(frozen=True)
class ConflictRow:
    """One line of the conflict dialog."""

    field: str
    base: object
    mine: object
    theirs: object
    needs_choice: bool
    """True when both sides changed the field: the person must choose."""
    default: str
    """The choice made without asking: mine if only I changed it, theirs if only they did."""

    @classmethod
    def of(cls, conflict: FieldConflict) -> ConflictRow:
        i_changed = not _same(conflict.base, conflict.mine)
        they_changed = not _same(conflict.base, conflict.theirs)
        needs = i_changed and they_changed and not _same(conflict.mine, conflict.theirs)
        default = MINE if i_changed and not they_changed else THEIRS
        if needs:
            default = MINE  # what a form pre-selects; the person confirms or flips it
        return cls(conflict.field, conflict.base, conflict.mine, conflict.theirs, needs, default)


@dataclass(frozen=True)
class Resolution:
    """What to save after the dialog."""

    values: dict[str, object]
    """The fields to save (those where mine was chosen); empty: nothing left to save."""
    expected_version: int
    """The version the other session left: save with this, so a newer save is caught again."""
    base: dict[str, object] = field(default_factory=dict)
    """Their values of the listed fields: the `base` of the next save."""
    taken_theirs: tuple[str, ...] = ()

    @property
    def nothing_to_save(self) -> bool:
        return not self.values


def classify(error: ConflictError) -> list[ConflictRow]:
    """The dialog's rows, real conflicts first (in the order the service listed them)."""
    rows = [ConflictRow.of(c) for c in error.fields]
    return [r for r in rows if r.needs_choice] + [r for r in rows if not r.needs_choice]


def resolve_conflict(
    error: ConflictError,
    choices: Mapping[str, str] | None = None,
    *,
    all_: str | None = None,
) -> Resolution:
    """The values to save, given the person's choice per field ("mine" or "theirs").

    `all_="mine"` keeps mine everywhere ("keep mine"), `all_="theirs"` takes theirs everywhere
    ("take theirs"). Otherwise every field that needs a choice must have one in `choices`;
    fields that need none take their default unless `choices` says otherwise.
    """
    choices = dict(choices or {})
    if all_ is not None and all_ not in CHOICES:
        raise ValidationError("choice", f"{all_!r} is not one of {', '.join(CHOICES)}")
    listed = {c.field for c in error.fields}
    for name, choice in choices.items():
        if name not in listed:
            raise ValidationError(name, "is not one of the conflicting fields")
        if choice not in CHOICES:
            raise ValidationError(name, f"choose {MINE} or {THEIRS}, not {choice!r}")
    values: dict[str, object] = {}
    base: dict[str, object] = {}
    taken: list[str] = []
    for row in classify(error):
        choice = all_ or choices.get(row.field)
        if choice is None:
            if row.needs_choice:
                raise ValidationError(row.field, f"changed by both: choose {MINE} or {THEIRS}")
            choice = row.default
        base[row.field] = row.theirs
        if choice == MINE:
            values[row.field] = row.mine
        else:
            taken.append(row.field)
    return Resolution(values, error.current_version, base, tuple(taken))


def data_version(session) -> int:
    """The change counter: moves on every committed write, by anybody; one primary-key read.

    Works in a read session (`db.read()`) on SQLite and PostgreSQL. 0 before the first write.
    """
    value = session.exec(
        text("SELECT value FROM meta WHERE key = :key").bindparams(key=CHANGE_COUNTER_KEY)
    ).scalar()
    try:
        return int(value or 0)
    except ValueError:
        return 0
