"""Windowed urban extents and tracking: identical to the whole-grid algorithm.

Oracle: the whole-grid delineation, polygonisation and tracking of ``gisfix.extents`` as
they were before the windowed rewrite (aggregated grid and labels of every epoch in memory,
one ``scipy.ndimage.label`` / ``binary_fill_holes`` / majority smoothing on the whole grid),
copied verbatim below (section "oracle").  The windowed implementation runs with strips a
few aggregated rows high, so that many extents, holes and smoothing fronts cross strip
edges, and must give the same extents (ids, cells, areas, built-up areas, populations),
the same label grids cell by cell, polygons covering the same cells, and the same events.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from scipy import ndimage

from gisfix import extents as ext
from gisfix.errors import DataError, RasterError
from gisfix.extents import PRESETS

log = logging.getLogger(__name__)
DC = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")


# ---------------------------------------------------------------------------------------
# oracle: the whole-grid implementation (gisfix.extents before the windowed rewrite)
# ---------------------------------------------------------------------------------------

def _aggregate(a: np.ndarray, block: int, how: str = "sum") -> np.ndarray:
    if block == 1:
        return a.astype(float)
    h, w = a.shape
    ph, pw = (-h) % block, (-w) % block
    a = np.pad(a.astype(float), ((0, ph), (0, pw)), constant_values=0.0)
    return a.reshape(a.shape[0] // block, block, a.shape[1] // block, block).sum(axis=(1, 3))


def _aggregate_stack(stack, epoch: int, block: int, max_cells: int):
    """Return built, observed and total m² per aggregated cell, reading row strips."""
    from rasterio.windows import Window

    rows = max(block, (max_cells // max(1, stack.width)) // block * block)
    parts = ([], [], [])
    for r0 in range(0, stack.height, rows):
        w = Window(0, r0, stack.width, min(rows, stack.height - r0))
        cell = stack.row_cell_areas(w)[:, None]
        frac = np.nan_to_num(stack.fraction(epoch, w), nan=0.0).astype(float)
        observed = stack.valid(w, epoch=epoch)
        parts[0].append(_aggregate(frac * cell, block))
        parts[1].append(_aggregate(observed * cell, block))
        parts[2].append(_aggregate(np.broadcast_to(cell, frac.shape), block))
    return tuple(np.vstack(p) for p in parts)


def _read_population(population, stack) -> np.ndarray:
    """Check a population array on the built-up grid (measures take data, never paths)."""
    if not isinstance(population, np.ndarray) or population.ndim != 2:
        raise DataError(f"population must be a 2-D array on the built-up grid (shape "
                        f"{stack.shape}); got {type(population).__name__}. Read a population "
                        "raster with a reader first (e.g. rasterio, on the grid of the stack)")
    if population.shape != stack.shape:
        raise RasterError(f"the population array has shape {population.shape}, the built-up "
                          f"grid {stack.shape}; they must be on the same grid")
    return np.nan_to_num(population.astype(float), nan=0.0)


def _majority_smooth(mask: np.ndarray, max_iter: int = 100) -> np.ndarray:
    kernel = np.ones((3, 3), dtype=np.int32)
    kernel[1, 1] = 0
    for _ in range(max_iter):
        count = ndimage.convolve(mask.astype(np.int32), kernel, mode="constant", cval=0)
        add = ~mask & (count >= 5)
        if not add.any():
            break
        mask = mask | add
    return mask


def _fill_small_holes(mask: np.ndarray, max_cells: float, connectivity: int) -> np.ndarray:
    if max_cells <= 0:
        return mask
    # holes are connected by the dual rule: 4 for 8-connected extents and vice versa
    dual = ndimage.generate_binary_structure(2, 2 if connectivity == 4 else 1)
    holes = ndimage.binary_fill_holes(mask, structure=ndimage.generate_binary_structure(
        2, 1 if connectivity == 4 else 2)) & ~mask
    lab, n = ndimage.label(holes, structure=dual)
    if n == 0:
        return mask
    size = np.bincount(lab.ravel())
    small = size < max_cells
    small[0] = False
    return mask | small[lab]


@dataclass(frozen=True)
class _Delineation:
    """Extents of one epoch on the (aggregated) grid: labels 1..n sorted by decreasing area."""

    epoch: int
    labels: np.ndarray
    n: int
    area_m2: np.ndarray
    built_m2: np.ndarray
    pop: np.ndarray | None
    block: int
    connectivity: int
    transform: object

    def stats(self) -> pd.DataFrame:
        """Cells, area and built-up area (and population) of each label 1..n."""
        flat = self.labels.ravel()
        n = self.n
        out = pd.DataFrame({
            "extent_id": np.arange(1, n + 1),
            "cells": np.bincount(flat, minlength=n + 1)[1:],
            "area_km2": np.bincount(flat, weights=self.area_m2.ravel(), minlength=n + 1)[1:]
            / 1e6,
            "builtup_km2": np.bincount(flat, weights=self.built_m2.ravel(),
                                       minlength=n + 1)[1:] / 1e6,
        })
        if self.pop is not None:
            out["population"] = np.bincount(flat, weights=self.pop.ravel(),
                                            minlength=n + 1)[1:]
        return out

    def fine_labels(self, shape: tuple[int, int]) -> np.ndarray:
        """Labels on the stack's own grid (each aggregated cell repeated block x block)."""
        b = self.block
        lab = self.labels if b == 1 else np.repeat(np.repeat(self.labels, b, axis=0), b, axis=1)
        return np.ascontiguousarray(lab[: shape[0], : shape[1]])


