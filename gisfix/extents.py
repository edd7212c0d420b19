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
    import geopandas as gpd
    import rasterio.features
    import shapely

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
    lab, n = ndimage.label(mask, structure=structure)
    t = stack.transform
    transform = t * t.scale(block, block)
    crs = stack.crs
    if n == 0:
        cols = ["extent_id", "cells", "area_km2", "builtup_km2"] + (["population"] if has_pop
                                                                   else [])
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    flat = lab.ravel()
    stats = pd.DataFrame({
        "label": np.arange(1, n + 1),
        "cells": np.bincount(flat, minlength=n + 1)[1:],
        "area_km2": np.bincount(flat, weights=area_m2.ravel(), minlength=n + 1)[1:] / 1e6,
        "builtup_km2": np.bincount(flat, weights=built_m2.ravel(), minlength=n + 1)[1:] / 1e6,
    })
    if has_pop:
        stats["population"] = np.bincount(flat, weights=pop.ravel(), minlength=n + 1)[1:]
    parts: dict[int, list] = {}
    for geom, value in rasterio.features.shapes(lab.astype(np.int32), mask=lab > 0,
                                                connectivity=connectivity,
                                                transform=transform):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    stats["geometry"] = [shapely.union_all(parts[k]) for k in stats["label"]]
    stats = stats.sort_values("area_km2", ascending=False, kind="stable").reset_index(drop=True)
    stats.insert(0, "extent_id", np.arange(1, n + 1))
    out = gpd.GeoDataFrame(stats.drop(columns="label"), geometry="geometry", crs=crs)
    log.info("%d urban extents (%s) at %s, %.1f km2", n, kind, epoch,
             float(out["area_km2"].sum()))
    return out


def extent_agreement(ours, reference, within=None) -> dict:
    r"""Compare two sets of extent polygons: areal overlap and matched features.

    Returns ``iou`` (area of the intersection of the two unions over the area of their
    union), ``precision`` (share of our area inside the reference), ``recall`` (share of
    the reference area we cover) and ``matched_reference`` (share of reference polygons
    that intersect one of ours).  The reference is reprojected to ``ours``' CRS.  With
    ``within`` (a GeoDataFrame, e.g. the raster's area of interest) both layers are clipped
    to it first, so that extents beyond the raster do not count as misses.
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


__all__ = ["PRESETS", "extent_agreement", "urban_extents"]
