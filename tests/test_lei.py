"""Landscape Expansion Index: hand-built cases, a vector oracle, the DC raster, the CLI.

Oracles
- hand rasters whose LEI is counted by hand (infilling 100, edge 40, outlying 0);
- a direct vector implementation in this file: each patch polygon (union of its cell
  squares) buffered with shapely, minus the patch, rasterised by the cell-centre rule
  (GOSTurban's method), against the t0 built cells; and the purely areal version
  (shapely ring intersected with the t0 built-up polygons) on the real DC raster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin

from gisfix.errors import DataError
from gisfix.lei import (
    LEIThresholds,
    buffer_offsets,
    classify_lei,
    landscape_expansion_index,
    lei_arrays,
    lei_by_unit,
)
from gisfix.stack import open_builtup

CELL = 100.0
#: LEI agreement with the cell-centre vector oracle: exact up to float rounding.
LEI_TOL = 1e-9
#: DC 1990 -> 2020, areal vector oracle (ring area, not ring cells), sampled patches:
#: minimum share of patches in the same class and maximum mean |LEI difference|.
DC_AREAL_CLASS_AGREEMENT = 0.85
DC_AREAL_MEAN_ABS_DIFF = 6.0
DC_SAMPLE = 250
DC_RASTER = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")


def hand_case():
    """t0: a 5 x 5 block with a hole; t1 adds the hole, two cells at the edge, one far."""
    b0 = np.zeros((12, 12), bool)
    b0[1:6, 1:6] = True
    b0[3, 3] = False
    b1 = b0.copy()
    b1[3, 3] = True  # infilling: 8 old neighbours -> 100
    b1[3:5, 6] = True  # edge: ring rows 2-5 x cols 5-7 minus 2 = 10 cells, 4 old -> 40
    b1[10, 10] = True  # outlying: 8 vacant neighbours -> 0
    return b0, b1


def test_hand_case_one_cell_buffer():
    b0, b1 = hand_case()
    labels, t = lei_arrays(b0, b1)
    assert len(t) == 3
    by_cell = {(3, 3): (100.0, "infilling", 8), (3, 6): (40.0, "edge-expansion", 10),
               (10, 10): (0.0, "outlying", 8)}
    for (r, c), (lei, kind, ring) in by_cell.items():
        row = t.loc[labels[r, c]]
        assert row["lei"] == pytest.approx(lei)
        assert row["growth_type"] == kind
        assert row["ring_total_cells"] == ring
    assert t.loc[labels[3, 6], "n_cells"] == 2


def test_thresholds_inclusive_as_liu_2010():
    assert classify_lei([1.999, 2.0, 50.0, 50.001, 100.0, np.nan]).tolist() == [
        "outlying", "edge-expansion", "edge-expansion", "infilling", "infilling", None]
    t = LEIThresholds(outlying_below=5, infilling_above=90)
    assert classify_lei([4.9, 5, 90, 90.1], t).tolist() == [
        "outlying", "edge-expansion", "edge-expansion", "infilling"]
    with pytest.raises(DataError, match="outlying_below"):
        LEIThresholds(outlying_below=60, infilling_above=50)


def test_invalid_cells_leave_the_ring():
    b0, b1 = hand_case()
    valid = np.ones_like(b0)
    valid[9:12, 11] = False  # three of the outlying cell's ring cells are not observed
    labels, t = lei_arrays(b0, b1, valid)
    assert t.loc[labels[10, 10], "ring_total_cells"] == 5


def test_eight_vs_four_connectivity():
    b0 = np.zeros((6, 6), bool)
    b1 = b0.copy()
    b1[1, 1] = b1[2, 2] = True  # diagonal neighbours
    assert len(lei_arrays(b0, b1, connectivity=8)[1]) == 1
    assert len(lei_arrays(b0, b1, connectivity=4)[1]) == 2


def test_buffer_offsets_match_vector_distance():
    # offsets of a 250 m buffer on 100 m cells: the cell squares whose centre lies within
    # 250 m of the central square, counted with shapely
    square = shapely.box(-50, -50, 50, 50)
    expected = {(i, j) for i in range(-4, 5) for j in range(-4, 5) if (i, j) != (0, 0)
                and square.distance(shapely.Point(j * CELL, -i * CELL)) <= 250}
    got = {tuple(o) for o in buffer_offsets(250, (CELL, CELL))}
    assert got == expected
    # anisotropic cells (geographic grids): 30 m wide, 60 m high
    expected = {(i, j) for i in range(-4, 5) for j in range(-8, 9) if (i, j) != (0, 0)
                and shapely.box(-15, -30, 15, 30).distance(shapely.Point(j * 30, -i * 60))
                <= 100}
    assert {tuple(o) for o in buffer_offsets(100, (30, 60))} == expected


def vector_lei(b0, b1, buffer_m, connectivity, transform):
    """The oracle: per patch, shapely buffer minus patch, rasterised by cell centre."""
    from rasterio.features import rasterize
    from scipy import ndimage

    structure = np.ones((3, 3)) if connectivity == 8 else None
    lab, n = ndimage.label(b1 & ~b0, structure=structure)
    out = {}
    for k in range(1, n + 1):
        rr, cc = np.nonzero(lab == k)
        x = transform.c + cc * transform.a
        y = transform.f + rr * transform.e
        boxes = shapely.box(x, y + transform.e, x + transform.a, y)
        patch = shapely.union_all(boxes)
        donut = patch.buffer(buffer_m).difference(patch)
        burned = rasterize([(donut, 1)], out_shape=b0.shape, transform=transform, fill=0,
                           dtype="uint8").astype(bool)
        burned &= lab != k
        out[(rr[0], cc[0])] = 100.0 * (burned & b0).sum() / burned.sum()
    return out


@pytest.mark.parametrize("connectivity,buffer_m", [(8, None), (8, 260.0), (4, 300.0),
                                                   (8, 420.0)])
def test_random_raster_against_vector_oracle(connectivity, buffer_m):
    rng = np.random.default_rng(7)
    b0 = rng.random((40, 45)) < 0.25
    b1 = b0 | (rng.random((40, 45)) < 0.12)
    transform = from_origin(1000, 9000, CELL, CELL)
    offsets = None if buffer_m is None else buffer_offsets(buffer_m, (CELL, CELL))
    # a small max_pairs forces many blocks: a patch's pairs must stay in one block
    labels, t = lei_arrays(b0, b1, offsets=offsets, connectivity=connectivity, max_pairs=500)
    oracle = vector_lei(b0, b1, buffer_m or CELL, connectivity, transform)
    assert len(oracle) == len(t)
    for (r, c), lei in oracle.items():
        assert t.loc[labels[r, c], "lei"] == pytest.approx(lei, abs=LEI_TOL)


def write_binary(tmp_path, arrays, years, nodata=255):
    paths = []
    for a, y in zip(arrays, years):
        p = tmp_path / f"built_{y}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=a.shape[1], height=a.shape[0],
                           count=1, dtype="uint8", crs="EPSG:3035", nodata=nodata,
                           transform=from_origin(4_000_000, 3_000_000, CELL, CELL)) as ds:
            ds.write(a.astype("uint8"), 1)
        paths.append(p)
    return paths


def test_stack_patches_polygons_and_units(tmp_path):
    import geopandas as gpd

    b0, b1 = hand_case()
    paths = write_binary(tmp_path, [b0, b1], [2000, 2010])
    stack = open_builtup(paths, "binary")
    p = landscape_expansion_index(stack, 2000, 2010)
    assert list(p.columns[:8]) == ["n_cells", "area_km2", "ring_old_cells",
                                   "ring_total_cells", "ring_old_m2", "ring_total_m2", "lei",
                                   "growth_type"]
    assert p.crs.equals(stack.crs)
    assert np.allclose(p.geometry.area / 1e6, p["area_km2"])
    assert sorted(p["growth_type"]) == ["edge-expansion", "infilling", "outlying"]
    # units: left (cols 0-5) and right (cols 6-11) halves; the edge patch is in the right one
    x0, y0 = 4_000_000, 3_000_000
    units = gpd.GeoDataFrame(
        {"geometry": [shapely.box(x0, y0 - 1200, x0 + 600, y0),
                      shapely.box(x0 + 600, y0 - 1200, x0 + 1200, y0)]},
        index=pd.Index(["L", "R"], name="id"), crs="EPSG:3035")
    patches, summary = lei_by_unit(units, stack, 2000, 2010)
    assert dict(zip(patches["growth_type"], patches["unit_id"])) == {
        "infilling": "L", "edge-expansion": "R", "outlying": "R"}
    assert summary.loc["L", "n_infilling"] == 1
    assert summary.loc["R", "n_edge_expansion"] == 1
    assert summary.loc["R", "edge_expansion_km2"] == pytest.approx(0.02)
    assert summary.loc["R", "new_km2"] == pytest.approx(0.03)
    assert summary.loc["R", "share_outlying"] == pytest.approx(1 / 3)


def test_bad_input(tmp_path):
    b0, b1 = hand_case()
    with pytest.raises(DataError, match="one shape"):
        lei_arrays(b0, b1[:5])
    with pytest.raises(DataError, match="connectivity"):
        lei_arrays(b0, b1, connectivity=6)
    with pytest.raises(DataError, match="positive"):
        buffer_offsets(-5, (CELL, CELL))
    stack = open_builtup(write_binary(tmp_path, [b0, b1], [2000, 2010]), "binary")
    with pytest.raises(DataError, match="later epoch"):
        landscape_expansion_index(stack, 2010, 2000)
    with pytest.raises(DataError, match="narrower than half a cell"):
        landscape_expansion_index(stack, 2000, 2010, buffer_m=20)
    with pytest.raises(ValueError, match="not in this stack"):
        landscape_expansion_index(stack, 1990, 2010)


def test_cli(tmp_path, run_cli):
    import geopandas as gpd
    import pyogrio

    b0, b1 = hand_case()
    paths = write_binary(tmp_path, [b0, b1], [2000, 2010])
    out = tmp_path / "lei.gpkg"
    r = run_cli("lei", *paths, "--encoding", "binary", "--from", 2000, "--to", 2010,
                "--buffer-m", 100, "-o", out)
    assert r.exit_code == 0, r.output
    assert {name for name, _ in pyogrio.list_layers(out)} >= {"patches", "provenance"}
    assert "summary" not in {name for name, _ in pyogrio.list_layers(out)}
    p = gpd.read_file(out, layer="patches")
    assert sorted(p["lei"]) == pytest.approx([0.0, 40.0, 100.0])
    # a second run refuses to overwrite; bad epochs, missing --id, wrong suffix: exit 1
    r = run_cli("lei", *paths, "--encoding", "binary", "--from", 2000, "--to", 2010, "-o", out)
    assert r.exit_code == 1 and "--overwrite" in r.output
    r = run_cli("lei", *paths, "--encoding", "binary", "--from", 2010, "--to", 2000, "-o",
                tmp_path / "b.gpkg")
    assert r.exit_code == 1 and "--to must be after --from" in r.output
    r = run_cli("lei", *paths, "--encoding", "binary", "--from", 1990, "--to", 2010, "-o",
                tmp_path / "b.gpkg")
    assert r.exit_code == 1 and "epoch 1990 is not in this stack" in r.output
    r = run_cli("lei", *paths, "--encoding", "binary", "--from", 2000, "--to", 2010,
                "--boundaries", tmp_path / "u.gpkg", "-o", tmp_path / "b.gpkg")
    assert r.exit_code == 2 and "--boundaries needs --id" in r.output  # usage error
    r = run_cli("lei", *paths, "--encoding", "binary", "--from", 2000, "--to", 2010,
                "-o", tmp_path / "b.csv")
    assert r.exit_code == 1 and "unknown output format" in r.output
    r = run_cli("lei", *paths, "--encoding", "binary", "--from", 2000, "--to", 2010,
                "--outlying-below", 70, "-o", tmp_path / "b.gpkg")
    assert r.exit_code == 1 and "outlying_below" in r.output


@pytest.mark.shared
def test_cli_boundaries_dc(shared, run_cli, tmp_path):
    import geopandas as gpd

    raster = shared(*DC_RASTER)
    counties = shared("ghsl_dc_baltimore", "counties_2017_census.gpkg")
    out = tmp_path / "dc.gpkg"
    r = run_cli("lei", raster, "--from", 2015, "--to", 2020, "--boundaries", counties,
                "--id", "fips", "-o", out)
    assert r.exit_code == 0, r.output
    p = gpd.read_file(out, layer="patches")
    s = gpd.read_file(out, layer="summary")
    assert len(s) == 30
    # every patch with a unit is counted once in the summary
    n = s[["n_outlying", "n_edge_expansion", "n_infilling"]].to_numpy().sum()
    assert n == p["unit_id"].notna().sum()
    # new area per county = built-up growth inside it (cell-centre rule)
    assert s["new_km2"].sum() == pytest.approx(p.loc[p["unit_id"].notna(), "area_km2"].sum(),
                                               rel=0.01)


@pytest.mark.shared
def test_dc_1990_2020_against_areal_vector_oracle(shared):
    """Shapely buffer of each sampled patch against the t0 built-up polygons (areas)."""
    from rasterio.features import shapes
    from rasterio.windows import from_bounds
    from rasterio.windows import transform as wtransform

    stack = open_builtup(shared(*DC_RASTER), "year-built")
    p = landscape_expansion_index(stack, 1990, 2020)  # 8-connectivity, one-cell buffer
    codes = stack.read_ordinal()
    old = codes <= stack.epoch_index(1990)
    rng = np.random.default_rng(0)
    sample = p.loc[rng.choice(p.index, size=DC_SAMPLE, replace=False)]
    diffs, same = [], []
    for _, row in sample.iterrows():
        win = from_bounds(*row.geometry.buffer(3 * CELL).bounds, stack.transform)
        win = win.round_offsets().round_lengths().intersection(
            rasterio.windows.Window(0, 0, stack.width, stack.height))
        sub = old[win.toslices()].astype("uint8")
        t = wtransform(win, stack.transform)
        polys = [shapely.geometry.shape(g) for g, v in shapes(sub, mask=sub > 0, transform=t)]
        old_poly = shapely.union_all(polys) if polys else shapely.Polygon()
        ring = row.geometry.buffer(CELL).difference(row.geometry)
        lei_vec = 100 * ring.intersection(old_poly).area / ring.area
        diffs.append(abs(lei_vec - row["lei"]))
        same.append(classify_lei([lei_vec])[0] == row["growth_type"])
    agreement, mean_diff = float(np.mean(same)), float(np.mean(diffs))
    print(f"DC 1990->2020, {DC_SAMPLE} patches: class agreement {agreement:.3f}, "
          f"mean |LEI diff| {mean_diff:.2f}, max {max(diffs):.1f}")
    assert agreement >= DC_AREAL_CLASS_AGREEMENT
    assert mean_diff <= DC_AREAL_MEAN_ABS_DIFF


@pytest.mark.shared
def test_dc_1990_2020_against_cell_centre_vector_oracle(shared):
    """The GOSTurban-style oracle (buffer, rasterise the donut) on a DC subset: exact."""
    stack = open_builtup(shared(*DC_RASTER), "year-built")
    codes = stack.read_ordinal()
    sub = (slice(600, 700), slice(400, 520))  # a suburban block of 100 x 120 cells
    b0 = codes[sub] <= stack.epoch_index(1990)
    b1 = codes[sub] <= stack.epoch_index(2020)
    labels, t = lei_arrays(b0, b1)
    oracle = vector_lei(b0, b1, CELL, 8, from_origin(0, 0, CELL, CELL))
    assert len(t) == len(oracle) > 20
    for (r, c), lei in oracle.items():
        assert t.loc[labels[r, c], "lei"] == pytest.approx(lei, abs=LEI_TOL)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), buffer_m=st.floats(60, 460), conn=st.sampled_from([4, 8]),
       max_pairs=st.integers(1, 400), p0=st.floats(0.05, 0.6), p1=st.floats(0.02, 0.3))
def test_property_rings_equal_per_patch_dilation(seed, buffer_m, conn, max_pairs, p0, p1):
    """Boundary-cell shortcut and blocking give the rings of a per-patch dilation."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    b0 = rng.random((18, 21)) < p0
    b1 = b0 | (rng.random((18, 21)) < p1)
    valid = rng.random((18, 21)) > 0.05
    off = buffer_offsets(buffer_m, (CELL, CELL))
    labels, t = lei_arrays(b0, b1, valid, offsets=off, connectivity=conn, max_pairs=max_pairs)
    r = np.abs(off).max()
    se = np.zeros((2 * r + 1, 2 * r + 1), bool)
    se[off[:, 0] + r, off[:, 1] + r] = True
    for k in t.index:
        patch = labels == k
        ring = ndimage.binary_dilation(patch, structure=se) & ~patch & valid
        assert t.loc[k, "ring_total_cells"] == ring.sum()
        assert t.loc[k, "ring_old_cells"] == (ring & b0).sum()


def test_patch_across_a_boundary(tmp_path):
    import geopandas as gpd

    b0 = np.zeros((6, 12), bool)
    b1 = b0.copy()
    b1[0, 5] = b1[1, 5] = b1[0, 6] = True  # one patch: two cells left, one right
    b1[4, 5] = b1[4, 6] = True  # a tie: the first unit wins
    stack = open_builtup(write_binary(tmp_path, [b0, b1], [2000, 2010]), "binary")
    x0, y0 = 4_000_000, 3_000_000
    units = gpd.GeoDataFrame(
        {"geometry": [shapely.box(x0, y0 - 600, x0 + 600, y0),
                      shapely.box(x0 + 600, y0 - 600, x0 + 1200, y0)]},
        index=pd.Index(["L", "R"], name="id"), crs="EPSG:3035")
    patches, summary = lei_by_unit(units, stack, 2000, 2010, polygons=False)
    assert patches["unit_id"].tolist() == ["L", "L"]
    assert summary["n_outlying"].tolist() == [2, 0]
    assert summary["outlying_km2"].tolist() == pytest.approx([0.03, 0.02])
