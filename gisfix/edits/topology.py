"""Coverage topology for boundary edits: tolerances, checks, sliver and gap handling.

A boundary layer is a *coverage*: polygons that tile a region without overlaps, whose
shared edges have identical vertices.  Edits keep it one.  The checks use GEOS's coverage
functions (:func:`shapely.coverage_is_valid`, :func:`shapely.coverage_invalid_edges`);
merges use :func:`shapely.coverage_union_all` when the members form a valid coverage.

Tolerance
---------
``snap_tolerance`` is a length in metres (:data:`DEFAULT_SNAP_TOLERANCE_M`).  In a
geographic CRS it is converted to degrees with 1° = 111,320 m (exact at the equator, a
conservative over-estimate of a degree of longitude elsewhere).  A polygon part is a
*sliver* when its mean width :math:`2A/P` (area over half the perimeter) is below the
tolerance; gaps narrower than the tolerance are reported by :func:`check_coverage`.
A unit is invalid only when it is invalid both with its exact coordinates and with them
rounded to a grid of :data:`CHECK_GRID_FRACTION` times the tolerance (1 mm by default):
shared vertices that differ by floating-point noise (~1e-9 m, as overlays of real vintages
produce) count as shared, and a ring that rounding alone would fold (two vertices closer
than the grid, as a cut through a curved boundary leaves) is no false alarm.

Edits that cut units (split, transfer) node the unit's boundary and the cutter's outline
together once and polygonise them (:func:`node_faces`), then insert the new vertices into
the neighbouring units (:func:`renode`), so shared edges keep identical vertices.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS

#: Default snapping / sliver tolerance in metres.
DEFAULT_SNAP_TOLERANCE_M = 1.0
#: The coverage is checked with coordinates rounded to this fraction of the tolerance
#: (1 mm for the default 1 m), so floating-point noise in shared vertices is not an error.
CHECK_GRID_FRACTION = 1e-3
#: Metres per degree used to express metre tolerances in geographic CRSs.
METRES_PER_DEGREE = 111_320.0


def tolerance_in_crs(tolerance_m: float, crs) -> float:
    """Return ``tolerance_m`` metres in the units of ``crs`` (degrees or the linear unit).

    Parameters
    ----------
    tolerance_m : float
        A length in metres.
    crs : CRS-like
        The target CRS.

    Returns
    -------
    float
    """
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        return float(tolerance_m) / METRES_PER_DEGREE
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(tolerance_m) / (factor or 1.0)


def equal_area_crs(crs, bounds) -> CRS:
    """Return an equal-area CRS for area shares of data in ``crs`` within ``bounds``.

    Projected CRSs are returned unchanged (shares are ratios of nearby areas, so a
    conformal projection's scale cancels); geographic data get a Lambert azimuthal
    equal-area projection centred on the bounds.

    Parameters
    ----------
    crs : CRS-like
        The data's CRS.
    bounds : sequence of float
        ``(minx, miny, maxx, maxy)`` of the data in ``crs``.

    Returns
    -------
    pyproj.CRS
    """
    crs = CRS.from_user_input(crs)
    if not crs.is_geographic:
        return crs
    lon = (bounds[0] + bounds[2]) / 2
    lat = (bounds[1] + bounds[3]) / 2
    return CRS.from_proj4(f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m")


def areas(geoms, crs, area_crs: CRS | None = None) -> np.ndarray:
    """Return the areas of ``geoms`` (m² in ``area_crs``, or in ``crs`` units if projected)."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.zeros(0)
    crs = CRS.from_user_input(crs)
    if area_crs is None and not crs.is_geographic:
        return shapely.area(geoms)
    if area_crs is None:
        area_crs = equal_area_crs(crs, shapely.total_bounds(geoms))
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, area_crs, always_xy=True)
    projected = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0],
                                                                                xy[:, 1])))
    return shapely.area(projected)


def is_sliver(geom, tolerance: float) -> bool:
    """Return True if ``geom``'s mean width ``2 * area / perimeter`` is below ``tolerance``."""
    if geom is None or geom.is_empty:
        return True
    perim = geom.length
    return perim == 0 or 2 * geom.area / perim < tolerance


