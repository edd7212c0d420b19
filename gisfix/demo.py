"""The offline demo: the main job of gisfix on the embedded data, end to end.

``gisfix demo -o DIR`` (and ``make demo``) runs three real cases and writes QGIS-ready
GeoPackages, a TOML scenario, JSON results, charts and a Markdown report to ``DIR``:

1. **Swiss municipal reform 2018 -> 2024** (embedded ``swiss-2018`` / ``swiss-2024``): the
   edits between the two vintages are detected (:func:`gisfix.edits.diff.diff`), written as
   a scenario, applied to 2018 (:func:`gisfix.edits.apply_scenario`) and checked against
   2024 (IoU of every unit); the before/after change of municipal-size inequality
   (:func:`gisfix.edits.compare`) says what the mergers did to the territorial structure.
2. **Virginia independent-city reversions** (embedded ``virginia-pre1995`` /
   ``virginia-2017``): the three real mergers as a hand-written scenario
   (``gisfix/data/scenarios/virginia_reversions.toml``), applied and checked.
3. **Mexican regional inequality 1940-2000** (libpysal's ``mexico`` example, Rey and
   Sastre-Gutierrez 2010): Theil decomposition by the HANSON98 regions for every decade,
   spatial Gini with permutation inference, sigma and beta convergence.

Nothing here reads the network or ``../shared/data``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gisfix.datasets import data_path
from gisfix.errors import OutputExistsError
from gisfix.report import markdown_table, plot_backend, save_figure

log = logging.getLogger(__name__)

VIRGINIA_SCENARIO = data_path("scenarios", "virginia_reversions.toml")
#: Equal-area CRS for Virginia areas and IoU (CONUS Albers).
VIRGINIA_AREA_CRS = "EPSG:5070"
MEXICO_SEED = 2010
MEXICO_PERMUTATIONS = 999

OUTPUTS = ("swiss_2018_2024.gpkg", "swiss_2018_2024_scenario.toml", "virginia.gpkg",
           "mexico_inequality.json", "mexico_theil.png", "swiss_reform_map.png", "REPORT.md",
           "summary.json", "project.qgz", "report.html")


def iou(a, b) -> np.ndarray:
    """Return the intersection over union of paired geometries (same CRS, same length)."""
    import shapely

    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    inter = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def swiss_reform(out: Path, overwrite: bool) -> dict:
    """Detect, apply and assess the Swiss municipal edits 2018 -> 2024."""
    from gisfix import datasets, styles
    from gisfix.edits import apply_scenario, compare
    from gisfix.edits.diff import diff
    from gisfix.edits.lineage import STATUS_COLORS, unit_status
    from gisfix.io import provenance, write_layers

    old = datasets.load("swiss-2018")
    new = datasets.load("swiss-2024")
    old["area_km2"] = old.area / 1e6
    found = diff(old, new, name="name", scenario_name="Swiss municipalities 2018 -> 2024")
    prov = provenance({"old": str(datasets.get_path("swiss-2018")) + ":municipalities_2018",
                       "new": str(datasets.get_path("swiss-2024")) + ":municipalities_2024"},
                      {"report": found.report}, "gisfix demo: swiss reform")
    found.to_toml(out / "swiss_2018_2024_scenario.toml", overwrite=overwrite, provenance=prov)
    ops = pd.Series([e["op"] for e in found.scenario["edit"]]).value_counts().to_dict()

    result = apply_scenario(old, found.scenario, extensive=["area_km2"])
    edited = result.units
    common = edited.index.intersection(new.index)
    scores = pd.Series(iou(edited.geometry.loc[common].values,
                           new.geometry.loc[common].values), index=common)
    edited["iou_2024"] = scores.reindex(edited.index)
    edited["status"] = unit_status(result.lineage, edited.index)
    table = compare(old, found.scenario, value="area_km2")

    layers = {"municipalities_2018": old.reset_index(),
              "municipalities_edited": edited.reset_index(),
              "municipalities_2024": new.reset_index(),
              "lineage": result.lineage,
              "comparison": table.reset_index(names="measure")}
    write_layers(out / "swiss_2018_2024.gpkg", layers, prov, overwrite=overwrite,
                 styles={"municipalities_edited": styles.categorized(
                     list(STATUS_COLORS), "status", colors=STATUS_COLORS)})
    _swiss_map(edited, out / "swiss_reform_map.png", overwrite)
    return {
        "units_2018": len(old), "units_2024": len(new), "units_edited": len(edited),
        "edits": ops, "ids_match_2024": bool(set(edited.index) == set(new.index)),
        "iou_min": float(scores.min()), "iou_median": float(scores.median()),
        "units_iou_below_0.99": int((scores < 0.99).sum()),
        "status_counts": edited["status"].value_counts().to_dict(),
        "comparison": table.round(6).to_dict(orient="index"),
        "tolerance_m": found.report.get("tolerance_m"),
    }


def virginia(out: Path, overwrite: bool) -> dict:
    """Apply the three Virginia reversions and compare with the 2017 vintage."""
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
    """Regional inequality in Mexico 1940-2000 (Rey and Sastre-Gutierrez 2010 data)."""
    import geopandas as gpd
    import libpysal

    from gisfix.inequality import (
        beta_convergence,
        sigma_convergence,
        spatial_gini,
        summarize,
        theil_decomposition,
    )
    from gisfix.io import provenance, write_json

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
        "spatial_gini_2000": {"gini": sg.gini, "neighbour": sg.neighbour,
                              "non_neighbour": sg.non_neighbour, "p_sim": sg.p_sim,
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


def _report(out: Path, results: dict, overwrite: bool) -> None:
    from gisfix._version import __version__
    from gisfix.io import atomic_path

    sw, va, mx = results["swiss"], results["virginia"], results["mexico"]
    comp = pd.DataFrame(sw["comparison"]).T
    dec = pd.DataFrame(mx["by_decade"]).set_index("year")
    lines = [
        f"# gisfix demo report (gisfix {__version__})", "",
        "## 1. Swiss municipal reform 2018 -> 2024", "",
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
        markdown_table(comp),
        "",
        "Open `swiss_2018_2024.gpkg` in QGIS: layer `municipalities_edited` is styled by "
        "status; `lineage` is the crosswalk from 2018 to 2024 ids (harmonise a panel with "
        "`gisfix.harmonise`). The scenario is `swiss_2018_2024_scenario.toml`.", "",
        "## 2. Virginia independent-city reversions", "",
        f"The three real mergers applied to the {va['units_before']} pre-1995 units give "
        f"{va['units_after']}; IoU of each merged county with its 2017 polygon: "
        + ", ".join(f"{k}: {v}" for k, v in va["merged_iou_vs_2017"].items())
        + " (the two vintages are generalised very differently).", "",
        "## 3. Regional inequality in Mexico, 1940-2000", "",
        "![Theil decomposition](mexico_theil.png)", "",
        markdown_table(dec.round(4)), "",
        f"Spatial Gini 2000 (queen contiguity): Gini {mx['spatial_gini_2000']['gini']:.4f}, "
        f"pseudo p = {mx['spatial_gini_2000']['p_sim']:.3f} "
        f"({mx['spatial_gini_2000']['permutations']} permutations, seed "
        f"{mx['spatial_gini_2000']['seed']}).", "",
    ]
    with atomic_path(out / "REPORT.md", overwrite) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_demo(output, overwrite: bool = False,
             progress: Callable[[str], None] | None = None) -> dict:
    """Run the demo into folder ``output``; return a dict of the headline numbers.

    Parameters
    ----------
    output : path-like
        Folder for the files (created if needed).
    overwrite : bool
        Replace files from an earlier run; without it an existing output is an error and
        nothing is written.
    progress : callable, optional
        Called with a short message before each step.
    """
    from gisfix.deliverables import write_deliverables
    from gisfix.io import provenance, write_json

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        existing = [n for n in OUTPUTS if (out / n).exists()]
        if existing:
            raise OutputExistsError(
                f"{out} already holds demo output ({', '.join(existing[:3])}...); pass "
                "--overwrite (overwrite=True) to replace it")
    say = progress or (lambda msg: log.info(msg))
    results = {}
    say("1/3 Swiss municipal reform 2018 -> 2024: diff, apply, compare")
    results["swiss"] = swiss_reform(out, overwrite)
    say("2/3 Virginia independent-city reversions")
    results["virginia"] = virginia(out, overwrite)
    say("3/3 Mexico regional inequality 1940-2000")
    results["mexico"] = mexico(out, overwrite)
    _report(out, results, overwrite)
    write_deliverables(out, title="gisfix demo", provenance=provenance(
        {}, {}, "gisfix demo"), overwrite=overwrite)
    write_json(results, out / "summary.json", overwrite=overwrite)
    return results
