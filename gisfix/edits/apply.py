"""Apply a scenario of boundary edits to a coverage: geometry, attributes, lineage, report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisfix.boundaries import check_ids, normalize_ids
from gisfix.crs import resolve_crs
from gisfix.edits import topology as topo
from gisfix.edits.lineage import compose
from gisfix.edits.ops import OPERATIONS, Coverage
from gisfix.edits.realloc import (
    check_columns,
    conserve,
    from_lineage,
    parse_intensive,
    refine_lineage,
)
from gisfix.edits.scenario import load_scenario
from gisfix.errors import EditError, GisfixError, warn_data

log = logging.getLogger(__name__)

#: Relative slack when comparing invalid-edge lengths before and after an edit.
COVERAGE_SLACK = 1e-6


@dataclass
class EditResult:
    """The outcome of :func:`apply_scenario`.

    Attributes
    ----------
    units : GeoDataFrame
        The edited coverage, indexed by unit id (same index name as the input).
    lineage : DataFrame
        Crosswalk ``old_id, new_id, area_share, weight_share`` from input to output ids.
    report : dict
        Per-edit records, coverage checks before and after, tolerances, totals.
    steps : list
        The internal per-edit steps (pieces with areas and weights).
    """

    units: gpd.GeoDataFrame
    lineage: pd.DataFrame
    report: dict = field(default_factory=dict)
    steps: list = field(default_factory=list, repr=False)


def _records(attrs: pd.DataFrame, ids) -> dict:
    """Return ``{id: {column: value}}``, the rows of ``attrs.to_dict("records")``.

    Built from ``to_dict("list")`` (the same Python scalars, ``None`` for missing values
    of nullable columns), a few times faster for thousands of rows.
    """
    cols = list(attrs.columns)
    if not cols:
        return {i: {} for i in ids}
    by_col = attrs.to_dict("list")
    return {i: dict(zip(cols, v)) for i, v in zip(ids, zip(*[by_col[c] for c in cols]))}


def _prepare(units) -> gpd.GeoDataFrame:
    if not isinstance(units, gpd.GeoDataFrame):
        raise EditError(f"units must be a GeoDataFrame indexed by id, got {type(units).__name__}"
                        " (read them with gisfix.read_boundaries)")
    resolve_crs(units.crs, what="the units")
    index = pd.Series(units.index, dtype=object)
    if pd.api.types.infer_dtype(index, skipna=False) == "string":
        ids = index.str.strip()  # what normalize_ids does to strings, vectorised
    else:
        ids = normalize_ids(index)
    check_ids(ids, what="units", column=units.index.name or "index")
    # type ids 3 and 6: Polygon and MultiPolygon
    bad = ~np.isin(shapely.get_type_id(np.asarray(units.geometry.values, dtype=object)), (3, 6))
    if bad.any():
        raise EditError(f"{int(bad.sum())} units are not polygons (ids "
                        f"{', '.join(map(str, units.index[bad][:8]))}); edits need a polygon "
                        "coverage")
    return ids.tolist()


def _subunits(subunits, crs):
    if subunits is None:
        return None
    if not isinstance(subunits, gpd.GeoDataFrame | gpd.GeoSeries):
        raise EditError(f"subunits must be a GeoDataFrame indexed by id, got "
                        f"{type(subunits).__name__}")
    resolve_crs(subunits.crs, what="the sub-units")
    geo = subunits.geometry if isinstance(subunits, gpd.GeoDataFrame) else subunits
    geo = geo.to_crs(crs)
    ids = normalize_ids(pd.Series(geo.index, dtype=object))
    check_ids(ids, what="sub-units", column=geo.index.name or "index")
    return pd.Series(geo.values, index=ids.tolist())


def _record(step, edit) -> dict:
    rec = {"edit": step.number, "op": step.op, "removed": list(step.removed),
           "added": list(step.added)}
    if step.op == "dissolve":
        rec["removed"] = len(step.removed)
        rec["added"] = len(step.added)
    for key in ("year", "note"):
        if key in edit:
            rec[key] = edit[key]
    rec.update(step.info)
    return rec


def apply_scenario(units, scenario, *, extensive=(), intensive=(), stack=None, epoch=None,
                   snap_tolerance: float = topo.DEFAULT_SNAP_TOLERANCE_M,
                   name_column: str = "name", check: bool = True,
                   subunits=None) -> EditResult:
    """Apply the edits of a scenario, in order, to a boundary coverage.

    Each edit is checked before it runs (ids, geometry of split lines and transfer parts,
    the coverage around it after the edit); the first failing edit raises
    :class:`~gisfix.errors.EditError` naming it, and the input is never modified.

    Parameters
    ----------
    units : GeoDataFrame
        A coverage indexed by unit id (strings), as :func:`gisfix.read_boundaries` returns.
    scenario : Scenario, mapping or path
        See :func:`gisfix.edits.load_scenario`.
    extensive : list of str
        Count-like columns reallocated by area or built-up shares, totals conserved exactly.
    intensive : list of str or dict
        ``"col"`` (area-weighted mean) or ``"col=num/den"`` (recomputed from reallocated
        extensives ``num`` and ``den``, which are reallocated even if not listed).
    stack : BuiltupStack, optional
        Makes the reallocation dasymetric: shares are built-up area at ``epoch``.
    epoch : int, optional
        Epoch of ``stack`` (default: its last epoch).
    snap_tolerance : float
        Metres: sliver width and gap width below which geometry is cleaned or tolerated,
        and the band a transfer part may extend outside its units.
    name_column : str
        Column set by the ``name`` keys of edits (created if absent).
    check : bool
        Check the coverage around every edit and, at the end, the result wherever the
        edits changed it (the units they created or re-noded, with their neighbours): the
        other units and the edges between them are the input's, so the result is a valid
        coverage again whenever the input was one.  ``report["coverage_after"]["scope"]``
        says what was checked.
    subunits : GeoDataFrame or GeoSeries, optional
        Sub-units (indexed by id) for transfers given as ``units = [...]``; reprojected to
        the units' CRS.

    Returns
    -------
    EditResult
        ``.units``, ``.lineage``, ``.report``.

    Notes
    -----
    Reallocation formulas and conservation: :mod:`gisfix.edits.realloc`; lineage
    composition: :mod:`gisfix.edits.lineage`; tolerances: :mod:`gisfix.edits.topology`.

    Examples
    --------
    >>> from gisfix import datasets
    >>> from gisfix.edits import apply_scenario
    >>> va = datasets.load("virginia-pre1995")
    >>> res = apply_scenario(va, {"scenario": {"name": "1995"}, "edit": [
    ...     {"op": "merge", "units": ["51780", "51083"], "into": "51083"}]})
    >>> len(va), len(res.units)
    (136, 135)
    """
    t0 = time.perf_counter()
    sc = load_scenario(scenario)
    ids = _prepare(units)
    crs = resolve_crs(units.crs, what="the units")
    extensive = list(dict.fromkeys(extensive))
    plain, ratio = parse_intensive(intensive)
    check_columns(units, extensive, plain, ratio)
    ext_all = list(dict.fromkeys([*extensive, *[c for spec in ratio.values() for c in spec]]))
    integer = {c for c in ext_all if pd.api.types.is_integer_dtype(units[c])}
    tol = topo.tolerance_in_crs(snap_tolerance, crs)
    geoms = np.asarray(units.geometry.values, dtype=object)  # no per-item GeometryArray access
    area_crs = topo.equal_area_crs(crs, units.total_bounds)
    gcol = units.geometry.name
    attrs = pd.DataFrame(units.drop(columns=gcol))
    attrs.index = ids
    rows = _records(attrs, ids)
    sub = _subunits(subunits, crs)

    def run(check_each: bool):
        cov = Coverage(ids, list(geoms), rows if not check_each else _records(attrs, ids),
                       crs, tol, area_crs, sub)
        steps, records = _run_edits(cov, sc, name_column, check_each)
        return cov, steps, records

    checked = None
    if check:
        # optimistic pass: no check per edit; the final check of every unit the edits
        # touched decides.  Only when it (or an edit) fails are the edits run again with a
        # check (and, where needed, a local clean) after each one, as before.
        try:
            cov, steps, records = run(False)
            checked = _check_result(cov, steps, geoms, ids)
            if not checked[0]["valid"]:
                checked = None
        except (GisfixError, shapely.errors.GEOSException):
            checked = None
        if checked is None:
            cov, steps, records = run(True)
    else:
        cov, steps, records = run(False)
    weighted = stack is not None
    if weighted and epoch is None:
        epoch = stack.epochs[-1]
    lineage = compose(steps, ids, False)
    lineage = refine_lineage(lineage, dict(zip(ids, geoms)), cov.geom, cov.area, crs,
                             stack, epoch)
    old_areas = pd.Series(cov.area(geoms), index=ids) if plain else None
    final, altered = from_lineage(lineage, attrs, ext_all, plain, integer, old_areas)
    for c in ext_all:
        if c not in integer:
            conserve(attrs[c].to_dict(), final[c], altered)
    final_ids = cov.ids
    out_attrs = pd.DataFrame.from_dict({i: cov.rows[i] for i in final_ids}, orient="index")
    out_attrs = out_attrs.reindex(index=final_ids)
    for c in ext_all + plain:
        out_attrs[c] = pd.Series(final[c]).reindex(final_ids).to_numpy()
    for col, (num, den) in ratio.items():
        rate = out_attrs[num] / out_attrs[den].where(out_attrs[den] != 0)
        keep = ~out_attrs.index.isin(list(altered))
        out_attrs[col] = rate.where(~keep, out_attrs[col])
    for c in attrs.columns:
        if c in out_attrs and out_attrs[c].dtype != attrs[c].dtype:
            try:
                if not out_attrs[c].isna().any():
                    out_attrs[c] = out_attrs[c].astype(attrs[c].dtype)
            except (TypeError, ValueError):
                pass
    cols = list(attrs.columns) + [c for c in out_attrs.columns if c not in attrs.columns]
    out_attrs.index.name = units.index.name
    result = gpd.GeoDataFrame(out_attrs[cols], geometry=[cov.geom[i] for i in final_ids],
                              crs=units.crs)
    if gcol != "geometry":
        result = result.rename_geometry(gcol)
    result.index.name = units.index.name
    order = list(units.columns) + [c for c in result.columns if c not in units.columns]
    result = result[order]
    copied = [c for c in attrs.columns if c not in ext_all + plain + list(ratio)
              and c != name_column and pd.api.types.is_numeric_dtype(attrs[c])]
    if copied and altered:
        warn_data("numeric columns %s are neither extensive nor intensive: merged, split and "
                    "transferred units copy them from one source unit", ", ".join(copied))
    if check and checked is None:
        checked = _check_result(cov, steps, geoms, ids)
    after, before = checked if check else (None, None)
    changed = [i for i in dict.fromkeys(n for st in steps for n in st.added) if i in cov.geom]
    slivers = [i for i in changed for p in shapely.get_parts(cov.geom[i])
               if topo.is_sliver(p, tol)]
    report = {
        "scenario": sc.name, "edits": records, "n_units_before": len(ids),
        "n_units_after": len(result), "snap_tolerance_m": float(snap_tolerance),
        "tolerance_crs_units": tol, "coverage_before": before, "coverage_after": after,
        "weights": f"built-up km2 at {epoch}" if weighted else "area",
        "copied_columns": copied,
        "changed_units": len(changed),
        "sliver_parts": {"count": len(slivers), "ids": sorted(set(slivers))[:20],
                         "definition": "polygon parts with mean width 2A/P below the "
                                       "tolerance, in changed units"},
        "totals": {c: {"before": _total(attrs[c]), "after": _total(result[c])}
                   for c in ext_all},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if check and before["valid"] and not after["valid"]:
        raise EditError(f"the edits left an invalid coverage (units "
                        f"{', '.join(after['invalid_ids'][:8])}); the input was valid. Raise "
                        "snap_tolerance or check the split/transfer geometries")
    return EditResult(result, lineage, report, steps)


def _run_edits(cov: Coverage, sc, name_column: str, check_each: bool):
    """Run the scenario's edits in order on ``cov``; return the steps and their records.

    With ``check_each``, the coverage around every edit is checked (and cleaned locally
    when an edit adds invalid edges, see :func:`_check_step`).
    """
    steps, records = [], []
    for number, edit in enumerate(sc.edits, start=1):
        op = edit["op"]
        try:
            step = OPERATIONS[op](cov, number, edit)
            if op in ("split", "transfer") or (op == "merge"
                                               and not step.info.get("exact_union")):
                _node_neighbours(cov, step)
            # an exact coverage union of a merge keeps the members' outer edges unchanged
            exact = op == "recode" or (op == "merge" and step.info.get("exact_union"))
            if check_each and op != "dissolve" and not exact:
                _check_step(cov, step)
        except GisfixError:
            raise
        except shapely.errors.GEOSException as exc:
            raise EditError(f"edit {number} ({op}): the geometry operation failed: {exc}; "
                            "check the geometries it uses") from exc
        if op == "merge" and step.info.get("parts", 1) > 1 and not check_each:
            _warn_non_contiguous(number, edit, step.info["parts"])
        cov.apply(step)
        for new_id, nm in step.names.items():
            cov.rows[new_id][name_column] = nm
        steps.append(step)
        records.append(_record(step, edit))
    return steps, records


def _check_result(cov: Coverage, steps, geoms, ids) -> tuple[dict, dict]:
    """Check the result's coverage where the edits acted; the input's only if that fails.

    Every unit an edit created or re-noded (or that later replaced one) is checked against
    all the units whose bounding boxes come within the tolerance of it, in the result:
    an invalid edge (overlap, mismatched shared vertices, gap narrower than the tolerance)
    lies between a unit and the units touching it, so these units are reported exactly as
    in a whole-layer check.  The other units keep the input's geometry and so do the edges
    between them.  When the edited units are not valid, the input's units the edits
    removed are checked the same way (``coverage_before``), to tell whether the edits
    broke the coverage.  Without edits, the whole layer is checked.
    """
    grid = cov.tol * topo.CHECK_GRID_FRACTION
    if not steps:
        after = topo.check_coverage(geoms, cov.tol, ids, grid)
        after["scope"] = f"all {len(ids)} units (no edits)"
        return after, after
    touched = [n for n in dict.fromkeys(n for st in steps for n in _changed_edges(st, steps))
               if n in cov.geom]
    final_ids = cov.ids
    after = _check_around(final_ids, [cov.geom[i] for i in final_ids], touched, cov.tol, grid)
    after["scope"] = (f"the {len(touched)} units the edits created or re-noded, with their "
                      "neighbours; the other units, and merged units whose edges are all "
                      "the input's, keep the input's edges")
    if after["valid"]:
        return after, {"valid": None, "note": "not checked: the edited units are valid"}
    pos = set(ids)
    gone = [i for i in dict.fromkeys(n for st in steps for n in [*st.removed, *st.adjusted])
            if i in pos]
    before = _check_around(ids, geoms, gone, cov.tol, grid)
    before["scope"] = f"the {len(gone)} input units the edits removed or re-noded"
    return after, before


def _changed_edges(step, steps) -> list[str]:
    """Ids of the units whose edges ``step`` changed (created or re-noded).

    A merge whose exact coverage union filled no hole keeps its members' outer edges, so
    its unit is left out, unless a member's edges had been changed by an earlier step:
    every edge of such a unit is one the input had, and an edge it shares with a unit
    another step changed is checked with that unit.
    """
    if step.op == "merge" and step.info.get("edges_kept"):
        earlier = {n for st in steps if st.number < step.number
                   for n in [*st.added, *st.adjusted]}
        if not earlier.intersection(step.removed):
            return list(step.adjusted)
    return [*step.added, *step.adjusted]


def _check_around(all_ids, all_geoms, which, tol: float, grid: float) -> dict:
    """:func:`~gisfix.edits.topology.check_coverage` of units ``which`` among all units."""
    if not which:
        return {"valid": True, "invalid_units": 0, "invalid_ids": [], "invalid_edge_length": 0.0}
    geoms = np.asarray(all_geoms, dtype=object)
    row = {i: k for k, i in enumerate(all_ids)}
    focus = np.asarray([row[i] for i in which], dtype=np.intp)
    b = shapely.bounds(geoms[focus])
    near = shapely.box(b[:, 0] - tol, b[:, 1] - tol, b[:, 2] + tol, b[:, 3] + tol)
    region = np.union1d(shapely.STRtree(geoms).query(near)[1], focus)
    return topo.check_coverage(geoms[region], tol, [all_ids[k] for k in region], grid,
                               only=np.isin(region, focus))


def _total(s: pd.Series):
    import math

    vals = [v for v in s.tolist() if v == v and v is not None]
    if pd.api.types.is_integer_dtype(s):
        return int(sum(vals))
    return math.fsum(vals)


def _node_neighbours(cov: Coverage, step) -> None:
    """Insert the vertices an edit creates on shared edges into the neighbouring units.

    Cutting a unit along a new line puts vertices on its edges with other units; a coverage
    needs them on both sides, so each touching neighbour is snapped (segments to vertices,
    within a thousandth of the tolerance: the shape does not change).
    """
    tiny = cov.tol * 1e-3
    old = [cov.geom[i] for i in step.removed]
    nbrs = cov.neighbours(list(step.added.values()) + old, exclude=set(step.removed))
    # first heal the new geometries: vertices that are noisy copies (within a thousandth of
    # the tolerance) of existing vertices take the existing coordinates
    reference = shapely.get_coordinates(shapely.remove_repeated_points(
        np.asarray(old + [cov.geom[i] for i in nbrs], dtype=object), tiny))
    for i, g in list(step.added.items()):
        g = topo._valid_like(g, shapely.remove_repeated_points(g, tiny))
        step.added[i] = topo.renode(g, reference, tiny)
    new_geoms = list(step.added.values())
    if len(new_geoms) > 1:
        for i, g in list(step.added.items()):
            others = [h for j, h in step.added.items() if j != i]
            step.added[i] = topo.renode(g, others, tiny)
        new_geoms = list(step.added.values())
    if not nbrs:
        return
    xy = shapely.get_coordinates(new_geoms)
    pts = shapely.multipoints(xy)
    # each neighbour meeting the new units' envelope is snapped to the new vertices near
    # its bounding box (only these can snap: same result, less work), all in one call
    geoms = np.asarray([cov.geom[i] for i in nbrs], dtype=object)
    hit = np.flatnonzero(shapely.intersects(geoms, shapely.envelope(pts)))
    take = []
    if hit.size:  # the new vertices within ``tiny`` of each neighbour's bounding box
        b = shapely.bounds(geoms[hit])[:, :, None]
        x, y = xy[None, :, 0], xy[None, :, 1]
        mask = ((x >= b[:, 0] - tiny) & (x <= b[:, 2] + tiny)
                & (y >= b[:, 1] - tiny) & (y <= b[:, 3] + tiny))
        has = mask.any(axis=1)
        take = hit[has].tolist()
        rows, cols = np.nonzero(mask[has])
    renoded = []
    if take:
        g0 = geoms[take]
        near = shapely.multipoints(xy[cols], indices=rows)  # one multipoint per neighbour
        snapped = shapely.remove_repeated_points(shapely.snap(g0, near, tiny), tiny)
        ok = shapely.is_valid(snapped)
        valid = ok.copy()
        for k in np.flatnonzero(~ok).tolist():
            snapped[k] = topo._valid_like(g0[k], snapped[k])
            valid[k] = snapped[k].is_valid
        changed = ~shapely.equals_exact(snapped, g0, 0.0) & valid
        for k in np.flatnonzero(changed).tolist():
            i = nbrs[take[k]]
            step.adjusted[i] = snapped[k]
            renoded.append(i)
    if renoded:
        step.info["renoded_neighbours"] = renoded


def _check_step(cov: Coverage, step) -> None:
    """Check the coverage around the units a step changes; clean it once if needed.

    If the step adds invalid edges (overlaps or mismatched shared vertices), the changed
    units and their neighbours are passed once through :func:`shapely.coverage_clean`
    (snapping within a thousandth of the tolerance, gaps narrower than the tolerance
    closed); if that does not restore the coverage, the edit is refused.
    """
    new_ids = list(step.added)
    old_geoms = [cov.geom[i] for i in step.removed]
    nbrs = cov.neighbours(list(step.added.values()) + old_geoms, exclude=set(step.removed))
    grid = cov.tol * topo.CHECK_GRID_FRACTION

    def current():
        return ([step.added[i] for i in new_ids]
                + [step.adjusted.get(i, cov.geom[i]) for i in nbrs])

    after = topo.check_coverage(current(), cov.tol, grid=grid)
    if after["invalid_edge_length"] <= cov.tol:  # within the allowance whatever was before
        return
    before = topo.check_coverage(old_geoms + [cov.geom[i] for i in nbrs], cov.tol, grid=grid)
    allowed = before["invalid_edge_length"] * (1 + COVERAGE_SLACK) + cov.tol
    if after["invalid_edge_length"] <= allowed:
        return
    geoms = current()
    cleaned = shapely.coverage_clean(np.asarray(geoms, dtype=object), gap_width=cov.tol,
                                     snapping_distance=cov.tol * 1e-3)
    tiny = cov.tol * 1e-3
    # coverage_clean re-nodes everything it is given; snap its output back onto the input's
    # vertices and keep the neighbours it did not really change as they were
    cleaned = [topo.renode(topo.polygonal(c), [g0], tiny) for c, g0 in zip(cleaned, geoms)]
    cleaned = [g0 if shapely.equals_exact(c, g0, tiny) else c for c, g0 in zip(cleaned, geoms)]
    again = topo.check_coverage(cleaned, cov.tol, grid=grid)
    a0 = shapely.area(np.asarray(geoms, dtype=object))
    a1 = shapely.area(np.asarray(cleaned, dtype=object))
    small = bool(np.all(np.abs(a1 - a0) <= cov.tol * shapely.length(
        np.asarray(geoms, dtype=object)) + 1e-12))
    if again["invalid_edge_length"] <= allowed and small:
        for i, g in zip(new_ids, cleaned[:len(new_ids)]):
            step.added[i] = g
        for i, g0, g in zip(nbrs, geoms[len(new_ids):], cleaned[len(new_ids):]):
            if not shapely.equals_exact(g0, g, 0.0):
                step.adjusted[i] = g
        step.info["cleaned"] = True
        return
    raise EditError(
        f"edit {step.number} ({step.op}) would break the coverage: invalid shared edges "
        f"grow from {before['invalid_edge_length']:.6g} to {after['invalid_edge_length']:.6g}"
        f" (CRS units) around {', '.join(new_ids[:5])}; check its geometry or raise "
        "snap_tolerance")


def _warn_non_contiguous(number: int, edit, parts: int) -> None:
    """Merging units that do not touch is allowed (exclaves are real); say so once."""
    import warnings

    from gisfix.errors import DataWarning

    warnings.warn(
        f"edit {number} (merge): the units {', '.join(map(repr, edit['units']))} are not "
        f"contiguous: the merged unit {edit['into']!r} has {parts} parts; this is allowed "
        "(exclaves exist), check the ids if it was not meant", DataWarning, stacklevel=3)
