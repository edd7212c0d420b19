"""Benchmark: gisfix LEI vs GOSTurban's ``calculate_LEI`` on the DC raster, 1975 -> 2020.

Same settings on both sides: new patches = cells built 1980-2020 (not by 1975), 4-connected
(GOSTurban polygonises with GDAL's default 4-connectivity), a vector buffer of ``--buffer-m``
metres rasterised by the cell-centre rule (GOSTurban) vs the equivalent raster ring
(gisfix), ring = whole buffer minus the patch, all cells counted (DC has no unobserved cell).

GOSTurban spends ~10 ms per patch (it rasterises each patch's donut over the whole raster),
so by default it runs on a random subset of patches (``--sample``) and its full time is
extrapolated per patch; ``--sample 0`` runs it on every patch.  Unsampled patches are recoded
to a value that is neither old nor new: they stay vacant land in the other donuts, so the
sampled patches' results are those of the full run.

Usage::

    .venv/bin/python benchmarks/bench_lei.py [--raster PATH] [--buffer-m 300] [--sample 400]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

DEFAULT_RASTER = Path(os.environ.get("GISFIX_SHARED_DATA", Path(__file__).resolve().parents[2]
                                     / "shared" / "data")) / "ghsl_dc_baltimore" / \
    "ghsl_year_built_100m_mollweide.tif"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raster", default=str(DEFAULT_RASTER))
    ap.add_argument("--t0", type=int, default=1975)
    ap.add_argument("--t1", type=int, default=2020)
    ap.add_argument("--buffer-m", type=float, default=300.0)
    ap.add_argument("--sample", type=int, default=400, help="GOSTurban patches (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="gisfix repetitions (best kept)")
    args = ap.parse_args()

    import rasterio
    from GOSTurban.LEI import calculate_LEI

    from gisfix.lei import classify_lei, landscape_expansion_index
    from gisfix.stack import open_builtup

    stack = open_builtup(args.raster, "year-built")
    with rasterio.open(args.raster) as ds:
        years = ds.read(1)
        transform = ds.transform
    old_list = [e for e in stack.epochs if e <= args.t0]
    new_list = [e for e in stack.epochs if args.t0 < e <= args.t1]

    # -- gisfix: full run, polygons included (GOSTurban returns polygons too) -------------
    best = np.inf
    for _ in range(args.repeat):
        t = time.perf_counter()
        patches = landscape_expansion_index(stack, args.t0, args.t1, buffer_m=args.buffer_m,
                                            connectivity=4, polygons=True)
        best = min(best, time.perf_counter() - t)
    t = time.perf_counter()
    landscape_expansion_index(stack, args.t0, args.t1, buffer_m=args.buffer_m,
                              connectivity=4, polygons=False)
    table_only = time.perf_counter() - t
    n = len(patches)
    print(f"raster {Path(args.raster).name}: {args.t0}->{args.t1}, buffer {args.buffer_m:g} m,"
          f" 4-connectivity: {n} new patches")
    print(f"gisfix: {best:.2f} s with polygons ({table_only:.2f} s table only)")

    # -- GOSTurban on a random subset of patches ------------------------------------------
    from gisfix.lei import label_new_patches

    codes = stack.read_ordinal()
    labels, _ = label_new_patches(codes <= stack.epoch_index(args.t0),
                                  codes <= stack.epoch_index(args.t1), connectivity=4)
    rng = np.random.default_rng(args.seed)
    chosen = (np.arange(1, n + 1) if args.sample <= 0 or args.sample >= n
              else np.sort(rng.choice(np.arange(1, n + 1), size=args.sample, replace=False)))
    arr = years.copy()
    drop = (labels > 0) & ~np.isin(labels, chosen)
    arr[drop] = 1  # neither old nor new: vacant land for the sampled patches' donuts
    t = time.perf_counter()
    res = calculate_LEI(arr, old_list=old_list, new_list=new_list, buffer_dist=args.buffer_m,
                        transform=transform)
    gost_time = time.perf_counter() - t
    per_patch = gost_time / len(chosen)
    gost_full = per_patch * n
    how = "measured" if len(chosen) == n else f"extrapolated from {len(chosen)} random patches"
    print(f"GOSTurban: {gost_time:.2f} s for {len(res)} patches = {1000 * per_patch:.1f} ms per "
          f"patch; all {n} patches: {gost_full:.0f} s ({how})")
    print(f"speed-up gisfix vs GOSTurban: {gost_full / best:.0f}x (with polygons), "
          f"{gost_full / table_only:.0f}x (table only)")

    # -- agreement ------------------------------------------------------------------------
    inv = ~transform
    ours, theirs = [], []
    for geom, old, total in res:
        x, y = geom.representative_point().coords[0]
        c, r = inv * (x, y)
        pid = labels[int(r), int(c)]
        ours.append(patches.loc[pid, "lei"])
        theirs.append(100.0 * old / total if total else np.nan)
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    diff = np.abs(ours - theirs)
    same_liu = np.mean(classify_lei(ours) == classify_lei(theirs))
    from gisfix.lei import LEIThresholds

    gost_t = LEIThresholds(5.0, 90.0)  # GOSTurban: <= 0.05 leapfrog, >= 0.9 infill (approx.)
    same_gost = np.mean(classify_lei(ours, gost_t) == classify_lei(theirs, gost_t))
    print(f"patches matched: {len(res)}/{len(chosen)}; |LEI difference|: mean {diff.mean():.2e},"
          f" max {diff.max():.2e}; identical LEI: {np.mean(diff < 1e-9):.4f}")
    print(f"class agreement: Liu et al. thresholds {same_liu:.4f}; GOSTurban-like thresholds "
          f"{same_gost:.4f}")
    print("(timings on a shared, loaded 2-core machine: compare ratios, not seconds)")


if __name__ == "__main__":
    main()
