"""The per-zone largest patch of the stage evidence, windowed (issue 14).

``gisfix.stages._zone_largest_patch`` and :func:`gisfix.stages.zone_evidence` label the
patches of every zone strip by strip (full-width row strips, zones read per strip) and
join the pieces across strip edges by union-find, two cells joining iff both are built
and in the same zone.  The oracle is the previous implementation, kept here verbatim: each
zone labelled with ``scipy.ndimage.label`` in the window of its bounding box.

- the DC raster (GHSL year-built, Mollweide) with the county zones and strips of 2-6 rows;
- hypothesis rasters (projected and geographic grids, year-built and fraction encodings,
  cells invalid at one epoch only) with random zone grids: zones in pieces, patches that
  leave a zone and come back;
- a hand-solved case of a patch leaving and re-entering its zone;
- a 2-worker ``distributed.LocalCluster``: the same answer as in process.

Areas: where every cell has one area (equal-area grids) the windowed path multiplies the
cell count of the largest patch by the cell area; the oracle adds cell areas one by one,
so the two agree to the last bits (relative 1e-12), and the patch (its cell count) exactly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gisfix.stack import open_builtup
from gisfix.stages import _in_window, _zone_largest_patch, zone_evidence

DC = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
COUNTIES = ("ghsl_dc_baltimore", "counties_2017_census.gpkg")


# -- the oracle: the bounding-box implementation before issue 14, verbatim ----------------
def _oracle_largest_patch(stack, zones, n, boxes, t, connectivity: int) -> np.ndarray:
    """Area (km²) of the largest connected built patch inside each zone at epoch ``t``.

    Patches are cut by the zone boundaries.  Each zone is read in the window of its
    bounding box (``boxes``: row0, row1, col0, col1 inclusive; row0 < 0 for an empty zone).
    """
    from rasterio.windows import Window
    from scipy import ndimage

    from gisfix.diffusion import _built_layers

    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    out = np.zeros(n)
    for k in range(n):
        r0, r1, c0, c1 = (int(v) for v in boxes[k])
        if r0 < 0:
            continue
        win = Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1)
        built, valid = _built_layers(stack, win, [t])
        m = (_in_window(zones, win) == k) & built[t] & valid
        lab, m_n = ndimage.label(m, structure=structure)
        if m_n == 0:
            continue
        w = np.broadcast_to(stack.row_cell_areas(win)[:, None], m.shape)
        out[k] = np.bincount(lab.ravel(), weights=w.ravel(), minlength=m_n + 1)[1:].max() / 1e6
    return out


def _boxes(stack, zones, n, t):
    """Bounding boxes of each zone's built land at ``t`` (whole grid read: test only)."""
    from gisfix.diffusion import _built_layers

    built, valid = _built_layers(stack, None, [t])
    z = np.asarray(_in_window(zones, stack.resolve_window(None)))
    boxes = np.full((n, 4), -1, np.int64)
    for k in range(n):
        rr, cc = np.nonzero((z == k) & built[t] & valid)
        if rr.size:
            boxes[k] = rr.min(), rr.max(), cc.min(), cc.max()
    return boxes


def _oracle(stack, zones, n, t, connectivity):
    return _oracle_largest_patch(stack, zones, n, _boxes(stack, zones, n, t), t, connectivity)


def _same(got, want, stack):
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    ra = stack.row_cell_areas()
    if np.all(ra == ra[0]):  # the same patch: the same number of cells
        cell_km2 = ra[0] / 1e6
        assert np.array_equal(np.rint(got / cell_km2), np.rint(want / cell_km2))


# -- the DC raster with the county zones ----------------------------------------------------
@pytest.fixture(scope="module")
def dc():
    import geopandas as gpd
    from conftest import shared_path

    from gisfix.zonal import label_cells

    stack = open_builtup(shared_path(*DC), "year-built")
    counties = gpd.read_file(shared_path(*COUNTIES), layer="counties").set_index("fips")
    zones = label_cells(counties, stack)
    return stack, zones, counties


@pytest.mark.shared
@pytest.mark.parametrize(("rows", "t", "connectivity"),
                         [(3, 1990, 8), (5, 2020, 8), (7, 2000, 4)])
