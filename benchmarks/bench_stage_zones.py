"""Benchmark: the per-zone largest patch of the stage evidence, windowed, in bounded memory.

``gisfix.stages._zone_largest_patch`` labels the built patches of every zone (patches cut
by the zone boundaries) over full-width row strips and stitches them by union-find; before
issue 14 each zone was labelled in the window of its bounding box, so a large zone read a
grid-sized window.  Each path runs in a fresh process (zones read per strip with
:func:`gisfix.zonal.label_cells`, as :func:`gisfix.stages.stages_by_units` does); the script
prints the ratios of wall time and peak RSS (windowed / bounding boxes) and checks that
both give the same areas.

- default: the DC raster (1,407 x 869 cells) with its 30 counties;
- ``--scale``: the 30,954 x 30,415 scale workload with the 2,990 China counties mapped onto
  it (``make_scale_workload.py``, cached in /tmp/gisfix-bench); the bounding-box path is
  run too with ``--oracle`` (minutes, and its memory grows with the largest county).

Run: ``.venv/bin/python benchmarks/bench_stage_zones.py [--scale [--oracle]]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import byte_compile, python  # noqa: E402

RUN = """
import sys, time
import geopandas as gpd, numpy as np
from gisfix.stack import open_builtup
from gisfix.stages import _zone_largest_patch
from gisfix.zonal import label_cells
st = open_builtup(sys.argv[1], "year-built", epochs=[1990, 2020])
units = gpd.read_file(sys.argv[2], layer=sys.argv[4]).to_crs(st.crs)
t = time.perf_counter()
lp = _zone_largest_patch(st, lambda win: label_cells(units, st, win), len(units), 2020, 8)
took = time.perf_counter() - t
np.save(sys.argv[3], lp)
print("seconds", round(took, 1), "zones with land", int((lp > 0).sum()),
      "largest km2", round(float(lp.max()), 1))
"""

ORACLE = """
import sys, time
import geopandas as gpd, numpy as np
from rasterio.windows import Window
from scipy import ndimage
from gisfix.diffusion import _built_layers
from gisfix.stack import open_builtup
from gisfix.stages import _in_window
from gisfix.zonal import label_cells
st = open_builtup(sys.argv[1], "year-built", epochs=[1990, 2020])
units = gpd.read_file(sys.argv[2], layer=sys.argv[4]).to_crs(st.crs)
t0 = time.perf_counter()
zones = lambda win: label_cells(units, st, win)
n, t = len(units), 2020
# bounding boxes of each zone's built land (strip pass, as zone_evidence did)
big = np.iinfo(np.int64).max
box = np.array([[big, -1, big, -1]] * n, dtype=np.int64)
for win in st.windows():
    z = np.asarray(zones(win)).astype(np.int64)
    built, valid = _built_layers(st, win, [t])
    sel = (z >= 0) & built[t] & valid
    rr, cc = np.nonzero(sel)
    zs = z[sel]
    np.minimum.at(box[:, 0], zs, rr + int(win.row_off))
    np.maximum.at(box[:, 1], zs, rr + int(win.row_off))
    np.minimum.at(box[:, 2], zs, cc)
    np.maximum.at(box[:, 3], zs, cc)
box[box[:, 1] < 0, 0] = -1
out = np.zeros(n)
for k in range(n):  # the bounding-box path before issue 14
    r0, r1, c0, c1 = (int(v) for v in box[k])
    if r0 < 0:
        continue
    win = Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1)
    built, valid = _built_layers(st, win, [t])
    m = (_in_window(zones, win) == k) & built[t] & valid
    lab, m_n = ndimage.label(m, structure=np.ones((3, 3), bool))
    if m_n:
        w = np.broadcast_to(st.row_cell_areas(win)[:, None], m.shape)
        out[k] = np.bincount(lab.ravel(), weights=w.ravel(), minlength=m_n + 1)[1:].max() / 1e6
took = time.perf_counter() - t0
new = np.load(sys.argv[3])
print("seconds", round(took, 1), "max relative difference",
      float(np.max(np.abs(new - out) / np.where(out > 0, out, 1))))
"""


SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("--cache", default="/tmp/gisfix-bench")
    args = ap.parse_args()
    if args.scale:
        from make_scale_workload import make_raster, make_vectors

        raster = make_raster(Path(args.cache), 30000)
        units, layer = make_vectors(Path(args.cache), raster), "county"
    else:
        folder = SHARED / "ghsl_dc_baltimore"
        raster = folder / "ghsl_year_built_100m_mollweide.tif"
        units, layer = folder / "counties_2017_census.gpkg", "counties"
    byte_compile()
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = str(Path(d) / "lp.npy")
        wall, rss, text = python(RUN, raster, units, out, layer)
        print(f"windowed: {text.strip()}; wall {wall:.1f} s, peak RSS {rss:.0f} MB")
        if args.oracle or not args.scale:
            wall0, rss0, text = python(ORACLE, raster, units, out, layer)
            print(f"bounding boxes: {text.strip()}; wall {wall0:.1f} s, peak RSS {rss0:.0f} MB")
            print(f"windowed / bounding boxes: time {wall / wall0:.2f}x, "
                  f"peak RSS {rss / rss0:.2f}x")
    print("(one run each on a shared machine: ratios are noisy)")


if __name__ == "__main__":
    main()
