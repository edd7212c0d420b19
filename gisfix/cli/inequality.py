"""``gisfix inequality TABLE --value COL``: inequality summary (and spatial Gini) as JSON."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from gisfix.cli.options import (
    crs_option,
    graph_option,
    layer_option,
    output_option,
    overwrite_option,
    parse_str_list,
)

log = logging.getLogger("gisfix.cli.inequality")

CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@click.command(short_help="Interregional inequality of a column (Gini, Theil, spatial Gini...).")
@click.argument("table", type=click.Path())
@click.option("--value", "value_col", required=True, help="Column with the unit values.")
@click.option("--weight", "weight_col", default=None,
              help="Column with unit weights (population): weighted Gini/Theil/Atkinson and "
                   "Williamson's CV.")
@click.option("--group", "group_col", default=None,
              help="Group column for the Theil decompositions; nested groups as A,B "
                   "(outermost first).")
@click.option("--id", "id_col", default=None, help="Unit id column (named in messages).")
@layer_option
@crs_option
@click.option("--spatial-gini", is_flag=True,
              help="Also compute the spatial Gini (needs geometry; unweighted).")
@click.option("--permutations", type=click.IntRange(min=0), default=99, show_default=True,
              help="Permutations for the spatial Gini's pseudo p-value.")
@click.option("--seed", type=int, default=None,
              help="Seed of the permutations (default: a fresh one, recorded in the output).")
@graph_option
@click.option("--allow-singletons", is_flag=True,
              help="Accept groups with a single unit in the decompositions.")
@click.option("--dropna", is_flag=True,
              help="Drop units with a missing value, weight or group (they are listed in the "
                   "output) instead of failing.")
@output_option
@overwrite_option
def inequality(table, value_col, weight_col, group_col, id_col, layer, crs, spatial_gini,
               permutations, seed, graph_kind, allow_singletons, dropna, output, overwrite):
    """Inequality of the column --value across the units of TABLE (CSV or any vector file).

    Writes JSON with n, gini, theil_t, theil_l, cv, atkinson_0.5, atkinson_1, williamson
    (with --weight), theil_t/l_between/within (with --group), spatial_gini (with
    --spatial-gini), the inputs and the provenance (gisfix version).
    """
    from gisfix.errors import DataError
    from gisfix.io import check_output, provenance, require_file, write_json

    out = check_output(output, overwrite, (".json",))
    if spatial_gini:
        from gisfix.graphs import parse_kind

        parse_kind(graph_kind)  # a bad --graph fails before reading the table
    path = require_file(table)
    groups = parse_str_list(group_col)
    df = _read(path, layer, need_geometry=spatial_gini)
    if spatial_gini and crs is not None:
        from gisfix.crs import resolve_crs

        if df.crs is None:
            df = df.set_crs(resolve_crs(crs, what=path.name))
        else:
            log.info("%s has a CRS already; --crs %s ignored", path.name, crs)
    needed = [value_col] + ([weight_col] if weight_col else []) + groups
    missing = [c for c in needed + ([id_col] if id_col else []) if c not in df.columns]
    if missing:
        cols = ", ".join(str(c) for c in df.columns if c != "geometry")
        raise DataError(f"{path.name} has no column {', '.join(map(repr, missing))}; its "
                        f"columns are: {cols}")
    if id_col:
        from gisfix.boundaries import check_ids, normalise_ids

        ids = normalise_ids(df[id_col])
        check_ids(ids, what=path.name, column=id_col)
        df = df.set_index(ids.rename(id_col))
    dropped = []
    if dropna:
        bad = df[needed].isna().any(axis=1)
        if bad.any():
            dropped = [str(i) for i in df.index[bad]]
            log.warning("dropped %d units with missing %s: %s", len(dropped),
                        "/".join(needed), ", ".join(dropped[:8]))
            df = df.loc[~bad]
    values = _numeric(df, value_col, path.name)
    weights = _numeric(df, weight_col, path.name) if weight_col else None
    group_arg = None
    if groups:
        group_arg = [df[g] for g in groups] if len(groups) > 1 else df[groups[0]]

    from gisfix.inequality import summarize

    result = summarize(values, weights, group_arg, allow_singletons=allow_singletons)
    if spatial_gini:
        from gisfix.inequality.spatial import spatial_gini as run_spatial_gini

        if seed is None and permutations:  # draw one and record it: the run stays repeatable
            import numpy as np

            seed = int(np.random.SeedSequence().entropy % 2**31)
            log.info("no --seed given; using --seed %d", seed)
        sg = run_spatial_gini(values, df, permutations=permutations, seed=seed, kind=graph_kind)
        result["spatial_gini"] = {**sg.as_dict(), "graph": graph_kind}
    inputs = {"table": str(path), "layer": layer, "value": value_col, "weight": weight_col,
              "group": groups or None, "id": id_col, "dropped": dropped}
    if spatial_gini:
        inputs.update(graph=graph_kind, permutations=permutations, seed=seed)
    result["inputs"] = inputs
    result["provenance"] = provenance(
        inputs={"table": str(path)},
        parameters={k: v for k, v in inputs.items() if k != "table"},
        command="gisfix inequality")
    write_json(result, out, overwrite=overwrite)
    log.info("wrote %s", out)


def _numeric(df, col, what):
    import pandas as pd

    from gisfix.errors import DataError

    s = pd.to_numeric(df[col], errors="coerce")
    bad = s.isna() & df[col].notna()
    if bad.any():
        raise DataError(f"{what}: column {col!r} has {int(bad.sum())} non-numeric entries "
                        f"(ids {', '.join(map(str, df.index[bad][:8]))}); fix or drop them")
    return s.astype(float).rename(col)


def _read(path: Path, layer, need_geometry: bool):
    from gisfix.errors import DataError, InputFileError, UsageError

    if path.suffix.lower() in CSV_SUFFIXES:
        if need_geometry:
            raise DataError(f"--spatial-gini needs polygons but {path.name} is a CSV table; "
                            "use a vector file (GeoPackage, shapefile, GeoJSON...)")
        import pandas as pd

        try:
            return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it "
                "as UTF-8 (e.g. iconv -f cp1252 -t utf-8)") from exc
        except Exception as exc:
            raise InputFileError(f"cannot read {path} as CSV: {exc}") from exc
    import pyogrio

    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputFileError(f"cannot open {path} as a table or vector file: {exc}") from exc
    if layer is None and len(layers) > 1:
        raise UsageError(f"{path.name} has {len(layers)} layers ({', '.join(layers)}); "
                          "choose one with --layer")
    if layer is not None and layer not in layers:
        raise UsageError(f"{path.name} has no layer {layer!r}; it has: {', '.join(layers)}")
    try:
        df = pyogrio.read_dataframe(path, layer=layer, read_geometry=need_geometry)
    except Exception as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from exc
    if need_geometry and hasattr(df, "geom_type"):
        from gisfix.errors import GeometryError

        other = sorted(set(df.geom_type.dropna()) - {"Polygon", "MultiPolygon"})
        if other:
            raise GeometryError(f"{path.name} mixes polygons with {', '.join(other)}; the "
                                "spatial Gini needs polygons only (select them first)")
    return df
