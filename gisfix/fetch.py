"""Download GHSL tiles for a region: checksums, resume, mosaic, clip, year-built conversion.

``gisfix data fetch ghsl`` (:func:`fetch_ghsl`) gets the Global Human Settlement Layer
products of release R2023A (Pesaresi & Politis 2023, JRC; CC BY 4.0) for a region of the
user's own.

Tile scheme (World Mollweide, ESRI:54009)
    The globe is cut into square tiles of 1,000 km (10,000 x 10,000 cells at 100 m; 1,000 x
    1,000 at 1 km) counted from the upper-left corner ``x = -18,041,000 m``,
    ``y = 9,000,000 m``: the tile of a point ``(x, y)`` is row
    ``R = floor((9,000,000 - y) / 1e6) + 1`` (1-18) and column
    ``C = floor((x + 18,041,000) / 1e6) + 1`` (1-36). Tiles over open ocean do not exist on
    the server. All of this is in :class:`TileScheme` and can be changed.

URL layout on the JRC open-data server (``GHSL_BASE_URL``; another mirror with the same
layout via ``base_url=`` / ``--base-url`` / ``GISFIX_GHSL_URL``)::

    {base}/GHS_{P}_GLOBE_R2023A/GHS_{P}_E{epoch}_GLOBE_R2023A_54009_{res}/{V}/tiles/
        GHS_{P}_E{epoch}_GLOBE_R2023A_54009_{res}_{V_}_R{row}_C{col}.zip

with ``P`` = ``BUILT_S`` (built-up surface, m² per cell, 100 m, ``V1-0``), ``POP``
(residents per cell, 100 m, ``V1-0``) or ``SMOD`` (settlement model, Degree of
Urbanisation classes, published at 1 km only, ``V2-0``); each zip holds the GeoTIFF of the
same name. Epochs are 1975 to 2030 every 5 years (SMOD: 1975-2030 too).

Checksums
    The server publishes no checksums, so every tile's SHA-256 is recorded in a pooch
    registry file (``name sha256``, one line per tile) on its first download and verified
    on every later one: a tile that changed, was tampered with or was cut short fails with
    :class:`~gisfix.errors.ChecksumError`, is discarded, and no output is written.

Downloads resume: an interrupted tile stays in the cache as ``<name>.part`` and the next
run asks the server for the rest (HTTP range request). Progress bars go to stderr.

Year built
    With ``year_built=True`` the GHS-BUILT-S epochs are converted to the first-epoch-built
    encoding of :func:`gisfix.open_builtup` (``encoding="year-built"``): a cell's value is
    the first requested epoch whose built-up surface is at least ``threshold_m2``
    (default :data:`BUILT_THRESHOLD_M2` = 1,000 m², a tenth of a 100 m cell); cells never
    built and cells outside the region are 65535 (nodata).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gisfix.errors import (
    ChecksumError,
    DataError,
    DownloadError,
    GeometryError,
    GisfixError,
    InputFileError,
)

log = logging.getLogger(__name__)

#: The JRC open-data server's GHSL folder.
GHSL_BASE_URL = "https://jeodpp.jrc.ec.europa.eu/ftp/jrc-opendata/GHSL"
#: Release of the products.
RELEASE = "R2023A"
#: Epochs published in R2023A.
EPOCHS = tuple(range(1975, 2031, 5))
#: Built-up surface (m² of a 100 m cell) from which a cell counts as built.
BUILT_THRESHOLD_M2 = 1000.0
#: Nodata of the year-built encoding (as in GHSL-derived year-built rasters).
YEAR_BUILT_NODATA = 65535
#: Seconds to wait for the server.
TIMEOUT_S = 60


@dataclass(frozen=True)
class Product:
    """One GHSL product: file-name code, cell size (m) and version folder.

    Attributes
    ----------
    code : str
        The product code of the file names (``BUILT_S``, ``POP``...).
    resolution_m : int
        The cell size in metres of World Mollweide.
    version : str
        The version folder of the JRC server (``V1-0``...).
    """

    code: str
    resolution_m: int
    version: str

    def stem(self, epoch: int, row: int, col: int) -> str:
        """Return the file stem of one tile."""
        v = self.version.replace("-", "_")
        return (f"GHS_{self.code}_E{epoch}_GLOBE_{RELEASE}_54009_{self.resolution_m}_{v}"
                f"_R{row}_C{col}")

    def url(self, base_url: str, epoch: int, row: int, col: int) -> str:
        """Return the URL of one tile's zip archive."""
        folder = (f"GHS_{self.code}_GLOBE_{RELEASE}/GHS_{self.code}_E{epoch}_GLOBE_{RELEASE}"
                  f"_54009_{self.resolution_m}/{self.version}/tiles")
        return f"{base_url.rstrip('/')}/{folder}/{self.stem(epoch, row, col)}.zip"