def split_slivers(geom, tolerance: float):
    """Return ``(kept, slivers)``: the polygon parts of ``geom`` wider / narrower than tolerance."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    keep = [p for p in parts if not is_sliver(p, tolerance)]
    drop = [p for p in parts if is_sliver(p, tolerance)]
    return as_polygonal(keep), as_polygonal(drop)


def as_polygonal(parts):
    """Return a Polygon, a MultiPolygon or an empty Polygon from a list of polygons."""
    polys = []
    for p in parts:
        if p is None or p.is_empty:
            continue
        for q in shapely.get_parts(p):
            if q.geom_type == "Polygon" and not q.is_empty:
                polys.append(q)
            elif q.geom_type in ("MultiPolygon", "GeometryCollection"):
                polys.extend(x for x in shapely.get_parts(q) if x.geom_type == "Polygon")
    if not polys:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def polygonal(geom):
    """Return the polygonal part of ``geom`` (drops the lines and points overlays can leave)."""
    if geom is None or geom.geom_type == "Polygon":
        return geom
    return as_polygonal(shapely.get_parts(geom))


def union(geoms, tolerance: float = 0.0, coverage: bool | None = None):
    """Union polygons, with :func:`shapely.coverage_union_all` when they form a valid coverage.

    Holes of the union narrower than ``tolerance`` (gaps between members of a coverage
    that was not perfectly noded) are filled.  ``coverage`` is the result of
    :func:`shapely.coverage_is_valid` on the (non-empty) ``geoms`` when the caller has it.
    """
    geoms = np.asarray([g for g in geoms if g is not None and not g.is_empty], dtype=object)
    if len(geoms) == 0:
        return shapely.Polygon()
    if len(geoms) == 1:
        return geoms[0]
    if coverage is None:
        coverage = bool(shapely.coverage_is_valid(geoms))
    if coverage:
        out = shapely.coverage_union_all(geoms)
    else:
        out = shapely.union_all(geoms)
    out = polygonal(out)
    if tolerance > 0:
        out = fill_narrow_holes(out, tolerance)
    return out


def fill_narrow_holes(geom, tolerance: float):
    """Fill interior rings of ``geom`` whose mean width is below ``tolerance`` (slivers)."""
    polys = []
    changed = False
    for p in shapely.get_parts(geom):
        holes = []
        for ring in p.interiors:
            hole = shapely.Polygon(ring)
            if is_sliver(hole, tolerance):
                changed = True
            else:
                holes.append(ring)
        polys.append(shapely.Polygon(p.exterior, holes))
    if not changed:
        return geom
    return polygonal(shapely.union_all(polys))


def check_coverage(geoms, tolerance: float = 0.0, ids=None, grid: float = 0.0,
                   only=None) -> dict:
    """Check that polygons form a valid coverage (at the precision ``grid``).

    Parameters
    ----------
    geoms : array-like of shapely geometries
        The units' polygons.
    tolerance : float
        Gap width (in the CRS's units) below which a gap between units counts as invalid
        (``gap_width`` of :func:`shapely.coverage_invalid_edges`); 0 checks only overlaps
        and mismatched shared edges.
    ids : sequence, optional
        Unit ids, to name the offending units.
    grid : float
        Also check the coordinates rounded to this grid (:func:`shapely.set_precision`,
        pointwise), and count a unit as invalid only when it is invalid both ways:
        vertices that differ by floating-point noise (1e-9 m) count as shared, and
        vertices closer than the grid that rounding would fold are no false alarm.
        0 checks the exact coordinates only.
    only : array of bool, optional
        Report only these units (the others are context: their neighbours may be missing
        from ``geoms``, which would show false gaps).  Every invalid edge of a unit lies
        between it and units touching it, so a unit checked with all its neighbours
        present is reported exactly as in the whole layer.

    Returns
    -------
    dict
        ``valid`` (bool), ``invalid_units`` (count), ``invalid_ids`` (up to 20 ids) and
        ``invalid_edge_length`` (total length of the invalid edges, CRS units).
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return {"valid": True, "invalid_units": 0, "invalid_ids": [], "invalid_edge_length": 0.0}
    edges = shapely.coverage_invalid_edges(geoms, gap_width=tolerance)
    bad = ~(shapely.is_empty(edges) | shapely.is_missing(edges))
    if only is not None:
        bad &= np.asarray(only, dtype=bool)
    if grid > 0 and bad.any():
        # forgive noise: a unit is invalid only if it is also invalid on the grid.  Units
        # valid with their exact coordinates stay valid (rounding alone can fold a ring
        # whose vertices lie closer than the grid, a false alarm)
        rounded = shapely.coverage_invalid_edges(
            shapely.set_precision(geoms, grid, mode="pointwise"), gap_width=tolerance)
        bad &= ~(shapely.is_empty(rounded) | shapely.is_missing(rounded))
        edges = np.where(bad, rounded, edges)
    idx = np.flatnonzero(bad)
    names = [str(ids[i]) if ids is not None else int(i) for i in idx[:20]]
    return {"valid": not bad.any(), "invalid_units": int(bad.sum()), "invalid_ids": names,
            "invalid_edge_length": float(shapely.length(edges[bad]).sum())}


def node_faces(geom, cutters, tolerance: float = 0.0) -> tuple[list, list[int]]:
    """Cut ``geom`` by the outlines of polygons ``cutters`` into faces that share vertices.

    The cutters are first snapped to the unit's vertices, then their vertices within
    ``tolerance`` of the unit's boundary are moved onto it (and inserted into it), so a
    cutter that follows the unit's boundary up to the tolerance leaves no slivers.

    The unit's boundary and the cutters' boundaries are noded together once and
    polygonised, so adjacent faces share identical vertices (a valid coverage), unlike
    separate ``intersection`` / ``difference`` calls, whose new vertices can differ in
    the last bit.

    Returns
    -------
    (list, list of int)
        The faces inside ``geom`` and, for each, the index of the first cutter that
        contains it (``len(cutters)`` for none).
    """
    if tolerance > 0:
        cutters = [_valid_like(c, _remove_repeated_points(c, tolerance * 1e-3))
                   for c in cutters]
        cutters = [_valid_like(c, shapely.snap(c, geom, tolerance)) for c in cutters]
        cutters = [_valid_like(c, _onto_boundary(c, geom, tolerance)) for c in cutters]
        # cutter vertices lying on the unit's edges (up to noise) become unit vertices too
        snapped = shapely.snap(geom, shapely.multipoints(shapely.get_coordinates(cutters)),
                               tolerance * 1e-3)
        if snapped.is_valid:
            geom = snapped
    lines = [shapely.boundary(geom)] + [shapely.boundary(c) for c in cutters]
    noded = shapely.union_all(lines)
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
             if f.area > 0]
    pts = [f.representative_point() for f in faces]
    keep = [k for k, p in enumerate(pts) if geom.contains(p)]
    faces = [faces[k] for k in keep]
    pts = [pts[k] for k in keep]
    owner = []
    for p in pts:
        idx = len(cutters)
        for k, c in enumerate(cutters):
            if c.contains(p):
                idx = k
                break
        owner.append(idx)
    return faces, owner


