"""Windows of a long sorted list at any offset, without stepping over every row before them.

A database skips an OFFSET by walking the rows before it: the window at position 900,000 of a
million contacts walks 900,000 index entries (about 60 ms on SQLite even when the index covers
the filter, seconds when it does not). `window_ids` keeps, per list, the sort key of every
`STEP`-th row (its anchors), learned the first time a window beyond them is asked for, and then
fetches any window as "seek to the anchor at or before it (keyset), skip fewer than STEP rows".
The first jump to the end of a million rows costs about one walk of the list; every window after
it costs a millisecond or two, wherever it is.

Anchors describe one version of the data: the `meta.change_counter` row (migration 0003), read
in the same read transaction as the window. When it has moved they are dropped and learned
again. Windows before the first anchor step (the list as it opens, a few pages down) are plain
LIMIT/OFFSET and never read the counter.

SQLite only: there the sort indexes end in the columns the filters test (migration 0005), so a
walk reads the index alone. Other databases get plain LIMIT/OFFSET (PostgreSQL sorts NULLs at
the other end, which the keyset conditions below would have to mirror).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, tuple_
from sqlmodel import Session, col, select

STEP = 16_384
"""Rows between two anchors: the most a window ever skips (about 1 ms of index walk)."""
LISTS_KEPT = 16
"""Lists whose anchors are kept (filter x sort x user); the least recently used go first."""


@dataclass(frozen=True)
class SortSpec:
    """A list's order: the sort columns, ending with a unique one (the id)."""

    columns: tuple
    """Model columns, e.g. (Contact.name, Contact.id); the last must be unique and NOT NULL."""
    descending: bool = False
    nullable: bool = False
    """Whether the first column may be NULL (then it is the only sort column before the id)."""

    def order_by(self) -> list[ColumnElement]:
        return [col(c).desc() if self.descending else col(c).asc() for c in self.columns]


@dataclass
class _Anchors:
    version: str
    keys: list[tuple] = field(default_factory=list)
    """keys[k]: the sort key of the row at position k * STEP."""
    complete: bool = False
    """The list has no row at position len(keys) * STEP."""


_lists: OrderedDict[Hashable, _Anchors] = OrderedDict()
_lock = threading.Lock()
"""Guards `_lists`."""
_learning = threading.Lock()
"""Held while anchors are learned (the only time an `_Anchors` changes)."""


def forget_all() -> None:
    """Drop every list's anchors (tests; benchmarks measuring a first jump)."""
    with _lock:
        _lists.clear()


def window_ids(
    session: Session,
    model,
    conditions: Sequence[ColumnElement],
    spec: SortSpec,
    offset: int,
    limit: int,
    list_key: Hashable,
) -> list:
    """The ids of the rows at positions [offset, offset + limit) of the sorted, filtered list.

    `list_key` names the list (whatever decides which rows it holds and in which order:
    filter, sort, the acting user, today); `model` is the table's model class with an `id`.
    """
    offset, limit = max(offset, 0), max(limit, 0)
    ident = col(model.id)
    if limit == 0:
        return []
    if offset < STEP or session.get_bind().dialect.name != "sqlite":
        return _plain(session, ident, conditions, spec, offset, limit)
    version = _version(session)
    if version is None:
        return _plain(session, ident, conditions, spec, offset, limit)
    key = (str(session.get_bind().url), list_key)
    wanted = offset // STEP
    anchors = _cached(key, version)
    if anchors is None or (len(anchors.keys) <= wanted and not anchors.complete):
        # One learner at a time (the table fetches two windows at once after a jump): the
        # others wait and then find the anchors learned. Anchors are only ever appended to.
        with _learning:
            anchors = _cached(key, version) or _Anchors(version)
            _learn(session, ident, conditions, spec, anchors, wanted)
            with _lock:
                _lists[key] = anchors
                _lists.move_to_end(key)
                while len(_lists) > LISTS_KEPT:
                    _lists.popitem(last=False)
    if not anchors.keys:
        return []
    if wanted >= len(anchors.keys):
        return []  # past the end of the list
    skip = offset - wanted * STEP
    rows = _from_anchor(session, ident, conditions, spec, anchors.keys[wanted], skip, limit,
                        keys=False)
    return [row[-1] for row in rows]


