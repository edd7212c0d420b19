"""``gisfix data fetch ghsl`` against a local HTTP server on 127.0.0.1 started here.

The server holds zipped GHS-BUILT-S tiles in the JRC layout, built in the test from the
shared DC year-built raster (built cells get 1,000-10,000 m², unbuilt ones 0-999 m², so the
year-built conversion at the documented 1,000 m² threshold must give the raster back).
Oracle: the shared DC raster itself, cell for cell. No test reaches the internet.
"""

from __future__ import annotations

import functools
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from gisfix.fetch import BUILT_THRESHOLD_M2, EPOCHS, PRODUCTS, TileScheme

#: A finer tile grid than the real 1,000 km one, so that the DC region spans 2 x 2 tiles
#: (the mosaic is exercised) while the test tiles stay small (1,000 x 1,000 cells).
TEST_TILE_M = 100_000
DC = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static file server that honours ``Range: bytes=N-`` and logs every request."""

    log: list = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802
        type(self).log.append((self.path, self.headers.get("Range")))
        rng = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not rng or not path.is_file():
            return super().do_GET()
        start = int(rng.split("=")[1].split("-")[0])
        data = path.read_bytes()
        if start >= len(data):
            self.send_response(416)
            self.end_headers()
            return None
        self.send_response(206)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        self.wfile.write(data[start:])
        return None


def _build_tiles(root: Path, dc_path: Path, scheme: TileScheme) -> None:
    rng = np.random.default_rng(12)
    prod = PRODUCTS["built-s"]
    with rasterio.open(dc_path) as src:
        yb = src.read(1)
        t = src.transform
        bounds = src.bounds
        crs = src.crs
    tiles = scheme.tiles((bounds.left, bounds.bottom, bounds.right, bounds.top))
    n = int(TEST_TILE_M / 100)
    for e in EPOCHS:
        built = (yb <= e) & (yb != 65535)
        surf = np.where(built, rng.integers(int(BUILT_THRESHOLD_M2), 10001, yb.shape),
                        rng.integers(0, int(BUILT_THRESHOLD_M2), yb.shape)).astype(np.uint16)
        for r, c in tiles:
            x0 = scheme.origin_x + (c - 1) * scheme.tile_m
            y0 = scheme.origin_y - (r - 1) * scheme.tile_m
            tile = np.zeros((n, n), dtype=np.uint16)
            col = int(round((t.c - x0) / 100))
            row = int(round((y0 - t.f) / 100))
            r0, c0 = max(row, 0), max(col, 0)
            r1, c1 = min(row + yb.shape[0], n), min(col + yb.shape[1], n)
            if r1 > r0 and c1 > c0:
                tile[r0:r1, c0:c1] = surf[r0 - row:r1 - row, c0 - col:c1 - col]
            url = prod.url("http://x", e, r, c)
            rel = Path(url.split("http://x/", 1)[1])
            zpath = root / rel
            zpath.parent.mkdir(parents=True, exist_ok=True)
            tif = zpath.with_suffix(".tif")
            with rasterio.open(tif, "w", driver="GTiff", width=n, height=n, count=1,
                               dtype="uint16", crs=crs, transform=from_origin(x0, y0, 100, 100),
                               nodata=65535, compress="deflate") as dst:
                dst.write(tile, 1)
            with zipfile.ZipFile(zpath, "w") as z:
                z.write(tif, tif.name)
            tif.unlink()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import shared_path

    dc = shared_path(*DC)
    root = tmp_path_factory.mktemp("ghsl_server")
    scheme = TileScheme(tile_m=TEST_TILE_M, rows=180, cols=361)
    _build_tiles(root, dc, scheme)
    handler = functools.partial(RangeHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}", "root": root,
           "scheme": scheme, "dc": dc, "aoi": shared_path("ghsl_dc_baltimore", "aoi.geojson")}
    httpd.shutdown()


@pytest.fixture(scope="module")
def first_fetch(server, tmp_path_factory):
    from conftest import shared_path

    from gisfix.fetch import fetch_ghsl

    work = tmp_path_factory.mktemp("fetch")
    result = fetch_ghsl("built-s", EPOCHS, work / "out",
                        boundaries=shared_path("ghsl_dc_baltimore", "aoi.geojson"),
                        base_url=server["url"], cache=work / "cache",
                        registry=work / "registry.txt", year_built=True,
                        scheme=server["scheme"], progress=False)
    return {"result": result, "work": work}


@pytest.mark.shared
def test_fetch_reproduces_dc_year_built_cell_for_cell(server, first_fetch):
    res = first_fetch["result"]
    with rasterio.open(server["dc"]) as a, rasterio.open(res.year_built) as b:
        assert (b.width, b.height) == (a.width, a.height)
        assert b.transform == a.transform
        assert b.crs == a.crs and b.nodata == a.nodata == 65535
        x, y = a.read(1), b.read(1)
    assert np.array_equal(x, y), f"{int((x != y).sum())} cells differ"
    # 4 tiles x 12 epochs, each recorded once in the pooch registry
    lines = res.registry.read_text().splitlines()
    assert len(lines) == 4 * len(EPOCHS)
    assert all(len(line.split()[1]) == 64 for line in lines)
    assert len(res.rasters) == len(EPOCHS) and all(p.exists() for p in res.rasters.values())


@pytest.mark.shared
def test_tampered_tile_fails_checksum_and_writes_nothing(server, first_fetch, tmp_path):
    victim = sorted(server["root"].rglob("*E2000*.zip"))[0]
    original = victim.read_bytes()
    try:
        with zipfile.ZipFile(victim, "a") as z:  # same tile, one extra member: new bytes
            z.writestr("tampered.txt", "not from the JRC")
        from gisfix.errors import ChecksumError
        from gisfix.fetch import fetch_ghsl

        out = tmp_path / "out"
        with pytest.raises(ChecksumError, match="failed its checksum") as err:
            fetch_ghsl("built-s", [1995, 2000], out, boundaries=server["aoi"],
                       base_url=server["url"], cache=tmp_path / "cache",
                       registry=first_fetch["result"].registry, scheme=server["scheme"],
                       progress=False)
        assert victim.name in str(err.value)
        assert not out.exists() or not list(out.iterdir())  # nothing half-written
        assert not (tmp_path / "cache" / victim.name).exists()
        assert not list((tmp_path / "cache").glob("*.part"))
    finally:
        victim.write_bytes(original)


@pytest.mark.shared
def test_interrupted_download_resumes(server, first_fetch, tmp_path):
    from gisfix.fetch import fetch_ghsl

    name = sorted(server["root"].rglob("*E2020*.zip"))[0]
    cache = tmp_path / "cache"
    cache.mkdir()
    data = name.read_bytes()
    (cache / (name.name + ".part")).write_bytes(data[: len(data) // 2])
    RangeHandler.log.clear()
    fetch_ghsl("built-s", [2020], tmp_path / "out", boundaries=server["aoi"],
               base_url=server["url"], cache=cache, registry=first_fetch["result"].registry,
               scheme=server["scheme"], progress=False)
    ranges = [r for p, r in RangeHandler.log if p.endswith(name.name)]
    assert ranges == [f"bytes={len(data) // 2}-"]
    assert (cache / name.name).read_bytes() == data  # and it passed the registry's SHA-256


def test_offline_is_a_clear_error(tmp_path, run_cli):
    r = run_cli("data", "fetch", "ghsl", "--epochs", "2020", "--bbox", "-77.1,38.8,-76.9,39.0",
                "--base-url", "http://127.0.0.1:9/ghsl", "--cache", tmp_path / "c",
                "--no-progress", "-o", tmp_path / "out")
    assert r.exit_code == 1
    assert "are you offline?" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def test_real_tile_scheme_and_url_layout():
    # the JRC layout, written out by hand for the tile holding Washington, DC
    from gisfix.fetch import GHSL_BASE_URL, region_from_bbox

    scheme = TileScheme()
    bounds, _ = region_from_bbox((-77.1, 38.8, -76.9, 39.0), scheme)
    assert scheme.tiles(bounds) == [(5, 12)]
    assert PRODUCTS["built-s"].url(GHSL_BASE_URL, 2020, 5, 12) == (
        "https://jeodpp.jrc.ec.europa.eu/ftp/jrc-opendata/GHSL/GHS_BUILT_S_GLOBE_R2023A/"
        "GHS_BUILT_S_E2020_GLOBE_R2023A_54009_100/V1-0/tiles/"
        "GHS_BUILT_S_E2020_GLOBE_R2023A_54009_100_V1_0_R5_C12.zip")
    assert PRODUCTS["smod"].stem(2030, 1, 36) == \
        "GHS_SMOD_E2030_GLOBE_R2023A_54009_1000_V2_0_R1_C36"


def test_year_built_by_hand():
    from gisfix.fetch import to_year_built

    s = {1975: np.array([[0, 1000, 999]]), 1980: np.array([[5000, 10, 999]]),
         1985: np.array([[0, 0, 1000]])}
    assert to_year_built(s).tolist() == [[1980, 1975, 1985]]
