"""``gisfix edit BOUNDARIES SCENARIO``: apply a boundary-edit scenario (TOML)."""

from __future__ import annotations

import click

from gisfix.cli.options import (
    crs_option,
    encoding_option,
    fraction_units_option,
    id_option,
    layer_option,
    make_valid_option,
    output_option,
    overwrite_option,
    parse_str_list,
)


@click.command(short_help="Apply a boundary-edit scenario (TOML).")
@click.argument("boundaries", type=click.Path())
@click.argument("scenario", type=click.Path())
@id_option
@output_option
@layer_option
@crs_option
@make_valid_option
@click.option("--extensive", default=None,
              help="Comma-separated count columns reallocated with totals conserved.")
@click.option("--intensive", default=None,
              help="Comma-separated rate columns: COL (area-weighted) or COL=NUM/DEN.")
@click.option("--raster", "rasters", multiple=True, type=click.Path(),
              help="Built-up raster(s) for dasymetric reallocation (repeat per epoch).")
@encoding_option
@fraction_units_option
@click.option("--epoch", type=int, default=None,
              help="Epoch of the built-up weights (default: the last).")
@click.option("--subunits", type=click.Path(), default=None,
              help="Sub-unit layer for transfers given as units = [...] (villages, blocks).")
@click.option("--subunit-id", default=None, help="Id column of --subunits.")
@click.option("--subunit-layer", default=None, help="Layer of a multi-layer --subunits file.")
@click.option("--snap-tolerance", type=float, default=None,
              help="Sliver/gap/snapping tolerance in metres (default 1).")
@overwrite_option
def edit(boundaries, scenario, id_col, output, layer, crs, make_valid, extensive, intensive,
         rasters, encoding, fraction_units, epoch, subunits, subunit_id, subunit_layer,
         snap_tolerance, overwrite):
    """Apply the edits of SCENARIO (TOML: merge, split, transfer, recode, dissolve) to the
    BOUNDARIES coverage and write a GeoPackage with layers ``units`` (the edited coverage,
    keeping the id column's name) and ``lineage`` (old_id, new_id, area_share,
    weight_share), with provenance."""
    from gisfix import styles
    from gisfix.cli.options import open_stack_from_options, read_boundaries_from_options
    from gisfix.edits import apply_scenario, load_scenario
    from gisfix.edits.lineage import STATUS_COLORS, unit_status
    from gisfix.edits.topology import DEFAULT_SNAP_TOLERANCE_M
    from gisfix.io import check_output, provenance, require_file, write_layers

    check_output(output, overwrite, (".gpkg",))
    require_file(boundaries)
    sc = load_scenario(scenario)
    units = read_boundaries_from_options(boundaries, id_col, layer, crs, make_valid)
    stack = open_stack_from_options(rasters, encoding, None, fraction_units) if rasters else None
    subs = None
    if subunits is not None:
        if subunit_id is None:
            raise click.BadParameter("--subunits needs --subunit-id", param_hint="--subunit-id")
        subs = read_boundaries_from_options(subunits, subunit_id, subunit_layer, crs, make_valid)
    tol = DEFAULT_SNAP_TOLERANCE_M if snap_tolerance is None else snap_tolerance
    res = apply_scenario(units, sc, extensive=parse_str_list(extensive),
                         intensive=parse_str_list(intensive), stack=stack, epoch=epoch,
                         snap_tolerance=tol, subunits=subs)
    out = res.units.reset_index()
    out["status"] = unit_status(res.lineage, res.units.index).to_numpy()
    prov = provenance(
        inputs={"boundaries": boundaries, "scenario": scenario, "rasters": list(rasters),
                "subunits": subunits},
        parameters={"id": id_col, "layer": layer, "crs": crs, "make_valid": make_valid,
                    "extensive": extensive, "intensive": intensive, "encoding": encoding,
                    "epoch": epoch, "snap_tolerance_m": tol, "subunit_id": subunit_id,
                    "scenario_name": sc.name,
                    "report": {k: v for k, v in res.report.items() if k != "edits"}},
        command="gisfix edit")
    style = styles.categorized(list(STATUS_COLORS), "status", colors=STATUS_COLORS)
    write_layers(output, {"units": out, "lineage": res.lineage}, prov, overwrite=overwrite,
                 styles={"units": style})
    r = res.report
    obj = click.get_current_context().find_root().obj or {}
    if not obj.get("quiet"):
        click.echo(f"{sc.name}: {len(sc.edits)} edits, {r['n_units_before']} -> "
                   f"{r['n_units_after']} units; coverage valid: "
                   f"{r['coverage_after']['valid']}; wrote {output}", err=True)
