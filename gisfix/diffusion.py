"""Diffusion of built-up land: expansion rates, direction of growth, core-periphery balance.

* :func:`expansion` / :func:`expansion_series` work on the long built-up table of
  :func:`gisfix.zonal.builtup_by_unit` (``unit_id, epoch, builtup_km2, valid_km2``), so a
  hand-made table is as good an input as a measured one.
* :func:`builtup_centroids`, :func:`standard_deviational_ellipse` and
  :func:`directional_growth` read a :class:`~gisfix.stack.BuiltupStack` window by window.
* :func:`core_periphery` splits each period's new built-up land between the earlier urban
  core and the periphery.
* The Landscape Expansion Index lives in :mod:`gisfix.lei`; the four-stage model in
  :mod:`gisfix.stages`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gisfix.errors import DataError

log = logging.getLogger(__name__)

_TABLE_COLUMNS = ("unit_id", "epoch", "builtup_km2")


# -- expansion between epochs ----------------------------------------------------------------
def _check_table(table: pd.DataFrame) -> None:
    from gisfix.agglomeration import check_table  # the one check of the built-up table

    check_table(table, _TABLE_COLUMNS)


def expansion(table: pd.DataFrame, t0: int, t1: int, land_km2: pd.Series | None = None
              ) -> pd.DataFrame:
    r"""Expansion of built-up land per unit between epochs t0 and t1.

    With :math:`U_0, U_1` the built-up area (km²) of a unit at t0 and t1,
    :math:`\Delta t = t_1 - t_0` years and :math:`L` its land area:

    .. math::

        \mathrm{new} = U_1 - U_0, \qquad
        \mathrm{speed} = \frac{U_1 - U_0}{\Delta t}, \qquad
        \mathrm{cagr} = \left(\frac{U_1}{U_0}\right)^{1/\Delta t} - 1,

        \mathrm{intensity} = 100\,\frac{U_1 - U_0}{L\,\Delta t}, \qquad
        \mathrm{share\_of\_new} = \frac{U_1 - U_0}{\sum_k (U_{1k} - U_{0k})}.

    ``intensity`` is the urban expansion intensity index (percent of the unit's land
    built per year; Liu, Zhan & Deng 2005, *Ambio* 34:450-455); ``speed`` the annual
    expansion area.  ``new_km2`` is a net change (negative where a product reclassifies
    built land as non-built, as CORINE does).

    Parameters
    ----------
    table : pandas.DataFrame
        Long table with ``unit_id``, ``epoch``, ``builtup_km2`` (and ``valid_km2``).
    t0, t1 : int
        The two epochs, ``t0 < t1``.
    land_km2 : pandas.Series, optional
        Land area per unit id; default ``valid_km2`` at t1 from the table.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``unit_id``: ``builtup_t0_km2``, ``builtup_t1_km2``, ``new_km2``,
        ``years``, ``speed_km2_per_year``, ``cagr`` (fraction per year; NaN where
        :math:`U_0 = 0`), ``land_km2``, ``intensity_pct_per_year``, ``share_of_new``.
    """
    _check_table(table)
    t0, t1 = int(t0), int(t1)
    if t1 <= t0:
        raise DataError(f"t1 must be after t0; got t0={t0}, t1={t1}")
    epochs = set(table["epoch"].astype(int))
    missing = [e for e in (t0, t1) if e not in epochs]
    if missing:
        raise DataError(
            f"epoch(s) {missing} not in the built-up table; it has {sorted(epochs)}")
    wide = table.pivot_table(index="unit_id", columns="epoch", values="builtup_km2",
                             aggfunc="sum")
    u0 = wide[t0].astype(float)
    u1 = wide[t1].astype(float)
    years = float(t1 - t0)
    if land_km2 is None:
        if "valid_km2" not in table.columns:
            raise DataError("pass land_km2= (land area per unit) or a table with valid_km2")
        land = table[table["epoch"].astype(int) == t1].groupby("unit_id")["valid_km2"].sum()
    else:
        land = pd.Series(land_km2, dtype=float)
    land = land.reindex(wide.index).astype(float)
    new = u1 - u0
    with np.errstate(divide="ignore", invalid="ignore"):
        cagr = np.where(u0 > 0, (u1 / u0) ** (1.0 / years) - 1.0, np.nan)
        intensity = np.where(land > 0, 100.0 * new / (land * years), np.nan)
    total_new = float(new.sum())
    out = pd.DataFrame({
        "builtup_t0_km2": u0, "builtup_t1_km2": u1, "new_km2": new, "years": years,
        "speed_km2_per_year": new / years, "cagr": cagr, "land_km2": land,
        "intensity_pct_per_year": intensity,
        "share_of_new": new / total_new if total_new != 0 else np.nan,
    })
    out.index.name = "unit_id"
    return out


def expansion_series(table: pd.DataFrame, epochs: Sequence[int] | None = None,
                     land_km2: pd.Series | None = None) -> pd.DataFrame:
    """Return :func:`expansion` for each pair of consecutive epochs, stacked.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit_id``, ``t0``, ``t1`` and those of :func:`expansion`.
    """
    _check_table(table)
    eps = sorted(set(table["epoch"].astype(int))) if epochs is None else sorted(map(int, epochs))
    if len(eps) < 2:
        raise DataError(f"expansion needs at least two epochs; got {eps}")
    parts = []
    for a, b in zip(eps[:-1], eps[1:]):
        e = expansion(table, a, b, land_km2).reset_index()
        e.insert(1, "t0", a)
        e.insert(2, "t1", b)
        parts.append(e)
    return pd.concat(parts, ignore_index=True)


# -- cell coordinates and reads -------------------------------------------------------------
def _require_metres(stack, purpose: str) -> None:
    from gisfix.crs import require_projected

    require_projected(stack.crs, what="the built-up raster", purpose=purpose)


def _cell_xy(stack, window):
    """Cell-centre x (per column) and y (per row) of a window."""
    t = stack.transform
    w = stack.resolve_window(window)
    cols = np.arange(int(w.col_off), int(w.col_off + w.width)) + 0.5
    rows = np.arange(int(w.row_off), int(w.row_off + w.height)) + 0.5
    return t.c + t.a * cols, t.f + t.e * rows


def _built_layers(stack, window, epochs):
    """Return ({epoch: built bool array}, valid bool array) for one window."""
    from gisfix.stack import INVALID

    if stack.is_ordinal:
        codes = stack.read_ordinal(window)
        return ({e: codes <= stack.epoch_index(e) for e in epochs}, codes != INVALID)
    w = stack.resolve_window(window)
    valid = np.ones((int(w.height), int(w.width)), bool)
    built = {}
    for e in epochs:
        f = stack.fraction(e, window)
        valid &= ~np.isnan(f)
        built[e] = np.nan_to_num(f, nan=0.0) >= 0.5
    return built, valid


def _epochs(stack, epochs):
    eps = list(stack.epochs) if epochs is None else [int(e) for e in epochs]
    for e in eps:
        stack.epoch_index(e)
    return eps


# -- centroid and standard deviational ellipse ----------------------------------------------
def _moments(stack, epochs, max_cells):
    """Weighted moments of built cell centres per epoch, about the grid centre."""
    t = stack.transform
    x0 = t.c + t.a * stack.width / 2
    y0 = t.f + t.e * stack.height / 2
    m = {e: np.zeros(6) for e in epochs}  # w, wx, wy, wxx, wyy, wxy
    for win in stack.windows(max_cells):
        xs, ys = _cell_xy(stack, win)
        xs = xs - x0
        ys = ys - y0
        areas = stack.row_cell_areas(win) / 1e6
        built, _ = _built_layers(stack, win, epochs)
        for e in epochs:
            b = built[e]
            r, c = np.nonzero(b)
            if r.size == 0:
                continue
            w = areas[r]
            x = xs[c]
            y = ys[r]
            m[e] += [w.sum(), (w * x).sum(), (w * y).sum(), (w * x * x).sum(),
                     (w * y * y).sum(), (w * x * y).sum()]
    return m, x0, y0


def _bearing(dx, dy):
    """Azimuth in degrees clockwise from grid north, in [0, 360)."""
    return np.mod(np.degrees(np.arctan2(dx, dy)), 360.0)


def builtup_centroids(stack, epochs: Sequence[int] | None = None,
                      max_cells: int | None = None) -> pd.DataFrame:
    r"""Centroid of built-up land per epoch and its shift from the previous epoch.

    .. math::

        \bar x = \frac{\sum_i a_i x_i}{\sum_i a_i}, \qquad
        \bar y = \frac{\sum_i a_i y_i}{\sum_i a_i}

    over the built cells *i* (cell centres, weights :math:`a_i` = true cell area), the
    mean centre of the standard deviational ellipse (Yuill 1971).  The shift from the
    previous epoch is given as ``dx``, ``dy``, ``shift_m`` and ``bearing_deg`` (clockwise
    from grid north, 0-360).

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        A projected stack (metres).
    epochs : list of int, optional
        Default: all epochs of the stack.
    max_cells : int, optional
        Window size of the pass.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch``: ``x``, ``y``, ``builtup_km2``, ``dx``, ``dy``, ``shift_m``,
        ``bearing_deg``.
    """
    ell = standard_deviational_ellipse(stack, epochs, max_cells=max_cells)
    out = ell[["x", "y", "builtup_km2"]].copy()
    out["dx"] = out["x"].diff()
    out["dy"] = out["y"].diff()
    out["shift_m"] = np.hypot(out["dx"], out["dy"])
    out["bearing_deg"] = _bearing(out["dx"], out["dy"])
    return out


def sde_from_points(x, y, weights=None, sqrt2: bool = True) -> dict:
    r"""Standard deviational ellipse of weighted points (Yuill 1971; ArcGIS definition).

    With centred coordinates :math:`\tilde x_i = x_i - \bar x`,
    :math:`\tilde y_i = y_i - \bar y` and weights :math:`w_i`, the rotation
    :math:`\theta` solves

    .. math::

        \tan\theta = \frac{A + B}{C},\quad A = \sum w\tilde x^2 - \sum w\tilde y^2,\quad
        B = \sqrt{A^2 + 4\left(\sum w\tilde x\tilde y\right)^2},\quad
        C = 2\sum w\tilde x\tilde y,

    and the standard deviations along the rotated axes are

    .. math::

        \sigma_x = k\sqrt{\frac{\sum w(\tilde x\cos\theta - \tilde y\sin\theta)^2}
                                {\sum w}},\qquad
        \sigma_y = k\sqrt{\frac{\sum w(\tilde x\sin\theta + \tilde y\cos\theta)^2}
                                {\sum w}}.

    These are the square roots of the eigenvalues of the weighted (population) covariance
    matrix, which is how they are computed here.  ``k = sqrt(2)`` (ArcGIS Pro since 10.0,
    CrimeStat) makes the semi-axes those of a "one standard deviation" ellipse in two
    dimensions; ``sqrt2=False`` gives the uncorrected Yuill (1971) values.

    Parameters
    ----------
    x, y : array-like
        Point coordinates (metres).
    weights : array-like, optional
        Point weights (default 1).
    sqrt2 : bool
        Apply the :math:`\sqrt 2` correction (default, as ArcGIS).

    Returns
    -------
    dict
        ``x``, ``y`` (mean centre), ``sigma_major``, ``sigma_minor`` (semi-axes),
        ``rotation_deg`` (azimuth of the major axis, clockwise from north, in [0, 180)),
        ``area_km2`` (:math:`\pi\sigma_{major}\sigma_{minor}`), ``weight``.

    References
    ----------
    Yuill, R. S. (1971). The standard deviational ellipse; an updated tool for spatial
    description. Geografiska Annaler B 53(1), 28-39.  Esri, "How Directional Distribution
    (Standard Deviational Ellipse) works", ArcGIS Pro documentation.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    if x.shape != y.shape or x.shape != w.shape or x.size == 0:
        raise DataError(f"x, y and weights need one non-empty shape; got {x.shape}, {y.shape}, "
                        f"{w.shape}")
    sw = w.sum()
    mx, my = (w * x).sum() / sw, (w * y).sum() / sw
    xt, yt = x - mx, y - my
    mom = np.array([sw, 0.0, 0.0, (w * xt * xt).sum(), (w * yt * yt).sum(),
                    (w * xt * yt).sum()])
    out = _sde_from_moments(mom, mx, my, sqrt2)
    return out


