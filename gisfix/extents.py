"""Urban extents: contiguous built-up (or populated) clusters, Degree-of-Urbanisation style.

:func:`urban_extents` delineates urban extents on a built-up stack at one epoch, optionally
aggregated to coarser cells (``block=10`` turns 100 m cells into the 1 km cells of the
Degree of Urbanisation), with the rules of the Degree of Urbanisation (DEGURBA; European
Commission & Statistical Office of the EU et al. 2021, *Applying the Degree of
Urbanisation*, chapter 2) that make sense on a built-up grid.

Implemented (each one a parameter):

1. density criterion: the cell's built-up share (or, with a population grid, its
   population density in inhabitants per km²) is at least ``threshold``;
2. contiguity: 4-connectivity (edges only) for urban centres, 8-connectivity (edges and
   corners) for urban clusters;
3. size criterion: a cluster keeps only if its population (with a population grid) is at
   least ``min_population`` and its area at least ``min_area_km2``;
4. gap filling: holes inside a cluster smaller than ``fill_holes_km2`` are added to it
   (DEGURBA: 15 km² for centres);
5. edge smoothing (centres only, ``smooth=True``): the DEGURBA majority rule, a cell with at
   least 5 of its 8 neighbours in an extent joins it, repeated until nothing changes.

Not implemented: the alternative built-up criterion of the 2021 manual that admits a 1 km²
cell with >= 50 % built-up *in addition to* the density criterion (use the built-up grid
as the criterion instead, or combine the masks yourself); the 50 % built-up share fallback
for cells without population; the rural grid-cell class and the second-level
classification (towns, suburbs, villages); classification of administrative units by the
share of their population in each class; the population grid disaggregation used to make
GHS-POP.  Defaults: :data:`PRESETS`.

Memory.  Every step runs on full-width row strips, so that memory depends on the strip
size (``max_cells``), not on the raster, and the result is identical to the same rules
applied to the whole grid at once:

* the stack is read by strips of fine rows (a multiple of ``block``; on a dask scheduler
  with ``scheduler=``) and aggregated; the aggregated built-up, total area and population
  grids are written to a temporary directory and read back by strips;
* connected components (extents, background, holes) are labelled strip by strip and
  stitched by a union-find over the strips' edge rows
  (:func:`gisfix.parallel.stitch_strips`); sums per component (area, population) are
  accumulated cell by cell in raster order, as a whole-grid ``numpy.bincount`` adds them;
* the majority rule runs by passes over the strips, each strip with a halo as high as the
  iterations of the pass (see :func:`_smooth_windowed` for why this is exact);
* extent polygons are traced per strip and joined; the label grid of each epoch stays in a
  temporary file (:class:`LabelGrid`), served by window (:meth:`ExtentTracks.city_labels`),
  and overlaps between epochs are summed by strips.

What remains proportional to the raster: tables with one entry per component (like the
patch tables of :mod:`gisfix.landscape`), the strips' edge rows held by the stitching, the
extent polygons of the result, and the ``population`` array the caller passes (pass a
``numpy.memmap`` to keep it on disk: it is read by strips).  Temporary files take about
18 bytes per aggregated cell during a delineation (26 with a population grid) and 4 bytes
per aggregated cell and epoch for the labels of :func:`track_extents`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from gisfix.errors import DataError, RasterError
from gisfix.parallel import stack_task

log = logging.getLogger(__name__)

#: DEGURBA-style defaults of :func:`urban_extents` for ``kind="centre"`` and ``"cluster"``.
#: Built-up thresholds are shares of the aggregated cell; population thresholds are the
#: DEGURBA ones (1,500 and 300 inhabitants per km², 50,000 and 5,000 inhabitants).
PRESETS = {
    "centre": {"connectivity": 4, "threshold": 0.5, "population_threshold": 1500.0,
               "min_population": 50_000.0, "min_area_km2": 0.0, "fill_holes_km2": 15.0,
               "smooth": True},
    "cluster": {"connectivity": 8, "threshold": 0.2, "population_threshold": 300.0,
                "min_population": 5_000.0, "min_area_km2": 0.0, "fill_holes_km2": 0.0,
                "smooth": False},
}


#: Iterations of the majority rule (:func:`_majority_smooth`) and, since each iteration
#: moves information by one aggregated row, the halo of the windowed smoothing.
SMOOTH_ITER = 100


def _aggregate(a: np.ndarray, block: int, how: str = "sum") -> np.ndarray:
    if block == 1:
        return a.astype(float)
    h, w = a.shape
    ph, pw = (-h) % block, (-w) % block
    a = np.pad(a.astype(float), ((0, ph), (0, pw)), constant_values=0.0)
    return a.reshape(a.shape[0] // block, block, a.shape[1] // block, block).sum(axis=(1, 3))


def _fine_rows(stack, block: int, max_cells: int) -> int:
    """Fine rows per read strip: about ``max_cells`` cells, a multiple of ``block``."""
    return max(block, (max_cells // max(1, stack.width)) // block * block)


@stack_task
def _aggregate_strip(job):
    """Built, observed and total m² (and population) per aggregated cell of one strip."""
    stack, epoch, block, r0, r1, pop = job
    w = stack.row_window(r0, r1)
    cell = stack.row_cell_areas(w)[:, None]
    frac = np.nan_to_num(stack.fraction(epoch, w), nan=0.0).astype(float)
    observed = stack.valid(w, epoch=epoch)
    out = (_aggregate(frac * cell, block), _aggregate(observed * cell, block),
           _aggregate(np.broadcast_to(cell, frac.shape), block))
    if pop is not None:
        out += (_aggregate(np.nan_to_num(pop.astype(float), nan=0.0), block),)
    return out


def _check_population(population, stack):
    """Check a population array on the built-up grid (measures take data, never paths)."""
    if not isinstance(population, np.ndarray) or population.ndim != 2:
        raise DataError(f"population must be a 2-D array on the built-up grid (shape "
                        f"{stack.shape}); got {type(population).__name__}. Read a population "
                        "raster with a reader first (e.g. rasterio, on the grid of the stack)")
    if population.shape != stack.shape:
        raise RasterError(f"the population array has shape {population.shape}, the built-up "
                          f"grid {stack.shape}; they must be on the same grid")
    return population


def _majority_smooth(mask: np.ndarray, max_iter: int = SMOOTH_ITER) -> np.ndarray:
    kernel = np.ones((3, 3), dtype=np.int32)
    kernel[1, 1] = 0
    for _ in range(max_iter):
        count = ndimage.convolve(mask.astype(np.int32), kernel, mode="constant", cval=0)
        add = ~mask & (count >= 5)
        if not add.any():
            break
        mask = mask | add
    return mask


# -- aggregated grids on disk ----------------------------------------------------------------

class _Scratch:
    """A temporary directory removed when the last object holding it is gone."""

    def __init__(self):
        import shutil
        import tempfile
        import weakref

        self.path = tempfile.mkdtemp(prefix="gisfix-extents-")
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)
        self._k = 0

    def grid(self, shape, dtype, name="grid", cls=None):
        """Return a new zero-filled :class:`_DiskGrid` in this directory."""
        import os

        self._k += 1
        return (cls or _DiskGrid)(os.path.join(self.path, f"{name}-{self._k}.bin"), shape,
                                  dtype, owner=self, create=True)

    def cleanup(self) -> None:
        """Remove the directory now."""
        self._finalizer()


class _DiskGrid:
    """A 2-D array in a file, read and written by row ranges (never mapped as a whole).

    Reads go through ``numpy.fromfile`` so that no page of the file stays mapped in the
    process: resident memory is the rows asked for, not the grid.
    """

    def __init__(self, path, shape, dtype, owner=None, create=False):
        self.path = str(path)
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._owner = owner
        if create:
            with open(self.path, "wb") as f:
                f.truncate(self.shape[0] * self.shape[1] * self.dtype.itemsize)

    def __getstate__(self):
        st = dict(self.__dict__)
        st["_owner"] = None  # a copy (another process) never removes the directory
        return st

    @property
    def ndim(self) -> int:
        """2."""
        return 2

    def read(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0 .. r1 - 1`` (clipped to the grid) as an array."""
        r0, r1 = max(0, int(r0)), min(self.shape[0], int(r1))
        w = self.shape[1]
        if r1 <= r0 or w == 0:
            return np.zeros((max(0, r1 - r0), w), self.dtype)
        a = np.fromfile(self.path, dtype=self.dtype, count=(r1 - r0) * w,
                        offset=r0 * w * self.dtype.itemsize)
        return a.reshape(r1 - r0, w)

    def write(self, r0: int, rows: np.ndarray) -> None:
        """Write ``rows`` from row ``r0`` on."""
        with open(self.path, "r+b") as f:
            f.seek(int(r0) * self.shape[1] * self.dtype.itemsize)
            f.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())

    def __array__(self, dtype=None, copy=None):
        a = self.read(0, self.shape[0])
        return a if dtype is None else a.astype(dtype)

    def __getitem__(self, key):
        # reads the whole grid: for small grids and compatibility; prefer read()
        return np.asarray(self)[key]