#: The products ``--product`` accepts.
PRODUCTS = {
    "built-s": Product("BUILT_S", 100, "V1-0"),
    "pop": Product("POP", 100, "V1-0"),
    "smod": Product("SMOD", 1000, "V2-0"),
}


@dataclass(frozen=True)
class TileScheme:
    """The tile grid: upper-left corner and tile size, in metres of World Mollweide.

    Attributes
    ----------
    origin_x, origin_y : float
        The upper-left corner of tile (1, 1), in metres.
    tile_m : float
        The side of a tile, in metres.
    rows, cols : int
        The number of tile rows and columns of the globe.
    crs : str
        The CRS of the grid (``ESRI:54009``).
    """

    origin_x: float = -18_041_000.0
    origin_y: float = 9_000_000.0
    tile_m: float = 1_000_000.0
    rows: int = 18
    cols: int = 36
    crs: str = "ESRI:54009"

    def tiles(self, bounds) -> list[tuple[int, int]]:
        """Return the (row, col) of every tile intersecting ``bounds``, 1-based.

        Parameters
        ----------
        bounds : (float, float, float, float)
            ``xmin, ymin, xmax, ymax`` in the tile CRS.
        """
        xmin, ymin, xmax, ymax = bounds
        c0 = max(1, math.floor((xmin - self.origin_x) / self.tile_m) + 1)
        c1 = min(self.cols, math.ceil((xmax - self.origin_x) / self.tile_m))
        r0 = max(1, math.floor((self.origin_y - ymax) / self.tile_m) + 1)
        r1 = min(self.rows, math.ceil((self.origin_y - ymin) / self.tile_m))
        return [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]


@dataclass
class FetchResult:
    """What :func:`fetch_ghsl` wrote.

    Attributes
    ----------
    rasters : dict of int to pathlib.Path
        The clipped GeoTIFF of every epoch.
    year_built : pathlib.Path or None
        The first-epoch-built raster (``year_built=True``), else None.
    tiles : list of pathlib.Path
        The downloaded (cached) tile archives.
    registry : pathlib.Path
        The SHA-256 registry of the cached tiles.
    vrts : dict of int to pathlib.Path
        The VRT mosaic of every epoch's tiles.
    """

    rasters: dict[int, Path]
    year_built: Path | None
    tiles: list[Path]
    registry: Path
    vrts: dict[int, Path] = field(default_factory=dict)


# -- region -----------------------------------------------------------------------------------
def region_from_bbox(bbox: Sequence[float], scheme: TileScheme = TileScheme()):
    """Return (bounds, None) in the tile CRS of a lon/lat box.

    Parameters
    ----------
    bbox : (W, S, E, N)
        The box in degrees (EPSG:4326).
    scheme : TileScheme
        The tile grid (its CRS).
    """
    from pyproj import Transformer

    w, s, e, n = (float(v) for v in bbox)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise DataError(f"--bbox must be W,S,E,N in degrees with W < E and S < N; got {bbox}")
    t = Transformer.from_crs("EPSG:4326", scheme.crs, always_xy=True)
    return t.transform_bounds(w, s, e, n, densify_pts=41), None


def region_from_file(path, scheme: TileScheme = TileScheme()):
    """Return (bounds, geometry) in the tile CRS of the polygons of a boundary file.

    Parameters
    ----------
    path : path-like
        Any vector file GDAL reads, with a CRS.
    scheme : TileScheme
        The tile grid (its CRS).
    """
    import geopandas as gpd

    from gisfix.io import require_file

    p = require_file(path)
    try:
        g = gpd.read_file(p, engine="pyogrio")
    except Exception as exc:
        raise InputFileError(f"cannot open {p} as a vector file: {exc}") from exc
    if g.crs is None:
        raise DataError(f"{path} has no CRS; assign one (e.g. with ogr2ogr -a_srs) first")
    if g.empty:
        raise DataError(f"{path} holds no features")
    types = g.geom_type
    other = types[~types.isin(["Polygon", "MultiPolygon"])].value_counts()
    if len(other):
        raise GeometryError(
            f"{p.name}: {int(other.sum())} features are not polygons "
            f"({', '.join(f'{v} {k}' for k, v in other.items())}); the region must be "
            "Polygon or MultiPolygon features")
    geom = g.to_crs(scheme.crs).geometry.union_all()
    return tuple(geom.bounds), geom


