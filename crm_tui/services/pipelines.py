"""Pipelines (sales processes) and their stages: the configuration an admin edits.

A pipeline has a name, a place in the pipeline switcher (`position`) and its follow-up mail
settings (seed 004: on/off, interval, unit). A stage has a name unique in its pipeline, an order,
a probability (0..100 %), a duration in days after which an opportunity sitting in it is rotting
(0 = never) and a won or lost flag. Rules decided here:

- at most one won stage and one lost stage per pipeline (`won` and `lost` move an opportunity
  there, so there must be no doubt which one), and no stage is both;
- a pipeline keeps at least one stage;
- follow-up mails need a stage duration somewhere in the pipeline (seed 004: the duration is what
  makes a stage "due"), so they cannot be switched on while every duration is 0;
- a stage's new probability reaches the open opportunities in it that do not override it;
- removing a stage that holds opportunities needs a target stage of the same pipeline: they move
  there (stage date reset, follow-up counters reset, one history row each); their status stays;
- only an admin changes any of this. Every change leaves a `config` row in the history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import String, case, cast, delete, func, insert, literal, update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.models import FOLLOWUP_UNITS, HistoryEntry, Opportunity, Pipeline, Stage
from crm_tui.models.base import UTCDateTime
from crm_tui.services import history, validation
from crm_tui.services.errors import NotFound, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import check_configure

PIPELINE_FIELDS = ("name", "followup_enabled", "followup_interval", "followup_unit", "position")
STAGE_FIELDS = ("name", "probability", "duration_days", "is_won", "is_lost")
MAX_DURATION_DAYS = 3650
MAX_FOLLOWUP_INTERVAL = 365
_TRUE = ("1", "true", "yes", "on", "y", "ja")
_FALSE = ("0", "false", "no", "off", "n", "nein", "")


@dataclass(frozen=True)
class StageConfig:
    id: int
    name: str
    position: int
    probability: int
    duration_days: int
    """Days before an opportunity sitting here is rotting; 0 means never."""
    is_won: bool
    is_lost: bool
    opportunities: int
    """Opportunities of any status in the stage (removing it must say where they go)."""


@dataclass(frozen=True)
class PipelineConfig:
    id: int
    name: str
    position: int
    followup_enabled: bool
    followup_interval: int
    followup_unit: str
    stages: tuple[StageConfig, ...] = ()


# -- reading ---------------------------------------------------------------------------------


def _matches(name: str, text: str) -> bool:
    return name.casefold() == text.casefold()


def find_pipeline(session: Session, ref: object, field: str = "pipeline") -> Pipeline:
    """A pipeline by name (any case) or id."""
    if isinstance(ref, Pipeline):
        return ref
    text = ("" if ref is None else str(ref)).strip()
    if not text:
        raise ValidationError(field, "a pipeline is required")
    pipelines = session.exec(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).all()
    for pipeline in pipelines:
        if _matches(pipeline.name, text):
            return pipeline
    if text.isdigit():
        for pipeline in pipelines:
            if pipeline.id == int(text):
                return pipeline
    names = ", ".join(p.name for p in pipelines) or "none yet"
    raise ValidationError(field, f"no pipeline {text!r} (pipelines: {names})")


def default_pipeline(session: Session) -> Pipeline:
    """The first pipeline of the switcher."""
    pipeline = session.exec(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).first()
    if pipeline is None:
        raise ValidationError("pipeline", "there is no pipeline yet; add one with `crm pipelines add`")
    return pipeline


def pipeline_stages(session: Session, pipeline_id: int) -> list[Stage]:
    """The stages of one pipeline in board order."""
    return list(
        session.exec(
            select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position, Stage.id)
        ).all()
    )


def find_stage(session: Session, pipeline_id: int, ref: object, field: str = "stage") -> Stage:
    """A stage of the pipeline by name (any case) or id."""
    if isinstance(ref, Stage):
        if ref.pipeline_id != pipeline_id:
            raise ValidationError(field, f"stage {ref.name!r} belongs to another pipeline")
        return ref
    text = ("" if ref is None else str(ref)).strip()
    if not text:
        raise ValidationError(field, "a stage is required")
    stages = pipeline_stages(session, pipeline_id)
    for stage in stages:
        if _matches(stage.name, text):
            return stage
    if text.isdigit():
        for stage in stages:
            if stage.id == int(text):
                return stage
    pipeline = session.get(Pipeline, pipeline_id)
    names = ", ".join(s.name for s in stages) or "none"
    raise ValidationError(
        field, f"pipeline {pipeline.name if pipeline else pipeline_id!r} has no stage {text!r} (stages: {names})"
    )


def load_stage(session: Session, stage_id: int) -> Stage:
    stage = session.get(Stage, stage_id)
    if stage is None:
        raise NotFound("stage", stage_id)
    return stage


def won_stage(session: Session, pipeline_id: int) -> Stage | None:
    return session.exec(
        select(Stage).where(Stage.pipeline_id == pipeline_id, col(Stage.is_won)).order_by(Stage.position)
    ).first()


def lost_stage(session: Session, pipeline_id: int) -> Stage | None:
    return session.exec(
        select(Stage).where(Stage.pipeline_id == pipeline_id, col(Stage.is_lost)).order_by(Stage.position)
    ).first()


def _opportunity_counts(session: Session) -> dict[int, int]:
    rows = session.exec(
        select(Opportunity.stage_id, func.count()).group_by(col(Opportunity.stage_id))
    ).all()
    return {stage_id: count for stage_id, count in rows}


def _config_of(pipeline: Pipeline, stages: Sequence[Stage], counts: Mapping[int, int]) -> PipelineConfig:
    return PipelineConfig(
        id=pipeline.id, name=pipeline.name, position=pipeline.position,
        followup_enabled=pipeline.followup_enabled, followup_interval=pipeline.followup_interval,
        followup_unit=pipeline.followup_unit,
        stages=tuple(
            StageConfig(
                id=s.id, name=s.name, position=s.position, probability=s.probability,
                duration_days=s.duration_days, is_won=s.is_won, is_lost=s.is_lost,
                opportunities=counts.get(s.id, 0),
            )
            for s in stages
        ),
    )


def list_pipeline_configs(session: Session) -> list[PipelineConfig]:
    """Every pipeline with its stages (and how many opportunities each stage holds)."""
    pipelines = session.exec(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).all()
    stages = session.exec(select(Stage).order_by(Stage.pipeline_id, Stage.position, Stage.id)).all()
    counts = _opportunity_counts(session)
    by_pipeline: dict[int, list[Stage]] = {}
    for stage in stages:
        by_pipeline.setdefault(stage.pipeline_id, []).append(stage)
    return [_config_of(p, by_pipeline.get(p.id, []), counts) for p in pipelines]


def get_pipeline_config(session: Session, ref: object) -> PipelineConfig:
    pipeline = find_pipeline(session, ref)
    return _config_of(pipeline, pipeline_stages(session, pipeline.id), _opportunity_counts(session))


# -- validating ------------------------------------------------------------------------------


def parse_flag(value: object, field: str) -> bool:
    """True/False from a bool or from on/off, yes/no, true/false, 1/0."""
    if isinstance(value, bool):
        return value
    text = ("" if value is None else str(value)).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError(field, f"{value!r} is not on/off (yes/no, true/false)")


def _unknown(values: Mapping[str, object], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValidationError(unknown[0], f"is not a {what} field")


def _clean_pipeline(values: Mapping[str, object]) -> dict[str, object]:
    _unknown(values, PIPELINE_FIELDS, "pipeline")
    out: dict[str, object] = {}
    for name, value in values.items():
        if name == "name":
            out[name] = validation.clean_text(value, name, 100, required=True)
        elif name == "followup_enabled":
            out[name] = parse_flag(value, name)
        elif name == "followup_interval":
            out[name] = validation.whole_number(value, name, 1, MAX_FOLLOWUP_INTERVAL)
        elif name == "followup_unit":
            text = str(value or "").strip().lower()
            text = {"day": "days", "week": "weeks", "month": "months", "d": "days", "w": "weeks",
                    "m": "months"}.get(text, text)
            out[name] = validation.choice(text, FOLLOWUP_UNITS, name)
        elif name == "position":
            out[name] = validation.whole_number(value, name, 0, 10_000)
    return out


def _clean_stage(values: Mapping[str, object]) -> dict[str, object]:
    _unknown(values, STAGE_FIELDS, "stage")
    out: dict[str, object] = {}
    for name, value in values.items():
        if name == "name":
            out[name] = validation.clean_text(value, name, 100, required=True)
            if ":" in out[name] or "," in out[name]:
                # They separate the parts of the command line's stage specs.
                raise ValidationError(name, "a stage name may not contain ':' or ','")
        elif name == "probability":
            out[name] = validation.whole_number(value, name, 0, 100)
        elif name == "duration_days":
            out[name] = validation.whole_number(value, name, 0, MAX_DURATION_DAYS)
        elif name in ("is_won", "is_lost"):
            out[name] = parse_flag(value, name)
    return out


def _check_pipeline_name(session: Session, name: str, own_id: int | None) -> None:
    for other in session.exec(select(Pipeline)).all():
        if other.id != own_id and _matches(other.name, name):
            raise ValidationError("name", f"there is already a pipeline {other.name!r}")


def _check_stages(pipeline: Pipeline, stages: Sequence[Stage]) -> None:
    """The rules over a pipeline's whole set of stages (after a change, before the flush)."""
    if not stages:
        raise ValidationError("stages", f"pipeline {pipeline.name!r} needs at least one stage")
    seen: dict[str, str] = {}
    won = [s.name for s in stages if s.is_won]
    lost = [s.name for s in stages if s.is_lost]
    for stage in stages:
        key = stage.name.casefold()
        if key in seen:
            raise ValidationError("name", f"pipeline {pipeline.name!r} already has a stage {seen[key]!r}")
        seen[key] = stage.name
        if stage.is_won and stage.is_lost:
            raise ValidationError("is_won", f"stage {stage.name!r} cannot be both won and lost")
    if len(won) > 1:
        raise ValidationError("is_won", f"pipeline {pipeline.name!r} may have one won stage, not {', '.join(won)}")
    if len(lost) > 1:
        raise ValidationError("is_lost", f"pipeline {pipeline.name!r} may have one lost stage, not {', '.join(lost)}")
    if pipeline.followup_enabled and not any(s.duration_days > 0 for s in stages):
        raise ValidationError(
            "followup_enabled",
            "follow-up mails need a stage duration: give at least one stage a duration in days",
        )