class LabelGrid(_DiskGrid):
    """Labels of one epoch on the aggregated grid, kept in a temporary file.

    Behaves like a read-only 2-D array for small grids (``numpy.asarray(grid)``, indexing,
    ``max``), but is meant to be read by rows: :meth:`read`, or
    :meth:`ExtentTracks.city_labels` by window.

    Parameters
    ----------
    path : str
        The file (raw rows, C order).
    shape : (rows, columns)
        The aggregated grid.
    dtype : numpy dtype
        Of the labels (int32).
    owner : object, optional
        Keeps the temporary directory alive while the grid is in use.
    create : bool
        Create a zero-filled file.
    """

    vmax = 0

    def max(self, initial=None):  # noqa: D417 - numpy-like signature
        """The largest label (0 for an empty grid or one without extents)."""
        return max(int(self.vmax), 0 if initial is None else int(initial))


def _strip_bounds(n_rows: int, rows: int) -> list[tuple[int, int]]:
    return [(a, min(a + rows, n_rows)) for a in range(0, n_rows, max(1, int(rows)))]


def _edges(lab: np.ndarray):
    top, bottom = lab[0], lab[-1]
    tc, bc = np.flatnonzero(top), np.flatnonzero(bottom)
    return (tc, top[tc]), (bc, bottom[bc])


