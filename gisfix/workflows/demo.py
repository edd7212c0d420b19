"""The offline demo: the main job of gisfix on the embedded data, end to end.

``gisfix demo -o DIR`` (and ``make demo``) runs three real cases and writes QGIS-ready
GeoPackages, a TOML scenario, JSON results, charts and a Markdown report to ``DIR``:

1. **The main job on Switzerland** (:func:`gisfix.workflows.run.run_project` on the
   project file ``gisfix/workflows/demo_project.toml``, shipped in the package): the 2018
   municipalities (embedded ``swiss-2018``) on the GHS-WUP Degree of Urbanisation 2025
   (embedded ``degurba-switzerland-2025``, JRC, CC BY 4.0; urban = classes 21, 22, 23,
   30): urban share by municipality, the agglomeration measures, inequality across
   cantons (Theil by ``KTNR``), and what the 2018 -> 2024 merger wave (the edits that
   :func:`gisfix.edits.diff.diff` finds against ``swiss-2024``) changed in each of them.
   The raster has one epoch, so diffusion cannot be shown; the report says so and shows
   how to run the job on a GHSL stack.  The detected edits are checked against the 2024
   vintage (IoU of every unit) and written as a scenario.
2. **Virginia independent-city reversions** (embedded ``virginia-pre1995`` /
   ``virginia-2017``): the three real mergers as a hand-written scenario
   (``gisfix/data/scenarios/virginia_reversions.toml``), applied and checked.
3. **Mexican regional inequality 1940-2000** (libpysal's ``mexico`` example, Rey and
   Sastre-Gutierrez 2010): Theil decomposition by the HANSON98 regions for every decade,
   spatial Gini with permutation inference, sigma and beta convergence.

Nothing here reads the network or ``../shared/data``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gisfix.datasets import data_path
from gisfix.edits.topology import iou
from gisfix.errors import OutputExistsError
from gisfix.report import markdown_table, plot_backend, save_figure
from gisfix.workflows.run import OUTPUTS as RUN_OUTPUTS

log = logging.getLogger(__name__)

VIRGINIA_SCENARIO = data_path("scenarios", "virginia_reversions.toml")
#: Equal-area CRS for Virginia areas and IoU (CONUS Albers).
VIRGINIA_AREA_CRS = "EPSG:5070"
MEXICO_SEED = 2010
MEXICO_PERMUTATIONS = 999

#: The demo's project file, inside the package (read with importlib.resources).
DEMO_PROJECT = "demo_project.toml"
#: The scenario of the demo project: the detected 2018 -> 2024 edits.
SWISS_SCENARIO = "mergers_2018_2024"

#: Files of the demo beyond those of the main job (:data:`gisfix.workflows.run.OUTPUTS`).
DEMO_FILES = ("swiss_2018_2024.gpkg", "swiss_2018_2024_scenario.toml", "virginia.gpkg",
              "mexico_inequality.json", "mexico_theil.png", "swiss_reform_map.png",
              "summary.json")
#: Every file the demo writes.
OUTPUTS = (*RUN_OUTPUTS, *DEMO_FILES)


@contextlib.contextmanager
def demo_project():
    """Yield the path of the demo's project file, shipped inside the package."""
    from importlib.resources import as_file, files

    with as_file(files("gisfix.workflows") / DEMO_PROJECT) as path:
        yield Path(path)


def swiss_main_job(progress: Callable[[str], None]):
    """The main job on the Swiss demo project: measures before and after the merger wave.

    Parameters
    ----------
    progress : callable
        Called with one short message per step.

    Returns
    -------
    RunResult
        The result of :func:`gisfix.workflows.run.run_project` on the embedded demo project
        (nothing written; the demo writes its own outputs).
    """
    from gisfix.workflows.run import run_project

    with demo_project() as path:
        return run_project(path, None, write=False, progress=progress)


#: Region-wide rows of the demo's before/after summary (urban share, 2025).
SWISS_HEADLINE = ("n_units", "share_gini", "share_theil_t", "share_theil_t_between",
                  "share_theil_t_within", "moran_I", "n_units_share_ge_0.3",
                  "share_spatial_gini", "builtup_km2_total")