def _renumber(session: Session, stages: Sequence[Stage]) -> None:
    for position, stage in enumerate(stages):
        if stage.position != position:
            stage.position = position
            session.add(stage)


def _new_stage(pipeline_id: int, cleaned: Mapping[str, object]) -> Stage:
    if "name" not in cleaned:
        raise ValidationError("name", "a stage needs a name")
    is_won = bool(cleaned.get("is_won", False))
    default_probability = 100 if is_won else 0
    return Stage(
        pipeline_id=pipeline_id,
        name=cleaned["name"],
        probability=cleaned.get("probability", default_probability),
        duration_days=cleaned.get("duration_days", 0),
        is_won=is_won,
        is_lost=bool(cleaned.get("is_lost", False)),
    )


def _config_history(session: Session, actor: Actor, subject: str, field: str = "",
                    old: object = None, new: object = None, note: str = "") -> None:
    history.record(session, actor, "config", subject=subject, field=field, old=old, new=new, note=note)


def _stage_text(stage: Stage) -> str:
    flag = " won" if stage.is_won else " lost" if stage.is_lost else ""
    return f"{stage.name} {stage.probability}% {stage.duration_days}d{flag}"


# -- writing ---------------------------------------------------------------------------------


def create_pipeline(
    session: Session,
    actor: Actor,
    values: Mapping[str, object],
    stages: Sequence[Mapping[str, object]] = (),
) -> Pipeline:
    """A new pipeline with its stages (in the order given); admin only."""
    check_configure(actor, "pipelines")
    cleaned = _clean_pipeline(values)
    if "name" not in cleaned:
        raise ValidationError("name", "is required")
    _check_pipeline_name(session, cleaned["name"], None)
    if "position" not in cleaned:
        last = session.exec(select(func.max(Pipeline.position))).one()
        cleaned["position"] = 0 if last is None else last + 1
    pipeline = Pipeline(**cleaned)
    new_stages = [_new_stage(0, _clean_stage(spec)) for spec in stages]
    _check_stages(pipeline, new_stages)
    session.add(pipeline)
    session.flush()
    for position, stage in enumerate(new_stages):
        stage.pipeline_id = pipeline.id
        stage.position = position
        session.add(stage)
    session.flush()
    _config_history(
        session, actor, f"pipeline {pipeline.name}", new="created",
        note="; ".join(_stage_text(s) for s in new_stages),
    )
    return pipeline