def _sde_from_moments(mom, x0, y0, sqrt2=True) -> dict:
    sw, sx, sy, sxx, syy, sxy = mom
    if sw <= 0:
        return {"x": np.nan, "y": np.nan, "sigma_major": np.nan, "sigma_minor": np.nan,
                "rotation_deg": np.nan, "area_km2": np.nan, "weight": 0.0}
    mx, my = sx / sw, sy / sw
    cxx = sxx / sw - mx * mx
    cyy = syy / sw - my * my
    cxy = sxy / sw - mx * my
    vals, vecs = np.linalg.eigh(np.array([[cxx, cxy], [cxy, cyy]]))
    vals = np.clip(vals, 0.0, None)
    k = np.sqrt(2.0) if sqrt2 else 1.0
    major = k * np.sqrt(vals[1])
    minor = k * np.sqrt(vals[0])
    vx, vy = vecs[:, 1]
    rotation = float(np.mod(np.degrees(np.arctan2(vx, vy)), 180.0))
    if np.isclose(vals[1], vals[0], rtol=1e-12, atol=0):
        rotation = np.nan  # a circle has no orientation
    return {"x": x0 + mx, "y": y0 + my, "sigma_major": float(major),
            "sigma_minor": float(minor), "rotation_deg": rotation,
            "area_km2": float(np.pi * major * minor / 1e6), "weight": float(sw)}