def swiss_reform(out: Path, run) -> dict:
    """Check the detected Swiss edits 2018 -> 2024 against the 2024 vintage.

    ``run`` is the main job's result: its scenario holds the edits that
    :func:`gisfix.edits.diff.diff` found and the 2018 units they rebuilt.  Writes the
    scenario TOML, ``swiss_2018_2024.gpkg`` (both vintages, the edited units with their IoU
    against 2024 and lineage status, the lineage and the size comparison) and a map.

    Parameters
    ----------
    out : pathlib.Path
        The output folder (files are replaced).
    run : RunResult
        The result of :func:`swiss_main_job`.

    Returns
    -------
    dict
        Unit counts, edits by operation, whether the edited ids equal the 2024 ids, IoU
        statistics of the rebuilt units, status counts and the before/after unit-size
        summary.
    """
    from gisfix import datasets, styles
    from gisfix.edits.lineage import STATUS_COLORS
    from gisfix.edits.scenario import Scenario
    from gisfix.inequality import summarize
    from gisfix.io import provenance, write_layers

    old = run.units.copy()
    sc = run.scenarios[SWISS_SCENARIO]
    new = datasets.load("swiss-2024")
    scenario: Scenario = sc.scenario
    prov = provenance({"old": str(datasets.get_path("swiss-2018")) + ":municipalities_2018",
                       "new": str(datasets.get_path("swiss-2024")) + ":municipalities_2024"},
                      {"report": sc.source_report}, "gisfix demo: swiss reform")
    scenario.to_toml(out / "swiss_2018_2024_scenario.toml", overwrite=True, provenance=prov)
    ops = pd.Series([e["op"] for e in scenario.edits]).value_counts().to_dict()
    edited = sc.units.copy()
    common = edited.index.intersection(new.index)
    scores = pd.Series(iou(edited.geometry.loc[common].values,
                           new.geometry.loc[common].values), index=common)
    edited["iou_2024"] = scores.reindex(edited.index)
    edited["status"] = sc.change.set_index("unit_id")["status"].reindex(
        edited.index.map(str)).to_numpy()
    old["area_km2"] = old.area / 1e6
    edited["area_km2"] = edited.area / 1e6
    size = pd.DataFrame({"before": pd.Series(summarize(old["area_km2"]), dtype=float),
                         "after": pd.Series(summarize(edited["area_km2"]), dtype=float)})
    size["change"] = size["after"] - size["before"]
    size.index.name = "measure"
    layers = {"municipalities_2018": old.reset_index(),
              "municipalities_edited": edited.reset_index(),
              "municipalities_2024": new.reset_index(),
              "lineage": sc.lineage,
              "comparison": size.reset_index()}
    write_layers(out / "swiss_2018_2024.gpkg", layers, prov, overwrite=True,
                 styles={"municipalities_edited": styles.categorized(
                     list(STATUS_COLORS), "status", colors=STATUS_COLORS)})
    _swiss_map(edited, out / "swiss_reform_map.png", True)
    return {
        "units_2018": len(old), "units_2024": len(new), "units_edited": len(edited),
        "edits": ops, "ids_match_2024": bool(set(edited.index) == set(new.index)),
        "iou_min": float(scores.min()), "iou_median": float(scores.median()),
        "units_iou_below_0.99": int((scores < 0.99).sum()),
        "status_counts": edited["status"].value_counts().to_dict(),
        "comparison": size.round(6).to_dict(orient="index"),
        "tolerance_m": (sc.source_report or {}).get("tolerance_m"),
    }


def swiss_before_after(run, epoch: int = 2025) -> dict:
    """The main job's before/after values of :data:`SWISS_HEADLINE` at ``epoch``.

    Parameters
    ----------
    run : RunResult
        The result of :func:`swiss_main_job`.
    epoch : int
        The epoch to report.

    Returns
    -------
    dict
        For every headline measure: ``base``, ``value``, ``abs_change`` and ``rel_change``.
    """
    from gisfix.workflows.run import before_after

    sc = run.scenarios[SWISS_SCENARIO]
    t = before_after(run.base.region, sc.measures.region, SWISS_SCENARIO)
    t = t[(t["epoch"] == epoch) & t["measure"].isin(SWISS_HEADLINE)].set_index("measure")
    return {m: {k: float(v) for k, v in t.loc[m, ["base", "value", "abs_change",
                                                   "rel_change"]].items()}
            for m in SWISS_HEADLINE if m in t.index}


