"""Patch metrics of built-up land: gisfix vs pylandstats, 30 DC counties x 12 epochs.

Run: ``.venv/bin/python benchmarks/bench_patches.py [--repeat 3]``.  Needs the shared data
(``GISFIX_SHARED_DATA`` or ``../shared/data``).  Both tools compute the same class metrics
of the built class (CA, NP, PD, LPI, TE, ED, AREA_MN) on the same unit masks; gisfix also
computes AI and the main-patch NMI.  The pylandstats side gets its per-(county, epoch)
arrays ready-made, and is timed with and without building them (reading and masking the
raster); gisfix is timed end to end (reading, masking, labelling, metrics).  Prints ratios;
the results are checked equal before timing.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GISFIX_SHARED_DATA", ROOT.parent / "shared" / "data"))
#: gisfix column -> pylandstats metric.
METRICS = {"total_area_ha": "total_area", "number_of_patches": "number_of_patches",
           "patch_density_per_100ha": "patch_density",
           "largest_patch_index": "largest_patch_index", "total_edge_m": "total_edge",
           "edge_density_m_per_ha": "edge_density", "area_mn_ha": "area_mn"}


def _arrays(stack, units):
    from gisfix.landscape import _unit_windows

    out = []
    for uid, w, inside in _unit_windows(units.to_crs(stack.crs), stack):
        codes = stack.read_ordinal(w)
        land = inside & (codes != 255)
        for j, e in enumerate(stack.epochs):
            arr = np.zeros(codes.shape, np.uint8)
            arr[land] = 2
            arr[land & (codes <= j)] = 1
            out.append((uid, e, arr))
    return out


def _pylandstats(arrays, conn):
    import pylandstats as pls

    rows = {}
    for uid, e, arr in arrays:
        if not (arr == 1).any():
            continue
        ls = pls.Landscape(arr, res=(100, 100), nodata=0, neighborhood_rule=str(conn))
        rows[(uid, e)] = ls.compute_class_metrics_df(metrics=list(METRICS.values())).loc[1]
    return rows


def main():
    import geopandas as gpd

    from gisfix.landscape import patch_metrics
    from gisfix.stack import open_builtup

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--connectivity", type=int, default=8)
    args = ap.parse_args()
    d = SHARED / "ghsl_dc_baltimore"
    units = gpd.read_file(d / "counties_2017_census.gpkg", layer="counties").set_index("fips")
    conn = args.connectivity

    def run_gisfix():
        with open_builtup(d / "ghsl_year_built_100m_mollweide.tif", "year-built") as st:
            return patch_metrics(units, st, connectivity=conn)

    def run_pls_with_masks():
        with open_builtup(d / "ghsl_year_built_100m_mollweide.tif", "year-built") as st:
            return _pylandstats(_arrays(st, units), conn)

    with open_builtup(d / "ghsl_year_built_100m_mollweide.tif", "year-built") as st:
        arrays = _arrays(st, units)
    ours = run_gisfix().set_index(["unit_id", "epoch"])
    ref = _pylandstats(arrays, conn)
    worst = max(abs(ours.loc[k, m] - v[p]) / max(abs(v[p]), 1e-300)
                for k, v in ref.items() for m, p in METRICS.items())
    print(f"{len(units)} counties x 12 epochs, connectivity {conn}: {len(ref)} non-empty "
          f"(county, epoch) landscapes; worst relative difference {worst:.2e}")

    def best(fn):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    t_g = best(run_gisfix)
    t_p = best(lambda: _pylandstats(arrays, conn))
    t_pm = best(run_pls_with_masks)
    print(f"pylandstats (arrays ready) / gisfix (end to end): {t_p / t_g:.1f}x")
    print(f"pylandstats (reading + masking + metrics) / gisfix: {t_pm / t_g:.1f}x")
    print(f"(best of {args.repeat}; gisfix {t_g:.2f} s; machine shared, timings noisy)")


if __name__ == "__main__":
    main()
