"""Declarative boundary-edit scenarios: the TOML structure, its validation and its writer.

A scenario is a table ``[scenario]`` (``name`` and any free metadata) and an ordered array
of ``[[edit]]`` tables, each with an ``op`` and its keys::

    [scenario]
    name = "Virginia independent-city reversions"
    [[edit]]
    op = "merge"
    units = ["51780", "51083"]
    into = "51083"
    year = 1995
    note = "South Boston city reverts to a town in Halifax County"

Operations and their keys (all ids are strings; integers are accepted and converted):

``merge``
    ``units`` (list of ids, at least two), ``into`` (a surviving member or a new id),
    ``name`` (optional).
``split``
    ``unit``, ``by`` (WKT or path of a line or polygon(s)), ``new_ids`` (list of ids).
    A line splits the unit in two: ``new_ids[0]`` gets the part(s) left of the line (in
    its direction of travel), ``new_ids[1]`` the part(s) right of it.  A polygon gives the
    parts ``(unit ∩ polygon, unit − polygon)`` in ``new_ids`` order; a list of *k*
    polygons (``by = ["WKT", ...]``) gives *k* + 1 parts: each polygon's share of the unit
    not yet taken, then the remainder.  ``names`` (optional list) names the new units.
``transfer``
    ``from``, ``to`` and either ``part`` (WKT or path of the polygon that moves from
    ``from`` to ``to``: annexation) or ``units`` (ids of sub-units, e.g. villages or census
    blocks, whose union is the part; their layer is passed as ``subunits=`` to
    :func:`gisfix.edits.apply_scenario` or ``--subunits`` on the command line).
``recode``
    ``unit``, ``new_id`` and/or ``name``.
``dissolve``
    ``by`` (a column): units grouped by its values become one unit each, with the value as
    the new id.

Every edit may also carry ``year``, ``note`` and ``crs`` (the CRS of WKT coordinates;
default: the CRS of the units).
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gisfix.errors import EditError, GisfixError, InputFileError

#: op -> (required keys, optional keys).
OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "merge": (("units", "into"), ("name",)),
    "split": (("unit", "by", "new_ids"), ("names",)),
    "transfer": (("from", "to"), ("part", "units")),
    "recode": (("unit",), ("new_id", "name")),
    "dissolve": (("by",), ()),
}
#: Keys every edit may carry.
COMMON_KEYS = ("op", "year", "note", "crs")
#: Top-level keys of a scenario.
TOP_KEYS = ("scenario", "edit", "provenance")
_ID_LIST_KEYS = {"units", "new_ids"}
_ID_KEYS = {"into", "unit", "from", "to", "new_id"}


def _label(i: int, edit: Mapping) -> str:
    op = edit.get("op") if isinstance(edit, Mapping) else None
    return f"edit {i}" + (f" ({op})" if isinstance(op, str) else "")


def _as_id(value, where: str, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EditError(f"{where}: {key!r} must be an id (a string), got {value!r}")
    text = str(value).strip()
    if not text:
        raise EditError(f"{where}: {key!r} is empty; give an id")
    return text


def validate_edit(i: int, edit) -> dict:
    """Check one edit's op, keys and value types; return it normalised (ids as strings).

    Parameters
    ----------
    i : int
        The 1-based number of the edit, used in messages.
    edit : mapping
        The edit table.

    Raises
    ------
    EditError
        Naming the edit number, the problem and the allowed keys or ops.
    """
    where = _label(i, edit)
    if not isinstance(edit, Mapping):
        raise EditError(f"{where}: expected a table of keys, got {type(edit).__name__}")
    op = edit.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise EditError(f"{where}: unknown or missing op {op!r}; use one of {', '.join(OPS)}")
    required, optional = OPS[op]
    allowed = set(required) | set(optional) | set(COMMON_KEYS)
    unknown = sorted(set(edit) - allowed)
    if unknown:
        raise EditError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; {op} takes "
                        f"{', '.join(required + optional)} (and year, note, crs)")
    missing = [k for k in required if k not in edit]
    if missing:
        raise EditError(f"{where}: missing key(s) {', '.join(map(repr, missing))}; {op} needs "
                        f"{', '.join(required)}")
    out = dict(edit)
    for key in _ID_KEYS & set(out):
        out[key] = _as_id(out[key], where, key)
    for key in _ID_LIST_KEYS & set(out):
        vals = out[key]
        if isinstance(vals, str | int) or not hasattr(vals, "__iter__"):
            raise EditError(f"{where}: {key!r} must be a list of ids, got {vals!r}")
        ids = [_as_id(v, where, key) for v in vals]
        if len(set(ids)) != len(ids):
            raise EditError(f"{where}: {key!r} repeats ids: {ids}")
        out[key] = ids
    if op == "merge" and len(out["units"]) < 2:
        raise EditError(f"{where}: merge needs at least two units, got {out['units']}")
    if op == "split":
        if len(out["new_ids"]) < 2:
            raise EditError(f"{where}: split needs at least two new_ids, got {out['new_ids']}")
        by = out["by"]
        if isinstance(by, list):
            if not by or not all(isinstance(b, str | GeometryFile) for b in by):
                raise EditError(f"{where}: 'by' must be a WKT/path string or a list of them")
        elif not isinstance(by, str | GeometryFile):
            raise EditError(f"{where}: 'by' must be a WKT string or a path, got {by!r}")
        if "names" in out and (not isinstance(out["names"], list)
                               or len(out["names"]) != len(out["new_ids"])):
            raise EditError(f"{where}: 'names' must list one name per new id "
                            f"({len(out['new_ids'])})")
    if op == "transfer":
        if ("part" in out) == ("units" in out):
            raise EditError(f"{where}: give either 'part' (a polygon) or 'units' (sub-unit ids), "
                            "not both or neither")
        if "units" in out and not out["units"]:
            raise EditError(f"{where}: 'units' is empty; list the sub-units that move")
        if "part" in out and not isinstance(out["part"], str | GeometryFile):
            raise EditError(f"{where}: 'part' must be a WKT string or a path, got {out['part']!r}")
        if out["from"] == out["to"]:
            raise EditError(f"{where}: 'from' and 'to' are the same unit {out['from']!r}")
    if op == "recode" and "new_id" not in out and "name" not in out:
        raise EditError(f"{where}: recode needs new_id and/or name")
    if op == "dissolve" and not isinstance(out["by"], str):
        raise EditError(f"{where}: dissolve 'by' must be a column name, got {out['by']!r}")
    for key in ("name", "note"):
        if key in out and not isinstance(out[key], str):
            raise EditError(f"{where}: {key!r} must be a string, got {out[key]!r}")
    if "year" in out and (isinstance(out["year"], bool) or not isinstance(out["year"], int)):
        raise EditError(f"{where}: 'year' must be an integer, got {out['year']!r}")
    return out


@dataclass
class Scenario:
    """An ordered list of validated boundary edits with its metadata.

    Attributes
    ----------
    name : str
        The scenario's name.
    meta : dict
        The whole ``[scenario]`` table (``name`` included).
    edits : list of dict
        The validated edits, in order.
    """

    name: str
    meta: dict = field(default_factory=dict)
    edits: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.edits)

    def to_dict(self) -> dict:
        """Return the scenario as the TOML structure ``{"scenario": {...}, "edit": [...]}``."""
        meta = {"name": self.name, **{k: v for k, v in self.meta.items() if k != "name"}}
        edits = [{k: (str(v) if isinstance(v, GeometryFile) else
                      [str(x) for x in v] if isinstance(v, list) and v
                      and isinstance(v[0], GeometryFile) else v)
                  for k, v in e.items()} for e in self.edits]
        return {"scenario": copy.deepcopy(meta), "edit": copy.deepcopy(edits)}

    def to_toml(self, path: str | os.PathLike, overwrite: bool = False,
                provenance: Mapping | None = None):
        """Write the scenario as TOML, atomically (see :func:`gisfix.io.atomic_path`).

        Parameters
        ----------
        path : path-like
            The ``.toml`` file to write.
        overwrite : bool
            Replace an existing file.
        provenance : mapping, optional
            A :func:`gisfix.io.provenance` record stored as the ``[provenance]`` table.

        Returns
        -------
        pathlib.Path
        """
        import tomli_w

        from gisfix.io import _jsonable, atomic_path

        doc = self.to_dict()
        if provenance is not None:
            doc["provenance"] = _drop_none(_jsonable(dict(provenance)))
        with atomic_path(path, overwrite) as tmp:
            tmp.write_text(tomli_w.dumps(doc), encoding="utf-8")
        return Path(path)


@dataclass(frozen=True)
class GeometryFile:
    """A geometry the scenario loader read from a vector file (the edits never open files).

    Attributes
    ----------
    path : str
        The file named in the scenario (written back by :meth:`Scenario.to_dict`).
    wkt : str
        The union of the file's geometries, as WKT.
    crs : str or None
        The file's CRS (WKT), or None when the file has none (then the edit's ``crs`` or
        the units' CRS applies).
    """

    path: str
    wkt: str
    crs: str | None = None

    def __str__(self) -> str:
        return self.path


def _is_wkt(text: str) -> bool:
    import shapely

    try:
        return shapely.from_wkt(text) is not None
    except Exception:  # shapely raises GEOSException on non-WKT text
        return False


def read_geometry_file(text: str, where: str, key: str) -> GeometryFile:
    """Read a vector file named by an edit key into a :class:`GeometryFile`.

    Parameters
    ----------
    text : str
        The path.
    where : str
        The edit's label, for messages.
    key : str
        The edit key (``by`` or ``part``), for messages.

    Returns
    -------
    GeometryFile

    Raises
    ------
    EditError
        When the text is neither WKT nor a readable vector file.
    """
    p = Path(text)
    if not p.exists():
        raise EditError(f"{where}: {key!r} is neither WKT nor an existing file: {text[:80]!r}")
    import geopandas as gpd
    import shapely

    try:
        gdf = gpd.read_file(p)
    except Exception as exc:
        raise EditError(f"{where}: cannot read {key!r} file {p}: {exc}") from None
    geom = shapely.union_all(gdf.geometry.values)
    return GeometryFile(str(text), shapely.to_wkt(geom, rounding_precision=-1),
                        None if gdf.crs is None else gdf.crs.to_wkt())


def _read_files(i: int, edit: dict) -> dict:
    """Replace the file paths of an edit's geometry keys by the geometries they hold."""
    where = _label(i, edit)
    out = dict(edit)
    for key in ("by", "part"):
        if key not in out or (key == "by" and out["op"] != "split"):
            continue
        value = out[key]
        specs = value if isinstance(value, list) else [value]
        read = [s if isinstance(s, GeometryFile) or _is_wkt(s)
                else read_geometry_file(s, where, key) for s in specs]
        out[key] = read if isinstance(value, list) else read[0]
    return out