def _onto_boundary(cutter, geom, tolerance: float):
    """Move the cutter's vertices within ``tolerance`` of ``geom``'s boundary onto it."""
    xy = shapely.get_coordinates(cutter)
    if len(xy) == 0:
        return cutter
    ring = shapely.boundary(geom)
    pts = shapely.points(xy)
    # distances only for the vertices a prepared ``dwithin`` (indexed, a slightly larger
    # tolerance: a superset) finds near the ring; the test itself is the exact one below
    near = np.zeros(len(xy), dtype=bool)
    cand = np.flatnonzero(near_box_mask(xy, ring, tolerance))
    if len(cand):
        shapely.prepare(ring)
        cand = cand[shapely.dwithin(ring, pts[cand], tolerance * (1 + 1e-6))]
        d = shapely.distance(pts[cand], ring)
        near[cand[(d > 0) & (d <= tolerance)]] = True
    if not near.any():
        return cutter
    lines = shapely.shortest_line(ring, pts[near])
    xy = xy.copy()
    xy[near] = shapely.get_coordinates(shapely.get_point(lines, 0))
    return shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(cutter)), xy)


def _remove_repeated_points(geom, tolerance: float):
    """``shapely.remove_repeated_points``, dropping rings that collapse below ``tolerance``.

    A real boundary piece can hold specks (rings a fraction of a millimetre across) that
    GEOS cannot reduce to a valid ring; they are noise at any tolerance used here, so a
    speck shell drops its polygon part and a speck hole is filled.
    """
    try:
        return shapely.remove_repeated_points(geom, tolerance)
    except shapely.errors.GEOSException:
        pass
    kept = []
    for part in shapely.get_parts(geom):
        try:
            shell = shapely.remove_repeated_points(part.exterior, tolerance)
        except shapely.errors.GEOSException:
            continue  # the whole part is a speck
        holes = []
        for ring in part.interiors:
            try:
                holes.append(shapely.remove_repeated_points(ring, tolerance))
            except shapely.errors.GEOSException:
                continue  # a speck hole: filled
        kept.append(shapely.Polygon(shell, holes))
    return shapely.multipolygons(kept) if kept else geom


