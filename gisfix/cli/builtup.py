"""``gisfix builtup BOUNDARIES RASTER... --id COL -o OUT``: built-up area by unit and epoch."""

from __future__ import annotations

import logging

import click

from gisfix.cli.options import (
    AOI_KEY,
    boundary_options,
    open_stack_from_options,
    output_option,
    overwrite_option,
    raster_options,
    read_boundaries_from_options,
    scheduler_option,
)

log = logging.getLogger("gisfix.cli.builtup")

OUTPUT_SUFFIXES = (".csv", ".parquet", ".gpkg")


@click.command(short_help="Built-up area by unit and epoch.")
@click.argument("boundaries", type=click.Path())
@click.argument("rasters", nargs=-1, required=True, type=click.Path())
@boundary_options
@click.option("--text-encoding", "text_encoding", default=None,
              help="Text encoding of the boundary attributes when the file does not declare "
                   "it (e.g. cp1252).")
@raster_options
@click.option("--method", type=click.Choice(["exact", "centre"]), default="exact",
              show_default=True,
              help="exact: cells weighted by the fraction of their area inside each unit; "
                   "centre: a cell counts for every unit containing its centre.")
@click.option("--max-cells", type=click.IntRange(min=1), default=None,
              help="Cells per window (memory bound); default: whole tile rows.")
@click.option("--min-coverage", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="Warn about units observed on less than this share of their area.")
@scheduler_option
@output_option
@overwrite_option
@click.pass_context
def builtup(ctx, boundaries, rasters, id_col, layer, crs, make_valid, text_encoding, encoding,
            fraction_units, epochs, method, max_cells, min_coverage, scheduler, output,
            overwrite):
    """Built-up and observed area of every unit of BOUNDARIES in every epoch of RASTER(s).

    One raster for the year-built and ldsmt encodings, one per epoch otherwise.  OUTPUT is
    .csv or .parquet (long table: unit_id, epoch, builtup_km2, valid_km2, builtup_share,
    coverage) or .gpkg (layer `units`: the polygons with builtup_km2_<epoch>,
    share_<epoch> and coverage, styled for QGIS on the last share; layer `builtup`: the
    long table).  Give --aoi whenever the raster was clipped to a study area.
    """
    from gisfix.io import check_output, provenance, write_layers, write_table
    from gisfix.zonal import builtup_by_unit, to_wide

    out = check_output(output, overwrite, OUTPUT_SUFFIXES)
    units = read_boundaries_from_options(boundaries, id_col, layer=layer, crs=crs,
                                         make_valid=make_valid, encoding=text_encoding)
    stack = open_stack_from_options(rasters, encoding, epochs, fraction_units)
    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    with stack:  # warnings (units with no or low coverage) print as one line each
        long = builtup_by_unit(units, stack, method=method, max_cells=max_cells,
                               progress=not quiet, scheduler=scheduler,
                               min_coverage=min_coverage)
    epoch_list = [int(e) for e in dict.fromkeys(long["epoch"])]
    aoi = ctx.meta.get(AOI_KEY)
    prov = provenance(
        inputs={"boundaries": boundaries, "rasters": list(rasters),
                **({"aoi": aoi} if aoi else {})},
        parameters={"id": id_col, "layer": layer, "crs": crs, "make_valid": make_valid,
                    "encoding": encoding, "fraction_units": fraction_units,
                    "epochs": epoch_list, "method": method, "max_cells": max_cells,
                    "min_coverage": min_coverage, "scheduler": scheduler},
        command="gisfix builtup")
    if out.suffix.lower() == ".gpkg":
        import geopandas as gpd

        from gisfix.styles import graduated

        wide = to_wide(long)
        keep = units[[units.geometry.name]].copy()
        keep.index = keep.index.astype(str)
        polys = gpd.GeoDataFrame(wide.join(keep), geometry=units.geometry.name,
                                 crs=units.crs).reset_index()
        last = f"share_{epoch_list[-1]}"
        write_layers(out, {"units": polys, "builtup": long}, prov, overwrite=overwrite,
                     styles={"units": graduated(polys[last], last)})
    else:
        write_table(long, out, prov, overwrite=overwrite)
    log.info("wrote %s: %d units x %d epochs", out, long["unit_id"].nunique(),
             len(epoch_list))