def _structure(connectivity: int) -> np.ndarray:
    return ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)


class _Components:
    """Connected components of a mask given strip by strip, with global ids.

    ``get(s, a, b)`` returns the boolean mask of strip ``s`` (rows ``a .. b - 1``); it is
    called once per strip for the union-find over the strips' edge rows
    (:func:`gisfix.parallel.stitch_strips`) and again by :meth:`strips`.  Global ids are
    those of one ``scipy.ndimage.label`` of the whole mask (1..n by first cell in raster
    order).
    """

    def __init__(self, get, strips, connectivity: int, want_border: bool = False):
        from gisfix.parallel import stitch_strips

        self.get, self.strips, self.conn = get, strips, connectivity
        self.structure = _structure(connectivity)
        counts, first, last, border = [], [], [], []
        n_rows = strips[-1][1] if strips else 0
        for s, (a, b) in enumerate(strips):
            lab, n = ndimage.label(get(s, a, b), structure=self.structure)
            f, la = _edges(lab)
            counts.append(n)
            first.append(f)
            last.append(la)
            if want_border and n:
                parts = [lab[:, 0], lab[:, -1]]
                if a == 0:
                    parts.append(lab[0])
                if b == n_rows:
                    parts.append(lab[-1])
                border.append(np.unique(np.concatenate(parts)))
            else:
                border.append(np.zeros(0, np.int64))
        self.stitch = stitch_strips(first, last, counts, connectivity)
        self.n = self.stitch.n
        self.border = None
        if want_border:
            self.border = np.zeros(self.n + 1, bool)
            for s, loc in enumerate(border):
                self.border[self.stitch.map(s, loc)] = True
            self.border[0] = False

    def strips_labels(self):
        """Yield ``(s, a, b, global ids of the strip's cells)``, strip by strip."""
        for s, (a, b) in enumerate(self.strips):
            lab, n = ndimage.label(self.get(s, a, b), structure=self.structure)
            gmap = self.stitch.map(s, np.arange(n + 1))
            yield s, a, b, gmap[lab]


class _PairwiseMean:
    """``numpy.mean`` of a long 1-D float64 sequence given chunk by chunk, bit for bit.

    numpy sums a contiguous float64 array by pairwise summation: blocks of at most 128
    values summed with 8 accumulators, halves split at a multiple of 8.  The same recursion
    is run here over the sequence, whose length must be known first, consuming the chunks
    in order; a leaf is summed by ``numpy.add.reduce`` on the leaf alone, which runs the
    same block code.
    """

    def __init__(self, n: int, chunks):
        self.n = int(n)
        self._chunks = iter(chunks)
        self._buf = np.zeros(0)
        self._pos = 0

    def _take(self, k: int) -> np.ndarray:
        while len(self._buf) - self._pos < k:
            rest = self._buf[self._pos:]
            self._buf = np.concatenate([rest, np.asarray(next(self._chunks), float).ravel()])
            self._pos = 0
        out = self._buf[self._pos:self._pos + k]
        self._pos += k
        return out

    def _sum(self, n: int) -> float:
        if n <= 128:
            return np.add.reduce(self._take(n))
        n2 = n // 2
        n2 -= n2 % 8
        left = self._sum(n2)
        return left + self._sum(n - n2)

    def mean(self) -> float:
        """The mean (``nan`` for an empty sequence, like numpy)."""
        if self.n == 0:
            return math.nan
        return float(self._sum(self.n) / self.n)


