"""Built-up accounting: built-up and observed area by unit and epoch.

:func:`builtup_by_unit` measures built-up and observed area per unit and epoch, either
exactly (each cell weighted by the fraction of its area inside the polygon, as exactextract
defines it) or by the cell-centre rule, in one windowed pass over the raster for all epochs;
:func:`to_wide` pivots its result.  :func:`label_cells` labels cells by the unit containing
their centre (GDAL's rule); :func:`coverage_fractions` returns dense exact coverage fractions
for small grids.

How ``exact`` works: polygon edges, in pixel coordinates, are cut at row and column lines;
each piece adds its signed trapezoid area to its cell and its signed height to every cell to
its right (signed-area accumulation, as in font rasterisers).  Cells crossed by an edge get
their fraction from these sums; the cells between them along a row are fully inside (or
outside) and form runs.  For ordinal encodings, runs are painted into a label image that
one ``bincount`` over ``(unit, first-built epoch)`` consumes, chunk by chunk of a few rows,
each chunk cropped to the columns its runs span: cells outside every unit are never
labelled nor counted, and raster blocks that no unit touches are never read (nor
decompressed).
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from gisfix.errors import LowCoverageWarning, NoValidCellsWarning

log = logging.getLogger(__name__)

#: Run values within this of an integer are that integer (float64 round-off of the cover sums).
COVERAGE_ATOL = 1e-9
METHODS = ("exact", "centre")
LONG_COLUMNS = ["unit_id", "epoch", "builtup_km2", "valid_km2", "builtup_share", "coverage"]
#: Units observed on less of their area than this are named in a LowCoverageWarning.
DEFAULT_MIN_COVERAGE = 0.99
#: Largest automatic window: full-width strips of whole tile rows, up to this many cells.
MAX_AUTO_WINDOW_CELLS = 32_000_000


def _window_transform(stack, window):
    w = stack.resolve_window(window)
    return w, stack.window_transform(w)


def _units_in_crs(units, stack):
    """Return the geometries of ``units`` reprojected to the stack CRS (never the raster)."""
    from gisfix.crs import resolve_crs, to_crs_checked

    if units.crs is None:
        resolve_crs(None, what="the boundaries")  # raises, naming the fix
    if units.crs.equals(stack.crs):
        return units.geometry
    return to_crs_checked(units[[units.geometry.name]], stack.crs).geometry


def _row_bounds(geoms, transform):
    """Return the (first, last) pixel row each geometry can touch (inf for empty ones)."""
    import shapely

    b = shapely.bounds(np.asarray(geoms.values, dtype=object))
    ra = (b[:, 3] - transform.f) / transform.e
    rb = (b[:, 1] - transform.f) / transform.e
    lo, hi = np.fmin(ra, rb), np.fmax(ra, rb)
    return np.where(np.isnan(lo), np.inf, lo), np.where(np.isnan(hi), -np.inf, hi)


def label_cells(units, stack, window=None) -> np.ndarray:
    """Return, for each cell of ``window``, the position of the unit containing its centre.

    Parameters
    ----------
    units : geopandas.GeoDataFrame or GeoSeries
        Polygons with a CRS; reprojected to ``stack.crs`` (the raster is never resampled).
    stack : gisfix.stack.BuiltupStack
        The raster grid (only its CRS, transform and shape are used).
    window : rasterio.windows.Window, optional
        The cells to label; the whole grid when None.

    Returns
    -------
    numpy.ndarray of int32, shape (window rows, window columns)
        The position (0 .. ``len(units) - 1``) of the unit whose polygon contains the cell
        centre, or -1 for cells outside every unit.  Where units overlap, the later one wins.

    Notes
    -----
    The cell-centre rule of GDAL's rasteriser (``rasterio.features.rasterize`` with
    ``all_touched=False``).
    """
    w, transform = _window_transform(stack, window)
    shape = (int(w.height), int(w.width))
    geoms = _units_in_crs(units, stack)
    lo, hi = _row_bounds(geoms, stack.transform)
    r0 = int(w.row_off)
    near = np.flatnonzero((hi >= r0 - 1) & (lo <= r0 + shape[0] + 1))
    values = geoms.values
    shapes = [(values[i], int(i)) for i in near
              if values[i] is not None and not values[i].is_empty]
    if not shapes or shape[0] == 0 or shape[1] == 0:
        return np.full(shape, -1, dtype=np.int32)
    return stack.rasterize(shapes, w, fill=-1, dtype="int32")


# -- polygon edges in pixel coordinates --------------------------------------------------
def _edges(geoms, transform):
    """Return the edges of every ring as arrays in pixel coordinates, and the sign to apply.

    Returns ``(x0, y0, x1, y1, unit_position, sign)``; polygons are oriented (exteriors
    counter-clockwise, holes clockwise) so that signed areas of holes subtract.
    """
    import shapely

    arr = np.asarray(geoms.values if hasattr(geoms, "values") else geoms, dtype=object)
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    pos = np.flatnonzero(ok)
    empty = (np.empty(0),) * 4 + (np.empty(0, np.int64), 1.0)
    if not len(pos):
        return empty
    arr = shapely.orient_polygons(arr[pos], exterior_cw=False)
    parts, part_idx = shapely.get_parts(arr, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        return empty
    t = transform
    col = (coords[:, 0] - t.c) / t.a
    row = (coords[:, 1] - t.f) / t.e
    same = ring_idx[1:] == ring_idx[:-1]
    unit = pos[part_idx[ring_part[ring_idx[:-1][same]]]]
    # exterior CCW in map coordinates: with rows growing downwards (north-up, a * e < 0) the
    # cover to the right of an exterior edge is +dy; a south-up or mirrored grid flips it
    sign = 1.0 if t.a * t.e < 0 else -1.0
    return (col[:-1][same], row[:-1][same], col[1:][same], row[1:][same],
            unit.astype(np.int64), sign)


def _ragged_expand(lo, hi):
    """For inclusive integer ranges ``lo..hi``, return (source index, value) of every item."""
    n = (hi - lo + 1).astype(np.int64)
    src = np.repeat(np.arange(len(n)), n)
    starts = np.cumsum(n) - n
    val = lo[src] + (np.arange(len(src)) - starts[src])
    return src, val


def _boundary_and_runs(edges, r0: int, h: int, width: int):
    """Exact coverage of the window rows ``r0 .. r0+h-1`` by every polygon.

    Signed-area accumulation (as in font rasterisers): every edge is cut at the row and
    column lines; a piece inside cell (r, c) adds ``dy * (c + 1 - x_mid)`` to that cell and
    ``dy`` to every cell right of it.  Returns the partially covered cells
    ``(unit, row, col, coverage)`` and the fully covered runs ``(unit, row, c0, c1, value)``
    (``c1`` inclusive), rows relative to ``r0``.
    """
    x0, y0, x1, y1, unit, sign = edges
    r1 = r0 + h
    ylo = np.minimum(y0, y1)
    yhi = np.maximum(y0, y1)
    sel = (ylo < r1) & (yhi > r0) & (y0 != y1)
    x0, y0, x1, y1, unit = x0[sel], y0[sel], x1[sel], y1[sel], unit[sel]
    ylo = np.maximum(ylo[sel], r0)
    yhi = np.minimum(yhi[sel], r1)
    slope = (x1 - x0) / (y1 - y0)
    direction = np.sign(y1 - y0)
    # -- cut at row lines
    ra = np.floor(ylo).astype(np.int64)
    rb = np.maximum(np.ceil(yhi).astype(np.int64) - 1, ra)
    src, row = _ragged_expand(ra, rb)
    ya = np.maximum(ylo[src], row)
    yb = np.minimum(yhi[src], row + 1)
    dy = (yb - ya) * direction[src]
    xa = x0[src] + (ya - y0[src]) * slope[src]
    xb = x0[src] + (yb - y0[src]) * slope[src]
    punit = unit[src]
    keep = dy != 0
    xlo = np.minimum(xa, xb)[keep]
    xhi = np.maximum(xa, xb)[keep]
    dy, row, punit = dy[keep], row[keep] - r0, punit[keep]
    # -- cut at column lines; column -1 stands for everything left of the raster, width
    #    for everything right of it (which affects no cell)
    ca = np.clip(np.floor(xlo), -1, width).astype(np.int64)
    cb = np.clip(np.maximum(np.ceil(xhi) - 1, np.floor(xlo)), -1, width).astype(np.int64)
    src, col = _ragged_expand(ca, cb)
    lo = np.where(col >= 0, col, -np.inf)
    hi = np.where(col < width, col + 1.0, np.inf)
    sxlo, sxhi = xlo[src], xhi[src]
    a = np.maximum(sxlo, lo)
    b = np.minimum(sxhi, hi)
    span = sxhi - sxlo
    with np.errstate(invalid="ignore", divide="ignore"):
        portion = np.where(span > 0, np.clip(b - a, 0.0, None) / span, 1.0)
    sdy = dy[src] * portion
    xmid = np.where(span > 0, (a + b) / 2, sxlo)
    inside = col < width
    if not inside.all():
        col, sdy, xmid, src = col[inside], sdy[inside], xmid[inside], src[inside]
    area = np.where(col >= 0, sdy * (col + 1 - xmid), 0.0)
    # -- sum per cell, then carry the cover along each row of each unit
    wp1 = width + 1
    key = (punit[src] * h + row[src]) * wp1 + (col + 1)
    ukey, inv = np.unique(key, return_inverse=True)
    area_sum = np.bincount(inv, weights=area, minlength=len(ukey))
    cover_sum = np.bincount(inv, weights=sdy, minlength=len(ukey))
    ucol = ukey % wp1 - 1
    group = ukey // wp1
    csum = np.cumsum(cover_sum)
    new_group = np.ones(len(ukey), bool)
    new_group[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(new_group)
    offset = np.where(starts > 0, csum[starts - 1], 0.0)
    gid = np.cumsum(new_group) - 1
    incl = csum - offset[gid]
    coverage = sign * (area_sum + incl - cover_sum)
    urow = group % h
    uunit = group // h
    cells = ucol >= 0
    bcells = (uunit, urow, ucol, np.clip(coverage, 0.0, 1.0))
    if not cells.all():
        bcells = tuple(a[cells] for a in bcells)
    # runs between consecutive partial cells of one unit and row
    last = np.ones(len(ukey), bool)
    last[:-1] = group[:-1] != group[1:]
    nxt = np.empty(len(ukey), np.int64)
    nxt[:-1] = ucol[1:]
    nxt = np.where(last, width, nxt)
    # cells strictly between two partial cells carry the cover: 1 inside, 0 outside, or a
    # fraction where a horizontal edge runs through the row (not snapped: counted exactly)
    run = np.flatnonzero(nxt > ucol + 1)
    value = sign * incl[run]
    whole = np.rint(value)
    value = np.where(np.abs(value - whole) <= COVERAGE_ATOL, whole, value)
    run = run[value != 0]
    value = value[value != 0]
    runs = (uunit[run], urow[run], ucol[run] + 1, nxt[run] - 1, value)
    return bcells, runs


def _in_substrips(fn, edges, r0: int, h: int, width: int, rows: int = 128):
    """Run ``fn(edges, r, n, width)`` on sub-strips of ``rows`` rows; join the results.

    Returns what ``fn`` returns for the whole strip (rows relative to ``r0``), computed a
    few rows at a time so that the work arrays stay in the CPU cache (about twice as fast
    on strips of 512 rows).
    """
    if h <= rows:
        return fn(edges, r0, h, width)
    starts = range(r0, r0 + h, rows)
    parts = [fn(edges, r, min(rows, r0 + h - r), width) for r in starts]
    if isinstance(parts[0][0], tuple):  # several (unit, row, ...) tuples
        return tuple(_join_rows([p[k] for p in parts], r0, starts)
                     for k in range(len(parts[0])))
    return _join_rows(parts, r0, starts)


def _join_rows(parts, r0: int, starts) -> tuple:
    """Concatenate ``(unit, row, ...)`` tuples of sub-strips, rows made relative to ``r0``."""
    out = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    out[1] = np.concatenate([p[1] + (s - r0) for p, s in zip(parts, starts)])
    return tuple(out)


def _centre_runs(edges, r0: int, h: int, width: int):
    """Runs of cells whose centre lies inside each polygon (scanline fill), window rows.

    GDAL's rule (``gdal_rasterize`` without ``all_touched``): an edge crosses the line
    through the centres of row r when ``min(y) <= r + 0.5 < max(y)``; between consecutive
    crossings ``xa < xb`` with non-zero winding, cells ``floor(xa + .5) .. floor(xb + .5) - 1``
    are inside.  Returns ``(unit, row, c0, c1, value)`` like :func:`_boundary_and_runs`.
    """
    x0, y0, x1, y1, unit, sign = edges
    ylo = np.minimum(y0, y1)
    yhi = np.maximum(y0, y1)
    ra = np.maximum(np.ceil(ylo - 0.5), r0)
    rb = np.minimum(np.ceil(yhi - 0.5) - 1, r0 + h - 1)
    sel = (rb >= ra) & (y0 != y1)
    x0, y0, x1, y1, unit = x0[sel], y0[sel], x1[sel], y1[sel], unit[sel]
    src, row = _ragged_expand(ra[sel].astype(np.int64), rb[sel].astype(np.int64))
    slope = (x1 - x0) / (y1 - y0)
    x = x0[src] + (row + 0.5 - y0[src]) * slope[src]
    d = np.sign(y1 - y0)[src]
    group = unit[src] * h + (row - r0)
    order = np.lexsort((x, group))
    x, d, group = x[order], d[order], group[order]
    csum = np.cumsum(d)
    new_group = np.ones(len(group), bool)
    new_group[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(new_group)
    offset = np.where(starts > 0, csum[np.maximum(starts - 1, 0)], 0.0)
    winding = csum - offset[np.cumsum(new_group) - 1]
    last = np.ones(len(group), bool)
    last[:-1] = new_group[1:]
    nxt = np.empty(len(x))
    nxt[:-1] = x[1:]
    inside = (winding != 0) & ~last
    c0 = np.clip(np.floor(x[inside] + 0.5), 0, width).astype(np.int64)
    c1 = np.clip(np.floor(nxt[inside] + 0.5) - 1, -1, width - 1).astype(np.int64)
    keep = c1 >= c0
    g = group[inside][keep]
    return (g // h, g % h, c0[keep], c1[keep], np.ones(int(keep.sum())))


def _paintable(runs, width: int) -> np.ndarray:
    """Return a mask of the runs that can be painted: value 1 and overlapping no earlier run.

    Painted runs are disjoint; the others (overlapping units, or a fractional value where a
    horizontal edge runs along the row) are counted cell by cell by the caller.
    """
    unit, row, c0, c1, value = runs
    wp1 = width + 1
    start = row * wp1 + c0
    end = row * wp1 + c1 + 1
    order = np.argsort(start, kind="stable")
    prev_end = np.maximum.accumulate(end[order])
    clash = np.zeros(len(order), bool)
    clash[1:] = start[order][1:] < prev_end[:-1]
    explicit = np.zeros(len(unit), bool)
    explicit[order[clash]] = True
    explicit |= value != 1
    return ~explicit


def _label_runs(runs, h: int, width: int, scale: int = 1, buffers: dict | None = None):
    """Paint non-overlapping full runs into a label image ((unit position + 1) * ``scale``).

    The image is an int32 ``(h, width)`` view with row stride ``width + 1``; 0 means no unit.
    Returns the image and the runs left over (overlapping another run, or
    with a value other than 1), which the caller counts cell by cell.  ``buffers`` keeps
    the work arrays between windows (fresh large arrays cost page faults).
    """
    unit, row, c0, c1, value = runs
    wp1 = width + 1
    start = row * wp1 + c0
    end = row * wp1 + c1 + 1
    paint = _paintable(runs, width)
    explicit = ~paint
    buffers = {} if buffers is None else buffers
    if buffers.get("diff") is None or buffers["diff"].size < h * wp1:
        buffers["diff"] = np.empty(h * wp1, np.int32)
    diff = buffers["diff"][: h * wp1]
    diff[:] = 0
    label = ((unit[paint] + 1) * scale).astype(np.int32)  # < 2**31: checked by the caller
    np.add.at(diff, start[paint], label)
    np.subtract.at(diff, end[paint], label)
    # in place, along rows: one int32 array per strip (add.accumulate is several times
    # faster than cumsum(axis=1) here); the last column of each row is left over
    labels = diff.reshape(h, wp1)[:, :width]
    np.add.accumulate(labels, axis=1, out=labels)
    rest = tuple(a[explicit] for a in runs)
    return labels, rest


def _count_runs_by_code(runs, raw, lut, scale: int, size: int, row_weights=None,
                        buffers: dict | None = None, chunk_cells: int = 1 << 18, *,
                        mask=None, unknown: list | None = None) -> np.ndarray:
    """Count the cells of disjoint runs by (unit, code), reading codes as ``lut[raw]``.

    ``runs`` are ``(unit, row, c0, c1)`` (``c1`` inclusive, rows of ``raw``).  Returns a
    float array of ``size`` bins, bin ``(unit + 1) * scale + code`` (bins below ``scale``
    hold cells in no run; ``scale`` > every code).  The strip is cut into chunks of a few
    rows; each chunk is cropped to the columns its runs span, so cells outside every unit
    are neither labelled, looked up nor counted.  Within the crop, runs are painted into a
    label image (start/end differences, accumulated along rows) that is added to the codes
    and counted by one ``bincount``.  ``row_weights`` weights every cell of row i.  Every raw
    value must index ``lut`` (it is not checked).  ``mask`` (bool, shape of ``raw``): cells
    where it is False get code 0.  ``unknown``: when given, the raw values of counted cells
    whose code is 1 (a value the caller has not met yet) are appended to it.
    """
    unit, row, c0, c1 = runs[:4]
    out = np.zeros(size)
    if not len(row):
        return out
    h, width = raw.shape
    rows = max(1, min(h, chunk_cells // max(1, width)))
    order = np.argsort(row, kind="stable")
    row, c0, c1 = row[order], c0[order], c1[order]
    lab = ((unit[order] + 1) * scale).astype(np.int32)  # < 2**31: checked by the caller
    bounds = np.searchsorted(row // rows, np.arange((h + rows - 1) // rows + 1))
    chunks = np.flatnonzero(bounds[1:] > bounds[:-1])
    first = bounds[chunks]
    lo = np.minimum.reduceat(c0, first)
    hi = np.maximum.reduceat(c1, first) + 1
    buffers = {} if buffers is None else buffers
    need = rows * (width + 1)
    if buffers.get("chunk") is None or buffers["chunk"][0].size < need:
        buffers["chunk"] = (np.empty(need, np.int32), np.empty(need, np.int32))
    diff_buf, key_buf = buffers["chunk"]
    for k, i, a, b in zip(chunks.tolist(), first.tolist(), lo.tolist(), hi.tolist()):
        j = int(bounds[k + 1])
        r = k * rows
        nr = min(rows, h - r)
        cw = b - a
        wp = cw + 1
        diff = diff_buf[: nr * wp]
        diff[:] = 0
        base = (row[i:j] - r) * wp - a
        # labels relative to the chunk's smallest (units numbered in spatial order keep
        # the bins of one chunk close together): short counts, kept in cache
        shift = int(lab[i:j].min()) - scale
        rel = lab[i:j] - shift
        # painted runs are disjoint: starts are distinct, and so are ends (an end may be
        # another run's start, hence starts are set before ends are subtracted)
        diff[base + c0[i:j]] = rel
        diff[base + c1[i:j] + 1] -= rel
        labels = diff.reshape(nr, wp)[:, :cw]
        np.add.accumulate(labels, axis=1, out=labels)
        keys = key_buf[: nr * cw].reshape(nr, cw)
        np.take(lut, raw[r:r + nr, a:b], out=keys, mode="wrap")  # in range: no checks
        if mask is not None:
            keys[~mask[r:r + nr, a:b]] = 0
        keys += labels
        if row_weights is None:
            counts = np.bincount(keys.ravel())
        else:
            counts = np.bincount(keys.ravel(), weights=np.repeat(row_weights[r:r + nr], cw))
        if unknown is not None and counts[scale + 1::scale].any():
            hit = (keys >= scale) & (keys % scale == 1)
            unknown.append(np.unique(raw[r:r + nr, a:b][hit]))
        out[shift + scale: shift + len(counts)] += counts[scale:]
    return out


def _block_spans(lo, hi, block_width: int, width: int) -> list[tuple[int, int]]:
    """Return the column spans ``[a, b)`` of consecutive blocks that meet some ``lo..hi``.

    ``lo``/``hi`` are inclusive column intervals within ``0 .. width - 1``; a strip then
    reads (and decompresses) only the blocks that hold a cell some unit touches.
    """
    block_width = max(1, min(int(block_width), width))
    n = -(-width // block_width)
    if not len(lo):
        return []
    d = np.zeros(n + 1, np.int64)
    np.add.at(d, lo // block_width, 1)
    np.add.at(d, hi // block_width + 1, -1)
    need = np.zeros(n + 2, np.int8)
    need[1:-1] = np.cumsum(d[:-1]) > 0
    edge = np.diff(need)
    return [(int(a) * block_width, min(int(b) * block_width, width))
            for a, b in zip(np.flatnonzero(edge == 1), np.flatnonzero(edge == -1))]


def _expand_runs(runs):
    """Return (unit, row, col, weight) for every cell of the given runs."""
    unit, row, c0, c1, value = runs
    src, col = _ragged_expand(c0, c1)
    return unit[src], row[src], col, value[src]


def _resolve_window_cells(stack, max_cells):
    if max_cells is not None:
        if int(max_cells) < 1:
            from gisfix.errors import DataError

            raise DataError(f"max_cells must be a positive number of cells, got {max_cells}")
        return int(max_cells)
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    block_h = max(1, stack.block_shape[0])
    return int(max(DEFAULT_WINDOW_CELLS, min(block_h * stack.width, MAX_AUTO_WINDOW_CELLS)))


def coverage_fractions(units, stack, window=None) -> np.ndarray:
    r"""Return the exact fraction of every cell of ``window`` covered by each unit.

    Parameters
    ----------
    units : geopandas.GeoDataFrame or GeoSeries
        Polygons with a CRS (reprojected to ``stack.crs``).
    stack : gisfix.stack.BuiltupStack
        The grid (CRS, transform, shape).
    window : rasterio.windows.Window, optional
        The cells (whole grid if None).

    Returns
    -------
    numpy.ndarray, shape (len(units), window rows, window columns)
        Dense coverage fractions in [0, 1]: the area of the unit inside the cell over the
        cell's area, as exactextract defines them.  Meant for small grids and checks;
        :func:`builtup_by_unit` never builds this array.

    Notes
    -----
    .. math:: w_{ui} = |P_u \cap C_i| / |C_i|

    computed by signed-area accumulation along each row (see :func:`builtup_by_unit`).
    """
    w, _ = _window_transform(stack, window)
    r0, h = int(w.row_off), int(w.height)
    c0, cw = int(w.col_off), int(w.width)
    out = np.zeros((len(units), h, stack.width))
    edges = _edges(_units_in_crs(units, stack), stack.transform)
    (u, r, c, cov), runs = _boundary_and_runs(edges, r0, h, stack.width)
    np.add.at(out, (u, r, c), cov)
    u, r, c, v = _expand_runs(runs)
    np.add.at(out, (u, r, c), v)
    return out[:, :, c0:c0 + cw]


def _edges_by_window(edges, windows) -> dict:
    """Split the edges among the strips their row span touches: {row_off: edges}.

    Each strip then scans only its own edges (work grows with the edges, not with
    edges x strips).  An edge spanning several strips is given to each of them.
    """
    *arrays, sign = edges
    x0, y0, x1, y1, _ = arrays
    starts = np.array([int(w.row_off) for w in windows], dtype=np.int64)
    if not len(starts):
        return {}
    ylo = np.minimum(y0, y1)
    yhi = np.maximum(y0, y1)
    wlo = np.searchsorted(starts, np.floor(ylo), side="right") - 1
    whi = np.searchsorted(starts, np.maximum(np.ceil(yhi) - 1, np.floor(ylo)),
                          side="right") - 1
    wlo = np.clip(wlo, 0, len(starts) - 1)
    whi = np.clip(whi, 0, len(starts) - 1)
    src, win = _ragged_expand(wlo, np.maximum(whi, wlo))
    order = np.argsort(win, kind="stable")
    src, win = src[order], win[order]
    bounds = np.searchsorted(win, np.arange(len(starts) + 1))
    return {int(starts[k]): tuple(a[src[bounds[k]:bounds[k + 1]]] for a in arrays) + (sign,)
            for k in range(len(starts))}


def _map_windows(fn, windows, threads: int):
    """Yield ``fn(window)`` in window order, computed by ``threads`` worker threads.

    GDAL decompression and the numpy counting release the GIL, so two workers overlap
    reading one strip with counting another.  At most ``threads + 1`` strips are queued,
    which keeps memory bounded.
    """
    if threads <= 1 or len(windows) <= 1:
        for w in windows:
            yield fn(w)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque = deque()
        it = iter(windows)
        for w in it:
            pending.append(pool.submit(fn, w))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# -- phases of builtup_by_unit -------------------------------------------------------------
@dataclass(frozen=True)
class UnitPlan:
    """Units ready for counting: phase 1 of :func:`builtup_by_unit` (:func:`prepare_units`).

    Attributes
    ----------
    ids : pandas.Index
        The unit ids, in input order.
    geoms : numpy.ndarray of shapely geometries
        The units in the raster CRS, intersected with the study area.
    unit_m2 : numpy.ndarray
        The true area (m²) of every unit before the intersection with the study area.
    rank : numpy.ndarray
        The engine's numbering of the units (by top row: units of a few rows get close
        numbers).
    edges : tuple
        The ring edges in pixel coordinates, numbered by rank.
    """

    ids: object
    geoms: object
    unit_m2: np.ndarray
    rank: np.ndarray
    edges: tuple

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.unit_m2)


@dataclass
class BlockCounts:
    """Partial sums of one block (or of several, merged): phase 3 of :func:`builtup_by_unit`.

    Attributes
    ----------
    values : numpy.ndarray or None
        Ordinal encodings: the raw raster values met, sorted (-1: cells masked out by the
        valid mask).  Per-epoch encodings: None.
    table : numpy.ndarray
        Ordinal encodings: ``table[k, j]`` is the weighted area (m²) of the cells of unit
        ``k - 1`` (by rank; row 0 unused) holding raw value ``values[j]``.  Per-epoch
        encodings: built then valid areas (m²) by epoch, one row per unit (row 0 unused).
    """

    values: np.ndarray | None
    table: np.ndarray

    def merge(self, other: BlockCounts) -> BlockCounts:
        """Return the sum of two partial results (same units)."""
        if self.values is None:
            return BlockCounts(None, self.table + other.table)
        values = np.union1d(self.values, other.values)
        table = np.zeros((self.table.shape[0], len(values)))
        table[:, np.searchsorted(values, self.values)] += self.table
        table[:, np.searchsorted(values, other.values)] += other.table
        return BlockCounts(values, table)


class _CodeBook:
    """Raw value -> slot of the count tables, grown as new values are met (no pre-scan).

    Slot 0: masked out (valid mask); slot 1: a value not yet met (a block that counts one
    registers it and is counted again); slots 2...: the values met so far.  Shared by the
    threads of one process (append-only, under a lock); a copy travels with each dask task.
    """

    MASKED, UNKNOWN = 0, 1

    def __init__(self, n_raw: int, seed=()):
        self.n_raw = n_raw
        self.values: list[int] = []
        self.lut = np.full(n_raw, self.UNKNOWN, np.int32)
        self.capacity = 16
        self._lock = threading.Lock()
        self.register(seed)

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def snapshot(self):
        """Return (lut, capacity, values) as of now (never changed afterwards)."""
        with self._lock:
            return self.lut, self.capacity, list(self.values)

    def register(self, values) -> None:
        """Give new raw values their slots."""
        with self._lock:
            new = [int(v) for v in np.unique(np.asarray(values, dtype=np.int64))
                   if 0 <= v < self.n_raw and self.lut[int(v)] == self.UNKNOWN]
            if not new:
                return
            if len(self.values) + len(new) > 1024:
                from gisfix.errors import RasterError

                raise RasterError(
                    "the raster holds more than 1024 distinct values inside the units; "
                    "year-built and ldsmt rasters hold a few codes (years or classes): "
                    "check the encoding (gisfix info guesses it)")
            lut = self.lut.copy()
            for v in new:
                lut[v] = 2 + len(self.values)
                self.values.append(v)
            while self.capacity < len(self.values) + 2:
                self.capacity *= 2
            self.lut = lut


def prepare_units(units, stack) -> UnitPlan:
    """Phase 1: reproject the units to the raster CRS and intersect them with the study area.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units indexed by id, with a CRS.
    stack : gisfix.stack.BuiltupStack
        The raster (its grid and study area are used).

    Returns
    -------
    UnitPlan

    Raises
    ------
    ExtentError
        When the units miss the raster (or the study area) entirely; the message gives both
        extents in the raster CRS.
    """
    import pandas as pd
    import shapely

    from gisfix.crs import true_areas
    from gisfix.errors import DataError, ExtentError
    from gisfix.stack import check_overlap

    if not hasattr(units, "geometry"):
        raise DataError(
            f"boundaries must be a GeoDataFrame (gisfix.read_boundaries), got "
            f"{type(units).__name__}")
    geoms = _units_in_crs(units, stack)
    values = np.asarray(geoms.values, dtype=object)
    if len(values):
        check_overlap(geoms.total_bounds, stack.grid, what="the boundaries", geoms=values)
    unit_m2 = true_areas(values, stack.crs) * 1.0
    if stack.aoi is not None and len(values):
        values = shapely.intersection(values, stack.aoi)
        if shapely.is_empty(values).all():
            from gisfix.stack import _bounds_text

            raise ExtentError(
                f"the boundaries do not overlap the study area: in the raster CRS they span "
                f"{_bounds_text(geoms.total_bounds)} and the study area spans "
                f"{_bounds_text(stack.aoi.bounds)}; check both files")
        values = _polygonal_parts(values)
    g = pd.Series(values, dtype=object)
    rank = np.empty(len(values), np.int64)
    rank[np.argsort(_row_bounds(g, stack.transform)[0], kind="stable")] = np.arange(len(values))
    *edges, sign = _edges(values, stack.transform)
    edges = (*edges[:4], rank[edges[4]], sign)
    ids = pd.Index(units.index).astype(str)
    return UnitPlan(ids=ids, geoms=values, unit_m2=unit_m2, rank=rank, edges=tuple(edges))


def _polygonal_parts(geoms) -> np.ndarray:
    """Return each geometry's polygonal part (lines and points of an intersection dropped)."""
    import shapely

    parts, idx = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    keep = shapely.get_type_id(parts) == 3  # get_parts yields single polygons
    parts, idx = parts[keep], idx[keep]
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    if len(parts):
        present, dense = np.unique(idx, return_inverse=True)
        out[present] = shapely.multipolygons(parts, indices=dense)
    return out


