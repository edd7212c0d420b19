"""Reading administrative boundaries: one entry point, every check in one place.

:func:`read_boundaries` returns a GeoDataFrame indexed by the unit id (as strings), with a
resolved horizontal CRS and valid, non-empty polygonal geometries, or raises a
:class:`~gisfix.errors.GisfixError` that names the problem and the fix.
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisfix.crs import check_coordinates, resolve_crs, to_crs_checked, true_areas
from gisfix.errors import (
    DataError,
    GeometryError,
    IdError,
    InputFileError,
    UsageError,
    show_ids,
    warn_data,
)

log = logging.getLogger(__name__)

POLYGONAL = ("Polygon", "MultiPolygon")
#: Show at most this many offending ids in a message.
MAX_IDS_SHOWN = 8
# UTF-8 read as Latin-1/CP1252 leaves these two-character sequences behind.
_MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")


def normalize_ids(values: pd.Series) -> pd.Series:
    """Return ids as strings; integral floats (``1.0``, as shapefiles give) become ``"1"``.

    Parameters
    ----------
    values : Series
        Raw id values.

    Returns
    -------
    Series
        Text ids (None where missing), indexed like ``values``.
    """
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if (finite == np.floor(finite)).all():
            return values.map(lambda v: None if pd.isna(v) else str(int(v)))
    if pd.api.types.is_integer_dtype(values):
        return values.astype("int64").astype(str)
    return values.map(lambda v: None if pd.isna(v) else str(v).strip())


def check_ids(ids: pd.Series, *, what: str = "boundaries", column: str = "id") -> None:
    """Raise :class:`IdError` for missing or duplicate ids.

    Parameters
    ----------
    ids : Series
        Normalized ids (:func:`normalize_ids`).
    what : str
        The layer's name, for messages.
    column : str
        The id column, for messages.
    """
    missing = ids.isna() | (ids.astype(str) == "")
    if missing.any():
        raise IdError(
            f"{what}: {int(missing.sum())} features have no value in id column {column!r} "
            f"(rows {show_ids(np.flatnonzero(missing.to_numpy()))}); fill them or choose another "
            "id column"
        )
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise IdError(
            f"{what}: id column {column!r} has {dup.nunique()} duplicated ids "
            f"({show_ids(sorted(dup.unique()))}); choose a unique column or dissolve the "
            "duplicates first (gdf.dissolve(by=...))"
        )


def fix_mojibake(text):
    """Repair UTF-8 text that was decoded as Latin-1 (``'ZÃ¼rich'`` -> ``'Zürich'``).

    Parameters
    ----------
    text : str or object
        A value of a text column (non-strings are returned as they are).
    """
    if not isinstance(text, str) or not _MOJIBAKE.search(text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


#: Geometries this process found valid, by identity: ``id -> weak reference``.  Shapely
#: geometries are immutable, so an object once valid stays valid; the weak reference tells
#: a living object from a new one that reuses a dead object's id.  Dead entries are pruned
#: whenever the table has doubled.
_FOUND_VALID: dict[int, weakref.ref] = {}
_PRUNE_AT = [4096]


def known_valid(geoms) -> np.ndarray:
    """Whether each geometry is one this process has found valid (no test is run).

    Parameters
    ----------
    geoms : array-like of shapely geometries

    Returns
    -------
    numpy.ndarray of bool
        True for the objects :func:`valid_mask` found valid (the same objects, still
        alive); False for every other geometry, valid or not.
    """
    get = _FOUND_VALID.get
    return np.fromiter(((r := get(id(g))) is not None and r() is g for g in geoms),
                       dtype=bool, count=len(geoms))


def valid_mask(geoms) -> np.ndarray:
    """:func:`shapely.is_valid` of each geometry, not testing again those found valid.

    Validity is the costliest check a boundary layer gets (GEOS nodes every ring), and the
    same polygons are checked by :func:`read_boundaries` and again by the functions they
    are passed to (the vintage diff, for one).  A geometry this process has found valid
    is not tested again: the same object is the same immutable geometry.  Geometries
    changed in any way are new objects, and are tested.

    Parameters
    ----------
    geoms : array-like of shapely geometries

    Returns
    -------
    numpy.ndarray of bool
    """
    geoms = np.asarray(geoms, dtype=object)
    out = known_valid(geoms)
    todo = np.flatnonzero(~out)
    if len(todo):
        out[todo] = shapely.is_valid(geoms[todo])
        for g in geoms[todo[out[todo]]]:
            _FOUND_VALID[id(g)] = weakref.ref(g)
        if len(_FOUND_VALID) > _PRUNE_AT[0]:
            for k, r in list(_FOUND_VALID.items()):
                if r() is None:
                    _FOUND_VALID.pop(k, None)
            _PRUNE_AT[0] = max(4096, 2 * len(_FOUND_VALID))
    return out


def check_polygons(gdf: gpd.GeoDataFrame, *, make_valid: bool = False, drop_empty: bool = False,
                   what: str = "boundaries") -> tuple[gpd.GeoDataFrame, dict]:
    """Check that every geometry is a valid, non-empty polygon; optionally repair.

    Parameters
    ----------
    gdf : GeoDataFrame
        Indexed by unit id.
    make_valid : bool
        Repair invalid geometries with :func:`shapely.make_valid` (structure method),
        keeping the polygonal parts.  The area change is reported.
    drop_empty : bool
        Drop empty or missing geometries instead of raising.

    Returns
    -------
    (GeoDataFrame, dict)
        The checked frame and a report with counts (``invalid``, ``repaired``,
        ``area_change_m2`` / ``area_change_rel``, ``dropped_empty``).
    """
    report = {"invalid": 0, "repaired": 0, "dropped_empty": 0}
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        if not drop_empty:
            raise GeometryError(
                f"{what}: {int(empty.sum())} features have empty or missing geometry "
                f"(ids {show_ids(gdf.index[empty])}); remove them or pass drop_empty=True "
                "(--drop-empty)"
            )
        report["dropped_empty"] = int(empty.sum())
        report["dropped_empty_ids"] = [str(i) for i in gdf.index[empty]]
        warn_data("dropped %d empty geometries: %s", empty.sum(), show_ids(gdf.index[empty]))
        gdf = gdf.loc[~empty].copy()
        geom = gdf.geometry

    types = geom.geom_type
    # A GeometryCollection made only of polygons is polygonal data in disguise.
    collections = types == "GeometryCollection"
    if collections.any():
        gdf = gdf.copy()
        gdf.loc[collections, gdf.geometry.name] = [
            _polygonal_part(g) for g in geom[collections]
        ]
        geom = gdf.geometry
        types = geom.geom_type
    bad = ~types.isin(POLYGONAL)
    if bad.any():
        counts = types[bad].value_counts().to_dict()
        raise GeometryError(
            f"{what}: {int(bad.sum())} features are not polygons "
            f"({', '.join(f'{v} {k}' for k, v in counts.items())}; ids {show_ids(gdf.index[bad])});"
            " administrative units must be Polygon or MultiPolygon"
        )

    invalid = pd.Series(~valid_mask(geom.values), index=geom.index)
    report["invalid"] = int(invalid.sum())
    if invalid.any():
        if not make_valid:
            reasons = shapely.is_valid_reason(geom[invalid].values)
            raise GeometryError(
                f"{what}: {int(invalid.sum())} of {len(gdf)} polygons are invalid (ids "
                f"{show_ids(gdf.index[invalid])}; first: {reasons[0]}); pass make_valid=True "
                "(--make-valid) to repair them"
            )
        before = _areas(geom[invalid], gdf.crs)
        fixed = shapely.make_valid(geom[invalid].values, method="structure", keep_collapsed=False)
        fixed = [_polygonal_part(g) for g in fixed]
        gdf = gdf.copy()
        gdf.loc[invalid, gdf.geometry.name] = fixed
        after = _areas(gdf.geometry[invalid], gdf.crs)
        report["repaired"] = int(invalid.sum())
        report["area_change_m2"] = float((after - before).sum())
        report["area_change_rel"] = float(np.abs(after - before).sum() / max(before.sum(), 1e-300))
        warn_data(
            "repaired %d invalid polygons; total area changed by %.6g m2 (%.4g%% of their area)",
            invalid.sum(), report["area_change_m2"], 100 * report["area_change_rel"],
        )
        still_empty = gdf.geometry.is_empty
        if still_empty.any():
            raise GeometryError(
                f"{what}: repairing left {int(still_empty.sum())} features with no polygonal "
                f"area (ids {show_ids(gdf.index[still_empty])}); fix them in a GIS"
            )
    return gdf, report


def _areas(geoms, crs) -> np.ndarray:
    """True areas in m² when the CRS is known, planar areas otherwise."""
    return true_areas(geoms, crs) if crs is not None else np.asarray(geoms.area, dtype=float)


def _polygonal_part(g):
    """Return the polygonal part of a geometry (a MultiPolygon if there are several)."""
    if g is None or g.geom_type in POLYGONAL:
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in POLYGONAL]
    polys = []
    for p in parts:
        polys.extend(shapely.get_parts(p))
    if not polys:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def read_boundaries(path: str | os.PathLike, id_col: str, *, layer: str | None = None,
                    crs=None, make_valid: bool = False, drop_empty: bool = False,
                    encoding: str | None = None, fix_text: bool = False,
                    to_crs=None) -> gpd.GeoDataFrame:
    """Read an administrative boundary layer with every check gisfix relies on.

    Parameters
    ----------
    path : path-like
        Any vector file GDAL reads: GeoPackage, Shapefile, GeoJSON, TopoJSON, FlatGeobuf,
        GeoParquet (``.parquet``/``.geoparquet``).
    id_col : str
        Column holding the unit id. Ids become strings (``1.0`` -> ``"1"``) and the index.
    layer : str, optional
        Layer name for multi-layer sources; required when the file has several layers.
    crs : optional
        CRS to assign when the file has none (it is an error otherwise). Does not reproject.
    make_valid : bool
        Repair invalid polygons (the area change is logged and stored in
        ``gdf.attrs["gisfix"]``); without it invalid polygons are an error.
    drop_empty : bool
        Drop features with empty geometry; without it they are an error.
    encoding : str, optional
        Text encoding of the attribute table when the file does not declare it.
    fix_text : bool
        Repair UTF-8 text mis-decoded as Latin-1 (mojibake) in text columns.
    to_crs : optional
        Reproject to this CRS after the checks.

    Returns
    -------
    GeoDataFrame
        Indexed by the id column (strings), in the resolved horizontal CRS. The read report
        is in ``gdf.attrs["gisfix"]``.

    Raises
    ------
    InputFileError, CRSError, IdError, GeometryError

    Examples
    --------
    >>> from gisfix import datasets, read_boundaries
    >>> gdf = read_boundaries(datasets.get_path("swiss-2018"), id_col="id",
    ...                       layer="municipalities_2018")
    >>> len(gdf), gdf.crs.to_epsg()
    (2225, 2056)
    """
    import pyogrio

    p = Path(path)
    if not p.exists():
        raise InputFileError(f"no such boundary file: {p}")
    src = str(p)
    if p.suffix.lower() in (".parquet", ".geoparquet"):
        gdf = _read_geoparquet(p)
        layers = [(p.stem, "")]
        layer = None
    else:
        gdf = None
        try:
            layers = pyogrio.list_layers(src)
        except Exception as exc:
            raise InputFileError(f"cannot open {p} as a vector file: {exc}") from exc
    if gdf is not None:
        pass
    elif layer is None:
        if len(layers) > 1:
            names = [str(n) for n, _ in layers]
            polyl = [str(n) for n, t in layers if t and "Polygon" in str(t)]
            if p.suffix.lower() in (".json", ".topojson") and len(polyl) == 1:
                layer = polyl[0]
            else:
                raise UsageError(
                    f"{p.name} has {len(layers)} layers ({', '.join(names)}); choose one with "
                    "layer=... (--layer)"
                )
    elif layer not in [str(n) for n, _ in layers]:
        raise UsageError(
            f"{p.name} has no layer {layer!r}; it has: {', '.join(str(n) for n, _ in layers)}"
        )
    if gdf is None:
        kw = {"layer": layer}
        if encoding:
            kw["encoding"] = encoding
        try:
            gdf = pyogrio.read_dataframe(src, **kw)
        except Exception as exc:
            raise InputFileError(f"cannot read {p}: {exc}") from exc
    what = p.name
    if id_col not in gdf.columns:
        raise IdError(
            f"{what} has no column {id_col!r}; its columns are: "
            + ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        )
    if gdf.crs is None:
        if crs is None:
            resolve_crs(None, what=what)  # raises with the fix
        gdf = gdf.set_crs(resolve_crs(crs, what=what))
    else:
        if crs is not None:
            log.info("%s has a CRS already; crs=%s ignored", what, crs)
        gdf = gdf.set_crs(resolve_crs(gdf.crs, what=what), allow_override=True)

    if len(gdf):
        check_coordinates(gdf.total_bounds, gdf.crs, what=what)
    ids = normalize_ids(gdf[id_col])
    check_ids(ids, what=what, column=id_col)
    gdf = gdf.drop(columns=[id_col]).set_index(pd.Index(ids.to_numpy(), name=id_col))

    text_cols = [c for c in gdf.columns if c != gdf.geometry.name
                 and (gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c]))]
    mojibake = [c for c in text_cols
                if gdf[c].astype(str).str.contains(_MOJIBAKE, regex=True).any()]
    if mojibake:
        if fix_text:
            for c in mojibake:
                gdf[c] = gdf[c].map(fix_mojibake)
            warn_data("repaired mis-decoded text in columns %s", ", ".join(mojibake))
        else:
            warn_data(
                "text in columns %s looks mis-decoded (UTF-8 read as Latin-1); pass "
                "fix_text=True (--fix-text) or the right encoding=", ", ".join(mojibake)
            )

    gdf, report = check_polygons(gdf, make_valid=make_valid, drop_empty=drop_empty, what=what)
    if to_crs is not None:
        gdf = to_crs_checked(gdf, to_crs, what=what)
    gdf.attrs["gisfix"] = {"source": str(p.resolve()), "layer": layer, "id_col": id_col,
                          **report}
    return gdf


def _read_geoparquet(p: Path) -> gpd.GeoDataFrame:
    """Read GeoParquet with geopandas (GDAL's Parquet driver is not in every wheel)."""
    try:
        return gpd.read_parquet(p)
    except Exception as exc:
        raise InputFileError(f"cannot read {p} as GeoParquet: {exc}") from exc


def describe_boundaries(path: str | os.PathLike, *, layer: str | None = None,
                        id_col: str | None = None) -> dict:
    """Return facts about a boundary file without failing on its defects (for ``gisfix info``).

    Counts invalid, empty and non-polygon geometries and, with ``id_col``, missing and
    duplicate ids, instead of raising.

    Parameters
    ----------
    path : path-like
        A vector file.
    layer : str, optional
        The layer (default: the first).
    id_col : str, optional
        The id column to check.

    Returns
    -------
    dict
    """
    import pyogrio

    from gisfix.crs import crs_label, linear_units

    p = Path(path)
    if not p.exists():
        raise InputFileError(f"no such file: {p}")
    if p.suffix.lower() in (".parquet", ".geoparquet"):
        gdf = _read_geoparquet(p)
        layers, layer = [(p.stem, "")], p.stem
    else:
        try:
            layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(str(p))]
            if layer is None:
                layer = layers[0][0]
            gdf = pyogrio.read_dataframe(str(p), layer=layer)
        except Exception as exc:
            raise InputFileError(f"cannot open {p} as a vector file: {exc}") from exc
    facts: dict = {"kind": "vector", "path": str(p), "layers": [n for n, _ in layers],
                   "layer": layer, "count": len(gdf), "columns": [
                       c for c in gdf.columns if c != gdf.geometry.name]}
    if gdf.crs is None:
        facts["crs"] = None
        facts["units"] = "unknown (no CRS: pass --crs when reading)"
    else:
        resolved = resolve_crs(gdf.crs, what=p.name)
        facts["crs"] = crs_label(resolved)
        facts["crs_name"] = resolved.name
        facts["compound_crs"] = bool(gdf.crs.is_compound)
        facts["units"] = linear_units(resolved)
    facts["extent"] = [float(v) for v in gdf.total_bounds]
    g = gdf.geometry
    empty = g.isna() | g.is_empty
    facts["empty"] = int(empty.sum())
    facts["geometry_types"] = g[~empty].geom_type.value_counts().to_dict()
    facts["invalid"] = int((~g[~empty].is_valid).sum())
    text = [c for c in facts["columns"] if gdf[c].dtype == object
            or pd.api.types.is_string_dtype(gdf[c])]
    facts["mis_decoded_text_columns"] = [
        c for c in text if gdf[c].astype(str).str.contains(_MOJIBAKE, regex=True).any()]
    if id_col is not None:
        if id_col not in gdf.columns:
            raise IdError(f"{p.name} has no column {id_col!r}; columns: "
                          f"{', '.join(facts['columns'])}")
        ids = normalize_ids(gdf[id_col])
        facts["id"] = id_col
        facts["missing_ids"] = int(ids.isna().sum())
        facts["duplicate_ids"] = int(ids.duplicated(keep=False).sum())
    return facts