def test_dc_counties_tiny_strips(shared, dc, rows, t, connectivity):
    stack, zones, counties = dc
    n = len(counties)
    want = _oracle(stack, zones, n, t, connectivity)
    got = _zone_largest_patch(stack, zones, n, t, connectivity, max_cells=rows * stack.width)
    _same(got, want, stack)
    assert (want > 0).sum() >= 20
    # the zones as a function of a window (as stages_by_units gives them): the same
    got_fn = _zone_largest_patch(stack, lambda win: zones[_slices(win)], n, t, connectivity,
                                 max_cells=rows * stack.width)
    np.testing.assert_array_equal(got_fn, got)
    # the big patches cross many strip edges
    assert want.max() / (stack.row_cell_areas()[0] / 1e6) > 10_000


def _slices(win):
    r0, c0 = int(win.row_off), int(win.col_off)
    return slice(r0, r0 + int(win.height)), slice(c0, c0 + int(win.width))


def _evidence(stack, zones, n, t0, t1, **kw):
    core = lambda win: zones[_slices(win)] % 2 == 0  # noqa: E731 - any core will do
    ev, m0, m1 = zone_evidence(stack, zones, list(range(n)), t0, t1, core=core,
                               patch_zone=pd.Series(dtype=object), patches=pd.DataFrame(),
                               **kw)
    return ev, m0, m1


@pytest.mark.shared
def test_dc_zone_evidence_strips_and_threads(shared, dc):
    """zone_evidence: tiny strips and a threaded scheduler give the whole-grid answer."""
    stack, zones, counties = dc
    n = len(counties)
    whole, m0, m1 = _evidence(stack, zones, n, 1990, 2020, max_cells=stack.width * stack.height)
    for t, col in ((1990, "largest_patch_share_t0"), (2020, "largest_patch_share_t1")):
        u = whole["builtup_t0_km2" if t == 1990 else "builtup_t1_km2"].to_numpy()
        lp = np.where(u > 0, whole[col].to_numpy() * u, 0.0)
        np.testing.assert_allclose(lp, _oracle(stack, zones, n, t, 8), rtol=1e-9, atol=1e-12)
    strips, s0, s1 = _evidence(stack, zones, n, 1990, 2020, max_cells=5 * stack.width,
                               scheduler="threads")
    pd.testing.assert_frame_equal(strips, whole, check_exact=False, rtol=1e-12)
    np.testing.assert_allclose(s0, m0, rtol=1e-12)
    np.testing.assert_allclose(s1, m1, rtol=1e-12)
    # same strips in process and threaded: bit for bit
    again, _, _ = _evidence(stack, zones, n, 1990, 2020, max_cells=5 * stack.width)
    pd.testing.assert_frame_equal(again, strips, check_exact=True)


# -- hand-solved: a patch that leaves its zone and comes back --------------------------------
def _write(folder: Path, arrays: dict, crs="EPSG:3035", encoding="year-built",
           epochs=(1990, 2000)):
    import rasterio
    from rasterio.transform import from_origin

    if crs == "EPSG:4326":
        transform = from_origin(10.0, 60.0, 0.01, 0.01)
    else:
        transform = from_origin(4_000_000, 3_000_000, 100, 100)
    paths = []
    for name, arr in arrays.items():
        path = folder / f"{name}.tif"
        dtype = "uint16" if encoding == "year-built" else "float32"
        nodata = 65535 if encoding == "year-built" else float("nan")
        with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0],
                           count=1, dtype=dtype, crs=crs, nodata=nodata,
                           transform=transform) as ds:
            ds.write(arr.astype(dtype), 1)
        paths.append(path)
    if encoding == "year-built":
        return open_builtup(paths[0], "year-built", epochs=list(epochs))
    return open_builtup(paths, "fraction")


def test_patch_leaving_and_reentering_its_zone(tmp_path):
    """A U of built cells in zone 0 whose bottom lies in zone 1: two patches in zone 0."""
    years = np.full((6, 7), 65535, np.uint16)
    years[0:5, 1] = 2000      # left arm, 5 cells (zone 0)
    years[1:5, 5] = 2000      # right arm, 4 cells (zone 0)
    years[4, 2:5] = 2000      # the bottom, 3 cells (zone 1), joins the arms
    zones = np.zeros((6, 7), np.int64)
    zones[3:, 2:5] = 1
    stack = _write(tmp_path, {"yb": years}, epochs=[2000])
    cell_km2 = 0.01
    for rows in (1, 2, 3, 6):
        got = _zone_largest_patch(stack, zones, 2, 2000, 8, max_cells=rows * 7)
        # zone 0: the arms meet only through zone 1: two patches, 5 and 4 cells
        np.testing.assert_allclose(got, [5 * cell_km2, 3 * cell_km2], rtol=1e-12)
        _same(got, _oracle(stack, zones, 2, 2000, 8), stack)
    # one zone: the U is one patch of 12 cells
    one = _zone_largest_patch(stack, np.zeros((6, 7), np.int64), 1, 2000, 8, max_cells=14)
    np.testing.assert_allclose(one, [12 * cell_km2], rtol=1e-12)