def _delineate(stack, epoch, *, kind="centre", block=1, population=None, threshold=None,
               connectivity=None, min_population=None, min_area_km2=None,
               fill_holes_km2=None, smooth=None, max_cells=4_000_000) -> _Delineation:
    """Apply the rules of :func:`urban_extents`; return the labelled (aggregated) grid."""
    if kind not in PRESETS:
        raise DataError(f"kind must be one of {', '.join(PRESETS)}, got {kind!r}")
    preset = PRESETS[kind]
    connectivity = int(connectivity or preset["connectivity"])
    if connectivity not in (4, 8):
        raise DataError(f"connectivity must be 4 or 8, got {connectivity}")
    block = int(block)
    if block < 1:
        raise DataError(f"block must be a positive integer, got {block}")
    has_pop = population is not None
    if threshold is None:
        threshold = preset["population_threshold"] if has_pop else preset["threshold"]
    threshold = float(threshold)
    if not has_pop and not 0 < threshold <= 1:
        raise DataError(f"a built-up share threshold must lie in (0, 1], got {threshold}; "
                        "write 0.5 for 50 %")
    if has_pop and threshold <= 0:
        raise DataError(f"a population density threshold must be > 0, got {threshold}")
    min_pop = float(preset["min_population"] if min_population is None else min_population)
    min_area = float(preset["min_area_km2"] if min_area_km2 is None else min_area_km2)
    fill = float(preset["fill_holes_km2"] if fill_holes_km2 is None else fill_holes_km2)
    smooth = preset["smooth"] if smooth is None else bool(smooth)
    epoch = stack.epochs[-1] if epoch is None else int(epoch)
    stack.epoch_index(epoch)

    built_m2, obs_m2, area_m2 = _aggregate_stack(stack, epoch, block, max_cells)
    if has_pop:
        pop = _aggregate(_read_population(population, stack), block)
        with np.errstate(invalid="ignore", divide="ignore"):
            dens = pop / (area_m2 / 1e6)
        qualifies = dens >= threshold
    else:
        pop = None
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(obs_m2 > 0, built_m2 / np.where(obs_m2 > 0, obs_m2, 1), 0.0)
        qualifies = share >= threshold - 1e-12
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    lab, n = ndimage.label(qualifies, structure=structure)
    if n:
        keep = np.ones(n + 1, bool)
        keep[0] = False
        a = np.bincount(lab.ravel(), weights=area_m2.ravel(), minlength=n + 1) / 1e6
        keep &= a >= min_area
        if has_pop:
            p = np.bincount(lab.ravel(), weights=pop.ravel(), minlength=n + 1)
            keep &= p >= min_pop
        mask = keep[lab]
    else:
        mask = np.zeros(qualifies.shape, bool)
    mean_cell_km2 = float(area_m2[area_m2 > 0].mean()) / 1e6 if (area_m2 > 0).any() else 1.0
    mask = _fill_small_holes(mask, fill / mean_cell_km2, connectivity)
    if smooth:
        mask = _majority_smooth(mask)
    lab, n = ndimage.label(mask, structure=structure, output=np.int32)
    # renumber by decreasing area (ties: first in raster order), 1 = largest
    if n:
        area = np.bincount(lab.ravel(), weights=area_m2.ravel(), minlength=n + 1)[1:]
        order = np.argsort(-area, kind="stable")
        rank = np.zeros(n + 1, np.int32)
        rank[order + 1] = np.arange(1, n + 1, dtype=np.int32)
        lab = rank[lab]
    t = stack.transform
    return _Delineation(epoch=epoch, labels=lab, n=int(n), area_m2=area_m2, built_m2=built_m2,
                        pop=pop, block=block, connectivity=connectivity,
                        transform=t * t.scale(block, block))


