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

from gisfix.crs import require_projected
from gisfix.errors import DataError, GeometryError
from gisfix.parallel import stack_task

log = logging.getLogger(__name__)

#: Connectivity rules accepted by :func:`patch_metrics` and their structuring elements.
CONNECTIVITY = {4: np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool),
                8: np.ones((3, 3), bool)}

#: Output columns of :func:`patch_metrics`, in order (FRAGSTATS names with their units).
METRICS = ("landscape_area_ha", "total_area_ha", "number_of_patches",
           "patch_density_per_100ha", "largest_patch_index", "total_edge_m",
           "edge_density_m_per_ha", "area_mn_ha", "aggregation_index", "main_patch_area_ha",
           "main_patch_nmi")

#: Old column names (before units were added) -> new names.
RENAMED = {"landscape_area": "landscape_area_ha", "total_area": "total_area_ha",
           "patch_density": "patch_density_per_100ha", "total_edge": "total_edge_m",
           "edge_density": "edge_density_m_per_ha", "area_mn": "area_mn_ha",
           "main_patch_area": "main_patch_area_ha"}


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
    if rows.size == 0:
        return math.nan
    r = rows.astype(np.int64)
    c = cols.astype(np.int64)
    return _nmi_from_moments(r.size, int(c.sum()), int(r.sum()), int((c * c).sum()),
                             int((r * r).sum()), cw, ch)


def _nmi_from_moments(n: int, sc: int, sr: int, scc: int, srr: int, cw: float,
                      ch: float) -> float:
    """NMI from integer cell moments (column and row sums and sums of squares).

    ``n * scc - sc**2`` is computed in Python integers (exact), so the result does not
    depend on where the grid's origin is nor on how the sums were split into windows.
    """
    a = cw * ch
    var_c = (n * scc - sc * sc) / n   # sum of squared column deviations, in cells^2
    var_r = (n * srr - sr * sr) / n
    inertia = a * (cw * cw * var_c + ch * ch * var_r) + n * a * (cw * cw + ch * ch) / 12.0
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
    from scipy import ndimage

    structure = _check_connectivity(connectivity)
    built = np.asarray(built, bool) & np.asarray(land, bool)
    land = np.asarray(land, bool)
    cw, ch = float(res[0]), float(res[1])
    _check_edge_length(edge_length)
    n_land = int(np.count_nonzero(land))
    labels, n = ndimage.label(built, structure=structure)
    sizes = np.bincount(labels.ravel())[1:]
    unlike_h, unlike_v, like_h, like_v = _pair_counts(built, land)
    n_built = int(sizes.sum())
    main = int(np.argmax(sizes)) + 1 if n else 0
    nmi = _main_patch_nmi(labels, main, cw, ch) if n else math.nan
    return _metrics(n_land, n_built, int(n), int(sizes.max()) if n else 0, nmi,
                    (unlike_h, unlike_v, like_h, like_v), cw, ch, edge_length)


def _metrics(n_land, n_built, n, main_cells, nmi, pairs, cw, ch, edge_length) -> dict:
    """The :data:`METRICS` from counts (shared by the whole-grid and windowed paths)."""
    unlike_h, unlike_v, like_h, like_v = pairs
    cell = cw * ch
    area = n_land * cell
    if _check_edge_length(edge_length) == "true":
        edge = unlike_h * ch + unlike_v * cw
    else:
        edge = (unlike_h + unlike_v) * cw
    out = {"landscape_area_ha": area / 1e4, "total_area_ha": n_built * cell / 1e4,
           "number_of_patches": int(n)}
    if area > 0:
        out["patch_density_per_100ha"] = n / area * 1e6
        out["largest_patch_index"] = (main_cells * cell / area * 100.0) if n else 0.0
        out["edge_density_m_per_ha"] = edge / area * 1e4
    else:
        out["patch_density_per_100ha"] = out["largest_patch_index"] = \
            out["edge_density_m_per_ha"] = math.nan
    out["total_edge_m"] = float(edge)
    out["area_mn_ha"] = n_built * cell / n / 1e4 if n else math.nan
    out["aggregation_index"] = float(aggregation_index(like_h + like_v, n_built)) if n \
        else math.nan
    out["main_patch_area_ha"] = main_cells * cell / 1e4 if n else 0.0
    out["main_patch_nmi"] = nmi if n else math.nan
    return {k: out[k] for k in METRICS}


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


