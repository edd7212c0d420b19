"""Windowed largest patch, default core, dilation, core-periphery and stages; on dask too.

Oracles (computed here on the whole grid, with scipy only):
- the largest patch: one ``scipy.ndimage.label`` of the whole grid, ``np.argmax`` of the
  label counts (the first in raster order on a tie), its area the sum of its cells' row
  areas;
- the default core: that patch, ``scipy.ndimage.binary_fill_holes`` (4-connected
  background), then ``scipy.ndimage.binary_dilation`` by the structuring element of the
  buffer rule written out here (a cell at offset (i, j) is in the buffer D when
  ``hypot(max(|i| - 1/2, 0) h, max(|j| - 1/2, 0) w) <= D``);
- core-periphery: the five area sums of the whole-grid masks.
The windowed runs use strips of a few rows (many patches and the core cross strip edges),
on the DC raster and on hypothesis rasters; a 2-worker ``distributed.LocalCluster`` gives
the same answers as the in-process run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from rasterio.windows import Window
from scipy import ndimage

from gisfix import diffusion as d
from gisfix.stack import open_builtup
from gisfix.stages import stage_evidence

DC_RASTER = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
BACAU = ("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif")
RTOL = 1e-12


# -- whole-grid oracles ----------------------------------------------------------------------
def whole_built(stack, epoch):
    codes = stack.read_ordinal()
    return codes <= stack.epoch_index(epoch), codes != 255


def whole_largest(built, connectivity=8):
    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    lab, n = ndimage.label(built, structure=structure)
    if n == 0:
        return np.zeros(built.shape, bool)
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    return lab == int(np.argmax(counts))


def whole_lps(stack, epoch, connectivity=8):
    built, _ = whole_built(stack, epoch)
    area = stack.row_cell_areas()[:, None]
    total = float((built * area).sum())
    big = whole_largest(built, connectivity)
    return float((big * area).sum()) / total if total > 0 else np.nan


def buffer_element(dilate_m, w, h):
    ri = int(np.floor(dilate_m / h + 0.5)) + 1
    rj = int(np.floor(dilate_m / w + 0.5)) + 1
    ii, jj = np.mgrid[-ri:ri + 1, -rj:rj + 1]
    d2 = (np.maximum(np.abs(ii) - 0.5, 0) * h) ** 2 + (np.maximum(np.abs(jj) - 0.5, 0) * w) ** 2
    return d2 <= dilate_m ** 2 * (1 + 1e-12)


def whole_core(stack, t0, dilate_m=None, connectivity=8):
    built, _ = whole_built(stack, t0)
    core = ndimage.binary_fill_holes(whole_largest(built, connectivity))
    if dilate_m:
        t = stack.transform
        core = ndimage.binary_dilation(core, structure=buffer_element(dilate_m, abs(t.a),
                                                                      abs(t.e)))
    return core


def whole_core_periphery(stack, t0, t1, core):
    b0, valid = whole_built(stack, t0)
    b1, _ = whole_built(stack, t1)
    area = stack.row_cell_areas()[:, None] / 1e6
    new = b1 & ~b0 & valid
    avail = valid & ~b0
    n_all, n_core, v_all, v_core, core_km2 = (
        float((m * area).sum()) for m in (new, new & core, avail, avail & core, core & valid))
    return {"core_km2": core_km2, "new_km2": n_all, "new_core_km2": n_core,
            "core_share_new": n_core / n_all, "core_share_available": v_core / v_all}


def crossing(labels, rows):
    """Number of labels present on both sides of the strip edges every ``rows`` rows."""
    edges = np.arange(rows, labels.shape[0], rows)
    a, b = labels[edges - 1], labels[edges]
    return len(np.intersect1d(a[a > 0], b[b > 0]))


# -- the DC raster, strips of a few rows -------------------------------------------------------
@pytest.mark.shared
@pytest.mark.parametrize("rows,conn", [(3, 8), (5, 4), (7, 8)])
def test_dc_largest_patch_share_equals_whole_grid(shared, rows, conn):
    stack = open_builtup(shared(*DC_RASTER), "year-built")
    eps = [1975, 1990, 2005, 2030]
    got = d.largest_patch_share(stack, eps, conn, block_rows=rows)
    want = [whole_lps(stack, e, conn) for e in eps]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=RTOL)
    built, _ = whole_built(stack, 2030)
    lab, _ = ndimage.label(built, structure=np.ones((3, 3)) if conn == 8 else None)
    assert crossing(lab, rows) > 500  # many patches cross strip edges
    big = whole_largest(built, conn)
    rr = np.flatnonzero(big.any(axis=1))
    assert rr[-1] - rr[0] > 20 * rows  # and the largest one crosses dozens


@pytest.mark.shared
@pytest.mark.parametrize("t0,t1,rows,dilate_m", [(1975, 1990, 4, None), (1990, 2020, 6, None),
                                                  (2000, 2015, 4, 250.0)])
def test_dc_core_and_core_periphery_equal_whole_grid(shared, t0, t1, rows, dilate_m):
    stack = open_builtup(shared(*DC_RASTER), "year-built")
    cells = rows * stack.width  # strips of `rows` rows (block-aligned: 2-row blocks)
    opts = {"dilate_m": dilate_m} if dilate_m else {}
    want = whole_core(stack, t0, dilate_m)
    big = whole_largest(whole_built(stack, t0)[0])
    assert (ndimage.binary_fill_holes(big) & ~big).any()  # the core has holes to fill
    got = d.core_mask(stack, t0, max_cells=cells, **opts)
    assert np.array_equal(got, want)
    for win in (Window(0, 101, stack.width, 37), Window(200, 397, 311, 5)):
        part = d.core_mask(stack, t0, window=win, max_cells=cells, **opts)
        assert np.array_equal(part, want[win.row_off:win.row_off + win.height,
                                         win.col_off:win.col_off + win.width])
    cp = d.core_periphery(stack, t0, t1, max_cells=cells, **opts)
    ref = whole_core_periphery(stack, t0, t1, want)
    for k, v in ref.items():
        assert cp[k] == pytest.approx(v, rel=RTOL), k


@pytest.mark.shared
def test_dc_holes_are_filled_across_strips(shared):
    """The core's holes span several strips and are filled like binary_fill_holes does."""
    stack = open_builtup(shared(*DC_RASTER), "year-built")
    built, _ = whole_built(stack, 2000)
    big = whole_largest(built)
    holes = ndimage.binary_fill_holes(big) & ~big
    lab, n = ndimage.label(holes)
    spans = ndimage.find_objects(lab)
    tall = sum(1 for s in spans if s[0].stop - s[0].start >= 5)
    assert n > 100 and tall > 5
    got = d.core_mask(stack, 2000, max_cells=4 * stack.width)
    assert np.array_equal(got, big | holes)


