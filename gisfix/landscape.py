"""Patch structure of built-up land per unit: FRAGSTATS class metrics for the built class.

:func:`patch_metrics` labels the built-up patches inside each unit and epoch and returns the
class-level landscape metrics of the *built* class, with the FRAGSTATS definitions
(McGarigal, Cushman & Ene 2023) and the conventions of pylandstats (Bosch 2019), so that the
numbers agree with ``pylandstats.Landscape(...).compute_class_metrics_df()`` run on the
same unit-masked raster:

* the *landscape* of a unit is the set of observed cells whose centre lies in the unit
  polygon; cells outside the unit or not observed are nodata;
* a patch is a connected set of built cells of the landscape (``connectivity`` 8 or 4);
  a patch that crosses the unit boundary is cut there;
* edges are counted between a built cell and an observed, not-built cell of the same unit
  only: the landscape border and nodata neighbours are not edges (FRAGSTATS "no border"
  and pylandstats ``count_boundary=False``).

Units follow FRAGSTATS: areas in hectares, densities per 100 ha, edge density in m/ha,
indices in percent.  The grid must be projected with equal cells (reproject geographic
rasters first: patch metrics count cells).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import ndimage

from gisfix.crs import require_projected
from gisfix.errors import DataError, GeometryError

log = logging.getLogger(__name__)

#: Connectivity rules accepted by :func:`patch_metrics` and their structuring elements.
CONNECTIVITY = {4: ndimage.generate_binary_structure(2, 1),
                8: ndimage.generate_binary_structure(2, 2)}

#: Output columns of :func:`patch_metrics`, in order.
METRICS = ("landscape_area", "total_area", "number_of_patches", "patch_density",
           "largest_patch_index", "total_edge", "edge_density", "area_mn",
           "aggregation_index", "main_patch_area", "main_patch_nmi")


def _check_connectivity(connectivity) -> np.ndarray:
    try:
        return CONNECTIVITY[int(connectivity)]
    except (KeyError, ValueError, TypeError):
        raise DataError(
            f"connectivity must be 4 (rook) or 8 (queen), got {connectivity!r}") from None


def max_like_adjacencies(n_cells: np.ndarray | int) -> np.ndarray:
    r"""Return the largest possible number of like adjacencies of a class of ``n`` cells.

    He, DeZonia & Mladenoff (2000), as used by FRAGSTATS for the aggregation index: with
    :math:`m = \lfloor\sqrt{n}\rfloor`,

    .. math::
        \max g = \begin{cases}
        2m(m-1) & n = m^2 \\
        2m(m-1) + 2(n-m^2) - 1 & m^2 < n \le m^2 + m \\
        2m(m-1) + 2(n-m^2) - 2 & n > m^2 + m
        \end{cases}

    Parameters
    ----------
    n_cells : int or array of int
        Number of cells of the class.

    Returns
    -------
    numpy.ndarray
        The maximum number of shared edges (single count).

    Examples
    --------
    >>> max_like_adjacencies([1, 2, 3, 4, 5, 9]).tolist()
    [0, 1, 2, 4, 5, 12]
    """
    n = np.asarray(n_cells, dtype=np.int64)
    m = np.floor(np.sqrt(n)).astype(np.int64)
    m = np.where((m + 1) ** 2 <= n, m + 1, m)  # guard float rounding of sqrt
    m = np.where(m * m > n, m - 1, m)
    rest = n - m * m
    base = 2 * m * (m - 1)
    return np.where(rest == 0, base, np.where(rest <= m, base + 2 * rest - 1,
                                               base + 2 * rest - 2))


def aggregation_index(like_adjacencies, n_cells) -> np.ndarray:
    r"""Return the aggregation index AI (percent) of He, DeZonia & Mladenoff (2000).

    .. math::
        AI = 100 \, \frac{g_{ii}}{\max g_{ii}}

    where :math:`g_{ii}` is the number of like adjacencies (shared edges between two cells
    of the class, single count) and :math:`\max g_{ii}` is :func:`max_like_adjacencies`.
    AI is 0 for a class of isolated cells, 100 for a class packed as a square; undefined
    (NaN) for a class of one cell.

    Parameters
    ----------
    like_adjacencies : int or array
        :math:`g_{ii}`.
    n_cells : int or array
        Number of cells of the class.

    Returns
    -------
    numpy.ndarray
    """
    g = np.asarray(like_adjacencies, dtype=float)
    gmax = max_like_adjacencies(n_cells).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gmax > 0, 100.0 * g / np.where(gmax > 0, gmax, 1.0), np.nan)


def _pair_counts(built: np.ndarray, land: np.ndarray) -> tuple[int, int, int, int]:
    """Return (unlike horizontal, unlike vertical, like horizontal, like vertical) pairs.

    *Horizontal* pairs are left-right neighbours (they share a vertical edge of length
    cell height); *vertical* pairs are up-down neighbours (shared edge = cell width).
    """
    bl, br = built[:, :-1], built[:, 1:]
    ll, lr = land[:, :-1], land[:, 1:]
    bu, bd = built[:-1], built[1:]
    lu, ld = land[:-1], land[1:]
    unlike_h = np.count_nonzero(ll & lr & (bl != br))
    unlike_v = np.count_nonzero(lu & ld & (bu != bd))
    like_h = np.count_nonzero(bl & br)
    like_v = np.count_nonzero(bu & bd)
    return unlike_h, unlike_v, like_h, like_v


def _main_patch_nmi(labels: np.ndarray, main: int, cw: float, ch: float) -> float:
    r"""Normalized moment of inertia of patch ``main`` (exact for a union of cells)."""
    rows, cols = np.nonzero(labels == main)
    n = rows.size
    if n == 0:
        return math.nan
    y = rows * ch
    x = cols * cw
    a = cw * ch
    # second moment about the centroid: cell centres plus each cell's own moment
    inertia = a * (((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum()) + n * a * (
        cw * cw + ch * ch) / 12.0
    area = n * a
    return area * area / (2.0 * math.pi * inertia)


#: Edge-length conventions: ``true`` (each shared side at its length: left-right neighbours
#: share a side of the cell height, up-down neighbours one of the cell width) or
#: ``cell_width`` (every side counted at the cell width, as pylandstats does; identical
#: for square cells).
EDGE_LENGTHS = ("true", "cell_width")


def _check_edge_length(edge_length: str) -> str:
    if edge_length not in EDGE_LENGTHS:
        raise DataError(f"edge_length must be one of {', '.join(EDGE_LENGTHS)}; got "
                        f"{edge_length!r}")
    return edge_length


def landscape_metrics(built: np.ndarray, land: np.ndarray, *, res: tuple[float, float],
                      connectivity: int = 8, edge_length: str = "true") -> dict:
    r"""Return the built-class metrics of one landscape given as boolean arrays.

    Parameters
    ----------
    built : 2-D bool array
        Built cells (must lie inside ``land``).
    land : 2-D bool array
        Cells of the landscape (observed and inside the unit); everything else is nodata.
    res : (float, float)
        Cell width and height in metres.
    connectivity : {8, 4}
        Patch neighbourhood.
    edge_length : {"true", "cell_width"}
        How edges of non-square cells are measured (:data:`EDGE_LENGTHS`); ``cell_width``
        reproduces pylandstats' total edge and edge density.

    Returns
    -------
    dict
        The :data:`METRICS` of the built class, with these definitions (:math:`A` the
        landscape area, :math:`a_j` the patch areas, :math:`e` the built / not-built edge
        length inside the landscape, :math:`n` the number of patches):

        .. math::
            PD = 10^6 \frac{n}{A}, \quad LPI = 100 \frac{\max_j a_j}{A}, \quad
            ED = 10^4 \frac{e}{A}, \quad AREA\_MN = \frac{1}{10^4 n}\sum_j a_j

        (PD per 100 ha, ED in m/ha, areas in ha; McGarigal et al. 2023), the aggregation
        index (:func:`aggregation_index`) and the normalized moment of inertia of the
        largest patch (Li, Goodchild & Church 2013), exact for a union of cells:

        .. math::
            NMI = \frac{a^2}{2\pi I}, \quad I = \sum_{c} \left(a_c d_c^2 +
            a_c \frac{w^2 + h^2}{12}\right)

        with :math:`d_c` the distance of cell :math:`c` to the patch centroid; NMI is 1 for
        a disc and :math:`3/\pi \approx 0.955` for a square.  Metrics of a landscape with
        no built cell are 0 (NaN for LPI-free shape measures: AI, NMI, AREA_MN).
    """
    structure = _check_connectivity(connectivity)
    built = np.asarray(built, bool) & np.asarray(land, bool)
    land = np.asarray(land, bool)
    cw, ch = float(res[0]), float(res[1])
    cell = cw * ch
    n_land = int(np.count_nonzero(land))
    area = n_land * cell
    labels, n = ndimage.label(built, structure=structure)
    sizes = np.bincount(labels.ravel())[1:]
    unlike_h, unlike_v, like_h, like_v = _pair_counts(built, land)
    if _check_edge_length(edge_length) == "true":
        edge = unlike_h * ch + unlike_v * cw
    else:
        edge = (unlike_h + unlike_v) * cw
    n_built = int(sizes.sum())
    out = {"landscape_area": area / 1e4, "total_area": n_built * cell / 1e4,
           "number_of_patches": int(n)}
    if area > 0:
        out["patch_density"] = n / area * 1e6
        out["largest_patch_index"] = (sizes.max() * cell / area * 100.0) if n else 0.0
        out["edge_density"] = edge / area * 1e4
    else:
        out["patch_density"] = out["largest_patch_index"] = out["edge_density"] = math.nan
    out["total_edge"] = float(edge)
    out["area_mn"] = n_built * cell / n / 1e4 if n else math.nan
    out["aggregation_index"] = float(aggregation_index(like_h + like_v, n_built)) if n \
        else math.nan
    if n:
        main = int(np.argmax(sizes)) + 1
        out["main_patch_area"] = sizes[main - 1] * cell / 1e4
        out["main_patch_nmi"] = _main_patch_nmi(labels, main, cw, ch)
    else:
        out["main_patch_area"] = 0.0
        out["main_patch_nmi"] = math.nan
    return out


def _unit_windows(units, stack):
    """Yield (unit id, window, in-unit mask) for every unit, cell-centre rule."""
    from rasterio.features import geometry_mask
    from rasterio.windows import Window, from_bounds

    full = Window(0, 0, stack.width, stack.height)
    for uid, geom in zip(units.index, units.geometry.values):
        if geom is None or geom.is_empty:
            continue
        w = from_bounds(*geom.bounds, transform=stack.transform)
        w = w.round_offsets(op="floor").round_lengths(op="ceil")
        w = Window(w.col_off, w.row_off, w.width + 1, w.height + 1)
        try:
            w = w.intersection(full)
        except Exception:  # rasterio raises WindowError when disjoint
            yield uid, None, None
            continue
        h, wd = int(w.height), int(w.width)
        if h <= 0 or wd <= 0:
            yield uid, None, None
            continue
        from rasterio.windows import transform as wtransform

        inside = geometry_mask([geom], out_shape=(h, wd), transform=wtransform(w, stack.transform),
                               invert=True, all_touched=False)
        yield uid, w, inside


def patch_metrics(stack, units=None, *, epochs: Sequence[int] | None = None,
                  connectivity: int = 8, edge_length: str = "true") -> pd.DataFrame:
    r"""Return FRAGSTATS class metrics of built-up land per unit and epoch.

    Parameters
    ----------
    stack : BuiltupStack
        Built-up rasters (any encoding; fraction rasters count a cell as built when its
        fraction is >= 0.5).  The grid must be projected.
    units : GeoDataFrame, optional
        Units indexed by id (as from :func:`gisfix.read_boundaries`); reprojected to the
        raster's CRS.  Each unit is masked with the cell-centre rule.  Without units the
        whole grid is one landscape with id ``"all"``.
    epochs : list of int, optional
        Epochs to compute (default: all the stack's epochs).
    connectivity : {8, 4}
        Patch neighbourhood: 8 (queen, FRAGSTATS default) or 4 (rook).
    edge_length : {"true", "cell_width"}
        Edge convention for non-square cells (see :func:`landscape_metrics`).

    Returns
    -------
    pandas.DataFrame
        Long table with columns ``unit_id``, ``epoch`` and the :data:`METRICS`:
        ``landscape_area`` (ha, observed area of the unit), ``total_area`` (CA, ha of
        built land), ``number_of_patches`` (NP), ``patch_density`` (PD, per 100 ha),
        ``largest_patch_index`` (LPI, %), ``total_edge`` (TE, m), ``edge_density``
        (ED, m/ha), ``area_mn`` (mean patch area, ha), ``aggregation_index`` (AI, %, He
        et al. 2000), ``main_patch_area`` (ha) and ``main_patch_nmi`` (normalized moment
        of inertia of the largest patch, Li et al. 2013).  See
        :func:`landscape_metrics` for the formulas.  Units that cover no cell of the
        grid get NaN rows.  Units are masked by the cell-centre rule (as
        ``builtup_by_unit(..., method="centre")``), so ``total_area`` equals its built-up
        area in hectares.

    Raises
    ------
    CRSError
        If the raster is geographic.
    DataError
        For a connectivity other than 4 or 8.

    References
    ----------
    McGarigal, K., Cushman, S. A. & Ene, E. (2023). FRAGSTATS v4.  He, H. S., DeZonia,
    B. E. & Mladenoff, D. J. (2000). An aggregation index (AI) to quantify spatial patterns
    of landscapes. Landscape Ecology 15, 591-601.  Li, W., Goodchild, M. F. & Church, R.
    (2013). An efficient measure of compactness for two-dimensional shapes and its
    application in regionalization problems. IJGIS 27(6), 1227-1250.  Bosch, M. (2019).
    PyLandStats. PLoS ONE 14(12), e0225734.
    """
    _check_connectivity(connectivity)
    require_projected(stack.crs, what="the built-up raster", purpose="patch metrics")
    t = stack.transform
    if abs(t.b) > 0 or abs(t.d) > 0:
        raise DataError("patch metrics need a north-up raster (no rotation); warp it first")
    res = (abs(t.a), abs(t.e))
    eps = list(stack.epochs) if epochs is None else [int(e) for e in epochs]
    idx = [stack.epoch_index(e) for e in eps]
    if units is None:
        from rasterio.windows import Window

        jobs = [("all", Window(0, 0, stack.width, stack.height), None)]
    else:
        if units.crs is None:
            from gisfix.crs import resolve_crs

            resolve_crs(None, what="the units")
        if len(units) == 0:
            raise GeometryError("no units given; pass a GeoDataFrame with at least one polygon")
        jobs = _unit_windows(units.to_crs(stack.crs), stack)
    rows = []
    for uid, w, inside in jobs:
        if w is None:
            for e in eps:
                rows.append({"unit_id": uid, "epoch": e, **dict.fromkeys(METRICS, math.nan)})
            continue
        if stack.is_ordinal:
            codes = stack.read_ordinal(w)
            observed = codes != 255
            if inside is not None:
                observed &= inside
            per_epoch = ((codes <= j, observed) for j in idx)
        else:
            frac = stack.read_fraction(w, eps)

            def _gen(frac=frac, inside=inside):
                for k in range(len(eps)):
                    ok = ~np.isnan(frac[k])
                    if inside is not None:
                        ok &= inside
                    yield ok & (np.nan_to_num(frac[k]) >= 0.5), ok

            per_epoch = _gen()
        for e, (built, land) in zip(eps, per_epoch):
            rows.append({"unit_id": uid, "epoch": e,
                         **landscape_metrics(built & land, land, res=res,
                                             connectivity=connectivity,
                                             edge_length=edge_length)})
    out = pd.DataFrame(rows, columns=["unit_id", "epoch", *METRICS])
    out["number_of_patches"] = out["number_of_patches"].astype("Int64")
    return out


__all__ = ["CONNECTIVITY", "METRICS", "aggregation_index", "landscape_metrics",
           "max_like_adjacencies", "patch_metrics"]