def plan_blocks(stack, max_cells: int | None = None) -> list:
    """Phase 2: the blocks (full-width row strips of whole tile rows) to count.

    Parameters
    ----------
    stack : BuiltupStack
        The rasters.
    max_cells : int, optional
        The largest number of cells of a block; the engine's default (sized to the memory
        budget) when None.

    Returns
    -------
    list of rasterio.windows.Window
        The blocks, top to bottom.
    """
    return list(stack.windows(_resolve_window_cells(stack, max_cells)))


def _block_geometry(edges, r0: int, h: int, width: int, method: str):
    if method == "exact":
        return _in_substrips(_boundary_and_runs, edges, r0, h, width)
    return None, _in_substrips(_centre_runs, edges, r0, h, width)


def count_block(edges, stack, window, n_units: int, method: str = "exact",
                codebook: _CodeBook | None = None, buffers: dict | None = None) -> BlockCounts:
    """Phase 3: the partial sums of one block (a row strip) for every unit.

    Parameters
    ----------
    edges : tuple
        The unit edges that reach the block (:func:`_edges_by_window`), numbered by rank.
    stack : gisfix.stack.BuiltupStack
        Read through its windowed readers (only the tiles some unit touches).
    window : rasterio.windows.Window
        The block.
    n_units : int
        Number of units.
    method : {"exact", "centre"}
        Coverage rule.
    codebook : _CodeBook, optional
        Ordinal encodings: raw value -> slot, shared by the blocks of one process.
    buffers : dict, optional
        Work arrays kept between the blocks of one thread.

    Returns
    -------
    BlockCounts
    """
    r0, h, width = int(window.row_off), int(window.height), stack.width
    buffers = {} if buffers is None else buffers
    areas = stack.row_cell_areas(window)
    const_area = bool(np.all(areas == areas[0])) if len(areas) else True
    bcells, runs = _block_geometry(edges, r0, h, width, method)
    if stack.is_ordinal:
        return _count_ordinal(stack, window, runs, bcells, areas, const_area, n_units,
                              codebook, buffers)
    return _count_fraction(stack, window, runs, bcells, areas, const_area, n_units, buffers)