def virginia(out: Path, overwrite: bool) -> dict:
    """Apply the three Virginia reversions and compare with the 2017 vintage.

    Writes ``virginia.gpkg`` (the pre-1995 counties, the edited counties and the lineage).

    Parameters
    ----------
    out : pathlib.Path
        The output folder.
    overwrite : bool
        Allow replacing an existing output.

    Returns
    -------
    dict
        Unit counts before and after, and the IoU of every merged county with its 2017
        geometry (in an equal-area CRS).
    """
    from gisfix import datasets
    from gisfix.edits import apply_scenario, load_scenario
    from gisfix.io import provenance, write_layers

    old = datasets.load("virginia-pre1995")
    new = datasets.load("virginia-2017", make_valid=True, drop_empty=True)
    scenario = load_scenario(VIRGINIA_SCENARIO)
    result = apply_scenario(old, scenario)
    merged = [e["into"] for e in scenario.to_dict()["edit"] if e["op"] == "merge"]
    a = result.units.to_crs(VIRGINIA_AREA_CRS)
    b = new.to_crs(VIRGINIA_AREA_CRS)
    scores = pd.Series(iou(a.geometry.loc[merged].values, b.geometry.loc[merged].values),
                       index=merged)
    prov = provenance({"old": str(datasets.get_path("virginia-pre1995")),
                       "scenario": str(VIRGINIA_SCENARIO)}, {}, "gisfix demo: virginia")
    write_layers(out / "virginia.gpkg", {"counties_pre1995": old.reset_index(),
                                         "counties_edited": result.units.reset_index(),
                                         "lineage": result.lineage}, prov, overwrite=overwrite)
    return {"units_before": len(old), "units_after": len(result.units),
            "merged_iou_vs_2017": scores.round(4).to_dict()}


def mexico(out: Path, overwrite: bool) -> dict:
    """Regional inequality in Mexico 1940-2000 (Rey and Sastre-Gutierrez 2010 data).

    Theil decomposition between and within the Hanson regions, Gini and CV by decade, the
    spatial Gini of 2000 (Rey and Smith 2013) and sigma and beta convergence of per-capita
    GDP; writes ``mexico_inequality.json`` and a Theil chart.

    Parameters
    ----------
    out : pathlib.Path
        The output folder.
    overwrite : bool
        Allow replacing an existing output.

    Returns
    -------
    dict
        The source, the table by decade, the spatial Gini of 2000 and the convergence
        results.

    References
    ----------
    Rey, S. J. and Sastre-Gutierrez, M. L. (2010). Interregional inequality dynamics in
    Mexico. *Spatial Economic Analysis* 5(3), 277-298.
    """
    import geopandas as gpd
    import libpysal

    from gisfix.inequality import (
        beta_convergence,
        sigma_convergence,
        summarize,
        theil_decomposition,
    )
    from gisfix.io import provenance, write_json
    from gisfix.spatial import spatial_gini

    path = libpysal.examples.get_path("mexicojoin.shp")
    gdf = gpd.read_file(path).set_crs("EPSG:4326", allow_override=True).set_index("CODE")
    years = list(range(1940, 2001, 10))
    wide = gdf[[f"PCGDP{y}" for y in years]].rename(columns=lambda c: int(c[5:]))
    rows = []
    for y in years:
        d = theil_decomposition(wide[y], gdf["HANSON98"])
        s = summarize(wide[y])
        rows.append({"year": y, "theil_t": d.total, "between": d.between, "within": d.within,
                     "gini": s["gini"], "cv": s["cv"]})
    decades = pd.DataFrame(rows).set_index("year")
    sg = spatial_gini(wide[2000], gdf, permutations=MEXICO_PERMUTATIONS, seed=MEXICO_SEED,
                      kind="queen")
    sigma = sigma_convergence(wide)
    beta = beta_convergence(wide)
    result = {
        "source": "libpysal example 'mexico' (Rey and Sastre-Gutierrez 2010), per-capita GDP",
        "by_decade": decades.round(6).reset_index().to_dict(orient="records"),
        "spatial_gini_2000": {"gini": sg.gini, "neighbor": sg.neighbor,
                              "non_neighbor": sg.non_neighbor, "p_sim": sg.p_sim,
                              "permutations": sg.permutations, "seed": sg.seed},
        "sigma_convergence": _plain(sigma),
        "beta_convergence": _plain(beta),
    }
    write_json({"provenance": provenance({"mexico": str(path)},
                                         {"permutations": MEXICO_PERMUTATIONS,
                                          "seed": MEXICO_SEED, "groups": "HANSON98"},
                                         "gisfix demo: mexico"), **result},
               out / "mexico_inequality.json", overwrite=overwrite)
    _theil_chart(decades, out / "mexico_theil.png", overwrite)
    return result


