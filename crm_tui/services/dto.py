"""Turning service results into JSON-ready data, one rule for every front."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum

from crm_tui.services.validation import money_text


def plain(value: object) -> object:
    """Amounts as two-decimal strings, dates and times ISO 8601, dataclasses as dicts."""
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def as_dict(obj) -> dict[str, object]:
    return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