# -- hypothesis: random rasters, random zones -----------------------------------------------
def _random_case(seed, h, w, n, block, crs, encoding, p_built, p_flip):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(-1, n, size=(-(-h // block), -(-w // block)))
    zones = np.kron(coarse, np.ones((block, block), np.int64))[:h, :w]
    flip = rng.random((h, w)) < p_flip  # scattered cells: zones in many pieces
    zones = np.where(flip, rng.integers(-1, n, size=(h, w)), zones)
    if encoding == "year-built":
        years = np.where(rng.random((h, w)) < p_built, rng.choice([1990, 2000], (h, w)), 2030)
        years = np.where(rng.random((h, w)) < 0.05, 65535, years)
        arrays = {"yb": years}
    else:  # fractions with cells invalid at one epoch only
        f0 = (rng.random((h, w)) < p_built * 0.6) * 1.0
        f1 = np.maximum(f0, (rng.random((h, w)) < p_built) * 1.0)
        f0[rng.random((h, w)) < 0.05] = np.nan
        f1[rng.random((h, w)) < 0.05] = np.nan
        arrays = {"f_1990": f0, "f_2000": f1}
    return arrays, zones.astype(np.int64)


def test_random_rasters_and_zones():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(0, 2 ** 32 - 1), h=st.integers(1, 24), w=st.integers(1, 24),
           n=st.integers(1, 6), block=st.integers(1, 6),
           crs=st.sampled_from(["EPSG:3035", "EPSG:4326"]),
           encoding=st.sampled_from(["year-built", "fraction"]),
           p_built=st.floats(0.2, 0.8), p_flip=st.sampled_from([0.0, 0.1, 0.4]),
           rows=st.integers(1, 7), connectivity=st.sampled_from([8, 4]),
           as_function=st.booleans())
    def check(seed, h, w, n, block, crs, encoding, p_built, p_flip, rows, connectivity,
              as_function):
        arrays, zones = _random_case(seed, h, w, n, block, crs, encoding, p_built, p_flip)
        with tempfile.TemporaryDirectory() as d:
            stack = _write(Path(d), arrays, crs=crs, encoding=encoding)
            z = (lambda win: zones[_slices(win)]) if as_function else zones
            for t in (1990, 2000):
                want = _oracle(stack, zones, n, t, connectivity)
                got = _zone_largest_patch(stack, z, n, t, connectivity, max_cells=rows * w)
                _same(got, want, stack)
            stack.close()

    check()


# -- a 2-worker LocalCluster ---------------------------------------------------------------
@pytest.mark.shared
def test_dc_local_cluster_identical(shared, dc, dask_client):
    stack, zones, counties = dc
    n = len(counties)
    cells = 24 * stack.width  # 37 strips
    ref = _zone_largest_patch(stack, zones, n, 2020, 8, max_cells=cells)
    got = _zone_largest_patch(stack, zones, n, 2020, 8, max_cells=cells, scheduler=dask_client)
    np.testing.assert_array_equal(got, ref)
    _same(got, _oracle(stack, zones, n, 2020, 8), stack)
    ev_ref, m0_ref, m1_ref = _evidence(stack, zones, n, 1990, 2020, max_cells=cells)
    ev, m0, m1 = _evidence(stack, zones, n, 1990, 2020, max_cells=cells,
                           scheduler=dask_client.scheduler.address)
    pd.testing.assert_frame_equal(ev, ev_ref, check_exact=True)
    np.testing.assert_array_equal(m0, m0_ref)
    np.testing.assert_array_equal(m1, m1_ref)


@pytest.mark.shared
def test_dc_unit_stages_on_local_cluster(shared, dask_client):
    """stages_by_units with scheduler=: the LEI and the evidence strips on the cluster."""
    import geopandas as gpd

    from gisfix.stages import stages_by_units

    stack = open_builtup(shared(*DC), "year-built", epochs=[2000, 2010])
    counties = gpd.read_file(shared(*COUNTIES), layer="counties").set_index("fips")
    ref = stages_by_units(counties, stack, max_cells=120_000)
    got = stages_by_units(counties, stack, max_cells=120_000, scheduler=dask_client)
    pd.testing.assert_frame_equal(got.stages, ref.stages, check_exact=True)