@pytest.mark.shared
def test_dc_stage_evidence_windowed_equals_whole_grid(shared):
    stack = open_builtup(shared(*DC_RASTER), "year-built", epochs=[1990, 2000, 2010])
    small = stage_evidence(stack, max_cells=6 * stack.width)
    big = stage_evidence(stack)
    pd.testing.assert_frame_equal(small, big, check_exact=False, rtol=RTOL)
    for _, r in small.iterrows():
        t0, t1 = int(r["t0"]), int(r["t1"])
        ref = whole_core_periphery(stack, t0, t1, whole_core(stack, t0))
        assert r["core_share_new"] == pytest.approx(ref["core_share_new"], rel=RTOL)
        assert r["largest_patch_share_t0"] == pytest.approx(whole_lps(stack, t0), rel=RTOL)
        b0, _ = whole_built(stack, t0)
        assert r["builtup_t0_km2"] == pytest.approx(
            float((b0 * stack.row_cell_areas()[:, None]).sum()) / 1e6, rel=RTOL)


@pytest.mark.shared
def test_dc_windowed_memory_is_bounded_by_the_strip(shared):
    """No whole-grid array: numpy's peak allocation follows the strip, not the grid."""
    import tracemalloc

    stack = open_builtup(shared(*DC_RASTER), "year-built", epochs=[1990, 2020])
    n = stack.width * stack.height

    def runs(cells):
        return (lambda: d.largest_patch_share(stack, window_cells=cells),
                lambda: d.core_mask(stack, 1990, window=Window(0, 400, stack.width, 6),
                                    max_cells=cells, dilate_m=250.0),
                lambda: d.core_periphery(stack, 1990, 2020, max_cells=cells))

    def peaks(cells):
        out = []
        for f in runs(cells):
            f()  # warm the one-off caches (row areas, CRS objects, imports)
            tracemalloc.start()
            f()
            out.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        return np.array(out)

    small = peaks(40 * stack.width)   # 22 strips
    whole = peaks(n)                  # one strip: the whole grid
    assert (small < 1.5 * n).all(), small      # under 1.5 bytes per grid cell
    assert (small * 3 < whole).all(), (small, whole)


