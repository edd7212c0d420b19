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
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from gisfix.errors import DataError, RasterError

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


def urban_extents(stack, epoch: int | None = None, *, kind: str = "centre", block: int = 1,
                  population=None, threshold: float | None = None,
                  connectivity: int | None = None, min_population: float | None = None,
                  min_area_km2: float | None = None, fill_holes_km2: float | None = None,
                  smooth: bool | None = None, max_cells: int = 4_000_000):
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
    2021).

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
        Cells read per row strip; memory is bounded by it plus the aggregated grid.

    Returns
    -------
    GeoDataFrame
        One row per extent, in the stack's CRS, sorted by decreasing area: ``extent_id``
        (1 = largest), ``cells`` (aggregated cells), ``area_km2``, ``builtup_km2`` and,
        with a population grid, ``population``.
    """
    d = _delineate(stack, epoch, kind=kind, block=block, population=population,
                   threshold=threshold, connectivity=connectivity,
                   min_population=min_population, min_area_km2=min_area_km2,
                   fill_holes_km2=fill_holes_km2, smooth=smooth, max_cells=max_cells)
    out = _polygonize(d, stack.crs, stack.shape)
    log.info("%d urban extents (%s) at %s, %.1f km2", len(out), kind, d.epoch,
             float(out["area_km2"].sum()) if len(out) else 0.0)
    return out


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
        Epoch -> city id of every cell of the (aggregated) grid, 0 outside every extent.
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
        return np.ascontiguousarray(lab[rows[:, None], cols[None, :]])

    def coalescences(self) -> pd.DataFrame:
        """The coalescence events: ``t0``, ``t1``, ``city_id`` (heir) and ``parent_ids``."""
        return self.events[self.events["event"] == "coalescence"].reset_index(drop=True)


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


def track_extents(stack, epochs=None, **extent_options) -> ExtentTracks:
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


__all__ = ["EVENTS", "PRESETS", "ExtentTracks", "extent_agreement", "track_extents",
           "urban_extents"]
