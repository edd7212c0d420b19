"""The whole job on your own region: built-up accounting, agglomeration, diffusion, stages.

:func:`run_pipeline` (CLI: ``gisfix run``) chains the measures of gisfix on one boundary
layer and one built-up stack and writes one QGIS-ready GeoPackage plus a Markdown report
with a map and charts:

1. built-up area, valid area and share by unit and epoch (:func:`gisfix.builtup_by_unit`);
2. every per-unit agglomeration measure (:func:`gisfix.agglomeration_measures`: intensity
   with warning thresholds, location quotient, patch metrics, LISA and Gi* hot spots) and
   the per-epoch concentration, hierarchy and Moran's I of built-up land;
3. inequality of built-up share across units, epoch by epoch
   (:func:`gisfix.inequality.summarize`);
4. expansion between consecutive epochs (:func:`gisfix.expansion_series`);
5. the Landscape Expansion Index of every new patch between two epochs, with per-unit
   summaries (:func:`gisfix.lei_by_unit`), and the four-stage labels of the region with
   their evidence (:func:`gisfix.city_stages`); both need a projected raster and are skipped,
   with a note, on a geographic one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from gisfix.errors import DataError, OutputExistsError
from gisfix.report import markdown_table, plot_backend, save_figure

log = logging.getLogger(__name__)

GPKG = "results.gpkg"
OUTPUTS = (GPKG, "REPORT.md", "share_map.png", "builtup_chart.png")


def _inequality_by_epoch(table: pd.DataFrame) -> pd.DataFrame:
    """Gini, Theil T, CV and Williamson's CV of built-up share across units, by epoch.

    Shares are weighted by observed land (``valid_km2``); only measures defined for units
    with no built-up land (share 0) are used, so no unit is dropped.
    """
    from gisfix.inequality import cv, gini, theil_t, williamson

    rows = {}
    for epoch, part in table.groupby("epoch"):
        part = part.dropna(subset=["builtup_share"])
        values = part.set_index("unit_id")["builtup_share"]
        weights = part.set_index("unit_id")["valid_km2"]
        if len(values) < 2 or values.sum() <= 0:
            continue
        rows[int(epoch)] = {"n": len(values), "gini": gini(values, weights),
                            "theil_t": theil_t(values, weights), "cv": cv(values),
                            "williamson": williamson(values, weights)}
    return pd.DataFrame(rows).T.rename_axis("epoch")


def run_pipeline(units, stack, output, *, population: str | None = None,
                 thresholds: Sequence[float] = (0.3,), lei_period: tuple[int, int] | None = None,
                 permutations: int = 999, seed: int = 0, overwrite: bool = False,
                 inputs: dict | None = None,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Run every per-region measure and write ``results.gpkg`` and ``REPORT.md``.

    Parameters
    ----------
    units : GeoDataFrame
        Boundaries from :func:`gisfix.read_boundaries`.
    stack : BuiltupStack
        Built-up rasters from :func:`gisfix.open_builtup`, at least two epochs.
    output : path-like
        Folder for the results (created if needed).
    population : str, optional
        Column of ``units`` with population (adds per-capita built-up land and density).
    thresholds : sequence of float
        Warning thresholds of built-up share (default the 30 % line).
    lei_period : (int, int), optional
        Epochs of the LEI (default the first and the last).
    permutations, seed : int
        Permutations and seed of the LISA / Moran pseudo p-values.
    overwrite : bool
        Replace earlier results; otherwise existing results are an error.
    inputs : dict, optional
        Input descriptions for the provenance record.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    dict
        Headline numbers (also in the report).
    """
    from gisfix import styles
    from gisfix.agglomeration import agglomeration_measures
    from gisfix.diffusion import expansion_series
    from gisfix.io import provenance, write_layers
    from gisfix.zonal import builtup_by_unit, to_wide

    if len(stack.epochs) < 2:
        raise DataError(f"the pipeline needs at least two epochs; the stack has {stack.epochs}")
    t0, t1 = lei_period or (stack.epochs[0], stack.epochs[-1])
    for e in (t0, t1):
        stack.epoch_index(e)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    if not overwrite and any((out / n).exists() for n in OUTPUTS):
        raise OutputExistsError(f"{out} already holds results; pass --overwrite to replace them")
    say = progress or log.info
    notes = []

    say("built-up area by unit and epoch")
    table = builtup_by_unit(units, stack)
    say("agglomeration measures and inequality")
    per_unit, conc = agglomeration_measures(
        units, stack, population=population, thresholds=thresholds,
        patches=not stack.crs.is_geographic, permutations=permutations, seed=seed, table=table)
    ineq = _inequality_by_epoch(table)
    say("expansion between epochs")
    exp = expansion_series(table)

    layers: dict = {}
    wide = to_wide(table)
    last = stack.epochs[-1]
    unit_layer = units[[units.geometry.name]].join(wide)
    unit_layer = unit_layer.join(per_unit[per_unit["epoch"] == last].set_index("unit_id")
                                 .drop(columns=["epoch", "builtup_km2", "valid_km2",
                                                "builtup_share"]))
    styles_ = {"units": styles.graduated(unit_layer[f"share_{last}"], f"share_{last}")}
    stages = patches = lei_summary = None
    if stack.crs.is_geographic:
        notes.append("LEI and stages skipped: the raster is geographic (degrees); they need a "
                     "projected grid (reproject the raster with gdalwarp to an equal-area CRS)")
    else:
        from gisfix.lei import lei_by_unit
        from gisfix.stages import city_stages

        say(f"Landscape Expansion Index {t0} -> {t1}")
        patches, lei_summary = lei_by_unit(units, stack, t0, t1)
        say("four-stage labels")
        stages = city_stages(stack, table=table)
        layers["lei_patches"] = patches
        layers["lei_summary"] = lei_summary.reset_index(names="unit_id")
        layers["stages"] = stages.reset_index(drop=True)
        styles_["lei_patches"] = styles.categorized(
            ["infilling", "edge-expansion", "outlying"], "growth_type",
            colors={"infilling": "44,162,95", "edge-expansion": "254,178,76",
                    "outlying": "240,59,32"})
    layers = {"units": unit_layer.reset_index(names=units.index.name or "unit_id"),
              "builtup": table, "measures": per_unit, "expansion": exp,
              "summary": conc,
              "inequality": ineq.reset_index(), **layers}
    prov = provenance(inputs or {}, {"population": population, "thresholds": list(thresholds),
                                     "permutations": permutations, "seed": seed,
                                     "lei_period": [t0, t1], "epochs": list(stack.epochs),
                                     "encoding": stack.encoding}, "gisfix run")
    say("writing results")
    write_layers(out / GPKG, layers, prov, overwrite=overwrite, styles=styles_)
    summary = stack_summary = table.groupby("epoch")[["builtup_km2", "valid_km2"]].sum()
    stack_summary = summary.assign(share=summary["builtup_km2"] / summary["valid_km2"])
    _charts(unit_layer, f"share_{last}", stack_summary, out, overwrite)
    result = {
        "units": len(units), "epochs": list(stack.epochs),
        "builtup_km2": stack_summary["builtup_km2"].round(4).to_dict(),
        "units_over_threshold": {float(t): int((per_unit[per_unit["epoch"] == last]
                                                ["builtup_share"] >= t).sum())
                                 for t in thresholds},
        "gini_builtup_km2": (conc.set_index("epoch")["gini"].round(4).to_dict()
                             if "gini" in conc else {}),
        "lei_types_km2": (patches.groupby("growth_type")["area_km2"].sum().round(4).to_dict()
                          if patches is not None else None),
        "stages": (stages[["t0", "t1", "stage_name"]].to_dict(orient="records")
                   if stages is not None and "stage_name" in stages else None),
        "notes": notes,
    }
    _report(out, result, stack_summary, ineq, stages, overwrite)
    return result