def patch_metrics(units, stack, *, epochs: Sequence[int] | None = None,
                  connectivity: int = 8, edge_length: str = "true", scheduler=None,
                  block_rows: int | None = None,
                  window_cells: int = 4_000_000) -> pd.DataFrame:
    r"""Return FRAGSTATS class metrics of built-up land per unit and epoch.

    Parameters
    ----------
    units : GeoDataFrame or None
        Units indexed by id (as from :func:`gisfix.read_boundaries`); reprojected to the
        raster's CRS.  Each unit is masked with the cell-centre rule.  None: the whole grid
        is one landscape with id ``"all"``, processed in windows (full-width strips; patches
        crossing window edges are stitched by a union-find over their edge labels, so the
        metrics equal a whole-grid labelling and memory depends on the window size).
    stack : BuiltupStack
        Built-up rasters (any encoding; fraction rasters count a cell as built when its
        fraction is >= 0.5).  The grid must be projected.
    epochs : list of int, optional
        Epochs to compute (default: all the stack's epochs).
    connectivity : {8, 4}
        Patch neighbourhood: 8 (queen, FRAGSTATS default) or 4 (rook).
    edge_length : {"true", "cell_width"}
        Edge convention for non-square cells (see :func:`landscape_metrics`).
    scheduler : None, str or distributed.Client
        Where windows (whole grid) or groups of units are computed
        (:func:`gisfix.parallel.resolve_scheduler`).
    block_rows : int, optional
        Rows per window of the whole-grid path (default: ``window_cells`` cells).
    window_cells : int
        Cells per window when ``block_rows`` is not given.

    Returns
    -------
    pandas.DataFrame
        Long table with columns ``unit_id``, ``epoch`` and the :data:`METRICS`:
        ``landscape_area_ha`` (observed area of the unit), ``total_area_ha`` (CA, built
        land), ``number_of_patches`` (NP), ``patch_density_per_100ha`` (PD),
        ``largest_patch_index`` (LPI, %), ``total_edge_m`` (TE), ``edge_density_m_per_ha``
        (ED), ``area_mn_ha`` (mean patch area), ``aggregation_index`` (AI, %, He et al.
        2000), ``main_patch_area_ha`` and ``main_patch_nmi`` (normalized moment of inertia
        of the largest patch, Li et al. 2013).  See :func:`landscape_metrics` for the
        formulas.  Units that cover no cell of the grid get NaN rows.  Units are masked by
        the cell-centre rule (as ``builtup_by_unit(..., method="centre")``), so
        ``total_area_ha`` equals its built-up area in hectares.

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
    from gisfix.parallel import imap_blocks, scheduler_session

    if units is not None and not hasattr(units, "geometry") and hasattr(units, "epoch_index"):
        raise DataError("patch_metrics takes (units, stack): units first (None for the whole "
                        "grid), then the built-up stack")
    _check_connectivity(connectivity)
    _check_edge_length(edge_length)
    require_projected(stack.crs, what="the built-up raster", purpose="patch metrics")
    t = stack.transform
    if abs(t.b) > 0 or abs(t.d) > 0:
        raise DataError("patch metrics need a north-up raster (no rotation); warp it first")
    res = (abs(t.a), abs(t.e))
    eps = list(stack.epochs) if epochs is None else [int(e) for e in epochs]
    for e in eps:
        stack.epoch_index(e)
    with scheduler_session(scheduler) as sched:
        if units is None:
            rows = _whole_grid_windowed(stack, eps, res, connectivity, edge_length, sched,
                                        block_rows, window_cells)
        else:
            if units.crs is None:
                from gisfix.crs import resolve_crs

                resolve_crs(None, what="the units")
            if len(units) == 0:
                raise GeometryError(
                    "no units given; pass a GeoDataFrame with at least one polygon")
            geoms = units.to_crs(stack.crs).geometry
            items = list(zip(units.index, geoms.values))
            size = max(1, min(64, -(-len(items) // 8)))
            jobs = [(stack, items[i:i + size], eps, res, connectivity, edge_length)
                    for i in range(0, len(items), size)]
            rows = [r for part in imap_blocks(_unit_rows, jobs, sched) for r in part]
    out = pd.DataFrame(rows, columns=["unit_id", "epoch", *METRICS])
    out["number_of_patches"] = out["number_of_patches"].astype("Int64")
    return out


def _epoch_layers(stack, window, eps, inside=None):
    """Yield (built, land) per epoch for ``window`` (``inside``: extra mask)."""
    if stack.is_ordinal:
        codes = stack.read_ordinal(window)
        observed = codes != 255
        if inside is not None:
            observed &= inside
        for e in eps:
            yield codes <= stack.epoch_index(e), observed
    else:
        frac = stack.read_fraction(window, eps)
        for k in range(len(eps)):
            ok = ~np.isnan(frac[k])
            if inside is not None:
                ok &= inside
            yield ok & (np.nan_to_num(frac[k]) >= 0.5), ok


@stack_task
def _unit_rows(job):
    """Metric rows of a group of units (one task)."""
    import geopandas as gpd

    stack, items, eps, res, connectivity, edge_length = job
    units = gpd.GeoDataFrame(geometry=[g for _, g in items],
                             index=[u for u, _ in items], crs=stack.crs)
    rows = []
    for uid, w, inside in _unit_windows(units, stack):
        if w is None:
            for e in eps:
                rows.append({"unit_id": uid, "epoch": e, **dict.fromkeys(METRICS, math.nan)})
            continue
        for e, (built, land) in zip(eps, _epoch_layers(stack, w, eps, inside)):
            rows.append({"unit_id": uid, "epoch": e,
                         **landscape_metrics(built & land, land, res=res,
                                             connectivity=connectivity,
                                             edge_length=edge_length)})
    return rows


def _label_moments(labels, n, r0, want=None):
    """Return per-label moments and first cells of a strip's labels.

    Rows 0..4 of the first array: cells, sums of columns, rows and their squares (exact
    int64), per label 0..n; the second array: the flat index of each label's first cell in
    raster order.  With ``want`` (bool, length n + 1) only those labels are filled.
    """
    width = labels.shape[1]
    if want is None:
        flat = np.flatnonzero(labels)  # ascending: raster order
    else:
        flat = np.flatnonzero(want[labels])
    lab = labels.ravel()[flat]
    r = flat // width + r0
    c = flat % width
    out = np.zeros((5, n + 1), np.int64)
    first = np.full(n + 1, np.iinfo(np.int64).max, np.int64)
    if lab.size:
        order = np.argsort(lab, kind="stable")  # stable: the first of a label is its first cell
        ls = lab[order]
        rs, cs = r[order], c[order]
        starts = np.flatnonzero(np.concatenate(([True], ls[1:] != ls[:-1])))
        u = ls[starts]
        out[0, u] = np.diff(np.append(starts, ls.size))
        for k, v in enumerate((cs, rs, cs * cs, rs * rs), start=1):
            out[k, u] = np.add.reduceat(v, starts)
        first[u] = rs[starts] * width + cs[starts]
    return out, first


@stack_task
def _strip_stats(job):
    """One strip of the whole-grid path: per epoch, counts, edge labels and patch moments."""
    from rasterio.windows import Window
    from scipy import ndimage

    stack, r0, r1, eps, connectivity = job
    h, width = stack.height, stack.width
    r1x = min(h, r1 + 1)  # one row of overlap: the vertical pairs across the strip's edge
    structure = CONNECTIVITY[int(connectivity)]
    out = []
    for built, land in _epoch_layers(stack, Window(0, r0, width, r1x - r0), eps):
        built = built & land
        core_b, core_l = built[:r1 - r0], land[:r1 - r0]
        bl, br, ll, lr = core_b[:, :-1], core_b[:, 1:], core_l[:, :-1], core_l[:, 1:]
        bu, bd, lu, ld = built[:-1], built[1:], land[:-1], land[1:]
        pairs = (int(np.count_nonzero(ll & lr & (bl != br))),
                 int(np.count_nonzero(lu & ld & (bu != bd))),
                 int(np.count_nonzero(bl & br)), int(np.count_nonzero(bu & bd)))
        labels, n = ndimage.label(core_b, structure=structure)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        edge = np.zeros(n + 1, bool)
        top, bottom = labels[0], labels[-1]
        edge[top] = True
        edge[bottom] = True
        edge[0] = False
        # edge patches are merged across strips; of the others only the largest matters
        inner = np.flatnonzero(~edge)[1:] if n else np.zeros(0, np.int64)
        want = edge.copy()
        if inner.size:
            cand = inner[sizes[inner] == sizes[inner].max()]
            want[cand] = True
        mom, first = _label_moments(labels, n, r0, want)
        best = None
        if inner.size:
            k = cand[np.argmin(first[cand])]
            best = (mom[:, k].copy(), int(first[k]))
        ek = np.flatnonzero(edge)
        tc = np.flatnonzero(top)
        bc = np.flatnonzero(bottom)
        out.append({"n_land": int(np.count_nonzero(core_l)), "n_built": int(sizes[1:].sum()),
                    "pairs": pairs, "n": int(n),
                    # int32: the client keeps these for every strip until it stitches
                    "first_row": (tc.astype(np.int32), top[tc].astype(np.int32)),
                    "last_row": (bc.astype(np.int32), bottom[bc].astype(np.int32)),
                    "edge_labels": ek,
                    "edge_mom": mom[:, ek], "edge_first": first[ek], "best": best})
    return out


def _whole_grid_windowed(stack, eps, res, connectivity, edge_length, scheduler, block_rows,
                         window_cells):
    """Metric rows of the whole grid, computed strip by strip (see :func:`patch_metrics`).

    Strips are reduced as they arrive, in order: counts and pairs are summed, and patches
    crossing strip edges are joined by a :class:`gisfix.parallel.StreamStitch` per epoch,
    which keeps only the open boundary.  The client's memory therefore holds one row per
    epoch and the patches touching it, not the edge rows of every strip.
    """
    from gisfix.parallel import StreamStitch, imap_blocks

    rows_per = int(block_rows) if block_rows else max(1, int(window_cells) // max(1, stack.width))
    strips = [(r0, min(r0 + rows_per, stack.height)) for r0 in range(0, stack.height, rows_per)]
    cw, ch = res
    stitches = [StreamStitch(5, connectivity) for _ in eps]
    sums = [{"pairs": np.zeros(4, np.int64), "n_land": 0, "n_built": 0} for _ in eps]
    best = [None] * len(eps)  # (cells, -first, moments) of the largest patch so far

    def offer(k, mom, first):
        if mom.shape[1] == 0:
            return
        j = np.lexsort((first, -mom[0]))[0]  # most cells, then first in raster order
        cand = (int(mom[0, j]), -int(first[j]), mom[:, j].copy())
        if best[k] is None or cand[:2] > best[k][:2]:
            best[k] = cand

    for res_strip in imap_blocks(_strip_stats, [(stack, r0, r1, eps, connectivity)
                                                for r0, r1 in strips], scheduler):
        for k, p in enumerate(res_strip):
            acc = sums[k]
            acc["pairs"] += np.asarray(p["pairs"], np.int64)
            acc["n_land"] += p["n_land"]
            acc["n_built"] += p["n_built"]
            offer(k, *stitches[k].add(p["n"], p["first_row"], p["last_row"],
                                      p["edge_labels"], p["edge_mom"], p["edge_first"]))
            if p["best"] is not None:
                offer(k, p["best"][0][:, None], np.array([p["best"][1]]))
    out = []
    for k, e in enumerate(eps):
        offer(k, *stitches[k].finish())
        n = stitches[k].n
        if n and best[k] is not None:
            size_max, mom = best[k][0], best[k][2]
            nmi = _nmi_from_moments(*(int(v) for v in mom), cw, ch)
        else:
            size_max, nmi = 0, math.nan
        acc = sums[k]
        out.append({"unit_id": "all", "epoch": e,
                    **_metrics(acc["n_land"], acc["n_built"], n, size_max, nmi,
                               tuple(int(v) for v in acc["pairs"]), cw, ch, edge_length)})
    return out


def patch_layer(stack, epoch: int, *, connectivity: int = 8, scheduler=None,
                block_rows: int | None = None, window_cells: int = 4_000_000):
    """Return the built-up patches of one epoch as polygons, read in windows.

    Each patch is a set of built cells connected under ``connectivity``.  Strips are
    labelled one by one and patches crossing strip edges are stitched
    (:func:`gisfix.parallel.stitch_strips`), so every patch gets the id, cells and area of a
    whole-grid ``scipy.ndimage.label`` (ids 1..n in the raster order of their first cell);
    its polygon is the union of its pieces (one valid (multi)polygon per patch,
    :func:`gisfix.lei.patch_polygons`).  Memory holds one strip and the output.

    Parameters
    ----------
    stack : BuiltupStack
        Built-up rasters (any encoding, projected or geographic: areas are true cell areas).
    epoch : int
        The epoch.
    connectivity : {8, 4}
        Patch neighbourhood.
    scheduler : None, str or distributed.Client
        Where the strips are computed (:func:`gisfix.parallel.resolve_scheduler`).
    block_rows : int, optional
        Rows per strip (default: ``window_cells`` cells).
    window_cells : int
        Cells per strip when ``block_rows`` is not given.

    Returns
    -------
    GeoDataFrame
        ``patch_id``, ``epoch``, ``area_km2``, ``cells`` and the polygon, in the raster's
        CRS, ordered by ``patch_id``.
    """
    import geopandas as gpd

    from gisfix.lei import _join_pieces
    from gisfix.parallel import imap_blocks, scheduler_session, stitch_strips

    _check_connectivity(connectivity)
    epoch = int(epoch)
    stack.epoch_index(epoch)
    rows_per = int(block_rows) if block_rows else max(1, int(window_cells) // max(1, stack.width))
    strips = [(r0, min(r0 + rows_per, stack.height)) for r0 in range(0, stack.height, rows_per)]
    with scheduler_session(scheduler) as sched:
        edges = list(imap_blocks(_patch_edges, [(stack, r0, r1, epoch, connectivity)
                                                for r0, r1 in strips], sched))
        stitch = stitch_strips([e[1] for e in edges], [e[2] for e in edges],
                               [e[0] for e in edges], connectivity)
        del edges
        jobs = [(stack, r0, r1, epoch, connectivity, stitch.params(k))
                for k, (r0, r1) in enumerate(strips)]
        pieces, ids, cells, areas = [], [], [], []
        for poly, gid, c, a in imap_blocks(_patch_pieces, jobs, sched):
            pieces.append(poly)
            ids.append(gid)
            cells.append(c)
            areas.append(a)
    n = stitch.n
    if n == 0:
        return gpd.GeoDataFrame({"patch_id": np.zeros(0, np.int64), "epoch": np.zeros(0, int),
                                 "area_km2": np.zeros(0), "cells": np.zeros(0, np.int64)},
                                geometry=[], crs=stack.crs)
    gid = np.concatenate(ids)
    tot_cells = np.bincount(gid, weights=np.concatenate(cells), minlength=n + 1)
    tot_area = np.zeros(n + 1)
    np.add.at(tot_area, gid, np.concatenate(areas))  # in strip order, as a whole-grid sum
    geoms = _join_pieces(pieces, stack.transform, stack.crs)
    k = geoms.index.to_numpy()
    return gpd.GeoDataFrame({"patch_id": k, "epoch": epoch, "area_km2": tot_area[k] / 1e6,
                             "cells": tot_cells[k].astype(np.int64)},
                            geometry=geoms.to_numpy(), crs=stack.crs)


def _strip_built(stack, r0, r1, epoch):
    """Built cells of the full-width strip of rows ``r0:r1`` (as :meth:`BuiltupStack.built`)."""
    return stack.built(epoch, stack.row_window(r0, r1))


@stack_task
def _patch_edges(job):
    """Pass A of :func:`patch_layer`: label count and edge rows of one strip."""
    from scipy import ndimage

    stack, r0, r1, epoch, connectivity = job
    built = _strip_built(stack, r0, r1, epoch)
    labels, n = ndimage.label(built, structure=CONNECTIVITY[int(connectivity)])
    rows = []
    for row in (labels[0], labels[-1]):
        c = np.flatnonzero(row)
        rows.append((c.astype(np.int32), row[c].astype(np.int32)))
    return int(n), rows[0], rows[1]


@stack_task
def _patch_pieces(job):
    """Pass B of :func:`patch_layer`: polygons (pixel coordinates), cells and m² by global id."""
    from affine import Affine
    from scipy import ndimage

    from gisfix.lei import patch_polygons
    from gisfix.parallel import map_labels

    stack, r0, r1, epoch, connectivity, params = job
    built = _strip_built(stack, r0, r1, epoch)
    labels, n = ndimage.label(built, structure=CONNECTIVITY[int(connectivity)])
    glob = map_labels(labels, *params)
    area = np.broadcast_to(stack.row_cell_areas(stack.row_window(r0, r1))[:, None], labels.shape)
    cells = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    m2 = np.bincount(labels.ravel(), weights=area.ravel(), minlength=n + 1)[1:]
    gid = map_labels(np.arange(1, n + 1), *params)
    polys = patch_polygons(glob, Affine.translation(0, r0))
    return polys, gid, cells, m2


__all__ = ["CONNECTIVITY", "METRICS", "RENAMED", "aggregation_index", "landscape_metrics",
           "max_like_adjacencies", "patch_layer", "patch_metrics"]