def _count_ordinal(stack, w, runs, bcells, areas, const_area, n_units, codebook, buffers):
    paint = _paintable(runs, stack.width)
    u, r, c, cov = _expand_runs(tuple(a[~paint] for a in runs))
    if bcells is not None:
        u, r, c, cov = (np.concatenate([x, y]) for x, y in zip(bcells, (u, r, c, cov)))
    h = int(w.height)
    spans = _block_spans(np.concatenate([runs[2], c]), np.concatenate([runs[3], c]),
                         stack.block_shape[1], stack.width)
    if buffers.get("raw") is None or buffers["raw"].shape[0] < h \
            or buffers["raw"].shape[1] != stack.width:
        buffers["raw"] = np.empty((h, stack.width), stack.dtype)
    raw = stack.read_raw(w, out=buffers["raw"][:h], col_spans=spans)
    mask = stack.read_valid_mask(w)
    painted = tuple(a[paint] for a in runs[:4])
    while True:
        lut, cap, values = codebook.snapshot()
        size = (n_units + 1) * cap
        unknown: list = []
        if const_area:
            part = _count_runs_by_code(painted, raw, lut, cap, size, buffers=buffers,
                                       mask=mask, unknown=unknown) * areas[0]
        else:
            part = _count_runs_by_code(painted, raw, lut, cap, size, areas, buffers,
                                       mask=mask, unknown=unknown)
        if len(u):
            vals = raw[r, c]
            slot = lut[vals]
            if mask is not None:
                slot = np.where(mask[r, c], slot, _CodeBook.MASKED)
            part += np.bincount((u + 1) * cap + slot, weights=cov * areas[r], minlength=size)
            unknown.append(vals[slot == _CodeBook.UNKNOWN])
        new = np.concatenate(unknown) if unknown else np.empty(0)
        if not len(new):
            break
        codebook.register(new)  # values met for the first time: count the block again
    table = part.reshape(n_units + 1, cap)
    slots = np.array([0] + [2 + i for i in range(len(values))])
    return BlockCounts(np.array([-1] + values, dtype=np.int64), table[:, slots])


