"""``gisfix agglomeration``: agglomeration and urban-form measures by unit and epoch."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from gisfix.cli.options import (
    boundary_options,
    graph_option,
    open_stack_from_options,
    output_option,
    overwrite_option,
    parse_float_list,
    raster_options,
    read_boundaries_from_options,
    scheduler_option,
)

log = logging.getLogger("gisfix.cli.agglomeration")

SUFFIXES = (".gpkg", ".csv", ".parquet")


@click.command(short_help="Agglomeration and urban-form measures by unit.")
@click.argument("boundaries", type=click.Path())
@click.argument("rasters", nargs=-1, required=True, type=click.Path())
@boundary_options
@raster_options
@click.option("--population", default=None,
              help="Column of the boundary file with the population of each unit.")
@click.option("--threshold", default="0.3", show_default=True,
              help="Warning threshold(s) of built-up share, comma-separated (0-1).")
@click.option("--method", type=click.Choice(["exact", "centre"]), default="exact",
              show_default=True, help="Cell-polygon rule for built-up area by unit.")
@click.option("--connectivity", type=click.Choice(["8", "4"]), default="8", show_default=True,
              help="Patch neighbourhood for the patch metrics.")
@click.option("--edge-length", type=click.Choice(["true", "cell_width"]), default="true",
              show_default=True,
              help="Edges of non-square cells at their true length, or all at the cell width "
                   "(pylandstats' convention).")
@click.option("--no-patches", is_flag=True, help="Skip the patch (landscape) metrics.")
@click.option("--permutations", default=999, show_default=True, type=click.IntRange(0),
              help="Permutations for LISA and Moran pseudo p-values (0: none).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the permutations.")
@graph_option
@scheduler_option
@output_option
@overwrite_option
def agglomeration(boundaries, rasters, id_col, layer, crs, make_valid, encoding, fraction_units,
                  epochs, population, threshold, method, connectivity, edge_length, no_patches,
                  permutations, seed, graph_kind, scheduler, output, overwrite):
    """Per-unit agglomeration measures of BOUNDARIES on the built-up RASTER(s).

    Writes, per unit and epoch: built-up share with warning levels, location quotient,
    built-up per capita and population density (with --population), patch metrics of the
    built class, local Moran (LISA) cluster and Getis-Ord Gi* hot spot of the built-up
    share under the --graph neighbours (queen contiguity by default); and, per epoch, a
    summary: Gini, HHI, top-k shares, Zipf exponent (Gabaix-Ibragimov) and primacy of
    built-up area, global Moran's I.  A .gpkg output holds a ``units`` layer (one feature
    per unit and epoch) and a ``summary`` table; a .csv/.parquet output gets the summary
    beside it as ``<name>_summary<suffix>``.
    """
    from gisfix.agglomeration import check_thresholds
    from gisfix.io import check_output
    from gisfix.parallel import scheduler_session
    from gisfix.spatial.graphs import parse_kind, unit_graph
    from gisfix.workflows.measures import agglomeration_measures

    out = check_output(output, overwrite, SUFFIXES)
    thresholds = check_thresholds(parse_float_list(threshold, "--threshold"))
    parse_kind(graph_kind)
    summary_path = None
    if out.suffix.lower() != ".gpkg":
        summary_path = check_output(out.with_name(f"{out.stem}_summary{out.suffix}"), overwrite)
    units = read_boundaries_from_options(boundaries, id_col, layer=layer, crs=crs,
                                         make_valid=make_valid)
    if population is not None and population not in units.columns:
        from gisfix.errors import DataError

        raise DataError(f"population column {population!r} not in {boundaries} (columns: "
                        + ", ".join(c for c in units.columns if c != units.geometry.name) + ")")
    graph = unit_graph(units, graph_kind)  # a bad --graph fails before the long zonal work
    with open_stack_from_options(rasters, encoding, epochs, fraction_units) as stack, \
            scheduler_session(scheduler) as sched:
        if stack.is_geographic and not no_patches:
            from gisfix.errors import CRSError

            raise CRSError("the raster is in degrees and patch metrics count equal cells; "
                           "reproject it (e.g. gdalwarp -t_srs ESRI:54009) or pass --no-patches")
        per_unit, summary = agglomeration_measures(units, stack, population=population,
                                    thresholds=thresholds, method=method,
                                    connectivity=int(connectivity), patches=not no_patches,
                                    edge_length=edge_length,
                                    permutations=permutations, seed=seed, graph=graph,
                                    scheduler=sched)
    _write(out, summary_path, units, per_unit, summary, overwrite,
           params={"id": id_col, "encoding": encoding, "epochs": epochs,
                   "population": population, "thresholds": thresholds, "method": method,
                   "connectivity": int(connectivity), "edge_length": edge_length,
                   "patches": not no_patches,
                   "permutations": permutations, "seed": seed, "graph": graph_kind,
                   "scheduler": scheduler},
           inputs={"boundaries": boundaries, "rasters": list(rasters)})
    click.echo(f"wrote {out}" + (f" and {summary_path}" if summary_path else ""), err=True)


def _write(out: Path, summary_path, units, per_unit, summary, overwrite, params, inputs):
    import geopandas as gpd

    from gisfix import styles
    from gisfix.io import provenance, write_layers, write_table

    prov = provenance(inputs, params, command="gisfix agglomeration")
    if out.suffix.lower() == ".gpkg":
        geo = units[[units.geometry.name]].copy()
        geo.index = geo.index.astype(str)
        layer = gpd.GeoDataFrame(
            per_unit.merge(geo, left_on="unit_id", right_index=True, how="left"),
            geometry=units.geometry.name, crs=units.crs)
        # one feature per unit and epoch: in QGIS filter on "epoch" to map one epoch
        style = styles.graduated(layer["builtup_share"], "builtup_share")
        write_layers(out, {"units": layer, "summary": summary}, prov, overwrite,
                     styles={"units": style})
    else:
        write_table(per_unit, out, prov, overwrite)
        write_table(summary, summary_path, prov, overwrite)