def _valid_like(original, candidate):
    """Return ``candidate`` made valid with the dimension of ``original`` (or ``original``)."""
    if candidate.is_valid:
        return candidate
    fixed = shapely.make_valid(candidate)
    if original.geom_type in ("Polygon", "MultiPolygon"):
        fixed = polygonal(fixed)
    elif original.geom_type in ("LineString", "MultiLineString"):
        fixed = shapely.line_merge(shapely.union_all(
            [g for g in shapely.get_parts(fixed) if "Line" in g.geom_type]))
    if fixed is None or fixed.is_empty or not fixed.is_valid:
        return original
    return fixed


def iou_from_areas(inter, area_a, area_b) -> np.ndarray:
    r"""Return the intersection over union :math:`|a \cap b| / (|a| + |b| - |a \cap b|)`.

    The one IoU of gisfix (the vintage diff, the demo and the tests use it).

    Parameters
    ----------
    inter : array-like
        Areas of the intersections.
    area_a, area_b : array-like
        Areas of the two geometries of each pair.

    Returns
    -------
    ndarray
        0 where the intersection is empty.
    """
    inter = np.asarray(inter, dtype=float)
    union = np.asarray(area_a, dtype=float) + np.asarray(area_b, dtype=float) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=(inter > 0) & (union > 0))


def iou(a, b) -> np.ndarray:
    """Return the intersection over union of paired geometries (same CRS, same length).

    Parameters
    ----------
    a, b : array-like of shapely geometries
        The pairs.

    Returns
    -------
    ndarray
    """
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    return iou_from_areas(shapely.area(shapely.intersection(a, b)), shapely.area(a),
                          shapely.area(b))


def assemble(faces) -> object:
    """Union faces from :func:`node_faces` (a valid coverage) into one polygonal geometry."""
    if not faces:
        return shapely.Polygon()
    if len(faces) == 1:
        return faces[0]
    return polygonal(shapely.coverage_union_all(np.asarray(faces, dtype=object)))


def renode(geom, others, tolerance: float):
    """Insert the vertices of ``others`` lying on ``geom``'s edges into ``geom`` (snap).

    ``others`` are geometries, or their coordinates as an ``(n, 2)`` array (to reuse them
    for several geometries).  Only the vertices within ``tolerance`` of ``geom``'s
    bounding box can snap, so the others are dropped before :func:`shapely.snap` (same
    result, less work).
    """
    if not (isinstance(others, np.ndarray) and others.dtype.kind == "f"):
        others = shapely.get_coordinates(list(others))
    xy = near_box(others, geom, tolerance)
    if len(xy) == 0:
        return geom
    snapped = shapely.snap(geom, shapely.multipoints(xy), tolerance)
    return snapped if snapped.is_valid else geom


def near_box(xy: np.ndarray, geom, tolerance: float) -> np.ndarray:
    """Return the rows of coordinates ``xy`` within ``tolerance`` of ``geom``'s bounds."""
    return xy[near_box_mask(xy, geom, tolerance)]


def near_box_mask(xy: np.ndarray, geom, tolerance: float) -> np.ndarray:
    """Return a mask of the rows of ``xy`` within ``tolerance`` of ``geom``'s bounds."""
    x0, y0, x1, y1 = shapely.bounds(geom)
    return ((xy[:, 0] >= x0 - tolerance) & (xy[:, 0] <= x1 + tolerance)
            & (xy[:, 1] >= y0 - tolerance) & (xy[:, 1] <= y1 + tolerance))


#: The public part of this module (the rest are the edit engine's geometry primitives).
__all__ = ["CHECK_GRID_FRACTION", "DEFAULT_SNAP_TOLERANCE_M", "check_coverage",
           "equal_area_crs", "iou", "iou_from_areas", "tolerance_in_crs"]
