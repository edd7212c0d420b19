"""SDG 11.3.1, land per capita, elasticity, and population sums over units.

Oracles: exactextract 0.3.0 ``sum`` (coverage-weighted, nodata skipped) run in the test on a
population raster derived from the real DC GHSL grid (written to tmp, never to the repo);
hand-solved rasters and hand-computed LCRPGR; numpy's polyfit for the elasticity slope.
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from gisfix.efficiency import (
    UndefinedRateWarning,
    land_per_capita,
    land_population_elasticity,
    land_use_efficiency,
    population_by_unit,
    population_from_columns,
)
from gisfix.errors import DataError, GisfixError, RasterError
from gisfix.stack import open_builtup

#: exactextract and gisfix compute the same coverage in float64; sums agree to round-off.
RTOL_EXACTEXTRACT = 1e-9
ATOL = 1e-9


def _write(path, arr, transform, crs="EPSG:3035", nodata=-1.0):
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                       count=1, dtype="float32", crs=crs, transform=transform,
                       nodata=nodata) as ds:
        ds.write(arr.astype("float32"), 1)


def _bt(ids, epochs, values):
    return pd.DataFrame({"unit_id": np.repeat(ids, len(epochs)),
                         "epoch": np.tile(epochs, len(ids)), "builtup_km2": values})


def _pt(ids, epochs, values):
    return pd.DataFrame({"unit_id": np.repeat(ids, len(epochs)),
                         "epoch": np.tile(epochs, len(ids)), "population": values})


# -- population sums ------------------------------------------------------------------------
def test_population_by_unit_hand_case(tmp_path):
    """4 x 4 cells of 100 m; a unit covering half of some cells; a nodata cell."""
    t = from_origin(0, 400, 100, 100)
    a = np.arange(16, dtype=float).reshape(4, 4)        # counts 0..15
    a[0, 0] = -1                                        # nodata
    _write(tmp_path / "pop_2000.tif", a, t)
    _write(tmp_path / "pop_2010.tif", np.where(a == -1, -1, a * 2), t)
    stack = open_builtup([tmp_path / "pop_2000.tif", tmp_path / "pop_2010.tif"], "population")
    # unit A: x 0..150, y 200..400 -> rows 0-1, column 0 whole, column 1 half
    # unit B: the whole grid
    units = gpd.GeoDataFrame({"geometry": [box(0, 200, 150, 400), box(0, 0, 400, 400)]},
                             index=pd.Index(["A", "B"], name="id"), crs="EPSG:3035")
    out = population_by_unit(units, stack)
    assert list(out.columns) == ["unit_id", "epoch", "population", "valid_km2"]
    got = out.set_index(["unit_id", "epoch"])["population"]
    # A: row 0: nodata + 0.5 * 1; row 1: 4 + 0.5 * 5
    assert got[("A", 2000)] == pytest.approx(0.5 * 1 + 4 + 0.5 * 5, abs=ATOL)
    assert got[("B", 2000)] == pytest.approx(a[a >= 0].sum(), abs=ATOL)
    # epoch 2010 doubles every count
    assert got[("B", 2010)] == pytest.approx(2 * a[a >= 0].sum(), abs=ATOL)
    assert got[("A", 2010)] == pytest.approx(2 * got[("A", 2000)], abs=ATOL)
    valid = out.set_index(["unit_id", "epoch"])["valid_km2"]
    # observed area of A at 2000: 3 cells' worth of coverage minus the nodata cell
    assert valid[("A", 2000)] == pytest.approx((0.5 + 1 + 0.5) * 0.01, abs=ATOL)
    # windows do not change the result
    small = population_by_unit(units, stack, max_cells=8)
    pd.testing.assert_frame_equal(out, small)


def test_population_by_unit_refuses_builtup_stack(tmp_path):
    t = from_origin(0, 200, 100, 100)
    _write(tmp_path / "b_2000.tif", np.ones((2, 2)), t)
    stack = open_builtup([tmp_path / "b_2000.tif"], "binary")
    units = gpd.GeoDataFrame({"geometry": [box(0, 0, 200, 200)]}, crs="EPSG:3035")
    with pytest.raises(RasterError, match="population stack"):
        population_by_unit(units, stack)
    pop = open_builtup([tmp_path / "b_2000.tif"], "population")
    with pytest.raises(RasterError, match="population counts, not built-up"):
        pop.fraction(2000)
    from gisfix.zonal import builtup_by_unit

    with pytest.raises(RasterError, match="population counts, not built-up"):
        builtup_by_unit(units, pop)
    with pytest.raises(RasterError, match="needs a population stack"):
        stack.read_population()


@pytest.mark.shared
def test_population_by_unit_equals_exactextract_dc(shared, tmp_path):
    """The DC GHSL grid recoded as counts (built-year -> people), counties as units."""
    from exactextract import exact_extract

    from gisfix.boundaries import read_boundaries

    folder = shared("ghsl_dc_baltimore")
    with rasterio.open(folder / "ghsl_year_built_100m_mollweide.tif") as ds:
        year = ds.read(1)
        t, crs = ds.transform, ds.crs
    # deterministic, varied counts: older built cells hold more people; never built = 0;
    # a block of nodata to exercise skipping
    counts = np.where(year == 65535, 0.0, (2035.0 - year) * 3.7).astype("float32")
    counts[600:700, 300:400] = -1
    paths = []
    for e, scale in ((2000, 1.0), (2020, 1.25)):
        p = tmp_path / f"ghs_pop_{e}.tif"
        arr = np.where(counts == -1, -1, counts * scale)
        _write(p, arr, t, crs=crs.to_wkt())
        paths.append(p)
    units = read_boundaries(folder / "counties_2017_census.gpkg", "fips")
    stack = open_builtup(paths, "population")
    ours = population_by_unit(units, stack).set_index(["unit_id", "epoch"])["population"]
    for e, p in zip((2000, 2020), paths):
        with rasterio.open(p) as ds:
            ee = exact_extract(ds, units.reset_index(drop=True), ["sum"], output="pandas")
        theirs = ee["sum"].to_numpy()
        mine = np.array([ours[(str(u), e)] for u in units.index])
        np.testing.assert_allclose(mine, theirs, rtol=RTOL_EXACTEXTRACT, atol=1e-6)
        assert theirs.sum() > 1e6  # a real test: millions of "people"


def test_population_from_columns():
    units = pd.DataFrame({"pop2011": [10.0, 20.0], "POP_2015": [12.0, 18.0], "name": ["a", "b"]},
                         index=pd.Index([1, 2], name="id"))
    out = population_from_columns(units)
    assert out.to_dict("list") == {"unit_id": ["1", "2", "1", "2"],
                                   "epoch": [2011, 2011, 2015, 2015],
                                   "population": [10.0, 20.0, 12.0, 18.0]}
    with pytest.raises(DataError, match="no population column"):
        population_from_columns(units, prefix="inhabitants")
    with pytest.raises(DataError, match="not numeric"):
        population_from_columns(units, {2000: "name"})
    with pytest.raises(DataError, match="not in the table"):
        population_from_columns(units, {2000: "nope"})


# -- LCRPGR ----------------------------------------------------------------------------------
def test_lcrpgr_hand_case():
    """Unit a: land x2, people x1.2 in 10 years; b: land +10 %, people x1.5; c: shrinking."""
    b = _bt(["a", "b", "c"], [2000, 2010], [10.0, 20.0, 5.0, 5.5, 4.0, 5.0])
    p = _pt(["a", "b", "c"], [2000, 2010], [1e5, 1.2e5, 1e4, 1.5e4, 2e4, 1.6e4])
    out = land_use_efficiency(b, p).set_index("unit_id")
    # by hand: LCR = ln(2)/10 = 0.0693147, PGR = ln(1.2)/10 = 0.0182322
    assert out.loc["a", "lcr_per_year"] == pytest.approx(0.0693147181, abs=1e-9)
    assert out.loc["a", "pgr_per_year"] == pytest.approx(0.0182321557, abs=1e-9)
    assert out.loc["a", "lcrpgr"] == pytest.approx(3.8017840, abs=1e-6)
    assert out.loc["b", "lcrpgr"] == pytest.approx(math.log(1.1) / math.log(1.5), abs=1e-12)
    assert out.loc["c", "lcrpgr"] < 0  # land grows, people leave: over-accumulation
    assert out.loc["a", "builtup_t0_m2_per_capita"] == pytest.approx(100.0)
    assert out.loc["a", "builtup_t1_m2_per_capita"] == pytest.approx(20e6 / 1.2e5)
    assert out.loc["a", "years"] == 10
    assert set(out.columns) >= {"t0", "t1", "change_m2_per_capita", "builtup_t0_km2"}


def test_lcrpgr_periods_and_undefined():
    b = _bt(["a", "z"], [1990, 2000, 2015], [1.0, 2.0, 3.0, 0.0, 1.0, 1.0])
    p = _pt(["a", "z"], [1990, 2000, 2015], [10.0, 20.0, 20.0, 5.0, 5.0, 6.0])
    with pytest.warns(UndefinedRateWarning, match="undefined"):
        out = land_use_efficiency(b, p)
    assert out[["t0", "t1"]].drop_duplicates().values.tolist() == [[1990, 2000], [2000, 2015]]
    a = out.set_index(["unit_id", "t0"])
    assert a.loc[("a", 1990), "lcrpgr"] == pytest.approx(1.0)
    assert np.isnan(a.loc[("a", 2000), "lcrpgr"])            # no population change
    assert np.isnan(a.loc[("z", 1990), "lcrpgr"])            # no land at t0
    with pytest.warns(UndefinedRateWarning):
        one = land_use_efficiency(b, p, t0=1990, t1=2015)
    assert one[["t0", "t1"]].drop_duplicates().values.tolist() == [[1990, 2015]]
    with pytest.raises(DataError, match="epoch 1995"):
        land_use_efficiency(b, p, t0=1995)
    with pytest.raises(DataError, match="t1 must come after t0"):
        land_use_efficiency(b, p, t0=2000, t1=1990)
    with pytest.raises(GisfixError, match="needs columns"):
        land_use_efficiency(b.drop(columns="builtup_km2"), p)


def test_land_per_capita_and_elasticity():
    rng = np.random.default_rng(0)
    pop = rng.uniform(1e3, 1e6, 40)
    land = 0.05 * pop ** 0.8 * np.exp(rng.normal(0, 0.1, 40))
    ids = [f"u{i}" for i in range(40)]
    b = pd.DataFrame({"unit_id": ids, "epoch": 2020, "builtup_km2": land})
    p = pd.DataFrame({"unit_id": ids, "epoch": 2020, "population": pop})
    pc = land_per_capita(b, p)
    np.testing.assert_allclose(pc["builtup_m2_per_capita"], land * 1e6 / pop)
    el = land_population_elasticity(b, p)
    slope, intercept = np.polyfit(np.log(pop), np.log(land), 1)
    assert el.loc[0, "elasticity"] == pytest.approx(slope, abs=1e-12)
    assert el.loc[0, "intercept"] == pytest.approx(intercept, abs=1e-10)
    assert el.loc[0, "n"] == 40
    # growth form over a period
    b2 = pd.concat([b, b.assign(epoch=2030, builtup_km2=land * pop ** 0.05)])
    p2 = pd.concat([p, p.assign(epoch=2030, population=pop * 1.1)])
    g = land_population_elasticity(b2, p2, growth=True)
    assert list(g.columns[:3]) == ["t0", "t1", "elasticity"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        land_per_capita(b, p)
    with pytest.warns(UndefinedRateWarning, match="no population"):
        land_per_capita(b, p.assign(population=np.r_[0.0, pop[1:]]))


@pytest.mark.shared
def test_land_per_capita_per_city_dc_clusters(shared):
    """Cities as units: WorldPop-2020 urban clusters inside the DC raster's AOI, built-up
    m2 per capita at 2020; built-up area from exactextract (cells built by 2020 weighted by
    coverage, 100 m x 100 m each) over the clusters' own population column."""
    from exactextract import exact_extract

    from gisfix.stack import open_builtup
    from gisfix.zonal import builtup_by_unit

    folder = shared("ghsl_dc_baltimore")
    raster = folder / "ghsl_year_built_100m_mollweide.tif"
    stack = open_builtup(raster, "year-built")
    aoi = gpd.read_file(folder / "aoi.geojson").to_crs(stack.crs).union_all()
    cities = gpd.read_file(folder / "urban_clusters_worldpop2020.geojson").to_crs(stack.crs)
    cities = cities[cities.within(aoi)].sort_values("Pop", ascending=False).head(12)
    cities = cities.set_index(cities["ID"].astype(str))
    pop = population_from_columns(cities, {2020: "Pop"})
    built = builtup_by_unit(cities, stack)
    out = land_per_capita(built, pop).set_index("unit_id")
    with rasterio.open(raster) as ds:
        ee = exact_extract(ds, cities.reset_index(drop=True), ["coverage", "values"],
                           output="pandas")
    for uid, cov, vals in zip(cities.index, ee["coverage"], ee["values"]):
        vals = np.asarray(vals)
        built_m2 = float(np.asarray(cov)[(vals <= 2020) & (vals != 65535)].sum()) * 1e4
        expected = built_m2 / float(cities.loc[uid, "Pop"])
        assert out.loc[uid, "builtup_m2_per_capita"] == pytest.approx(expected, rel=1e-9)
    assert out["builtup_m2_per_capita"].between(10, 5000).all()