def update_pipeline(session: Session, actor: Actor, ref: object, values: Mapping[str, object]) -> Pipeline:
    """Rename a pipeline, move it in the switcher, or change its follow-up settings; admin only."""
    check_configure(actor, "pipelines")
    pipeline = find_pipeline(session, ref)
    cleaned = _clean_pipeline(values)
    if "name" in cleaned:
        _check_pipeline_name(session, cleaned["name"], pipeline.id)
    changes = {k: (getattr(pipeline, k), v) for k, v in cleaned.items() if getattr(pipeline, k) != v}
    if not changes:
        return pipeline
    subject = f"pipeline {pipeline.name}"
    stages = pipeline_stages(session, pipeline.id)
    for name, (_old, new) in changes.items():
        setattr(pipeline, name, new)
    _check_stages(pipeline, stages)
    if "position" in changes:
        others = [p for p in session.exec(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).all()
                  if p.id != pipeline.id]
        others.insert(min(pipeline.position, len(others)), pipeline)
        for position, each in enumerate(others):
            if each.position != position:
                each.position = position
                session.add(each)
    session.add(pipeline)
    session.flush()
    for name, (old, new) in changes.items():
        _config_history(session, actor, subject, name, old, new)
    return pipeline


def delete_pipeline(session: Session, actor: Actor, ref: object) -> None:
    """Remove a pipeline that holds no opportunities (with its stages); admin only."""
    check_configure(actor, "pipelines")
    pipeline = find_pipeline(session, ref)
    held = session.exec(
        select(func.count()).select_from(Opportunity).where(Opportunity.pipeline_id == pipeline.id)
    ).one()
    if held:
        raise ValidationError(
            "pipeline", f"pipeline {pipeline.name!r} still holds {held} opportunities; move them first"
        )
    if session.exec(select(func.count()).select_from(Pipeline)).one() <= 1:
        raise ValidationError("pipeline", "the last pipeline cannot be removed")
    name = pipeline.name
    session.exec(delete(Stage).where(col(Stage.pipeline_id) == pipeline.id))
    session.delete(pipeline)
    session.flush()
    _config_history(session, actor, f"pipeline {name}", new="removed")