def _count_fraction(stack, w, runs, bcells, areas, const_area, n_units, buffers):
    h, width = int(w.height), stack.width
    n_ep = len(stack.epochs)
    labels, rest = _label_runs(runs, h, width, buffers=buffers)
    u, r, c, v = _expand_runs(rest)  # runs of overlapping units, or fractional ones
    partial = (u, r, c, v.astype(float))
    if bcells is not None:
        partial = tuple(np.concatenate([a, b]) for a, b in zip(bcells, partial))
    spans = _block_spans(np.concatenate([runs[2], partial[2]]),
                         np.concatenate([runs[3], partial[2]]), stack.block_shape[1], width)
    frac = stack.read_fraction(w, col_spans=spans, study_area=False)
    built = np.zeros((n_units + 1, n_ep))
    valid = np.zeros((n_units + 1, n_ep))
    flat = np.ascontiguousarray(labels).ravel()
    wts = None if const_area else np.repeat(areas, width)
    cell = areas[0] if const_area else 1.0
    for j in range(n_ep):
        f = frac[j].ravel()
        ok = ~np.isnan(f)
        fw = np.where(ok, f, 0.0) if wts is None else np.where(ok, f, 0.0) * wts
        vw = ok if wts is None else ok * wts
        built[:, j] += np.bincount(flat, weights=fw, minlength=n_units + 1) * cell
        valid[:, j] += np.bincount(flat, weights=vw, minlength=n_units + 1) * cell
        if len(partial[0]):
            u, r, c, cov = partial
            fc = frac[j][r, c]
            okc = ~np.isnan(fc)
            wc = cov * areas[r]
            built[:, j] += np.bincount(u + 1, weights=np.where(okc, fc, 0.0) * wc,
                                       minlength=n_units + 1)
            valid[:, j] += np.bincount(u + 1, weights=okc * wc, minlength=n_units + 1)
    return BlockCounts(None, np.concatenate([built, valid], axis=1))


