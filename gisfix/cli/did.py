"""``gisfix did PANEL``: staggered difference-in-differences of an administrative change."""

from __future__ import annotations

import click

from gisfix.cli.options import layer_option, make_valid_option, overwrite_option


@click.command(short_help="Staggered difference-in-differences and event study.")
@click.argument("panel", type=click.Path())
@click.option("--unit", "unit_col", required=True, help="Unit id column of the panel.")
@click.option("--time", "time_col", required=True, help="Year column of the panel.")
@click.option("--outcome", required=True, help="Outcome column.")
@click.option("--events", "events_path", type=click.Path(), default=None,
              help="Event table (CSV/Parquet: unit_id, year, event, new_ids).")
@click.option("--code-history", "code_history", type=click.Path(), default=None,
              help="Chinese code-history CSV (areacodes format); events derived from it.")
@click.option("--event", "event_kind", default="county_to_district", show_default=True,
              help="The event kind that is the treatment.")
@click.option("--conversion", default="whole", show_default=True,
              help="Kind of county_to_district conversion treated (whole, merged, split, "
                   "all); other conversions are left out.")
@click.option("--from", "t0", type=int, default=None,
              help="First treatment year (default with --code-history: the panel's first "
                   "year + 1); earlier events leave their units out.")
@click.option("--to", "t1", type=int, default=None,
              help="Last treatment year (default with --code-history: the panel's last "
                   "year); later events leave their units out.")
@click.option("--comparison", default=None,
              help="Unit kinds allowed as comparison units, e.g. county,city (default with "
                   "--code-history: county,city = counties never converted; 'all' for all).")
@click.option("--missing", type=click.Choice(["error", "drop"]), default="error",
              show_default=True, help="Treated units missing from the panel: fail or drop.")
@click.option("--estimator", type=click.Choice(["twfe", "sun-abraham", "callaway-santanna"]),
              default="twfe", show_default=True)
@click.option("--control", type=click.Choice(["never", "not-yet"]), default="never",
              show_default=True, help="Comparison group (callaway-santanna).")
@click.option("--window", default=None, help="Event window lo,hi, e.g. -5,10.")
@click.option("--exclude-neighbours", "boundaries", type=click.Path(), default=None,
              help="Boundary file: comparison units adjacent to treated ones are dropped.")
@click.option("--id", "id_col", default=None, help="Id column of the --exclude-neighbours file.")
@layer_option
@make_valid_option
@click.option("--log", "log_", is_flag=True, help="Take ln(outcome) (values must be > 0).")
@click.option("--log1p", is_flag=True, help="Take ln(1 + outcome) (for outcomes with zeros).")
@click.option("--min-cohort-size", type=int, default=2, show_default=True,
              help="Smallest cohort (units) estimated.")
@click.option("--drop-small-cohorts", is_flag=True,
              help="Leave out smaller cohorts instead of failing.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Result JSON.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Event-study plot (PNG).")
@overwrite_option
def did(panel, unit_col, time_col, outcome, events_path, code_history, event_kind, conversion,
        t0, t1, comparison, missing, estimator, control, window, boundaries, id_col, layer,
        make_valid, log_, log1p, min_cohort_size, drop_small_cohorts, output, plot, overwrite):
    """Estimate the effect of an administrative change (default: county-to-district
    conversion) on OUTCOME with unit and year fixed effects (twfe), Sun & Abraham's
    interaction-weighted event study (pyfixest) or Callaway & Sant'Anna group-time ATTs
    (differences).  Writes JSON with estimator, control, att, se, ci_low, ci_high, n_units,
    n_treated, n_cohorts, event_time, the pre-trend test and provenance; --plot draws the
    event study."""
    from pathlib import Path

    from gisfix import events as ev
    from gisfix.errors import DataError
    from gisfix.io import atomic_path, check_output, provenance, write_json
    from gisfix.policy.did import estimate_did, parse_window, plot_event_study
    from gisfix.policy.panel import assign_treatment, cohorts_from_events

    if (events_path is None) == (code_history is None):
        raise click.UsageError("give one of --events or --code-history")
    if event_kind not in ev.EVENT_KINDS:
        raise click.BadParameter(f"unknown event kind {event_kind!r}; use one of "
                                 f"{', '.join(ev.EVENT_KINDS)}", param_hint="--event")
    if boundaries and not id_col:
        raise click.UsageError("--exclude-neighbours needs --id (the boundary id column)")
    if log_ and log1p:
        raise click.UsageError("give --log or --log1p, not both")
    if window is not None:
        try:
            parse_window(window)
        except Exception as err:
            raise click.BadParameter(str(err), param_hint="--window") from None
    check_output(output, overwrite, (".json",))
    if plot:
        check_output(plot, overwrite, (".png",))
    table = ev.read_panel(panel, unit_col)
    absent = [c for c in dict.fromkeys((unit_col, time_col, outcome)) if c not in table.columns]
    if absent:
        raise DataError(f"{Path(panel).name} has no column {', '.join(map(repr, absent))}; "
                        f"columns: {', '.join(map(str, table.columns))}")
    if code_history:
        events = ev.read_code_history(code_history)
        years = panel_years(table, time_col)
        t0 = years[0] + 1 if t0 is None and years else t0
        t1 = years[1] if t1 is None and years else t1
        comparison = "county,city" if comparison is None else comparison
    else:
        events = ev.read_events(events_path)
    kinds = None if comparison in (None, "all") else [
        c.strip() for c in comparison.split(",") if c.strip()]
    treatment = cohorts_from_events(
        events, table[unit_col].astype(str).unique(), event=event_kind, t0=t0, t1=t1,
        conversion=None if conversion == "all" else conversion, comparison=kinds,
        missing=missing)
    units = None
    if boundaries:
        from gisfix.cli.options import read_boundaries_from_options

        units = read_boundaries_from_options(boundaries, id_col, layer=layer,
                                             make_valid=make_valid)
    data = assign_treatment(table, treatment, id_col=unit_col, time_col=time_col, units=units)
    transform = "log" if log_ else "log1p" if log1p else None
    res = estimate_did(data, outcome, id_col=unit_col, time_col=time_col, estimator=estimator,
                       control=control, window=window, exclude_neighbours=bool(boundaries),
                       transform=transform, min_cohort_size=min_cohort_size,
                       drop_small_cohorts=drop_small_cohorts)
    prov = provenance(
        {"panel": panel, "events": events_path, "code_history": code_history,
         "boundaries": boundaries},
        {"unit": unit_col, "time": time_col, "outcome": outcome, "event": event_kind,
         "conversion": conversion, "from": t0, "to": t1, "comparison": comparison,
         "estimator": estimator, "control": control, "window": window,
         "transform": transform, "min_cohort_size": min_cohort_size,
         "drop_small_cohorts": drop_small_cohorts}, command="gisfix did")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plot_event_study(res, title=f"{estimator}: {outcome}")
        with atomic_path(plot, overwrite) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
        plt.close(fig)
    write_json(res.to_dict(prov), output, overwrite=overwrite)
    click.echo(f"{estimator}: ATT {res.att:.4g} (se {res.se:.3g}), {res.n_treated} treated "
               f"of {res.n_units} units, {res.n_cohorts} cohorts -> {output}", err=True)


def panel_years(table, time_col):
    """(first, last) year of the panel, or None when the column is absent."""
    import pandas as pd

    if time_col not in table.columns:
        return None
    years = pd.to_numeric(table[time_col], errors="coerce").dropna()
    return (int(years.min()), int(years.max())) if len(years) else None
