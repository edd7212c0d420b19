"""``gisfix events``: the event table of administrative-division changes, by itself."""

from __future__ import annotations

import click

from gisfix.cli.options import layer_option, make_valid_option, output_option, overwrite_option


@click.command(short_help="Event table of administrative-division changes.")
@click.option("--code-history", "code_history", type=click.Path(), default=None,
              help="Chinese code-history CSV (areacodes format, e.g. areacodes_result.csv).")
@click.option("--vintage", "vintages", multiple=True, metavar="YEAR=PATH",
              help="A boundary vintage and its year; give two or more (needs --id).")
@click.option("--scenario", "scenarios", multiple=True, type=click.Path(),
              help="A scenario TOML whose edits carry a year; may be repeated.")
@click.option("--id", "id_col", default=None, help="Id column of the vintages.")
@click.option("--name", "name_col", default=None,
              help="Name column of the vintages (classifies recodes by the name suffix).")
@layer_option
@make_valid_option
@click.option("--event", "event_kind", default=None,
              help="Keep only this kind of event (e.g. county_to_district).")
@output_option
@overwrite_option
def events(code_history, vintages, scenarios, id_col, name_col, layer, make_valid, event_kind,
           output, overwrite):
    """Write to -o (CSV, Parquet or JSON) the event table: unit_id, year, event, new_ids,
    date (and, from a code history, name, new_names, conversion, prefecture_reorg).  Give
    exactly one source: --code-history, two or more --vintage YEAR=PATH, or --scenario."""
    import pandas as pd

    from gisfix import events as ev
    from gisfix.errors import DataError
    from gisfix.io import TABLE_SUFFIXES, check_output, provenance, write_table

    given = [bool(code_history), bool(vintages), bool(scenarios)]
    if sum(given) != 1:
        raise click.UsageError("give exactly one source: --code-history, --vintage (two or "
                               "more) or --scenario")
    if event_kind is not None and event_kind not in ev.EVENT_KINDS:
        raise click.BadParameter(f"use one of {', '.join(ev.EVENT_KINDS)}",
                                 param_hint="--event")
    check_output(output, overwrite, TABLE_SUFFIXES)
    inputs: dict = {}
    if code_history:
        table = ev.read_code_history(code_history)
        inputs["code_history"] = code_history
    elif vintages:
        if not id_col:
            raise click.UsageError("--vintage needs --id (the id column of the vintages)")
        from gisfix.cli.options import read_boundaries_from_options

        frames = {}
        for spec in vintages:
            year, sep, path = spec.partition("=")
            if not sep or not year.strip().isdigit():
                raise click.BadParameter(f"expected YEAR=PATH, got {spec!r}",
                                         param_hint="--vintage")
            frames[int(year)] = read_boundaries_from_options(path, id_col, layer=layer,
                                                             make_valid=make_valid)
            inputs[f"vintage_{int(year)}"] = path
        table = ev.events_from_vintages(frames, name_col=name_col)
    else:
        parts = [ev.events_from_scenario(path) for path in scenarios]
        table = pd.concat(parts, ignore_index=True) if parts else ev.empty_events()
        inputs["scenarios"] = list(scenarios)
    if event_kind is not None:
        table = table[table["event"] == event_kind]
        if table.empty:
            raise DataError(f"no {event_kind} events in the source")
    prov = provenance(inputs, {"event": event_kind, "name": name_col}, command="gisfix events")
    write_table(table, output, prov, overwrite=overwrite)
    click.echo(f"{len(table)} events -> {output}", err=True)