def _polygonize(d: _Delineation, crs, shape: tuple[int, int] | None = None):
    """Extent polygons; with ``shape`` (the stack's grid), clipped to the grid's bounds.

    An aggregated cell on the right or bottom edge of the grid may reach beyond it (the
    grid is padded to a multiple of ``block``); its polygon is cut back to the grid, so
    that every polygon covers exactly the cells whose area it reports.
    """
    import geopandas as gpd
    import rasterio.features
    import shapely

    stats = d.stats()
    if d.n == 0:
        return gpd.GeoDataFrame({c: [] for c in stats.columns}, geometry=[], crs=crs)
    parts: dict[int, list] = {}
    for geom, value in rasterio.features.shapes(d.labels.astype(np.int32), mask=d.labels > 0,
                                                connectivity=d.connectivity,
                                                transform=d.transform):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    geoms = [shapely.union_all(parts[k]) for k in stats["extent_id"]]
    if shape is not None and d.block > 1 and (shape[0] % d.block or shape[1] % d.block):
        t = d.transform * d.transform.scale(1 / d.block, 1 / d.block)
        (x0, y0), (x1, y1) = t * (0, 0), t * (shape[1], shape[0])
        box = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        geoms = [g.intersection(box) for g in geoms]
    stats["geometry"] = geoms
    return gpd.GeoDataFrame(stats, geometry="geometry", crs=crs)