def standard_deviational_ellipse(stack, epochs: Sequence[int] | None = None, *,
                                 sqrt2: bool = True, max_cells: int | None = None
                                 ) -> pd.DataFrame:
    r"""Standard deviational ellipse of built-up land per epoch (cells weighted by area).

    See :func:`sde_from_points` for the formula and the :math:`\sqrt 2` convention.  One
    windowed pass accumulates the weighted moments of the built cell centres of every
    epoch (coordinates taken about the grid centre for precision).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch``: ``x``, ``y``, ``sigma_major``, ``sigma_minor``,
        ``rotation_deg``, ``area_km2`` (ellipse), ``builtup_km2``.
    """
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    _require_metres(stack, "the centroid and ellipse of built-up land")
    eps = _epochs(stack, epochs)
    mom, x0, y0 = _moments(stack, eps, max_cells or DEFAULT_WINDOW_CELLS)
    rows = []
    for e in eps:
        d = _sde_from_moments(mom[e], x0, y0, sqrt2)
        d["builtup_km2"] = d.pop("weight")
        rows.append(d)
    return pd.DataFrame(rows, index=pd.Index(eps, name="epoch"))


# -- growth by direction sector and distance ring -------------------------------------------
def directional_growth(stack, t0: int, t1: int, *, centre: tuple[float, float] | None = None,
                       n_sectors: int = 8, ring_width_m: float = 1000.0,
                       max_cells: int | None = None) -> pd.DataFrame:
    r"""New built-up land between t0 and t1 by direction sector and distance ring.

    Each cell is assigned the sector :math:`s = \lfloor ((\beta + 180/n) \bmod 360)\,n/360
    \rfloor` of the bearing :math:`\beta` (clockwise from north) from ``centre`` to its
    centre, so sector 0 is centred on north (N, NE, E, ... for ``n_sectors=8``), and the
    ring :math:`r = \lfloor d / w \rfloor` of its distance *d*.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        A projected stack.
    t0, t1 : int
        The period.
    centre : (x, y), optional
        In the raster CRS; default the built-up centroid at t0.
    n_sectors : int
        Number of equal direction sectors (e.g. 8 or 16).
    ring_width_m : float
        Width of the distance rings.
    max_cells : int, optional
        Window size.

    Returns
    -------
    pandas.DataFrame
        One row per (sector, ring) holding observed land: ``sector``, ``bearing_from``,
        ``bearing_to``, ``ring``, ``r_from_m``, ``r_to_m``, ``new_km2``,
        ``built_t0_km2``, ``valid_km2``, ``share_of_new``.  Aggregate with
        ``groupby("sector")`` or ``groupby("ring")``.
    """
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    _require_metres(stack, "growth by direction and distance")
    if int(n_sectors) < 1 or ring_width_m <= 0:
        raise DataError(f"n_sectors must be >= 1 and ring_width_m > 0; got {n_sectors}, "
                        f"{ring_width_m}")
    n_sectors = int(n_sectors)
    t0, t1 = int(t0), int(t1)
    if stack.epoch_index(t1) <= stack.epoch_index(t0):
        raise DataError(f"t1 must be after t0; got t0={t0}, t1={t1}")
    if centre is None:
        c = builtup_centroids(stack, [t0], max_cells=max_cells).iloc[0]
        centre = (float(c["x"]), float(c["y"]))
    cx, cy = centre
    acc: dict[str, np.ndarray] = {}
    for win in stack.windows(max_cells or DEFAULT_WINDOW_CELLS):
        xs, ys = _cell_xy(stack, win)
        dx = xs[None, :] - cx
        dy = ys[:, None] - cy
        dist = np.hypot(dx, dy)
        bearing = _bearing(dx, dy)
        sector = np.floor(np.mod(bearing + 180.0 / n_sectors, 360.0) * n_sectors / 360.0
                          ).astype(np.int64) % n_sectors
        ring = np.floor(dist / ring_width_m).astype(np.int64)
        built, valid = _built_layers(stack, win, [t0, t1])
        area = np.broadcast_to(stack.row_cell_areas(win)[:, None] / 1e6, valid.shape)
        new = built[t1] & ~built[t0] & valid
        key = ring * n_sectors + sector
        kmax = int(key.max(initial=0)) + 1
        for name, mask in (("new", new), ("built0", built[t0] & valid), ("valid", valid)):
            b = np.bincount(key[mask], weights=area[mask], minlength=kmax)
            prev = acc.get(name, np.zeros(0))
            size = max(len(prev), len(b))
            acc[name] = np.pad(prev, (0, size - len(prev))) + np.pad(b, (0, size - len(b)))
    size = max(len(v) for v in acc.values())
    for k in acc:
        acc[k] = np.pad(acc[k], (0, size - len(acc[k])))
    keys = np.arange(size)
    sector = keys % n_sectors
    ring = keys // n_sectors
    width = 360.0 / n_sectors
    out = pd.DataFrame({
        "sector": sector, "bearing_from": np.mod(sector * width - width / 2, 360.0),
        "bearing_to": sector * width + width / 2, "ring": ring,
        "r_from_m": ring * ring_width_m, "r_to_m": (ring + 1) * ring_width_m,
        "new_km2": acc["new"], "built_t0_km2": acc["built0"], "valid_km2": acc["valid"],
    })
    out = out[out["valid_km2"] > 0].reset_index(drop=True)
    total = out["new_km2"].sum()
    out["share_of_new"] = out["new_km2"] / total if total > 0 else np.nan
    out.attrs["centre"] = (cx, cy)
    return out


