"""The configuration a new database starts with: pipelines and stages, activity types (with their
chaining), lost reasons and the customer number sequence, read from the shipped `data/` files.

`install_defaults` runs once per database: a `meta` row remembers that it did, so the check on
every start is one small query, and a user who deletes, say, every lost reason does not get them
back at the next start. A table that already has rows (a database set up by hand) is left alone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from crm_tui.models import (
    ActivityType,
    LostReason,
    Meta,
    NumberSequence,
    Pipeline,
    Stage,
)
from crm_tui.paths import shipped_data_dir

DEFAULTS_KEY = "defaults_installed"
DEFAULTS_VERSION = "1"
CUSTOMER_SEQUENCE = "Kunden"
CUSTOMER_PREFIX = "K-{year}-"
CUSTOMER_PADDING = 5
_PG_LOCK_KEY = 0x63726D64  # "crmd"


@dataclass(frozen=True)
class InstalledDefaults:
    """How many rows `install_defaults` added (all zero when it had run before)."""

    pipelines: int = 0
    stages: int = 0
    activity_types: int = 0
    lost_reasons: int = 0
    number_sequences: int = 0

    @property
    def anything(self) -> bool:
        return any((self.pipelines, self.activity_types, self.lost_reasons, self.number_sequences))


@cache
def shipped_toml(name: str) -> dict[str, Any]:
    """One of the TOML files in the shipped data folder, parsed (and cached: they never change)."""
    path = shipped_data_dir() / name
    with path.open("rb") as handle:
        return tomllib.load(handle)


def defaults_installed(session: Session) -> bool:
    return session.get(Meta, DEFAULTS_KEY) is not None


def install_defaults(session: Session) -> InstalledDefaults:
    """Fill the empty configuration tables from the shipped data, once per database.

    Runs in the caller's write session and does not commit.
    """
    if defaults_installed(session):
        return InstalledDefaults()
    if session.get_bind().dialect.name == "postgresql":
        # Two programs starting on a new database at once: the second waits, then finds the row.
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        if defaults_installed(session):
            return InstalledDefaults()
    pipelines, stages = _install_pipelines(session)
    installed = InstalledDefaults(
        pipelines=pipelines,
        stages=stages,
        activity_types=_install_activity_types(session),
        lost_reasons=_install_lost_reasons(session),
        number_sequences=_install_number_sequence(session),
    )
    session.add(Meta(key=DEFAULTS_KEY, value=DEFAULTS_VERSION))
    session.flush()
    return installed


def _is_empty(session: Session, model: type) -> bool:
    return session.exec(select(func.count()).select_from(model)).one() == 0


def _install_pipelines(session: Session) -> tuple[int, int]:
    if not _is_empty(session, Pipeline):
        return 0, 0
    pipeline_count = stage_count = 0
    for position, spec in enumerate(shipped_toml("pipelines.toml")["pipelines"]):
        pipeline = Pipeline(
            name=spec["name"],
            position=position,
            followup_enabled=spec.get("followup_enabled", False),
            followup_interval=spec.get("followup_interval", 1),
            followup_unit=spec.get("followup_unit", "weeks"),
        )
        session.add(pipeline)
        session.flush()
        pipeline_count += 1
        for stage_position, stage in enumerate(spec["stages"]):
            session.add(Stage(
                pipeline_id=pipeline.id,
                name=stage["name"],
                position=stage_position,
                probability=stage.get("probability", 0),
                duration_days=stage.get("duration_days", 0),
                is_won=stage.get("is_won", False),
                is_lost=stage.get("is_lost", False),
            ))
            stage_count += 1
    session.flush()
    return pipeline_count, stage_count


def _install_activity_types(session: Session) -> int:
    if not _is_empty(session, ActivityType):
        return 0
    specs = shipped_toml("activity_types.toml")["types"]
    by_name: dict[str, ActivityType] = {}
    for spec in specs:
        activity_type = ActivityType(
            name=spec["name"],
            category=spec["category"],
            default_summary=spec.get("default_summary", ""),
            default_note=spec.get("default_note", ""),
            default_reminder_minutes=spec.get("default_reminder_minutes"),
            chaining=spec.get("chaining", "none"),
            delay_count=spec.get("delay_count", 0),
            delay_unit=spec.get("delay_unit", "days"),
            delay_from=spec.get("delay_from", "previous_deadline"),
        )
        session.add(activity_type)
        # One at a time, so ids follow the file's order: "call" finds the first call type.
        session.flush()
        by_name[activity_type.name] = activity_type
    for spec in specs:
        next_name = spec.get("next_type")
        if next_name:
            if next_name not in by_name:
                raise ValueError(
                    f"activity_types.toml: {spec['name']!r} chains to unknown type {next_name!r}"
                )
            # A plain UPDATE: a new type starts at version 1 like every other new record.
            chained = by_name[spec["name"]]
            session.exec(
                update(ActivityType)
                .where(col(ActivityType.id) == chained.id)
                .values(next_type_id=by_name[next_name].id)
            )
            session.expire(chained)
    return len(specs)


def _install_lost_reasons(session: Session) -> int:
    if not _is_empty(session, LostReason):
        return 0
    reasons = shipped_toml("lost_reasons.toml")["reasons"]
    session.add_all(LostReason(name=name) for name in reasons)
    session.flush()
    return len(reasons)


def _install_number_sequence(session: Session) -> int:
    if not _is_empty(session, NumberSequence):
        return 0
    session.add(NumberSequence(
        name=CUSTOMER_SEQUENCE, prefix=CUSTOMER_PREFIX, padding=CUSTOMER_PADDING, next_value=1
    ))
    session.flush()
    return 1
