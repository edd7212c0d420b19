"""``gisfix run PROJECT.toml -o DIR`` (or ``gisfix run BOUNDARIES RASTER... --id COL -o DIR``)."""

from __future__ import annotations

import click

from gisfix.cli.options import (
    crs_option,
    layer_option,
    make_valid_option,
    overwrite_option,
    parse_float_list,
    parse_int_list,
    raster_options,
)

#: parameter -> option name of the options only the shortcut form takes.
SHORTCUT_ONLY = {"id_col": "id", "layer": "layer", "crs": "crs", "make_valid": "make-valid",
                 "encoding": "encoding", "fraction_units": "fraction-units",
                 "epochs": "epochs", "population": "population", "threshold": "threshold",
                 "lei_period": "lei", "permutations": "permutations", "seed": "seed"}


@click.command(short_help="Run the main job on a project file; write results and a report.")
@click.argument("source", type=click.Path())
@click.argument("rasters", nargs=-1, type=click.Path())
@click.option("--id", "id_col", default=None,
              help="Column holding the unit id (shortcut form: BOUNDARIES RASTER...).")
@layer_option
@crs_option
@make_valid_option
@raster_options
@click.option("--population", default=None, help="Column of BOUNDARIES with population.")
@click.option("--threshold", default="0.3", show_default=True,
              help="Warning threshold(s) of built-up share, comma-separated (0-1).")
@click.option("--lei", "lei_period", default=None,
              help="Epochs of the Landscape Expansion Index as Y0,Y1 (default first,last).")
@click.option("--permutations", default=999, show_default=True, type=click.IntRange(0),
              help="Permutations of every pseudo p-value.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the permutations.")
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="Folder for results.gpkg, measures, compare.csv, run.json and REPORT.md.")
@overwrite_option
def run(source, rasters, id_col, layer, crs, make_valid, encoding, fraction_units, epochs,
        population, threshold, lei_period, permutations, seed, output, overwrite):
    """Measure a region's units on built-up rasters, and again after each boundary-edit
    scenario: every measure before and after, per unit and for the region.

    SOURCE is a project file (PROJECT.toml; see `gisfix.project` for its schema). The
    shortcut `gisfix run BOUNDARIES RASTER... --id COL` runs one set of boundaries without
    scenarios and writes the equivalent project file into the output folder as
    project.toml, so the run can be repeated and extended with scenarios."""
    from gisfix.workflows.run import headline, run_project, shortcut_project

    if not rasters:
        if not str(source).lower().endswith(".toml"):
            raise click.UsageError("give a project file (PROJECT.toml), or BOUNDARIES "
                                   "RASTER... --id COL")
        ctx = click.get_current_context()
        given = [name for name in SHORTCUT_ONLY
                 if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
        if given:
            raise click.UsageError(
                f"{', '.join('--' + SHORTCUT_ONLY[n] for n in given)}: set in the project file "
                "with a project (e.g. [boundaries] id, [measures] permutations); these "
                "options are for the shortcut BOUNDARIES RASTER... --id COL")
        project = source
    else:
        if id_col is None:
            raise click.UsageError("the shortcut form BOUNDARIES RASTER... needs --id COL")
        period = parse_int_list(lei_period, "--lei")
        if period is not None and len(period) != 2:
            raise click.BadParameter("give two epochs, e.g. 1990,2020", param_hint="--lei")
        project = shortcut_project(
            source, rasters, id_col=id_col, layer=layer, crs=crs, make_valid=make_valid,
            encoding=encoding, epochs=parse_int_list(epochs), fraction_units=fraction_units,
            population=population, thresholds=parse_float_list(threshold, "--threshold"),
            lei_period=period, permutations=permutations, seed=seed)
    result = run_project(project, output, overwrite=overwrite,
                         progress=lambda msg: click.echo(f"gisfix run: {msg}", err=True))
    for note in headline(result)["notes"]:
        click.echo(f"gisfix: note: {note}", err=True)
    click.echo(f"wrote {output}/REPORT.md, results.gpkg, measures.parquet, compare.csv and "
               "run.json", err=True)