def count_blocks(plan: UnitPlan, stack, windows, method: str = "exact", *, threads: int = 2,
                 scheduler=None, progress: bool = False) -> BlockCounts:
    """Phase 3 over every block: partial sums per block, merged in block order.

    ``scheduler=None`` counts in this process with ``threads`` threads; otherwise every
    block is a dask task (:mod:`gisfix.parallel`).  The result does not depend on either.

    Parameters
    ----------
    plan : UnitPlan
        The units (:func:`prepare_units`).
    stack : BuiltupStack
        The rasters.
    windows : list of rasterio.windows.Window
        The blocks (:func:`plan_blocks`).
    method : str
        ``"exact"`` (cells weighted by the fraction of their area inside the unit) or
        ``"centre"`` (GDAL's cell-centre rule).
    threads : int
        Threads counting blocks in this process (``scheduler=None``).
    scheduler : str or dask Client, optional
        A dask scheduler (:func:`gisfix.parallel.resolve_scheduler`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    BlockCounts
        The sums over every block (zero counts when there are no blocks).
    """
    from tqdm.auto import tqdm

    from gisfix import parallel

    n_units = plan.n_units
    if stack.is_ordinal:
        n_raw = 256 if np.dtype(stack.dtype).itemsize == 1 else 65536
        seed = [0] + ([int(stack.nodata[0])] if stack.nodata[0] is not None
                      and 0 <= stack.nodata[0] < n_raw else [])
        if stack.encoding == "ldsmt":
            seed += list(range(7))
        elif stack.epochs_known:
            seed += [e for e in stack.epochs if e < n_raw]
        codebook = _CodeBook(n_raw, seed)
    else:
        codebook = None
        stack.epochs  # noqa: B018  per-epoch stacks know their epochs
    edge_sets = _edges_by_window(plan.edges, windows)
    empty = tuple(np.empty(0) for _ in range(4)) + (np.empty(0, np.int64), plan.edges[-1])
    total = None
    if scheduler is not None:
        tasks = [parallel.delayed(count_block, edge_sets.get(int(w.row_off), empty), stack, w,
                                  n_units, method, codebook) for w in windows]
        parts = parallel.compute(tasks, scheduler)
        for part in parts:
            total = part if total is None else total.merge(part)
    else:
        local = threading.local()

        def one(w):
            buffers = local.__dict__.setdefault("buffers", {})
            return count_block(edge_sets.get(int(w.row_off), empty), stack, w, n_units,
                               method, codebook, buffers)

        hmax = max((int(w.height) for w in windows), default=0)
        bar = tqdm(total=len(windows), disable=not progress, desc="builtup", unit="strip",
                   leave=False, delay=1.0)
        try:
            with stack.gdal_cache_cap(hmax, threads):
                # strips are merged in window order whatever the thread count: same result
                for part in _map_windows(one, windows, threads):
                    total = part if total is None else total.merge(part)
                    bar.update(1)
        finally:
            bar.close()
    if total is None:
        width = 1 if stack.is_ordinal else 2 * len(stack.epochs)
        total = BlockCounts(np.array([-1]) if stack.is_ordinal else None,
                            np.zeros((n_units + 1, width)))
    return total


