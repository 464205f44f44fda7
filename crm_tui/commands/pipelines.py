"""`crm pipelines list|add|edit`: pipelines (sales processes), their stages and follow-up mails."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command

STAGE_SYNTAX = """\
stages are written NAME[:PROBABILITY[:DAYS[:won|lost]]]
  PROBABILITY  percent 0..100 (default 0; 100 for a won stage)
  DAYS         days an opportunity may stay before it is rotting; 0 = never (default)
  won|lost     the stage that closes opportunities as won / lost (at most one of each)
  e.g. "Neu:10:7"  "Angebot:50:14"  "Gewonnen:100:0:won"  "Verloren:0:0:lost"
Stage names may not contain ':' or ','."""

ADD_EPILOG = STAGE_SYNTAX + """

examples:
  crm pipelines add --name Projekte --stages "Neu:10:7,Angebot:50:14,Gewonnen:100:0:won"
  crm pipelines add --name Miete --stage Anfrage:10:3 --stage "Besichtigung:40:14" \\
      --stage Vertrag:100::won --followup on --followup-interval 1 --followup-unit weeks"""

EDIT_EPILOG = STAGE_SYNTAX + """

--edit-stage "NAME=SPEC" changes stage NAME; empty parts of SPEC stay as they are, and the
flag part is won, lost or none:
  --edit-stage "Neu=Qualifiziert"   rename      --edit-stage "Angebot=:60"    probability 60 %
  --edit-stage "Angebot=::21"       21 days     --edit-stage "Ende=:::won"    make it the won stage
Operations run in this order, all or nothing: --edit-stage, --add-stage, --remove-stage, --order.
A new ordinary stage goes before the won/lost stages. Removing a stage that holds opportunities
needs --move-to STAGE: they move there (stage date reset, history written).

