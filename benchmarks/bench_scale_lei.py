"""Benchmark: LEI on the 30,000² scale workload, first -> last epoch, in bounded memory, and
dask with 2 workers against 1.

Criteria (issue 14): peak RSS under 2 GB for the whole run in one process; dask with 2
workers at least 1.6x faster than with 1 worker.

Workload: the DC year-built raster tiled to 30,954 x 30,415 cells
(``make_scale_workload.py``, cached in /tmp/gisfix-bench), epochs 1975 -> 2030, one-cell
buffer, 8-connectivity, the patch table (no polygons: ~18 million patches).  Each run is a
fresh, byte-compiled Python process; peak RSS is that process's ``ru_maxrss`` (for dask:
the client process and each worker's own).

Run: ``.venv/bin/python benchmarks/bench_scale_lei.py [--skip-single] [--skip-dask]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import byte_compile, python  # noqa: E402

EPOCHS = list(range(1975, 2031, 5))

SINGLE = f"""
import sys
from gisfix.lei import landscape_expansion_index
from gisfix.stack import open_builtup
st = open_builtup(sys.argv[1], "year-built", epochs={EPOCHS!r})
t = landscape_expansion_index(st, {EPOCHS[0]}, {EPOCHS[-1]}, polygons=False)
import numpy as np
codes = np.bincount(t["growth_type"].cat.codes.to_numpy() + 1, minlength=4)
print("patches", len(t), "outlying/edge/infill/none", codes[1:].tolist() + codes[:1].tolist())
"""

DASK = f"""
import resource, sys, time
from distributed import Client, LocalCluster
from gisfix.lei import landscape_expansion_index
from gisfix.stack import open_builtup
st = open_builtup(sys.argv[1], "year-built", epochs={EPOCHS!r})
n = int(sys.argv[2])
with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                  memory_limit="4GB") as cluster, Client(cluster) as client:
    t = time.perf_counter()
    tab = landscape_expansion_index(st, {EPOCHS[0]}, {EPOCHS[-1]}, polygons=False, scheduler=client)
    took = time.perf_counter() - t
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print("compute", took, "worker_peak_mb", max(peaks.values()), "patches", len(tab))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/tmp/gisfix-bench")
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()
    from make_scale_workload import make_raster

    raster = make_raster(Path(args.cache), 30000)
    byte_compile()
    import rasterio

    with rasterio.open(raster) as ds:
        cells = ds.width * ds.height
        print(f"{raster.name}: {ds.width} x {ds.height} = {cells / 1e9:.2f} gigacells")
    if not args.skip_single:
        wall, rss, out = python(SINGLE, raster)
        print(f"one process: {wall:.0f} s ({wall / (cells / 1e9):.0f} s per gigacell), "
              f"peak RSS {rss:.0f} MB (criterion < 2048 MB: "
              f"{'met' if rss < 2048 else 'NOT met'}); {out.strip()}")
    if not args.skip_dask:
        res = {}
        for n in (1, 2):
            _, rss, out = python(DASK, raster, n)
            f = out.split()
            res[n] = float(f[f.index("compute") + 1])
            peak = float(f[f.index("worker_peak_mb") + 1])
            print(f"dask LocalCluster, {n} worker(s) x 1 thread: compute {res[n]:.0f} s, "
                  f"peak RSS per worker {peak:.0f} MB, client {rss:.0f} MB")
        ratio = res[1] / res[2]
        print(f"dask 2 workers vs 1: {ratio:.2f}x (criterion >= 1.6x: "
              f"{'met' if ratio >= 1.6 else 'NOT met'})")
    print("(one run each on a 2-core machine shared with other jobs: ratios are noisy)")


if __name__ == "__main__":
    main()