def urban_extents(stack, epoch: int | None = None, *, kind: str = "centre", block: int = 1,
                  population=None, threshold: float | None = None,
                  connectivity: int | None = None, min_population: float | None = None,
                  min_area_km2: float | None = None, fill_holes_km2: float | None = None,
                  smooth: bool | None = None, max_cells: int = 4_000_000, scheduler=None,
                  block_rows: int | None = None):
    r"""Delineate urban extents at one epoch as polygons (DEGURBA-style rules).

    A cell :math:`c` (after aggregation by ``block``) qualifies when

    .. math::
        s_c = \frac{\sum_{i \in c} b_i}{\#\{i \in c \text{ observed}\}} \ge \tau
        \quad\text{or, with a population grid,}\quad
        \frac{P_c}{A_c} \ge \tau_P,

    qualifying cells are grouped by ``connectivity``, groups below the size criteria are
    dropped, holes smaller than ``fill_holes_km2`` are filled and (centres) edges smoothed
    by the majority rule; see the module docstring for what DEGURBA rules are and are not
    implemented (Dijkstra et al. 2021, J. Urban Economics 125, 103312; EC/Eurostat et al.
    2021).  Every step runs by row strips (see the module docstring, "Memory"); the
    result is identical to a whole-grid computation.

    Parameters
    ----------
    stack : BuiltupStack
        Built-up rasters.
    epoch : int, optional
        Epoch to delineate (default: the last).
    kind : {"centre", "cluster"}
        The :data:`PRESETS` the other parameters default to.
    block : int
        Aggregate ``block`` x ``block`` cells first (10 turns 100 m into 1 km cells).
    population : 2-D array, optional
        Population per cell on the stack's grid; switches the density criterion to
        population density and enables ``min_population`` and the ``population`` column.
    threshold : float, optional
        Built-up share threshold in (0, 1] (with ``population``: inhabitants per km²).
    connectivity : {4, 8}, optional
        Contiguity of the extents.
    min_population, min_area_km2 : float, optional
        Size criteria of an extent (``min_population`` only with a population grid).
    fill_holes_km2 : float, optional
        Fill holes smaller than this area (0 disables).
    smooth : bool, optional
        Apply the majority rule.
    max_cells : int
        Cells per row strip, read or aggregated: the memory bound.
    scheduler : None, str or distributed.Client
        Where the read strips are aggregated (:func:`gisfix.parallel.resolve_scheduler`);
        the steps on the aggregated grid run in this process.
    block_rows : int, optional
        Aggregated rows per strip of the steps after aggregation (default: about
        ``max_cells`` aggregated cells).

    Returns
    -------
    GeoDataFrame
        One row per extent, in the stack's CRS, sorted by decreasing area: ``extent_id``
        (1 = largest), ``cells`` (aggregated cells), ``area_km2``, ``builtup_km2`` and,
        with a population grid, ``population``.
    """
    from gisfix.parallel import scheduler_session

    with scheduler_session(scheduler) as sched:
        d = _delineate(stack, epoch, kind=kind, block=block, population=population,
                       threshold=threshold, connectivity=connectivity,
                       min_population=min_population, min_area_km2=min_area_km2,
                       fill_holes_km2=fill_holes_km2, smooth=smooth, max_cells=max_cells,
                       scheduler=sched, block_rows=block_rows)
    out = _polygonize(d, stack.crs, stack.shape)
    d.close()
    log.info("%d urban extents (%s) at %s, %.1f km2", len(out), kind, d.epoch,
             float(out["area_km2"].sum()) if len(out) else 0.0)
    return out


@dataclass(frozen=True)
class _Delineation:
    """Extents of one epoch on the (aggregated) grid: labels 1..n sorted by decreasing area.

    ``labels`` is a :class:`LabelGrid` on disk; the per-extent sums are kept (1..n), and
    ``pieces`` holds the extents' polygons in aggregated pixel coordinates.
    """

    epoch: int
    labels: LabelGrid
    n: int
    cells: np.ndarray
    area_sum_m2: np.ndarray
    built_sum_m2: np.ndarray
    pop_sum: np.ndarray | None
    block: int
    connectivity: int
    transform: object
    pieces: dict
    strips: list
    area_m2: _DiskGrid
    scratch: _Scratch

    def stats(self) -> pd.DataFrame:
        """Cells, area and built-up area (and population) of each label 1..n."""
        out = pd.DataFrame({
            "extent_id": np.arange(1, self.n + 1),
            "cells": self.cells[1:],
            "area_km2": self.area_sum_m2[1:] / 1e6,
            "builtup_km2": self.built_sum_m2[1:] / 1e6,
        })
        if self.pop_sum is not None:
            out["population"] = self.pop_sum[1:]
        return out

    def close(self) -> None:
        """Remove the temporary grids (the labels too, unless kept elsewhere)."""
        self.scratch.cleanup()


