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
def _moments(stack, epochs, max_cells, frame):
    """Area-weighted moments of built cell centres per epoch, in the metric frame."""
    m = {e: np.zeros(6) for e in epochs}  # w, wx, wy, wxx, wyy, wxy
    for win in stack.windows(max_cells):
        built, _ = _built_layers(stack, win, epochs)
        for e in epochs:
            zones = np.zeros(built[e].shape, np.int64)
            m[e] += window_moments(built[e], zones, 1, stack, win, frame)[0]
    return m


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
                      max_cells: int | None = None) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch``: ``x``, ``y`` (raster CRS), ``builtup_km2``, ``dx_m``,
        ``dy_m``, ``shift_m``, ``bearing_deg``.
    """
    ell = standard_deviational_ellipse(stack, epochs, max_cells=max_cells)
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
                                 sqrt2: bool = True, max_cells: int | None = None
                                 ) -> pd.DataFrame:
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
    mom = _moments(stack, eps, max_cells or DEFAULT_WINDOW_CELLS, frame)
    out = sde_table(np.array([mom[e] for e in eps]), frame, sqrt2)
    out.index = pd.Index(eps, name="epoch")
    return out


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
    from gisfix.stack import DEFAULT_WINDOW_CELLS

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
    frame = _Frame(stack)
    acc: dict[str, np.ndarray] = {}
    for win in stack.windows(max_cells or DEFAULT_WINDOW_CELLS):
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


def _dilate(mask, dilate_m, stack):
    """Dilate ``mask`` by ``dilate_m`` metres (the rule of :func:`gisfix.lei.buffer_offsets`).

    On a geographic grid each row uses the geodesic width and height of its own cells, so a
    buffer in metres is as wide at the top of the grid as at the bottom; rows that share one
    structuring element are dilated together.
    """
    if not dilate_m:
        return mask
    from scipy import ndimage

    from gisfix.lei import buffer_offsets

    widths, heights = _Frame(stack).row_cell_sizes_m(np.arange(stack.height))
    out = np.zeros_like(mask, dtype=bool)
    key_of_row = np.zeros(len(widths), dtype=np.int64)
    keys: dict[bytes, int] = {}
    elements = []
    for i, (w_, h_) in enumerate(zip(widths, heights)):
        off = buffer_offsets(float(dilate_m), (float(w_), float(h_)))
        k = keys.setdefault(off.tobytes(), len(keys))
        if k == len(elements):
            elements.append(off)
        key_of_row[i] = k
    for k, off in enumerate(elements):
        rows = key_of_row == k
        if len(off) == 0:
            out[rows] = mask[rows]
            continue
        ri, rj = np.abs(off).max(axis=0)
        se = np.zeros((2 * ri + 1, 2 * rj + 1), bool)
        se[off[:, 0] + ri, off[:, 1] + rj] = True
        se[ri, rj] = True
        out[rows] = ndimage.binary_dilation(mask, structure=se)[rows]
    return out


def _core_source(stack, t0: int, *, core=None, radius_m: float | None = None,
                 centre: tuple[float, float] | None = None, dilate_m: float | None = None):
    """Resolve a core definition once; return a function of a window giving its mask.

    Polygon and radius cores are computed window by window; the default core (largest
    patch) and any dilation need the whole grid, computed once and sliced.
    """
    from scipy import ndimage

    t0 = int(t0)
    stack.epoch_index(t0)

    def _slice(mask):
        def get(window):
            w = stack.resolve_window(window)
            r0, c0 = int(w.row_off), int(w.col_off)
            return mask[r0: r0 + int(w.height), c0: c0 + int(w.width)]
        return get

    if core is not None:
        import geopandas as gpd
        from rasterio.features import rasterize

        if isinstance(core, gpd.GeoDataFrame | gpd.GeoSeries):
            if core.crs is None:
                raise DataError("the core polygon has no CRS; set one (gdf.set_crs(...))")
            geoms = list(core.to_crs(stack.crs).geometry)
        else:
            geoms = [core]  # a bare geometry is taken to be in the raster CRS
        shapes = [(g, 1) for g in geoms if g is not None and not g.is_empty]

        def polygon(window):
            from rasterio.windows import transform as window_transform

            w = stack.resolve_window(window)
            shape = (int(w.height), int(w.width))
            if not shapes or 0 in shape:
                return np.zeros(shape, bool)
            return rasterize(shapes, out_shape=shape,
                             transform=window_transform(w, stack.transform), fill=0,
                             dtype="uint8").astype(bool)
        get = polygon
    elif radius_m is not None:
        if centre is None:
            c = builtup_centroids(stack, [t0]).iloc[0]
            centre = (float(c["x"]), float(c["y"]))
        frame = _Frame(stack)

        def disc(window):
            xs, ys = _cell_xy(stack, window)
            dist, _ = frame.distance_bearing(centre[0], centre[1], xs[None, :], ys[:, None])
            return dist <= radius_m
        get = disc
    else:
        built, _ = _built_layers(stack, None, [t0])
        return _slice(_dilate(ndimage.binary_fill_holes(largest_patch(built[t0])), dilate_m,
                              stack))
    if dilate_m:
        return _slice(_dilate(get(None), dilate_m, stack))
    return get


def core_mask(stack, t0: int, *, core=None, radius_m: float | None = None,
              centre: tuple[float, float] | None = None, dilate_m: float | None = None,
              window=None) -> np.ndarray:
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
    grid).  With ``window`` only that window's cells are returned; polygon and radius
    cores are then computed for the window alone, while the default core and a dilation
    need the whole grid.

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

    Returns
    -------
    numpy.ndarray of bool
    """
    return _core_source(stack, t0, core=core, radius_m=radius_m, centre=centre,
                        dilate_m=dilate_m)(window)


