"""Benchmark: gisfix.spatial.gini vs PySAL inequality.gini.Gini_Spatial (same input, one run).

Input: the 2,989 China counties with a population in ../shared/data/china_counties_2020
(layer ``county``), value ``POPU_URB`` (urban share), queen contiguity (libpysal Graph; the
same links are given to PySAL as a W; gisfix's own contiguity builder is timed against
libpysal's too).  Both run 999 permutations; PySAL's global RNG is
seeded with ``numpy.random.seed``.  Prints the ratio of times and the deterministic values
of both (they must agree), then times a cold ``gisfix inequality --spatial-gini`` CLI
subprocess, and the same subprocess with ``--help`` only (imports), to report the cost
beyond imports.

Run:  .venv/bin/python benchmarks/bench_inequality.py [--permutations 999]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GISFIX_SHARED_DATA", ROOT.parent / "shared" / "data"))
GPKG = SHARED / "china_counties_2020" / "china_counties_2020.gpkg"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--repeat", type=int, default=3, help="gisfix repetitions (best of)")
    args = ap.parse_args()
    if not GPKG.exists():
        sys.exit(f"needs {GPKG}")

    import pyogrio
    from inequality.gini import Gini_Spatial
    from libpysal.graph import Graph

    from gisfix.spatial import make_graph, spatial_gini

    df = pyogrio.read_dataframe(GPKG, layer="county")
    df = df[df["POPU"].notna()].reset_index(drop=True)  # positional ids 0..n-1 for PySAL
    x = df["POPU_URB"].to_numpy(float)
    t = time.perf_counter()
    graph = Graph.build_contiguity(df, rook=False)
    t_graph = time.perf_counter() - t
    t = time.perf_counter()
    ours_graph = make_graph(df, "queen", libpysal=True)
    t_ours_graph = time.perf_counter() - t
    same = ours_graph.adjacency.sort_index().equals(graph.adjacency.sort_index())
    w = graph.to_W()
    print(f"n = {len(x)} counties, {len(graph.adjacency)} adjacency rows, "
          f"{len(graph.isolates)} isolates")
    print(f"queen graph: libpysal Graph.build_contiguity {t_graph:.3f} s, "
          f"gisfix contiguity_graph {t_ours_graph:.3f} s: {t_graph / t_ours_graph:.1f}x, "
          f"identical links: {same}")

    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        ours = spatial_gini(x, graph, permutations=args.permutations, seed=12345)
        times.append(time.perf_counter() - t)
    best, median = min(times), float(np.median(times))

    np.random.seed(12345)
    t = time.perf_counter()
    peer = Gini_Spatial(x, w, permutations=args.permutations)
    t_peer = time.perf_counter() - t

    print(f"permutations = {args.permutations}")
    print(f"gisfix.spatial.gini: best {best:.4f} s, median {median:.4f} s of {args.repeat}")
    print(f"inequality.Gini_Spatial: {t_peer:.4f} s (one run)")
    print(f"speed-up (PySAL / gisfix): {t_peer / best:.1f}x (best), "
          f"{t_peer / median:.1f}x (median)")
    for name, a, b in (("gini", ours.gini, peer.g), ("neighbor (wg)", ours.neighbor, peer.wg),
                       ("non_neighbor (wcg)", ours.non_neighbor, peer.wcg),
                       ("polarization", ours.polarization, peer.polarization)):
        rel = abs(a - b) / abs(b)
        print(f"  {name:22s} gisfix {a:.12g}  pysal {float(b):.12g}  rel. diff {rel:.1e}")
    print(f"  p_sim: gisfix {ours.p_sim:.4f}  pysal {peer.p_sim:.4f} (different RNGs)")
    print(f"  E[wcg]: gisfix {ours.expected:.6g}  pysal {peer.e_wcg:.6g}")

    # cold CLI runs (fresh interpreter each): wall time of the whole subprocess, and inside
    # one subprocess the time spent importing vs. running the verb after the imports
    cli_args = ["inequality", str(GPKG), "--layer", "county", "--value", "POPU_URB",
                "--weight", "POPU", "--group", "PROV_CODE", "--allow-singletons", "--id", "CODE",
                "--dropna", "--spatial-gini", "--permutations", str(args.permutations),
                "--seed", "1", "--graph", "queen", "--overwrite", "-o"]
    split = (
        "import sys, time\n"
        "t0 = time.perf_counter()\n"
        "import pyogrio, geopandas, pandas, scipy.stats\n"
        "import gisfix.cli.main, gisfix.cli.inequality, gisfix.inequality\n"
        "t1 = time.perf_counter()\n"
        "try:\n"
        "    gisfix.cli.main.cli.main(args=sys.argv[1:], prog_name='gisfix')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "t2 = time.perf_counter()\n"
        "assert not {'libpysal', 'numba', 'esda'} & set(sys.modules), 'JIT-prone import'\n"
        "print(f'{t1 - t0:.3f} {t2 - t1:.3f}')\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gisfix.cli.main", "-q", *cli_args, str(out)],
                       check=True)
        t_cli = time.perf_counter() - t
        res = subprocess.run([sys.executable, "-c", split, "-q", *cli_args, str(out)],
                             check=True, capture_output=True, text=True)
        t_imp, t_run = (float(v) for v in res.stdout.split()[-2:])
    print(f"cold CLI run (--spatial-gini, {args.permutations} permutations, queen graph built "
          f"in the run): {t_cli:.2f} s wall for the whole subprocess")
    print(f"  in a second cold process: imports {t_imp:.2f} s, the verb after imports "
          f"{t_run:.2f} s (read 2,990 polygons, build the graph, summary, permutations, write; "
          "libpysal/numba/esda imported: none)")
    print("(timings on a shared 2-core machine under load; ratios matter, not absolutes)")


if __name__ == "__main__":
    main()