def _drop_none(obj):
    """TOML has no null: drop None values from nested mappings and lists."""
    if isinstance(obj, Mapping):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj if v is not None]
    return obj


def load_scenario(source) -> Scenario:
    """Read and validate a scenario from a TOML file, a TOML string's dict or a Scenario.

    Parameters
    ----------
    source : path-like, mapping or Scenario
        A ``.toml`` file, or the parsed structure ``{"scenario": {...}, "edit": [...]}``.

    Returns
    -------
    Scenario

    Raises
    ------
    InputFileError
        If the file does not exist.
    EditError
        If the TOML cannot be parsed or an edit is malformed (the message names the edit
        number, counted from 1).

    Examples
    --------
    >>> sc = load_scenario({"scenario": {"name": "demo"},
    ...                     "edit": [{"op": "recode", "unit": "1", "new_id": "9"}]})
    >>> sc.name, sc.edits[0]["new_id"]
    ('demo', '9')
    """
    if isinstance(source, Scenario):
        return Scenario(source.name, dict(source.meta), [dict(e) for e in source.edits])
    if isinstance(source, str | os.PathLike) and not isinstance(source, Mapping):
        p = Path(source)
        if not p.exists():
            raise InputFileError(f"no such scenario file: {p}")
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise EditError(f"{p.name} is not a TOML scenario: it is not UTF-8 text "
                            f"({exc.reason} at byte {exc.start})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise EditError(f"{p.name} is not valid TOML: {exc}") from exc
        what = p.name
    elif isinstance(source, Mapping):
        doc, what = source, "scenario"
    else:
        raise EditError(f"a scenario must be a TOML path or a dict, got {type(source).__name__}")
    unknown = sorted(set(doc) - set(TOP_KEYS))
    if unknown:
        raise EditError(f"{what}: unknown top-level key(s) {', '.join(map(repr, unknown))}; "
                        "a scenario has a [scenario] table and [[edit]] tables")
    meta = doc.get("scenario", {})
    if not isinstance(meta, Mapping):
        raise EditError(f"{what}: [scenario] must be a table with at least name = \"...\"")
    name = meta.get("name", "unnamed scenario")
    if not isinstance(name, str):
        raise EditError(f"{what}: scenario name must be a string, got {name!r}")
    edits = doc.get("edit", [])
    if isinstance(edits, Mapping):
        edits = [edits]
    if not isinstance(edits, list):
        raise EditError(f"{what}: 'edit' must be an array of tables ([[edit]]), got "
                        f"{type(edits).__name__}")
    try:
        checked = [_read_files(i, validate_edit(i, e)) for i, e in enumerate(edits, start=1)]
    except GisfixError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # malformed values
        raise EditError(f"{what}: malformed edit ({type(exc).__name__}: {exc}); see "
                        "gisfix.edits.scenario for the keys each op takes") from exc
    return Scenario(name=name, meta=dict(meta), edits=checked)