# -- download ---------------------------------------------------------------------------------
def read_registry(path) -> dict[str, str]:
    """Read a pooch registry file (``name sha256`` per line) into a dict.

    Parameters
    ----------
    path : path-like
        The registry (a missing file is an empty registry).

    Returns
    -------
    dict of str to str
        File name -> SHA-256 hex digest (comment lines skipped).
    """
    p = Path(path)
    if not p.exists():
        return {}
    out = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            out[parts[0]] = parts[1]
    return out


def _record(registry: Path, name: str, sha256: str) -> None:
    from gisfix.io import atomic_path

    known = read_registry(registry)
    known[name] = sha256
    registry.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(registry, overwrite=True) as tmp:
        tmp.write_text("".join(f"{k} {v}\n" for k, v in sorted(known.items())),
                       encoding="utf-8")


def _resuming_downloader(progress: bool):
    """Return a pooch downloader that resumes from ``<file>.part`` with range requests."""
    import requests
    from tqdm.auto import tqdm

    def download(url, output_file, pooch_obj, check_only=False):
        out = Path(output_file)
        # pooch downloads into a temporary name; keep the partial file under a stable name
        part = Path(pooch_obj.path if pooch_obj is not None else out.parent) / (
            Path(url).name + ".part")
        start = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={start}-"} if start else {}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT_S) as r:
                if r.status_code == 416:  # the partial file is already complete
                    pass
                elif r.status_code in (200, 206):
                    mode = "ab" if r.status_code == 206 else "wb"
                    start = start if r.status_code == 206 else 0
                    size = int(r.headers.get("Content-Length", 0)) + start
                    with open(part, mode) as f, tqdm(
                            total=size or None, initial=start, unit="B", unit_scale=True,
                            desc=Path(url).name[-40:], disable=not progress,
                            leave=False) as bar:
                        for chunk in r.iter_content(1 << 16):
                            f.write(chunk)
                            bar.update(len(chunk))
                elif r.status_code == 404:
                    raise DownloadError(f"no such tile on the server: {url} (HTTP 404); tiles "
                                        "over open ocean do not exist: check the region")
                else:
                    raise DownloadError(f"download of {url} failed: HTTP {r.status_code}")
        except requests.exceptions.RequestException as err:
            raise DownloadError(
                f"cannot download {url}: {err.__class__.__name__}; are you offline? Tiles "
                "already in the cache are reused; a partial download resumes on the next "
                "run; --base-url points to a mirror") from err
        shutil.move(part, out)

    return download


def download_tile(url: str, cache: Path, registry: Path, progress: bool = True) -> Path:
    """Download (or reuse from ``cache``) one tile and verify it against ``registry``.

    Parameters
    ----------
    url : str
        The tile's URL.
    cache : pathlib.Path
        Folder of downloaded tiles (and partial downloads).
    registry : pathlib.Path
        The pooch registry of SHA-256 values; an unknown tile's value is recorded.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        The verified zip archive in ``cache``.

    Raises
    ------
    ChecksumError
        The file does not match the registry; it has been deleted.
    DownloadError
        The server cannot be reached or does not have the tile.
    """
    import pooch

    name = Path(url).name
    known = read_registry(registry).get(name)
    cache.mkdir(parents=True, exist_ok=True)
    plog = pooch.get_logger()
    level = plog.level
    plog.setLevel(logging.WARNING)
    try:
        path = Path(pooch.retrieve(url, known_hash=f"sha256:{known}" if known else None,
                                   fname=name, path=cache,
                                   downloader=_resuming_downloader(progress)))
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        (cache / name).unlink(missing_ok=True)
        raise ChecksumError(
            f"tile {name} failed its checksum: the registry {registry} records SHA-256 "
            f"{known}, the downloaded file differs ({err}); the file was discarded and "
            "nothing was written. If the server legitimately replaced the tile, delete its "
            "line from the registry and fetch again") from err
    finally:
        plog.setLevel(level)
    if known is None:
        _record(registry, name, pooch.file_hash(str(path), alg="sha256"))
    return path


