"""Tests of gisfix.zonal: built-up accounting by unit and epoch.

Oracles: hand-computed coverage fractions; shapely's polygon-cell intersection areas
(the definition of the coverage fraction); exactextract and rasterstats run on the same
inputs (DC GHSL x 30 counties, CORINE Lausanne x municipalities, Bacau LDSMT x municipality
with geodesic cell areas computed here with pyproj.Geod); invariants as property tests.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import Affine
from shapely.geometry import Polygon, box

from gisfix.errors import CRSError, DataError, ExtentError, GisfixWarning
from gisfix.stack import open_builtup
from gisfix.zonal import (
    LONG_COLUMNS,
    NoValidCellsWarning,
    builtup_by_unit,
    coverage_fractions,
    label_cells,
    to_wide,
)

#: Agreement with exactextract (the issue's acceptance tolerance).
EXACTEXTRACT_RTOL = 1e-6
#: Agreement with shapely intersection areas, per cell (float64 round-off only).
SHAPELY_ATOL = 1e-9
#: Invariants (partition sums, window sizes): round-off only.
INVARIANT_RTOL = 1e-9

CRS = "EPSG:3035"  # equal-area: cell areas are the cell size
CELL = 10.0
ORIGIN = (4_000_000.0, 3_000_040.0)  # top-left corner (x, y)
HYP = settings(max_examples=40, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


def write_raster(path, arr, *, transform=None, crs=CRS, nodata=None):
    """Write a single-band GeoTIFF and return its path."""
    arr = np.asarray(arr)
    transform = transform or Affine(CELL, 0, ORIGIN[0], 0, -CELL, ORIGIN[1])
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0],
                       count=1, dtype=arr.dtype, crs=crs, transform=transform,
                       nodata=nodata) as ds:
        ds.write(arr, 1)
    return path


def units(geoms, ids=None, crs=CRS):
    """A GeoDataFrame of ``geoms`` in local cell units (shifted to the grid origin)."""
    x0, y_top = ORIGIN
    height = 4 * CELL
    shifted = [shapely.affinity.affine_transform(g, [CELL, 0, 0, CELL, x0, y_top - height])
               for g in geoms]
    ids = ids or [f"u{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame(geometry=shifted, index=pd.Index(ids, name="id"), crs=crs)


@pytest.fixture
def grid4(tmp_path):
    """A 4 x 4 year-built grid (10 m cells) and its stack.

    Row 0 is the top row (local y 3..4 in cell units).
    """
    arr = np.array([[2000, 2010, 0, 65535],
                    [2010, 2000, 2000, 2010],
                    [0, 2010, 65535, 2000],
                    [2000, 2000, 2000, 2000]], dtype=np.uint16)
    path = write_raster(tmp_path / "yb_2000_2010.tif", arr, nodata=65535)
    return arr, open_builtup(path, "year-built")


# -- label_cells -------------------------------------------------------------------------
def test_label_cells_by_hand(grid4):
    _, stack = grid4
    # u0 covers the centres of the two top-left cells; u1 the bottom-right cell only
    gdf = units([box(0, 2.6, 2.4, 4), box(3.2, 0, 4, 0.8)])
    lab = label_cells(gdf, stack)
    expected = np.full((4, 4), -1)
    expected[0, 0:2] = 0
    expected[3, 3] = 1
    np.testing.assert_array_equal(lab, expected)
    assert lab.dtype == np.int32
    from rasterio.windows import Window

    np.testing.assert_array_equal(label_cells(gdf, stack, Window(0, 2, 4, 2)), expected[2:])


def test_label_cells_reprojects_units(grid4):
    _, stack = grid4
    gdf = units([box(0, 2.6, 2.4, 4)]).to_crs("EPSG:4326")
    lab = label_cells(gdf, stack)
    assert (lab[0, :2] == 0).all() and (lab[1:] == -1).all()


# -- exact coverage by hand -------------------------------------------------------------
def test_coverage_square_by_hand(grid4):
    _, stack = grid4
    cov = coverage_fractions(units([box(0.5, 0.5, 2.5, 2.5)]), stack)[0]
    expected = np.array([[0, 0, 0, 0],
                         [.25, .5, .25, 0],
                         [.5, 1, .5, 0],
                         [.25, .5, .25, 0]])
    np.testing.assert_allclose(cov, expected, atol=SHAPELY_ATOL)


def test_coverage_triangle_hole_and_outside_by_hand(grid4):
    _, stack = grid4
    triangle = Polygon([(0, 4), (2, 4), (0, 2)])  # right triangle in the top-left corner
    ring = box(0, 0, 4, 4).difference(box(1, 1, 3, 3))  # frame with a 2x2 hole
    outside = box(-1.5, 2.5, 0.5, 5)  # sticks out left and top
    cov = coverage_fractions(units([triangle, ring, outside]), stack)
    np.testing.assert_allclose(cov[0], [[1, .5, 0, 0], [.5, 0, 0, 0], [0] * 4, [0] * 4],
                               atol=SHAPELY_ATOL)
    frame = np.ones((4, 4))
    frame[1:3, 1:3] = 0
    np.testing.assert_allclose(cov[1], frame, atol=SHAPELY_ATOL)
    np.testing.assert_allclose(cov[2], [[.5, 0, 0, 0], [.25, 0, 0, 0], [0] * 4, [0] * 4],
                               atol=SHAPELY_ATOL)


def test_builtup_by_hand(grid4):
    """Square box(0.5, 0.5, 2.5, 2.5): coverage as above, values of grid4, 100 m2 cells."""
    arr, stack = grid4
    out = builtup_by_unit(units([box(0.5, 0.5, 2.5, 2.5)], ids=["A"]), stack)
    assert list(out.columns) == LONG_COLUMNS
    assert list(out["epoch"]) == [2000, 2010]
    # rows 1..3, cols 0..2 with weights; values: row1 2010 2000 2000 / row2 0 2010 nd /
    # row3 2000 2000 2000; 0 and nodata are observed and never built
    built2000 = .5 + .25 + .25 + .5 + .25  # cells (1,1) (1,2) (3,0) (3,1) (3,2)
    built2010 = built2000 + .25 + 1.0  # (1,0) 2010 and (2,1) 2010
    valid = 4.0  # area 2 x 2 cells, all observed (nodata of year-built = never built)
    cell_km2 = CELL * CELL / 1e6
    np.testing.assert_allclose(out["builtup_km2"], [built2000 * cell_km2, built2010 * cell_km2])
    np.testing.assert_allclose(out["valid_km2"], [valid * cell_km2] * 2)
    np.testing.assert_allclose(out["builtup_share"], [built2000 / valid, built2010 / valid])
    # centre rule (no centre on an edge): centres (c + .5, 3.5 - r) inside -> rows 1-2,
    # cols 1-2: values 2000, 2000, 2010, nodata
    centre = builtup_by_unit(units([box(0.6, 0.6, 2.6, 2.6)], ids=["A"]), stack, "centre")
    np.testing.assert_allclose(centre["builtup_km2"], [2 * cell_km2, 3 * cell_km2])
    np.testing.assert_allclose(centre["valid_km2"], [4 * cell_km2] * 2)


def test_fraction_encoding_with_nodata(tmp_path):
    """Per-epoch fraction rasters with NaN nodata, solved by hand."""
    a = np.array([[0.2, np.nan], [1.0, 0.5]], dtype=np.float32)
    b = np.array([[0.4, 1.0], [np.nan, 0.5]], dtype=np.float32)
    t = Affine(CELL, 0, ORIGIN[0], 0, -CELL, ORIGIN[1] - 2 * CELL)
    pa = write_raster(tmp_path / "f_2000.tif", a, transform=t, nodata=np.nan)
    pb = write_raster(tmp_path / "f_2010.tif", b, transform=t, nodata=np.nan)
    stack = open_builtup([pa, pb], "fraction")
    # the 2x2 grid spans local y 0..2 of units(); the polygon covers col 0 and half col 1
    gdf = units([box(0, 0, 1.5, 2)], ids=["L"])
    out = builtup_by_unit(gdf, stack).set_index("epoch")
    km2 = CELL * CELL / 1e6
    # coverage: col 0 full, col 1 half
    # 2000 valid: (0,0), (1,0), (1,1)x.5; 2010 valid: (0,0), (0,1)x.5, (1,1)x.5
    np.testing.assert_allclose(out.loc[2000, "builtup_km2"], (0.2 + 1.0 + 0.5 * 0.5) * km2)
    np.testing.assert_allclose(out.loc[2000, "valid_km2"], 2.5 * km2)
    np.testing.assert_allclose(out.loc[2010, "builtup_km2"], (0.4 + 0.5 * 1.0 + 0.5 * 0.5) * km2)
    np.testing.assert_allclose(out.loc[2010, "valid_km2"], 2.0 * km2)


# -- exact coverage vs shapely (property test) -------------------------------------------
def _grid_stack(tmp_path, h, w, a, e):
    arr = np.zeros((h, w), dtype=np.uint16)
    t = Affine(a, 0, 1000.0, 0, -e, 5000.0)
    return open_builtup(write_raster(tmp_path / "g_2000.tif", arr, transform=t, nodata=65535),
                        "year-built", epochs=[2000]), t


@st.composite
def star_polygons(draw):
    """Star-shaped polygons (optionally with a hole) around a point near the grid."""
    n = draw(st.integers(3, 12))
    cx, cy = draw(st.floats(-2, 14)), draw(st.floats(-2, 12))
    radii = draw(st.lists(st.floats(0.3, 7), min_size=n, max_size=n))
    angles = np.sort(draw(st.lists(st.floats(0, 2 * np.pi, exclude_max=True), min_size=n,
                                   max_size=n, unique=True)))
    shell = [(cx + r * np.cos(t), cy + r * np.sin(t)) for r, t in zip(radii, angles)]
    poly = shapely.make_valid(Polygon(shell))
    if draw(st.booleans()):
        poly = poly.difference(shapely.Point(cx, cy).buffer(min(radii) * 0.5, 5))
    polys = [g for g in shapely.get_parts(poly) if g.geom_type == "Polygon" and g.area > 1e-6]
    if not polys:
        return box(cx, cy, cx + 1, cy + 1)
    return shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]


@HYP
@given(geom=star_polygons(), a=st.sampled_from([1.0, 0.7, 1.3]),
       e=st.sampled_from([1.0, 0.9, 1.7]))
def test_coverage_equals_shapely_intersection(tmp_path, geom, a, e):
    h, w = 9, 12
    stack, t = _grid_stack(tmp_path, h, w, a, e)
    g = shapely.affinity.affine_transform(geom, [a, 0, 0, -e, t.c, t.f])  # cell -> map units
    cov = coverage_fractions(gpd.GeoDataFrame(geometry=[g], crs=CRS), stack)[0]
    cells = [box(t.c + c * a, t.f - (r + 1) * e, t.c + (c + 1) * a, t.f - r * e)
             for r in range(h) for c in range(w)]
    expected = shapely.area(shapely.intersection(np.array(cells), g)).reshape(h, w) / (a * e)
    np.testing.assert_allclose(cov, expected, atol=SHAPELY_ATOL)


def test_overlapping_units_each_counted(grid4):
    _, stack = grid4
    gdf = units([box(0, 0, 3, 3), box(1, 1, 4, 4), box(0.5, 0.5, 3.5, 3.5)])
    cov = coverage_fractions(gdf, stack)
    assert np.allclose(cov.sum(axis=(1, 2)), 9.0)
    out = builtup_by_unit(gdf, stack)
    valid = out.groupby("unit_id", sort=False)["valid_km2"].first()
    np.testing.assert_allclose(valid, 9 * CELL * CELL / 1e6)


# -- invariants (property tests) ---------------------------------------------------------
@pytest.fixture(scope="module")
def random_stack(tmp_path_factory):
    rng = np.random.default_rng(7)
    arr = rng.choice(np.array([1990, 2000, 2010, 0, 65535], dtype=np.uint16), size=(23, 31))
    path = write_raster(tmp_path_factory.mktemp("r") / "yb.tif", arr, nodata=65535,
                        transform=Affine(CELL, 0, ORIGIN[0], 0, -CELL, ORIGIN[1]))
    return open_builtup(path, "year-built", epochs=[1990, 2000, 2010])


def _region(cx, cy, r):
    x0, y_top = ORIGIN
    return shapely.Point(x0 + cx * CELL, y_top - cy * CELL).buffer(r * CELL, 7)


@HYP
@given(cx=st.floats(0, 31), cy=st.floats(0, 23), r=st.floats(1, 15),
       cut_x=st.floats(0.05, 0.95), cut_y=st.floats(0.05, 0.95))
def test_partition_sums_to_union(random_stack, cx, cy, r, cut_x, cut_y):
    whole = _region(cx, cy, r)
    x0, y0, x1, y1 = whole.bounds
    xs = x0 + cut_x * (x1 - x0)
    ys = y0 + cut_y * (y1 - y0)
    quads = [box(x0 - 1, y0 - 1, xs, ys), box(xs, y0 - 1, x1 + 1, ys),
             box(x0 - 1, ys, xs, y1 + 1), box(xs, ys, x1 + 1, y1 + 1)]
    parts = [whole.intersection(q) for q in quads]
    parts = [p for p in parts if not p.is_empty]
    gdf_parts = gpd.GeoDataFrame(geometry=parts, crs=CRS)
    gdf_whole = gpd.GeoDataFrame(geometry=[whole], crs=CRS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoValidCellsWarning)
        p = builtup_by_unit(gdf_parts, random_stack).groupby("epoch")[
            ["builtup_km2", "valid_km2"]].sum()
        w = builtup_by_unit(gdf_whole, random_stack).set_index("epoch")[
            ["builtup_km2", "valid_km2"]]
    np.testing.assert_allclose(p.to_numpy(), w.to_numpy(), rtol=INVARIANT_RTOL, atol=1e-15)


@HYP
@given(max_cells=st.integers(1, 23 * 31), method=st.sampled_from(["exact", "centre"]))
def test_result_independent_of_window_size(random_stack, max_cells, method):
    gdf = gpd.GeoDataFrame(geometry=[_region(10, 8, 7), _region(22, 15, 9.5),
                                     _region(30, 2, 4)], crs=CRS)
    ref = builtup_by_unit(gdf, random_stack, method, max_cells=23 * 31)
    got = builtup_by_unit(gdf, random_stack, method, max_cells=max_cells)
    np.testing.assert_allclose(got[["builtup_km2", "valid_km2"]].to_numpy(),
                               ref[["builtup_km2", "valid_km2"]].to_numpy(),
                               rtol=INVARIANT_RTOL, atol=1e-15)


# -- bad input ---------------------------------------------------------------------------
def test_units_outside_raster_warn_and_give_nan(grid4):
    _, stack = grid4
    gdf = units([box(0, 0, 2, 2), box(10, 10, 12, 12)], ids=["in", "far"])
    with pytest.warns(NoValidCellsWarning, match="far"):
        out = builtup_by_unit(gdf, stack)
    far = out[out["unit_id"] == "far"]
    assert (far["valid_km2"] == 0).all() and far["builtup_share"].isna().all()
    assert out[out["unit_id"] == "in"]["builtup_share"].notna().all()


def test_crs_less_boundaries_raise(grid4):
    _, stack = grid4
    gdf = units([box(0, 0, 2, 2)]).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="no CRS"):
        builtup_by_unit(gdf, stack)
    with pytest.raises(CRSError, match="no CRS"):
        label_cells(gdf, stack)


def test_bad_method_and_bad_table(grid4):
    _, stack = grid4
    with pytest.raises(DataError, match="method must be one of exact, centre"):
        builtup_by_unit(units([box(0, 0, 1, 1)]), stack, method="mean")
    with pytest.raises(DataError, match="GeoDataFrame"):
        builtup_by_unit(pd.DataFrame({"a": [1]}), stack)
    with pytest.raises(DataError, match="max_cells"):
        builtup_by_unit(units([box(0, 0, 1, 1)]), stack, max_cells=0)
    with pytest.raises(DataError, match="missing"):
        to_wide(pd.DataFrame({"unit_id": ["a"]}))


def test_to_wide(grid4):
    _, stack = grid4
    out = builtup_by_unit(units([box(0, 0, 2, 2), box(2, 2, 4, 4)], ids=["b", "a"]), stack)
    wide = to_wide(out)
    assert list(wide.index) == ["b", "a"]
    assert list(wide.columns) == ["builtup_km2_2000", "builtup_km2_2010", "share_2000",
                                  "share_2010", "coverage"]
    assert wide.loc["a", "share_2010"] == pytest.approx(
        out.query("unit_id == 'a' and epoch == 2010")["builtup_share"].item())


# -- CLI ---------------------------------------------------------------------------------
@pytest.fixture
def cli_inputs(tmp_path, grid4):
    _, stack = grid4
    gdf = units([box(0, 0, 2, 2), box(2, 2, 4, 4)], ids=["b", "a"]).reset_index()
    vec = tmp_path / "units.gpkg"
    gdf.to_file(vec, layer="units")
    return vec, stack.paths[0]


def test_cli_writes_csv_parquet_gpkg(tmp_path, run_cli, cli_inputs):
    vec, ras = cli_inputs
    for suffix in (".csv", ".parquet", ".gpkg"):
        out = tmp_path / f"out{suffix}"
        res = run_cli("builtup", vec, ras, "--id", "id", "-o", out)
        assert res.exit_code == 0, res.output
        assert out.exists()
    long = pd.read_csv(tmp_path / "out.csv", dtype={"unit_id": str})
    assert list(long.columns) == LONG_COLUMNS
    pq = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(long, pq, check_dtype=False)
    import pyogrio

    layers = dict(pyogrio.list_layers(tmp_path / "out.gpkg"))
    assert {"units", "builtup", "provenance", "layer_styles"} <= set(layers)
    polys = pyogrio.read_dataframe(tmp_path / "out.gpkg", layer="units")
    assert {"unit_id", "builtup_km2_2010", "share_2010"} <= set(polys.columns)
    np.testing.assert_allclose(
        polys.set_index("unit_id").loc["a", "builtup_km2_2010"],
        long.query("unit_id == 'a' and epoch == 2010")["builtup_km2"].item())
    from gisfix.io import read_provenance

    assert read_provenance(tmp_path / "out.gpkg")["command"] == "gisfix builtup"


def test_cli_refuses_overwrite(tmp_path, run_cli, cli_inputs):
    vec, ras = cli_inputs
    out = tmp_path / "out.csv"
    assert run_cli("builtup", vec, ras, "--id", "id", "-o", out).exit_code == 0
    res = run_cli("builtup", vec, ras, "--id", "id", "-o", out)
    assert res.exit_code == 1
    assert "exists; pass --overwrite" in res.output
    assert run_cli("builtup", vec, ras, "--id", "id", "-o", out, "--overwrite").exit_code == 0


def test_cli_unknown_id_and_crs_less(tmp_path, run_cli, cli_inputs):
    vec, ras = cli_inputs
    res = run_cli("builtup", vec, ras, "--id", "nope", "-o", tmp_path / "x.csv")
    assert res.exit_code == 1
    assert "no column 'nope'" in res.output and "Traceback" not in res.output
    bare = gpd.read_file(vec).set_crs(None, allow_override=True)
    shp = tmp_path / "bare.shp"  # a shapefile without .prj has no CRS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # geopandas: "'crs' was not provided"
        bare.to_file(shp)
    shp.with_suffix(".prj").unlink(missing_ok=True)
    res = run_cli("builtup", shp, ras, "--id", "id", "-o", tmp_path / "y.csv")
    assert res.exit_code == 1
    assert "no CRS" in res.output


def test_cli_outside_units_warn(tmp_path, run_cli, grid4):
    _, stack = grid4
    # ids unlike the API test's: Python shows an identical warning only once per process
    gdf = units([box(0, 0, 2, 2), box(10, 10, 12, 12)], ids=["inside", "off_grid"])
    vec = tmp_path / "far.gpkg"
    gdf.reset_index().to_file(vec)
    res = run_cli("builtup", vec, stack.paths[0], "--id", "id", "-o", tmp_path / "f.csv")
    assert res.exit_code == 0
    assert "off_grid" in res.output and "cover no observed raster cell" in res.output
    long = pd.read_csv(tmp_path / "f.csv")
    assert long.query("unit_id == 'off_grid'")["builtup_share"].isna().all()


# -- real data: peers run in the test --------------------------------------------------
def _exactextract_value_fractions(raster, gdf):
    """Coverage-weighted count of cells per raster value, per feature (exactextract)."""
    from exactextract import exact_extract

    with rasterio.open(raster) as ds:
        ee = exact_extract(ds, gdf.reset_index(drop=True), ["unique", "frac", "count"],
                           output="pandas")
    return [dict(zip(np.asarray(u).tolist(), (np.asarray(f) * c).tolist()))
            for u, f, c in zip(ee["unique"], ee["frac"], ee["count"])]


def _exactextract_coverage_sum(raster, gdf):
    """Sum of coverage fractions of every cell, nodata included (exactextract)."""
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    with rasterio.open(raster) as ds:
        arr = np.ones((ds.height, ds.width), dtype=np.float64)
        left, bottom, right, top = ds.bounds
        src = NumPyRasterSource(arr, left, bottom, right, top, srs_wkt=ds.crs.to_wkt())
    ee = exact_extract(src, gdf.reset_index(drop=True), ["sum"], output="pandas")
    return ee["sum"].to_numpy()


@pytest.mark.shared
def test_dc_counties_against_exactextract(shared):
    folder = shared("ghsl_dc_baltimore")
    raster = folder / "ghsl_year_built_100m_mollweide.tif"
    from gisfix.boundaries import read_boundaries

    counties = read_boundaries(folder / "counties_2017_census.gpkg", id_col="fips")
    stack = open_builtup(raster, "year-built")
    assert len(stack.epochs) == 12
    out = builtup_by_unit(counties, stack)
    cell_km2 = 0.01
    mine = out["builtup_km2"].to_numpy().reshape(len(counties), 12) / cell_km2
    per_value = _exactextract_value_fractions(raster, counties)
    oracle = np.array([[sum(v for k, v in d.items() if k <= e) for e in stack.epochs]
                       for d in per_value])
    assert oracle.sum() > 1e5
    np.testing.assert_allclose(mine, oracle, rtol=EXACTEXTRACT_RTOL, atol=1e-6)
    valid = out.groupby("unit_id", sort=False)["valid_km2"].first().to_numpy() / cell_km2
    np.testing.assert_allclose(valid, _exactextract_coverage_sum(raster, counties),
                               rtol=EXACTEXTRACT_RTOL, atol=1e-6)


@pytest.mark.shared
def test_dc_centre_against_rasterstats(shared):
    folder = shared("ghsl_dc_baltimore")
    raster = folder / "ghsl_year_built_100m_mollweide.tif"
    from rasterstats import zonal_stats

    from gisfix.boundaries import read_boundaries

    counties = read_boundaries(folder / "counties_2017_census.gpkg", id_col="fips")
    stack = open_builtup(raster, "year-built")
    out = builtup_by_unit(counties, stack, method="centre")
    mine = np.rint(out["builtup_km2"].to_numpy().reshape(len(counties), -1) / 0.01)
    zs = zonal_stats(counties, str(raster), categorical=True, all_touched=False)
    oracle = np.array([[sum(n for v, n in z.items() if v <= e) for e in stack.epochs]
                       for z in zs])
    np.testing.assert_array_equal(mine, oracle)


@pytest.mark.shared
def test_corine_lausanne_against_exactextract(shared):
    folder = shared("clc_lausanne")
    rasters = [folder / f"clc_urban_{y}_100m_epsg3035.tif" for y in (2000, 2006, 2012)]
    from gisfix.boundaries import read_boundaries

    munis = read_boundaries(folder / "agglomeration_municipalities_2018.shp", id_col="GMDNR")
    stack = open_builtup(rasters, "class=1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoValidCellsWarning)  # municipalities off the grid
        out = builtup_by_unit(munis, stack)
    t = stack.transform
    cell_km2 = abs(t.a * t.e) / 1e6
    built = out["builtup_km2"].to_numpy().reshape(len(munis), 3) / cell_km2
    valid = out["valid_km2"].to_numpy().reshape(len(munis), 3) / cell_km2
    projected = munis.to_crs(stack.crs)
    for j, r in enumerate(rasters):
        per_value = _exactextract_value_fractions(r, projected)  # nodata 0 excluded
        ee_built = np.array([d.get(1, 0.0) for d in per_value])
        ee_valid = np.array([sum(d.values()) for d in per_value])
        assert ee_built.sum() > 1000
        np.testing.assert_allclose(built[:, j], ee_built, rtol=EXACTEXTRACT_RTOL, atol=1e-6)
        np.testing.assert_allclose(valid[:, j], ee_valid, rtol=EXACTEXTRACT_RTOL, atol=1e-6)


@pytest.mark.shared
def test_bacau_geographic_geodesic_areas(shared):
    """LDSMT in EPSG:4326: coverage from exactextract, cell areas from pyproj.Geod here."""
    from exactextract import exact_extract
    from pyproj import Geod

    from gisfix.boundaries import read_boundaries

    folder = shared("ghsl_ldsmt_bacau")
    raster = folder / "bacau_ghs_built_ldsmt_epochs.tif"
    muni = read_boundaries(folder / "bacau_municipality.shp", id_col="natcode")
    stack = open_builtup(raster, "ldsmt")
    out = builtup_by_unit(muni, stack)
    with rasterio.open(raster) as ds:
        t = ds.transform
        ee = exact_extract(ds, muni.reset_index(drop=True),
                           ["coverage", "values", "center_y"], output="pandas")
    cov = np.asarray(ee["coverage"][0])
    vals = np.asarray(ee["values"][0])
    cy = np.asarray(ee["center_y"][0])
    geod = Geod(ellps="WGS84")
    half = abs(t.e) / 2
    areas = {}
    for y in np.unique(cy):
        lons = [t.c, t.c + t.a, t.c + t.a, t.c]
        lats = [y - half, y - half, y + half, y + half]
        areas[y] = abs(geod.polygon_area_perimeter(lons, lats)[0])
    a = np.array([areas[y] for y in cy])
    first = {6: 1975, 5: 1990, 4: 2000, 3: 2014}
    observed = vals != 0
    oracle_valid = (cov * a * observed).sum() / 1e6
    for epoch in (1975, 1990, 2000, 2014):
        built = np.array([v in first and first[v] <= epoch for v in vals])
        oracle = (cov * a * built).sum() / 1e6
        row = out[out["epoch"] == epoch].iloc[0]
        assert row["builtup_km2"] == pytest.approx(oracle, rel=EXACTEXTRACT_RTOL)
        assert row["valid_km2"] == pytest.approx(oracle_valid, rel=EXACTEXTRACT_RTOL)
    # geodesic, not degrees: a cell is ~ 30 m x 20 m at 46.5 N
    assert 400 < a.mean() < 800


@pytest.mark.parametrize("method", ["exact", "centre"])
def test_threads_do_not_change_results(random_stack, method):
    gdf = gpd.GeoDataFrame(geometry=[_region(10, 8, 7), _region(22, 15, 9.5)], crs=CRS)
    one = builtup_by_unit(gdf, random_stack, method, max_cells=31 * 3, threads=1)
    two = builtup_by_unit(gdf, random_stack, method, max_cells=31 * 3, threads=2)
    pd.testing.assert_frame_equal(one, two)
    with pytest.raises(DataError, match="threads"):
        builtup_by_unit(gdf, random_stack, method, threads=0)


@HYP
@given(geom=star_polygons(), a=st.sampled_from([1.0, 0.7]), e=st.sampled_from([1.0, 1.3]))
def test_centre_cells_equal_gdal_rasterize(tmp_path, geom, a, e):
    """The centre rule of builtup_by_unit selects exactly the cells GDAL burns."""
    from gisfix.zonal import _centre_runs, _edges, _expand_runs

    h, w = 9, 12
    stack, t = _grid_stack(tmp_path, h, w, a, e)
    g = shapely.affinity.affine_transform(geom, [a, 0, 0, -e, t.c, t.f])
    gdf = gpd.GeoDataFrame(geometry=[g], crs=CRS)
    gdal = label_cells(gdf, stack) == 0
    # GDAL also burns a horizontal edge lying exactly on a line of cell centres when the
    # edge runs right to left in pixel space: there (and only there) its answer depends on
    # the ring orientation.  Ours (centres in [top, bottom) of the polygon) is then GDAL's
    # answer for one of the two orientations; otherwise both are the same set of cells.
    rev = gpd.GeoDataFrame(geometry=[shapely.reverse(g)], crs=CRS)
    gdal_reversed = label_cells(rev, stack) == 0
    mine = np.zeros((h, w), bool)
    _, r, c, _ = _expand_runs(_centre_runs(_edges(gdf.geometry, t), 0, h, w))
    mine[r, c] = True
    if not np.array_equal(gdal, gdal_reversed):
        if np.array_equal(mine, gdal_reversed):
            gdal = gdal_reversed
        # the orientations differ only by cells on a horizontal edge at a centre line
        rows = np.unique(np.argwhere(gdal ^ gdal_reversed)[:, 0]) + 0.5
        vertex_rows = (shapely.get_coordinates(g)[:, 1] - t.f) / t.e
        assert np.isclose(rows[:, None], vertex_rows[None, :], atol=1e-9).any(axis=1).all()
    np.testing.assert_array_equal(mine, gdal)
    if not g.intersects(box(*stack_bounds(stack))):  # off the raster: an error (issue 11)
        with pytest.raises(ExtentError, match="do not overlap the raster"):
            builtup_by_unit(gdf, stack, "centre")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GisfixWarning)
        out = builtup_by_unit(gdf, stack, "centre")
    assert out["valid_km2"].iloc[0] == pytest.approx(gdal.sum() * a * e / 1e6, abs=1e-15)


def stack_bounds(stack):
    t = stack.transform
    xs, ys = (t.c, t.c + t.a * stack.width), (t.f, t.f + t.e * stack.height)
    return min(xs), min(ys), max(xs), max(ys)


def test_gdal_cache_cap_is_restored(random_stack):
    from rasterio._env import get_gdal_config

    gdf = gpd.GeoDataFrame(geometry=[_region(10, 8, 7)], crs=CRS)
    with rasterio.Env(GDAL_CACHEMAX=2**31):  # larger than the cap: lowered, then restored
        before = get_gdal_config("GDAL_CACHEMAX")
        builtup_by_unit(gdf, random_stack)
        assert get_gdal_config("GDAL_CACHEMAX") == before


# -- reading only the blocks units touch -------------------------------------------------
def test_block_spans_by_hand():
    from gisfix.zonal import _block_spans

    # blocks of 4 columns over 18 columns: [0,4) [4,8) [8,12) [12,16) [16,18)
    lo, hi = np.array([1, 9, 5]), np.array([2, 9, 8])
    assert _block_spans(lo, hi, 4, 18) == [(0, 12)]
    assert _block_spans(np.array([0, 17]), np.array([0, 17]), 4, 18) == [(0, 4), (16, 18)]
    assert _block_spans(np.array([13]), np.array([17]), 4, 18) == [(12, 18)]
    assert _block_spans(np.array([], int), np.array([], int), 4, 18) == []
    assert _block_spans(np.array([3]), np.array([3]), 64, 18) == [(0, 18)]  # one strip


@pytest.fixture(scope="module")
def tiled_stack(tmp_path_factory):
    """A year-built raster in 16 x 16 tiles, most of which no unit below touches."""
    rng = np.random.default_rng(11)
    h, w = 80, 112
    arr = rng.choice(np.array([1990, 2000, 2010, 0, 65535], dtype=np.uint16), size=(h, w))
    path = tmp_path_factory.mktemp("t") / "tiled.tif"
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint16",
                       crs=CRS, transform=Affine(CELL, 0, ORIGIN[0], 0, -CELL, ORIGIN[1]),
                       nodata=65535, tiled=True, blockxsize=16, blockysize=16,
                       compress="deflate") as ds:
        ds.write(arr, 1)
    return path, open_builtup(path, "year-built", epochs=[1990, 2000, 2010])


def test_tiled_raster_partly_covered_against_exactextract(tiled_stack):
    """Units touching a few tiles only (the others are never read) match exactextract."""
    path, stack = tiled_stack
    assert stack.block_shape == (16, 16)
    gdf = gpd.GeoDataFrame(
        geometry=[_region(5.3, 4.1, 3.2), _region(70.5, 33.2, 6.7), _region(104, 75, 9),
                  box(ORIGIN[0] + 31.5 * CELL, ORIGIN[1] - 64.2 * CELL,
                      ORIGIN[0] + 48.7 * CELL, ORIGIN[1] - 47.9 * CELL),
                  # same rows as "a", five tiles to its right: the tiles between are unread
                  _region(99.2, 5.6, 2.9)],
        index=pd.Index(["a", "b", "c", "d", "e"], name="id"), crs=CRS)
    per_value = _exactextract_value_fractions(path, gdf)
    oracle = np.array([[sum(v for k, v in d.items() if 0 < k <= e) for e in stack.epochs]
                       for d in per_value])
    assert oracle[:, -1].min() > 0
    for threads, max_cells in ((1, None), (1, 16 * 112), (2, 16 * 112)):
        # strips of one row of tiles: each reads only the tiles its units touch
        out = builtup_by_unit(gdf, stack, threads=threads, max_cells=max_cells)
        cells = CELL * CELL / 1e6
        mine = out["builtup_km2"].to_numpy().reshape(len(gdf), 3) / cells
        np.testing.assert_allclose(mine, oracle, rtol=EXACTEXTRACT_RTOL, atol=1e-9)
        seen = out.groupby("unit_id", sort=False)["valid_km2"].first().to_numpy() / cells
        np.testing.assert_allclose(seen, _exactextract_coverage_sum(path, gdf),
                                   rtol=EXACTEXTRACT_RTOL, atol=1e-9)


def test_stack_public_helpers_used_by_zonal(tiled_stack):
    _, stack = tiled_stack
    whole = stack.resolve_window(None)
    assert (whole.width, whole.height) == (stack.width, stack.height)
    lut = stack.ordinal_lut()
    lut[:] = 0  # a copy: the stack's own table is unchanged
    raw = np.array([[0, 1990, 1995, 2000, 2010, 2011, 65535]], dtype=np.uint16)
    # 0 and nodata: never built (3); 1995 is first built by 2000 (1); after 2010: never (3)
    np.testing.assert_array_equal(stack.ordinal_lut()[raw], [[3, 0, 1, 1, 2, 3, 3]])