def restore_empty(frame: gpd.GeoDataFrame, id_col: str | None = None) -> gpd.GeoDataFrame:
    """Put the units :func:`read_boundaries` dropped as empty back, as empty polygons.

    The one restoration of empty units of gisfix (the vintage diff and ``gisfix diff`` keep
    them as empty rows that are not compared).  It uses the ids the reader recorded in
    ``frame.attrs["gisfix"]["dropped_empty_ids"]``; the source file is never re-opened.

    Parameters
    ----------
    frame : GeoDataFrame
        Units read with ``drop_empty=True``.
    id_col : str, optional
        Also fill this column with the restored ids (when the ids are a column too).

    Returns
    -------
    GeoDataFrame
        ``frame`` followed by one empty polygon per dropped unit (``frame`` itself when no
        unit was dropped).

    Raises
    ------
    DataError
        When the frame says units were dropped but not which ones (a frame not made by
        :func:`read_boundaries`): re-read it with ``drop_empty=True``.
    """
    missing = dropped_empty_ids(frame, id_col)
    if not missing:
        return frame
    extra = {id_col: missing} if id_col is not None else {}
    empty = gpd.GeoDataFrame(extra, index=pd.Index(missing, name=frame.index.name),
                             crs=frame.crs, geometry=[shapely.Polygon()] * len(missing))
    if frame.geometry.name != "geometry":
        empty = empty.rename_geometry(frame.geometry.name)
    return pd.concat([frame, empty])