examples:
  crm pipelines edit "B2B Vertrieb" --followup off
  crm pipelines edit Immobilien --add-stage "Finanzierung:60:14" --order "NEU,Besichtigungstermin,Finanzierung,Vertrag,Erfolgreich"
  crm pipelines edit Immobilien --remove-stage Besichtigungstermin --move-to NEU"""

PIPELINE_OPTIONS = (
    ("--name", "name", "NAME", "pipeline name"),
    ("--followup", "followup_enabled", "on|off", "follow-up mails to owners of rotting opportunities"),
    ("--followup-interval", "followup_interval", "N", "follow-up every N units after the first mail"),
    ("--followup-unit", "followup_unit", "UNIT", "days, weeks or months"),
    ("--position", "position", "N", "place in the pipeline switcher (0 = first)"),
)


def _pipeline_options(parser: argparse.ArgumentParser) -> None:
    for option, field, metavar, help_ in PIPELINE_OPTIONS:
        parser.add_argument(option, dest=f"field_{field}", metavar=metavar, help=help_)


def register(sub) -> None:
    group = sub.add_parser("pipelines", help="pipelines, stages, durations, follow-ups",
                           description="Pipelines (sales processes) and their stages.")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")

    add_command(verbs, "list", "crm_tui.commands.pipelines:list_",
                "list pipelines with their stages (JSON: stages nested)")

    formatter = argparse.RawDescriptionHelpFormatter
    add = add_command(verbs, "add", "crm_tui.commands.pipelines:add", "add a pipeline with its stages (admin)",
                      epilog=ADD_EPILOG, formatter_class=formatter)
    _pipeline_options(add)
    add.add_argument("--stages", metavar="SPEC,SPEC,...", help="the stages in order, comma-separated")
    add.add_argument("--stage", dest="stage_specs", action="append", default=[], metavar="SPEC",
                     help="one stage (repeat in order); instead of or after --stages")

    edit = add_command(verbs, "edit", "crm_tui.commands.pipelines:edit",
                       "change a pipeline and its stages (admin)", epilog=EDIT_EPILOG,
                       formatter_class=formatter)
    edit.add_argument("pipeline", metavar="PIPELINE", help="pipeline name or id")
    _pipeline_options(edit)
    edit.add_argument("--edit-stage", action="append", default=[], metavar="NAME=SPEC",
                      help="change a stage (repeatable)")
    edit.add_argument("--add-stage", action="append", default=[], metavar="SPEC",
                      help="add a stage (repeatable)")
    edit.add_argument("--remove-stage", action="append", default=[], metavar="NAME",
                      help="remove a stage (repeatable)")
    edit.add_argument("--move-to", metavar="STAGE",
                      help="where the opportunities of removed stages go")
    edit.add_argument("--order", metavar="NAME,NAME,...", help="the new order of all stages")


# -- stage specs -----------------------------------------------------------------------------


def parse_stage_spec(text: str, *, partial: bool = False) -> dict[str, object]:
    """NAME[:PROBABILITY[:DAYS[:won|lost]]] -> stage values. With `partial`, empty parts are left
    out (an edit keeps them) and the flag may be `none`."""
    from crm_tui.services.errors import ValidationError

    parts = [p.strip() for p in text.split(":")]
    if len(parts) > 4:
        raise ValidationError("stages", f"{text!r}: write NAME:PROBABILITY:DAYS:won|lost")
    parts += [""] * (4 - len(parts))
    name, probability, days, flag = parts
    values: dict[str, object] = {}
    if name or not partial:
        values["name"] = name
    if probability:
        values["probability"] = probability.rstrip("%")
    if days:
        values["duration_days"] = days.rstrip("d")
    flag = flag.lower()
    if flag in ("won", "lost"):
        values["is_won"], values["is_lost"] = flag == "won", flag == "lost"
    elif flag in ("none", "-") and partial:
        values["is_won"] = values["is_lost"] = False
    elif flag:
        raise ValidationError("stages", f"{text!r}: the last part is won or lost, not {flag!r}")
    return values


def _stage_list(args: argparse.Namespace) -> list[dict[str, object]]:
    specs = [s for s in (args.stages or "").split(",") if s.strip()]
    specs += list(args.stage_specs)
    return [parse_stage_spec(s) for s in specs]


def _pipeline_values(args: argparse.Namespace) -> dict[str, object]:
    return {
        field: getattr(args, f"field_{field}")
        for _option, field, _metavar, _help in PIPELINE_OPTIONS
        if getattr(args, f"field_{field}", None) is not None
    }


# -- handlers --------------------------------------------------------------------------------


def _print_pipelines(configs) -> None:
    from crm_tui.commands.common import print_table

    for config in configs:
        followup = (f"follow-up every {config.followup_interval} {config.followup_unit}"
                    if config.followup_enabled else "follow-up off")
        print_table(
            ["#", "stage", "prob", "days", "closes", "opps"],
            [(s.position + 1, s.name, f"{s.probability}%", s.duration_days or "never",
              "won" if s.is_won else "lost" if s.is_lost else "", s.opportunities)
             for s in config.stages],
            title=f"{config.name} (id {config.id}, {followup})",
        )
        print()


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.pipelines import list_pipeline_configs

    with open_context(args) as ctx, ctx.db.read() as session:
        configs = list_pipeline_configs(session)
    if ctx.json:
        print_json(configs)
    else:
        _print_pipelines(configs)
    return 0


def add(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.pipelines import create_pipeline, get_pipeline_config

    if args.field_name is None:
        raise UsageError("pipelines add: --name is required")
    if not args.stages and not args.stage_specs:
        raise UsageError('pipelines add: give the stages, e.g. --stages "Neu:10:7,Angebot:50:14,Gewonnen:100:0:won"')
    values = _pipeline_values(args)
    stages = _stage_list(args)
    with open_context(args) as ctx:
        def work(session):
            pipeline = create_pipeline(session, ctx.actor, values, stages)
            return get_pipeline_config(session, pipeline.id)
        config = ctx.workspace.write(work)
    if ctx.json:
        print_json(config)
    else:
        print(f"added pipeline {config.id}: {config.name} with {len(config.stages)} stages")
    return 0


def edit(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.errors import ValidationError
    from crm_tui.services.pipelines import (
        add_stage,
        find_pipeline,
        find_stage,
        get_pipeline_config,
        parse_flag,
        remove_stage,
        reorder_stages,
        update_pipeline,
        update_stage,
    )

    values = _pipeline_values(args)
    edits = []
    for item in args.edit_stage:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip():
            raise ValidationError("edit_stage", f"{item!r}: write NAME=SPEC, e.g. \"Angebot=:60:14\"")
        edits.append((name.strip(), parse_stage_spec(spec, partial=True)))
    additions = [parse_stage_spec(s) for s in args.add_stage]
    order = [s.strip() for s in (args.order or "").split(",") if s.strip()]
    if not (values or edits or additions or args.remove_stage or order):
        raise UsageError("pipelines edit: nothing to change; see `crm pipelines edit --help`")
    if args.move_to and not args.remove_stage:
        raise UsageError("pipelines edit: --move-to goes with --remove-stage")
    # Switching follow-ups off goes first (stage edits may then drop every duration); anything
    # else goes last (stage edits may first give a stage the duration follow-ups need).
    switching_off = "followup_enabled" in values and not parse_flag(values["followup_enabled"], "followup")

    with open_context(args) as ctx:
        def work(session):
            pipeline_id = find_pipeline(session, args.pipeline).id
            if values and switching_off:
                update_pipeline(session, ctx.actor, pipeline_id, values)
            for name, change in edits:
                update_stage(session, ctx.actor, find_stage(session, pipeline_id, name, "edit_stage").id, change)
            for spec in additions:
                add_stage(session, ctx.actor, pipeline_id, spec)
            for name in args.remove_stage:
                stage = find_stage(session, pipeline_id, name, "remove_stage")
                remove_stage(session, ctx.actor, stage.id, args.move_to)
            if order:
                reorder_stages(session, ctx.actor, pipeline_id, order)
            if values and not switching_off:
                update_pipeline(session, ctx.actor, pipeline_id, values)
            return get_pipeline_config(session, pipeline_id)
        config = ctx.workspace.write(work)
    if ctx.json:
        print_json(config)
    else:
        _print_pipelines([config])
    return 0
