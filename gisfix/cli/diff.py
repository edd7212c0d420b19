"""``gisfix diff OLD NEW``: detect the edits between two boundary vintages, as a scenario."""

from __future__ import annotations

import logging

import click

from gisfix.cli.options import (
    crs_option,
    id_option,
    layer_option,
    make_valid_option,
    output_option,
    overwrite_option,
)

log = logging.getLogger("gisfix.cli.diff")


def _read(path, id_col, layer, crs, make_valid, what):
    """Read a vintage; units whose geometry is empty are kept as empty rows (not compared)."""
    from gisfix.boundaries import restore_empty
    from gisfix.cli.options import read_boundaries_from_options
    from gisfix.io import require_file

    require_file(path)
    gdf = read_boundaries_from_options(path, id_col, layer=layer, crs=crs,
                                       make_valid=make_valid, drop_empty=True)
    restored = restore_empty(gdf)
    if restored is not gdf:
        missing = [str(k) for k in restored.index[len(gdf):]]
        log.warning("%s: %d units have an empty geometry and are not compared: %s", what,
                    len(missing), ", ".join(missing[:8]))
    return restored


@click.command(short_help="Detect the edits between two boundary vintages.")
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@id_option
@click.option("--new-id", "new_id", default=None,
              help="Id column of NEW when it differs from --id.")
@layer_option
@click.option("--new-layer", default=None, help="Layer of NEW (default: --layer).")
@crs_option
@make_valid_option
@click.option("--tolerance-m", type=float, default=None,
              help="Edge displacement (metres) tolerated as generalisation noise "
                   "(default: estimated from the data and reported).")
@click.option("--name", "name_col", default=None,
              help="Name column present in both vintages (carried into merges and recodes).")
@output_option
@overwrite_option
def diff(old, new, id_col, new_id, layer, new_layer, crs, make_valid, tolerance_m, name_col,
         output, overwrite):
    """Write to -o a scenario (TOML) that, applied to OLD with `gisfix edit`, reproduces NEW:
    merges, splits, transfers beyond the tolerance, and recodes, each explained.  The
    vintages may be in different CRSs and generalised differently; the tolerance used and
    the noise tolerated are stored in the file's [scenario.report] table."""
    from gisfix.edits.diff import diff as run_diff
    from gisfix.io import check_output, provenance

    check_output(output, overwrite, (".toml",))
    old_units = _read(old, id_col, layer, crs, make_valid, "OLD")
    new_units = _read(new, new_id or id_col, new_layer or layer, crs, make_valid, "NEW")
    res = run_diff(old_units, new_units, tolerance_m=tolerance_m, name=name_col)
    prov = provenance(
        inputs={"old": old, "new": new},
        parameters={"id": id_col, "new_id": new_id, "layer": layer, "new_layer": new_layer,
                    "crs": crs, "make_valid": make_valid, "tolerance_m": tolerance_m,
                    "name": name_col, "tolerance_used_m": res.report["tolerance_m"]},
        command="gisfix diff")
    res.to_toml(output, overwrite=overwrite, provenance=prov)
    rep = res.report
    click.echo(f"{output}: {rep['merge_groups']} merges ({rep['merged_units']} units), "
               f"{rep['transfers']} transfers, {len(rep['divided_units'])} divided units, "
               f"{rep['recoded_ids']} recodes; tolerance {rep['tolerance_m']:.3g} m "
               f"({rep['tolerance_note']})")