def add_stage(
    session: Session,
    actor: Actor,
    pipeline_ref: object,
    values: Mapping[str, object],
    position: int | None = None,
) -> Stage:
    """A new stage. Without a position an ordinary stage goes before the won/lost stages and a
    won/lost stage goes last; admin only."""
    check_configure(actor, "pipelines")
    pipeline = find_pipeline(session, pipeline_ref)
    stage = _new_stage(pipeline.id, _clean_stage(values))
    stages = pipeline_stages(session, pipeline.id)
    if position is None:
        closing = [i for i, s in enumerate(stages) if s.is_won or s.is_lost]
        index = closing[0] if closing and not (stage.is_won or stage.is_lost) else len(stages)
    else:
        index = validation.whole_number(position, "position", 0, 10_000)
        index = min(index, len(stages))
    stages.insert(index, stage)
    _check_stages(pipeline, stages)
    session.add(stage)
    _renumber(session, stages)
    session.flush()
    _config_history(session, actor, f"pipeline {pipeline.name}", "stages", new=f"added {_stage_text(stage)}")
    return stage


def update_stage(session: Session, actor: Actor, stage_id: int, values: Mapping[str, object]) -> Stage:
    """Rename a stage or change its probability, duration or won/lost flag; admin only.

    A new probability reaches the open opportunities in the stage that do not override it."""
    check_configure(actor, "pipelines")
    stage = load_stage(session, stage_id)
    pipeline = session.get(Pipeline, stage.pipeline_id)
    cleaned = _clean_stage(values)
    changes = {k: (getattr(stage, k), v) for k, v in cleaned.items() if getattr(stage, k) != v}
    if not changes:
        return stage
    subject = f"pipeline {pipeline.name}: stage {stage.name}"
    stages = pipeline_stages(session, pipeline.id)  # before the change: no autoflush of it
    for name, (_old, new) in changes.items():
        setattr(stage, name, new)
    _check_stages(pipeline, stages)
    session.add(stage)
    session.flush()
    if "probability" in changes:
        session.exec(
            update(Opportunity)
            .where(
                col(Opportunity.stage_id) == stage.id, col(Opportunity.status) == "open",
                ~col(Opportunity.probability_overridden),
            )
            .values(probability=stage.probability)
            .execution_options(synchronize_session=False)
        )
    for name, (old, new) in changes.items():
        _config_history(session, actor, subject, name, old, new)
    return stage