@pytest.mark.shared
def test_geographic_largest_patch_share_uses_row_areas(shared):
    """Bacau (EPSG:4326): the largest patch's true area over the built area, per-row areas."""
    stack = open_builtup(shared(*BACAU), "ldsmt")
    assert stack.is_geographic and np.ptp(stack.row_cell_areas()) > 0
    got = d.largest_patch_share(stack, block_rows=3)
    want = [whole_lps(stack, e) for e in stack.epochs]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=RTOL)
    plain = d.core_mask(stack, 1990, max_cells=5 * stack.width)
    assert np.array_equal(plain, whole_core(stack, 1990))


@pytest.mark.shared
def test_geographic_dilated_core_per_row_elements(shared):
    r"""Bacau (~21 x 31 m cells, EPSG:4326): each row is dilated by its own element.

    Oracle: cell width along the parallel :math:`N(\phi)\cos\phi\,\Delta\lambda` at the
    row's centre latitude, cell height the meridian distance between the row's edges
    (``pyproj.Geod``); each row of the result is that row of a whole-grid dilation by the
    row's element.  The buffer is 3.5 median cell widths, so the element changes between
    the northern and the southern rows.
    """
    from pyproj import Geod

    stack = open_builtup(shared(*BACAU), "ldsmt")
    t = stack.transform
    geod = Geod(ellps="WGS84")
    a, f = geod.a, geod.f
    e2 = f * (2 - f)
    rows = np.arange(stack.height)
    lat = np.radians(t.f + t.e * (rows + 0.5))
    width = a / np.sqrt(1 - e2 * np.sin(lat) ** 2) * np.cos(lat) * np.radians(abs(t.a))
    top = t.f + t.e * rows
    height = np.asarray(geod.inv(np.full(rows.shape, t.c), top, np.full(rows.shape, t.c),
                                 top + t.e)[2])
    buffer_m = 3.5 * float(np.median(width))
    plain = whole_core(stack, 1990)
    want = np.zeros_like(plain)
    cache = {}
    for r in rows:
        se = buffer_element(buffer_m, width[r], height[r])
        key = se.tobytes() + bytes(se.shape)
        if key not in cache:
            cache[key] = ndimage.binary_dilation(plain, structure=se)
        want[r] = cache[key][r]
    assert len(cache) >= 2
    got = d.core_mask(stack, 1990, dilate_m=buffer_m, max_cells=3 * stack.width)
    assert np.array_equal(got, want)
    cp = d.core_periphery(stack, 1990, 2014, dilate_m=buffer_m, max_cells=5 * stack.width)
    ref = whole_core_periphery(stack, 1990, 2014, want)
    for k, v in ref.items():
        assert cp[k] == pytest.approx(v, rel=RTOL), k


# -- hypothesis rasters ------------------------------------------------------------------------
def write_binary(path, arrays, years, cell=100.0):
    paths = []
    for a, y in zip(arrays, years):
        p = path / f"b_{y}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=a.shape[1], height=a.shape[0],
                           count=1, dtype="uint8", crs="EPSG:3035", nodata=255,
                           transform=from_origin(4_000_000, 3_000_000, cell, cell)) as ds:
            ds.write(a.astype("uint8"), 1)
        paths.append(p)
    return open_builtup(paths, "binary")


@st.composite
def rasters(draw):
    h = draw(st.integers(3, 24))
    w = draw(st.integers(3, 24))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    p0 = draw(st.floats(0.2, 0.7))
    rng = np.random.default_rng(seed)
    b0 = rng.random((h, w)) < p0
    b1 = b0 | (rng.random((h, w)) < 0.3)
    b1 |= b0
    return b0, b1


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=rasters(), rows=st.integers(1, 5), conn=st.sampled_from([4, 8]),
       dilate=st.sampled_from([None, 100.0, 250.0]))
