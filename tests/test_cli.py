"""The CLI skeleton through the real entry point: info on every shared dataset, one-line
errors with exit code 1, usage errors with exit code 2, no tracebacks, --help everywhere."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box

from gisfix.cli.main import VERBS


def test_version(run_cli):
    from gisfix import __version__

    r = run_cli("--version")
    assert r.exit_code == 0 and __version__ in r.output


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_help_on_every_verb(run_cli, verb):
    r = run_cli(verb, "--help")
    assert r.exit_code == 0, r.output
    assert "Usage: " in r.output


@pytest.mark.shared
def test_info_dc(run_cli, shared):
    r = run_cli("info", shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif"))
    assert r.exit_code == 0, r.output
    assert "encoding: year-built" in r.output
    assert "crs: ESRI:54009" in r.output
    assert "epochs: [1975, 1980, 1985, 1990, 1995, 2000, 2005, 2010, 2015, 2020, 2025, 2030]" \
        in r.output
    assert "2030      461,929" in r.output


@pytest.mark.shared
def test_info_bacau_geographic(run_cli, shared):
    r = run_cli("info", shared("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif"))
    assert r.exit_code == 0, r.output
    assert "encoding: ldsmt" in r.output and "crs: EPSG:4326" in r.output
    assert "cell_area: geodesic" in r.output
    assert "epochs: [1975, 1990, 2000, 2014]" in r.output


@pytest.mark.shared
def test_info_lausanne_class(run_cli, shared):
    r = run_cli("info", shared("clc_lausanne", "clc_urban_2012_100m_epsg3035.tif"),
                "--encoding", "class=1")
    assert r.exit_code == 0, r.output
    assert "2012       65,750" in r.output and "crs: EPSG:3035" in r.output


@pytest.mark.shared
def test_info_vector_counts_defects(run_cli, shared):
    r = run_cli("info", shared("china_wuhu_adjustment", "wuhu_before.geojson"), "--id", "adcode")
    assert r.exit_code == 0, r.output
    assert "count: 8" in r.output and "units: degree" in r.output
    assert "duplicate_ids: 0" in r.output
    invalid = int(r.output.split("invalid: ")[1].split()[0])
    assert invalid >= 4


@pytest.mark.shared
def test_info_compound_crs(run_cli, shared):
    r = run_cli("info", shared("swiss_municipalities", "2016", "municipalities.shp"))
    assert "crs: EPSG:21781" in r.output and "compound_crs: True" in r.output


@pytest.mark.shared
def test_info_json(run_cli, shared):
    import json

    r = run_cli("info", shared("virginia_vintages", "virginia_counties_pre1995.geojson"),
                "--json", "--id", "FIPS")
    facts = json.loads(r.output)
    assert facts["count"] == 136 and facts["duplicate_ids"] == 0


def test_missing_file_is_one_line_exit_1(run_cli):
    r = run_cli("info", "does-not-exist.gpkg")
    assert r.exit_code == 1
    assert r.output.strip() == "gisfix: error: no such file: does-not-exist.gpkg"


def test_usage_error_exit_2(run_cli):
    r = run_cli("info")
    assert r.exit_code == 2
    assert "Missing argument 'PATH'" in r.output


def test_bad_id_column_no_traceback(run_cli, tmp_path):
    path = tmp_path / "u.gpkg"
    gpd.GeoDataFrame({"code": ["a"]}, geometry=[box(0, 0, 1, 1)], crs=3035).to_file(path)
    r = run_cli("info", path, "--id", "nope")
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert "has no column 'nope'" in r.output


def test_console_script_subprocess(tmp_path):
    # the installed entry point, in a fresh process: one line on stderr, exit 1
    exe = [sys.executable, "-m", "gisfix.cli.main"]
    p = subprocess.run(exe + ["info", str(tmp_path / "none.tif")], capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr.strip().startswith("gisfix: error: no such file")
    assert p.stdout == ""


# -- bad boundary input through a verb that reads boundaries: one line, exit 1 ---------------
def _tiny_raster(path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint16",
                       crs="EPSG:3035", transform=from_origin(0, 400, 100, 100),
                       nodata=65535) as ds:
        ds.write(np.full((4, 4), 1990, np.uint16), 1)
    return path


BAD_BOUNDARIES = {
    "no_crs": ({"id": ["a"]}, [box(0, 0, 200, 200)], None, "has no CRS"),
    "duplicate_ids": ({"id": ["a", "a"]}, [box(0, 0, 100, 100), box(100, 0, 200, 100)], 3035,
                      "duplicated ids"),
    "non_polygon": ({"id": ["a", "b"]}, [box(0, 0, 100, 100), box(0, 0, 1, 1).exterior], 3035,
                    "not polygons"),
    "invalid": ({"id": ["a"]}, [shapely.Polygon([(0, 0), (200, 200), (200, 0), (0, 200)])],
                3035, "polygons are invalid"),
}


@pytest.mark.parametrize("case", sorted(BAD_BOUNDARIES))
def test_bad_boundaries_through_builtup(run_cli, tmp_path, case):
    data, geoms, crs, message = BAD_BOUNDARIES[case]
    path = tmp_path / f"{case}.gpkg"  # GeoJSON would imply EPSG:4326 when no CRS is given
    gpd.GeoDataFrame(data, geometry=geoms, crs=crs).to_file(path)
    raster = _tiny_raster(tmp_path / "yb.tif")
    out = tmp_path / "out.csv"
    r = run_cli("builtup", path, raster, "--id", "id", "-o", out)
    assert r.exit_code == 1, r.output
    lines = [line for line in r.output.splitlines() if line.startswith("gisfix: error:")]
    assert len(lines) == 1 and message in lines[0], r.output
    assert "Traceback" not in r.output
    assert not out.exists() and not list(tmp_path.glob("*.tmp*"))


def test_invalid_boundaries_repaired_on_request(run_cli, tmp_path):
    data, geoms, crs, _ = BAD_BOUNDARIES["invalid"]
    path = tmp_path / "invalid.geojson"
    gpd.GeoDataFrame(data, geometry=geoms, crs=crs).to_file(path)
    out = tmp_path / "out.csv"
    r = run_cli("builtup", path, _tiny_raster(tmp_path / "yb.tif"), "--id", "id",
                "--make-valid", "-o", out)
    assert r.exit_code == 0, r.output
    assert out.exists()


def test_misaligned_rasters_through_cli(run_cli, tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    paths = []
    for year, x0 in ((2000, 0), (2010, 50)):
        p = tmp_path / f"urban_{year}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8",
                           crs="EPSG:3035", transform=from_origin(x0, 400, 100, 100)) as ds:
            ds.write(np.ones((4, 4), np.uint8), 1)
        paths.append(p)
    units = tmp_path / "u.gpkg"
    gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(0, 0, 400, 400)], crs=3035).to_file(units)
    r = run_cli("builtup", units, *paths, "--id", "id", "--encoding", "binary", "-o",
                tmp_path / "o.csv")
    assert r.exit_code == 1
    assert "must share one grid: urban_2000.tif is" in r.output


@pytest.mark.shared
def test_info_custom_crs_and_mojibake(run_cli, shared):
    r = run_cli("info", shared("china_counties_2020", "china_counties_2020.gpkg"), "--id", "CODE")
    assert "crs: +proj=aea +lat_0=36 +lon_0=104.5" in r.output and "invalid: 17" in r.output
    r = run_cli("info", shared("swiss_municipalities", "2022-05", "municipalities.shp"))
    assert "mis_decoded_text_columns: ['name']" in r.output


@pytest.mark.parametrize("verb", ["builtup", "agglomeration", "lei", "run", "stages"])
def test_every_raster_verb_takes_a_study_area(run_cli, verb):
    res = run_cli(verb, "--help")
    assert res.exit_code == 0 and "--aoi" in res.output, res.output