def _link(prev: np.ndarray, cur: np.ndarray, area_m2: np.ndarray, prev_area: dict,
          cur_area: np.ndarray, next_id: int):
    """Give the extents of ``cur`` (labels 1..n) city ids from those of ``prev`` (city ids).

    Returns (ids per current label, events rows without epochs, next free id).
    """
    n = len(cur_area) - 1
    m = (prev > 0) & (cur > 0)
    pairs = pd.DataFrame({"parent": prev[m].astype(np.int64), "child": cur[m].astype(np.int64),
                          "w": area_m2[m]}).groupby(["parent", "child"], sort=True)["w"].sum()
    parents_of: dict[int, list[int]] = {}
    overlap: dict[tuple[int, int], float] = {}
    for (p_, c_), w in pairs.items():
        parents_of.setdefault(int(c_), []).append(int(p_))
        overlap[(int(p_), int(c_))] = float(w)
    ids = np.zeros(n + 1, np.int64)
    # a parent's id goes to the child holding most of it (a split leaves the rest new ids);
    # a child with several parents takes the id of the largest one (coalescence)
    heir = {}
    for (p_, c_), _w in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0])):
        heir.setdefault(p_, c_)
    rows = []
    for c_ in range(1, n + 1):
        ps = sorted(parents_of.get(c_, []), key=lambda p_: (-prev_area.get(p_, 0.0), p_))
        main = next((p_ for p_ in ps if heir.get(p_) == c_), None)
        if not ps:
            event = "birth"
        elif main is None:
            event = "split"
        elif len(ps) > 1:
            event = "coalescence"
        else:
            event = "growth"
        if main is None:
            ids[c_] = next_id
            next_id += 1
        else:
            ids[c_] = main
        rows.append({"city_id": int(ids[c_]), "event": event,
                     "parent_ids": ";".join(str(p_) for p_ in ps), "n_parents": len(ps),
                     "area_t0_km2": sum(prev_area.get(p_, 0.0) for p_ in ps) / 1e6,
                     "area_t1_km2": float(cur_area[c_]) / 1e6})
    children = {p_ for p_, _ in overlap}
    for p_ in sorted(set(prev_area) - children):
        rows.append({"city_id": int(p_), "event": "disappearance", "parent_ids": str(p_),
                     "n_parents": 1, "area_t0_km2": prev_area[p_] / 1e6,
                     "area_t1_km2": 0.0})
    return ids, rows, next_id


def track_extents(stack, epochs=None, **extent_options):
    r"""Delineate urban extents at every epoch and follow each city through time.

    The extents of each epoch are those of :func:`urban_extents` (same options).  Between
    consecutive epochs :math:`t_0 < t_1`, extent :math:`E'` at :math:`t_1` *contains* extent
    :math:`E` at :math:`t_0` when they share cells (built-up land rarely disappears, so an
    earlier extent lies inside a later one); then

    * no earlier extent inside :math:`E'`: a **birth**, a new city id;
    * one: **growth**, :math:`E'` inherits its id;
    * several: **coalescence**, :math:`E'` inherits the id of the largest (by extent area at
      :math:`t_0`; ties: the smaller id) and the event lists every parent;
    * an earlier extent shared by several later ones passes its id to the one holding most
      of it; the others are **splits** with new ids (rare with built-up data: reclassified
      or thinned land);
    * an earlier extent inside no later one: a **disappearance** (e.g. it fell below the
      size criterion).

    City ids at the first epoch are the extent ranks (1 = largest); new cities take the next
    free integer.  Coalescence is the merger of cities the regional system of the seed's
    stage 4 leads to (see :mod:`gisfix.stages`).

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        Built-up rasters (projected or geographic: areas are true areas).
    epochs : list of int, optional
        Epochs to delineate (default: all of the stack's).
    **extent_options
        Passed to :func:`urban_extents` (``kind``, ``block``, ``threshold``,
        ``min_area_km2``...).

    Returns
    -------
    ExtentTracks
        Extents with city ids, the event table and the label grids.

    Raises
    ------
    DataError
        When no epoch is given or the stack holds none.
    RasterError
        For an epoch the stack does not hold.
    """
    import geopandas as gpd

    eps = list(stack.epochs) if epochs is None else sorted(int(e) for e in epochs)
    if not eps:
        raise DataError("track_extents needs at least one epoch")
    frames, events, labels = [], [], {}
    prev = None
    prev_area: dict[int, float] = {}
    next_id = 1
    block = 1
    for e in eps:
        d = _delineate(stack, e, **extent_options)
        block = d.block
        cur_area = np.bincount(d.labels.ravel(), weights=d.area_m2.ravel(), minlength=d.n + 1)
        if prev is None:
            ids = np.arange(d.n + 1, dtype=np.int64)
            next_id = d.n + 1
        else:
            ids, rows, next_id = _link(prev, d.labels, d.area_m2, prev_area, cur_area, next_id)
            for r in rows:
                events.append({"t0": eps[eps.index(e) - 1], "t1": e, **r})
        city = ids[d.labels]
        labels[e] = city.astype(np.int32)
        gdf = _polygonize(d, stack.crs, stack.shape)
        gdf.insert(0, "city_id", ids[gdf["extent_id"].to_numpy(dtype=np.int64)]
                   if len(gdf) else pd.Series([], dtype=np.int64))
        gdf.insert(0, "epoch", e)
        frames.append(gdf)
        prev = labels[e]
        prev_area = {int(ids[k]): float(cur_area[k]) for k in range(1, d.n + 1)}
    extents = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                               crs=stack.crs)
    cols = ["t0", "t1", "city_id", "event", "parent_ids", "n_parents", "area_t0_km2",
            "area_t1_km2"]
    ev = pd.DataFrame(events, columns=cols).sort_values(["t0", "city_id", "event"],
                                                        kind="stable").reset_index(drop=True)
    log.info("tracked %d cities over %d epochs: %s", extents["city_id"].nunique(), len(eps),
             ev["event"].value_counts().to_dict())
    return extents, ev, labels, block

