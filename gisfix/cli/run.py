"""``gisfix run BOUNDARIES RASTER... --id COL -o DIR``: every per-region measure, one report."""

from __future__ import annotations

import click

from gisfix.cli.options import (
    boundary_options,
    open_stack_from_options,
    overwrite_option,
    parse_float_list,
    parse_int_list,
    raster_options,
    read_boundaries_from_options,
)


@click.command(short_help="Run the whole pipeline on your region; write a report.")
@click.argument("boundaries", type=click.Path())
@click.argument("rasters", nargs=-1, required=True, type=click.Path())
@boundary_options
@raster_options
@click.option("--population", default=None, help="Column of BOUNDARIES with population.")
@click.option("--threshold", default="0.3", show_default=True,
              help="Warning threshold(s) of built-up share, comma-separated (0-1).")
@click.option("--lei", "lei_period", default=None,
              help="Epochs of the Landscape Expansion Index as Y0,Y1 (default first,last).")
@click.option("--permutations", default=999, show_default=True, type=click.IntRange(0),
              help="Permutations of the LISA and Moran pseudo p-values.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the permutations.")
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="Folder for results.gpkg, REPORT.md and the figures.")
@overwrite_option
def run(boundaries, rasters, id_col, layer, crs, make_valid, encoding, fraction_units, epochs,
        population, threshold, lei_period, permutations, seed, output, overwrite):
    """Built-up accounting, intensity, concentration, inequality, expansion, LEI and the
    four-stage labels of BOUNDARIES on the built-up RASTER(s), written as one GeoPackage
    (open it in QGIS) and a Markdown report with a map and charts."""
    from gisfix.pipeline import run_pipeline

    thresholds = parse_float_list(threshold, "--threshold")
    period = parse_int_list(lei_period, "--lei")
    if period is not None and len(period) != 2:
        raise click.BadParameter("give two epochs, e.g. 1990,2020", param_hint="--lei")
    units = read_boundaries_from_options(boundaries, id_col, layer, crs, make_valid)
    stack = open_stack_from_options(rasters, encoding, epochs, fraction_units)
    result = run_pipeline(units, stack, output, population=population, thresholds=thresholds,
                          lei_period=tuple(period) if period else None,
                          permutations=permutations, seed=seed, overwrite=overwrite,
                          inputs={"boundaries": boundaries, "rasters": list(rasters)},
                          progress=lambda msg: click.echo(f"gisfix run: {msg}", err=True))
    for note in result["notes"]:
        click.echo(f"gisfix: note: {note}", err=True)
    click.echo(f"wrote {output}/REPORT.md and {output}/results.gpkg", err=True)
