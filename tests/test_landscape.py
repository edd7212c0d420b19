"""Patch metrics of built-up land: pylandstats run on the same masks, hand cases, brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gisfix.errors import CRSError, DataError
from gisfix.landscape import (
    aggregation_index,
    landscape_metrics,
    max_like_adjacencies,
    patch_metrics,
)

#: Relative agreement with pylandstats for every metric both define.
PLS_RTOL = 1e-9
#: Metrics pylandstats defines, gisfix name -> pylandstats name.
PLS_METRICS = {
    "total_area_ha": "total_area",
    "number_of_patches": "number_of_patches",
    "patch_density_per_100ha": "patch_density",
    "largest_patch_index": "largest_patch_index",
    "total_edge_m": "total_edge",
    "edge_density_m_per_ha": "edge_density",
    "area_mn_ha": "area_mn",
}
DC = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
DC_COUNTIES = ("ghsl_dc_baltimore", "counties_2017_census.gpkg")


def _write_tif(path, arr, crs="EPSG:3035", res=100.0, nodata=255):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0],
                       count=1, dtype=arr.dtype, crs=crs, nodata=nodata,
                       transform=from_origin(4_000_000, 3_000_000, res, res)) as ds:
        ds.write(arr, 1)
    return path


# -- hand cases ----------------------------------------------------------------------------
def test_max_like_adjacencies_brute_force():
    """max g_ii of He et al. (2000) equals the best packing found by enumerating a 4x4 board."""
    cells = [(r, c) for r in range(4) for c in range(4)]
    for n in range(1, 11):
        best = 0
        for subset in itertools.combinations(range(16), n):
            s = {cells[i] for i in subset}
            g = sum((r, c + 1) in s for r, c in s) + sum((r + 1, c) in s for r, c in s)
            best = max(best, g)
        assert max_like_adjacencies(n) == best, n


def test_aggregation_index_hand_cases():
    res = (10.0, 10.0)
    land = np.ones((6, 6), bool)
    square = np.zeros((6, 6), bool)
    square[1:3, 1:3] = True                       # 2x2: g = 4 = max -> 100
    line = np.zeros((6, 6), bool)
    line[2, 0:4] = True                           # 1x4: g = 3, max 4 -> 75
    scattered = np.zeros((6, 6), bool)
    scattered[0, 0] = scattered[0, 2] = scattered[2, 0] = scattered[4, 4] = True  # g = 0
    assert landscape_metrics(square, land, res=res)["aggregation_index"] == 100.0
    assert landscape_metrics(line, land, res=res)["aggregation_index"] == 75.0
    assert landscape_metrics(scattered, land, res=res)["aggregation_index"] == 0.0
    assert math.isnan(float(aggregation_index(0, 1)))


def test_landscape_metrics_hand_case_with_nodata():
    """A 4x4 landscape solved by hand: nodata neighbours and the border are not edges."""
    land = np.ones((4, 4), bool)
    land[0, 3] = False                            # a nodata cell
    built = np.zeros((4, 4), bool)
    built[0, 0] = built[0, 1] = True              # patch A (2 cells)
    built[1, 2] = True                            # touches A only diagonally
    built[3, 3] = True                            # patch C
    m8 = landscape_metrics(built, land, res=(100.0, 100.0), connectivity=8)
    m4 = landscape_metrics(built, land, res=(100.0, 100.0), connectivity=4)
    assert m8["number_of_patches"] == 2 and m4["number_of_patches"] == 3
    # unlike pairs: A: (0,1)-(0,2), (0,0)-(1,0), (0,1)-(1,1) = 3; (1,2): left, right, up,
    # down = 4 (its up neighbour (0,2) is land); C: (3,2), (2,3) = 2 -> 9 edges of 100 m
    assert m8["total_edge_m"] == 900.0
    area_ha = 15 * 1.0                            # 15 land cells of 1 ha
    assert m8["landscape_area_ha"] == area_ha
    assert m8["edge_density_m_per_ha"] == pytest.approx(900.0 / area_ha)
    assert m8["largest_patch_index"] == pytest.approx(100 * 3 / 15)
    assert m4["largest_patch_index"] == pytest.approx(100 * 2 / 15)
    assert m8["patch_density_per_100ha"] == pytest.approx(2 / 15 * 100)
    assert m4["area_mn_ha"] == pytest.approx(4 / 3)


def test_nmi_of_square_and_disc():
    """NMI is 3/pi for any square (exact) and tends to 1 for a rasterised disc."""
    land = np.ones((101, 101), bool)
    square = np.zeros((101, 101), bool)
    square[10:30, 10:30] = True
    assert landscape_metrics(square, land, res=(30.0, 30.0))["main_patch_nmi"] == \
        pytest.approx(3 / math.pi, rel=1e-12)
    one = np.zeros((101, 101), bool)
    one[5, 5] = True
    assert landscape_metrics(one, land, res=(30.0, 30.0))["main_patch_nmi"] == \
        pytest.approx(3 / math.pi, rel=1e-12)
    yy, xx = np.mgrid[0:101, 0:101]
    disc = (yy - 50) ** 2 + (xx - 50) ** 2 <= 50 ** 2
    assert landscape_metrics(disc, land, res=(30.0, 30.0))["main_patch_nmi"] == \
        pytest.approx(1.0, abs=2e-3)


def test_patch_metrics_bad_input(tmp_path):
    from gisfix.stack import open_builtup

    arr = np.zeros((5, 5), np.uint8)
    arr[1:3, 1:3] = 1
    proj = open_builtup([_write_tif(tmp_path / "b_2020.tif", arr)], "binary")
    with pytest.raises(DataError, match="connectivity must be 4"):
        patch_metrics(None, proj, connectivity=6)
    geo = open_builtup([_write_tif(tmp_path / "g_2020.tif", arr, crs="EPSG:4326", res=0.001)],
                       "binary")
    with pytest.raises(CRSError, match="reproject"):
        patch_metrics(None, geo)
    import geopandas as gpd
    import shapely

    no_crs = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], index=["a"])
    with pytest.raises(CRSError, match="has no CRS"):
        patch_metrics(no_crs, proj)


def test_cli_rejects_bad_connectivity(run_cli, tmp_path):
    r = run_cli("agglomeration", "b.gpkg", "r.tif", "--id", "x", "--connectivity", "6",
                "-o", tmp_path / "o.csv")
    assert r.exit_code == 2 and "connectivity" in r.output


# -- pylandstats on real rasters -----------------------------------------------------------
def _pls_landscape(built, land, res, conn):
    import pylandstats as pls

    arr = np.zeros(built.shape, np.uint8)         # 0 = nodata (outside the unit / unobserved)
    arr[land] = 2
    arr[built & land] = 1
    return pls.Landscape(arr, res=res, nodata=0, neighborhood_rule=str(conn))


@pytest.mark.shared
@pytest.mark.parametrize("conn", [8, 4])
def test_dc_counties_against_pylandstats(shared, conn):
    """30 DC counties x 3 epochs: every metric pylandstats defines agrees to 1e-9."""
    import geopandas as gpd

    from gisfix.landscape import _unit_windows
    from gisfix.stack import open_builtup

    stack = open_builtup(shared(*DC), "year-built")
    units = gpd.read_file(shared(*DC_COUNTIES), layer="counties").set_index("fips")
    epochs = [1975, 2000, 2030]
    ours = patch_metrics(units, stack, epochs=epochs, connectivity=conn).set_index(
        ["unit_id", "epoch"])
    compared = 0
    for uid, w, inside in _unit_windows(units.to_crs(stack.crs), stack):
        codes = stack.read_ordinal(w)
        land = inside & (codes != 255)
        for e in epochs:
            built = land & (codes <= stack.epoch_index(e))
            row = ours.loc[(uid, e)]
            if not built.any():
                assert row["number_of_patches"] == 0 and row["total_area_ha"] == 0
                continue
            ls = _pls_landscape(built, land, (100.0, 100.0), conn)
            ref = ls.compute_class_metrics_df(metrics=list(PLS_METRICS.values())).loc[1]
            for mine, theirs in PLS_METRICS.items():
                assert row[mine] == pytest.approx(ref[theirs], rel=PLS_RTOL), (uid, e, mine)
            # AI from pylandstats' own adjacency table (it double counts like pairs)
            adj = ls._adjacency_df
            like = (adj.loc["horizontal"].loc[1, 1] + adj.loc["vertical"].loc[1, 1]) / 2
            assert row["aggregation_index"] == pytest.approx(
                float(aggregation_index(like, built.sum())), rel=PLS_RTOL, nan_ok=True)
            compared += 1
    assert compared >= 60


@pytest.mark.shared
@pytest.mark.parametrize("conn", [8, 4])
def test_lausanne_corine_against_pylandstats(shared, conn):
    """CORINE class=1, whole grid (nodata 0) read by pylandstats itself from the files."""
    import pylandstats as pls

    from gisfix.stack import open_builtup

    paths = [shared("clc_lausanne", f"clc_urban_{y}_100m_epsg3035.tif") for y in (2000, 2006,
                                                                                  2012)]
    stack = open_builtup(paths, "class=1")
    cw, ch = abs(stack.transform.a), abs(stack.transform.e)
    assert cw != ch                               # 100.04 x 99.96 m cells
    ours = patch_metrics(None, stack, connectivity=conn).set_index("epoch")
    for path, e in zip(paths, stack.epochs):
        ls = pls.Landscape(str(path), nodata=0, neighborhood_rule=str(conn))
        ref = ls.compute_class_metrics_df(metrics=list(PLS_METRICS.values())).loc[1]
        row = ours.loc[e]
        for mine, theirs in PLS_METRICS.items():
            if mine in ("total_edge_m", "edge_density_m_per_ha"):
                continue
            assert row[mine] == pytest.approx(ref[theirs], rel=PLS_RTOL), (e, mine)
        # pylandstats multiplies every edge by the cell width when cells are square within
        # 0.1 %; gisfix uses the true length of each shared side: left-right neighbours share
        # a side of the cell height, up-down neighbours one of the cell width.
        adj = ls._adjacency_df
        h = adj.loc["horizontal"].loc[1, 2]
        v = adj.loc["vertical"].loc[1, 2]
        assert row["total_edge_m"] == pytest.approx(h * ch + v * cw, rel=PLS_RTOL)
        assert ref["total_edge"] == pytest.approx((h + v) * cw, rel=PLS_RTOL)
        assert row["total_edge_m"] == pytest.approx(ref["total_edge"], rel=1e-3)
    # with pylandstats' convention every metric both define is the same to 1e-9
    same = patch_metrics(None, stack, connectivity=conn,
                         edge_length="cell_width").set_index("epoch")
    for path, e in zip(paths, stack.epochs):
        ls = pls.Landscape(str(path), nodata=0, neighborhood_rule=str(conn))
        ref = ls.compute_class_metrics_df(metrics=list(PLS_METRICS.values())).loc[1]
        for mine, theirs in PLS_METRICS.items():
            assert same.loc[e, mine] == pytest.approx(ref[theirs], rel=PLS_RTOL), (e, mine)
        like = (adj.loc["horizontal"].loc[1, 1] + adj.loc["vertical"].loc[1, 1]) / 2
        n_built = round(row["total_area_ha"] * 1e4 / (cw * ch))
        assert row["aggregation_index"] == pytest.approx(
            float(aggregation_index(like, n_built)), rel=PLS_RTOL)


def test_unknown_edge_length():
    import numpy as np

    from gisfix.errors import DataError

    with pytest.raises(DataError, match="edge_length must be one of true, cell_width"):
        landscape_metrics(np.ones((2, 2), bool), np.ones((2, 2), bool), res=(1, 1),
                          edge_length="pixels")


# -- windows and dask ----------------------------------------------------------------------
def _whole_grid_reference(stack, conn):
    """Every epoch of the whole grid as one array: one ndimage.label per epoch."""
    import pandas as pd

    codes = stack.read_ordinal()
    rows = [{"unit_id": "all", "epoch": e,
             **landscape_metrics(codes <= stack.epoch_index(e), codes != 255,
                                 res=(abs(stack.transform.a), abs(stack.transform.e)),
                                 connectivity=conn)} for e in stack.epochs]
    ref = pd.DataFrame(rows)
    ref["number_of_patches"] = ref["number_of_patches"].astype("Int64")
    return ref


@pytest.mark.shared
@pytest.mark.parametrize("conn,rows", [(8, 3), (4, 11)])
def test_dc_whole_grid_windows_equal_one_labelling(shared, conn, rows):
    """Windows of a few rows (thousands of patches cross their edges): identical metrics."""
    import pandas as pd

    from gisfix.stack import open_builtup

    stack = open_builtup(shared(*DC), "year-built")
    got = patch_metrics(None, stack, connectivity=conn, block_rows=rows)
    pd.testing.assert_frame_equal(got, _whole_grid_reference(stack, conn), check_exact=True)


def test_renamed_columns_carry_units():
    from gisfix.landscape import METRICS, RENAMED

    assert set(RENAMED.values()) <= set(METRICS)
    unitless = {"number_of_patches", "largest_patch_index", "aggregation_index",
                "main_patch_nmi"}
    for m in METRICS:
        assert m in unitless or m.endswith(("_ha", "_m", "_m_per_ha", "_per_100ha")), m


# -- the patch layer (polygons) read in windows --------------------------------------------
def _check_patch_layer(stack, epoch, conn, got, atol_m2=0.0):
    """Oracle: one whole-grid ``ndimage.label``; the polygons rasterised back give its labels."""
    from rasterio.features import rasterize
    from scipy import ndimage

    built = stack.built(epoch)
    whole, n = ndimage.label(built, structure=np.ones((3, 3)) if conn == 8 else None)
    assert len(got) == n
    assert got["patch_id"].tolist() == list(range(1, n + 1))
    cells = np.bincount(whole.ravel(), minlength=n + 1)[1:]
    assert got["cells"].tolist() == cells.tolist()
    area = np.broadcast_to(stack.row_cell_areas()[:, None], whole.shape)
    m2 = np.bincount(whole.ravel(), weights=area.ravel(), minlength=n + 1)[1:]
    np.testing.assert_allclose(got["area_km2"].to_numpy() * 1e6, m2, rtol=1e-12, atol=atol_m2)
    assert got.geometry.is_valid.all()
    back = rasterize(zip(got.geometry, got["patch_id"]), out_shape=whole.shape,
                     transform=stack.transform, fill=0, dtype="int32")
    assert np.array_equal(back, whole)


@pytest.mark.shared
@pytest.mark.parametrize("conn,rows", [(8, 3), (4, 7), (8, None)])
def test_dc_patch_layer_equals_one_labelling(shared, conn, rows):
    from gisfix.landscape import patch_layer
    from gisfix.stack import open_builtup

    stack = open_builtup(shared(*DC), "year-built", epochs=[1990, 2030])
    got = patch_layer(stack, 1990, connectivity=conn, block_rows=rows)
    _check_patch_layer(stack, 1990, conn, got)


@pytest.mark.shared
def test_dc_patch_layer_on_dask(shared, dask_client):
    from gisfix.landscape import patch_layer
    from gisfix.stack import open_builtup

    stack = open_builtup(shared(*DC), "year-built", epochs=[2000])
    ref = patch_layer(stack, 2000, block_rows=40)
    got = patch_layer(stack, 2000, block_rows=40, scheduler=dask_client)
    assert got.drop(columns="geometry").equals(ref.drop(columns="geometry"))
    assert got.geometry.geom_equals_exact(ref.geometry, 0).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 24), w=st.integers(1, 16),
       rows=st.integers(1, 5), p=st.floats(0.1, 0.8), conn=st.sampled_from([4, 8]))
def test_patch_layer_property(tmp_path_factory, seed, h, w, rows, p, conn):
    from gisfix.landscape import patch_layer
    from gisfix.stack import open_builtup

    rng = np.random.default_rng(seed)
    arr = np.where(rng.random((h, w)) < p, 1, 0).astype(np.uint8)
    arr[rng.random((h, w)) < 0.1] = 255  # not observed
    path = _write_tif(tmp_path_factory.mktemp("pl") / "b_2000.tif", arr)
    stack = open_builtup([path], "binary")
    _check_patch_layer(stack, 2000, conn, patch_layer(stack, 2000, connectivity=conn,
                                                      block_rows=rows))


@pytest.mark.shared
def test_bacau_patch_layer_geographic(shared):
    """EPSG:4326 cells: each patch's area sums its rows' geodesic cell areas."""
    from gisfix.landscape import patch_layer
    from gisfix.stack import open_builtup

    stack = open_builtup(shared("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif"),
                         "ldsmt")
    got = patch_layer(stack, 2014, block_rows=5)
    _check_patch_layer(stack, 2014, 8, got, atol_m2=1e-6)