def epoch_totals(counts: BlockCounts, stack, plan: UnitPlan):
    r"""Phase 4: map raw values to epochs; return (epochs, built m², valid m²) by unit.

    A year-built stack opened without epochs takes the years met in the counting pass
    (values holding some area of some unit) as its epochs.  For ordinal encodings the
    built area at epoch :math:`t` accumulates the area first built at or before :math:`t`,
    :math:`B_{it} = \sum_{s \le t} A_{is}`, and the valid area is every observed cell.

    Parameters
    ----------
    counts : BlockCounts
        The merged sums (:func:`count_blocks`).
    stack : BuiltupStack
        The rasters (their epochs may be set here).
    plan : UnitPlan
        The units, to put rows back in input order.

    Returns
    -------
    tuple
        ``(epochs, built_m2, valid_m2)``: the epochs and two arrays of shape
        (units, epochs), rows in input order.
    """
    from gisfix.stack import INVALID

    table = counts.table[1:][plan.rank]
    if counts.values is None:
        n_ep = len(stack.epochs)
        return stack.epochs, table[:, :n_ep], table[:, n_ep:]
    values = counts.values
    if not stack.epochs_known:
        held = (table > 0).any(axis=0)
        stack.set_epochs(stack.epochs_from_values(values[held & (values >= 0)]))
    epochs = stack.epochs
    n_ep = len(epochs)
    lut = stack.ordinal_lut()
    codes = np.where(values >= 0, lut[np.clip(values, 0, len(lut) - 1)], INVALID)
    first = np.zeros((table.shape[0], n_ep + 1))
    for j in np.argsort(values, kind="stable"):  # a fixed order: the same sums every time
        if codes[j] != INVALID:
            first[:, int(codes[j])] += table[:, j]
    built = np.cumsum(first[:, :n_ep], axis=1)
    valid = np.repeat(first.sum(axis=1)[:, None], n_ep, axis=1)
    return epochs, built, valid