def _extract_tif(zip_path: Path) -> Path:
    """Extract the GeoTIFF of a tile archive beside it (once); return its path."""
    from gisfix.io import atomic_path

    tif = zip_path.with_suffix(".tif")
    if tif.exists() and tif.stat().st_mtime >= zip_path.stat().st_mtime:
        return tif
    try:
        with zipfile.ZipFile(zip_path) as z:
            names = [n for n in z.namelist() if n.lower().endswith(".tif")]
            if not names:
                raise DataError(f"{zip_path.name} holds no GeoTIFF ({z.namelist()[:5]})")
            with atomic_path(tif, overwrite=True) as tmp, z.open(names[0]) as src, \
                    open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"tile {zip_path.name} is not a readable zip archive ({err}): the "
                        "server did not send a GHSL tile; check --base-url") from err
    return tif


def _forget(registry: Path, name: str) -> None:
    """Remove ``name`` from the registry (a tile recorded in this run that proved unusable)."""
    from gisfix.io import atomic_path

    known = read_registry(registry)
    if known.pop(name, None) is not None:
        with atomic_path(registry, overwrite=True) as tmp:
            tmp.write_text("".join(f"{k} {v}\n" for k, v in sorted(known.items())),
                           encoding="utf-8")


# -- mosaic and clip --------------------------------------------------------------------------
def write_vrt(tifs: Sequence[Path], path: Path) -> Path:
    """Write a GDAL VRT mosaic of tiles that share one grid (no resampling).

    Parameters
    ----------
    tifs : sequence of path
        The tiles (same CRS, cell size and alignment).
    path : pathlib.Path
        The ``.vrt`` to write (sources are absolute paths).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import xml.etree.ElementTree as ET

    import rasterio

    from gisfix.io import atomic_path

    metas = []
    for t in tifs:
        with rasterio.open(t) as src:
            metas.append((t, src.transform, src.width, src.height, src.dtypes[0],
                          src.nodata, src.crs))
    res_x, res_y = metas[0][1].a, metas[0][1].e
    x0 = min(m[1].c for m in metas)
    y0 = max(m[1].f for m in metas)
    x1 = max(m[1].c + m[2] * res_x for m in metas)
    y1 = min(m[1].f + m[3] * res_y for m in metas)
    width, height = round((x1 - x0) / res_x), round((y1 - y0) / res_y)
    gdal_types = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
                  "int32": "Int32", "float32": "Float32", "float64": "Float64"}
    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    ET.SubElement(root, "SRS").text = metas[0][6].to_wkt()
    ET.SubElement(root, "GeoTransform").text = f"{x0!r}, {res_x!r}, 0, {y0!r}, 0, {res_y!r}"
    band = ET.SubElement(root, "VRTRasterBand", dataType=gdal_types[metas[0][4]], band="1")
    if metas[0][5] is not None:
        ET.SubElement(band, "NoDataValue").text = repr(float(metas[0][5]))
    for t, tr, w, h, *_ in metas:
        src = ET.SubElement(band, "SimpleSource")
        ET.SubElement(src, "SourceFilename", relativeToVRT="0").text = str(Path(t).resolve())
        ET.SubElement(src, "SourceBand").text = "1"
        ET.SubElement(src, "SrcRect", xOff="0", yOff="0", xSize=str(w), ySize=str(h))
        ET.SubElement(src, "DstRect", xOff=str(round((tr.c - x0) / res_x)),
                      yOff=str(round((tr.f - y0) / res_y)), xSize=str(w), ySize=str(h))
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")
    return path


def clip(vrt: Path, bounds, geometry=None):
    """Read the window of ``bounds`` (snapped outward to the grid) from a mosaic.

    Parameters
    ----------
    vrt : pathlib.Path
        The mosaic.
    bounds : (xmin, ymin, xmax, ymax)
        The region in the mosaic's CRS.
    geometry : shapely geometry, optional
        The region's polygons.

    Cells that ``geometry`` does not touch become nodata (a cell partly inside is kept:
    gisfix weighs border cells by their exact coverage later).

    Returns
    -------
    (numpy.ndarray, dict)
        The cells and a rasterio profile for writing them.
    """
    import rasterio
    from rasterio.features import geometry_mask
    from rasterio.windows import Window

    with rasterio.open(vrt) as src:
        t = src.transform
        col0 = math.floor(round((bounds[0] - t.c) / t.a, 6))
        col1 = math.ceil(round((bounds[2] - t.c) / t.a, 6))
        row0 = math.floor(round((bounds[3] - t.f) / t.e, 6))
        row1 = math.ceil(round((bounds[1] - t.f) / t.e, 6))
        window = Window(col0, row0, col1 - col0, row1 - row0)
        nodata = src.nodata
        data = src.read(1, window=window, boundless=True,
                        fill_value=nodata if nodata is not None else 0)
        transform = src.window_transform(window)
        profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0],
                   "count": 1, "dtype": data.dtype.name, "crs": src.crs,
                   "transform": transform, "nodata": nodata, "compress": "deflate",
                   "tiled": True, "blockxsize": 256, "blockysize": 256}
    if geometry is not None:
        outside = geometry_mask([geometry], out_shape=data.shape, transform=transform,
                                all_touched=True)
        if nodata is None:
            nodata = 0
            profile["nodata"] = 0
        data = np.where(outside, np.asarray(nodata, dtype=data.dtype), data)
    return data, profile


def to_year_built(arrays: dict[int, np.ndarray], threshold_m2: float = BUILT_THRESHOLD_M2,
                  nodata=None) -> np.ndarray:
    r"""Return the first epoch whose built-up surface reaches ``threshold_m2`` (uint16).

    .. math:: y_c = \min\{e : S_c(e) \ge \tau\}, \quad 65535 \text{ if none}

    Parameters
    ----------
    arrays : dict
        Epoch -> GHS-BUILT-S cells (m² of built-up surface per cell), one grid.
    threshold_m2 : float
        The built threshold :math:`\tau`.
    nodata : number, optional
        Nodata of the inputs (never built).

    Returns
    -------
    numpy.ndarray of uint16
        The year-built grid :math:`y_c` (65535, :data:`YEAR_BUILT_NODATA`, where never built).
    """
    epochs = sorted(arrays)
    out = np.full(arrays[epochs[0]].shape, YEAR_BUILT_NODATA, dtype=np.uint16)
    for e in reversed(epochs):  # the earliest epoch is written last and wins
        a = arrays[e]
        built = a >= threshold_m2
        if nodata is not None:
            built &= a != nodata
        out[built] = e
    return out


def _write_tif(data, profile, path: Path, overwrite: bool) -> Path:
    import rasterio

    from gisfix.io import atomic_path

    with atomic_path(path, overwrite) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    return path


# -- the whole fetch --------------------------------------------------------------------------
def default_cache() -> Path:
    """Return the tile cache: ``$GISFIX_CACHE/ghsl`` or pooch's user cache folder."""
    import pooch

    root = os.environ.get("GISFIX_CACHE")
    return Path(root) / "ghsl" if root else Path(pooch.os_cache("gisfix")) / "ghsl"


