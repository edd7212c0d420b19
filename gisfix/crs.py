"""CRS policy: one place that resolves, checks and measures coordinate reference systems.

* Compound CRSs (horizontal + vertical, as in several Swiss vintages) are reduced to their
  horizontal part, and to its EPSG code when one matches.
* Areas are true areas: equal-area projections use the cell size; geographic grids use the
  exact ellipsoidal area of each row of cells (see :func:`geodesic_row_areas`); other
  projections raise a warning that gives the areal distortion at the region's centre.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError as _PyprojCRSError

from gisfix.errors import CRSError, GisfixWarning

#: Projection method names (as pyproj reports them) that preserve area.
EQUAL_AREA_METHODS = (
    "albers",
    "lambert azimuthal equal area",
    "lambert cylindrical equal area",
    "mollweide",
    "sinusoidal",
    "equal earth",
    "eckert iv",
    "eckert vi",
    "goode",
    "cylindrical equal area",
)

#: Above this relative areal distortion a projected CRS triggers a warning.
AREA_DISTORTION_TOLERANCE = 0.01


class AreaDistortionWarning(GisfixWarning):
    """Areas measured in a projected CRS that does not preserve area."""


def resolve_crs(crs, *, what: str = "the data") -> CRS:
    """Return the horizontal CRS of ``crs`` as a :class:`pyproj.CRS`.

    Parameters
    ----------
    crs : anything pyproj accepts, or None
        The CRS to resolve (an EPSG code, WKT, PROJ string, ``pyproj.CRS``...).
    what : str
        What the CRS belongs to, used in error messages.

    Returns
    -------
    pyproj.CRS
        For a compound CRS its horizontal component, replaced by the matching EPSG CRS
        when pyproj finds one with full confidence.

    Raises
    ------
    CRSError
        If ``crs`` is None or cannot be parsed.
    """
    if crs is None:
        raise CRSError(
            f"{what} has no CRS; assign the right one (e.g. crs='EPSG:4326' for lon/lat, "
            "or --crs on the command line)"
        )
    key = crs.to_wkt() if isinstance(crs, CRS) else crs if isinstance(crs, str | int) else None
    if key is not None:
        try:
            return _resolve_cached(key)
        except _PyprojCRSError as exc:
            raise CRSError(
                f"cannot understand the CRS of {what} ({str(crs)[:80]!r}): {exc}") from exc
        except CRSError as exc:
            raise CRSError(str(exc).replace("{what}", what)) from exc
    return _resolve(crs, what)


@functools.lru_cache(maxsize=64)
def _resolve_cached(key):
    """Resolve a CRS given as WKT, a string or an EPSG code (the EPSG search is slow)."""
    return _resolve(key, "{what}")


def _resolve(crs, what: str) -> CRS:
    try:
        out = CRS.from_user_input(crs)
    except _PyprojCRSError as exc:
        raise CRSError(f"cannot understand the CRS of {what} ({str(crs)[:80]!r}): {exc}") from exc
    if out.is_compound:
        horizontal = [c for c in out.sub_crs_list if c.is_projected or c.is_geographic]
        if not horizontal:
            raise CRSError(f"the compound CRS of {what} has no horizontal part: {out.name}")
        out = horizontal[0]
    if out.to_epsg() is None:
        code = out.to_epsg(min_confidence=90)
        if code is not None:
            out = CRS.from_epsg(code)
    return out


def crs_label(crs: CRS) -> str:
    """Return a short label of ``crs``: ``EPSG:2056`` / ``ESRI:54009`` when known, else its name.

    Parameters
    ----------
    crs : pyproj.CRS
        The coordinate reference system to name.

    Returns
    -------
    str
        ``AUTHORITY:CODE`` when pyproj identifies the CRS, otherwise ``crs.name``.
    """
    return _label_cached(crs.to_wkt())


@functools.lru_cache(maxsize=64)
def _label_cached(wkt: str) -> str:
    crs = CRS.from_wkt(wkt)
    auth = crs.to_authority(min_confidence=90)
    if auth:
        return f"{auth[0]}:{auth[1]}"
    if crs.name and crs.name.lower() != "unknown":
        return crs.name
    return crs.to_proj4() or crs.to_wkt()[:120]


def linear_units(crs: CRS) -> str:
    """Return the unit name of the first axis of ``crs`` (``metre``, ``degree``...).

    Parameters
    ----------
    crs : pyproj.CRS
        The coordinate reference system.

    Returns
    -------
    str
        The axis unit name as pyproj spells it, or ``"unknown"`` for a CRS without axes.
    """
    return crs.axis_info[0].unit_name if crs.axis_info else "unknown"


def is_equal_area(crs: CRS) -> bool:
    """Return True if ``crs`` is a projection that preserves area.

    Parameters
    ----------
    crs : pyproj.CRS
        The coordinate reference system.

    Returns
    -------
    bool
        True when ``crs`` is projected and its coordinate operation is one of the
        equal-area methods of :data:`EQUAL_AREA_METHODS` (Mollweide, Lambert azimuthal and
        cylindrical equal area, Albers...); False for geographic CRSs and other projections.
    """
    if not crs.is_projected:
        return False
    method = (crs.coordinate_operation.method_name if crs.coordinate_operation else "").lower()
    return any(m in method for m in EQUAL_AREA_METHODS)


def areal_scale_at(crs: CRS, x: float, y: float) -> float:
    """Return the areal scale factor of projected ``crs`` at projected point (x, y).

    1.0 means areas are true there; 1.5 means areas appear 50 % too large.  The factor is
    pyproj's :meth:`pyproj.Proj.get_factors` ``areal_scale`` at the point's longitude and
    latitude.

    Parameters
    ----------
    crs : pyproj.CRS
        A projected coordinate reference system.
    x, y : float
        Projected coordinates of the point, in the units of ``crs``.

    Returns
    -------
    float
        The ratio of the projected area to the true area of an infinitesimal cell at (x, y).
    """
    from pyproj import Proj

    to_geo = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    return float(Proj(crs).get_factors(lon, lat).areal_scale)


def check_area_crs(crs: CRS, centre: tuple[float, float] | None = None, *, what: str = "data"):
    """Check that areas can be measured in ``crs``; warn when they would be distorted.

    Geographic CRSs pass (callers use geodesic areas for them). Equal-area projections pass.
    Other projections warn with the areal distortion at ``centre`` (projected coordinates).

    Parameters
    ----------
    crs : pyproj.CRS
        The CRS the areas are measured in.
    centre : tuple of float, optional
        A representative point (x, y) of the region in the coordinates of ``crs``; without it
        the distortion of a non-equal-area projection is unknown and nothing is warned.
    what : str
        What is in ``crs`` (``"boundaries"``, ``"the raster"``...), for the warning.

    Returns
    -------
    float
        The areal scale factor at ``centre`` (1.0 for equal-area and geographic CRSs, NaN
        when it cannot be computed).

    Warns
    -----
    AreaDistortionWarning
        When the areal scale at ``centre`` differs from 1 by more than
        :data:`AREA_DISTORTION_TOLERANCE`.
    """
    if crs.is_geographic or is_equal_area(crs):
        return 1.0
    if centre is None:
        return float("nan")
    try:
        scale = areal_scale_at(crs, *centre)
    except Exception:  # pragma: no cover - exotic projections without factors
        return float("nan")
    if abs(scale - 1.0) > AREA_DISTORTION_TOLERANCE:
        warnings.warn(
            f"{what} is in {crs_label(crs)} ({crs.name}), which does not preserve area: "
            f"areas at the region's centre are scaled by {scale:.4f}; reproject to an "
            "equal-area CRS for true areas",
            AreaDistortionWarning,
            stacklevel=3,
        )
    return scale


def require_projected(crs: CRS, *, what: str = "data", purpose: str = "this measure") -> None:
    """Raise :class:`CRSError` if ``crs`` is geographic (degrees) where metres are needed.

    Parameters
    ----------
    crs : pyproj.CRS
        The CRS of the data.
    what : str
        What is in ``crs``, for the message.
    purpose : str
        What needs metres (a measure's name), for the message.

    Raises
    ------
    CRSError
        When ``crs`` is geographic.
    """
    if crs.is_geographic:
        raise CRSError(
            f"{what} is in degrees ({crs_label(crs)}) but {purpose} needs metres; reproject "
            "it to a projected CRS first (e.g. gdf.to_crs('ESRI:54009') or a local UTM zone)"
        )


def _authalic_q(phi: np.ndarray, e: float) -> np.ndarray:
    """Return q(phi) of Snyder (1987, eq. 3-12) for the ellipsoid with eccentricity ``e``."""
    s = np.sin(phi)
    es = e * s
    return (1 - e * e) * (s / (1 - es * es) - (1 / (2 * e)) * np.log((1 - es) / (1 + es)))


def geodesic_row_areas(crs: CRS, transform, height: int) -> np.ndarray:
    r"""Return the true area (m²) of one cell in each row of a north-up geographic grid.

    A cell bounded by meridians lambda1, lambda2 and parallels phi1, phi2 on an ellipsoid
    with semi-major axis a and eccentricity e has the exact area

    .. math:: A = \frac{a^2}{2} \, \Delta\lambda \, [q(\phi_2) - q(\phi_1)]

    with :math:`q` the authalic function of Snyder (1987), *Map Projections: A Working
    Manual*, USGS PP 1395, eq. 3-12.  All cells of a row have the same area.

    Parameters
    ----------
    crs : pyproj.CRS
        A geographic CRS (degrees).
    transform : affine.Affine
        The grid's north-up affine transform.
    height : int
        Number of rows.

    Returns
    -------
    numpy.ndarray
        ``height`` cell areas in m², one per row (top to bottom).

    Raises
    ------
    CRSError
        For a rotated (not north-up) grid.
    """
    if transform.b != 0 or transform.d != 0:
        raise CRSError("rotated geographic grids are not supported; warp the raster north-up")
    ellps = crs.ellipsoid
    a = ellps.semi_major_metre
    b = ellps.semi_minor_metre
    e = np.sqrt(1 - (b / a) ** 2)
    rows = np.arange(height + 1)
    lat_edges = np.radians(transform.f + rows * transform.e)
    q = _authalic_q(lat_edges, e) if e > 0 else 2 * np.sin(lat_edges)
    dlon = np.radians(abs(transform.a))
    return np.abs(np.diff(q)) * dlon * a * a / 2


def geod_for(crs: CRS) -> Geod:
    """Return a :class:`pyproj.Geod` on the ellipsoid of ``crs``.

    Parameters
    ----------
    crs : pyproj.CRS
        Any CRS with an ellipsoid (its semi-major and semi-minor axes in metres are used).

    Returns
    -------
    pyproj.Geod
        The geodesic calculator for ellipsoidal areas and lengths.
    """
    e = crs.ellipsoid
    return Geod(a=e.semi_major_metre, b=e.semi_minor_metre)


def true_areas(geoms, crs) -> np.ndarray:
    """Return the true area in m² of each geometry of ``geoms`` (a GeoSeries or array).

    Geographic CRS: ellipsoidal areas from :meth:`pyproj.Geod.geometry_area_perimeter`
    (Karney 2013).  Projected CRS: planar areas (true for equal-area projections; see
    :func:`check_area_crs` for the distortion of others).

    Parameters
    ----------
    geoms : GeoSeries or array of shapely geometries
        The geometries; missing or empty ones have area 0 in a geographic CRS.
    crs : pyproj.CRS or str or int
        Their CRS (anything :func:`resolve_crs` accepts).

    Returns
    -------
    numpy.ndarray
        Float areas in square metres for a geographic CRS, in squared CRS units otherwise.

    References
    ----------
    Karney, C. F. F. (2013). Algorithms for geodesics. *Journal of Geodesy* 87, 43-55.
    """
    import shapely

    values = np.asarray(geoms.values if hasattr(geoms, "values") else geoms, dtype=object)
    crs = resolve_crs(crs)
    if not crs.is_geographic:
        return shapely.area(values).astype(float)
    geod = geod_for(crs)
    return np.array([0.0 if g is None or g.is_empty else abs(geod.geometry_area_perimeter(g)[0])
                     for g in values])


def check_coordinates(bounds, crs, *, what: str = "data") -> None:
    """Raise :class:`CRSError` if ``bounds`` cannot be coordinates of ``crs``.

    Catches the most common CRS mistake: projected coordinates (metres) in a file that says,
    or is assumed to be, lon/lat (GeoJSON without a CRS is EPSG:4326 by definition).

    Parameters
    ----------
    bounds : sequence of float
        ``(xmin, ymin, xmax, ymax)`` of the data.
    crs : pyproj.CRS
        The CRS the data claims to be in.
    what : str
        What the data is, for the message.

    Raises
    ------
    CRSError
        For non-finite bounds, or bounds beyond ±360 in x or ±90.5 in y in a geographic CRS.
    """
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    if not all(np.isfinite([xmin, ymin, xmax, ymax])):
        raise CRSError(f"{what} has non-finite coordinates in {crs_label(crs)}")
    if crs.is_geographic and (min(xmin, ymin) < -360 or xmax > 360 or ymax > 90.5
                              or ymin < -90.5):
        raise CRSError(
            f"{what} says it is in {crs_label(crs)} (degrees) but its coordinates reach "
            f"({xmin:.6g}, {ymin:.6g}, {xmax:.6g}, {ymax:.6g}), which are not longitudes and "
            "latitudes; assign the CRS the coordinates are really in (crs=..., --crs)"
        )


def to_crs_checked(gdf, crs, *, what: str = "boundaries"):
    """Reproject ``gdf`` to ``crs``; raise :class:`CRSError` if coordinates do not survive.

    Coordinates outside the area where a projection is defined come back as inf; that is
    an error naming both CRSs, not a silent NaN later.

    Parameters
    ----------
    gdf : GeoDataFrame
        The data to reproject (returned as is when already in ``crs``).
    crs : pyproj.CRS or str or int
        The target CRS (anything :func:`resolve_crs` accepts).
    what : str
        What ``gdf`` is, for the message.

    Returns
    -------
    GeoDataFrame
        ``gdf`` in ``crs``.

    Raises
    ------
    CRSError
        When the target CRS cannot be resolved or some coordinates become non-finite.
    """
    target = resolve_crs(crs, what=what)
    src = gdf.crs
    out = gdf if src is not None and resolve_crs(src) == target else gdf.to_crs(target)
    bounds = out.total_bounds
    if len(out) and not np.all(np.isfinite(bounds)):
        raise CRSError(
            f"{what} cannot be projected from {crs_label(resolve_crs(src))} to "
            f"{crs_label(target)}: some coordinates fall outside the projection's domain; "
            "check the CRS of the boundaries and that they overlap the raster"
        )
    return out
