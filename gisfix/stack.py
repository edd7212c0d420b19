"""Built-up raster stacks: one lazy object for every built-up encoding gisfix reads.

:func:`open_builtup` opens one raster (``year-built``, ``ldsmt``: every epoch in one band)
or one raster per epoch (``binary``, ``fraction``, ``class=V[,V]``) and returns a
:class:`BuiltupStack`.  Nothing is read until asked; every read takes a
:class:`rasterio.windows.Window`, so callers work strip by strip in bounded memory.

Encodings
---------
``year-built``
    One band; each cell holds the first epoch it was built (GHSL / GOSTurban style,
    e.g. 1975, 1980, ... 2030); nodata means never built.  Epochs default to the distinct
    values present.  A cell is built at epoch *E* when its value is <= *E*.
``ldsmt``
    GHS-BUILT LDSMT (R2015B): 0 nodata, 1 water, 2 land never built, 3 built 2000-2014,
    4 built 1990-2000, 5 built 1975-1990, 6 built before 1975.  Epochs 1975, 1990, 2000,
    2014 (1975 stands for "by 1975").  Water counts as observed (valid) and not built.
``binary``
    One raster per epoch: non-zero = built, 0 = not built, nodata = not observed.
``fraction``
    One raster per epoch holding the built-up fraction of each cell, in ``fraction_units``
    ``"unit"`` (0-1), ``"percent"`` (0-100) or ``"m2"`` (m² of built surface per cell, as in
    GHS-BUILT-S).
``class=V[,V...]``
    One land-cover raster per epoch; the listed class values are built (CORINE reduced to
    urban = 1: ``class=1``).
``population``
    One raster per epoch holding counts (inhabitants per cell, GHS-POP); nodata = not
    observed.  Summed, not thresholded: read it with :meth:`BuiltupStack.read_population`
    and sum it over units with :func:`gisfix.efficiency.population_by_unit`; the built-up
    reads refuse it.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import InitVar, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import Window

from gisfix.crs import check_area_crs, crs_label, geodesic_row_areas, resolve_crs
from gisfix.errors import (
    ClipWarning,
    CRSError,
    ExtentError,
    GeometryError,
    InputFileError,
    PartialOverlapWarning,
    RasterError,
)

ORDINAL_ENCODINGS = ("year-built", "ldsmt")
PER_EPOCH_ENCODINGS = ("binary", "fraction", "class", "population")
ENCODINGS = ("year-built", "ldsmt", "binary", "fraction", "class=V[,V]", "population")
FRACTION_UNITS = ("unit", "percent", "m2")

#: LDSMT class -> index of the first epoch built in LDSMT_EPOCHS.
LDSMT_EPOCHS = (1975, 1990, 2000, 2014)
_LDSMT_FIRST = {6: 0, 5: 1, 4: 2, 3: 3}
LDSMT_NODATA = 0

#: Codes of :meth:`BuiltupStack.read_ordinal` beyond the epoch indices.
INVALID = np.uint8(255)

#: Default number of cells per window: bounded memory whatever the raster size.
DEFAULT_WINDOW_CELLS = 4_000_000

_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


def parse_encoding(encoding: str) -> tuple[str, tuple[float, ...]]:
    """Split an encoding string into its kind and, for ``class=``, the built class values.

    Parameters
    ----------
    encoding : str
        One of :data:`ENCODINGS` (case and ``_``/``-`` insensitive; ``year`` and
        ``yearbuilt`` mean ``year-built``), or ``class=V[,V]``.

    Returns
    -------
    tuple of (str, tuple of float)
        The normalized kind and the class values (empty unless ``class=``).

    Raises
    ------
    RasterError
        For an unknown encoding or ``class=`` without values.

    Examples
    --------
    >>> parse_encoding("class=1,2")
    ('class', (1.0, 2.0))
    >>> parse_encoding("year-built")
    ('year-built', ())
    """
    enc = encoding.strip().lower().replace("_", "-")
    if enc.startswith("class"):
        _, _, values = enc.partition("=")
        try:
            classes = tuple(float(v) for v in values.split(",") if v.strip())
        except ValueError:
            classes = ()
        if not classes:
            raise RasterError(
                f"encoding {encoding!r} lists no class values; write e.g. 'class=1' or "
                "'class=111,112' (the land-cover values that count as built)"
            )
        return "class", classes
    if enc in ("yearbuilt", "year"):
        enc = "year-built"
    if enc not in ORDINAL_ENCODINGS + ("binary", "fraction", "population"):
        raise RasterError(
            f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}"
        )
    return enc, ()


def epochs_from_names(paths: Sequence[Path]) -> list[int]:
    """Return the 4-digit year in each file name, or raise if one is missing or ambiguous.

    Parameters
    ----------
    paths : sequence of pathlib.Path
        One raster per epoch (``builtup_2000.tif``...).

    Returns
    -------
    list of int
        The epoch of every file, in file order.

    Raises
    ------
    RasterError
        When a file stem holds no year or more than one distinct year.
    """
    years = []
    for p in paths:
        found = sorted(set(_YEAR.findall(p.stem)))
        if len(found) != 1:
            raise RasterError(
                f"cannot tell the epoch of {p.name} from its name (found "
                f"{found or 'no year'}); pass epochs=[...] (--epochs Y,Y,...) in file order"
            )
        years.append(int(found[0]))
    return years


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS, affine transform and shape.

    Attributes
    ----------
    crs : pyproj.CRS
        The horizontal CRS.
    transform : affine.Affine
        The affine transform from (column, row) to CRS coordinates.
    width, height : int
        The number of columns and rows.
    """

    crs: object
    transform: object
    width: int
    height: int

    def describe(self) -> str:
        """Return a one-line description naming CRS, size, cell size and origin."""
        t = self.transform
        return (f"{crs_label(self.crs)} {self.width}x{self.height} cells of "
                f"{abs(t.a):.6g}x{abs(t.e):.6g} at ({t.c:.6f}, {t.f:.6f})")

    def same_as(self, other: Grid, rtol: float = 1e-9) -> bool:
        """Return True if the grids coincide (same CRS, shape and transform)."""
        return (self.crs == other.crs and self.width == other.width
                and self.height == other.height
                and self.transform.almost_equals(other.transform, precision=rtol * max(
                    1.0, abs(self.transform.c), abs(self.transform.f))))