def _charts(unit_layer, column: str, summary: pd.DataFrame, out: Path, overwrite: bool) -> None:
    plot_backend()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    unit_layer.plot(column=column, ax=ax, cmap="YlOrRd", legend=True, edgecolor="grey",
                    linewidth=0.2, missing_kwds={"color": "white", "hatch": "//"},
                    legend_kwds={"label": f"built-up share ({column[6:]})", "shrink": 0.6})
    ax.set_axis_off()
    ax.set_title("Land development intensity by unit")
    save_figure(fig, out / "share_map.png", overwrite)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.plot(summary.index, summary["builtup_km2"], marker="o", color="#bd0026")
    ax.set_xlabel("epoch")
    ax.set_ylabel("built-up area (km²)")
    ax.set_title("Built-up area of the region")
    save_figure(fig, out / "builtup_chart.png", overwrite)
    plt.close(fig)


def _report(out: Path, result: dict, summary: pd.DataFrame, ineq: pd.DataFrame, stages,
            overwrite: bool) -> None:
    from gisfix._version import __version__
    from gisfix.io import atomic_path

    lines = [f"# gisfix results (gisfix {__version__})", "",
             f"{result['units']} units, epochs {', '.join(map(str, result['epochs']))}. "
             f"Open `{GPKG}` in QGIS: `units` is styled by the last epoch's built-up share"
             + (", `lei_patches` by growth type." if result["lei_types_km2"] else "."), "",
             "![share](share_map.png)", "", "![built-up](builtup_chart.png)", "",
             "## Built-up land of the region", "", markdown_table(summary.round(4)), ""]
    cols = [c for c in ("gini", "theil_t", "cv", "williamson") if c in ineq]
    if cols:
        lines += ["## Inequality of built-up share across units (weighted by land area)", "",
                  markdown_table(ineq[cols].astype(float).round(4)), ""]
    if result["lei_types_km2"]:
        lines += ["## Growth types (Landscape Expansion Index)", "",
                  ", ".join(f"{k}: {v} km²" for k, v in result["lei_types_km2"].items()), ""]
    if stages is not None and "stage_name" in stages:
        keep = [c for c in ("t0", "t1", "stage_name", "cagr", "core_share_new",
                            "share_outlying", "share_infilling") if c in stages]
        lines += ["## Four-stage labels and their evidence (gisfix.stages)", "",
                  markdown_table(stages[keep].set_index("t0").round(4)), ""]
    for note in result["notes"]:
        lines += [f"Note: {note}.", ""]
    with atomic_path(out / "REPORT.md", overwrite) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
