"""Study areas (issue 11): units intersected with the AOI, coverage, warnings, extents.

The oracle is exactextract (a peer library run in the test) on the polygons county ∩ AOI,
and shapely's areas of the same polygons.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.shared

DC = ("ghsl_dc_baltimore",)
OUTSIDE_AOI = 9


@pytest.fixture(scope="module")
def dc():
    from tests.conftest import shared_path

    folder = shared_path(*DC)
    return {"raster": folder / "ghsl_year_built_100m_mollweide.tif",
            "counties": folder / "counties_2017_census.gpkg", "aoi": folder / "aoi.geojson"}


@pytest.fixture(scope="module")
def dc_aoi_table(dc):
    from gisfix import builtup_by_unit, open_builtup, read_boundaries

    units = read_boundaries(dc["counties"], "fips")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_builtup(dc["raster"], "year-built", aoi=dc["aoi"]) as stack:
            table = builtup_by_unit(units, stack)
    return units, table, caught


def test_dc_aoi_equals_exactextract_on_county_and_aoi(dc, dc_aoi_table):
    import geopandas as gpd
    from exactextract import exact_extract

    units, table, _ = dc_aoi_table
    aoi = gpd.read_file(dc["aoi"]).to_crs(units.crs).union_all()
    inter = units.geometry.intersection(aoi)
    big = inter.area > 1e6
    assert big.sum() >= 15
    polys = gpd.GeoDataFrame({"k": np.arange(int(big.sum()))}, geometry=inter[big].values,
                             crs=units.crs)
    ee = exact_extract(str(dc["raster"]), polys, ["unique", "frac", "count"], output="pandas")
    cell_m2 = 100.0 * 100.0
    wide = table.pivot(index="unit_id", columns="epoch", values="builtup_km2")
    valid = table.groupby("unit_id")["valid_km2"].first()
    epochs = list(wide.columns)
    assert epochs == list(range(1975, 2031, 5))
    for k, fips in enumerate(inter[big].index.astype(str)):
        # valid area = area of county ∩ AOI
        assert valid[fips] == pytest.approx(inter[big].values[k].area / 1e6, rel=1e-6)
        values = np.asarray(ee["unique"][k], dtype=float)
        frac = np.asarray(ee["frac"][k], dtype=float)
        count = float(ee["count"][k])
        for e in epochs:
            built = (frac[(values <= e) & (values > 0)].sum() * count * cell_m2) / 1e6
            assert wide.loc[fips, e] == pytest.approx(built, rel=1e-6, abs=1e-9), (fips, e)


def test_dc_aoi_outside_counties_nan_share_coverage_zero_one_warning(dc_aoi_table):
    from gisfix.errors import LowCoverageWarning, NoValidCellsWarning

    units, table, caught = dc_aoi_table
    last = table[table.epoch == 2030].set_index("unit_id")
    out = last.index[last["coverage"] == 0]
    assert len(out) == OUTSIDE_AOI
    assert last.loc[out, "builtup_share"].isna().all()
    assert (last.loc[out, "valid_km2"] == 0).all()
    assert last.loc["51043", "coverage"] == 0  # 466.6 km2 "valid" before the fix
    novalid = [w for w in caught if issubclass(w.category, NoValidCellsWarning)]
    assert len(novalid) == 1
    assert f"{OUTSIDE_AOI} of 30 units" in str(novalid[0].message)
    low = [w for w in caught if issubclass(w.category, LowCoverageWarning)]
    assert len(low) == 1
    partial = last.index[(last["coverage"] > 0) & (last["coverage"] < 0.99)]
    assert f"{len(partial)} of 30 units" in str(low[0].message)
    # the region's valid area cannot exceed the AOI (8,157 km2)
    assert last["valid_km2"].sum() < 8157.5


def test_dc_without_aoi_counts_nodata_as_never_built_and_warns_in_info(dc, run_cli):
    res = run_cli("info", dc["raster"])
    assert res.exit_code == 0
    assert "--aoi" in res.output  # ClipWarning printed on stderr (mixed in the runner)


@pytest.mark.parametrize("verb", ["builtup", "agglomeration"])
def test_swiss_municipalities_against_dc_raster_error_gives_both_extents(dc, run_cli, tmp_path,
                                                                         verb):
    from gisfix.datasets import get, get_path

    swiss = get_path("swiss-2024")
    out = tmp_path / "out.csv"
    res = run_cli(verb, f"{swiss}", dc["raster"], "--id", "id", "--layer",
                  get("swiss-2024").layer, "-o", out)
    assert res.exit_code == 1
    errors = [ln for ln in res.output.strip().splitlines() if ln.startswith("gisfix: error:")]
    assert len(errors) == 1
    msg = errors[0]
    assert "do not overlap the raster" in msg and "ESRI:54009" in msg
    # both extents, in the raster CRS: the municipalities' and the raster's
    assert "the boundaries span (" in msg and "the raster spans (" in msg
    assert "Traceback" not in res.output
    assert not out.exists()


def test_dc_aoi_cli_names_outside_counties_once(dc, run_cli, tmp_path):
    import pandas as pd

    out = tmp_path / "dc.csv"
    res = run_cli("builtup", dc["counties"], dc["raster"], "--id", "fips", "--aoi", dc["aoi"],
                  "-o", out)
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "NoValidCellsWarning" in ln]
    assert len(lines) == 1 and "9 of 30 units" in lines[0]
    table = pd.read_csv(out, dtype={"unit_id": str})
    assert "coverage" in table.columns
    assert (table.groupby("unit_id")["coverage"].first() == 0).sum() == OUTSIDE_AOI


def test_aoi_missing_the_raster_is_an_error_with_both_extents(dc, tmp_path, run_cli):
    import geopandas as gpd
    from shapely.geometry import box

    far = tmp_path / "far.geojson"
    gpd.GeoDataFrame(geometry=[box(7.0, 46.0, 7.5, 46.5)], crs="EPSG:4326").to_file(far)
    out = tmp_path / "x.csv"
    res = run_cli("builtup", dc["counties"], dc["raster"], "--id", "fips", "--aoi", far,
                  "-o", out)
    assert res.exit_code == 1
    assert "study area do not overlap the raster" in res.output
    assert not out.exists()


@pytest.mark.parametrize("as_what", ["geometry", "frame"])
def test_aoi_as_geometry_or_frame_equals_path(dc, dc_aoi_table, as_what):
    import geopandas as gpd

    from gisfix import builtup_by_unit, open_builtup

    units, table, _ = dc_aoi_table
    frame = gpd.read_file(dc["aoi"])
    aoi = frame if as_what == "frame" else frame.to_crs(units.crs).union_all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open_builtup(dc["raster"], "year-built", aoi=aoi) as stack:
            other = builtup_by_unit(units, stack)
    np.testing.assert_allclose(other["valid_km2"], table["valid_km2"], rtol=1e-9)
    np.testing.assert_allclose(other["builtup_km2"], table["builtup_km2"], rtol=1e-9)