# -- urban core and core-periphery balance --------------------------------------------------
def largest_patch(built: np.ndarray, connectivity: int = 8) -> np.ndarray:
    """Return the largest connected patch of ``built`` (by cells) as a boolean array."""
    from scipy import ndimage

    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    lab, n = ndimage.label(built, structure=structure)
    if n == 0:
        return np.zeros(built.shape, bool)
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    return lab == int(counts.argmax())


def _dilate(mask, dilate_m, stack):
    if not dilate_m:
        return mask
    from scipy import ndimage

    from gisfix.lei import buffer_offsets, cell_size_m

    off = buffer_offsets(float(dilate_m), cell_size_m(stack))
    if len(off) == 0:
        return mask
    ri, rj = np.abs(off).max(axis=0)
    se = np.zeros((2 * ri + 1, 2 * rj + 1), bool)
    se[off[:, 0] + ri, off[:, 1] + rj] = True
    se[ri, rj] = True
    return ndimage.binary_dilation(mask, structure=se)


def core_mask(stack, t0: int, *, core=None, radius_m: float | None = None,
              centre: tuple[float, float] | None = None, dilate_m: float | None = None
              ) -> np.ndarray:
    """Return the urban core at ``t0`` as a boolean array over the whole grid.

    Three definitions, in order of precedence:

    1. ``core``: a polygon (shapely geometry, GeoSeries or GeoDataFrame with a CRS; e.g.
       an urban extent) rasterised by the cell-centre rule;
    2. ``radius_m``: the cells whose centre lies within ``radius_m`` of ``centre``
       (default: the built-up centroid at ``t0``);
    3. default: the largest 8-connected built-up patch at ``t0`` with its holes filled
       (the compact urban mass, so land enclosed by it is core).

    ``dilate_m`` widens the result by that distance (the buffer rule of
    :func:`gisfix.lei.buffer_offsets`).
    """
    from scipy import ndimage

    t0 = int(t0)
    stack.epoch_index(t0)
    if core is not None:
        import geopandas as gpd
        from rasterio.features import rasterize

        if isinstance(core, gpd.GeoDataFrame | gpd.GeoSeries):
            if core.crs is None:
                raise DataError("the core polygon has no CRS; set one (gdf.set_crs(...))")
            geoms = list(core.to_crs(stack.crs).geometry)
        else:
            geoms = [core]  # a bare geometry is taken to be in the raster CRS
        mask = rasterize([(g, 1) for g in geoms if g is not None and not g.is_empty],
                         out_shape=stack.shape, transform=stack.transform, fill=0,
                         dtype="uint8").astype(bool)
    elif radius_m is not None:
        _require_metres(stack, "a distance-ring core")
        if centre is None:
            c = builtup_centroids(stack, [t0]).iloc[0]
            centre = (float(c["x"]), float(c["y"]))
        xs, ys = _cell_xy(stack, None)
        mask = np.hypot(xs[None, :] - centre[0], ys[:, None] - centre[1]) <= radius_m
    else:
        built, _ = _built_layers(stack, None, [t0])
        mask = ndimage.binary_fill_holes(largest_patch(built[t0]))
    return _dilate(mask, dilate_m, stack)


