"""``gisfix stages``: the four-stage model per tracked city (or unit) and period."""

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

log = logging.getLogger("gisfix.cli.stages")

#: Colours of the stages in the QGIS style (1 agglomeration ... 4 stable regional system).
STAGE_COLOURS = {"agglomeration": "215,48,39", "optimal agglomeration": "252,141,89",
                 "turn to diffusion": "145,191,219", "stable regional system": "69,117,180"}


@click.command(short_help="Stage of every city (or unit) and period, with its evidence.")
@click.argument("rasters", nargs=-1, required=True, type=click.Path())
@encoding_option
@fraction_units_option
@epochs_option
@aoi_option
@click.option("--from", "t0", type=int, default=None,
              help="First epoch (year); with --to, a single period.")
@click.option("--to", "t1", type=int, default=None, help="Last epoch (year).")
@click.option("--by", "by", type=click.Choice(["extents", "units"]), default="extents",
              show_default=True,
              help="Label tracked urban extents (cities) or the units of --boundaries.")
@click.option("--boundaries", type=click.Path(), default=None,
              help="Boundary file of the units (with --by units).")
@click.option("--id", "id_col", default=None, help="Id column of --boundaries.")
@layer_option
@crs_option
@make_valid_option
@click.option("--kind", type=click.Choice(["cluster", "centre"]), default="cluster",
              show_default=True,
              help="Urban extents: DEGURBA-style cluster (8-connected) or centre (4-connected, "
                   "gaps filled, edges smoothed) rules.")
@click.option("--block", type=int, default=10, show_default=True,
              help="Urban extents: aggregate block x block cells first (10: 100 m -> 1 km).")
@click.option("--threshold", type=float, default=0.5, show_default=True,
              help="Urban extents: built-up share of an aggregated cell (0-1).")
@click.option("--min-area-km2", type=float, default=5.0, show_default=True,
              help="Urban extents: smallest extent kept, km2.")
@click.option("--buffer-m", type=float, default=None,
              help="LEI buffer in metres (default: one cell).")
@click.option("--connectivity", type=click.Choice(["8", "4"]), default="8", show_default=True,
              help="Connectivity of built-up patches.")
@scheduler_option
@output_option
@overwrite_option
def stages(rasters, encoding, fraction_units, epochs, t0, t1, by, boundaries, id_col, layer,
           crs, make_valid, kind, block, threshold, min_area_km2, buffer_m, connectivity,
           scheduler, output, overwrite):
    """Track urban extents through the epochs (births, growth, coalescences) and label
    every city (--by extents) or unit (--by units) and period with a stage of the
    agglomeration-diffusion model, with the evidence of each label; write one GeoPackage
    with the layers 'stages', 'extents', 'events', 'centroids', 'ellipses' and (extents)
    'regional' (the regional system and its label).
    """
    from gisfix.cli.options import open_stack_from_options, read_boundaries_from_options
    from gisfix.io import check_output, provenance, write_layers
    from gisfix.parallel import scheduler_session
    from gisfix.stages import STAGES, stages_by_extents, stages_by_units
    from gisfix.styles import categorized

    check_output(output, overwrite, (".gpkg",))
    if by == "units" and (boundaries is None or not id_col):
        raise click.UsageError("--by units needs --boundaries FILE and --id COLUMN")
    if by == "extents" and boundaries is not None:
        raise click.UsageError("--boundaries is used with --by units; add --by units or "
                               "drop --boundaries")
    if (t0 is None) != (t1 is None):
        raise click.UsageError("give both --from and --to, or neither")
    if t0 is not None and t1 <= t0:
        raise click.UsageError(f"--to must be after --from; got from {t0} to {t1}")
    period = None if t0 is None else [t0, t1]
    stack = open_stack_from_options(rasters, encoding, epochs, fraction_units)
    options = {"kind": kind, "block": block, "threshold": threshold,
               "min_area_km2": min_area_km2}
    conn = int(connectivity)
    with stack, scheduler_session(scheduler) as sched:
        if by == "units":
            units = read_boundaries_from_options(boundaries, id_col, layer, crs, make_valid)
            res = stages_by_units(units, stack, period, buffer_m=buffer_m, connectivity=conn,
                                  extent_options=options, scheduler=sched)
            shapes = units.to_crs(stack.crs).geometry
            geom = [shapes.get(z) for z in res.stages["zone_id"]]
        else:
            res = stages_by_extents(stack, period, buffer_m=buffer_m, connectivity=conn,
                                    extent_options=options, scheduler=sched)
            ext = res.tracks.extents.set_index(["epoch", "city_id"]).geometry
            geom = [ext.get((t, z)) for t, z in zip(res.stages["t1"], res.stages["zone_id"])]
    layers = _layers(res, geom, stack.crs, by)
    counts = res.stages["stage_name"].value_counts()
    log.info("%d labels: %s", len(res.stages),
             ", ".join(f"{n} {int(counts.get(n, 0))}" for n in STAGES.values()))
    prov = provenance(
        inputs={"rasters": list(rasters), "boundaries": boundaries},
        parameters={"encoding": encoding, "epochs": epochs, "from": t0, "to": t1, "by": by,
                    "id": id_col, "layer": layer, "kind": kind, "block": block,
                    "threshold": threshold,
                    "min_area_km2": min_area_km2, "buffer_m": buffer_m, "connectivity": conn,
                    "scheduler": scheduler, "rules": _rules()},
        command="gisfix stages")
    style = categorized(list(STAGES.values()), "stage_name", colors=STAGE_COLOURS)
    write_layers(output, layers, prov, overwrite=overwrite, styles={"stages": style})
    click.echo(f"wrote {output}: {len(res.stages)} {'cities' if by == 'extents' else 'units'}"
               f" x periods labelled")


def _rules() -> dict:
    from dataclasses import asdict

    from gisfix.stages import StageRules

    return asdict(StageRules())


def _layers(res, geom, crs, by) -> dict:
    """The GeoPackage layers of a :class:`gisfix.stages.StageResult`."""
    import geopandas as gpd

    table = res.stages.copy()
    table["accelerating"] = table["accelerating"].map(
        {True: "true", False: "false"}).astype(object)
    table = table.rename(columns={"zone_id": "city_id" if by == "extents" else "unit_id"})
    layers = {"stages": gpd.GeoDataFrame(table, geometry=geom, crs=crs),
              "extents": res.tracks.extents, "events": res.tracks.events,
              "centroids": res.centroids, "ellipses": res.ellipses}
    if res.system is not None:
        layers["regional"] = res.system
    return layers