def _plain(obj) -> dict:
    """Scalars of a result dataclass, for JSON."""
    from dataclasses import fields, is_dataclass

    if not is_dataclass(obj):
        return {}
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, int | float | str | bool | np.floating | np.integer):
            out[f.name] = v.item() if hasattr(v, "item") else v
    return out


def _theil_chart(decades: pd.DataFrame, path: Path, overwrite: bool) -> None:
    plot_backend()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.stackplot(decades.index, decades["between"], decades["within"],
                 labels=["between HANSON98 regions", "within regions"],
                 colors=["#e6550d", "#fdae6b"])
    ax.plot(decades.index, decades["theil_t"], color="black", lw=1.2, label="Theil T (total)")
    ax.set_xlabel("year")
    ax.set_ylabel("Theil T of per-capita GDP")
    ax.set_title("Mexico: regional inequality and its decomposition")
    ax.legend(loc="upper right", fontsize=8)
    save_figure(fig, path, overwrite)
    plt.close(fig)


def _swiss_map(edited, path: Path, overwrite: bool) -> None:
    plot_backend()
    import matplotlib.pyplot as plt

    colors = {"unchanged": "#dddddd", "merged": "#f03b20", "boundary changed": "#3182bd",
              "recoded": "#74c476"}
    fig, ax = plt.subplots(figsize=(8, 5.2))
    for status, color in colors.items():
        part = edited[edited["status"] == status]
        if len(part):
            part.plot(ax=ax, color=color, edgecolor="white", linewidth=0.1,
                      label=f"{status} ({len(part)})")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    counts = edited["status"].value_counts()
    ax.legend(handles, [f"{s} ({counts.get(s, 0)})" for s in colors], loc="lower left",
              fontsize=8, frameon=False)
    ax.set_axis_off()
    ax.set_title("Swiss municipalities 2024, rebuilt from 2018 by the detected edits")
    save_figure(fig, path, overwrite)
    plt.close(fig)