def core_periphery(stack, t0: int, t1: int, **core_options) -> pd.Series:
    r"""Share of the new built-up land of t0 -> t1 that lands inside the t0 urban core.

    .. math::

        c = \frac{N_{core}}{N_{core} + N_{periphery}}, \qquad
        \rho = \frac{c}{V_{core} / (V_{core} + V_{periphery})}

    *N*: new built-up area; *V*: land still available at t0 (observed, not built).
    :math:`c > 1/2` means most growth stayed in the core (agglomeration), :math:`c < 1/2`
    that it spread to the periphery (diffusion); :math:`\rho > 1` means the core received
    more than its share of the available land.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The built-up stack.
    t0, t1 : int
        The period.
    **core_options
        Passed to :func:`core_mask` (``core=``, ``radius_m=``, ``centre=``, ``dilate_m=``).

    Returns
    -------
    pandas.Series
        ``core_km2``, ``new_km2``, ``new_core_km2``, ``new_periphery_km2``,
        ``core_share_new`` (*c*), ``core_share_available``, ``core_ratio`` (:math:`\rho`).
    """
    t0, t1 = int(t0), int(t1)
    if stack.epoch_index(t1) <= stack.epoch_index(t0):
        raise DataError(f"t1 must be after t0; got t0={t0}, t1={t1}")
    core = core_mask(stack, t0, **core_options)
    built, valid = _built_layers(stack, None, [t0, t1])
    area = np.broadcast_to(stack.row_cell_areas()[:, None] / 1e6, valid.shape)
    new = built[t1] & ~built[t0] & valid
    avail = valid & ~built[t0]
    n_core = float(area[new & core].sum())
    n_all = float(area[new].sum())
    v_core = float(area[avail & core].sum())
    v_all = float(area[avail].sum())
    c = n_core / n_all if n_all > 0 else np.nan
    a = v_core / v_all if v_all > 0 else np.nan
    return pd.Series({
        "core_km2": float(area[core & valid].sum()), "new_km2": n_all,
        "new_core_km2": n_core, "new_periphery_km2": n_all - n_core, "core_share_new": c,
        "core_share_available": a, "core_ratio": c / a if a and a > 0 else np.nan,
    })