def dropped_empty_ids(frame: gpd.GeoDataFrame, id_col: str | None = None) -> list[str]:
    """Return the ids of units that :func:`read_boundaries` dropped as empty.

    Parameters
    ----------
    frame : GeoDataFrame
        Units read with ``drop_empty=True`` (the ids are in ``frame.attrs["gisfix"]``).
    id_col : str, optional
        The column of ids when they are not the index.

    Returns
    -------
    list of str
        Dropped ids not present in ``frame`` (``[]`` for frames without a read record).

    Raises
    ------
    DataError
        When the record counts dropped units but does not name them.
    """
    meta = frame.attrs.get("gisfix") or {}
    if not meta.get("dropped_empty"):
        return []
    ids = meta.get("dropped_empty_ids")
    if ids is None:
        raise DataError(f"the units record {meta['dropped_empty']} units dropped as empty but "
                        "not their ids (attrs['gisfix']['dropped_empty_ids']); re-read the file "
                        "with gisfix.read_boundaries(..., drop_empty=True)")
    present = {str(k) for k in (frame[id_col] if id_col is not None else frame.index)}
    return [str(k) for k in ids if str(k) not in present]


#: Suffixes read as delimited text by :func:`read_table`.
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: str | os.PathLike, *, layer: str | None = None,
               geometry: bool = False, text_cols=(), all_text: bool = False,
               what: str = "table") -> pd.DataFrame:
    """Read an attribute table: CSV/TSV text, Parquet, or any vector file GDAL reads.

    The one table reader of gisfix (the ``inequality``, ``did`` and ``events`` verbs, the
    policy panels and the workflows use it).  Text is read as UTF-8, with or without a byte
    order mark.

    Parameters
    ----------
    path : path-like
        A ``.csv``/``.tsv``/``.txt`` table, a ``.parquet`` table or a vector file
        (GeoPackage, shapefile...).
    layer : str, optional
        The layer of a multi-layer vector file.
    geometry : bool
        Also read the geometries (a vector file only).
    text_cols : sequence of str
        Columns read as text (ids such as ``"012345"`` keep their leading zeros).
    all_text : bool
        Read every column of a text table as text, empty cells as empty strings.
    what : str
        What the table is, for messages (``"code history"``...).

    Returns
    -------
    DataFrame or GeoDataFrame

    Raises
    ------
    InputFileError
        When the file is missing or cannot be read (not UTF-8, corrupt...).
    DataError
        When geometries are asked of a text or Parquet table.
    UsageError
        For a missing or ambiguous layer.
    GeometryError
        When geometries are asked of a layer that mixes polygons with other types.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{what} {p} does not exist")
    suffix = p.suffix.lower()
    if geometry and (suffix in CSV_SUFFIXES or suffix in PARQUET_SUFFIXES):
        raise DataError(f"this needs polygons but {p.name} is a {suffix[1:].upper()} table; "
                        "use a vector file (GeoPackage, shapefile, GeoJSON...)")
    if suffix in CSV_SUFFIXES:
        kw: dict = {"sep": "\t" if suffix == ".tsv" else ","}
        if all_text:
            kw.update(dtype=str, keep_default_na=False)
        elif text_cols:
            head = _read_text_table(p, what, nrows=0, **kw).columns
            kw["dtype"] = {c: str for c in text_cols if c in head}
        return _read_text_table(p, what, **kw)
    if suffix in PARQUET_SUFFIXES:
        try:
            df = pd.read_parquet(p)
        except Exception as exc:
            raise InputFileError(f"cannot read {p.name} as Parquet: {exc}") from exc
        for c in (df.columns if all_text else text_cols):
            if c in df.columns:
                df[c] = df[c].astype(str)
        return df
    import pyogrio

    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(p)]
    except Exception as exc:
        raise InputFileError(f"cannot open {p} as a table or vector file: {exc}") from exc
    if layer is None and len(layers) > 1:
        raise UsageError(f"{p.name} has {len(layers)} layers ({', '.join(layers)}); "
                         "choose one with --layer")
    if layer is not None and layer not in layers:
        raise UsageError(f"{p.name} has no layer {layer!r}; it has: {', '.join(layers)}")
    try:
        df = pyogrio.read_dataframe(p, layer=layer, read_geometry=geometry)
    except Exception as exc:
        raise InputFileError(f"cannot read {p}: {exc}") from exc
    if geometry and hasattr(df, "geom_type"):
        other = sorted(set(df.geom_type.dropna()) - {"Polygon", "MultiPolygon"})
        if other:
            raise GeometryError(f"{p.name} mixes polygons with {', '.join(other)}; this "
                                "needs polygons only (select them first)")
    return df


def _read_text_table(p: Path, what: str, **kw) -> pd.DataFrame:
    """``pandas.read_csv`` of UTF-8 text (BOM or not); unreadable text is an InputFileError."""
    try:
        return pd.read_csv(p, encoding="utf-8-sig", **kw)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{p.name} is not UTF-8 text ({exc.reason} at byte {exc.start}); save the {what} "
            "as UTF-8 (e.g. iconv -f gbk -t utf-8)") from exc
    except Exception as exc:
        raise InputFileError(f"cannot read {p.name} as a CSV {what}: {exc}") from exc