def _delineate(stack, epoch, *, kind="centre", block=1, population=None, threshold=None,
               connectivity=None, min_population=None, min_area_km2=None,
               fill_holes_km2=None, smooth=None, max_cells=4_000_000, scheduler=None,
               block_rows=None, labels_in=None) -> _Delineation:
    """Apply the rules of :func:`urban_extents` strip by strip; return the labelled grid.

    ``labels_in`` (a :class:`_Scratch`) receives the label grid (default: a scratch
    directory of its own, removed with the other temporary grids by ``close()``).
    """
    from gisfix.parallel import imap_blocks

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
    if has_pop:
        population = _check_population(population, stack)

    h_agg, w_agg = -(-stack.height // block), -(-stack.width // block)
    shape = (h_agg, w_agg)
    scratch = _Scratch()
    try:
        # 1. aggregation and density criterion, by strips of fine rows (on the scheduler)
        built_g = scratch.grid(shape, np.float64, "built")
        area_g = scratch.grid(shape, np.float64, "area")
        pop_g = scratch.grid(shape, np.float64, "pop") if has_pop else None
        qual_g = scratch.grid(shape, np.uint8, "mask")
        rows = _fine_rows(stack, block, max_cells)
        jobs = [(stack, epoch, block, r0, min(r0 + rows, stack.height),
                 population[r0:r0 + rows] if has_pop else None)
                for r0 in range(0, stack.height, rows)]
        n_pos = 0
        for job, res in zip(jobs, imap_blocks(_aggregate_strip, jobs, scheduler)):
            built_m2, obs_m2, area_m2 = res[:3]
            a0 = job[3] // block
            built_g.write(a0, built_m2)
            area_g.write(a0, area_m2)
            n_pos += int(np.count_nonzero(area_m2 > 0))
            if has_pop:
                pop = res[3]
                pop_g.write(a0, pop)
                with np.errstate(invalid="ignore", divide="ignore"):
                    dens = pop / (area_m2 / 1e6)
                qualifies = dens >= threshold
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = np.where(obs_m2 > 0, built_m2 / np.where(obs_m2 > 0, obs_m2, 1),
                                     0.0)
                qualifies = share >= threshold - 1e-12
            qual_g.write(a0, qualifies)
        del jobs
        # a strip of aggregated cells holds ~5 arrays of 8 bytes: a quarter of max_cells
        # keeps it near the footprint of a read strip
        agg_rows = int(block_rows) if block_rows else \
            max(1, int(max_cells) // 4 // max(1, w_agg))
        strips = _strip_bounds(h_agg, agg_rows)

        def _read_mask(g):
            return lambda s, a, b: g.read(a, b).view(bool)

        # 2. contiguity and size criteria: components stitched across strips, their area
        # and population summed cell by cell in raster order (as one bincount would)
        mask_g = qual_g
        comp = _Components(_read_mask(mask_g), strips, connectivity)
        if comp.n:
            area_c = np.zeros(comp.n + 1)
            pop_c = np.zeros(comp.n + 1) if has_pop else None
            for _s, a, b, g in comp.strips_labels():
                sel = g > 0
                np.add.at(area_c, g[sel], area_g.read(a, b)[sel])
                if has_pop:
                    np.add.at(pop_c, g[sel], pop_g.read(a, b)[sel])
            keep = np.ones(comp.n + 1, bool)
            keep[0] = False
            keep &= area_c / 1e6 >= min_area
            if has_pop:
                keep &= pop_c >= min_pop
            for _s, a, _b, g in comp.strips_labels():
                mask_g.write(a, keep[g])
        # 3. small holes
        if fill > 0:
            mean_cell_km2 = _mean_positive(area_g, strips, n_pos) / 1e6 if n_pos else 1.0
            max_hole = fill / mean_cell_km2
            if max_hole > 0:
                _fill_holes_windowed(mask_g, strips, max_hole, connectivity)
        # 4. majority smoothing, by passes of strips with a halo (see _smooth_windowed)
        if smooth:
            mask_g = _smooth_windowed(mask_g, scratch, strips)
        # 5. extents: components again, renumbered by decreasing area
        comp = _Components(_read_mask(mask_g), strips, connectivity)
        n = comp.n
        cells = np.zeros(n + 1, np.int64)
        area_s = np.zeros(n + 1)
        built_s = np.zeros(n + 1)
        pop_s = np.zeros(n + 1) if has_pop else None
        if n:
            for _s, a, b, g in comp.strips_labels():
                sel = g > 0
                gs = g[sel]
                u, c = np.unique(gs, return_counts=True)
                cells[u] += c
                np.add.at(area_s, gs, area_g.read(a, b)[sel])
                np.add.at(built_s, gs, built_g.read(a, b)[sel])
                if has_pop:
                    np.add.at(pop_s, gs, pop_g.read(a, b)[sel])
        # renumber by decreasing area (ties: first in raster order), 1 = largest
        order = np.argsort(-area_s[1:], kind="stable")
        rank = np.zeros(n + 1, np.int32)
        rank[order + 1] = np.arange(1, n + 1, dtype=np.int32)
        inv = np.concatenate(([0], order + 1))

        owner = labels_in if labels_in is not None else scratch
        labels = owner.grid(shape, np.int32, f"labels-{epoch}", cls=LabelGrid)
        labels.vmax = int(n)
        pieces: dict[int, list] = {}
        for _s, a, _b, g in comp.strips_labels():
            lab = rank[g]
            labels.write(a, lab)
            if n:
                _strip_pieces(lab, a, connectivity, pieces)
        t = stack.transform
        return _Delineation(
            epoch=epoch, labels=labels, n=int(n), cells=cells[inv], area_sum_m2=area_s[inv],
            built_sum_m2=built_s[inv], pop_sum=None if pop_s is None else pop_s[inv],
            block=block, connectivity=connectivity, transform=t * t.scale(block, block),
            pieces=pieces, strips=strips, area_m2=area_g, scratch=scratch)
    except BaseException:
        scratch.cleanup()
        raise


def _mean_positive(area_g: _DiskGrid, strips, n_pos: int) -> float:
    """``area[area > 0].mean()`` of the whole grid, read by strips (bit for bit)."""
    def chunks():
        for a, b in strips:
            v = area_g.read(a, b)
            yield v[v > 0]
    return _PairwiseMean(n_pos, chunks()).mean()


def _fill_holes_windowed(mask_g: _DiskGrid, strips, max_hole: float, connectivity: int):
    """Fill the holes of fewer than ``max_hole`` cells, strip by strip, in place.

    As ``scipy.ndimage.binary_fill_holes(mask, structure) & ~mask`` with the extents'
    connectivity: a hole cell is a background cell whose background component (same
    connectivity) does not touch the grid's border; holes are then grouped by the dual
    connectivity (4 <-> 8) and sized, both across strips.
    """
    dual = 8 if connectivity == 4 else 4
    bg = _Components(lambda s, a, b: ~mask_g.read(a, b).view(bool), strips, connectivity,
                     want_border=True)
    outside = bg.border

    def holes(s, a, b):
        lab, n = ndimage.label(~mask_g.read(a, b).view(bool), structure=bg.structure)
        g = bg.stitch.map(s, np.arange(n + 1))[lab]
        return (g > 0) & ~outside[g]

    hole = _Components(holes, strips, dual)
    if hole.n == 0:
        return
    size = np.zeros(hole.n + 1, np.int64)
    for _s, _a, _b, g in hole.strips_labels():
        u, c = np.unique(g[g > 0], return_counts=True)
        size[u] += c
    small = size < max_hole
    small[0] = False
    for _s, a, b, g in hole.strips_labels():
        m = mask_g.read(a, b).view(bool)
        mask_g.write(a, m | small[g])


def _smooth_rows(mask: np.ndarray, iters: int) -> np.ndarray:
    """Up to ``iters`` iterations of the majority rule on ``mask`` (0 beyond its edges).

    The same rule as :func:`_majority_smooth` (a cell joins when at least 5 of its 8
    neighbours are in), counted with integer slices of a padded copy, and computed only on
    the rows next to the rows that changed in the previous iteration (no other cell can
    change).  Stops at a fixed point.
    """
    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = mask
    lo, hi = 0, h
    for _ in range(iters):
        p = pad[lo:hi + 2]
        cnt = (p[:-2, :-2] + p[:-2, 1:-1] + p[:-2, 2:] + p[1:-1, :-2] + p[1:-1, 2:]
               + p[2:, :-2] + p[2:, 1:-1] + p[2:, 2:])
        cur = p[1:-1, 1:-1]
        add = (cur == 0) & (cnt >= 5)
        rr = np.flatnonzero(add.any(axis=1))
        if not rr.size:
            break
        cur[add] = 1
        lo, hi = max(0, lo + int(rr[0]) - 1), min(h, lo + int(rr[-1]) + 2)
    return pad[1:-1, 1:-1].view(bool)


def _smooth_windowed(src: _DiskGrid, scratch: _Scratch, strips, max_iter: int = SMOOTH_ITER):
    """Majority smoothing (:func:`_majority_smooth`) of ``src``, strip by strip, exactly.

    Why a halo gives the whole-grid answer: one iteration sets a cell from its 3 x 3
    neighbourhood, so after ``k`` iterations a cell depends only on cells at most ``k``
    rows away.  Run on a window made of a strip and ``k`` rows above and below (fewer at the
    grid's own edges, where the whole-grid run pads with 0 too), ``k`` iterations give the
    strip's rows exactly the whole-grid values after ``k`` iterations: the false zeros
    beyond the window's cut edges need more than ``k`` iterations to reach them.  So each
    pass advances the whole grid by ``k`` iterations (``k`` = the halo, at most the rows of
    a strip, so that a window is at most three strips), passes repeat until
    ``max_iter`` iterations are done or a pass changes nothing.  Stopping early is no
    difference: the rule only adds cells, so an iteration that adds nothing is a fixed
    point, and the whole-grid run (which stops at the first iteration adding nothing, or
    after ``max_iter``) equals ``max_iter`` iterations without stopping; likewise a window
    that reaches its own fixed point after ``j < k`` iterations has its ``k``-th iterate
    already.  ``tests/test_extents_windowed.py`` checks the equality on the DC raster with
    strips of a few rows (where smoothing each strip without halo differs).

    Returns the grid holding the smoothed mask.
    """
    h = src.shape[0]
    rows = max(b - a for a, b in strips)
    halo = max(1, min(max_iter, max(rows, 8)))
    done = 0
    cur = src
    while done < max_iter:
        k = min(halo, max_iter - done)
        dst = scratch.grid(src.shape, np.uint8, "smooth")
        changed = False
        for a, b in strips:
            e0, e1 = max(0, a - k), min(h, b + k)
            win = cur.read(e0, e1).view(bool)
            core = win[a - e0:b - e0]
            if win.any():
                out = _smooth_rows(win, k)[a - e0:b - e0]
                changed = changed or not np.array_equal(out, core)
                core = out
            dst.write(a, core)
        if cur is not src:
            import os

            os.remove(cur.path)
        cur = dst
        done += k
        if not changed:
            break
    return cur


def _strip_pieces(lab: np.ndarray, a: int, connectivity: int, pieces: dict) -> None:
    """Polygons of the extents in one strip, in aggregated pixel coordinates (exact)."""
    import rasterio.features
    import shapely
    from affine import Affine

    parts: dict[int, list] = {}
    for geom, value in rasterio.features.shapes(lab.astype(np.int32), mask=lab > 0,
                                                connectivity=connectivity,
                                                transform=Affine.translation(0, a)):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    for k, ps in parts.items():
        pieces.setdefault(k, []).append(shapely.union_all(ps))


def _polygonize(d: _Delineation, crs, shape: tuple[int, int] | None = None):
    """Extent polygons; with ``shape`` (the stack's grid), clipped to the grid's bounds.

    The pieces of each extent (one per strip it crosses, in pixel coordinates where they
    meet exactly) are joined, then georeferenced.  An aggregated cell on the right or
    bottom edge of the grid may reach beyond it (the grid is padded to a multiple of
    ``block``); its polygon is cut back to the grid, so that every polygon covers exactly
    the cells whose area it reports.
    """
    import geopandas as gpd
    import shapely

    stats = d.stats()
    if d.n == 0:
        return gpd.GeoDataFrame({c: [] for c in stats.columns}, geometry=[], crs=crs)
    t = d.transform

    def _georef(xy):
        return np.column_stack([t.a * xy[:, 0] + t.b * xy[:, 1] + t.c,
                                t.d * xy[:, 0] + t.e * xy[:, 1] + t.f])

    geoms = []
    for k in stats["extent_id"]:
        ps = d.pieces[int(k)]
        g = shapely.union_all(ps)
        if len(ps) > 1:  # drop the vertices left on the strips' edges
            g = shapely.simplify(g, 0.0)
        geoms.append(shapely.transform(g, _georef))
    if shape is not None and d.block > 1 and (shape[0] % d.block or shape[1] % d.block):
        tf = t * t.scale(1 / d.block, 1 / d.block)
        (x0, y0), (x1, y1) = tf * (0, 0), tf * (shape[1], shape[0])
        box = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        geoms = [g.intersection(box) for g in geoms]
    stats["geometry"] = geoms
    return gpd.GeoDataFrame(stats, geometry="geometry", crs=crs)


#: Events of :func:`track_extents`.
EVENTS = ("birth", "growth", "coalescence", "split", "disappearance")


@dataclass(frozen=True)
class ExtentTracks:
    """Urban extents of every epoch with the id of the city each belongs to.

    Attributes
    ----------
    extents : geopandas.GeoDataFrame
        One row per extent and epoch: ``epoch``, ``city_id``, ``extent_id`` (rank by area
        within its epoch, 1 = largest), ``cells``, ``area_km2``, ``builtup_km2``
        (+ ``population``), ``geometry`` (raster CRS).
    events : pandas.DataFrame
        One row per city and period: ``t0``, ``t1``, ``city_id``, ``event`` (one of
        :data:`EVENTS`), ``parent_ids`` (the t0 cities it contains, ``;``-separated),
        ``n_parents``, ``area_t0_km2`` (extent area of the parents at t0, or of the city for
        a disappearance), ``area_t1_km2``.
    labels : dict
        Epoch -> city id of every cell of the (aggregated) grid, 0 outside every extent:
        a :class:`LabelGrid` each, kept in a temporary file removed with this object (read
        it by rows or through :meth:`city_labels`; ``numpy.asarray`` loads it whole).
    block : int
        Aggregation factor of the labels (see :meth:`city_labels`).
    """

    extents: object
    events: pd.DataFrame
    labels: dict
    block: int

    def city_labels(self, epoch: int, shape: tuple[int, int], window=None) -> np.ndarray:
        """City id of every cell of the stack's own grid at ``epoch`` (0: no extent).

        Parameters
        ----------
        epoch : int
            A tracked epoch.
        shape : (rows, columns)
            The stack's grid.
        window : rasterio.windows.Window, optional
            Only the cells of this window (memory: the window, not the grid).
        """
        lab = self.labels[int(epoch)]
        if window is None:
            r0, c0, h, w = 0, 0, shape[0], shape[1]
        else:
            r0, c0 = int(window.row_off), int(window.col_off)
            h, w = int(window.height), int(window.width)
        b = self.block
        rows = (np.arange(r0, r0 + h) // b)
        cols = (np.arange(c0, c0 + w) // b)
        if not len(rows) or not len(cols):
            return np.zeros((len(rows), len(cols)), np.int32)
        a0 = int(rows[0])
        part = lab.read(a0, int(rows[-1]) + 1) if hasattr(lab, "read") else \
            np.asarray(lab)[a0:int(rows[-1]) + 1]
        return np.ascontiguousarray(part[(rows - a0)[:, None], cols[None, :]])

    def coalescences(self) -> pd.DataFrame:
        """The coalescence events: ``t0``, ``t1``, ``city_id`` (heir) and ``parent_ids``."""
        return self.events[self.events["event"] == "coalescence"].reset_index(drop=True)


def _overlaps(prev: np.ndarray, cur: np.ndarray, area_m2: np.ndarray) -> pd.Series:
    """Area in m² shared by each (parent city, child extent) pair of one block of rows."""
    m = (prev > 0) & (cur > 0)
    return pd.DataFrame({"parent": prev[m].astype(np.int64), "child": cur[m].astype(np.int64),
                         "w": area_m2[m]}).groupby(["parent", "child"], sort=True)["w"].sum()


def _link(prev: np.ndarray, cur: np.ndarray, area_m2: np.ndarray, prev_area: dict,
          cur_area: np.ndarray, next_id: int):
    """Give the extents of ``cur`` (labels 1..n) city ids from those of ``prev`` (city ids).

    Returns (ids per current label, events rows without epochs, next free id).
    """
    return _link_pairs(_overlaps(prev, cur, area_m2), prev_area, cur_area, next_id)


def _link_windowed(prev: LabelGrid, cur: LabelGrid, area_g: _DiskGrid, strips,
                   prev_area: dict, cur_area: np.ndarray, next_id: int):
    """:func:`_link` with the overlaps summed strip by strip."""
    parts = [_overlaps(prev.read(a, b), cur.read(a, b), area_g.read(a, b)) for a, b in strips]
    parts = [p for p in parts if len(p)]
    if len(parts) > 1:
        pairs = pd.concat(parts).groupby(level=[0, 1], sort=True).sum()
    elif parts:
        pairs = parts[0]
    else:
        pairs = _overlaps(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    return _link_pairs(pairs, prev_area, cur_area, next_id)


def _link_pairs(pairs: pd.Series, prev_area: dict, cur_area: np.ndarray, next_id: int):
    n = len(cur_area) - 1
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


def track_extents(stack, epochs=None, *, scheduler=None, **extent_options) -> ExtentTracks:
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
    stage 4 leads to (see :mod:`gisfix.stages`).  Everything runs by row strips; the label
    grids of the epochs are kept in temporary files (removed with the returned object),
    never in memory.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        Built-up rasters (projected or geographic: areas are true areas).
    epochs : list of int, optional
        Epochs to delineate (default: all of the stack's).
    scheduler : None, str or distributed.Client
        Where the read strips are aggregated (:func:`gisfix.parallel.resolve_scheduler`).
    **extent_options
        Passed to :func:`urban_extents` (``kind``, ``block``, ``threshold``,
        ``min_area_km2``, ``max_cells``, ``block_rows``...).

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

    from gisfix.parallel import scheduler_session

    eps = list(stack.epochs) if epochs is None else sorted(int(e) for e in epochs)
    if not eps:
        raise DataError("track_extents needs at least one epoch")
    frames, events, labels = [], [], {}
    prev = None
    prev_area: dict[int, float] = {}
    next_id = 1
    block = 1
    keep = _Scratch()
    with scheduler_session(scheduler) as sched:
        for e in eps:
            d = _delineate(stack, e, scheduler=sched, labels_in=keep, **extent_options)
            try:
                block = d.block
                cur_area = d.area_sum_m2
                if prev is None:
                    ids = np.arange(d.n + 1, dtype=np.int64)
                    next_id = d.n + 1
                else:
                    ids, rows, next_id = _link_windowed(prev, d.labels, d.area_m2, d.strips,
                                                        prev_area, cur_area, next_id)
                    for r in rows:
                        events.append({"t0": eps[eps.index(e) - 1], "t1": e, **r})
                city = d.labels  # city ids written over the extent ranks, strip by strip
                ids32 = ids.astype(np.int32)
                for a, b in d.strips:
                    city.write(a, ids32[city.read(a, b)])
                city.vmax = int(ids.max(initial=0))
                labels[e] = city
                gdf = _polygonize(d, stack.crs, stack.shape)
            finally:
                d.close()
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
    return ExtentTracks(extents=extents, events=ev, labels=labels, block=block)


def extent_agreement(ours, reference, within=None) -> dict:
    r"""Compare two sets of extent polygons: areal overlap and matched features.

    Returns ``iou`` (area of the intersection of the two unions over the area of their
    union), ``precision`` (share of our area inside the reference), ``recall`` (share of
    the reference area we cover) and ``matched_reference`` (share of reference polygons
    that intersect one of ours).  The reference is reprojected to ``ours``' CRS.  With
    ``within`` (a GeoDataFrame, e.g. the raster's area of interest) both layers are clipped
    to it first, so that extents beyond the raster do not count as misses.

    .. math::
        \mathrm{IoU} = \frac{|A \cap B|}{|A \cup B|},\quad
        \mathrm{precision} = \frac{|A \cap B|}{|A|},\quad
        \mathrm{recall} = \frac{|A \cap B|}{|B|}

    (the Jaccard index, Jaccard 1912, and the precision / recall of information
    retrieval), with areas in the CRS of ``ours``.

    Parameters
    ----------
    ours : geopandas.GeoDataFrame
        Our extents (A).
    reference : geopandas.GeoDataFrame
        The reference extents (B), reprojected to ``ours``' CRS.
    within : geopandas.GeoDataFrame, optional
        Clip both to this area first.

    Returns
    -------
    dict
        ``iou``, ``precision``, ``recall`` and ``matched_reference`` (NaN where a
        denominator is 0 or the reference is empty).

    Raises
    ------
    DataError
        When either layer has no CRS.
    """
    import shapely

    if ours.crs is None or reference.crs is None:
        raise DataError("both extent layers need a CRS to be compared")
    ref = reference.to_crs(ours.crs)
    a = shapely.union_all(ours.geometry.values) if len(ours) else shapely.Polygon()
    b = shapely.union_all(ref.geometry.values) if len(ref) else shapely.Polygon()
    if within is not None:
        clip = shapely.union_all(within.to_crs(ours.crs).geometry.values)
        a, b = a.intersection(clip), b.intersection(clip)
        ref = ref[ref.geometry.intersects(clip)]
    inter = a.intersection(b).area
    union = a.union(b).area
    matched = ref.geometry.intersects(a).mean() if len(ref) else math.nan
    return {"iou": inter / union if union else math.nan,
            "precision": inter / a.area if a.area else math.nan,
            "recall": inter / b.area if b.area else math.nan,
            "matched_reference": float(matched), "n_ours": len(ours), "n_reference": len(ref),
            "area_ours_km2": a.area / 1e6, "area_reference_km2": b.area / 1e6}


__all__ = ["EVENTS", "PRESETS", "ExtentTracks", "LabelGrid", "extent_agreement", "track_extents",
           "urban_extents"]
