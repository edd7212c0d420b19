"""Benchmark: ``gisfix builtup`` through the CLI, default options (no --epochs), one run.

Issue 14, case 1: on the scale workload (``make_scale_workload.py``: the DC year-built
raster tiled to >= 30,000 x 30,000 cells, 2,990 China counties mapped onto it), time

1. a plain windowed read of the raster (rasterio, full-width strips of whole tile rows),
   in this process, after one warm-up read (OS file cache warm for every tool);
2. ``gisfix builtup COUNTIES RASTER --id CODE -o out.csv -q`` as a subprocess (the real
   console script; gisfix and site-packages byte-compiled first, as in a user's install),
   wall time (start-up and reading the boundaries included) and the child's peak RSS;
3. exactextract ``unique`` + ``frac`` + ``count`` (every epoch from one call), strategy
   ``raster-sequential`` (one pass), in this process.

Prints the ratios (targets: gisfix >= 3x faster than exactextract, <= 3x the plain read,
peak RSS < 1 GB).  GDAL_CACHEMAX is 256 MB for every tool.

Usage::

    .venv/bin/python benchmarks/make_scale_workload.py
    .venv/bin/python benchmarks/bench_builtup_cli.py [--cache /tmp/gisfix-bench] [--no-peer]
"""

from __future__ import annotations

import os

os.environ.setdefault("GDAL_CACHEMAX", "256")

import argparse  # noqa: E402
import compileall  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/tmp/gisfix-bench")
    ap.add_argument("--no-peer", action="store_true", help="skip exactextract")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import make_scale_workload as mk
    import rasterio

    from gisfix.stack import open_builtup
    from gisfix.zonal import _resolve_window_cells

    raster, vectors = mk.main(["--cache", args.cache])
    stack = open_builtup(raster, "year-built")
    windows = list(stack.windows(_resolve_window_cells(stack, None)))
    print(f"workload: {stack.width} x {stack.height} cells, GDAL_CACHEMAX="
          f"{os.environ['GDAL_CACHEMAX']}, load average {os.getloadavg()[0]:.1f}")

    def plain_read():
        with rasterio.open(raster) as ds:
            for w in windows:
                ds.read(1, window=w)

    plain_read()  # warm the OS file cache
    t = time.perf_counter()
    plain_read()
    read_s = time.perf_counter() - t

    # a user's install has .pyc files; this machine never writes them on import
    import sysconfig

    compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1, workers=2)
    compileall.compile_dir(str(ROOT / "gisfix"), quiet=1)
    gisfix = Path(sys.executable).parent / "gisfix"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.csv"
        cmd = [str(gisfix), "-q", "builtup", str(vectors), str(raster), "--id", "CODE",
               "--layer", "county", "-o", str(out)]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        cli_s = time.perf_counter() - t
        rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
        import pandas as pd

        table = pd.read_csv(out)
    print(f"plain windowed read   : {read_s:7.2f} s")
    print(f"gisfix builtup (CLI)  : {cli_s:7.2f} s, peak RSS {rss_gb:.2f} GB, "
          f"{table['unit_id'].nunique()} units x {table['epoch'].nunique()} epochs")
    print(f"  CLI / plain read    : {cli_s / read_s:5.2f}x (target <= 3x)")
    if not args.no_peer:
        import geopandas as gpd
        from exactextract import exact_extract

        frame = gpd.read_file(vectors, layer="county")
        t = time.perf_counter()
        with rasterio.open(raster) as ds:
            exact_extract(ds, frame, ["unique", "frac", "count"], output="pandas",
                          strategy="raster-sequential")
        ee_s = time.perf_counter() - t
        print(f"exactextract (1 pass) : {ee_s:7.2f} s")
        print(f"  exactextract / CLI  : {ee_s / cli_s:5.2f}x (target >= 3x)")
    print(f"  peak RSS            : {rss_gb:.2f} GB (target < 1 GB)")


if __name__ == "__main__":
    main()