def share_and_coverage(builtup_km2, valid_km2, unit_km2):
    r"""Return the built-up share :math:`B/V` and the coverage :math:`V/A` of units.

    The one definition of both columns of the built-up table: the share is NaN where no
    cell is observed (:math:`V = 0`); the coverage is the observed area over the unit's true
    area, 0 for an empty unit, clipped to [0, 1].

    Parameters
    ----------
    builtup_km2, valid_km2 : array-like
        Built-up area :math:`B` and observed (valid) area :math:`V`.
    unit_km2 : array-like
        True area :math:`A` of each unit (broadcast against the others).

    Returns
    -------
    (ndarray, ndarray)
        ``builtup_share`` and ``coverage``.
    """
    built = np.asarray(builtup_km2, dtype=float)
    valid = np.asarray(valid_km2, dtype=float)
    area = np.asarray(unit_km2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(valid > 0, built / np.where(valid > 0, valid, 1.0), np.nan)
        coverage = np.where(area > 0, valid / np.where(area > 0, area, 1.0), 0.0)
    return share, np.clip(coverage, 0.0, 1.0)


def assemble_table(plan: UnitPlan, epochs, built_m2, valid_m2,
                   min_coverage: float = DEFAULT_MIN_COVERAGE):
    r"""Phase 5: the long table, with coverage, shares and the coverage warnings.

    .. math::

        s_{it} = \frac{B_{it}}{V_{it}}, \qquad c_{it} = \min\left(1,
        \frac{V_{it}}{A_i}\right)

    with :math:`B` the built area, :math:`V` the observed (valid) area and :math:`A` the
    true area of unit :math:`i` (share NaN when :math:`V_{it} = 0`).

    Parameters
    ----------
    plan : UnitPlan
        The units.
    epochs : sequence of int
        The epochs.
    built_m2, valid_m2 : numpy.ndarray
        Built and observed areas (m²) of shape (units, epochs) (:func:`epoch_totals`).
    min_coverage : float
        Units observed on less than this share of their area are warned about.

    Returns
    -------
    DataFrame
        The columns of :data:`LONG_COLUMNS`: ``unit_id``, ``epoch``, ``builtup_km2``,
        ``valid_km2``, ``builtup_share`` and ``coverage``, one row per unit and epoch.

    Warns
    -----
    NoValidCellsWarning
        Naming the units that cover no observed cell.
    LowCoverageWarning
        Naming the units observed on less than ``min_coverage`` of their area.
    """
    import pandas as pd

    from gisfix.errors import show_ids as _show

    n_units, n_ep = len(plan.ids), len(epochs)
    built, valid = built_m2 / 1e6, valid_m2 / 1e6
    unit_km2 = plan.unit_m2 / 1e6
    share, coverage = share_and_coverage(built, valid, unit_km2[:, None])
    ids = plan.ids
    empty = (valid <= 0).any(axis=1)
    if empty.any():
        warnings.warn(
            f"{int(empty.sum())} of {n_units} units cover no observed raster cell (outside "
            f"the raster or the study area, or over nodata); their share is NaN and their "
            f"coverage 0: {_show(ids[empty])}", NoValidCellsWarning, stacklevel=3)
    low = ~empty & (coverage.min(axis=1, initial=1.0) < min_coverage)
    if low.any():
        worst = coverage.min(axis=1)[low]
        warnings.warn(
            f"{int(low.sum())} of {n_units} units are observed on less than "
            f"{min_coverage:g} of their area (coverage {worst.min():.3f} to "
            f"{worst.max():.3f}): their shares describe the observed part only: "
            f"{_show(ids[low])}", LowCoverageWarning, stacklevel=3)
    out = pd.DataFrame({
        "unit_id": np.repeat(ids.to_numpy(dtype=object), n_ep),
        "epoch": np.tile(np.asarray(epochs, dtype=np.int64), n_units),
        "builtup_km2": built.ravel(),
        "valid_km2": valid.ravel(),
        "builtup_share": share.ravel(),
        "coverage": coverage.ravel(),
    })
    return out[LONG_COLUMNS]


def builtup_by_unit(boundaries, stack, method: str = "exact", *, max_cells: int | None = None,
                    progress: bool = False, threads: int = 2, scheduler=None,
                    min_coverage: float = DEFAULT_MIN_COVERAGE):
    r"""Return built-up and observed area by unit and epoch (long form).

    Parameters
    ----------
    boundaries : geopandas.GeoDataFrame
        Units, indexed by their id (as :func:`gisfix.read_boundaries` returns them), with a
        CRS.  They are reprojected to the raster CRS; the raster is never resampled.  With
        a study area (``open_builtup(..., aoi=)``) each unit is intersected with it first.
    stack : gisfix.stack.BuiltupStack
        The built-up rasters (:func:`gisfix.open_builtup`).
    method : {"exact", "centre"}
        ``exact``: every cell counts by the exact fraction of its area inside the polygon
        (exactextract's coverage fraction).  ``centre``: a cell counts wholly for every
        unit that contains its centre (GDAL's rasterisation rule; approximate along
        boundaries).  Overlapping units each count their cells, with both methods.
    max_cells : int, optional
        Cells per block (full-width row strips); memory is bounded by it whatever the
        raster size (GDAL's block cache is capped during the call, see Notes).
        Default: whole tile rows, at least 4 million and at most 32 million cells.
        Results do not depend on it.
    progress : bool
        Show a tqdm progress bar on stderr (in-process runs).
    threads : int
        Worker threads when ``scheduler`` is None, each reading and counting whole strips
        (the result does not depend on it; memory grows with it).  1: the calling thread.
    scheduler : None, "threads", "processes", str or distributed.Client
        Count the blocks as dask tasks (:mod:`gisfix.parallel`): partial sums per block,
        merged in block order, so the result is identical to the in-process one.
    min_coverage : float
        Units observed on less than this share of their area are named in a
        :class:`~gisfix.errors.LowCoverageWarning` (default 0.99).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit_id`` (str), ``epoch``, ``builtup_km2``, ``valid_km2``,
        ``builtup_share``, ``coverage`` (valid area over unit area, unitless); one row per
        unit (input order) and epoch.

    Raises
    ------
    DataError
        For an unknown ``method``, ``threads < 1``, ``min_coverage`` outside [0, 1], or too
        many units for one call.
    ExtentError
        When the units do not overlap the raster (:func:`gisfix.stack.check_overlap`).
    CRSError
        When the units cannot be projected to the raster's CRS.

    Warns
    -----
    NoValidCellsWarning
        Naming the units that cover no observed cell.
    LowCoverageWarning
        Naming the units observed on less than ``min_coverage`` of their area.

    Notes
    -----
    For unit :math:`u` (intersected with the study area), epoch :math:`t`, cells :math:`i`
    with coverage fraction :math:`w_{ui}\in[0,1]` (``exact``) or :math:`w_{ui}\in\{0,1\}`
    (``centre``), true cell area :math:`a_i` (geodesic on geographic grids), built-up
    fraction :math:`b_{it}` and observed indicator :math:`v_{it}`:

    .. math::

        B_{ut} = \sum_i w_{ui}\, a_i\, b_{it}\, v_{it}, \qquad
        V_{ut} = \sum_i w_{ui}\, a_i\, v_{it}, \qquad s_{ut} = B_{ut} / V_{ut}, \qquad
        c_{ut} = V_{ut} / |P_u|.

    Coverage fractions follow the definition of exactextract (Baston 2023,
    https://github.com/isciences/exactextract): the area of the polygon inside the cell
    over the cell's area, computed here by signed-area accumulation along each row
    (as in font rasterisers, e.g. stb_truetype).  The call runs in named phases, each
    usable alone: :func:`prepare_units`, :func:`plan_blocks`, :func:`count_blocks`
    (:func:`count_block` per block), :func:`epoch_totals` and :func:`assemble_table`.
    Ordinal encodings (``year-built``, ``ldsmt``) are counted once per (unit, raw value)
    and the values mapped to epochs afterwards, so all epochs come from a single read of
    the raster and a year-built stack needs no scan to find its years; blocks of the
    raster that no unit touches are never read.  While it runs in-process, GDAL's block
    cache is capped to two strips per thread (at least 256 MB): strips are read once, so
    a larger cache only adds memory.

    Examples
    --------
    >>> from gisfix import open_builtup, read_boundaries  # doctest: +SKIP
    >>> units = read_boundaries("counties.gpkg", "fips")  # doctest: +SKIP
    >>> stack = open_builtup("year_built.tif", "year-built", aoi="aoi.geojson")  # doctest: +SKIP
    >>> builtup_by_unit(units, stack).head(2)  # doctest: +SKIP
    """
    from gisfix.errors import DataError

    if method not in METHODS:
        raise DataError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if int(threads) < 1:
        raise DataError(f"threads must be at least 1, got {threads}")
    if not 0 <= float(min_coverage) <= 1:
        raise DataError(f"min_coverage must be between 0 and 1, got {min_coverage}")
    plan = prepare_units(boundaries, stack)
    n_codes = 256 if stack.is_ordinal else 1
    if (plan.n_units + 1) * n_codes >= 2**31:
        raise DataError(f"too many units ({plan.n_units}) for one call; split the boundaries")
    windows = plan_blocks(stack, max_cells)
    counts = count_blocks(plan, stack, windows, method, threads=int(threads),
                          scheduler=scheduler, progress=progress)
    epochs, built, valid = epoch_totals(counts, stack, plan)
    return assemble_table(plan, epochs, built, valid, min_coverage)


def to_wide(long):
    """Return the wide form of :func:`builtup_by_unit`'s result, indexed by unit id.

    Columns ``builtup_km2_<epoch>`` then ``share_<epoch>``, epochs in increasing order,
    then ``coverage`` (the smallest over epochs) when the long table has it; units in
    their order of first appearance.

    Parameters
    ----------
    long : DataFrame
        The long table of :func:`builtup_by_unit`.

    Returns
    -------
    DataFrame
        One row per unit.

    Raises
    ------
    DataError
        When ``long`` lacks ``unit_id``, ``epoch``, ``builtup_km2`` or ``builtup_share``...
    """
    import pandas as pd

    from gisfix.errors import DataError

    missing = [c for c in LONG_COLUMNS if c not in long.columns and c != "coverage"]
    if missing:
        raise DataError(
            f"to_wide needs the long table of builtup_by_unit; columns {missing} are missing "
            f"(got {list(long.columns)})")
    order = pd.unique(long["unit_id"])
    b = long.pivot(index="unit_id", columns="epoch", values="builtup_km2").reindex(order)
    s = long.pivot(index="unit_id", columns="epoch", values="builtup_share").reindex(order)
    b.columns = [f"builtup_km2_{e}" for e in b.columns]
    s.columns = [f"share_{e}" for e in s.columns]
    parts = [b, s]
    if "coverage" in long.columns:  # the smallest over epochs (equal for ordinal encodings)
        parts.append(long.groupby("unit_id", sort=False)["coverage"].min().reindex(order))
    out = pd.concat(parts, axis=1)
    out.index.name = "unit_id"
    out.columns.name = None
    return out
