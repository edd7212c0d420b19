"""Benchmark: boundary edits (gisfix.edits) against geopandas dissolve and tobler.

Workload: the Swiss municipalities 2018 -> 2024 (embedded vintages).

1. The 55 merger groups (2018 units grouped by the 2024 unit holding most of their
   area) applied with ``apply_scenario`` vs a plain ``GeoDataFrame.dissolve`` of the same
   groups (the natural lower bound).  Aim: ratio <= 3.
2. The full diff scenario (merges + transfers, from ``gisfix.edits.diff.diff`` when it is
   available) applied with an extensive column vs ``tobler.area_weighted.area_interpolate``
   from the 2018 units onto the edited units (same area-weighted values).  Aim: tobler time
   / gisfix time >= 1.

Run: ``.venv/bin/python benchmarks/bench_edits.py``.  The diff scenario is cached in
/tmp/gisfix-bench.  Prints times of both tools in one process and their ratios.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gisfix import datasets
from gisfix.edits import apply_scenario, load_scenario

CACHE = Path("/tmp/gisfix-bench")
REPEAT = 3


def best(fn, repeat=REPEAT):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def merge_groups(s18, s24) -> pd.Series:
    """2018 id -> 2024 id for every 2018 unit that disappeared (largest overlap)."""
    gone = s18.index.difference(s24.index)
    ov = gpd.overlay(s18.loc[gone].reset_index()[["id", "geometry"]],
                     s24.reset_index()[["id", "geometry"]], keep_geom_type=True)
    ov["a"] = ov.area
    return ov.sort_values("a").groupby("id_1")["id_2"].last()


def diff_scenario(s18, s24):
    """The diff engineer's scenario 2018 -> 2024 (timed), cached as TOML in /tmp/gisfix-bench."""
    path = CACHE / "swiss_2018_2024_diff.toml"
    try:
        from gisfix.edits.diff import diff
    except ImportError:
        if path.exists():
            return load_scenario(path), "cached diff", float("nan")
        return None, "gisfix.edits.diff unavailable", float("nan")
    t_diff, res = best(lambda: diff(s18, s24), repeat=1)
    sc = load_scenario(res.scenario)
    CACHE.mkdir(parents=True, exist_ok=True)
    sc.to_toml(path, overwrite=True)
    return sc, "diff", t_diff


def main():
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    s18, s24 = datasets.load("swiss-2018"), datasets.load("swiss-2024")
    s18 = s18.assign(pop=np.arange(len(s18), dtype=np.int64) * 37 + 1000,
                     gdp=np.linspace(1.5, 9999.5, len(s18)))
    target = merge_groups(s18, s24)
    edits = []
    for into, members in target.groupby(target).groups.items():
        units = sorted(members) + ([into] if into in s18.index else [])
        edits.append({"op": "merge", "units": units, "into": into})
    scen = {"scenario": {"name": "Swiss mergers 2018-2024"}, "edit": edits}
    print(f"workload: Swiss 2018 ({len(s18)} units) -> {len(edits)} merger groups "
          f"({sum(len(e['units']) for e in edits)} municipalities)")

    t_g, res = best(lambda: apply_scenario(s18, scen, extensive=["pop", "gdp"]))
    group = pd.Series(s18.index, index=s18.index)
    group.loc[target.index] = target.to_numpy()

    def peer():
        return s18.assign(group=group).dissolve(by="group", aggfunc={"pop": "sum", "gdp": "sum"})

    t_d, dis = best(peer)
    ok = sorted(dis.index) == sorted(res.units.index)
    area_diff = float(np.abs(dis.geometry.area.reindex(res.units.index).to_numpy()
                             - res.units.geometry.area.to_numpy()).max())
    print(f"merges: gisfix apply_scenario {t_g:.3f} s, geopandas dissolve {t_d:.3f} s, "
          f"ratio {t_g / t_d:.2f}x (aim <= 3x); same ids: {ok}; max area difference "
          f"{area_diff:.3g} m2; pop totals equal: {res.units['pop'].sum() == dis['pop'].sum()}")

    sc, how, t_diff = diff_scenario(s18, s24)
    if sc is None:
        print(f"reallocation: skipped ({how})")
        return
    ops = pd.Series([e["op"] for e in sc.edits]).value_counts().to_dict()
    t_e, full = best(lambda: apply_scenario(s18, sc, extensive=["pop", "gdp"]))
    t_e0, _ = best(lambda: apply_scenario(s18, sc))
    from tobler.area_weighted import area_interpolate

    tgt = full.units[["geometry"]]

    def tob():
        return area_interpolate(source_df=s18, target_df=tgt, extensive_variables=["pop", "gdp"])

    t_t, est = best(tob, repeat=1)
    rel = (est["pop"].to_numpy() - full.units["pop"].to_numpy()) / np.maximum(
        full.units["pop"].to_numpy(), 1)
    print(f"full scenario ({how}: {ops}): gisfix edit+reallocation {t_e:.3f} s "
          f"(geometry only {t_e0:.3f} s), tobler area_interpolate {t_t:.3f} s, "
          f"tobler/gisfix {t_t / t_e:.2f}x (aim >= 1x)")
    print(f"  agreement with tobler (pop): max |relative difference| {np.abs(rel).max():.3g}, "
          f"median {np.median(np.abs(rel)):.3g}; totals gisfix {full.units['pop'].sum()} = "
          f"input {s18['pop'].sum()}, tobler {est['pop'].sum():.1f}; gdp fsum equal: "
          f"{math.fsum(full.units['gdp']) == math.fsum(s18['gdp'])}")
    print(f"round trip: diff {t_diff:.3f} s + edit {t_e0:.3f} s = {t_diff + t_e0:.3f} s, "
          f"{(t_diff + t_e0) / t_d:.2f}x the dissolve of the merge groups (aim <= 3x); edit "
          f"alone {t_e0 / t_d:.2f}x")
    print("(timings on a shared, loaded 2-core machine: compare ratios, not seconds)")


if __name__ == "__main__":
    main()
