"""Geometry of the five edit operations on a coverage: merge, split, transfer, recode, dissolve.

Each operation is checked before it changes anything and returns a :class:`Step`: the ids
it removes, the units it adds (geometry, the unit whose other attributes they inherit, a
new name) and the *pieces*, the parts of every removed unit and the new unit each goes to.
Pieces carry the areas (and, later, built-up weights) from which attributes are reallocated
and the lineage is composed (:mod:`gisfix.edits.realloc`, :mod:`gisfix.edits.lineage`).

The public functions :func:`merge`, :func:`split`, :func:`transfer`, :func:`recode` and
:func:`dissolve` apply one edit through :func:`gisfix.edits.apply_scenario`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import shapely

from gisfix.edits import topology as topo
from gisfix.errors import EditError

#: Show at most this many candidate ids in an unknown-id message.
MAX_SUGGESTIONS = 5


@dataclass
class Piece:
    """The part of unit ``old`` that goes to unit ``new``; ``geom`` None means all of it.

    Attributes
    ----------
    old, new : str
        The giving and the receiving unit.
    area : float
        Area of the piece (m², in the equal-area CRS of the edit).
    geom : shapely geometry or None
        The piece (None: the whole old unit).
    weight : float
        Built-up weight of the piece (NaN until measured).
    """

    old: str
    new: str
    area: float
    geom: object = None
    weight: float = float("nan")


@dataclass
class Step:
    """What one edit does: removed ids, added units and the pieces linking them.

    Attributes
    ----------
    number : int
        The 1-based number of the edit.
    op : str
        Its operation.
    removed : list of str
        Ids the edit removes.
    added : dict
        ``new id -> geometry`` of the units it adds.
    template : dict
        ``new id -> old id`` whose other attributes the new unit keeps.
    pieces : list of Piece
        The pieces linking old and new units.
    names : dict
        ``new id -> name`` set by the edit.
    info : dict
        Facts for the report.
    adjusted : dict
        ``id -> geometry`` of neighbours re-noded by the edit.
    """

    number: int
    op: str
    removed: list[str]
    added: dict[str, object]            # new id -> geometry
    template: dict[str, str]            # new id -> old id whose other attributes it keeps
    pieces: list[Piece]
    names: dict[str, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    adjusted: dict[str, object] = field(default_factory=dict)  # neighbours re-noded


class Coverage:
    """The mutable state of an edit sequence: ids in order, geometries and attribute rows.

    Parameters
    ----------
    ids : list of str
        Unit ids, in order.
    geoms : list of shapely geometries
        Their polygons.
    rows : dict
        ``id -> {column: value}``.
    crs : pyproj.CRS
        The units' CRS.
    tolerance : float
        Snap tolerance in CRS units.
    area_crs : pyproj.CRS
        Equal-area CRS of the area shares.
    subunits : GeoSeries, optional
        Sub-units for transfers given by ids.
    """

    def __init__(self, ids, geoms, rows, crs, tolerance, area_crs, subunits=None):
        self.subunits = subunits
        self.geom = dict(zip(ids, geoms))
        self.key = {i: (k,) for k, i in enumerate(ids)}
        self.rows = rows
        self.crs = crs
        self.tol = tolerance
        self.area_crs = area_crs
        b = shapely.bounds(np.asarray(list(geoms), dtype=object))
        self.box = dict(zip(ids, map(tuple, b)))
        # the same bounds as an array (row per id ever seen; removed ids get NaN rows),
        # for the neighbour search
        self._box_ids = list(ids)
        self._box_row = {i: k for k, i in enumerate(ids)}
        self._box_arr = np.asarray(b, dtype=float).reshape(-1, 4).copy()
        self._transformers: dict = {}

    def transformer(self, crs):
        """Return a pyproj Transformer from ``crs`` to the units' CRS (None if equal)."""
        key = str(crs)
        if key not in self._transformers:
            from pyproj import CRS, Transformer

            src = CRS.from_user_input(crs)
            self._transformers[key] = None if src == self.crs else Transformer.from_crs(
                src, self.crs, always_xy=True)
        return self._transformers[key]

    @property
    def ids(self) -> list[str]:
        """The current ids, in input order (new units where the unit they came from was)."""
        return sorted(self.geom, key=self.key.__getitem__)

    def area(self, geoms) -> np.ndarray:
        """Return the areas used for shares (m² for projected / geographic CRSs)."""
        geoms = list(geoms)
        if not self.crs.is_geographic:
            return shapely.area(np.asarray(geoms, dtype=object))
        return topo.areas(geoms, self.crs, self.area_crs)

    def require(self, ids, where: str) -> None:
        """Raise :class:`EditError` for ids that are not current units, naming the nearest."""
        unknown = [i for i in ids if i not in self.geom]
        if unknown:
            raise EditError(f"{where}: unknown unit id(s) {', '.join(map(repr, unknown))}; "
                            f"nearest known ids: {', '.join(nearest_ids(unknown[0], self.ids))}")

    def neighbours(self, geoms, exclude) -> list[str]:
        """Return current ids whose bounding boxes meet those of ``geoms``, minus ``exclude``."""
        if not geoms:
            return []
        b = shapely.bounds(np.asarray(geoms, dtype=object))
        lo = b[:, :2].min(axis=0) - self.tol
        hi = b[:, 2:].max(axis=0) + self.tol
        ids, ub = self._box_ids, self._box_arr[:len(self._box_ids)]
        hit = ((ub[:, 0] <= hi[0]) & (ub[:, 2] >= lo[0]) & (ub[:, 1] <= hi[1])
               & (ub[:, 3] >= lo[1]))
        return [ids[k] for k in np.flatnonzero(hit) if ids[k] not in exclude]

    def _set_box(self, i, bounds) -> None:
        if bounds is None:
            k = self._box_row.pop(i, None)
            if k is not None:
                self._box_arr[k] = np.nan
            return
        k = self._box_row.get(i)
        if k is None:
            k = self._box_row[i] = len(self._box_ids)
            self._box_ids.append(i)
            if k >= len(self._box_arr):  # grow by blocks; unused rows are NaN (no hit)
                grow = np.full((max(64, len(self._box_arr) // 4), 4), np.nan)
                self._box_arr = np.vstack([self._box_arr, grow])
        self._box_arr[k] = bounds

    def apply(self, step: Step) -> None:
        """Replace the removed units by the added ones, keeping the input's order."""
        seen: dict[str, int] = {}
        keys = {}
        for new_id in step.added:
            t = step.template[new_id]
            j = seen[t] = seen.get(t, -1) + 1
            keys[new_id] = (*self.key[t], j)
        new_rows = {n: dict(self.rows[step.template[n]]) for n in step.added}
        for i in step.removed:
            self.geom.pop(i)
            self.rows.pop(i)
            self.key.pop(i)
            self.box.pop(i)
            self._set_box(i, None)
        for n, g in [*step.adjusted.items(), *step.added.items()]:
            self.geom[n] = g
            self.box[n] = tuple(shapely.bounds(g))
            self._set_box(n, self.box[n])
        for n in step.added:
            self.rows[n] = new_rows[n]
            self.key[n] = keys[n]


def nearest_ids(target: str, known, n: int = MAX_SUGGESTIONS) -> list[str]:
    """Return the ``n`` known ids closest to ``target`` (numerically if all are numbers)."""
    known = [str(k) for k in known]
    if target.isdigit() and known and all(k.isdigit() for k in known):
        t = int(target)
        return sorted(known, key=lambda k: (abs(int(k) - t), k))[:n]
    close = difflib.get_close_matches(target, known, n=n, cutoff=0.0)
    return close or known[:n]


def as_geometry(spec, cov: Coverage, where: str, key: str, edit_crs=None):
    """Return the geometry of an edit key in the units' CRS (no file is opened here).

    Parameters
    ----------
    spec : str or GeometryFile
        WKT (in ``edit_crs``, default the units' CRS) or a geometry the scenario loader read
        from a file (:class:`gisfix.edits.scenario.GeometryFile`, in its own CRS).
    cov : Coverage
        The coverage being edited.
    where, key : str
        The edit's label and key, for messages.
    edit_crs : CRS-like, optional
        The edit's ``crs``.

    Returns
    -------
    shapely geometry
    """
    from gisfix.edits.scenario import GeometryFile

    text, src = (spec.wkt, spec.crs or edit_crs) if isinstance(spec, GeometryFile) \
        else (spec, edit_crs)
    try:
        geom = shapely.from_wkt(text)
    except Exception:  # shapely raises GEOSException on non-WKT text
        geom = None
    if geom is None:
        raise EditError(f"{where}: {key!r} is neither WKT nor an existing file: "
                        f"{str(text)[:80]!r}")
    tr = cov.transformer(src) if src is not None else None
    if tr is not None:
        geom = shapely.transform(geom, lambda xy: np.column_stack(
            tr.transform(xy[:, 0], xy[:, 1])))
    if geom.is_empty:
        raise EditError(f"{where}: {key!r} is an empty geometry")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def _name(edit):
    return edit.get("name")


def op_merge(cov: Coverage, number: int, edit: dict) -> Step:
    """Merge ``units`` into ``into`` (a member that survives, or a new id)."""
    where = f"edit {number} (merge)"
    units, into = edit["units"], edit["into"]
    cov.require(units, where)
    if into not in units and into in cov.geom:
        raise EditError(f"{where}: 'into' {into!r} is an existing unit that is not among the "
                        f"merged units {units}; add it to 'units' or choose a new id")
    geoms = [cov.geom[u] for u in units]
    exact = bool(shapely.coverage_is_valid(np.asarray(geoms, dtype=object)))
    nonempty = all(g is not None and not g.is_empty for g in geoms)
    merged = topo.union(geoms, cov.tol, coverage=exact if nonempty else None)
    area = cov.area(geoms)
    pieces = [Piece(u, into, float(a)) for u, a in zip(units, area)]
    template = into if into in units else units[0]
    names = {into: edit["name"]} if "name" in edit else {}
    # an exact coverage union that filled no hole keeps the members' outer edges as they were
    plain_area = float(shapely.area(np.asarray(geoms, dtype=object)).sum())
    kept = exact and nonempty and abs(float(shapely.area(merged)) - plain_area) <= \
        1e-9 * max(plain_area, 1e-300)
    return Step(number, "merge", list(units), {into: merged}, {into: template}, pieces, names,
                {"parts": len(shapely.get_parts(merged)), "exact_union": exact,
                 "edges_kept": kept})


def _side_of_line(line, point) -> int:
    """Return +1 if ``point`` lies left of ``line`` (direction of travel), -1 if right."""
    d = line.project(point)
    eps = max(line.length * 1e-6, 1e-9)
    a = line.interpolate(max(d - eps, 0.0))
    b = line.interpolate(min(d + eps, line.length))
    cross = (b.x - a.x) * (point.y - a.y) - (b.y - a.y) * (point.x - a.x)
    return 1 if cross > 0 else -1


def _give_slivers(parts: list, tol: float) -> list:
    """Move sliver parts of each geometry to the neighbouring part sharing most boundary."""
    kept, slivers = [], []
    for k, g in enumerate(parts):
        a, b = topo.split_slivers(g, tol)
        kept.append(a)
        slivers.extend((k, s) for s in shapely.get_parts(b) if not s.is_empty)
    extra = [[] for _ in parts]
    for k, s in slivers:
        shared = [(s.boundary.intersection(kept[j].boundary).length, j)
                  for j in range(len(parts)) if j != k and not kept[j].is_empty]
        best = max(shared, default=(0.0, k))
        extra[best[1] if best[0] > 0 else k].append(s)
    return [topo.union([kept[j], *extra[j]]) if extra[j] else kept[j] for j in range(len(parts))]


def op_split(cov: Coverage, number: int, edit: dict) -> Step:
    """Split ``unit`` by a line (left, right) or by polygons (inside, ..., remainder)."""
    where = f"edit {number} (split)"
    unit, new_ids = edit["unit"], edit["new_ids"]
    cov.require([unit], where)
    taken = [n for n in new_ids if n in cov.geom and n != unit]
    if taken:
        raise EditError(f"{where}: new id(s) {', '.join(map(repr, taken))} exist already; "
                        "choose unused ids")
    geom = cov.geom[unit]
    specs = edit["by"] if isinstance(edit["by"], list) else [edit["by"]]
    cutters = [as_geometry(t, cov, where, "by", edit.get("crs")) for t in specs]
    kinds = {c.geom_type for c in cutters}
    lines = kinds <= {"LineString", "MultiLineString", "LinearRing"}
    polys = kinds <= {"Polygon", "MultiPolygon"}
    if lines:
        if len(cutters) != 1 or len(new_ids) != 2:
            raise EditError(f"{where}: a split line gives two parts (left, right of the line); "
                            f"got {len(cutters)} line(s) and {len(new_ids)} new ids. To split "
                            "into more parts, give 'by' as a list of polygons")
        line = shapely.line_merge(cutters[0]) if cutters[0].geom_type != "LineString" \
            else cutters[0]
        from shapely.ops import split as _split

        try:
            bits = list(_split(geom, line).geoms)
        except (ValueError, shapely.errors.GEOSException) as exc:
            raise EditError(f"{where}: cannot split unit {unit!r} by this line: {exc}") from exc
        side_line = line if line.geom_type == "LineString" else shapely.get_parts(line)[0]
        left = [b for b in bits if _side_of_line(side_line, b.representative_point()) > 0]
        right = [b for b in bits if _side_of_line(side_line, b.representative_point()) <= 0]
        parts = [topo.as_polygonal(left), topo.as_polygonal(right)]
        if not any(p.is_empty for p in parts):
            parts = _give_slivers(parts, cov.tol)
        if len(bits) < 2 or any(topo.is_sliver(p, cov.tol) for p in parts):
            raise EditError(f"{where}: the line does not cross unit {unit!r} (it must enter and "
                            "leave it, cutting it into two parts wider than the tolerance); "
                            "extend it beyond the unit's boundary")
    elif polys:
        if len(cutters) != len(new_ids) - 1:
            raise EditError(f"{where}: {len(cutters)} polygon(s) give {len(cutters) + 1} parts "
                            f"but {len(new_ids)} new_ids were given")
        faces, owner = topo.node_faces(geom, cutters, cov.tol)
        parts = [topo.assemble([f for f, o in zip(faces, owner) if o == k])
                 for k in range(len(cutters) + 1)]
        for k, p in enumerate(parts[:-1], start=1):
            if p.is_empty or topo.is_sliver(p, cov.tol):
                raise EditError(f"{where}: polygon {k} does not overlap unit {unit!r} (or only "
                                "by a sliver narrower than the tolerance)")
        if parts[-1].is_empty or topo.is_sliver(parts[-1], cov.tol):
            raise EditError(f"{where}: the polygon(s) cover all of unit {unit!r}; nothing is "
                            f"left for {new_ids[-1]!r} (use recode to rename a unit)")
        parts = _give_slivers(parts, cov.tol)
    else:
        raise EditError(f"{where}: 'by' must be a line or polygon(s), got "
                        f"{', '.join(sorted(kinds))}")
    area = cov.area(parts)
    pieces = [Piece(unit, n, float(a), g) for n, a, g in zip(new_ids, area, parts)]
    names = dict(zip(new_ids, edit["names"])) if "names" in edit else {}
    return Step(number, "split", [unit], dict(zip(new_ids, parts)),
                {n: unit for n in new_ids}, pieces, names,
                {"area_shares": [float(a / area.sum()) for a in area]})


def op_transfer(cov: Coverage, number: int, edit: dict) -> Step:
    """Move the part of unit ``from`` inside polygon ``part`` to unit ``to``.

    The giver is cut by the part once (:func:`~gisfix.edits.topology.node_faces`), the
    receiver is re-noded with the vertices of both sides of the cut before the moved
    faces are joined to it (:func:`~gisfix.edits.topology.renode`), so land can move both
    ways between two units (an exchange, in two transfers) and the pair stays an exact
    coverage.
    """
    where = f"edit {number} (transfer)"
    a_id, b_id = edit["from"], edit["to"]
    cov.require([a_id, b_id], where)
    if "units" in edit:
        part = _subunit_part(cov, edit["units"], where)
    else:
        part = as_geometry(edit["part"], cov, where, "part", edit.get("crs"))
    if part.geom_type not in ("Polygon", "MultiPolygon"):
        raise EditError(f"{where}: 'part' must be a polygon, got {part.geom_type}")
    a, b = cov.geom[a_id], cov.geom[b_id]
    faces, owner = topo.node_faces(a, [part], cov.tol)
    moved = topo.assemble([f for f, o in zip(faces, owner) if o == 0])
    if moved.is_empty or topo.is_sliver(moved, cov.tol):
        raise EditError(f"{where}: the part lies outside unit {a_id!r} (it overlaps it by no "
                        "more than a sliver); draw it inside the unit that gives it up")
    outside = topo.polygonal(shapely.difference(shapely.difference(part, a), b))
    band = cov.tol * part.length
    if outside is not None and outside.area > band:
        share = outside.area / part.area
        raise EditError(f"{where}: {share:.1%} of the part lies outside units {a_id!r} and "
                        f"{b_id!r} (more than a {cov.tol:g}-wide band along its edge); a "
                        f"transfer moves land of {a_id!r} only")
    rest = topo.assemble([f for f, o in zip(faces, owner) if o == 1])
    if rest.is_empty or topo.is_sliver(rest, cov.tol):
        raise EditError(f"{where}: the part covers all of unit {a_id!r}; use a merge instead")
    kept, slivers = topo.split_slivers(rest, cov.tol)
    if kept.is_empty:
        raise EditError(f"{where}: the part leaves only slivers of unit {a_id!r}; use a merge")
    gained = topo.union([moved, slivers]) if not slivers.is_empty else moved
    b = topo.renode(b, [gained, kept], cov.tol * 1e-3)
    new_b = topo.union([b, gained], cov.tol)
    area = cov.area([kept, gained, b])
    touches = bool(shapely.intersects(shapely.buffer(gained, cov.tol), b))
    pieces = [Piece(a_id, a_id, float(area[0]), kept), Piece(a_id, b_id, float(area[1]), gained),
              Piece(b_id, b_id, float(area[2]))]
    return Step(number, "transfer", [a_id, b_id], {a_id: kept, b_id: new_b},
                {a_id: a_id, b_id: b_id}, pieces, {},
                {"moved_area": float(area[1]), "adjacent": touches})


def _subunit_part(cov: Coverage, ids, where: str):
    """Return the union of sub-units ``ids`` (the layer given as ``subunits=``)."""
    if cov.subunits is None:
        raise EditError(f"{where}: 'units' names sub-units but no sub-unit layer was given; "
                        "pass subunits= (--subunits) or give the part as a polygon")
    unknown = [i for i in ids if i not in cov.subunits.index]
    if unknown:
        raise EditError(f"{where}: unknown sub-unit id(s) {', '.join(map(repr, unknown))}; "
                        f"nearest known: "
                        f"{', '.join(nearest_ids(unknown[0], list(cov.subunits.index)))}")
    return topo.union(list(cov.subunits.loc[list(ids)].values), cov.tol)


def op_recode(cov: Coverage, number: int, edit: dict) -> Step:
    """Give ``unit`` a new id and/or name; its geometry is unchanged."""
    where = f"edit {number} (recode)"
    unit = edit["unit"]
    cov.require([unit], where)
    new_id = edit.get("new_id", unit)
    if new_id != unit and new_id in cov.geom:
        raise EditError(f"{where}: new_id {new_id!r} is already a unit; merge the two units "
                        "instead or choose an unused id")
    g = cov.geom[unit]
    names = {new_id: edit["name"]} if "name" in edit else {}
    return Step(number, "recode", [unit], {new_id: g}, {new_id: unit},
                [Piece(unit, new_id, float(cov.area([g])[0]))], names)


def op_dissolve(cov: Coverage, number: int, edit: dict) -> Step:
    """Dissolve all units into one unit per value of column ``by`` (the value is the new id)."""
    where = f"edit {number} (dissolve)"
    col = edit["by"]
    ids = cov.ids
    first = cov.rows[ids[0]] if ids else {}
    if col not in first:
        raise EditError(f"{where}: no column {col!r} to dissolve by; columns: "
                        f"{', '.join(map(str, first))}")
    groups: dict[str, list[str]] = {}
    missing = []
    for i in ids:
        v = cov.rows[i][col]
        if v is None or (isinstance(v, float) and v != v):
            missing.append(i)
            continue
        if isinstance(v, float) and v == int(v):
            v = int(v)
        groups.setdefault(str(v), []).append(i)
    if missing:
        raise EditError(f"{where}: {len(missing)} units have no value in {col!r} (ids "
                        f"{', '.join(missing[:8])}); fill them first")
    added, template, pieces = {}, {}, []
    area = dict(zip(ids, cov.area([cov.geom[i] for i in ids])))
    for gid, members in groups.items():
        added[gid] = topo.union([cov.geom[m] for m in members], cov.tol)
        template[gid] = members[0]
        pieces.extend(Piece(m, gid, float(area[m])) for m in members)
    return Step(number, "dissolve", list(ids), added, template, pieces, {},
                {"groups": len(groups)})


OPERATIONS = {"merge": op_merge, "split": op_split, "transfer": op_transfer,
              "recode": op_recode, "dissolve": op_dissolve}


__all__ = ["OPERATIONS", "Coverage", "Piece", "Step", "as_geometry"]