def _cached(key: Hashable, version: str) -> _Anchors | None:
    with _lock:
        anchors = _lists.get(key)
        if anchors is None or anchors.version != version:
            return None
        _lists.move_to_end(key)
        return anchors


def _version(session: Session) -> str | None:
    from crm_tui.models import Meta
    from crm_tui.services.conflicts import CHANGE_COUNTER_KEY

    return session.exec(select(Meta.value).where(Meta.key == CHANGE_COUNTER_KEY)).first()


def _plain(session, ident, conditions, spec: SortSpec, offset: int, limit: int) -> list:
    statement = (
        select(ident).where(*conditions).order_by(*spec.order_by()).offset(offset).limit(limit)
    )
    return list(session.exec(statement).all())


def _learn(session, ident, conditions, spec: SortSpec, anchors: _Anchors, wanted: int) -> None:
    """Extend `anchors` until it holds anchor `wanted` or the list ends."""
    if not anchors.keys and not anchors.complete:
        first = session.exec(
            select(*spec.columns).where(*conditions).order_by(*spec.order_by()).limit(1)
        ).first()
        if first is None:
            anchors.complete = True
            return
        anchors.keys.append(tuple(first))
    while len(anchors.keys) <= wanted and not anchors.complete:
        found = _from_anchor(session, ident, conditions, spec, anchors.keys[-1], STEP, 1, keys=True)
        if found:
            anchors.keys.append(tuple(found[0]))
        else:
            anchors.complete = True


def _segments(spec: SortSpec, anchor: tuple) -> list[tuple[ColumnElement, list[ColumnElement]]]:
    """(condition, order) pairs whose results, one after the other, are the list from `anchor`
    on (the anchor's row included).

    A row-value comparison `(a, id) >= (x, y)` is one index range; it is never true for a NULL,
    so a nullable first column (SQLite sorts NULLs first ascending, last descending) adds the
    NULL block as a segment of its own, ordered by the id alone.
    """
    columns = [col(c) for c in spec.columns]
    ident = columns[-1]
    order = spec.order_by()
    values = list(anchor)
    if not spec.nullable:
        row = tuple_(*columns)
        return [(row <= tuple_(*values) if spec.descending else row >= tuple_(*values), order)]
    first, first_value, anchor_id = columns[0], values[0], values[-1]
    null_order = [ident.desc() if spec.descending else ident.asc()]
    if not spec.descending:
        if first_value is None:
            return [
                (and_(first.is_(None), ident >= anchor_id), null_order),
                (first.is_not(None), order),
            ]
        return [(tuple_(*columns) >= tuple_(*values), order)]
    if first_value is None:
        return [(and_(first.is_(None), ident <= anchor_id), null_order)]
    return [
        (tuple_(*columns) <= tuple_(*values), order),
        (first.is_(None), null_order),
    ]


def _from_anchor(session, ident, conditions, spec: SortSpec, anchor: tuple, skip: int,
                 limit: int, *, keys: bool) -> list[tuple]:
    """Up to `limit` rows after skipping `skip` rows from the anchor's row; each row is the sort
    key (`keys`) or just the id, as a tuple ending with the id."""
    out: list[tuple] = []
    for condition, order in _segments(spec, anchor):
        wanted = limit - len(out)
        columns = spec.columns if keys else (ident,)
        rows = session.exec(
            select(*columns).where(*conditions, condition).order_by(*order)
            .offset(skip).limit(wanted)
        ).all()
        if rows:
            out.extend(tuple(r) if keys else (r,) for r in rows)
            skip = 0
        elif skip:
            # This segment holds no more than `skip` rows: skip over all of them.
            skip -= session.exec(
                select(func.count()).select_from(ident.table).where(*conditions, condition)
            ).one()
            skip = max(skip, 0)
        if len(out) >= limit:
            break
    return out


__all__ = ["STEP", "SortSpec", "forget_all", "window_ids"]