# ---------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------

def _same_geometries(a, b):
    """Polygons covering the same cells (vertices on strip edges may differ in number)."""
    import shapely

    assert len(a) == len(b)
    for g0, g1 in zip(a.geometry.values, b.geometry.values):
        # the whole-grid polygons of 8-connected extents may touch themselves at a corner
        # (invalid); the windowed ones are then invalid at the same corners
        assert g1.is_valid or not g0.is_valid
        assert abs(g0.area - g1.area) <= 1e-9 * max(1.0, g0.area)
        v0, v1 = shapely.make_valid(g0), shapely.make_valid(g1)
        assert shapely.symmetric_difference(v0, v1).area <= 1e-9 * max(1.0, g0.area)


def _same_frames(want, got):
    cols = [c for c in want.columns if c != "geometry"]
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(got[cols]).reset_index(drop=True),
                                  pd.DataFrame(want[cols]).reset_index(drop=True),
                                  check_exact=True, check_dtype=False)
    _same_geometries(want, got)


def _check_delineation(stack, epoch, block_rows, **opts):
    want = _delineate(stack, epoch, **opts)
    got = ext._delineate(stack, epoch, block_rows=block_rows, **opts)
    try:
        assert got.n == want.n
        np.testing.assert_array_equal(np.asarray(got.labels), want.labels)
        pd.testing.assert_frame_equal(got.stats(), want.stats(), check_exact=True,
                                      check_dtype=False)
        _same_frames(_polygonize(want, stack.crs, stack.shape),
                     ext._polygonize(got, stack.crs, stack.shape))
    finally:
        got.close()
    return want.n


