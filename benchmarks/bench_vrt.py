"""Benchmark: a VRT mosaic of at least 100,000 x 100,000 cells, built from tiles of the real
DC raster, processed on dask with bounded memory per worker.

Criterion (issue 14): peak memory per worker under 2 GB; report the time per gigacell.

The mosaic repeats the DC year-built raster (1,407 x 869 cells, 100 m) ``nx`` x ``ny`` times
(72 x 116 = 8,352 tiles: 101,304 x 100,804 cells, 10.2 gigacells) as a GDAL VRT written
here as XML (no gdalbuildvrt needed), cached in /tmp/gisfix-bench.  The measure is the
whole-grid patch structure of the built-up land of one epoch (``patch_metrics(None, stack)``:
every strip labelled, patches stitched across strips by union-find, FRAGSTATS class
metrics of the whole mosaic), on a ``distributed.LocalCluster`` of 2 single-threaded
workers with a 2 GB memory limit each.  Checks: the number of patches and the built area
equal a single DC tile's times the number of tiles, less the patches that join across tile
seams (reported).

Run: ``.venv/bin/python benchmarks/bench_vrt.py [--size 100000] [--epoch 2030]``
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import byte_compile, python  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GISFIX_SHARED_DATA", ROOT.parent / "shared" / "data"))
DC = SHARED / "ghsl_dc_baltimore" / "ghsl_year_built_100m_mollweide.tif"
EPOCHS = list(range(1975, 2031, 5))


def make_vrt(cache: Path, size: int) -> Path:
    """Write a VRT of DC tiles covering at least ``size`` x ``size`` cells."""
    import rasterio

    with rasterio.open(DC) as src:
        tw, th, t, crs, nodata = src.width, src.height, src.transform, src.crs, src.nodata
    nx, ny = math.ceil(size / tw), math.ceil(size / th)
    out = cache / f"dc_mosaic_{nx * tw}x{ny * th}.vrt"
    if out.exists():
        return out
    src_xml = []
    for j in range(ny):
        for i in range(nx):
            src_xml.append(
                f'    <SimpleSource><SourceFilename relativeToVRT="0">{DC}</SourceFilename>'
                f'<SourceBand>1</SourceBand>'
                f'<SourceProperties RasterXSize="{tw}" RasterYSize="{th}" DataType="UInt16" '
                f'BlockXSize="{tw}" BlockYSize="2"/>'
                f'<SrcRect xOff="0" yOff="0" xSize="{tw}" ySize="{th}"/>'
                f'<DstRect xOff="{i * tw}" yOff="{j * th}" xSize="{tw}" ySize="{th}"/>'
                f'</SimpleSource>')
    xml = (f'<VRTDataset rasterXSize="{nx * tw}" rasterYSize="{ny * th}">\n'
           f'  <SRS>{crs.to_wkt()}</SRS>\n'
           f'  <GeoTransform>{t.c!r}, {t.a!r}, 0.0, {t.f!r}, 0.0, {t.e!r}</GeoTransform>\n'
           f'  <VRTRasterBand dataType="UInt16" band="1">\n'
           f'    <NoDataValue>{nodata:g}</NoDataValue>\n' + "\n".join(src_xml) +
           '\n  </VRTRasterBand>\n</VRTDataset>\n')
    tmp = out.with_suffix(".tmp")
    tmp.write_text(xml)
    tmp.rename(out)
    return out


RUN = f"""
import resource, sys, time
from distributed import Client, LocalCluster
from gisfix.landscape import patch_metrics
from gisfix.stack import open_builtup
st = open_builtup(sys.argv[1], "year-built", epochs={EPOCHS!r})
epoch = int(sys.argv[2])
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                  memory_limit="2GB") as cluster, Client(cluster) as client:
    t = time.perf_counter()
    pm = patch_metrics(None, st, epochs=[epoch], scheduler=client)
    took = time.perf_counter() - t
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
row = pm.iloc[0]
print("compute", took, "worker_peak_mb", max(peaks.values()), "patches",
      int(row["number_of_patches"]), "built_ha", row["total_area_ha"])
"""

TILE = f"""
import sys
from gisfix.landscape import patch_metrics
from gisfix.stack import open_builtup
st = open_builtup(sys.argv[1], "year-built", epochs={EPOCHS!r})
row = patch_metrics(None, st, epochs=[int(sys.argv[2])]).iloc[0]
print(int(row["number_of_patches"]), row["total_area_ha"])
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/tmp/gisfix-bench")
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--epoch", type=int, default=2030)
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    vrt = make_vrt(cache, args.size)
    byte_compile()
    import rasterio

    with rasterio.open(vrt) as ds:
        cells = ds.width * ds.height
        print(f"{vrt.name}: {ds.width} x {ds.height} = {cells / 1e9:.2f} gigacells "
              f"({ds.width // 1407 * (ds.height // 869)} DC tiles)")
    _, _, tile = python(TILE, DC, args.epoch)
    tile_np, tile_ha = tile.split()
    wall, client_rss, out = python(RUN, vrt, args.epoch)
    f = out.split()
    took = float(f[f.index("compute") + 1])
    peak = float(f[f.index("worker_peak_mb") + 1])
    n_p = int(f[f.index("patches") + 1])
    ha = float(f[f.index("built_ha") + 1])
    tiles = cells // (1407 * 869)
    print(f"patch metrics of epoch {args.epoch}, 2 dask workers: {took:.0f} s, "
          f"{took / (cells / 1e9):.1f} s per gigacell; peak RSS per worker {peak:.0f} MB "
          f"(criterion < 2048 MB: {'met' if peak < 2048 else 'NOT met'}); client process "
          f"{client_rss:.0f} MB")
    print(f"built area {ha:.0f} ha = {ha / float(tile_ha):.4f} x one tile's "
          f"(tiles: {tiles}); {n_p} patches = {tiles} x {tile_np} - {tiles * int(tile_np) - n_p}"
          " joined across tile seams")
    print("(one run on a 2-core machine shared with other jobs)")


if __name__ == "__main__":
    main()