def reorder_stages(session: Session, actor: Actor, pipeline_ref: object, order: Sequence[object]) -> list[Stage]:
    """Put every stage of the pipeline in the given order (names or ids); admin only."""
    check_configure(actor, "pipelines")
    pipeline = find_pipeline(session, pipeline_ref)
    stages = pipeline_stages(session, pipeline.id)
    wanted = [find_stage(session, pipeline.id, ref, "order") for ref in order]
    if len({s.id for s in wanted}) != len(wanted):
        raise ValidationError("order", "names a stage twice")
    missing = [s.name for s in stages if s.id not in {w.id for w in wanted}]
    if missing:
        raise ValidationError("order", f"must name every stage; missing: {', '.join(missing)}")
    before = [s.name for s in stages]
    _renumber(session, wanted)
    session.flush()
    after = [s.name for s in wanted]
    if before != after:
        _config_history(session, actor, f"pipeline {pipeline.name}", "order", ", ".join(before), ", ".join(after))
    return wanted


def move_stage(session: Session, actor: Actor, stage_id: int, step: int) -> list[Stage]:
    """Move one stage `step` places right (+) or left (-) in its pipeline; admin only."""
    stage = load_stage(session, stage_id)
    stages = pipeline_stages(session, stage.pipeline_id)
    index = [s.id for s in stages].index(stage.id)
    target = max(0, min(len(stages) - 1, index + step))
    stages.insert(target, stages.pop(index))
    return reorder_stages(session, actor, stage.pipeline_id, [s.id for s in stages])


def remove_stage(session: Session, actor: Actor, stage_id: int, target: object = None) -> int:
    """Remove a stage; its opportunities move to `target` (a stage of the same pipeline, by name
    or id), which is required when there are any. Returns how many moved; admin only."""
    check_configure(actor, "pipelines")
    stage = load_stage(session, stage_id)
    pipeline = session.get(Pipeline, stage.pipeline_id)
    held = session.exec(
        select(func.count()).select_from(Opportunity).where(Opportunity.stage_id == stage.id)
    ).one()
    destination = None
    if target not in (None, ""):
        destination = find_stage(session, pipeline.id, target, "move_to")
        if destination.id == stage.id:
            raise ValidationError("move_to", f"stage {stage.name!r} is the one being removed")
    elif held:
        raise ValidationError(
            "move_to", f"stage {stage.name!r} holds {held} opportunities: say which stage they move to"
        )
    remaining = [s for s in pipeline_stages(session, pipeline.id) if s.id != stage.id]
    _check_stages(pipeline, remaining)
    if held:
        _move_all(session, actor, stage, destination, pipeline)
    name = stage.name
    session.delete(stage)
    session.flush()
    _renumber(session, remaining)
    session.flush()
    note = f"{held} opportunities moved to {destination.name}" if held else ""
    _config_history(session, actor, f"pipeline {pipeline.name}", "stages", new=f"removed {name}", note=note)
    return held


def _move_all(session: Session, actor: Actor, source: Stage, destination: Stage, pipeline: Pipeline) -> None:
    """Every opportunity of `source` to `destination`, in two statements whatever their number."""
    now = clock.now()
    note = f"stage {source.name} removed from pipeline {pipeline.name}"
    subject = literal("opportunity ") + cast(col(Opportunity.id), String) + literal(" ") + col(Opportunity.title)
    rows = select(
        literal(now, UTCDateTime()), literal(actor.id), literal(actor.login),
        col(Opportunity.contact_id), col(Opportunity.id), literal("stage"), subject,
        literal("stage"), literal(source.name), literal(destination.name), literal(note),
    ).where(col(Opportunity.stage_id) == source.id)
    session.exec(
        insert(HistoryEntry).from_select(
            ["at", "user_id", "user_login", "contact_id", "opportunity_id", "action", "subject",
             "field", "old_value", "new_value", "note"],
            rows,
        )
    )
    follows_stage = (col(Opportunity.status) == "open") & ~col(Opportunity.probability_overridden)
    session.exec(
        update(Opportunity)
        .where(col(Opportunity.stage_id) == source.id)
        .values(
            stage_id=destination.id,
            stage_entered_at=now,
            followup_first_at=None,
            followup_count=0,
            probability=case((follows_stage, destination.probability), else_=col(Opportunity.probability)),
            updated_at=now,
            version=col(Opportunity.version) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