def core_periphery_series(stack, epochs: Sequence[int] | None = None, **core_options
                          ) -> pd.DataFrame:
    """Return :func:`core_periphery` for each pair of consecutive epochs.

    The core is redrawn at the start of every period (the urban core of its t0).

    Returns
    -------
    pandas.DataFrame
        Columns ``t0``, ``t1`` and those of :func:`core_periphery`, one row per period.
    """
    eps = _epochs(stack, epochs)
    if len(eps) < 2:
        raise DataError(f"core-periphery needs at least two epochs; got {eps}")
    rows = []
    for a, b in zip(eps[:-1], eps[1:]):
        rows.append({"t0": a, "t1": b, **core_periphery(stack, a, b, **core_options)})
    return pd.DataFrame(rows)


def largest_patch_share(stack, epochs: Sequence[int] | None = None,
                        connectivity: int = 8) -> pd.Series:
    r"""Share of built-up area in the largest connected built-up patch, per epoch.

    .. math:: \mathrm{LPS} = \frac{\max_p A_p}{\sum_p A_p}

    A within-city concentration measure (the largest-patch index of landscape ecology,
    McGarigal & Marks 1995, taken relative to the built-up area rather than the
    landscape): rising when growth joins the main urban mass, falling when it scatters.
    """
    eps = _epochs(stack, epochs)
    built, _ = _built_layers(stack, None, eps)
    area = stack.row_cell_areas()[:, None]
    out = {}
    for e in eps:
        total = float((built[e] * area).sum())
        big = largest_patch(built[e], connectivity)
        out[e] = float((big * area).sum()) / total if total > 0 else np.nan
    return pd.Series(out, name="largest_patch_share").rename_axis("epoch")


__all__ = [
    "builtup_centroids",
    "core_mask",
    "core_periphery",
    "core_periphery_series",
    "directional_growth",
    "expansion",
    "expansion_series",
    "largest_patch",
    "largest_patch_share",
    "sde_from_points",
    "standard_deviational_ellipse",
]