@dataclass
class BuiltupStack:
    """A lazy stack of built-up rasters, one layer per epoch (see the module docstring).

    Use :func:`open_builtup` to make one.  Reads are windowed; file handles open on first
    use (one set per thread) and close with :meth:`close` or at the end of a ``with`` block.
    ``epochs`` may be None for a year-built stack: the distinct years are then found when
    first needed (:func:`gisfix.builtup_by_unit` finds them in its counting pass instead).

    Attributes
    ----------
    paths : tuple of pathlib.Path
        The raster files: one per epoch, or a single year-built / LDSMT raster.
    encoding : str
        The encoding kind (:func:`parse_encoding`).
    epochs : tuple of int or None
        The epochs (an init-only argument; read the :attr:`epochs` property).
    grid : Grid
        The common grid of the files.
    nodata : tuple of float or None
        The nodata value of every file.
    dtype : str
        The data type of the first file.
    classes : tuple of float
        The built class values of a ``class=`` encoding.
    fraction_units : str
        ``"unit"`` (0-1), ``"percent"`` or ``"m2"`` per cell, for a fraction raster.
    area_scale : float
        The areal scale factor of the CRS at the raster's centre (1.0 when equal-area;
        see :func:`gisfix.crs.check_area_crs`).
    aoi : shapely geometry or None
        The study area in the raster CRS: cells outside it are not observed.
    valid_mask : pathlib.Path or None
        A raster on the same grid whose 0 or nodata cells are not observed.
    """

    paths: tuple[Path, ...]
    encoding: str
    epochs: InitVar[tuple[int, ...] | None]
    grid: Grid
    nodata: tuple[float | None, ...]
    dtype: str
    classes: tuple[float, ...] = ()
    fraction_units: str = "unit"
    area_scale: float = 1.0
    #: The study area (a shapely geometry in the raster CRS) or None: cells outside it are
    #: not observed.
    aoi: object = None
    #: A raster of the same grid: 0 or nodata = not observed; or None.
    valid_mask: Path | None = None
    _handles: dict = field(default_factory=dict, repr=False)
    _lut: np.ndarray | None = field(default=None, repr=False)
    _row_areas: np.ndarray | None = field(default=None, repr=False)
    _epochs: tuple[int, ...] | None = field(default=None, init=False, repr=False)

    def __post_init__(self, epochs):
        self._epochs = None if epochs is None else tuple(int(e) for e in epochs)

    # -- basic facts ---------------------------------------------------------------------
    @property
    def crs(self):
        """The horizontal CRS (pyproj)."""
        return self.grid.crs

    @property
    def transform(self):
        """The affine transform."""
        return self.grid.transform

    @property
    def width(self) -> int:
        """Number of columns."""
        return self.grid.width

    @property
    def height(self) -> int:
        """Number of rows."""
        return self.grid.height

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.grid.height, self.grid.width

    @property
    def is_ordinal(self) -> bool:
        """True when one band carries every epoch (``year-built``, ``ldsmt``)."""
        return self.encoding in ORDINAL_ENCODINGS

    @property
    def is_geographic(self) -> bool:
        """True for a lon/lat grid (cell areas then vary by row)."""
        return self.crs.is_geographic

    def epoch_index(self, epoch: int) -> int:
        """Return the position of ``epoch`` in :attr:`epochs`, or raise naming the choices."""
        try:
            return self.epochs.index(int(epoch))
        except ValueError as exc:
            raise RasterError(
                f"epoch {epoch} is not in this stack; its epochs are "
                + ", ".join(map(str, self.epochs))
            ) from exc

    @property
    def epochs_known(self) -> bool:
        """False while a year-built stack's epochs are still to be found (see ``epochs``)."""
        return self._epochs is not None

    def epochs_from_values(self, values) -> tuple[int, ...]:
        """Return the epochs of a year-built stack from the raw values present in it.

        ``values`` are the distinct raw values seen (nodata, 0 and negative values are
        never-built cells and are ignored).  Raises :class:`RasterError` when no year is
        left, or when the values cannot be years.
        """
        nd = self.nodata[0]
        present = sorted(int(v) for v in np.asarray(values).ravel()
                         if v > 0 and (nd is None or v != nd))
        name = self.paths[0].name
        if not present:
            raise RasterError(f"{name} holds no built year (all nodata or 0)")
        if present[0] < 1800 or present[-1] > 2200:
            raise RasterError(
                f"{name} holds values {present[0]}-{present[-1]}, not years; is it really "
                "year-built? try gisfix info for a guess, or pass the epochs (--epochs)")
        if len(present) > 254:
            raise RasterError(f"{name} holds {len(present)} distinct years; at most 254 "
                              "epochs per stack: pass the epochs to report (--epochs)")
        return tuple(present)

    def set_epochs(self, epochs: Sequence[int]) -> None:
        """Fix the epochs of a stack opened without them (year-built, found by a count)."""
        self._epochs = tuple(int(e) for e in epochs)
        self._lut = None

    def scan_epochs(self, progress: bool = False) -> tuple[int, ...]:
        """Find the epochs of a year-built stack by reading every cell (one windowed pass)."""
        from tqdm.auto import tqdm

        size = 256 if np.dtype(self.dtype).itemsize == 1 else 65536
        counts = np.zeros(size, dtype=np.int64)
        windows = list(self.windows())
        with bounded_reads():  # a pass reads each block once: GDAL need not keep them
            for w in tqdm(windows, disable=not progress, desc="scanning years", unit="strip",
                          leave=False, delay=0.5):
                raw = self.read_raw(w)
                observed = self.observed(w)
                counts += np.bincount((raw if observed is None else raw[observed]).ravel(),
                                      minlength=size)[:size]
        return self.epochs_from_values(np.flatnonzero(counts))

    # -- file handles --------------------------------------------------------------------
    def _ds(self, i: int = 0):
        key = threading.get_ident()  # rasterio handles must not be shared between threads
        handles = self._handles.get(key)
        if handles is None:
            handles = self._handles[key] = [rasterio.open(p) for p in self.paths]
        return handles[i]

    def close(self) -> None:
        """Close any open file handles (of every thread)."""
        for handles in list(self._handles.values()):
            for h in handles:
                h.close()
        self._handles = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):  # picklable for dask / multiprocessing: handles reopen lazily
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    # -- windows -------------------------------------------------------------------------
    def windows(self, max_cells: int = DEFAULT_WINDOW_CELLS) -> Iterator[Window]:
        """Yield full-width row strips of at most ``max_cells`` cells, aligned to blocks."""
        block_h = max(1, self._ds(0).block_shapes[0][0])
        rows = max(1, max_cells // max(1, self.width))
        if rows >= block_h:
            rows -= rows % block_h
        for r0 in range(0, self.height, rows):
            yield Window(0, r0, self.width, min(rows, self.height - r0))

    def row_window(self, r0: int, r1: int) -> Window:
        """Return the full-width window of rows ``r0`` to ``r1`` (exclusive): one strip."""
        return Window(0, r0, self.width, r1 - r0)

    def window_transform(self, window: Window | None = None):
        """Return the affine transform of ``window`` (the whole grid when None)."""
        from rasterio.windows import transform as window_transform

        return window_transform(self.resolve_window(window), self.transform)

    def rasterize(self, shapes, window: Window | None = None, fill=0, dtype="int32"):
        """Burn ``(geometry, value)`` pairs into ``window`` by the cell-centre rule (GDAL)."""
        from rasterio.features import rasterize

        w = self.resolve_window(window)
        return rasterize(shapes, out_shape=(int(w.height), int(w.width)),
                         transform=self.window_transform(w), fill=fill, all_touched=False,
                         dtype=dtype)

    def gdal_cache_cap(self, rows: int, threads: int):
        """Return a context that caps GDAL's block cache while strips are read.

        Whole strips are read once, so cached blocks are never reused; GDAL's default cache
        (5 % of RAM) would only add to the peak memory.  The cap keeps two strips' worth
        per thread (at least 256 MB); a smaller cache already in force is left alone.
        """
        import contextlib

        from rasterio._env import get_gdal_config

        need = 2 * threads * rows * self.width * np.dtype(self.dtype).itemsize
        cap = max(256 * 2**20, need)
        try:
            current = int(get_gdal_config("GDAL_CACHEMAX"))
        except (TypeError, ValueError):
            current = None
        if current is not None and current <= cap:
            return contextlib.nullcontext()
        return rasterio.Env(GDAL_CACHEMAX=cap)

    def resolve_window(self, window: Window | None = None) -> Window:
        """Return ``window``, or the window of the whole grid when it is None."""
        return window if window is not None else Window(0, 0, self.width, self.height)

    @property
    def block_shape(self) -> tuple[int, int]:
        """(rows, columns) of the internal blocks (tiles or strips) of the first file."""
        rows, cols = self._ds(0).block_shapes[0]
        return int(rows), int(cols)

    # -- cell areas ----------------------------------------------------------------------
    def row_cell_areas(self, window: Window | None = None) -> np.ndarray:
        """Return the true area in m² of one cell in each row of ``window``.

        Equal-area grids: ``|a * e|`` of the transform for every row.  Geographic grids:
        exact ellipsoidal cell areas (:func:`gisfix.crs.geodesic_row_areas`).
        """
        if self._row_areas is None:
            if self.is_geographic:
                self._row_areas = geodesic_row_areas(self.crs, self.transform, self.height)
            else:
                t = self.transform
                self._row_areas = np.full(self.height, abs(t.a * t.e) - abs(t.b * t.d))
        w = self.resolve_window(window)
        return self._row_areas[int(w.row_off): int(w.row_off + w.height)]

    # -- reads ---------------------------------------------------------------------------
    def _read_band(self, i: int, window: Window) -> np.ndarray:
        try:
            return self._ds(i).read(1, window=window)
        except rasterio.errors.RasterioIOError as exc:
            raise _read_error(self.paths[i], exc) from exc

    def read_raw(self, window: Window | None = None, out: np.ndarray | None = None,
                 col_spans: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
        """Return the raw values of an ordinal stack's band, negative values read as 0.

        Parameters
        ----------
        window : rasterio.windows.Window, optional
            The cells to read (the whole grid when None).
        out : numpy.ndarray, optional
            A buffer of the window's shape and the band's dtype to read into.
        col_spans : list of (int, int), optional
            Column spans ``[a, b)`` within the window: only these are read (and
            decompressed); the other cells of ``out`` keep whatever they held.

        Returns
        -------
        numpy.ndarray
            uint8 or uint16 values (signed bands: negative values, never built, become 0).
            Not masked by the study area or the valid mask (see :meth:`observed`).
        """
        w = self.resolve_window(window)
        ds = self._ds(0)
        if out is None:
            out = np.zeros((int(w.height), int(w.width)), dtype=self.dtype)
        if col_spans is None:
            col_spans = [(0, int(w.width))]
        c0, r0, h = int(w.col_off), int(w.row_off), int(w.height)
        try:
            for a, b in col_spans:
                ds.read(1, window=Window(c0 + a, r0, b - a, h), out=out[:, a:b])
        except rasterio.errors.RasterioIOError as exc:
            raise _read_error(self.paths[0], exc) from exc
        if np.issubdtype(out.dtype, np.signedinteger):  # negative values are never built
            out = np.where(out < 0, 0, out).astype(np.uint16)
        return out

    def read_valid_mask(self, window: Window | None = None) -> np.ndarray | None:
        """Return the valid mask of ``window`` (True = observed), or None without one."""
        if self.valid_mask is None:
            return None
        w = self.resolve_window(window)
        key = ("mask", threading.get_ident())
        ds = self._handles.get(key)
        if ds is None:
            ds = self._handles[key] = [rasterio.open(self.valid_mask)]
        m = ds[0].read(1, window=w)
        ok = m != 0
        nd = ds[0].nodata
        if nd is not None:
            ok &= ~np.isnan(m) if np.isnan(nd) else m != nd
        if m.dtype.kind == "f":
            ok &= ~np.isnan(m)
        return ok

    def observed(self, window: Window | None = None) -> np.ndarray | None:
        """Return the cells of ``window`` inside the study area and the valid mask, or None.

        None means every cell (no study area, no valid mask).  The study area takes the
        cells whose centre it contains (GDAL's rule); :func:`gisfix.builtup_by_unit`
        weighs boundary cells exactly instead.
        """
        ok = self.read_valid_mask(window)
        if self.aoi is not None:
            from rasterio.features import geometry_mask
            from rasterio.windows import transform as window_transform

            w = self.resolve_window(window)
            shape = (int(w.height), int(w.width))
            if shape[0] and shape[1]:
                inside = geometry_mask([self.aoi], out_shape=shape, invert=True,
                                       transform=window_transform(w, self.transform))
            else:
                inside = np.zeros(shape, bool)
            ok = inside if ok is None else ok & inside
        return ok

    def ordinal_lut(self) -> np.ndarray:
        """Return the table from raw values to first-built epoch codes (ordinal encodings).

        ``ordinal_lut()[raw]`` is what :meth:`read_ordinal` returns for non-negative raw
        values: the index of the first epoch a cell is built, ``len(epochs)`` for never
        built, :data:`INVALID` for not observed.  A copy: the caller may change it.
        """
        if not self.is_ordinal:
            raise RasterError(
                f"ordinal_lut needs a year-built or ldsmt stack, not {self.encoding}")
        return self._ordinal_lut().copy()

    def _ordinal_lut(self) -> np.ndarray:
        if self._lut is None:
            n = len(self.epochs)
            if self.encoding == "ldsmt":
                lut = np.full(256, n, dtype=np.uint8)
                lut[LDSMT_NODATA] = INVALID
                for code, k in _LDSMT_FIRST.items():
                    e = LDSMT_EPOCHS[k]
                    # with a subset of epochs, a cell counts from the first kept epoch >= e
                    lut[code] = np.searchsorted(self.epochs, e, side="left")
                lut[7:] = INVALID
            else:
                size = 65536 if np.dtype(self.dtype).itemsize <= 2 else None
                if size is None:
                    raise RasterError(
                        f"year-built rasters must be 8- or 16-bit integers, got {self.dtype}"
                    )
                values = np.arange(size)
                lut = np.searchsorted(np.asarray(self.epochs), values, side="left").astype(
                    np.uint8)
                if self.nodata[0] is not None and 0 <= self.nodata[0] < size:
                    lut[int(self.nodata[0])] = n  # nodata = never built (still observed)
                lut[values == 0] = n
            self._lut = lut
        return self._lut

    def read_ordinal(self, window: Window | None = None) -> np.ndarray:
        """Return, per cell, the index of the first epoch it is built (ordinal encodings).

        ``len(epochs)`` means not built by the last epoch; :data:`INVALID` (255) means not
        observed (nodata of LDSMT, outside the study area, or masked).  A cell is built at
        epoch ``epochs[j]`` iff its code is <= j.
        """
        if not self.is_ordinal:
            raise RasterError(
                f"read_ordinal needs a year-built or ldsmt stack, not {self.encoding}")
        w = self.resolve_window(window)
        codes = self._ordinal_lut()[self.read_raw(w)]
        ok = self.observed(w)
        if ok is not None:
            codes[~ok] = INVALID
        return codes

    def read_fraction(self, window: Window | None = None,
                      epochs: Sequence[int] | None = None, *,
                      col_spans: Sequence[tuple[int, int]] | None = None,
                      study_area: bool = True) -> np.ndarray:
        """Return built-up fractions, shape ``(n_epochs, rows, cols)``, NaN where not observed.

        Parameters
        ----------
        window : rasterio.windows.Window, optional
            The cells (whole grid if None).
        epochs : list of int, optional
            The epochs to read (all if None).
        col_spans : list of (int, int), optional
            Per-epoch encodings: read only these column spans ``[a, b)`` of the window (the
            tiles some unit touches); other cells are NaN.
        study_area : bool
            Mask cells outside the study area (cell-centre rule); the built-up engine passes
            False because it intersects the units with the study area exactly.
        """
        w = self.resolve_window(window)
        idx = [self.epoch_index(e) for e in epochs] if epochs is not None else range(
            len(self.epochs))
        if self.is_ordinal:
            codes = self.read_ordinal(w)
            out = np.empty((len(idx), int(w.height), int(w.width)), dtype=np.float32)
            invalid = codes == INVALID
            for o, j in enumerate(idx):
                out[o] = codes <= j
                out[o][invalid] = np.nan
            return out
        out = np.empty((len(idx), int(w.height), int(w.width)), dtype=np.float32)
        if col_spans is not None:
            out[:] = np.nan
            for a, b in col_spans:
                sub = Window(int(w.col_off) + a, w.row_off, b - a, w.height)
                for o, j in enumerate(idx):
                    out[o][:, a:b] = self._per_epoch_fraction(j, sub, study_area)
            return out
        for o, j in enumerate(idx):
            out[o] = self._per_epoch_fraction(j, w, study_area)
        return out

    def read_population(self, window: Window | None = None,
                        epochs: Sequence[int] | None = None) -> np.ndarray:
        """Return population counts, shape ``(n_epochs, rows, cols)``, NaN where not observed.

        Only for the ``population`` encoding (one count raster per epoch).
        """
        if self.encoding != "population":
            raise RasterError(f"read_population needs a population stack (encoding="
                              f"'population'), not {self.encoding}")
        w = self.resolve_window(window)
        idx = [self.epoch_index(e) for e in epochs] if epochs is not None else range(
            len(self.epochs))
        out = np.empty((len(idx), int(w.height), int(w.width)), dtype=np.float64)
        for o, j in enumerate(idx):
            raw = self._read_band(j, w)
            out[o] = raw
            nd = self.nodata[j]
            if nd is not None and not (isinstance(nd, float) and np.isnan(nd)):
                out[o][raw == nd] = np.nan
        return out

    def _per_epoch_fraction(self, j: int, w: Window, study_area: bool = True) -> np.ndarray:
        if self.encoding == "population":
            raise RasterError("this stack holds population counts, not built-up; sum it over "
                              "units with gisfix.efficiency.population_by_unit")
        raw = self._read_band(j, w)
        nd = self.nodata[j]
        invalid = np.zeros(raw.shape, bool) if nd is None else (
            np.isnan(raw) if isinstance(nd, float) and np.isnan(nd) else raw == nd)
        if np.issubdtype(raw.dtype, np.floating):
            invalid |= np.isnan(raw)
        ok = self.observed(w) if study_area else self.read_valid_mask(w)
        if ok is not None:
            invalid |= ~ok
        if self.encoding == "binary":
            frac = (raw != 0).astype(np.float32)
        elif self.encoding == "class":
            frac = np.isin(raw, np.asarray(self.classes, dtype=raw.dtype)).astype(np.float32)
        else:  # fraction
            frac = raw.astype(np.float32)
            if self.fraction_units == "percent":
                frac /= 100.0
            elif self.fraction_units == "m2":
                frac /= self.row_cell_areas(w)[:, None].astype(np.float32)
            np.clip(frac, 0.0, 1.0, out=frac)
        frac[invalid] = np.nan
        return frac

    def built(self, epoch: int, window: Window | None = None) -> np.ndarray:
        """Return a boolean array: is the cell built at ``epoch`` (fraction >= 0.5)?

        Not-observed cells are False; see :meth:`valid`.
        """
        j = self.epoch_index(epoch)
        if self.is_ordinal:
            return self.read_ordinal(window) <= j
        f = self._per_epoch_fraction(j, self.resolve_window(window))
        return np.nan_to_num(f, nan=0.0) >= 0.5

    def fraction(self, epoch: int, window: Window | None = None) -> np.ndarray:
        """Return the built-up fraction at ``epoch`` (NaN where not observed)."""
        return self.read_fraction(window, [epoch])[0]

    def valid(self, window: Window | None = None, epoch: int | None = None) -> np.ndarray:
        """Return a boolean array: is the cell observed (at ``epoch``; all epochs if None)?"""
        w = self.resolve_window(window)
        if self.is_ordinal:
            return self.read_ordinal(w) != INVALID
        idx = [self.epoch_index(epoch)] if epoch is not None else range(len(self.epochs))
        ok = np.ones((int(w.height), int(w.width)), bool)
        for j in idx:
            ok &= ~np.isnan(self._per_epoch_fraction(j, w))
        return ok

    # -- whole-raster summaries ----------------------------------------------------------
    def summary(self, max_cells: int = DEFAULT_WINDOW_CELLS) -> pd.DataFrame:
        """Return built and valid cell counts and areas per epoch over the whole grid.

        Columns: ``built_cells``, ``valid_cells``, ``builtup_km2``, ``valid_km2``, indexed
        by epoch.  One windowed pass.
        """
        n = len(self.epochs)
        built_cells = np.zeros(n)
        valid_cells = np.zeros(n)
        built_m2 = np.zeros(n)
        valid_m2 = np.zeros(n)
        for w in self.windows(max_cells):
            areas = self.row_cell_areas(w)
            if self.is_ordinal:
                codes = self.read_ordinal(w)
                # per row counts of each code, then cumulative over epochs
                h = codes.shape[0]
                keys = (np.arange(h, dtype=np.int64)[:, None] * 256 + codes).ravel()
                counts = np.bincount(keys, minlength=h * 256).reshape(h, 256)
                per_epoch = np.cumsum(counts[:, :n], axis=1)  # rows x epochs
                valid_rows = counts[:, : n + 1].sum(axis=1)
                built_cells += per_epoch.sum(axis=0)
                built_m2 += (per_epoch * areas[:, None]).sum(axis=0)
                valid_cells += valid_rows.sum()
                valid_m2 += (valid_rows * areas).sum()
            else:
                frac = self.read_fraction(w)
                ok = ~np.isnan(frac)
                f = np.nan_to_num(frac, nan=0.0)
                built_cells += f.sum(axis=(1, 2))
                valid_cells += ok.sum(axis=(1, 2))
                built_m2 += (f.sum(axis=2) * areas[None, :]).sum(axis=1)
                valid_m2 += (ok.sum(axis=2) * areas[None, :]).sum(axis=1)
        return pd.DataFrame(
            {"built_cells": built_cells, "valid_cells": valid_cells,
             "builtup_km2": built_m2 / 1e6, "valid_km2": valid_m2 / 1e6},
            index=pd.Index(self.epochs, name="epoch"),
        )

    def describe(self) -> dict:
        """Return the facts ``gisfix info`` prints for this stack."""
        t = self.transform
        return {
            "kind": "raster", "paths": [str(p) for p in self.paths],
            "crs": crs_label(self.crs), "crs_name": self.crs.name,
            "geographic": bool(self.is_geographic),
            "cell_area": "geodesic (per row, ellipsoidal)" if self.is_geographic
            else "cell size (projected)",
            "grid": {"width": self.width, "height": self.height,
                     "cell_size": [abs(t.a), abs(t.e)], "origin": [t.c, t.f]},
            "dtype": self.dtype, "nodata": list(self.nodata), "encoding": self.encoding
            + (("=" + ",".join(f"{c:g}" for c in self.classes)) if self.classes else ""),
            "epochs": list(self.epochs),
        }


def _read_error(path: Path, exc: Exception) -> InputFileError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputFileError(
        f"cannot read the cells of {path} ({first}): the file is truncated or corrupt; "
        "check it with gdalinfo -checksum, or download it again")


def _get_epochs(self) -> tuple[int, ...]:
    if self._epochs is None:  # year-built opened without epochs: one windowed scan
        self._epochs = self.scan_epochs()
    return self._epochs


BuiltupStack.epochs = property(  # type: ignore[assignment]
    _get_epochs, doc="The epochs (years), increasing; found by a scan when not yet known.")


def _bounds_text(bounds) -> str:
    return "({:.1f}, {:.1f}, {:.1f}, {:.1f})".format(*(float(v) for v in bounds))


def grid_bounds(grid: Grid) -> tuple[float, float, float, float]:
    """Return ``(xmin, ymin, xmax, ymax)`` of a grid in its CRS.

    Parameters
    ----------
    grid : Grid
        The raster grid.

    Returns
    -------
    tuple of float
        The outer edges of the grid's cells.
    """
    t = grid.transform
    xs = (t.c, t.c + t.a * grid.width)
    ys = (t.f, t.f + t.e * grid.height)
    return min(xs), min(ys), max(xs), max(ys)


def check_overlap(bounds, grid: Grid, *, what: str = "the boundaries",
                  covered: float | None = None, geoms=None) -> None:
    """Raise :class:`ExtentError` if ``bounds`` (raster CRS) miss ``grid``; warn if partial.

    Parameters
    ----------
    bounds : sequence of 4 floats
        ``(xmin, ymin, xmax, ymax)`` of the data, in the raster CRS.
    grid : Grid
        The raster grid.
    what : str
        What the bounds belong to, for the messages.
    covered : float, optional
        The share of the data's area inside the raster, when known (only then is a
        partial overlap reported).
    geoms : array of shapely geometries, optional
        The data themselves (raster CRS): they miss the raster when none intersects it,
        even if their bounding box does.

    Raises
    ------
    ExtentError
        When the bounds are not finite or do not meet the raster's extent (or, with
        ``geoms``, no geometry intersects it).
    """
    rb = grid_bounds(grid)
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    label = crs_label(grid.crs)
    miss = not np.all(np.isfinite([xmin, ymin, xmax, ymax])) or xmin > rb[2] or xmax < rb[0] \
        or ymin > rb[3] or ymax < rb[1]
    if not miss and geoms is not None:
        import shapely

        miss = not shapely.intersects(np.asarray(geoms, dtype=object), shapely.box(*rb)).any()
    if miss:
        raise ExtentError(
            f"{what} do not overlap the raster: in {label} {what} span "
            f"{_bounds_text(bounds)} and the raster spans {_bounds_text(rb)} "
            "(xmin, ymin, xmax, ymax); check that they cover the same region and that "
            "their CRSs are declared correctly")
    if covered is not None and covered < 1 - 1e-9:
        warnings.warn(
            f"{what} extend beyond the raster: {100 * (1 - covered):.1f} % of their area is "
            f"outside it (in {label}, {what} span {_bounds_text(bounds)}, the raster "
            f"{_bounds_text(rb)}); cells there count as not observed",
            PartialOverlapWarning, stacklevel=3)


def read_aoi(aoi, crs, *, what: str = "the study area"):
    """Return the study area ``aoi`` as one (multi)polygon in ``crs``.

    Parameters
    ----------
    aoi : path, shapely geometry, geopandas.GeoDataFrame or GeoSeries
        A polygon file (any vector format; every feature is merged), a geometry (taken to be
        in ``crs`` already: it has no CRS of its own), or a GeoDataFrame / GeoSeries with a
        CRS (reprojected with :func:`gisfix.crs.to_crs_checked`).
    crs : pyproj.CRS
        The raster CRS.
    what : str
        Name used in messages.

    Returns
    -------
    shapely geometry
        The union of the polygons, valid, in ``crs``.

    Raises
    ------
    InputFileError
        When the study-area file does not exist or cannot be read.
    CRSError
        When the study area has no CRS.
    GeometryError
        For an ``aoi`` of another type, or one without polygon area.
    """
    import geopandas as gpd
    import shapely

    from gisfix.crs import check_coordinates, to_crs_checked

    if isinstance(aoi, str | os.PathLike):
        p = Path(aoi)
        if not p.exists():
            raise InputFileError(f"no such study-area file: {p}")
        try:
            gdf = gpd.read_file(p)
        except Exception as exc:  # pyogrio / GDAL errors: unreadable or not a vector file
            raise InputFileError(
                f"cannot read the study area {p} as a polygon file: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        what = f"the study area {p.name}"
        if gdf.crs is None:
            raise CRSError(f"{what} has no CRS; assign one (e.g. ogr2ogr -a_srs EPSG:4326)")
    elif isinstance(aoi, gpd.GeoDataFrame | gpd.GeoSeries):
        gdf = aoi
        if gdf.crs is None:
            raise CRSError(f"{what} has no CRS; set one (gdf.set_crs(...))")
    elif isinstance(aoi, shapely.Geometry):
        gdf = gpd.GeoSeries([aoi], crs=crs)
    else:
        raise GeometryError(
            f"aoi must be a polygon file path, a shapely geometry or a GeoDataFrame; got "
            f"{type(aoi).__name__}")
    geoms = gdf.geometry if hasattr(gdf, "geometry") else gdf
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    types = set(geoms.geom_type)
    if not len(geoms) or not types <= {"Polygon", "MultiPolygon"}:
        raise GeometryError(
            f"{what} must hold polygons; it holds {sorted(types) or 'no geometry'}")
    check_coordinates(geoms.total_bounds, resolve_crs(geoms.crs), what=what)
    geoms = to_crs_checked(geoms.to_frame("geometry"), crs, what=what).geometry
    out = shapely.union_all(shapely.make_valid(np.asarray(geoms.values, dtype=object)))
    if out.is_empty or out.area <= 0:
        raise GeometryError(f"{what} has no area")
    return out


#: GDAL block cache (MB) while a task reads its window: blocks are read about once in a
#: windowed pass, so GDAL's default (5 % of RAM) would only grow the process.
TASK_GDAL_CACHE_MB = 256


def bounded_reads():
    """Return a context in which GDAL's block cache stays at :data:`TASK_GDAL_CACHE_MB`.

    Windowed passes read each block about once; without a bound GDAL keeps up to 5 % of
    the machine's memory of decoded blocks, which is most of the peak memory of a
    30,000 x 30,000 LEI run.

    Returns
    -------
    rasterio.Env
        A context manager.
    """
    return rasterio.Env(GDAL_CACHEMAX=TASK_GDAL_CACHE_MB)


def mosaic_vrt(tiles: Sequence[str | os.PathLike], path: str | os.PathLike, *,
               overwrite: bool = False) -> Path:
    """Write a GDAL VRT mosaic of single-band tiles on one grid (what ``gdalbuildvrt`` does).

    GHSL ships its global layers as tiles; a VRT lets every gisfix measure read them as one
    raster, window by window, opening only the tiles a window touches.  The tiles must share
    the CRS, cell size, data type and nodata value, and be aligned on one grid (their
    origins differ by whole cells); they may leave gaps (read as nodata) but must not
    overlap.  Only each tile's header is read.

    Parameters
    ----------
    tiles : list of path
        The tiles (GeoTIFF or anything GDAL reads), in any order.
    path : path
        The VRT to write.  Tiles are referenced by absolute path, so the VRT can be moved;
        on a cluster write it to storage every worker sees.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputFileError
        A tile is missing or not a raster.
    RasterError
        Tiles that differ in CRS, cell size, data type, nodata or band count, that are
        rotated, misaligned, or that overlap.

    Examples
    --------
    >>> vrt = mosaic_vrt(sorted(Path("ghsl").glob("*.tif")), "ghsl.vrt")  # doctest: +SKIP
    >>> stack = open_builtup(vrt, "year-built")  # doctest: +SKIP
    """
    from xml.sax.saxutils import escape

    from gisfix.io import atomic_path

    tiles = [Path(t).resolve() for t in tiles]
    if not tiles:
        raise RasterError("no tiles given for the mosaic")
    meta = []
    for t in tiles:
        if not t.exists():
            raise InputFileError(f"no such tile: {t}")
        try:
            with rasterio.open(t) as ds:
                meta.append((ds.crs, ds.transform, ds.width, ds.height, ds.dtypes[0],
                             ds.nodata, ds.count, ds.block_shapes[0]))
        except rasterio.errors.RasterioIOError as exc:
            raise InputFileError(f"cannot open the tile {t} as a raster: {exc}") from exc
    crs0, t0, _, _, dtype0, nd0, _, _ = meta[0]
    if crs0 is None:
        raise RasterError(f"the tile {tiles[0].name} has no CRS; assign one first")
    for t, (crs, tr, _w, _h, dtype, nd, count, _b) in zip(tiles, meta):
        what = f"the tile {t.name}"
        if count != 1:
            raise RasterError(f"{what} has {count} bands; mosaic single-band tiles")
        if tr.b != 0 or tr.d != 0:
            raise RasterError(f"{what} is rotated; warp it north-up first")
        if crs != crs0:
            raise RasterError(f"{what} is in {crs_label(crs)}, {tiles[0].name} in "
                              f"{crs_label(crs0)}; warp the tiles to one CRS first")
        if (tr.a, tr.e) != (t0.a, t0.e):
            raise RasterError(f"{what} has cells of {tr.a:g} x {-tr.e:g}, {tiles[0].name} "
                              f"of {t0.a:g} x {-t0.e:g}; resample the tiles to one cell size")
        if dtype != dtype0 or not (nd == nd0 or (nd != nd and nd0 != nd0)):
            raise RasterError(f"{what} is {dtype} with nodata {nd}, {tiles[0].name} {dtype0} "
                              f"with nodata {nd0}; tiles must agree")
    offs = []
    for t, (_c, tr, w, h, *_rest) in zip(tiles, meta):
        ox, oy = (tr.c - t0.c) / t0.a, (tr.f - t0.f) / t0.e
        if abs(ox - round(ox)) > 1e-6 or abs(oy - round(oy)) > 1e-6:
            raise RasterError(f"the tile {t.name} is not aligned with {tiles[0].name}: its "
                              f"origin is {ox:.4f}, {oy:.4f} cells away; align the tiles on "
                              "one grid (gdalwarp -tap)")
        offs.append((round(ox), round(oy), w, h))
    x0 = min(o[0] for o in offs)
    y0 = min(o[1] for o in offs)
    width = max(o[0] + o[2] for o in offs) - x0
    height = max(o[1] + o[3] for o in offs) - y0
    spans = sorted((o[1] - y0, o[0] - x0, o[3], o[2], k) for k, o in enumerate(offs))
    for i, (r, c, h, w, k) in enumerate(spans):  # overlap check, rows sorted
        for r2, c2, _h2, w2, k2 in spans[i + 1:]:
            if r2 >= r + h:
                break
            if c2 < c + w and c < c2 + w2:
                raise RasterError(f"the tiles {tiles[k].name} and {tiles[k2].name} overlap; "
                                  "a mosaic takes tiles that do not overlap")
    gt = (t0.c + x0 * t0.a, t0.a, 0.0, t0.f + y0 * t0.e, 0.0, t0.e)
    vrt_type = {"uint8": "Byte", "int8": "Int8"}.get(dtype0, dtype0.capitalize())
    sources = []
    for t, (ox, oy, w, h), m in zip(tiles, offs, meta):
        by, bx = m[7]
        sources.append(
            f'    <SimpleSource><SourceFilename relativeToVRT="0">{escape(str(t))}'
            f'</SourceFilename><SourceBand>1</SourceBand>'
            f'<SourceProperties RasterXSize="{w}" RasterYSize="{h}" DataType="{vrt_type}" '
            f'BlockXSize="{bx}" BlockYSize="{by}"/>'
            f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
            f'<DstRect xOff="{ox - x0}" yOff="{oy - y0}" xSize="{w}" ySize="{h}"/>'
            '</SimpleSource>')
    nodata_xml = "" if nd0 is None else f"    <NoDataValue>{nd0!r}</NoDataValue>\n"
    xml = (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
           f'  <SRS>{escape(crs0.to_wkt())}</SRS>\n'
           f'  <GeoTransform>{", ".join(repr(float(v)) for v in gt)}</GeoTransform>\n'
           f'  <VRTRasterBand dataType="{vrt_type}" band="1">\n{nodata_xml}'
           + "\n".join(sources) + "\n  </VRTRasterBand>\n</VRTDataset>\n")
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(xml)
    return Path(path)


def _tiles_vrt(paths: Sequence[Path]) -> Path:
    """A VRT of ``paths`` in a per-user cache, named by the tiles and their sizes/mtimes."""
    import hashlib
    import tempfile

    h = hashlib.sha1()
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    cache = Path(tempfile.gettempdir()) / f"gisfix-mosaics-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    out = cache / f"mosaic-{h.hexdigest()[:16]}.vrt"
    if not out.exists():
        mosaic_vrt(paths, out, overwrite=True)
    return out


def open_builtup(paths: str | os.PathLike | Sequence[str | os.PathLike], encoding: str,
                 epochs: Sequence[int] | None = None, *, fraction_units: str = "unit",
                 nodata: float | None = None, aoi=None,
                 valid_mask: str | os.PathLike | None = None) -> BuiltupStack:
    """Open built-up raster(s) as a lazy :class:`BuiltupStack`.

    Parameters
    ----------
    paths : path or list of paths
        One raster for ``year-built`` / ``ldsmt`` (a GeoTIFF, or a VRT mosaic of tiles), or
        a list of its tiles, which are mosaicked on the fly (:func:`mosaic_vrt`, cached in
        the temporary folder); one raster per epoch otherwise.
    encoding : str
        ``year-built``, ``ldsmt``, ``binary``, ``fraction`` or ``class=V[,V]``.
    epochs : list of int, optional
        ``year-built``: the epochs to report (default: every distinct year in the raster;
        a cell built in a year between two epochs counts from the next one).
        ``ldsmt``: a subset of 1975, 1990, 2000, 2014.  Per-epoch encodings: one year per
        file, in file order (default: the 4-digit year in each file name).
    fraction_units : {"unit", "percent", "m2"}
        Scale of ``fraction`` rasters: 0-1, 0-100, or m² of built surface per cell.
    nodata : float, optional
        Nodata value to use when the files declare none (LDSMT uses 0 by definition).
    aoi : path, shapely geometry or GeoDataFrame, optional
        The study area (:func:`read_aoi`): cells outside it are not observed (they count
        toward neither built-up nor valid area), and inside it year-built nodata means
        never built.  :func:`gisfix.builtup_by_unit` intersects every unit with it.  Use it
        whenever the raster was clipped to a polygon (GHSL clips mark "outside" and "never
        built" with the same nodata value).
    valid_mask : path, optional
        A raster on the same grid: 0 or nodata marks cells that are not observed.

    Returns
    -------
    BuiltupStack

    Raises
    ------
    InputFileError, RasterError, CRSError, ExtentError

    Notes
    -----
    Opening reads no cell: a year-built stack opened without ``epochs`` finds its years in
    the counting pass of :func:`gisfix.builtup_by_unit`, or by a scan when another reader
    first asks for ``stack.epochs``.

    Examples
    --------
    >>> stack = open_builtup("ghsl_year_built_100m_mollweide.tif", "year-built")  # doctest: +SKIP
    >>> stack.epochs[:3]  # doctest: +SKIP
    (1975, 1980, 1985)
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = tuple(Path(p) for p in paths)
    if not paths:
        raise RasterError("no raster given")
    for p in paths:
        if not p.exists():
            raise InputFileError(f"no such raster: {p}")
    kind, classes = parse_encoding(encoding)
    if kind in ORDINAL_ENCODINGS and len(paths) > 1:  # tiles of one mosaic
        paths = (_tiles_vrt(paths),)
    if fraction_units not in FRACTION_UNITS:
        raise RasterError(
            f"fraction_units must be one of {', '.join(FRACTION_UNITS)}, got {fraction_units!r}"
        )

    grids, nodatas, dtypes = [], [], []
    for p in paths:
        try:
            with rasterio.open(p) as ds:
                if ds.crs is None:
                    raise RasterError(
                        f"{p.name} has no CRS; assign one first (gdal_edit.py -a_srs EPSG:...)"
                    )
                crs = resolve_crs(ds.crs.to_wkt(), what=p.name)
                grids.append(Grid(crs, ds.transform, ds.width, ds.height))
                nd = ds.nodata if ds.nodata is not None else nodata
                nodatas.append(nd)
                dtypes.append(ds.dtypes[0])
                if ds.transform.b != 0 or ds.transform.d != 0:
                    raise RasterError(f"{p.name} is rotated; warp it north-up first")
        except rasterio.errors.RasterioIOError as exc:
            raise InputFileError(f"cannot open {p} as a raster: {exc}") from exc
    for p, g in zip(paths[1:], grids[1:]):
        if not g.same_as(grids[0]):
            raise RasterError(
                f"epoch rasters must share one grid: {paths[0].name} is "
                f"{grids[0].describe()} but {p.name} is {g.describe()}; align them first "
                "(gdalwarp -te/-tr/-t_srs to the first grid). gisfix never resamples implicitly"
            )

    if kind in ORDINAL_ENCODINGS:
        if len(paths) != 1:
            raise RasterError(
                f"the {kind} encoding keeps every epoch in one raster; got {len(paths)} files"
            )
        if kind == "ldsmt":
            if dtypes[0] != "uint8":
                raise RasterError(f"LDSMT rasters are 8-bit; {paths[0].name} is {dtypes[0]}")
            nodatas = [LDSMT_NODATA if nodatas[0] is None else nodatas[0]]
            chosen = LDSMT_EPOCHS if epochs is None else tuple(int(e) for e in epochs)
            bad = [e for e in chosen if e not in LDSMT_EPOCHS]
            if bad:
                raise RasterError(
                    f"LDSMT epochs are {', '.join(map(str, LDSMT_EPOCHS))}; got {bad}"
                )
        else:
            if dtypes[0] not in ("uint8", "uint16", "int16"):
                raise RasterError(
                    f"year-built rasters hold years in an integer band; {paths[0].name} is "
                    f"{dtypes[0]}"
                )
            chosen = None if epochs is None else tuple(int(e) for e in epochs)
        if chosen is not None and len(chosen) > 254:
            raise RasterError("at most 254 epochs per stack")
    else:
        chosen = tuple(int(e) for e in epochs) if epochs is not None else tuple(
            epochs_from_names(paths))
        if len(chosen) != len(paths):
            raise RasterError(
                f"{len(paths)} rasters but {len(chosen)} epochs; give one epoch per raster"
            )
    if kind not in ORDINAL_ENCODINGS:  # files may come in any order: sort them by epoch
        order = np.argsort(chosen, kind="stable")
        paths = tuple(paths[i] for i in order)
        nodatas = [nodatas[i] for i in order]
        chosen = tuple(chosen[i] for i in order)
    if chosen is not None and list(chosen) != sorted(set(chosen)):
        raise RasterError(f"epochs must be distinct and increasing; got {list(chosen)}")

    g = grids[0]
    t = g.transform
    centre = (t.c + t.a * g.width / 2, t.f + t.e * g.height / 2)
    scale = check_area_crs(g.crs, centre, what=paths[0].name)
    mask_path = None
    if valid_mask is not None:
        mask_path = Path(valid_mask)
        if not mask_path.exists():
            raise InputFileError(f"no such valid-mask raster: {mask_path}")
        try:
            with rasterio.open(mask_path) as ds:
                if ds.crs is None:
                    raise RasterError(f"the valid mask {mask_path.name} has no CRS")
                mg = Grid(resolve_crs(ds.crs.to_wkt(), what=mask_path.name), ds.transform,
                          ds.width, ds.height)
        except rasterio.errors.RasterioIOError as exc:
            raise InputFileError(f"cannot open {mask_path} as a raster: {exc}") from exc
        if not mg.same_as(g):
            raise RasterError(
                f"the valid mask must be on the raster's grid: {paths[0].name} is "
                f"{g.describe()} but {mask_path.name} is {mg.describe()}; align it first")
    area = None
    if aoi is not None:
        area = read_aoi(aoi, g.crs)
        check_overlap(area.bounds, g, what="the study area")
    return BuiltupStack(paths=paths, encoding=kind, epochs=chosen, grid=g,
                        nodata=tuple(nodatas), dtype=dtypes[0], classes=classes,
                        fraction_units=fraction_units, area_scale=scale, aoi=area,
                        valid_mask=mask_path)


def edge_nodata_runs(stack: BuiltupStack, min_run: int = 50) -> dict:
    """Return the longest run of nodata cells along each edge of an ordinal raster.

    A raster clipped to a study area has long runs of nodata along its edges (outside the
    polygon); a year-built raster then marks "outside" and "never built" alike.

    Parameters
    ----------
    stack : BuiltupStack
        A year-built or LDSMT stack (LDSMT without nodata uses :data:`LDSMT_NODATA`).
    min_run : int
        The shortest run, in cells, that counts as clipped.

    Returns
    -------
    dict
        ``{"top": n, "bottom": n, "left": n, "right": n, "clipped": bool}``, ``clipped``
        when an edge has a run of at least ``min_run`` cells and 10 % of its length (all 0
        and False for a raster without nodata).
    """
    nd = stack.nodata[0]
    if stack.encoding == "ldsmt":
        nd = LDSMT_NODATA if nd is None else nd
    out: dict = {}
    if nd is None:
        return {"top": 0, "bottom": 0, "left": 0, "right": 0, "clipped": False}
    h, w = stack.height, stack.width
    edges = {"top": Window(0, 0, w, 1), "bottom": Window(0, h - 1, w, 1),
             "left": Window(0, 0, 1, h), "right": Window(w - 1, 0, 1, h)}
    clipped = False
    for name, win in edges.items():
        a = stack._read_band(0, win).ravel() == nd
        padded = np.concatenate([[False], a, [False]])
        d = np.diff(padded.astype(np.int8))
        runs = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
        longest = int(runs.max()) if len(runs) else 0
        out[name] = longest
        clipped |= longest >= max(min_run, 0.1 * len(a))
    out["clipped"] = bool(clipped)
    return out


def warn_if_clipped(stack: BuiltupStack) -> dict:
    """Warn (:class:`ClipWarning`) when a year-built / LDSMT raster looks clipped.

    Parameters
    ----------
    stack : BuiltupStack
        The stack; no warning when it already has a study area or a valid mask.

    Returns
    -------
    dict
        The edge runs of :func:`edge_nodata_runs`.

    Warns
    -----
    ClipWarning
        When an edge has a long run of nodata and no study area was given.
    """
    runs = edge_nodata_runs(stack)
    if runs["clipped"] and stack.aoi is None and stack.valid_mask is None:
        edges = ", ".join(f"{k} {v:,}" for k, v in runs.items() if k != "clipped" and v)
        warnings.warn(
            f"{stack.paths[0].name} has long runs of nodata along its edges (longest run, in "
            f"cells: {edges}): it looks clipped to a study area, and its nodata then means "
            "both 'never built' and 'outside the study area'; pass the clip polygon with "
            "--aoi PATH (aoi=) so that cells outside it count as not observed",
            ClipWarning, stacklevel=2)
    return runs


def describe_raster(path: str | os.PathLike) -> dict:
    """Return the basic facts of any raster (CRS, size, dtype, nodata).

    Parameters
    ----------
    path : str or os.PathLike
        The raster file.

    Returns
    -------
    dict
        ``kind`` (``"raster"``), ``crs``, ``width``, ``height``, ``dtype`` and ``nodata``.

    Raises
    ------
    InputFileError
        When GDAL cannot open the file as a raster.
    """
    try:
        with rasterio.open(path) as ds:
            return {"kind": "raster", "crs": str(ds.crs), "width": ds.width,
                    "height": ds.height, "dtype": ds.dtypes[0], "nodata": ds.nodata}
    except rasterio.errors.RasterioIOError as exc:
        raise InputFileError(f"cannot open {path} as a raster: {exc}") from exc


def guess_encoding(path: str | os.PathLike) -> str:
    """Guess the built-up encoding of a raster from its dtype and values (for ``gisfix info``).

    The guess reads a decimated sample (at most about 4 million cells) of the first band:
    float values in 0-1 are a fraction, integers within 1800-2200 a year-built raster, 0/1
    binary, 0-6 in uint8 without nodata LDSMT, 1/2 a land-cover class.

    Parameters
    ----------
    path : str or os.PathLike
        The raster file.

    Returns
    -------
    str
        An encoding (``"year-built"``, ``"binary"``, ``"ldsmt"``, ``"fraction (0-1)"``) or a
        hint ending in ``?`` / starting with ``unknown`` when the values are ambiguous.

    Raises
    ------
    InputFileError
        When GDAL cannot open the file as a raster.
    CRSError
        When the raster has no CRS.
    RasterError
        When the sample cannot be read.
    """
    try:
        ds = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputFileError(
            f"cannot open {path} as a raster: {str(exc).splitlines()[0]}") from exc
    with ds:
        if ds.crs is None:
            raise CRSError(f"{Path(path).name} has no CRS; assign one first "
                           "(gdal_edit.py -a_srs EPSG:...)")
        dtype = ds.dtypes[0]
        nd = ds.nodata
        step = max(1, int(np.sqrt(ds.width * ds.height / 4_000_000)))
        try:
            sample = ds.read(1, out_shape=(max(1, ds.height // step),
                                           max(1, ds.width // step)),
                             resampling=rasterio.enums.Resampling.nearest)
        except rasterio.errors.RasterioIOError as exc:
            raise _read_error(Path(path), exc) from exc
    values = np.unique(sample[~np.isnan(sample)] if sample.dtype.kind == "f" else sample)
    if nd is not None:
        values = values[values != nd]
    values = values.astype(np.float64)
    if dtype.startswith("float"):
        if values.size and values.min() >= 0 and values.max() <= 1:
            return "fraction (0-1)"
        if values.size and values.max() <= 100:
            return "fraction (percent)?"
        return "fraction (m2 per cell)?"
    if values.size and 1800 <= values[values > 0].min(initial=1800) and values.max() <= 2200 \
            and values.max() >= 1800:
        return "year-built"
    vals = set(int(v) for v in values)
    if vals <= {0, 1}:
        return "binary"
    if vals <= set(range(7)) and vals & {3, 4, 5, 6} and dtype == "uint8" and nd is None:
        return "ldsmt"
    if vals <= {1, 2}:
        return "class=1 (1 = built, 2 = not built?)"
    return "unknown (land cover? use class=V[,V])"
