"""Shared output plumbing: atomic writes, provenance records, table and layer writers.

Every file gisfix writes goes through :func:`atomic_path`: results are written to a
temporary file beside the target and renamed into place only when complete, so a failure
never leaves a half-written output.  Every output carries a provenance record
(:func:`provenance`): the gisfix version, the inputs and the parameters that made it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from gisfix._version import __version__
from gisfix.errors import ExtentError, InputFileError, OutputExistsError, OutputFormatError

#: GeoPackage 1.2 opens without warnings in QGIS 3.22 (GDAL 3.6), which warns on 1.4.
GPKG_OPTIONS = {"VERSION": "1.2"}

#: File suffixes the table writer understands.
TABLE_SUFFIXES = (".csv", ".parquet", ".gpkg", ".json")


def provenance(inputs: Mapping[str, object] | None = None, parameters: Mapping | None = None,
               command: str | None = None) -> dict:
    """Return the provenance record stored with every output.

    Parameters
    ----------
    inputs : mapping
        Named inputs; paths are recorded with their size and modification time.
    parameters : mapping
        The parameters of the computation (JSON-serialisable values).
    command : str, optional
        The API function or CLI verb that made the output.

    Returns
    -------
    dict
        ``gisfix_version``, ``created`` (UTC, ISO 8601), ``command``, ``inputs`` (each input
        described) and ``parameters`` (made JSON-serializable).
    """
    recorded = {}
    for name, value in (inputs or {}).items():
        recorded[name] = _describe_input(value)
    return {
        "gisfix_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "inputs": recorded,
        "parameters": _jsonable(dict(parameters or {})),
    }


def _describe_input(value):
    if isinstance(value, list | tuple):
        return [_describe_input(v) for v in value]
    if isinstance(value, str | os.PathLike) and Path(value).exists():
        p = Path(value)
        st = p.stat()
        return {"path": str(p.resolve()), "bytes": st.st_size,
                "modified": _dt.datetime.fromtimestamp(st.st_mtime, _dt.UTC).isoformat(
                    timespec="seconds")}
    return _jsonable(value)


def _jsonable(value):
    """Convert numpy scalars, paths and tuples into JSON-friendly values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and value != value:
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def check_output(path: str | os.PathLike, overwrite: bool = False,
                 suffixes: tuple[str, ...] | None = None) -> Path:
    """Validate an output path before any work is done.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    overwrite : bool
        Allow replacing an existing file.
    suffixes : tuple of str, optional
        The allowed lower-case suffixes (``(".csv", ".gpkg")``...); any suffix when None.

    Returns
    -------
    pathlib.Path
        ``Path(path)``.

    Raises
    ------
    OutputExistsError
        If the file exists and ``overwrite`` is False.
    OutputFormatError
        If the suffix is not one of ``suffixes`` or the folder does not exist.
    """
    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise OutputFormatError(
            f"unknown output format {p.suffix or '(no suffix)'!r} for {p}; use one of "
            + ", ".join(suffixes)
        )
    if p.exists() and not overwrite:
        raise OutputExistsError(f"{p} exists; pass --overwrite (overwrite=True) to replace it")
    if not p.parent.exists():
        raise OutputFormatError(f"the folder {p.parent} does not exist; create it first")
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    The temporary file keeps the real suffix last (GDAL picks drivers by it) and is removed
    when the block raises, so a failed write never leaves a half-written output.

    Parameters
    ----------
    path : str or os.PathLike
        The final file (checked with :func:`check_output`).
    overwrite : bool
        Allow replacing an existing file.

    Yields
    ------
    pathlib.Path
        The temporary path to write to (it does not exist yet).

    Raises
    ------
    OutputExistsError, OutputFormatError
        As :func:`check_output`, before the block runs.

    Examples
    --------
    >>> with atomic_path("out.csv", overwrite=True) as tmp:  # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    target = check_output(path, overwrite)
    # keep the real suffix last: GDAL picks drivers and checks names by it
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp" + target.suffix,
                               dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(obj: Mapping, path, overwrite: bool = False) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically.

    Parameters
    ----------
    obj : Mapping
        The record; numpy scalars, paths and timestamps are converted to JSON types.
    path : str or os.PathLike
        The file to write.
    overwrite : bool
        Allow replacing an existing file.

    Returns
    -------
    pathlib.Path
        ``Path(path)``.

    Raises
    ------
    OutputExistsError, OutputFormatError
        As :func:`check_output`.
    """
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(json.dumps(_jsonable(obj), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    return Path(path)


def write_table(df: pd.DataFrame, path, prov: Mapping, overwrite: bool = False,
                layer: str = "table") -> Path:
    """Write a DataFrame as CSV, Parquet, GeoPackage table or JSON with provenance.

    CSV gets a sidecar ``<file>.provenance.json``; Parquet stores the record in its schema
    metadata; a GeoPackage gets a ``provenance`` table; JSON embeds it.

    Parameters
    ----------
    df : DataFrame
        The table (its index is not written: reset it first to keep it).
    path : str or os.PathLike
        The output file; its suffix (one of :data:`TABLE_SUFFIXES`) picks the format.
    prov : Mapping
        The provenance record (:func:`provenance`).
    overwrite : bool
        Allow replacing an existing file.
    layer : str
        The layer name in a GeoPackage.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputExistsError, OutputFormatError
        As :func:`check_output` (an unknown suffix is an :class:`OutputFormatError`).
    """
    p = check_output(path, overwrite, TABLE_SUFFIXES)
    suffix = p.suffix.lower()
    text = json.dumps(_jsonable(prov), ensure_ascii=False)
    if suffix == ".csv":
        side = p.with_name(p.name + ".provenance.json")
        with atomic_path(p, overwrite) as tmp:
            df.to_csv(tmp, index=False)
            write_json(prov, side, overwrite=True)
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"gisfix_provenance"] = text.encode()
        with atomic_path(p, overwrite) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp)
    elif suffix == ".json":
        write_json({"provenance": prov, "rows": df.to_dict(orient="records")}, p, overwrite)
    else:
        write_layers(p, {layer: df}, prov, overwrite)
    return p


def write_layers(path, layers: Mapping[str, pd.DataFrame], prov: Mapping,
                 overwrite: bool = False, styles: Mapping[str, str] | None = None,
                 style_options: Mapping | None = None, qml: bool = True) -> Path:
    """Write several layers (GeoDataFrames or plain tables) into one GeoPackage, atomically.

    A ``provenance`` table with one JSON row is added. Every vector layer gets a default QGIS
    style, stored in the ``layer_styles`` table (QGIS opens the layer with it) and, with
    ``qml``, as ``<file stem>.<layer>.qml`` beside the GeoPackage; a layer that also holds
    LISA clusters, Gi* hot spots, growth types, stages or unit status gets those as
    alternative styles in ``layer_styles`` (:func:`gisfix.styles.alternative_styles`).

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` to write.
    layers : mapping
        Layer name -> GeoDataFrame (a vector layer), DataFrame (a table) or
        :class:`LayerStream` (a layer collected batch by batch; give its style in ``styles``).
    prov : mapping
        Provenance record (:func:`provenance`).
    overwrite : bool
        Replace an existing file.
    styles : mapping, optional
        Layer name -> QML document, overriding the automatic style.
    style_options : mapping, optional
        Keyword arguments of :func:`gisfix.styles.style_for` for the automatic styles
        (``scheme=``, ``classes=``).
    qml : bool
        Also write each style as a ``.qml`` file beside the GeoPackage.

    Returns
    -------
    pathlib.Path
        The written GeoPackage.

    Raises
    ------
    OutputExistsError, OutputFormatError
        As :func:`check_output` (only ``.gpkg`` is accepted).
    """
    import geopandas as gpd
    import pyogrio

    from gisfix.styles import alternative_styles, style_for

    p = check_output(path, overwrite, (".gpkg",))
    streams = {name: f for name, f in layers.items() if isinstance(f, LayerStream)}
    layers = {name: f.sample if name in streams else f for name, f in layers.items()}
    resolved = dict(styles or {})
    alternates = {}
    for name, frame in layers.items():
        if name not in resolved:
            qml_doc = style_for(name, frame, **dict(style_options or {}))
            if qml_doc is not None:
                resolved[name] = qml_doc
        if name in resolved:
            alternates[name] = alternative_styles(name, frame)
    with atomic_path(p, overwrite) as tmp:
        for name, frame in layers.items():
            if name in streams:
                streams[name].copy_to(tmp, name)
            elif isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
                pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG",
                                        append=tmp.exists(), **GPKG_OPTIONS)
            else:
                pyogrio.write_dataframe(pd.DataFrame(frame), tmp, layer=name, driver="GPKG",
                                        append=tmp.exists(), **GPKG_OPTIONS)
        meta = pd.DataFrame({"key": ["gisfix_provenance"],
                             "value": [json.dumps(_jsonable(prov), ensure_ascii=False)]})
        pyogrio.write_dataframe(meta, tmp, layer="provenance", driver="GPKG", append=True,
                                **GPKG_OPTIONS)
        if resolved:
            _write_qgis_styles(tmp, layers, resolved, alternates)
    if qml:
        for name, doc in resolved.items():
            with atomic_path(style_path(p, name), overwrite=True) as tmp:
                tmp.write_text(doc, encoding="utf-8")
    return p


class LayerStream:
    """A GeoPackage layer collected batch by batch, for :func:`write_layers`.

    Batches (GeoDataFrames with the same columns, e.g. the finished patches of a streamed
    :func:`gisfix.lei.landscape_expansion_index`) are appended with pyogrio to a scratch
    GeoPackage beside the output, so memory holds at most ``chunk`` features.
    :func:`write_layers` then copies them, ``chunk`` features at a time and ordered by
    ``order_by``, into its temporary file, exactly as it writes a GeoDataFrame of all the
    features (same columns, types, layer geometry type and feature order), before the
    atomic rename.  Use it as a context manager: the scratch file is removed on exit,
    whether the block succeeded or raised.

    Parameters
    ----------
    path : str or os.PathLike
        The output the layer will be written to (the scratch file goes in its folder).
    order_by : str, optional
        An integer column, unique per feature: features are written in its order
        (default: the order they came in).
    reset_index : bool
        Write the frames' index as a column (as ``frame.reset_index()``).
    chunk : int
        Features buffered before an append, and copied at a time.

    Examples
    --------
    >>> with LayerStream("lei.gpkg", order_by="patch_id") as patches:  # doctest: +SKIP
    ...     table = landscape_expansion_index(stack, 2000, 2020, sink=patches)
    ...     write_layers("lei.gpkg", {"patches": patches}, prov, styles={"patches": qml})
    """

    def __init__(self, path, order_by: str | None = None, reset_index: bool = True,
                 chunk: int = 20_000):
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".part.gpkg",
                                   dir=target.parent if str(target.parent) else ".")
        os.close(fd)
        os.unlink(tmp)  # GDAL creates the file itself
        self.scratch = Path(tmp)
        self.order_by = order_by
        self.reset_index = reset_index
        self.chunk = max(1, int(chunk))
        self.n = 0
        self.schema = None
        self.sample = None
        self._types: set[str] = set()
        self._buffer: list = []
        self._buffered = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Remove the scratch file (and its SQLite side files)."""
        self._buffer = []
        for suffix in ("", "-journal", "-wal", "-shm"):
            side = Path(str(self.scratch) + suffix)
            if side.exists():
                side.unlink()

    def __call__(self, frame) -> None:
        """Same as :meth:`append`."""
        self.append(frame)

    def append(self, frame) -> None:
        """Add a batch of features (a GeoDataFrame).

        Parameters
        ----------
        frame : geopandas.GeoDataFrame
            The features; every batch has the same columns.
        """
        import geopandas as gpd

        from gisfix.styles import CATEGORICAL

        if self.reset_index:
            frame = frame.reset_index()
        if self.schema is None:
            self.schema = frame.iloc[:0].copy()
            self.sample = self.schema
        self._types.update(frame.geom_type.dropna().unique())
        cats = [c for c in CATEGORICAL if c in frame.columns]
        if cats and len(frame):  # what a categorised style needs: every category seen
            self.sample = gpd.GeoDataFrame(pd.concat([self.sample, frame.drop_duplicates(
                cats)]).drop_duplicates(cats), geometry=frame.geometry.name, crs=frame.crs)
        if len(frame):
            self._buffer.append(frame)
            self._buffered += len(frame)
            self.n += len(frame)
        if self._buffered >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        import pyogrio

        if not self._buffer:
            return
        frame = pd.concat(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        self._buffer, self._buffered = [], 0
        pyogrio.write_dataframe(frame, self.scratch, layer="features", driver="GPKG",
                                geometry_type="Unknown", promote_to_multi=False,
                                append=self.scratch.exists(), SPATIAL_INDEX="NO")

    def geometry_type(self) -> str:
        """The layer geometry type pyogrio gives a GeoPackage of all the features."""
        types = self._types
        if len(types) == 1:
            return next(iter(types))
        for single in ("Polygon", "LineString", "Point"):
            if types == {single, f"Multi{single}"}:
                return f"Multi{single}"
        return "Unknown"

    def copy_to(self, gpkg, layer: str) -> None:
        """Write the collected features as ``layer`` of the GeoPackage ``gpkg``.

        Parameters
        ----------
        gpkg : path-like
            The GeoPackage (created when it does not exist).
        layer : str
            The layer name.
        """
        import sqlite3

        import pyogrio

        gpkg = Path(gpkg)
        if self.schema is None:
            raise OutputFormatError(f"no feature batch reached the layer {layer!r}; "
                                    "nothing defines its columns")
        self._flush()
        if self.n == 0:
            pyogrio.write_dataframe(self.schema, gpkg, layer=layer, driver="GPKG",
                                    append=gpkg.exists(), **GPKG_OPTIONS)
            return
        key = self.order_by or "fid"
        con = sqlite3.connect(self.scratch)
        try:
            con.execute(f'CREATE INDEX IF NOT EXISTS "features_order" ON features ("{key}")')
            con.commit()
        finally:
            con.close()
        geom = self.schema.geometry.name
        cols = ", ".join(f'"{c}"' for c in self.schema.columns if c != geom)
        gtype = self.geometry_type()
        last = None
        while True:
            where = "" if last is None else f' WHERE "{key}" > {int(last)}'
            sql = (f'SELECT {cols}{", " if cols else ""}geom, "{key}" AS "_gisfix_key" '
                   f'FROM features{where} ORDER BY "{key}" LIMIT {self.chunk}')
            part = pyogrio.read_dataframe(self.scratch, sql=sql)
            if not len(part):
                break
            last = part["_gisfix_key"].iloc[-1]
            part = part.drop(columns="_gisfix_key").rename_geometry(geom) \
                if geom != part.geometry.name else part.drop(columns="_gisfix_key")
            part = part.set_crs(self.schema.crs, allow_override=True)[list(self.schema.columns)]
            pyogrio.write_dataframe(part, gpkg, layer=layer, driver="GPKG",
                                    geometry_type=gtype, append=gpkg.exists(), **GPKG_OPTIONS)


def style_path(gpkg, layer: str) -> Path:
    """Return the ``.qml`` file written beside ``gpkg`` for ``layer``.

    Parameters
    ----------
    gpkg : str or os.PathLike
        The GeoPackage.
    layer : str
        The layer name.

    Returns
    -------
    pathlib.Path
        ``<folder>/<stem>.<layer>.qml``.
    """
    g = Path(gpkg)
    return g.with_name(f"{g.stem}.{layer}.qml")


def _write_qgis_styles(gpkg: Path, layers: Mapping, styles: Mapping[str, str],
                       alternates: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Store QML styles in the GeoPackage's ``layer_styles`` table (QGIS's convention).

    ``styles`` are the layers' default styles; ``alternates`` (layer -> style name -> QML)
    are stored too, not as default: QGIS offers them under Style > Load Style > Database.
    """
    import sqlite3

    con = sqlite3.connect(gpkg)
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "f_table_catalog TEXT, f_table_schema TEXT, f_table_name TEXT, "
            "f_geometry_column TEXT, styleName TEXT, styleQML TEXT, styleSLD TEXT, "
            "useAsDefault BOOLEAN, description TEXT, owner TEXT, ui TEXT, "
            "update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
        )
        # GDAL only exposes tables registered in gpkg_contents, and QGIS reads styles via GDAL
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles')"
        )
        rows = [(name, name, qml, 1, "gisfix default style") for name, qml in styles.items()]
        rows += [(name, style_name, qml, 0, "gisfix alternative style")
                 for name, named in (alternates or {}).items()
                 for style_name, qml in named.items()]
        for name, style_name, qml, default, description in rows:
            geom = layers[name].geometry.name if hasattr(layers[name], "geometry") else "geom"
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner) VALUES ('', '', ?, ?, ?, ?, '', ?, ?, 'gisfix')",
                (name, "geom" if geom == "geometry" else geom, style_name, qml, default,
                 description),
            )
        con.commit()
    finally:
        con.close()


def read_provenance(path) -> dict:
    """Return the provenance record stored in a gisfix output (any supported format).

    Parameters
    ----------
    path : str or os.PathLike
        A CSV (its ``.provenance.json`` sidecar is read), Parquet, JSON, TOML or GeoPackage
        output of gisfix.

    Returns
    -------
    dict
        The record written by :func:`write_table` / :func:`write_layers`.

    Raises
    ------
    FileNotFoundError
        When the output or its sidecar does not exist.
    KeyError
        When a Parquet or JSON file carries no gisfix provenance.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return json.loads(p.with_name(p.name + ".provenance.json").read_text(encoding="utf-8"))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return json.loads(pq.read_schema(p).metadata[b"gisfix_provenance"])
    if suffix == ".json":
        return json.loads(p.read_text(encoding="utf-8"))["provenance"]
    if suffix == ".toml":
        import tomllib

        return tomllib.loads(p.read_text(encoding="utf-8")).get("provenance", {})
    import pyogrio

    meta = pyogrio.read_dataframe(p, layer="provenance")
    return json.loads(meta["value"].iloc[0])


def copy_raster_window(src, dst, bounds=None, overwrite: bool = False,
                       block_rows: int = 1024) -> Path:
    """Copy the cells of a raster covering ``bounds`` into a compressed GeoTIFF, atomically.

    The window is snapped outward to the source grid (no resampling) and copied in strips
    of ``block_rows`` rows, so memory stays bounded on national rasters.

    Parameters
    ----------
    src : path-like
        The source raster.
    dst : path-like
        The GeoTIFF to write.
    bounds : (xmin, ymin, xmax, ymax), optional
        The region in the raster's CRS (default the whole raster).
    overwrite : bool
        Replace an existing ``dst``.
    block_rows : int
        Rows per strip.

    Returns
    -------
    pathlib.Path
        ``Path(dst)``.

    Raises
    ------
    InputFileError
        When ``src`` does not exist.
    ExtentError
        When ``bounds`` does not overlap the raster.
    OutputExistsError, OutputFormatError
        As :func:`check_output` for ``dst``.
    """
    import math

    import rasterio
    from rasterio.windows import Window

    with rasterio.open(require_file(src)) as r:
        if bounds is None:
            c0, r0, c1, r1 = 0, 0, r.width, r.height
        else:
            inv = ~r.transform
            xs, ys = zip(*(inv * (x, y) for x in (bounds[0], bounds[2])
                           for y in (bounds[1], bounds[3])), strict=True)
            c0 = max(0, math.floor(round(min(xs), 6)))
            c1 = min(r.width, math.ceil(round(max(xs), 6)))
            r0 = max(0, math.floor(round(min(ys), 6)))
            r1 = min(r.height, math.ceil(round(max(ys), 6)))
        if c1 <= c0 or r1 <= r0:
            raise ExtentError(f"the region {bounds} does not overlap the raster {src}")
        win = Window(c0, r0, c1 - c0, r1 - r0)
        profile = r.profile.copy()
        profile.update(driver="GTiff", width=c1 - c0, height=r1 - r0,
                       transform=r.window_transform(win), compress="deflate", tiled=True,
                       blockxsize=256, blockysize=256, BIGTIFF="IF_SAFER")
        with atomic_path(dst, overwrite) as tmp, rasterio.open(tmp, "w", **profile) as out:
            for row in range(0, r1 - r0, block_rows):
                h = min(block_rows, r1 - r0 - row)
                out.write(r.read(window=Window(c0, r0 + row, c1 - c0, h)),
                          window=Window(0, row, c1 - c0, h))
    return Path(dst)


def raster_summary(path) -> dict:
    """Return the CRS (WKT) and the (min, max) of a raster's first band, from a decimated read.

    Parameters
    ----------
    path : path-like
        The raster.

    Returns
    -------
    dict
        ``crs`` (WKT or None) and ``range`` (the minimum and maximum of the decimated first
        band, nodata masked).

    Raises
    ------
    InputFileError
        When the raster does not exist.
    """
    import numpy as np
    import rasterio

    with rasterio.open(require_file(path)) as r:
        step = max(1, max(r.width, r.height) // 1024)
        a = r.read(1, out_shape=(max(1, r.height // step), max(1, r.width // step)),
                   masked=True)
        vals = a.compressed() if np.ma.isMaskedArray(a) else np.ravel(a)
        vals = vals[np.isfinite(vals)] if vals.dtype.kind == "f" else vals
        rng = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
        return {"crs": r.crs.to_wkt() if r.crs else None, "range": rng}


def read_layers(path, skip: tuple[str, ...] = ("layer_styles", "provenance")) -> dict:
    """Read every layer of a GeoPackage: name -> GeoDataFrame (vector) or DataFrame (table).

    Parameters
    ----------
    path : path-like
        The GeoPackage (e.g. one written by :func:`write_layers`).
    skip : tuple of str
        Layers left out (gisfix's bookkeeping tables by default).

    Returns
    -------
    dict
        Layer name -> GeoDataFrame (a vector layer) or DataFrame (a table), in file order.

    Raises
    ------
    InputFileError
        When the GeoPackage does not exist.
    """
    import geopandas as gpd
    import pyogrio

    out = {}
    for name, geom in pyogrio.list_layers(require_file(path)):
        if name in skip:
            continue
        if geom:
            out[name] = gpd.read_file(path, layer=name, engine="pyogrio")
        else:
            out[name] = pyogrio.read_dataframe(path, layer=name, read_geometry=False)
    return out


def require_file(path) -> Path:
    """Return ``Path(path)`` or raise :class:`InputFileError` naming the missing file.

    Parameters
    ----------
    path : str or os.PathLike
        An input file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputFileError
        When nothing exists at ``path``.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"no such file: {p}")
    return p
