"""Rebuild the embedded datasets in gisfix/data/ from their registry packages (maintainers only).

    npm pack swiss-maps@4.7.0 us-atlas@3.0.1   # then extract both tarballs
    python data/make_embedded.py SWISS_MAPS_DIR US_ATLAS_DIR

libpysal's ``virginia`` example comes from the installed libpysal wheel.  Nothing here
reads ../shared/data.
"""

import sys
from pathlib import Path

import geopandas as gpd
import libpysal
import pyogrio

HERE = Path(__file__).resolve().parent.parent / "gisfix" / "data"  # package data


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


if __name__ == "__main__":
    swiss(Path(sys.argv[1]))
    virginia(Path(sys.argv[2]))