def core_periphery(stack, t0: int, t1: int, *, max_cells: int | None = None,
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
        Cells per row strip: with a polygon or radius core (not dilated) memory is bounded
        by the strip; the default core is labelled on the whole grid.
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
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    t0, t1 = int(t0), int(t1)
    if stack.epoch_index(t1) <= stack.epoch_index(t0):
        raise DataError(f"t1 must be after t0; got t0={t0}, t1={t1}")
    core_of = _core_source(stack, t0, **core_options)
    sums = np.zeros(5)  # new, new in core, available, available in core, core observed
    for win in stack.windows(max_cells or DEFAULT_WINDOW_CELLS):
        core = core_of(win)
        built, valid = _built_layers(stack, win, [t0, t1])
        area = stack.row_cell_areas(win) / 1e6
        new = built[t1] & ~built[t0] & valid
        avail = valid & ~built[t0]
        for k, m in enumerate((new, new & core, avail, avail & core, core & valid)):
            sums[k] += float(m.sum(axis=1) @ area)
    n_all, n_core, v_all, v_core, core_km2 = sums
    c = n_core / n_all if n_all > 0 else np.nan
    a = v_core / v_all if v_all > 0 else np.nan
    return pd.Series({
        "core_km2": core_km2, "new_km2": n_all,
        "new_core_km2": n_core, "new_periphery_km2": n_all - n_core, "core_share_new": c,
        "core_share_available": a, "core_ratio": c / a if a and a > 0 else np.nan,
    })


def core_periphery_series(stack, epochs: Sequence[int] | None = None, **core_options
                          ) -> pd.DataFrame:
    """Return :func:`core_periphery` for each pair of consecutive epochs.

    The core is redrawn at the start of every period (the urban core of its t0).

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The built-up stack.
    epochs : list of int, optional
        Epochs delimiting the periods (default: all of the stack's).
    **core_options
        As :func:`core_periphery`.

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

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The built-up stack (areas are true cell areas).
    epochs : list of int, optional
        Default: all of the stack's.
    connectivity : {8, 4}
        Patch connectivity.

    Returns
    -------
    pandas.Series
        :math:`\mathrm{LPS}` by epoch (index ``epoch``, name ``largest_patch_share``; NaN for
        an epoch with nothing built).
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
