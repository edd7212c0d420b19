"""Windowed LEI: identical to the whole grid, on dask too, and on geographic rasters.

Oracles
- whole-grid LEI (one ``lei_arrays`` call on the whole arrays, one ``scipy.ndimage.label``)
  against the windowed run with windows a few rows high, so that thousands of patches
  cross window edges: every column of every patch identical (exact), polygons equal;
- hypothesis-generated small rasters, random window heights, buffers and connectivity;
- geographic LDSMT rasters (Bacau, Conakry) with a one-cell buffer: each patch's class equals
  the class of an independent per-patch computation on the same array taken as a projected
  grid (``ndimage.label`` + a 3 x 3 dilation per patch, counted in cells), and each patch's
  area equals the sum of its cells' geodesic areas computed here with ``pyproj.Geod``
  (relative tolerance ``GEO_AREA_RTOL``);
- a ``distributed.LocalCluster`` with 2 workers: identical to the in-process run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from scipy import ndimage

from gisfix.lei import (
    LEIThresholds,
    buffer_offsets,
    cell_size_m,
    landscape_expansion_index,
    lei_arrays,
    lei_by_unit,
    patch_polygons,
)
from gisfix.stack import open_builtup

DC_RASTER = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
#: Geodesic patch areas against pyproj.Geod cell polygons.
GEO_AREA_RTOL = 1e-9
LDSMT = {"bacau": ("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif"),
         "conakry": ("ghsl_ldsmt_conakry", "conakry_ghs_built_ldsmt_epochs.tif")}
#: LDSMT code -> built by epoch (6 before 1975, 5 by 1990, 4 by 2000, 3 by 2014).
LDSMT_BUILT = {1975: (6,), 1990: (5, 6), 2000: (4, 5, 6), 2014: (3, 4, 5, 6)}


def _whole(stack, t0, t1, buffer_m=None, connectivity=8):
    """Whole-grid reference: one read, one labelling, one ring pass."""
    codes = stack.read_ordinal()
    j0, j1 = stack.epoch_index(t0), stack.epoch_index(t1)
    off = buffer_offsets(buffer_m, cell_size_m(stack)) if buffer_m is not None else None
    return lei_arrays(codes <= j0, codes <= j1, codes != 255, offsets=off,
                      connectivity=connectivity, row_areas=stack.row_cell_areas())


@pytest.mark.shared
@pytest.mark.parametrize("t0,t1,buffer_m,conn,rows", [
    (1975, 2030, None, 8, 5), (1990, 2020, 300.0, 4, 7), (2015, 2020, 250.0, 8, 3)])
def test_dc_windowed_equals_whole_grid(shared, t0, t1, buffer_m, conn, rows):
    stack = open_builtup(shared(*DC_RASTER), "year-built")
    labels, ref = _whole(stack, t0, t1, buffer_m, conn)
    got = landscape_expansion_index(stack, t0, t1, buffer_m=buffer_m, connectivity=conn,
                                    polygons=False, block_rows=rows)
    # many patches cross window edges
    edge_rows = np.arange(rows, stack.height, rows)
    crossing = np.intersect1d(labels[edge_rows - 1][labels[edge_rows - 1] > 0],
                              labels[edge_rows][labels[edge_rows] > 0])
    assert len(crossing) > 500
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.shared
def test_dc_windowed_polygons_and_units(shared):
    import geopandas as gpd

    stack = open_builtup(shared(*DC_RASTER), "year-built")
    counties = gpd.read_file(shared("ghsl_dc_baltimore", "counties_2017_census.gpkg"),
                             layer="counties").set_index("fips")
    p_small, s_small = lei_by_unit(counties, stack, 2010, 2015, block_rows=4)
    p_one, s_one = lei_by_unit(counties, stack, 2010, 2015, block_rows=stack.height)
    pd.testing.assert_frame_equal(p_small.drop(columns="geometry"),
                                  p_one.drop(columns="geometry"), check_exact=True)
    pd.testing.assert_frame_equal(s_small, s_one, check_exact=False, rtol=1e-12)
    labels, _ = _whole(stack, 2010, 2015)
    whole = patch_polygons(labels, stack.transform, stack.crs)
    assert p_small.geometry.geom_equals(whole.reindex(p_small.index)).all()
    assert np.allclose(p_small.geometry.area / 1e6, p_small["area_km2"], rtol=1e-9)


def _write_year_built(path, years):
    with rasterio.open(path, "w", driver="GTiff", width=years.shape[1], height=years.shape[0],
                       count=1, dtype="uint16", crs="EPSG:3035", nodata=65535,
                       transform=from_origin(4_000_000, 3_000_000, 100, 100)) as ds:
        ds.write(years, 1)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), shape=st.tuples(st.integers(1, 23), st.integers(1, 17)),
       rows=st.integers(1, 6), buffer_m=st.sampled_from([None, 100.0, 160.0, 230.0]),
       conn=st.sampled_from([4, 8]), p=st.tuples(st.floats(0, 0.6), st.floats(0, 0.6),
                                                 st.floats(0, 0.15)))
def test_property_windowed_equals_whole_grid(tmp_path_factory, seed, shape, rows, buffer_m,
                                             conn, p):
    rng = np.random.default_rng(seed)
    u = rng.random(shape)
    years = np.full(shape, 2030, np.uint16)  # never built by 2020
    years[u < p[0] + p[1]] = 2020
    years[u < p[0]] = 2000
    years[rng.random(shape) < p[2]] = 65535  # unobserved
    path = tmp_path_factory.mktemp("w") / "yb.tif"
    _write_year_built(path, years)
    stack = open_builtup(path, "year-built", epochs=[2000, 2020, 2030])
    labels, ref = _whole(stack, 2000, 2020, buffer_m, conn)
    got = landscape_expansion_index(stack, 2000, 2020, buffer_m=buffer_m, connectivity=conn,
                                    polygons=rows % 2 == 0, block_rows=rows, max_pairs=50)
    if rows % 2 == 0:
        whole = patch_polygons(labels, stack.transform, stack.crs)
        assert got.geometry.geom_equals(whole.reindex(got.index)).all()
        got = pd.DataFrame(got.drop(columns="geometry"))
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


def _geodesic_row_areas_oracle(transform, height):
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    out = np.empty(height)
    for r in range(height):
        x0, x1 = transform.c, transform.c + transform.a
        y0, y1 = transform.f + transform.e * r, transform.f + transform.e * (r + 1)
        area, _ = geod.polygon_area_perimeter([x0, x1, x1, x0], [y0, y0, y1, y1])
        out[r] = abs(area)
    return out


@pytest.mark.shared
@pytest.mark.parametrize("city", sorted(LDSMT))
def test_geographic_ldsmt_one_cell_buffer(shared, city):
    path = shared(*LDSMT[city])
    with rasterio.open(path) as ds:
        codes = ds.read(1)
        transform = ds.transform
        assert ds.crs.to_epsg() == 4326
    stack = open_builtup(path, "ldsmt")
    cell_area = _geodesic_row_areas_oracle(transform, codes.shape[0])
    valid = codes != 0
    thresholds = LEIThresholds()
    for t0, t1 in ((1975, 1990), (1990, 2000), (2000, 2014), (1975, 2014)):
        b0 = np.isin(codes, LDSMT_BUILT[t0])
        new = np.isin(codes, LDSMT_BUILT[t1]) & ~b0 & valid
        lab, n = ndimage.label(new, structure=np.ones((3, 3)))
        got = landscape_expansion_index(stack, t0, t1, polygons=False, block_rows=11)
        assert len(got) == n > 0
        classes, areas = [], []
        for k, sl in enumerate(ndimage.find_objects(lab), start=1):
            r0, r1 = max(sl[0].start - 1, 0), sl[0].stop + 1
            c0, c1 = max(sl[1].start - 1, 0), sl[1].stop + 1
            patch = lab[r0:r1, c0:c1] == k
            ring = ndimage.binary_dilation(patch, np.ones((3, 3), bool)) & ~patch
            ring &= valid[r0:r1, c0:c1]
            total = ring.sum()
            lei = 100.0 * (ring & b0[r0:r1, c0:c1]).sum() / total if total else np.nan
            classes.append(None if np.isnan(lei) else "outlying" if lei < 2
                           else "infilling" if lei > thresholds.infilling_above
                           else "edge-expansion")
            rows = np.nonzero(patch)[0] + r0
            areas.append(cell_area[rows].sum() / 1e6)
        assert got["growth_type"].tolist() == classes
        np.testing.assert_allclose(got["area_km2"], areas, rtol=GEO_AREA_RTOL)


@pytest.mark.shared
def test_geographic_metre_buffer_windows(shared):
    stack = open_builtup(shared(*LDSMT["conakry"]), "ldsmt")
    a = landscape_expansion_index(stack, 1990, 2014, buffer_m=100, polygons=False,
                                  block_rows=9)
    b = landscape_expansion_index(stack, 1990, 2014, buffer_m=100, polygons=False)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    # a 100 m buffer on ~30 m cells reaches 3-4 cells: wider rings than the one-cell buffer
    one = landscape_expansion_index(stack, 1990, 2014, polygons=False)
    assert (a["ring_total_cells"] >= one["ring_total_cells"]).all()
    assert (a["ring_total_cells"] > one["ring_total_cells"]).mean() > 0.9


@pytest.mark.shared
def test_dask_local_cluster_identical(shared, dask_client):
    stack = open_builtup(shared(*DC_RASTER), "year-built")
    ref = landscape_expansion_index(stack, 1990, 2020, polygons=False)
    got = landscape_expansion_index(stack, 1990, 2020, polygons=False, block_rows=24,
                                    scheduler=dask_client)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    addr = dask_client.scheduler.address
    got2 = landscape_expansion_index(stack, 2015, 2020, polygons=False, block_rows=64,
                                     scheduler=addr)
    ref2 = landscape_expansion_index(stack, 2015, 2020, polygons=False)
    pd.testing.assert_frame_equal(got2, ref2, check_exact=True)


def test_cli_scheduler_and_block_rows(tmp_path, run_cli):
    import geopandas as gpd

    rng = np.random.default_rng(3)
    years = np.where(rng.random((40, 30)) < 0.3, 2000, 2030).astype(np.uint16)
    years[rng.random((40, 30)) < 0.2] = 2020
    path = tmp_path / "yb.tif"
    _write_year_built(path, years)
    outs = {}
    for name, extra in {"plain": [], "threads": ["--scheduler", "threads", "--block-rows", 3]
                        }.items():
        outs[name] = tmp_path / f"{name}.gpkg"
        r = run_cli("lei", path, "--encoding", "year-built", "--epochs", "2000,2020,2030",
                    "--from", 2000, "--to", 2020, *extra, "-o", outs[name])
        assert r.exit_code == 0, r.output
    a, b = (gpd.read_file(outs[k], layer="patches") for k in ("plain", "threads"))
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert a.geometry.geom_equals(b.geometry).all()
    r = run_cli("lei", path, "--encoding", "year-built", "--epochs", "2000,2020,2030",
                "--from", 2000, "--to", 2020, "--scheduler", "fast", "-o", tmp_path / "x.gpkg")
    assert r.exit_code == 2 and "unknown scheduler 'fast'" in r.output  # a usage error


@pytest.mark.shared
def test_cli_geographic_without_reprojection(shared, run_cli, tmp_path):
    import geopandas as gpd

    out = tmp_path / "bacau.gpkg"
    r = run_cli("lei", shared(*LDSMT["bacau"]), "--encoding", "ldsmt", "--from", 1990,
                "--to", 2014, "-o", out)
    assert r.exit_code == 0, r.output
    p = gpd.read_file(out, layer="patches")
    assert p.crs.to_epsg() == 4326 and len(p) > 100
    assert p["growth_type"].notna().all()


@pytest.mark.shared
def test_dask_patch_metrics_identical(shared, dask_client):
    import geopandas as gpd

    from gisfix.landscape import patch_metrics

    stack = open_builtup(shared(*DC_RASTER), "year-built")
    eps = [1990, 2030]
    ref = patch_metrics(None, stack, epochs=eps)
    got = patch_metrics(None, stack, epochs=eps, block_rows=16, scheduler=dask_client)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    counties = gpd.read_file(shared("ghsl_dc_baltimore", "counties_2017_census.gpkg"),
                             layer="counties").set_index("fips")
    ref_u = patch_metrics(counties, stack, epochs=eps)
    got_u = patch_metrics(counties, stack, epochs=eps, scheduler="threads")
    pd.testing.assert_frame_equal(got_u, ref_u, check_exact=True)