def fetch_ghsl(product: str, epochs: Sequence[int], output, *,
               bbox: Sequence[float] | None = None, boundaries=None,
               base_url: str | None = None, cache=None, registry=None,
               year_built: bool = False, threshold_m2: float = BUILT_THRESHOLD_M2,
               scheme: TileScheme = TileScheme(), progress: bool = True,
               overwrite: bool = False,
               say: Callable[[str], None] | None = None) -> FetchResult:
    """Download, verify, mosaic and clip GHSL tiles for a region; write GeoTIFFs.

    Parameters
    ----------
    product : {"built-s", "pop", "smod"}
        The GHSL product (see :data:`PRODUCTS`).
    epochs : sequence of int
        Epochs (1975-2030, every 5 years).
    output : path-like
        Folder for ``ghsl_<product>_E<epoch>.tif`` (and ``ghsl_year_built.tif``).
    bbox : (W, S, E, N), optional
        The region as a lon/lat box.
    boundaries : path-like, optional
        The region as polygons (cells outside become nodata); exactly one of ``bbox`` and
        ``boundaries``.
    base_url : str, optional
        Server folder with the JRC layout (default ``$GISFIX_GHSL_URL`` or
        :data:`GHSL_BASE_URL`).
    cache : path-like, optional
        Tile cache (default :func:`default_cache`).
    registry : path-like, optional
        pooch registry of SHA-256 values (default ``<cache>/registry.txt``).
    year_built : bool
        Also write ``ghsl_year_built.tif`` (GHS-BUILT-S only; see the module docstring).
    threshold_m2 : float
        Built threshold of the year-built conversion.
    scheme : TileScheme
        The tile grid.
    progress : bool
        Show progress bars.
    overwrite : bool
        Replace existing outputs.
    say : callable, optional
        Called with a short message before each step.

    Returns
    -------
    FetchResult
        Paths of what was written.

    Raises
    ------
    GisfixError
        For an unknown product.
    DataError
        For an epoch that the GHSL release does not have (it has 1975-2030 every 5 years).
    """
    from gisfix.io import check_output, provenance, write_json

    say = say or log.info
    if product not in PRODUCTS:
        raise GisfixError(f"unknown GHSL product {product!r}; use one of "
                          + ", ".join(PRODUCTS))
    prod = PRODUCTS[product]
    epochs = sorted({int(e) for e in epochs})
    bad = [e for e in epochs if e not in EPOCHS]
    if not epochs or bad:
        raise DataError(f"GHSL {RELEASE} epochs are {EPOCHS[0]}-{EPOCHS[-1]} every 5 years; "
                        f"got {bad or 'none'}")
    if (bbox is None) == (boundaries is None):
        raise GisfixError("give the region as exactly one of --bbox W,S,E,N and "
                          "--boundaries FILE")
    if year_built and product != "built-s":
        raise GisfixError("--year-built converts GHS-BUILT-S only; use --product built-s")
    out = Path(output)
    names = {e: out / f"ghsl_{product}_E{e}.tif" for e in epochs}
    yb_path = out / "ghsl_year_built.tif" if year_built else None
    if out.exists():
        for p in [*names.values(), *([yb_path] if yb_path else [])]:
            check_output(p, overwrite)
    base_url = base_url or os.environ.get("GISFIX_GHSL_URL") or GHSL_BASE_URL
    cache = Path(cache) if cache else default_cache()
    registry = Path(registry) if registry else cache / "registry.txt"
    bounds, geometry = (region_from_bbox(bbox, scheme) if bbox is not None
                        else region_from_file(boundaries, scheme))
    tiles = scheme.tiles(bounds)
    if not tiles:
        raise DataError(f"the region {bounds} lies outside the tile grid")

    # phase 1: download and verify everything before writing anything
    zips: dict[int, list[Path]] = {}
    n = len(epochs) * len(tiles)
    say(f"{n} tile(s): {len(tiles)} per epoch x {len(epochs)} epoch(s), from {base_url}")
    tifs: dict[int, list[Path]] = {}
    recorded = read_registry(registry)
    for e in epochs:
        zips[e] = [download_tile(prod.url(base_url, e, r, c), cache, registry, progress)
                   for r, c in tiles]
        tifs[e] = []
        for z in zips[e]:
            try:
                tifs[e].append(_extract_tif(z))
            except DataError:
                z.unlink(missing_ok=True)  # not a tile: neither cached nor recorded
                if z.name not in recorded:
                    _forget(registry, z.name)
                raise
    # phase 2: mosaic and clip, epoch by epoch (outputs are written atomically)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        written: dict[int, Path] = {}
        vrts: dict[int, Path] = {}
        arrays: dict[int, np.ndarray] = {}
        nodata = None
        for e in epochs:
            vrts[e] = write_vrt(tifs[e], out / f"ghsl_{product}_E{e}.vrt")
            data, profile = clip(vrts[e], bounds, geometry)
            nodata = profile["nodata"]
            if year_built:
                arrays[e] = data
            written[e] = _write_tif(data, profile, names[e], overwrite)
            say(f"wrote {names[e]}")
        if year_built:
            yb = to_year_built(arrays, threshold_m2, nodata)
            yb_profile = {**profile, "dtype": "uint16", "nodata": YEAR_BUILT_NODATA}
            _write_tif(yb, yb_profile, yb_path, overwrite)
            say(f"wrote {yb_path}")
        write_json(provenance(
            {"boundaries": str(boundaries)} if boundaries else {},
            {"product": product, "epochs": epochs, "bbox": list(bbox) if bbox else None,
             "base_url": base_url, "release": RELEASE,
             "tiles": [f"R{r}_C{c}" for r, c in tiles],
             "year_built": year_built, "threshold_m2": threshold_m2 if year_built else None,
             "sha256": {z.name: read_registry(registry).get(z.name)
                        for zs in zips.values() for z in zs}},
            "gisfix data fetch ghsl"), out / f"ghsl_{product}.provenance.json", overwrite=True)
        return FetchResult(written, yb_path, [z for zs in zips.values() for z in zs], registry,
                           vrts)
    except BaseException:
        if created:  # leave no half-written output folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise


__all__ = ["BUILT_THRESHOLD_M2", "EPOCHS", "GHSL_BASE_URL", "PRODUCTS", "FetchResult",
           "Product", "TileScheme", "download_tile", "fetch_ghsl", "read_registry",
           "to_year_built", "write_vrt"]
