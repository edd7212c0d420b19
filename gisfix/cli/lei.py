"""``gisfix lei``: Landscape Expansion Index of the new built-up patches between two epochs."""

from __future__ import annotations

import logging

import click

from gisfix.cli.options import (
    aoi_option,
    crs_option,
    encoding_option,
    epochs_option,
    fraction_units_option,
    layer_option,
    make_valid_option,
    output_option,
    overwrite_option,
    scheduler_option,
)

log = logging.getLogger("gisfix.cli.lei")

#: Colours of the growth types in the QGIS style (outlying, edge-expansion, infilling).
TYPE_COLOURS = {"outlying": "215,25,28", "edge-expansion": "253,174,97",
                "infilling": "43,131,186"}


@click.command(short_help="Landscape Expansion Index of new built-up patches.")
@click.argument("rasters", nargs=-1, required=True, type=click.Path())
@encoding_option
@fraction_units_option
@epochs_option
@aoi_option
@click.option("--from", "t0", type=int, required=True, help="Earlier epoch (year).")
@click.option("--to", "t1", type=int, required=True, help="Later epoch (year).")
@click.option("--buffer-m", type=float, default=None,
              help="Buffer width in metres (default: one cell, the 8-neighbourhood).")
@click.option("--connectivity", type=click.Choice(["8", "4"]), default="8", show_default=True,
              help="Connectivity of new patches.")
@click.option("--outlying-below", type=float, default=2.0, show_default=True,
              help="LEI below this is outlying.")
@click.option("--infilling-above", type=float, default=50.0, show_default=True,
              help="LEI above this is infilling.")
@click.option("--boundaries", type=click.Path(), default=None,
              help="Boundary file: adds unit_id to patches and a per-unit 'summary' layer.")
@click.option("--id", "id_col", default=None, help="Id column of --boundaries.")
@scheduler_option
@click.option("--block-rows", type=click.IntRange(min=1), default=None,
              help="Rows per window (default: about 4 million cells per window).")
@layer_option
@crs_option
@make_valid_option
@output_option
@overwrite_option
def lei(rasters, encoding, fraction_units, epochs, t0, t1, buffer_m, connectivity,
        outlying_below, infilling_above, boundaries, id_col, scheduler, block_rows, layer, crs,
        make_valid, output, overwrite):
    """Classify every patch of land built between --from and --to as infilling,
    edge-expansion or outlying by its Landscape Expansion Index (Liu et al. 2010) and write
    the patch polygons (layer 'patches') to a GeoPackage; with --boundaries, a per-unit
    'summary' layer (count and km2 by growth type) too.  Patches are written as they are
    finished, window by window, so memory does not hold every polygon.
    """
    from gisfix.cli.options import open_stack_from_options, read_boundaries_from_options
    from gisfix.errors import UsageError
    from gisfix.io import LayerStream, check_output, provenance, write_layers
    from gisfix.lei import (
        GROWTH_TYPES,
        LEIThresholds,
        check_epochs,
        landscape_expansion_index,
        lei_by_unit,
    )
    from gisfix.parallel import scheduler_session
    from gisfix.styles import categorized

    check_output(output, overwrite, (".gpkg",))
    if boundaries is not None and not id_col:
        raise UsageError("--boundaries needs --id COLUMN (the column holding the unit id)")
    if id_col and boundaries is None:
        raise UsageError("--id is given without --boundaries; add --boundaries FILE")
    thresholds = LEIThresholds(outlying_below, infilling_above)
    stack = open_stack_from_options(rasters, encoding, epochs, fraction_units)
    check_epochs(stack, t0, t1)
    conn = int(connectivity)
    options = {"buffer_m": buffer_m, "connectivity": conn, "thresholds": thresholds,
               "block_rows": block_rows}
    # patches go to a scratch file beside the output as they are finished; the output
    # appears (atomically) only when everything is written
    with stack, LayerStream(output, order_by="patch_id") as stream, \
            scheduler_session(scheduler) as sched:
        layers = {"patches": stream}
        if boundaries is not None:
            units = read_boundaries_from_options(boundaries, id_col, layer, crs, make_valid)
            patches, summary = lei_by_unit(units, stack, t0, t1, scheduler=sched, sink=stream,
                                           **options)
            layers["summary"] = summary.reset_index()
        else:
            patches = landscape_expansion_index(stack, t0, t1, scheduler=sched, sink=stream,
                                                **options)
        counts = patches["growth_type"].value_counts()
        log.info("%d new patches: %s", len(patches),
                 ", ".join(f"{t} {int(counts.get(t, 0))}" for t in GROWTH_TYPES))
        prov = provenance(
            inputs={"rasters": list(rasters), "boundaries": boundaries},
            parameters={"encoding": encoding, "epochs": epochs, "from": t0, "to": t1,
                        "buffer_m": buffer_m, "connectivity": conn,
                        "outlying_below": outlying_below, "infilling_above": infilling_above,
                        "id": id_col, "layer": layer, "scheduler": scheduler,
                        "block_rows": block_rows},
            command="gisfix lei")
        style = categorized(GROWTH_TYPES, "growth_type", colors=TYPE_COLOURS)
        write_layers(output, layers, prov, overwrite=overwrite, styles={"patches": style})
    click.echo(f"wrote {output}: {len(patches)} patches")