def _check_tracks(stack, block_rows, **opts):
    extents, events, labels, block = track_extents(stack, **opts)
    tr = ext.track_extents(stack, block_rows=block_rows, **opts)
    assert tr.block == block
    _same_frames(extents, tr.extents)
    pd.testing.assert_frame_equal(tr.events, events, check_exact=True)
    assert sorted(tr.labels) == sorted(labels)
    h, w = stack.shape
    for e, lab in labels.items():
        np.testing.assert_array_equal(np.asarray(tr.labels[e]), lab)
        assert tr.labels[e].max(initial=0) == lab.max(initial=0)
        fine = np.repeat(np.repeat(lab, block, axis=0), block, axis=1)[:h, :w]
        np.testing.assert_array_equal(tr.city_labels(e, stack.shape), fine)
        from rasterio.windows import Window

        win = Window(w // 3, h // 4, max(1, w // 2), max(1, h // 2))
        np.testing.assert_array_equal(
            tr.city_labels(e, stack.shape, win),
            fine[h // 4: h // 4 + max(1, h // 2), w // 3: w // 3 + max(1, w // 2)])
    return tr


# ---------------------------------------------------------------------------------------
# the DC raster, strips a few aggregated rows high
# ---------------------------------------------------------------------------------------

@pytest.fixture
def dc(shared):
    from gisfix.stack import open_builtup

    return open_builtup(shared(*DC), "year-built")


@pytest.mark.shared
@pytest.mark.parametrize("kind,block,rows,opts", [
    ("centre", 10, 3, {"threshold": 0.3, "min_area_km2": 2.0, "fill_holes_km2": 15.0}),
    ("cluster", 10, 2, {"threshold": 0.2, "min_area_km2": 1.0}),
    ("centre", 1, 5, {"threshold": 0.5, "min_area_km2": 0.3, "fill_holes_km2": 0.5}),
    ("cluster", 1, 7, {"threshold": 0.5, "min_area_km2": 0.05, "fill_holes_km2": 0.05}),
])
def test_dc_windowed_equals_whole_grid(dc, kind, block, rows, opts):
    # read strips of 3 fine rows (block 1) or one aggregated row (block 10)
    n = _check_delineation(dc, 2020, rows, kind=kind, block=block,
                           max_cells=3 * dc.width, **opts)
    assert n > 3


@pytest.mark.shared
def test_dc_population_density_equals_whole_grid(dc):
    built = np.nan_to_num(dc.fraction(2020).astype(float))
    pop = built * np.random.default_rng(3).gamma(2.0, 20.0, dc.shape)
    pop[np.random.default_rng(4).random(dc.shape) < 0.01] = np.nan
    n = _check_delineation(dc, 2000, 4, kind="centre", block=10, population=pop,
                           threshold=1500.0, min_population=20_000, max_cells=25 * dc.width)
    assert n > 1


@pytest.mark.shared
def test_dc_tracking_equals_whole_grid(dc):
    tr = _check_tracks(dc, 3, kind="cluster", block=10, threshold=0.5, min_area_km2=5,
                       max_cells=10 * dc.width)
    assert {"birth", "growth", "coalescence"} <= set(tr.events["event"])


@pytest.mark.shared
def test_dc_smoothing_halo_is_needed(dc):
    """The halo matters: smoothing each strip alone (no halo) gives another mask."""
    opts = {"kind": "centre", "block": 1, "threshold": 0.5, "min_area_km2": 0.3,
            "fill_holes_km2": 0.0}
    want = _delineate(dc, 2020, **opts)
    got = ext._delineate(dc, 2020, block_rows=4, **opts)
    try:
        strips = got.strips
        base = _delineate(dc, 2020, **{**opts, "smooth": False}).labels > 0
        no_halo = np.vstack([_majority_smooth(base[a:b]) for a, b in strips])
        assert not np.array_equal(no_halo, want.labels > 0)
        np.testing.assert_array_equal(np.asarray(got.labels), want.labels)
    finally:
        got.close()


# ---------------------------------------------------------------------------------------
# random rasters
# ---------------------------------------------------------------------------------------

def _binary_stack(path, arrays):
    import rasterio
    from rasterio.transform import from_origin

    from gisfix.stack import open_builtup

    paths = []
    for e, arr in arrays.items():
        p = path / f"b_{e}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0],
                           count=1, dtype="uint8", crs="EPSG:3035", nodata=255,
                           transform=from_origin(4_000_000, 3_000_000, 100.0, 100.0)) as ds:
            ds.write(arr.astype("uint8"), 1)
        paths.append(p)
    return open_builtup(paths, "binary", epochs=list(arrays))


@hst.composite
def _case(draw):
    h = draw(hst.integers(3, 28))
    w = draw(hst.integers(3, 28))
    seed = draw(hst.integers(0, 2**31))
    density = draw(hst.floats(0.2, 0.8))
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w)) < density).astype(np.uint8)
    arr[rng.random((h, w)) < 0.05] = 255          # some nodata
    return {"arr": arr, "seed": seed, "block": draw(hst.integers(1, 3)),
            "rows": draw(hst.integers(1, 4)), "kind": draw(hst.sampled_from(["centre",
                                                                              "cluster"])),
            "threshold": draw(hst.sampled_from([0.3, 0.5, 0.75])),
            "min_cells": draw(hst.integers(0, 6)), "fill_cells": draw(hst.integers(0, 8)),
            "smooth": draw(hst.booleans()), "pop": draw(hst.booleans())}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_case())