def _report_extra(results: dict) -> str:
    sw, va, mx = results["swiss"], results["virginia"], results["mexico"]
    comp = pd.DataFrame(sw["comparison"]).T
    dec = pd.DataFrame(mx["by_decade"]).set_index("year")
    ba = pd.DataFrame(results["swiss_main_job"]).T
    lines = [
        "", "# The demo, continued", "",
        "## What the Swiss merger wave changed (urban share, DEGURBA 2025)", "",
        "Urban means the Degree of Urbanisation classes 21, 22, 23 and 30 (urban clusters "
        "and centres) of the GHS-WUP DEGURBA 2025 (JRC, CC BY 4.0), sampled at 1 km. "
        "Before: the 2018 municipalities; after: the same units rebuilt by the detected "
        "2018 -> 2024 edits. Theil T is split between and within cantons (`KTNR`).", "",
        markdown_table(ba, 6), "",
        "## Checking the detected edits against the 2024 vintage", "",
        f"`gisfix.diff` found these edits between the {sw['units_2018']} municipalities of "
        f"2018 and the {sw['units_2024']} of 2024: "
        + ", ".join(f"{n} {op}" for op, n in sw["edits"].items())
        + f" (tolerance {sw['tolerance_m']} m). Applied to 2018 they give "
        f"{sw['units_edited']} units whose ids "
        + ("match" if sw["ids_match_2024"] else "do NOT match")
        + f" 2024; IoU with the 2024 polygons: minimum {sw['iou_min']:.4f}, median "
        f"{sw['iou_median']:.4f}, {sw['units_iou_below_0.99']} units below 0.99.", "",
        "![Swiss reform](swiss_reform_map.png)", "",
        "What the mergers did to the size distribution of municipalities (area, km²):", "",
        markdown_table(comp), "",
        "Open `swiss_2018_2024.gpkg` in QGIS: layer `municipalities_edited` is styled by "
        "status; `lineage` is the crosswalk from 2018 to 2024 ids (harmonize a panel with "
        "`gisfix.harmonize`). The scenario is `swiss_2018_2024_scenario.toml`.", "",
        "## Virginia independent-city reversions", "",
        f"The three real mergers applied to the {va['units_before']} pre-1995 units give "
        f"{va['units_after']}; IoU of each merged county with its 2017 polygon: "
        + ", ".join(f"{k}: {v}" for k, v in va["merged_iou_vs_2017"].items())
        + " (the two vintages are generalised very differently).", "",
        "## Regional inequality in Mexico, 1940-2000", "",
        "![Theil decomposition](mexico_theil.png)", "",
        markdown_table(dec.round(4)), "",
        f"Spatial Gini 2000 (queen contiguity): Gini {mx['spatial_gini_2000']['gini']:.4f}, "
        f"pseudo p = {mx['spatial_gini_2000']['p_sim']:.3f} "
        f"({mx['spatial_gini_2000']['permutations']} permutations, seed "
        f"{mx['spatial_gini_2000']['seed']}).", "",
    ]
    return "\n".join(lines) + "\n"


def run_demo(output, overwrite: bool = False,
             progress: Callable[[str], None] | None = None) -> dict:
    """Run the demo into folder ``output``; return a dict of the headline numbers.

    The main job (:func:`gisfix.workflows.run.run_project`) on the demo project shipped in
    the package writes its files (``results.gpkg`` with the raster-derived layers,
    ``measures.parquet``, ``compare.csv``, ``run.json``, ``REPORT.md``...), with the
    Swiss reform check, the Virginia and the Mexico parts beside them, all or nothing.

    Parameters
    ----------
    output : path-like
        Folder for the files (created if needed).
    overwrite : bool
        Replace files from an earlier run; without it an existing output is an error and
        nothing is written.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    dict
        The headline numbers of every part of the demo (also written as ``summary.json``).

    Raises
    ------
    OutputExistsError
        When ``output`` already holds demo output and ``overwrite`` is False.
    """
    from gisfix.io import write_json
    from gisfix.workflows.run import write_outputs

    out = Path(output)
    if not overwrite and out.exists():
        existing = [n for n in OUTPUTS if (out / n).exists()]
        if existing:
            raise OutputExistsError(
                f"{out} already holds demo output ({', '.join(existing[:3])}...); pass "
                "--overwrite (overwrite=True) to replace it")
    say = progress or (lambda msg: log.info(msg))
    say("1/3 Swiss municipalities 2018 on the DEGURBA 2025 raster, before and after the "
        "2018 -> 2024 merger wave")
    run = swiss_main_job(lambda msg: say(f"    {msg}"))
    results = {"swiss_main_job": swiss_before_after(run)}

    def extra(d: Path) -> str:
        say("    checking the detected edits against the 2024 vintage")
        results["swiss"] = swiss_reform(d, run)
        say("2/3 Virginia independent-city reversions")
        results["virginia"] = virginia(d, True)
        say("3/3 Mexico regional inequality 1940-2000")
        results["mexico"] = mexico(d, True)
        write_json(results, d / "summary.json", overwrite=True)
        return _report_extra(results)

    say("writing the results")
    write_outputs(run, out, overwrite=overwrite, extra=extra, images=True)
    return results
