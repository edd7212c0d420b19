"""Generate the zonal scale workload into a cache folder outside the repository.

* ``dc_tiled_<W>x<H>.tif``: the DC GHSL year-built raster (1407 x 869, uint16) repeated to
  at least 30,000 x 30,000 cells, written as a tiled (512 x 512), deflate GeoTIFF with the
  original's CRS, cell size and nodata.
* ``china_counties_on_dc.gpkg``: the 2,990 China counties mapped affinely (independent x/y
  scaling and translation) onto the raster's extent, CRS set to the raster's, invalid
  polygons repaired with ``shapely.make_valid`` (polygonal parts kept) so that every tool
  gets the same valid input.  Id column ``CODE``.

Usage: ``python benchmarks/make_scale_workload.py [--cache /tmp/gisfix-bench] [--size 30000]``.
Existing outputs are kept (delete them to regenerate).  Needs ../shared/data.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GISFIX_SHARED_DATA", ROOT.parent / "shared" / "data"))
DC = SHARED / "ghsl_dc_baltimore" / "ghsl_year_built_100m_mollweide.tif"
CHINA = SHARED / "china_counties_2020" / "china_counties_2020.gpkg"


def make_raster(cache: Path, size: int) -> Path:
    import rasterio
    from rasterio.transform import Affine

    with rasterio.open(DC) as src:
        tile = src.read(1)
        profile = src.profile
        t = src.transform
    th, tw = tile.shape
    nx, ny = math.ceil(size / tw), math.ceil(size / th)
    width, height = nx * tw, ny * th
    out = cache / f"dc_tiled_{width}x{height}.tif"
    if out.exists():
        return out
    profile.update(width=width, height=height, tiled=True, blockxsize=512, blockysize=512,
                   compress="deflate", predictor=2, num_threads="ALL_CPUS", bigtiff="IF_SAFER",
                   transform=Affine(t.a, t.b, t.c, t.d, t.e, t.f))
    profile.pop("blockysize_", None)
    row = np.tile(tile, (1, nx))
    tmp = out.with_suffix(".tmp.tif")
    t0 = time.perf_counter()
    with rasterio.open(tmp, "w", **profile) as dst:
        strip = 512
        for r0 in range(0, height, strip):
            h = min(strip, height - r0)
            rows = (np.arange(r0, r0 + h) % th)
            dst.write(row[rows], 1, window=rasterio.windows.Window(0, r0, width, h))
    tmp.rename(out)
    print(f"wrote {out} ({width}x{height}) in {time.perf_counter() - t0:.1f} s")
    return out


def make_vectors(cache: Path, raster: Path) -> Path:
    import geopandas as gpd
    import rasterio
    import shapely

    out = cache / "china_counties_on_dc.gpkg"
    if out.exists():
        return out
    with rasterio.open(raster) as ds:
        left, bottom, right, top = ds.bounds
        crs = ds.crs
    gdf = gpd.read_file(CHINA, layer="county")[["CODE", "NAME", "geometry"]]
    x0, y0, x1, y1 = gdf.total_bounds
    sx, sy = (right - left) / (x1 - x0), (top - bottom) / (y1 - y0)
    # [a, b, d, e, xoff, yoff]: x' = a x + xoff, y' = e y + yoff
    g = gdf.geometry.affine_transform([sx, 0, 0, sy, left - sx * x0, bottom - sy * y0])
    bad = ~g.is_valid
    if bad.any():
        fixed = shapely.make_valid(g[bad].values)
        polys = [shapely.multipolygons(shapely.get_parts(
            shapely.get_parts(f)[np.isin(shapely.get_type_id(shapely.get_parts(f)), [3, 6])]))
            for f in fixed]
        g[bad] = polys
    gdf = gpd.GeoDataFrame(gdf.drop(columns="geometry"),
                           geometry=gpd.GeoSeries(g.values).set_crs(crs, allow_override=True))
    gdf["CODE"] = gdf["CODE"].astype(str)
    gdf.to_file(out, layer="county", driver="GPKG")
    print(f"wrote {out}: {len(gdf)} counties ({int(bad.sum())} repaired)")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp/gisfix-bench")
    parser.add_argument("--size", type=int, default=30000)
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    raster = make_raster(cache, args.size)
    vectors = make_vectors(cache, raster)
    print(raster)
    print(vectors)
    return raster, vectors


if __name__ == "__main__":
    main()