def test_random_rasters_equal_whole_grid(tmp_path_factory, case):
    stack = _binary_stack(tmp_path_factory.mktemp("r"), {2020: case["arr"]})
    cell_km2 = 0.01 * case["block"] ** 2
    opts = {"kind": case["kind"], "block": case["block"], "smooth": case["smooth"],
            "min_area_km2": case["min_cells"] * cell_km2 + 1e-9,
            "fill_holes_km2": case["fill_cells"] * cell_km2, "max_cells": 1}
    if case["pop"]:
        pop = np.random.default_rng(case["seed"]).gamma(0.8, 30.0, stack.shape)
        opts.update(population=pop, threshold=2000.0 * case["threshold"], min_population=50)
    else:
        opts["threshold"] = case["threshold"]
    _check_delineation(stack, 2020, case["rows"], **opts)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=hst.integers(0, 2**31), h=hst.integers(4, 24), w=hst.integers(4, 24),
       rows=hst.integers(1, 4), block=hst.integers(1, 2), grow=hst.booleans())
def test_random_tracking_equals_whole_grid(tmp_path_factory, seed, h, w, rows, block, grow):
    rng = np.random.default_rng(seed)
    a = (rng.random((h, w)) < 0.3).astype(np.uint8)
    series = {2000: a}
    for e in (2010, 2020):
        nxt = a | (rng.random((h, w)) < 0.15) if grow else (rng.random((h, w)) < 0.4)
        series[e] = a = nxt.astype(np.uint8)
    stack = _binary_stack(tmp_path_factory.mktemp("t"), series)
    _check_tracks(stack, rows, kind="cluster", block=block, threshold=0.5,
                  min_area_km2=0.0, fill_holes_km2=0.02 * block ** 2, max_cells=1)


# ---------------------------------------------------------------------------------------
# pieces of the windowed machinery
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 100, 128, 129, 1000, 8192, 8193, 100_003])
def test_pairwise_mean_is_numpys(n):
    v = np.random.default_rng(n).random(n) * 1e4 + 1.0
    chunks = np.array_split(v, max(1, n // 333))
    got = ext._PairwiseMean(n, chunks).mean()
    if n == 0:
        assert np.isnan(got)
    else:
        assert got == v.mean()


def test_labels_live_on_disk_and_go_away(tmp_path):
    import gc
    import os

    arr = np.zeros((12, 12), np.uint8)
    arr[2:5, 2:5] = 1
    arr[8:11, 7:11] = 1
    stack = _binary_stack(tmp_path, {2000: arr, 2010: arr})
    tr = ext.track_extents(stack, kind="cluster", threshold=0.5, min_area_km2=0,
                           block_rows=2)
    grid = tr.labels[2010]
    assert isinstance(grid, ext.LabelGrid) and os.path.exists(grid.path)
    assert grid.max(initial=0) == 2 and grid.read(8, 9)[0, 7:11].tolist() == [1] * 4
    path = grid.path
    del tr, grid
    gc.collect()
    assert not os.path.exists(path)


@pytest.mark.shared
def test_dask_local_cluster_identical(dc, dask_client):
    opts = {"kind": "centre", "block": 10, "threshold": 0.3, "min_area_km2": 2.0,
            "max_cells": 20 * dc.width, "block_rows": 3}
    ref = ext.urban_extents(dc, 2020, **opts)
    got = ext.urban_extents(dc, 2020, scheduler=dask_client, **opts)
    _same_frames(ref, got)
    assert len(got) > 3
