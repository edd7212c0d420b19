"""Public one-edit wrappers of the boundary edits (merge, split, transfer, recode, dissolve).

Each builds a one-edit scenario and runs :func:`gisfix.edits.apply_scenario`; the geometry
primitives they end up calling live in :mod:`gisfix.edits.ops`.
"""

from __future__ import annotations

import shapely

from gisfix.edits.apply import apply_scenario


def _one(units, edit, kw):
    return apply_scenario(units, {"scenario": {"name": f"{edit['op']}"}, "edit": [edit]}, **kw)


def merge(units, ids, into, *, name=None, **kwargs):
    """Merge units ``ids`` into one unit ``into`` (a member that survives or a new id).

    Parameters
    ----------
    units : GeoDataFrame
        The coverage, indexed by unit id (strings).
    ids : list of str
        The units to merge (at least two).
    into : str
        The id of the merged unit.
    name : str, optional
        Its new name.
    **kwargs
        Passed to :func:`gisfix.edits.apply_scenario` (``extensive``, ``intensive``,
        ``stack``, ``epoch``, ``snap_tolerance``...).

    Returns
    -------
    EditResult
    """
    edit = {"op": "merge", "units": list(ids), "into": into}
    if name is not None:
        edit["name"] = name
    return _one(units, edit, kwargs)


def split(units, unit, by, new_ids, *, names=None, **kwargs):
    """Split ``unit`` by a line (left, right) or polygon(s) (inside ..., remainder).

    ``by`` is WKT, a path, or a shapely geometry in the units' CRS.  See
    :mod:`gisfix.edits.scenario` for the order of the parts.  Returns an EditResult.

    Parameters
    ----------
    units : GeoDataFrame
        The coverage, indexed by unit id (strings).
    unit : str
        The unit to split.
    by : str, shapely geometry or list of them
        WKT or shapely line or polygon(s) in the units' CRS (read files with
        :func:`gisfix.edits.load_scenario`).
    new_ids : list of str
        Ids of the parts, in the order of :mod:`gisfix.edits.scenario`.
    names : list of str, optional
        Names of the parts.
    **kwargs
        Passed to :func:`gisfix.edits.apply_scenario`.
    """
    by = [_wkt(b) for b in by] if isinstance(by, list | tuple) else _wkt(by)
    edit = {"op": "split", "unit": unit, "by": by, "new_ids": list(new_ids)}
    if names is not None:
        edit["names"] = list(names)
    return _one(units, edit, kwargs)


def transfer(units, from_id, to_id, part=None, *, subunit_ids=None, **kwargs):
    """Move the part of unit ``from_id`` inside polygon ``part`` to unit ``to_id``.

    ``part`` is WKT, a path or a shapely polygon in the units' CRS; or give
    ``subunit_ids`` (with ``subunits=`` a layer of sub-units) to move their union.
    Returns an EditResult.

    Parameters
    ----------
    units : GeoDataFrame
        The coverage, indexed by unit id (strings).
    from_id, to_id : str
        The giving and the receiving unit.
    part : str or shapely polygon, optional
        WKT or polygon (units' CRS) of the land that moves.
    subunit_ids : list of str, optional
        Sub-units whose union moves (with ``subunits=`` in ``kwargs``).
    **kwargs
        Passed to :func:`gisfix.edits.apply_scenario`.
    """
    edit = {"op": "transfer", "from": from_id, "to": to_id}
    if part is not None:
        edit["part"] = _wkt(part)
    if subunit_ids is not None:
        edit["units"] = list(subunit_ids)
    return _one(units, edit, kwargs)


def recode(units, unit, new_id=None, *, name=None, **kwargs):
    """Give ``unit`` a new id and/or a new name.  Returns an EditResult.

    Parameters
    ----------
    units : GeoDataFrame
        The coverage, indexed by unit id (strings).
    unit : str
        The unit.
    new_id : str, optional
        Its new id.
    name : str, optional
        Its new name.
    **kwargs
        Passed to :func:`gisfix.edits.apply_scenario`.
    """
    edit = {"op": "recode", "unit": unit}
    if new_id is not None:
        edit["new_id"] = new_id
    if name is not None:
        edit["name"] = name
    return _one(units, edit, kwargs)


def dissolve(units, by, **kwargs):
    """Dissolve units into one unit per value of column ``by``.  Returns an EditResult.

    Parameters
    ----------
    units : GeoDataFrame
        The coverage, indexed by unit id (strings).
    by : str
        The column whose values become the new ids.
    **kwargs
        Passed to :func:`gisfix.edits.apply_scenario`.
    """
    return _one(units, {"op": "dissolve", "by": by}, kwargs)


def _wkt(g):
    return g if isinstance(g, str) else shapely.to_wkt(g, rounding_precision=-1)
