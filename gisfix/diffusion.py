"""Diffusion of built-up land: expansion rates, direction of growth, core-periphery balance.

* :func:`expansion` / :func:`expansion_series` work on the long built-up table of
  :func:`gisfix.zonal.builtup_by_unit` (``unit_id, epoch, builtup_km2, valid_km2``), so a
  hand-made table is as good an input as a measured one.
* :func:`builtup_centroids`, :func:`standard_deviational_ellipse` and
  :func:`directional_growth` read a :class:`~gisfix.stack.BuiltupStack` window by window.
* :func:`core_periphery` splits each period's new built-up land between the earlier urban
  core and the periphery.
* Everything that reads a stack is windowed: full-width row strips of ``max_cells`` (or
  ``window_cells``) cells; patches (and the background of the core) that cross strip edges
  are stitched by union-find over their edge labels (:func:`gisfix.parallel.stitch_strips`),
  so the largest patch, the default core and its dilation equal a whole-grid computation
  while memory depends on the strip size.  ``scheduler=`` computes the strips with dask
  (:func:`gisfix.parallel.imap_blocks`); partial sums are added in strip order, so the
  answer is the in-process one.
* The Landscape Expansion Index lives in :mod:`gisfix.lei`; the four-stage model in
  :mod:`gisfix.stages`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gisfix.errors import DataError
from gisfix.parallel import stack_task

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

    Raises
    ------
    DataError
        When ``t1 <= t0``, an epoch is not in the table, or there is no ``land_km2`` and no
        ``valid_km2`` column.
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

    Parameters
    ----------
    table : pandas.DataFrame
        Long built-up table (``unit_id``, ``epoch``, ``builtup_km2``, ``valid_km2``).
    epochs : list of int, optional
        Epochs delimiting the periods (default: all of the table's).
    land_km2 : pandas.Series, optional
        Land area per unit id, as :func:`expansion`.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit_id``, ``t0``, ``t1`` and those of :func:`expansion`.

    Raises
    ------
    DataError
        With fewer than two epochs, or as :func:`expansion`.
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


# -- cell reads ----------------------------------------------------------------------------
def _cell_xy(stack, window):
    """Cell-centre x (per column) and y (per row) of a window, in the raster CRS."""
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


# -- a metric frame for projected and geographic grids -----------------------------------------
class _Frame:
    r"""Cell-centre coordinates in metres about the grid centre, for any north-up grid.

    Projected grids: the CRS coordinates minus the grid centre (the CRS's linear unit is
    converted to metres).  Geographic grids: the ellipsoidal sinusoidal projection centred on
    the grid centre (Snyder 1987, *Map Projections: A Working Manual*, USGS PP 1395, p. 243),

    .. math::
        x = (\lambda - \lambda_0)\,N(\phi)\cos\phi, \qquad y = M(\phi) - M(\phi_0),

    with :math:`N` the prime-vertical radius of curvature and :math:`M` the meridian arc:
    every row's cells are as wide as their geodesic width along the parallel, every row
    lies at its geodesic distance along the meridian from the centre, and areas are
    preserved (so area-weighted moments are those of the true surface).
    """

    def __init__(self, stack):
        t = stack.transform
        self.crs = stack.crs
        self.geographic = bool(stack.is_geographic)
        self.x0 = t.c + t.a * stack.width / 2
        self.y0 = t.f + t.e * stack.height / 2
        self.transform = t
        if self.geographic:
            from gisfix.crs import geod_for

            self.geod = geod_for(self.crs)
            ell = self.crs.ellipsoid
            self.a = ell.semi_major_metre
            self.e2 = 1 - (ell.semi_minor_metre / self.a) ** 2
            self.unit = 1.0
        else:
            axis = self.crs.axis_info
            self.unit = axis[0].unit_conversion_factor if axis else 1.0

    def _kx(self, lat):
        """Metres per degree of longitude along the parallel at ``lat`` (degrees)."""
        phi = np.radians(lat)
        n = self.a / np.sqrt(1 - self.e2 * np.sin(phi) ** 2)
        return np.radians(1.0) * n * np.cos(phi)

    def _meridian(self, lat):
        """Signed geodesic distance in metres from latitude y0 to ``lat`` along a meridian."""
        lat = np.asarray(lat, float)
        lon = np.full(lat.shape, self.x0)
        _, _, dist = self.geod.inv(lon, np.full(lat.shape, self.y0), lon, lat)
        return np.sign(lat - self.y0) * np.asarray(dist, float)

    def axes(self, window_cols, window_rows):
        """Return (u per column, kx per row, y per row): x of cell (r, c) is u[c] * kx[r]."""
        t = self.transform
        xs = t.c + t.a * (np.asarray(window_cols, float) + 0.5)
        ys = t.f + t.e * (np.asarray(window_rows, float) + 0.5)
        if not self.geographic:
            return ((xs - self.x0) * self.unit, np.ones(ys.shape),
                    (ys - self.y0) * self.unit)
        return xs - self.x0, self._kx(ys), self._meridian(ys)

    def window_axes(self, stack, window):
        """:meth:`axes` for a window of ``stack``."""
        w = stack.resolve_window(window)
        return self.axes(np.arange(int(w.col_off), int(w.col_off + w.width)),
                         np.arange(int(w.row_off), int(w.row_off + w.height)))

    def forward(self, x, y):
        """CRS coordinates -> metric frame."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        if not self.geographic:
            return (x - self.x0) * self.unit, (y - self.y0) * self.unit
        return (x - self.x0) * self._kx(y), self._meridian(y)

    def inverse(self, x, y):
        """Metric frame -> CRS coordinates."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        if not self.geographic:
            return self.x0 + x / self.unit, self.y0 + y / self.unit
        lon0 = np.full(y.shape, self.x0)
        az = np.where(y >= 0, 0.0, 180.0)
        _, lat, _ = self.geod.fwd(lon0, np.full(y.shape, self.y0), az, np.abs(y))
        lat = np.asarray(lat, float)
        return self.x0 + x / self._kx(lat), lat

    def distance_bearing(self, x0, y0, xs, ys):
        """Distance (m) and azimuth (degrees clockwise from north, [0, 360)) from a point.

        Geodesic (Karney 2013) on geographic grids; planar on projected ones (grid north).
        """
        xs, ys = np.broadcast_arrays(np.asarray(xs, float), np.asarray(ys, float))
        if not self.geographic:
            dx = (xs - x0) * self.unit
            dy = (ys - y0) * self.unit
            return np.hypot(dx, dy), _bearing(dx, dy)
        az, _, dist = self.geod.inv(np.full(xs.shape, x0), np.full(xs.shape, y0), xs, ys)
        return np.asarray(dist, float), np.mod(np.asarray(az, float), 360.0)

    def row_cell_sizes_m(self, rows):
        """Return (width, height) in metres of the cells of each row (geodesic if geographic)."""
        t = self.transform
        rows = np.asarray(rows, float)
        if not self.geographic:
            n = np.ones(rows.shape)
            return abs(t.a) * self.unit * n, abs(t.e) * self.unit * n
        lat = t.f + t.e * (rows + 0.5)
        width = self._kx(lat) * abs(t.a)
        top = t.f + t.e * rows
        lon = np.full(rows.shape, self.x0)
        _, _, height = self.geod.inv(lon, top, lon, top + t.e)
        return width, np.asarray(height, float)


# -- centroid and standard deviational ellipse ----------------------------------------------
def _moments(stack, epochs, max_cells, frame, scheduler=None):
    """Area-weighted moments of built cell centres per epoch, in the metric frame.

    Partial sums per strip (:func:`_moments_strip`, computed with ``scheduler``) are added
    in strip order, so every scheduler gives the same sums.
    """
    from gisfix.parallel import imap_blocks

    m = {e: np.zeros(6) for e in epochs}  # w, wx, wy, wxx, wyy, wxy
    jobs = [(stack, win, list(epochs)) for win in stack.windows(max_cells)]
    for part in imap_blocks(_moments_strip, jobs, scheduler):
        for e, v in zip(epochs, part):
            m[e] += v
    return m


@stack_task
def _moments_strip(job):
    """Task: the moments of one strip per epoch."""
    stack, win, epochs = job
    frame = _Frame(stack)
    built, _ = _built_layers(stack, win, epochs)
    out = []
    for e in epochs:
        zones = np.zeros(built[e].shape, np.int64)
        out.append(window_moments(built[e], zones, 1, stack, win, frame)[0])
    return out


def window_moments(built: np.ndarray, zones: np.ndarray, n_zones: int, stack, window=None,
                   frame=None) -> np.ndarray:
    r"""Area-weighted moments of the built cells of each zone in one window.

    .. math::
        M_k = \sum_{i \in Z_k \cap B} a_i\,(1,\ x_i,\ y_i,\ x_i^2,\ y_i^2,\ x_i y_i)

    with :math:`a_i` the true cell area (km²) and :math:`(x_i, y_i)` the cell centre in
    metres in the metric frame of the grid (see :func:`standard_deviational_ellipse`).
    Moments of several windows add up; :func:`sde_table` turns them into centres and
    ellipses.

    Parameters
    ----------
    built : numpy.ndarray of bool
        Built cells of the window.
    zones : numpy.ndarray of int
        Zone position of each cell of the window (0 .. n_zones-1; negative: no zone).
    n_zones : int
        Number of zones.
    stack : gisfix.stack.BuiltupStack
        For the grid and the cell areas.
    window : rasterio.windows.Window, optional
        The window ``built`` and ``zones`` cover (default: the whole grid).
    frame : optional
        The metric frame (default: that of ``stack``).

    Returns
    -------
    numpy.ndarray, shape (n_zones, 6)
    """
    frame = frame or _Frame(stack)
    m = built & (zones >= 0)
    r, c = np.nonzero(m)
    z = zones[r, c].astype(np.int64)
    u, kx, ys = frame.window_axes(stack, window)
    w = stack.row_cell_areas(window)[r] / 1e6
    x = u[c] * kx[r]
    y = ys[r]
    out = np.zeros((n_zones, 6))
    for k, v in enumerate((w, w * x, w * y, w * x * x, w * y * y, w * x * y)):
        out[:, k] = np.bincount(z, weights=v, minlength=n_zones)[:n_zones]
    return out


def _bearing(dx, dy):
    """Azimuth in degrees clockwise from grid north, in [0, 360)."""
    return np.mod(np.degrees(np.arctan2(dx, dy)), 360.0)


def builtup_centroids(stack, epochs: Sequence[int] | None = None,
                      max_cells: int | None = None, *, scheduler=None) -> pd.DataFrame:
    r"""Centroid of built-up land per epoch and its shift from the previous epoch.

    .. math::

        \bar x = \frac{\sum_i a_i x_i}{\sum_i a_i}, \qquad
        \bar y = \frac{\sum_i a_i y_i}{\sum_i a_i}

    over the built cells *i* (cell centres, weights :math:`a_i` = true cell area), the
    mean centre of the standard deviational ellipse (Yuill 1971).  On a geographic grid the
    coordinates are those of the metric frame (the ellipsoidal sinusoidal projection about
    the grid centre, see :func:`standard_deviational_ellipse`) and the centre is given back
    in longitude and latitude.  The shift from the previous epoch is given as ``dx_m``
    (east), ``dy_m`` (north) in that frame, ``shift_m`` and ``bearing_deg`` (clockwise from
    north, 0-360; geodesic distance and azimuth on a geographic grid, grid north otherwise).

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        A projected or geographic stack.
    epochs : list of int, optional
        Default: all epochs of the stack.
    max_cells : int, optional
        Window size of the pass.
    scheduler : None, str or distributed.Client
        Where the windows are computed (:func:`gisfix.parallel.resolve_scheduler`); their
        moments are added in window order, so the answer is the in-process one.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch``: ``x``, ``y`` (raster CRS), ``builtup_km2``, ``dx_m``,
        ``dy_m``, ``shift_m``, ``bearing_deg``.
    """
    ell = standard_deviational_ellipse(stack, epochs, max_cells=max_cells,
                                       scheduler=scheduler)
    return _shifts(ell[["x", "y", "builtup_km2"]].copy(), _Frame(stack))


def _shifts(out: pd.DataFrame, frame) -> pd.DataFrame:
    """Add dx_m, dy_m, shift_m, bearing_deg between consecutive rows of x, y."""
    mx, my = frame.forward(out["x"].to_numpy(), out["y"].to_numpy())
    out["dx_m"] = np.concatenate(([np.nan], np.diff(mx)))
    out["dy_m"] = np.concatenate(([np.nan], np.diff(my)))
    dist = np.full(len(out), np.nan)
    bear = np.full(len(out), np.nan)
    if len(out) > 1:
        x, y = out["x"].to_numpy(), out["y"].to_numpy()
        for i in range(1, len(out)):
            if np.isfinite([x[i - 1], y[i - 1], x[i], y[i]]).all():
                d_, b_ = frame.distance_bearing(x[i - 1], y[i - 1], x[i], y[i])
                dist[i], bear[i] = float(d_), float(b_)
    out["shift_m"] = dist
    out["bearing_deg"] = bear
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
        ``x``, ``y`` (mean centre), ``sigma_major_m``, ``sigma_minor_m`` (semi-axes),
        ``rotation_deg`` (azimuth of the major axis, clockwise from north, in [0, 180)),
        ``area_km2`` (:math:`\pi\sigma_{major}\sigma_{minor}`), ``weight``.

    Raises
    ------
    DataError
        When ``x``, ``y`` and ``weights`` differ in shape or are empty.

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
    out = _sde_from_moments(mom, sqrt2)
    out["x"] += mx
    out["y"] += my
    return out


def _sde_from_moments(mom, sqrt2=True) -> dict:
    """SDE of moments (w, wx, wy, wxx, wyy, wxy) in metres; x, y in the same frame."""
    sw, sx, sy, sxx, syy, sxy = mom
    if sw <= 0:
        return {"x": np.nan, "y": np.nan, "sigma_major_m": np.nan, "sigma_minor_m": np.nan,
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
    return {"x": float(mx), "y": float(my), "sigma_major_m": float(major),
            "sigma_minor_m": float(minor), "rotation_deg": rotation,
            "area_km2": float(np.pi * major * minor / 1e6), "weight": float(sw)}


def sde_table(moments: np.ndarray, frame, sqrt2: bool = True) -> pd.DataFrame:
    r"""Ellipse parameters of rows of moments (:func:`window_moments`), centres in the CRS.

    Parameters
    ----------
    moments : numpy.ndarray, shape (k, 6)
        Moments in the metric frame.
    frame : object
        The metric frame the moments were taken in (maps centres back to the CRS).
    sqrt2 : bool
        The :math:`\sqrt 2` convention of :func:`sde_from_points`.

    Returns
    -------
    pandas.DataFrame
        One row per row of ``moments``: ``x``, ``y`` (raster CRS), ``sigma_major_m``,
        ``sigma_minor_m``, ``rotation_deg``, ``area_km2`` (ellipse), ``builtup_km2``.
    """
    rows = []
    for mom in np.atleast_2d(moments):
        d_ = _sde_from_moments(mom, sqrt2)
        d_["builtup_km2"] = d_.pop("weight")
        rows.append(d_)
    out = pd.DataFrame(rows, columns=["x", "y", "sigma_major_m", "sigma_minor_m",
                                      "rotation_deg", "area_km2", "builtup_km2"])
    out["x"], out["y"] = frame.inverse(out["x"].to_numpy(), out["y"].to_numpy())
    return out


def ellipse_polygons(table: pd.DataFrame, stack, n: int = 72):
    """Return the ellipses of ``table`` (as :func:`standard_deviational_ellipse`) as polygons.

    The outline is traced in the metric frame (``n`` vertices) and mapped back to the
    raster CRS, so on a geographic grid it is the ellipse of the true surface.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows with ``x``, ``y`` (raster CRS), ``sigma_major_m``, ``sigma_minor_m``,
        ``rotation_deg``.
    stack : gisfix.stack.BuiltupStack
        The grid the ellipses were measured on (its CRS and metric frame).
    n : int
        Vertices of each outline.

    Returns
    -------
    geopandas.GeoSeries
        Indexed like ``table``, in the raster CRS; None where the ellipse is undefined.
    """
    import geopandas as gpd
    import shapely

    frame = _Frame(stack)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    geoms = []
    for _, r in table.iterrows():
        if not np.isfinite([r["x"], r["y"], r["sigma_major_m"], r["sigma_minor_m"]]).all() \
                or r["sigma_major_m"] <= 0:
            geoms.append(None)
            continue
        cx, cy = frame.forward(r["x"], r["y"])
        rot = np.radians(r["rotation_deg"] if np.isfinite(r["rotation_deg"]) else 0.0)
        a, b = r["sigma_major_m"], max(r["sigma_minor_m"], 1e-6 * r["sigma_major_m"])
        # major axis along azimuth rot (clockwise from north)
        ux, uy = np.sin(rot), np.cos(rot)
        px = cx + a * np.cos(t) * ux + b * np.sin(t) * uy
        py = cy + a * np.cos(t) * uy - b * np.sin(t) * ux
        gx, gy = frame.inverse(px, py)
        geoms.append(shapely.Polygon(np.column_stack([gx, gy])))
    return gpd.GeoSeries(geoms, index=table.index, crs=stack.crs)


def standard_deviational_ellipse(stack, epochs: Sequence[int] | None = None, *,
                                 sqrt2: bool = True, max_cells: int | None = None,
                                 scheduler=None) -> pd.DataFrame:
    r"""Standard deviational ellipse of built-up land per epoch (cells weighted by area).

    See :func:`sde_from_points` for the formula and the :math:`\sqrt 2` convention.  One
    windowed pass accumulates the area-weighted moments of the built cell centres of every
    epoch, in metres about the grid centre.  Geographic (degree) grids are measured as they
    come: the coordinates are those of the ellipsoidal sinusoidal projection centred on the
    grid (Snyder 1987, p. 243), :math:`x = (\lambda-\lambda_0) N(\phi)\cos\phi`,
    :math:`y = M(\phi) - M(\phi_0)`, i.e. every row's cells have the geodesic width of that
    row and lie at their geodesic distance along the meridian; the projection is
    equal-area, so the moments are those of the true surface (within a city-sized grid the
    remaining distortion of distances off the central meridian is negligible: the shear
    term is of the order of :math:`(\Delta\lambda \sin\phi)^2`).

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        A projected or geographic stack.
    epochs : list of int, optional
        Default: all of the stack's.
    sqrt2 : bool
        The :math:`\sqrt 2` convention of :func:`sde_from_points`.
    max_cells : int, optional
        Window size of the pass.
    scheduler : None, str or distributed.Client
        Where the windows are computed (:func:`gisfix.parallel.resolve_scheduler`): partial
        moments per window, added in window order (identical to the in-process answer).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch``: ``x``, ``y`` (mean centre, raster CRS), ``sigma_major_m``,
        ``sigma_minor_m``, ``rotation_deg`` (clockwise from north), ``area_km2``
        (ellipse), ``builtup_km2``.
    """
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    eps = _epochs(stack, epochs)
    frame = _Frame(stack)
    from gisfix.parallel import scheduler_session

    with scheduler_session(scheduler) as sched:
        mom = _moments(stack, eps, max_cells or DEFAULT_WINDOW_CELLS, frame, sched)
    out = sde_table(np.array([mom[e] for e in eps]), frame, sqrt2)
    out.index = pd.Index(eps, name="epoch")
    return out


# -- growth by direction sector and distance ring -------------------------------------------
def directional_growth(stack, t0: int, t1: int, *, centre: tuple[float, float] | None = None,
                       n_sectors: int = 8, ring_width_m: float = 1000.0,
                       max_cells: int | None = None, scheduler=None) -> pd.DataFrame:
    r"""New built-up land between t0 and t1 by direction sector and distance ring.

    Each cell is assigned the sector :math:`s = \lfloor ((\beta + 180/n) \bmod 360)\,n/360
    \rfloor` of the bearing :math:`\beta` (clockwise from north) from ``centre`` to its
    centre, so sector 0 is centred on north (N, NE, E, ... for ``n_sectors=8``), and the
    ring :math:`r = \lfloor d / w \rfloor` of its distance *d*.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        A projected or geographic stack.  On a geographic grid distances and bearings are
        geodesic (Karney 2013, via :meth:`pyproj.Geod.inv`) and areas are the true
        ellipsoidal cell areas.
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
    scheduler : None, str or distributed.Client
        Where the windows are computed (:func:`gisfix.parallel.resolve_scheduler`): sums per
        window, added in window order (identical to the in-process answer).

    Returns
    -------
    pandas.DataFrame
        One row per (sector, ring) holding observed land: ``sector``, ``bearing_from``,
        ``bearing_to``, ``ring``, ``r_from_m``, ``r_to_m``, ``new_km2``,
        ``built_t0_km2``, ``valid_km2``, ``share_of_new``.  Aggregate with
        ``groupby("sector")`` or ``groupby("ring")``.

    Raises
    ------
    DataError
        When ``t1 <= t0``, ``n_sectors < 1`` or ``ring_width_m <= 0``.
    """
    from gisfix.parallel import imap_blocks, scheduler_session
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    if int(n_sectors) < 1 or ring_width_m <= 0:
        raise DataError(f"n_sectors must be >= 1 and ring_width_m > 0; got {n_sectors}, "
                        f"{ring_width_m}")
    n_sectors = int(n_sectors)
    t0, t1 = int(t0), int(t1)
    if stack.epoch_index(t1) <= stack.epoch_index(t0):
        raise DataError(f"t1 must be after t0; got t0={t0}, t1={t1}")
    with scheduler_session(scheduler) as sched:
        if centre is None:
            c = builtup_centroids(stack, [t0], max_cells=max_cells, scheduler=sched).iloc[0]
            centre = (float(c["x"]), float(c["y"]))
        cx, cy = centre
        acc: dict[str, np.ndarray] = {}
        jobs = [(stack, win, t0, t1, (cx, cy), n_sectors, ring_width_m)
                for win in stack.windows(max_cells or DEFAULT_WINDOW_CELLS)]
        for part in imap_blocks(_directional_strip, jobs, sched):
            for name, b in part.items():
                prev = acc.get(name, np.zeros(0))
                size = max(len(prev), len(b))
                acc[name] = np.pad(prev, (0, size - len(prev))) + np.pad(b, (0, size - len(b)))
    if not acc:
        acc = {k: np.zeros(0) for k in ("new", "built0", "valid")}
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


@stack_task
def _directional_strip(job):
    """Task: areas by (ring, sector) key of one window: new, built at t0, observed."""
    stack, win, t0, t1, (cx, cy), n_sectors, ring_width_m = job
    frame = _Frame(stack)
    xs, ys = _cell_xy(stack, win)
    dist, bearing = frame.distance_bearing(cx, cy, xs[None, :], ys[:, None])
    sector = np.floor(np.mod(bearing + 180.0 / n_sectors, 360.0) * n_sectors / 360.0
                      ).astype(np.int64) % n_sectors
    ring = np.floor(dist / ring_width_m).astype(np.int64)
    built, valid = _built_layers(stack, win, [t0, t1])
    area = np.broadcast_to(stack.row_cell_areas(win)[:, None] / 1e6, valid.shape)
    new = built[t1] & ~built[t0] & valid
    key = ring * n_sectors + sector
    kmax = int(key.max(initial=0)) + 1
    return {name: np.bincount(key[mask], weights=area[mask], minlength=kmax)
            for name, mask in (("new", new), ("built0", built[t0] & valid),
                               ("valid", valid))}


# -- urban core and core-periphery balance --------------------------------------------------
def largest_patch(built: np.ndarray, connectivity: int = 8) -> np.ndarray:
    """Return the largest connected patch of ``built`` (by cells) as a boolean array.

    Parameters
    ----------
    built : numpy.ndarray of bool
        Built cells.
    connectivity : {8, 4}
        Patch connectivity.

    Returns
    -------
    numpy.ndarray of bool
        True on the cells of the largest patch (the first one on a tie; all False when
        nothing is built).
    """
    from scipy import ndimage

    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    lab, n = ndimage.label(built, structure=structure)
    if n == 0:
        return np.zeros(built.shape, bool)
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    return lab == int(counts.argmax())


# -- windowed patches: labels strip by strip, stitched across strip edges --------------------
def _structure(connectivity):
    """The ``scipy.ndimage.label`` structure of a patch connectivity (8 or 4)."""
    if connectivity not in (4, 8):
        raise DataError(f"connectivity must be 4 (rook) or 8 (queen), got {connectivity!r}")
    return np.ones((3, 3), bool) if int(connectivity) == 8 else None


def _row_strips(stack, max_cells=None, block_rows=None):
    """Full-width row strips ``(r0, r1)``: ``block_rows`` rows, else :meth:`windows`."""
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    if block_rows:
        rows = max(1, int(block_rows))
        return [(r0, min(r0 + rows, stack.height)) for r0 in range(0, stack.height, rows)]
    return [(int(w.row_off), int(w.row_off + w.height))
            for w in stack.windows(int(max_cells or DEFAULT_WINDOW_CELLS))]


def _runs(row):
    """Run-length code of one row of labels: (start column, length, label) of each run.

    The client keeps the edge rows of every strip until it stitches them; runs of one label
    are long (a patch's cells in a row, a stretch of background), so this is small.
    """
    row = np.asarray(row)
    if row.size == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32)
    change = np.flatnonzero(row[1:] != row[:-1]) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.append(starts, row.size))
    labels = row[starts]
    keep = labels > 0
    return (starts[keep].astype(np.int32), lengths[keep].astype(np.int32),
            labels[keep].astype(np.int32))


def _run_pairs(bottom, top, connectivity):
    """Unique (bottom label, top label) pairs of runs that touch across a strip edge.

    A run ``[a, a + n)`` of the last row of a strip touches a run ``[b, b + m)`` of the first
    row of the next strip when the column intervals overlap (4-connectivity), or overlap
    once widened by one column on each side (8-connectivity: diagonal neighbours).
    """
    bs, bl, blab = (np.asarray(x, np.int64) for x in bottom)
    ts, tl, tlab = (np.asarray(x, np.int64) for x in top)
    if not len(bs) or not len(ts):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    grow = 1 if connectivity == 8 else 0
    lo = np.searchsorted(ts + tl, bs - grow, side="right")  # first top run ending after
    hi = np.searchsorted(ts, bs + bl + grow, side="left")  # first top run starting beyond
    n = np.maximum(hi - lo, 0)
    i = np.repeat(np.arange(len(bs)), n)
    j = np.repeat(lo, n) + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    pairs = np.unique(np.stack([blab[i], tlab[j]], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _stitch_runs(first_rows, last_rows, counts, connectivity):
    """:func:`gisfix.parallel.stitch_strips` on run-coded edge rows.

    The union-find only needs which labels touch across each strip edge: the unique label
    pairs of touching runs are handed over as aligned one-cell "rows" (4-connected), so a
    dense edge row (the background of the core) costs its runs, not its cells.
    """
    from gisfix.parallel import stitch_strips

    ns = len(counts)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    first, last = [empty] * ns, [empty] * ns
    for s in range(ns - 1):
        a, b = _run_pairs(last_rows[s], first_rows[s + 1], connectivity)
        cols = np.arange(len(a), dtype=np.int64)
        last[s] = (cols, a)
        first[s + 1] = (cols, b)
    return stitch_strips(first, last, counts, 4)


def _edge_rows(labels):
    """The first and the last row of a strip's labels, as :func:`_runs`."""
    return _runs(labels[0]), _runs(labels[-1])


@stack_task
def _patch_strip(job):
    """Label one strip per epoch: what the stitching needs, and the largest candidates.

    Per epoch: the label count, the edge rows, cells and areas of the edge patches, the
    largest inner patch (the only inner one that can be the largest of the grid) and the
    built cells per row.
    """
    from scipy import ndimage

    stack, r0, r1, eps, connectivity = job
    window = stack.row_window(r0, r1)
    built, _ = _built_layers(stack, window, eps)
    row_area = stack.row_cell_areas(window)
    equal = bool(row_area.size) and bool(np.all(row_area == row_area[0]))
    structure = _structure(connectivity)
    out = []
    for e in eps:
        b = built[e]
        labels, n = ndimage.label(b, structure=structure)
        cells = np.bincount(labels.ravel(), minlength=n + 1)
        first_row, last_row = _edge_rows(labels)
        edge = np.zeros(n + 1, bool)
        edge[first_row[2]] = True
        edge[last_row[2]] = True
        edge[0] = False
        ek = np.flatnonzero(edge)
        inner = np.flatnonzero(~edge)[1:]
        want = edge.copy()
        k = 0
        if inner.size:  # the largest inner patch; first in raster order on a tie
            k = int(inner[np.argmax(cells[inner])])
            want[k] = True
        # true areas of the patches kept (per-row cell areas on a geographic grid)
        if equal:
            area = cells * row_area[0]
        else:
            rr, cc = np.nonzero(want[labels])
            area = np.bincount(labels[rr, cc], weights=row_area[rr], minlength=n + 1)
        best = (k, int(cells[k]), float(area[k])) if inner.size else None
        out.append({"n": int(n), "first_row": first_row, "last_row": last_row,
                    "edge_labels": ek, "edge_cells": cells[ek], "edge_area": area[ek],
                    "best": best, "row_built": np.count_nonzero(b, axis=1)})
    return out


class _Patches:
    """The stitched patches of one epoch: the largest one and the built-up total."""

    def __init__(self, stitch, gid, cells, area_m2, total_m2, has=None):
        self.stitch = stitch
        self.has = has            # per strip: does it hold a cell of the largest patch
        self.gid = gid            # global id of the largest patch (0: nothing built)
        self.cells = cells
        self.area_m2 = area_m2    # its true area
        self.total_m2 = total_m2  # all built area

    @property
    def share(self) -> float:
        """The largest patch's share of the built-up area (NaN when nothing is built)."""
        return self.area_m2 / self.total_m2 if self.total_m2 > 0 else np.nan


def _patch_pass(stack, eps, connectivity, strips, scheduler) -> dict:
    """Pass A over ``strips``: {epoch: :class:`_Patches`}, as one whole-grid labelling.

    Patches crossing strip edges are stitched (:func:`gisfix.parallel.stitch_strips`); the
    global ids are those of ``scipy.ndimage.label`` on the whole grid, so the largest patch
    (most cells, then smallest id) is the one ``np.argmax`` of the whole-grid counts picks.
    """
    from gisfix.parallel import imap_blocks

    _structure(connectivity)
    res = list(imap_blocks(_patch_strip, [(stack, r0, r1, list(eps), connectivity)
                                          for r0, r1 in strips], scheduler))
    row_areas = stack.row_cell_areas()
    out = {}
    for k, e in enumerate(eps):
        parts = [r[k] for r in res]
        stitch = _stitch_runs([p["first_row"] for p in parts],
                              [p["last_row"] for p in parts], [p["n"] for p in parts],
                              connectivity)
        gids = np.concatenate([stitch.map(s, p["edge_labels"]) for s, p in enumerate(parts)]
                              + [np.zeros(0, np.int64)])
        cells = np.concatenate([p["edge_cells"] for p in parts] + [np.zeros(0, np.int64)])
        area = np.concatenate([p["edge_area"] for p in parts] + [np.zeros(0)])
        cand_g, cand_c, cand_a = [], [], []
        if gids.size:
            u, inv = np.unique(gids, return_inverse=True)
            cand_g.append(u)
            cand_c.append(np.bincount(inv, weights=cells, minlength=len(u)).astype(np.int64))
            # partial areas of a patch added in strip order
            a = np.zeros(len(u))
            np.add.at(a, inv, area)
            cand_a.append(a)
        for s, p in enumerate(parts):
            if p["best"] is not None:
                lab, c, a = p["best"]
                cand_g.append(stitch.map(s, np.array([lab])))
                cand_c.append(np.array([c], np.int64))
                cand_a.append(np.array([a]))
        total = float(np.concatenate([p["row_built"] for p in parts]) @ row_areas)
        if cand_g:
            g, c, a = (np.concatenate(x) for x in (cand_g, cand_c, cand_a))
            order = np.lexsort((g, -c))  # most cells, then first in raster order
            j = order[0]
            gid = int(g[j])
            has = [bool(np.any(stitch.map(s, p["edge_labels"]) == gid))
                   or (p["best"] is not None
                       and int(stitch.map(s, np.array([p["best"][0]]))[0]) == gid)
                   for s, p in enumerate(parts)]
            out[e] = _Patches(stitch, gid, int(c[j]), float(a[j]), total, has)
        else:
            out[e] = _Patches(stitch, 0, 0, 0.0, total)
    return out


# -- the default core: the largest patch with its holes filled, window by window -------------
def _largest_in_strip(stack, built, connectivity, params, gid):
    """The cells of global patch ``gid`` in a strip of built cells."""
    from scipy import ndimage

    from gisfix.parallel import map_labels

    labels, n = ndimage.label(built, structure=_structure(connectivity))
    hit = map_labels(np.arange(n + 1), *params) == gid
    hit[0] = False
    return hit[labels]


@stack_task
def _background_strip(job):
    """For each requested core: (labels, edge rows, labels on the grid border, any patch)."""
    from scipy import ndimage

    stack, r0, r1, requests = job
    window = stack.row_window(r0, r1)
    built, _ = _built_layers(stack, window, sorted({t for t, *_ in requests}))
    out = []
    for t0, connectivity, params, gid in requests:
        patch = _largest_in_strip(stack, built[t0], connectivity, params, gid)
        # binary_fill_holes: the background is 4-connected (its default structure)
        labels, n = ndimage.label(~patch)
        first_row, last_row = _edge_rows(labels)
        border = [labels[:, 0], labels[:, -1]]
        if r0 == 0:
            border.append(labels[0])
        if r1 == stack.height:
            border.append(labels[-1])
        border = np.unique(np.concatenate(border))
        out.append((int(n), first_row, last_row, border[border > 0],
                    bool(patch.any())))
    return out


class _PatchCore:
    """The default core of one epoch: its largest patch with the holes filled (picklable).

    ``strips`` are the strips of the labelling; for each, the stitch parameters of the
    built patches (``pa``) and of the background (``pb``), and whether it holds a cell of
    the largest patch.  ``border`` holds the global ids of the background components that
    touch the grid border: every other background component is a hole, filled.
    """

    def __init__(self, t0, connectivity, strips, pa, gid, pb, has_patch, border):
        self.t0 = t0
        self.connectivity = connectivity
        self.strips = strips
        self.pa = pa
        self.gid = gid
        self.pb = pb
        self.has_patch = has_patch
        self.border = border
        self.halo = 0

    def restrict(self, r0: int, r1: int):
        """A copy holding only the strips that meet rows ``r0 .. r1 - 1``."""
        keep = [i for i, (a, b) in enumerate(self.strips) if a < r1 and b > r0]
        return _PatchCore(self.t0, self.connectivity, [self.strips[i] for i in keep],
                          [self.pa[i] for i in keep], self.gid, [self.pb[i] for i in keep],
                          [self.has_patch[i] for i in keep], self.border)

    def strip_mask(self, stack, i: int, built=None) -> np.ndarray:
        """The core on strip ``i`` (``built``: its built cells at t0, read when None)."""
        from scipy import ndimage

        from gisfix.parallel import map_labels

        r0, r1 = self.strips[i]
        if not self.has_patch[i]:  # a full-width strip without the patch holds no hole
            return np.zeros((r1 - r0, stack.width), bool)
        if built is None:
            built = _built_layers(stack, stack.row_window(r0, r1), [self.t0])[0][self.t0]
        patch = _largest_in_strip(stack, built, self.connectivity, self.pa[i], self.gid)
        labels, n = ndimage.label(~patch)
        g = map_labels(np.arange(n + 1), *self.pb[i])
        hole = ~np.isin(g, self.border)
        hole[0] = False
        return patch | hole[labels]

    def rows(self, stack, r0: int, r1: int) -> np.ndarray:
        """The core on rows ``r0 .. r1 - 1`` (full width)."""
        out = np.zeros((r1 - r0, stack.width), bool)
        for i, (a, b) in enumerate(self.strips):
            if a < r1 and b > r0 and self.has_patch[i]:
                m = self.strip_mask(stack, i)
                lo, hi = max(a, r0), min(b, r1)
                out[lo - r0:hi - r0] = m[lo - a:hi - a]
        return out

    def mask(self, stack, window) -> np.ndarray:
        """The core on ``window``."""
        w = stack.resolve_window(window)
        r0, c0 = int(w.row_off), int(w.col_off)
        return self.rows(stack, r0, r0 + int(w.height))[:, c0:c0 + int(w.width)]


def _patch_cores(stack, requests, strips, scheduler) -> list:
    """Pass B: :class:`_PatchCore` of each ``(t0, connectivity, patches)`` request."""
    from gisfix.parallel import imap_blocks

    # only the strips that hold the largest patch are read: the background of any other
    # full-width strip is one run per edge row, touching the border
    jobs, index = [], []
    for s, (r0, r1) in enumerate(strips):
        ids = [i for i, (_, _, p) in enumerate(requests) if p.gid > 0 and p.has[s]]
        if ids:
            jobs.append((stack, r0, r1, [(requests[i][0], requests[i][1],
                                          requests[i][2].stitch.params(s), requests[i][2].gid)
                                         for i in ids]))
            index.append((s, ids))
    found = {}
    for (s, ids), res in zip(index, imap_blocks(_background_strip, jobs, scheduler)):
        for i, q in zip(ids, res):
            found[(s, i)] = q
    run = (np.zeros(1, np.int32), np.array([stack.width], np.int32), np.ones(1, np.int32))
    blank = (1, run, run, np.ones(1, np.int64), False)
    out = []
    for i, (t0, conn, p) in enumerate(requests):
        if p.gid == 0:  # nothing built: an empty core
            out.append(_PatchCore(t0, conn, list(strips), [None] * len(strips), 0,
                                  [None] * len(strips), [False] * len(strips),
                                  np.zeros(0, np.int64)))
            continue
        parts = [found.get((s, i), blank) for s in range(len(strips))]
        stitch = _stitch_runs([q[1] for q in parts], [q[2] for q in parts],
                              [q[0] for q in parts], 4)
        border = np.unique(np.concatenate([stitch.map(s, q[3]) for s, q in enumerate(parts)]
                                          + [np.zeros(0, np.int64)]))
        out.append(_PatchCore(t0, conn, list(strips),
                              [p.stitch.params(s) for s in range(len(strips))], p.gid,
                              [stitch.params(s) for s in range(len(strips))],
                              [q[4] for q in parts], border))
    return out


# -- polygon, disc and dilated cores (picklable, computed for any window) ----------------------
class _PolygonCore:
    """Cells whose centre lies in one of ``shapes`` (raster CRS)."""

    halo = 0

    def __init__(self, shapes):
        self.shapes = shapes

    def restrict(self, r0, r1):
        return self

    def mask(self, stack, window) -> np.ndarray:
        from rasterio.features import rasterize
        from rasterio.windows import transform as window_transform

        w = stack.resolve_window(window)
        shape = (int(w.height), int(w.width))
        if not self.shapes or 0 in shape:
            return np.zeros(shape, bool)
        return rasterize(self.shapes, out_shape=shape,
                         transform=window_transform(w, stack.transform), fill=0,
                         dtype="uint8").astype(bool)

    def rows(self, stack, r0, r1):
        return self.mask(stack, stack.row_window(r0, r1))


class _DiscCore(_PolygonCore):
    """Cells whose centre lies within ``radius_m`` of ``centre`` (geodesic if geographic)."""

    def __init__(self, centre, radius_m):
        self.centre = centre
        self.radius_m = radius_m

    def mask(self, stack, window) -> np.ndarray:
        xs, ys = _cell_xy(stack, window)
        dist, _ = _Frame(stack).distance_bearing(self.centre[0], self.centre[1], xs[None, :],
                                                 ys[:, None])
        return dist <= self.radius_m


def _dilation_elements(stack, dilate_m):
    """Per row of the grid, the key of its structuring element; and the elements."""
    from gisfix.lei import buffer_offsets

    widths, heights = _Frame(stack).row_cell_sizes_m(np.arange(stack.height))
    key_of_row = np.zeros(len(widths), dtype=np.int32)
    keys: dict[bytes, int] = {}
    elements = []
    for i, (w_, h_) in enumerate(zip(widths, heights)):
        off = buffer_offsets(float(dilate_m), (float(w_), float(h_)))
        k = keys.setdefault(off.tobytes(), len(keys))
        if k == len(elements):
            if len(off):
                ri, rj = np.abs(off).max(axis=0)
                se = np.zeros((2 * ri + 1, 2 * rj + 1), bool)
                se[off[:, 0] + ri, off[:, 1] + rj] = True
                se[ri, rj] = True
            else:
                se = None
            elements.append(se)
        key_of_row[i] = k
    return key_of_row, elements


class _DilatedCore:
    """``inner`` widened by ``dilate_m`` metres (the rule of :func:`gisfix.lei.buffer_offsets`).

    On a geographic grid each row uses the geodesic width and height of its own cells.  A
    row of the result depends on the rows of ``inner`` within its element's half-height, so
    a window is dilated from ``inner`` on the window plus that halo.
    """

    def __init__(self, inner, key_of_row, elements):
        self.inner = inner
        self.key_of_row = key_of_row
        self.elements = elements
        self.halo = max([0] + [(se.shape[0] - 1) // 2 for se in elements if se is not None])

    def restrict(self, r0, r1):
        return _DilatedCore(self.inner.restrict(r0 - self.halo, r1 + self.halo),
                            self.key_of_row, self.elements)

    def rows(self, stack, r0, r1) -> np.ndarray:
        from scipy import ndimage

        e0, e1 = max(0, r0 - self.halo), min(stack.height, r1 + self.halo)
        ext = self.inner.rows(stack, e0, e1)
        keys = self.key_of_row[r0:r1]
        out = np.zeros((r1 - r0, stack.width), bool)
        for k in np.unique(keys):
            sel = keys == k
            se = self.elements[k]
            if se is None:
                out[sel] = ext[r0 - e0:r1 - e0][sel]
                continue
            # only the rows of this element, with their halo, are dilated
            idx = np.flatnonzero(sel)
            h = (se.shape[0] - 1) // 2
            a, b = max(e0, r0 + idx[0] - h), min(e1, r0 + idx[-1] + 1 + h)
            dil = ndimage.binary_dilation(ext[a - e0:b - e0], structure=se)
            out[idx] = dil[r0 + idx - a]
        return out

    def mask(self, stack, window) -> np.ndarray:
        w = stack.resolve_window(window)
        r0, c0 = int(w.row_off), int(w.col_off)
        return self.rows(stack, r0, r0 + int(w.height))[:, c0:c0 + int(w.width)]


def _core_source(stack, t0: int, *, core=None, radius_m: float | None = None,
                 centre: tuple[float, float] | None = None, dilate_m: float | None = None,
                 connectivity: int = 8, max_cells: int | None = None, block_rows=None,
                 scheduler=None, patches=None):
    """Resolve a core definition once; return a picklable object with ``mask(stack, win)``.

    Every definition is computed window by window: the default core (largest patch, holes
    filled) from two stitched strip passes (:func:`_patch_pass`, :func:`_patch_cores`), a
    dilation from the window plus a halo of rows.  ``patches``: pass A already done on the
    strips of ``max_cells`` / ``block_rows`` for ``t0`` (a :class:`_Patches`).
    """
    t0 = int(t0)
    stack.epoch_index(t0)
    if core is not None:
        import geopandas as gpd

        if isinstance(core, gpd.GeoDataFrame | gpd.GeoSeries):
            if core.crs is None:
                raise DataError("the core polygon has no CRS; set one (gdf.set_crs(...))")
            geoms = list(core.to_crs(stack.crs).geometry)
        else:
            geoms = [core]  # a bare geometry is taken to be in the raster CRS
        src = _PolygonCore([(g, 1) for g in geoms if g is not None and not g.is_empty])
    elif radius_m is not None:
        if centre is None:
            c = builtup_centroids(stack, [t0], scheduler=scheduler).iloc[0]
            centre = (float(c["x"]), float(c["y"]))
        src = _DiscCore((float(centre[0]), float(centre[1])), float(radius_m))
    else:
        strips = _row_strips(stack, max_cells, block_rows)
        if patches is None:
            patches = _patch_pass(stack, [t0], connectivity, strips, scheduler)[t0]
        src = _patch_cores(stack, [(t0, connectivity, patches)], strips, scheduler)[0]
    if dilate_m:
        src = _DilatedCore(src, *_dilation_elements(stack, dilate_m))
    return src


def core_mask(stack, t0: int, *, core=None, radius_m: float | None = None,
              centre: tuple[float, float] | None = None, dilate_m: float | None = None,
              window=None, max_cells: int | None = None, scheduler=None) -> np.ndarray:
    """Return the urban core at ``t0`` as a boolean array over the grid (or a window).

    Three definitions, in order of precedence:

    1. ``core``: a polygon (shapely geometry, GeoSeries or GeoDataFrame with a CRS; e.g.
       an urban extent) rasterised by the cell-centre rule;
    2. ``radius_m``: the cells whose centre lies within ``radius_m`` of ``centre``
       (default: the built-up centroid at ``t0``); geodesic distances on a geographic grid;
    3. default: the largest 8-connected built-up patch at ``t0`` with its holes filled
       (the compact urban mass, so land enclosed by it is core).

    ``dilate_m`` widens the result by that distance (the buffer rule of
    :func:`gisfix.lei.buffer_offsets`, with each row's geodesic cell size on a geographic
    grid).  Everything is computed in row strips of ``max_cells`` cells: the default core
    is labelled strip by strip, its patches stitched across strip edges by union-find
    (:func:`gisfix.parallel.stitch_strips`), then the background (the complement of the
    largest patch, 4-connected as in ``scipy.ndimage.binary_fill_holes``) likewise; the
    background components that do not touch the grid border are its holes.  A dilated
    window is computed from the window plus a halo of rows.  With ``window`` only that
    window's cells are returned, and no whole-grid array is made.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The built-up stack (projected or geographic).
    t0 : int
        The epoch of the core.
    core : shapely geometry, GeoSeries or GeoDataFrame, optional
        Definition 1.
    radius_m : float, optional
        Definition 2: the radius in metres.
    centre : (x, y), optional
        Centre of definition 2, in the raster CRS.
    dilate_m : float, optional
        Widen the core by this many metres.
    window : rasterio.windows.Window, optional
        Return only this window's cells.
    max_cells : int, optional
        Cells per row strip of the passes (default
        :data:`gisfix.stack.DEFAULT_WINDOW_CELLS`): the memory bound.
    scheduler : None, str or distributed.Client
        Where the strips of the default core are labelled
        (:func:`gisfix.parallel.resolve_scheduler`).

    Returns
    -------
    numpy.ndarray of bool
    """
    from gisfix.parallel import scheduler_session

    with scheduler_session(scheduler) as sched:
        src = _core_source(stack, t0, core=core, radius_m=radius_m, centre=centre,
                           dilate_m=dilate_m, max_cells=max_cells, scheduler=sched)
    return src.mask(stack, window)


@stack_task
def _core_periphery_strip(job):
    """new, new in core, available, available in core, core observed (km²) of one strip."""
    stack, r0, r1, t0, t1, src = job
    win = stack.row_window(r0, r1)
    core = src.mask(stack, win)
    built, valid = _built_layers(stack, win, [t0, t1])
    area = stack.row_cell_areas(win) / 1e6
    new = built[t1] & ~built[t0] & valid
    avail = valid & ~built[t0]
    return np.array([float(m.sum(axis=1) @ area)
                     for m in (new, new & core, avail, avail & core, core & valid)])


def core_periphery(stack, t0: int, t1: int, *, max_cells: int | None = None, scheduler=None,
                   **core_options) -> pd.Series:
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
    max_cells : int, optional
        Cells per row strip: memory is bounded by the strip for every core definition
        (see :func:`core_mask`); the sums are added strip by strip.
    scheduler : None, str or distributed.Client
        Where the strips are computed (:func:`gisfix.parallel.resolve_scheduler`); the
        answer is identical to the in-process one.
    **core_options
        Passed to :func:`core_mask` (``core=``, ``radius_m=``, ``centre=``, ``dilate_m=``).

    Returns
    -------
    pandas.Series
        ``core_km2``, ``new_km2``, ``new_core_km2``, ``new_periphery_km2``,
        ``core_share_new`` (*c*), ``core_share_available``, ``core_ratio`` (:math:`\rho`).

    Raises
    ------
    DataError
        When ``t1 <= t0``.
    """
    from gisfix.parallel import scheduler_session

    with scheduler_session(scheduler) as sched:
        return _core_periphery(stack, t0, t1, max_cells, sched, core_options)


def _core_periphery(stack, t0, t1, max_cells, sched, core_options):
    from gisfix.parallel import imap_blocks

    t0, t1 = int(t0), int(t1)
    if stack.epoch_index(t1) <= stack.epoch_index(t0):
        raise DataError(f"t1 must be after t0; got t0={t0}, t1={t1}")
    src = _core_source(stack, t0, max_cells=max_cells, scheduler=sched, **core_options)
    strips = _row_strips(stack, max_cells)
    sums = np.zeros(5)  # new, new in core, available, available in core, core observed
    jobs = [(stack, r0, r1, t0, t1, src.restrict(r0, r1)) for r0, r1 in strips]
    for part in imap_blocks(_core_periphery_strip, jobs, sched):
        sums += part
    n_all, n_core, v_all, v_core, core_km2 = sums
    c = n_core / n_all if n_all > 0 else np.nan
    a = v_core / v_all if v_all > 0 else np.nan
    return pd.Series({
        "core_km2": core_km2, "new_km2": n_all,
        "new_core_km2": n_core, "new_periphery_km2": n_all - n_core, "core_share_new": c,
        "core_share_available": a, "core_ratio": c / a if a and a > 0 else np.nan,
    })


def core_periphery_series(stack, epochs: Sequence[int] | None = None, *,
                          scheduler=None, **core_options) -> pd.DataFrame:
    """Return :func:`core_periphery` for each pair of consecutive epochs.

    The core is redrawn at the start of every period (the urban core of its t0).

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The built-up stack.
    epochs : list of int, optional
        Epochs delimiting the periods (default: all of the stack's).
    scheduler : None, str or distributed.Client
        Where the strips are computed (:func:`gisfix.parallel.resolve_scheduler`).
    **core_options
        As :func:`core_periphery` (``max_cells=`` and the core definition).

    Returns
    -------
    pandas.DataFrame
        Columns ``t0``, ``t1`` and those of :func:`core_periphery`, one row per period.

    Raises
    ------
    DataError
        With fewer than two epochs.
    RasterError
        For an epoch the stack does not hold.
    """
    from gisfix.parallel import scheduler_session

    eps = _epochs(stack, epochs)
    if len(eps) < 2:
        raise DataError(f"core-periphery needs at least two epochs; got {eps}")
    opts = dict(core_options)
    max_cells = opts.pop("max_cells", None)
    rows = []
    with scheduler_session(scheduler) as sched:
        for a, b in zip(eps[:-1], eps[1:]):
            rows.append({"t0": a, "t1": b,
                         **_core_periphery(stack, a, b, max_cells, sched, opts)})
    return pd.DataFrame(rows)


def largest_patch_share(stack, epochs: Sequence[int] | None = None,
                        connectivity: int = 8, *, scheduler=None,
                        block_rows: int | None = None,
                        window_cells: int | None = None) -> pd.Series:
    r"""Share of built-up area in the largest connected built-up patch, per epoch.

    .. math:: \mathrm{LPS} = \frac{\max_p A_p}{\sum_p A_p}

    A within-city concentration measure (the largest-patch index of landscape ecology,
    McGarigal & Marks 1995, taken relative to the built-up area rather than the
    landscape): rising when growth joins the main urban mass, falling when it scatters.
    The largest patch is the one with most cells (the first in raster order on a tie);
    :math:`A_p` is its true area (per-row cell areas on a geographic grid).

    The grid is labelled in full-width row strips; patches that cross strip edges are
    stitched by union-find over their edge labels (:func:`gisfix.parallel.stitch_strips`),
    and of the patches inside a strip only its largest is kept, so memory depends on the
    strip size and the result equals a whole-grid labelling.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The built-up stack (areas are true cell areas).
    epochs : list of int, optional
        Default: all of the stack's.
    connectivity : {8, 4}
        Patch connectivity.
    scheduler : None, str or distributed.Client
        Where the strips are labelled (:func:`gisfix.parallel.resolve_scheduler`).
    block_rows : int, optional
        Rows per strip (default from ``window_cells``).
    window_cells : int, optional
        Cells per strip (default :data:`gisfix.stack.DEFAULT_WINDOW_CELLS`).

    Returns
    -------
    pandas.Series
        :math:`\mathrm{LPS}` by epoch (index ``epoch``, name ``largest_patch_share``; NaN for
        an epoch with nothing built).
    """
    from gisfix.parallel import scheduler_session

    eps = _epochs(stack, epochs)
    strips = _row_strips(stack, window_cells, block_rows)
    with scheduler_session(scheduler) as sched:
        patches = _patch_pass(stack, eps, connectivity, strips, sched)
    out = {e: patches[e].share for e in eps}
    return pd.Series(out, name="largest_patch_share", dtype=float).rename_axis("epoch")


__all__ = [
    "builtup_centroids",
    "core_mask",
    "core_periphery",
    "core_periphery_series",
    "directional_growth",
    "ellipse_polygons",
    "expansion",
    "expansion_series",
    "largest_patch",
    "largest_patch_share",
    "sde_from_points",
    "sde_table",
    "standard_deviational_ellipse",
    "window_moments",
]