def test_hypothesis_windowed_equals_whole_grid(tmp_path_factory, case, rows, conn, dilate):
    b0, b1 = case
    stack = write_binary(tmp_path_factory.mktemp("h"), [b0, b1], [2000, 2010])
    area = stack.row_cell_areas()[:, None]
    lps = d.largest_patch_share(stack, connectivity=conn, block_rows=rows)
    for e, b in ((2000, b0), (2010, b1)):
        big = whole_largest(b, conn)
        want = float((big * area).sum()) / float((b * area).sum()) if b.any() else np.nan
        assert lps[e] == pytest.approx(want, rel=RTOL, nan_ok=True)
    cells = rows * stack.width
    want = ndimage.binary_fill_holes(whole_largest(b0))
    if dilate:
        want = ndimage.binary_dilation(want, structure=buffer_element(dilate, 100.0, 100.0))
    opts = {"dilate_m": dilate} if dilate else {}
    assert np.array_equal(d.core_mask(stack, 2000, max_cells=cells, **opts), want)
    r0 = min(rows, stack.height - 1)
    win = Window(1, r0, stack.width - 1, stack.height - r0)
    assert np.array_equal(d.core_mask(stack, 2000, max_cells=cells, window=win, **opts),
                          want[r0:, 1:])
    cp = d.core_periphery(stack, 2000, 2010, max_cells=cells, **opts)
    new = b1 & ~b0
    avail = ~b0
    km2 = area / 1e6
    assert cp["new_core_km2"] == pytest.approx(float(((new & want) * km2).sum()), rel=RTOL,
                                               abs=1e-15)
    assert cp["core_km2"] == pytest.approx(float((want * km2).sum()), rel=RTOL, abs=1e-15)
    assert cp["core_share_available"] == pytest.approx(
        float((avail & want).sum()) / avail.sum() if avail.any() else np.nan, rel=RTOL,
        nan_ok=True)
    # the stage evidence's default core is the same core with the stage's connectivity
    if b0.any() and (b1 & ~b0).any():
        ev = stage_evidence(stack, connectivity=conn, max_cells=cells)
        core_c = ndimage.binary_fill_holes(whole_largest(b0, conn))
        assert ev["core_share_new"].iloc[0] == pytest.approx(
            float((new & core_c).sum()) / new.sum(), rel=RTOL)


def test_ties_pick_the_first_patch_in_raster_order(tmp_path):
    """Two patches of 4 cells: the first in raster order is the core (as np.argmax)."""
    b = np.zeros((9, 6), bool)
    b[6:8, 0:2] = True   # second in raster order
    b[1:3, 3:5] = True   # first in raster order
    b[4, 0] = True
    stack = write_binary(tmp_path, [b, b], [2000, 2010])
    core = d.core_mask(stack, 2000, max_cells=stack.width)
    assert np.array_equal(core, np.pad(np.ones((2, 2), bool), ((1, 6), (3, 1))))


# -- dask --------------------------------------------------------------------------------------
@pytest.mark.shared
def test_dask_local_cluster_identical(shared, dask_client):
    stack = open_builtup(shared(*DC_RASTER), "year-built", epochs=[1990, 2000, 2010])
    cells = 48 * stack.width
    pd.testing.assert_series_equal(
        d.largest_patch_share(stack, block_rows=24, scheduler=dask_client),
        d.largest_patch_share(stack, block_rows=24), check_exact=True)
    for opts in ({}, {"dilate_m": 250.0}, {"radius_m": 5000.0}):
        pd.testing.assert_series_equal(
            d.core_periphery(stack, 1990, 2010, max_cells=cells, scheduler=dask_client,
                             **opts),
            d.core_periphery(stack, 1990, 2010, max_cells=cells, **opts), check_exact=True)
    pd.testing.assert_frame_equal(
        d.core_periphery_series(stack, max_cells=cells, scheduler=dask_client),
        d.core_periphery_series(stack, max_cells=cells), check_exact=True)
    pd.testing.assert_frame_equal(d.builtup_centroids(stack, max_cells=cells,
                                                      scheduler=dask_client),
                                  d.builtup_centroids(stack, max_cells=cells), check_exact=True)
    pd.testing.assert_frame_equal(
        d.standard_deviational_ellipse(stack, max_cells=cells, scheduler=dask_client),
        d.standard_deviational_ellipse(stack, max_cells=cells), check_exact=True)
    pd.testing.assert_frame_equal(
        d.directional_growth(stack, 1990, 2010, max_cells=cells, scheduler=dask_client),
        d.directional_growth(stack, 1990, 2010, max_cells=cells), check_exact=True)
    pd.testing.assert_frame_equal(
        stage_evidence(stack, max_cells=cells, scheduler=dask_client.scheduler.address),
        stage_evidence(stack, max_cells=cells), check_exact=True)
    core = d.core_mask(stack, 2000, max_cells=cells, scheduler=dask_client)
    assert np.array_equal(core, whole_core(stack, 2000))
