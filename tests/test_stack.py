"""Built-up stacks: real encodings against the facts of ../shared/data/README.md, grid checks,
geodesic areas against pyproj.Geod, and property tests of every encoding."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio.transform import from_origin

from gisfix import RasterError, open_builtup
from gisfix.stack import INVALID, LDSMT_EPOCHS, parse_encoding

#: Built cells by epoch, from ../shared/data/README.md (GHSL DC, 100 m).
DC_BUILT = {1975: 319_826, 1990: 350_143, 2000: 381_956, 2010: 407_192, 2015: 419_438,
            2020: 434_295, 2030: 461_929}
#: CORINE Lausanne urban cells, from the same README.
CLC_URBAN = {2000: 63_532, 2006: 65_409, 2012: 65_750}
GEODESIC_RTOL = 1e-6


def write_raster(path, array, *, crs="EPSG:3035", transform=None, nodata=None):
    transform = transform or from_origin(4_000_000, 3_000_000, 100, 100)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0],
                       count=1, dtype=array.dtype, crs=crs, transform=transform,
                       nodata=nodata) as ds:
        ds.write(array, 1)
    return path


# -- real data -------------------------------------------------------------------------------
@pytest.mark.shared
def test_dc_year_built_counts_match_readme(shared):
    path = shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
    with open_builtup(path, "year-built") as stack:
        assert stack.epochs == tuple(range(1975, 2031, 5))
        summary = stack.summary(max_cells=300_000)  # several windows
    for year, cells in DC_BUILT.items():
        assert summary.loc[year, "built_cells"] == cells
    assert summary["valid_cells"].iloc[0] == 1407 * 869
    assert summary.loc[2030, "builtup_km2"] == pytest.approx(DC_BUILT[2030] * 0.01)


@pytest.mark.shared
def test_dc_built_agrees_with_raw_values(shared):
    path = shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
    with rasterio.open(path) as ds:
        raw = ds.read(1)
    with open_builtup(path, "year-built", epochs=[1990, 2000]) as stack:
        b = stack.built(2000)
    np.testing.assert_array_equal(b, (raw <= 2000) & (raw != 65535))


@pytest.mark.shared
def test_lausanne_class_encoding_counts(shared):
    paths = [shared("clc_lausanne", f"clc_urban_{y}_100m_epsg3035.tif") for y in CLC_URBAN]
    with open_builtup(paths[::-1], "class=1") as stack:  # order comes from the names
        assert stack.epochs == (2000, 2006, 2012)
        summary = stack.summary()
    for year, cells in CLC_URBAN.items():
        assert summary.loc[year, "built_cells"] == cells


@pytest.mark.shared
def test_bacau_valid_area_geodesic_matches_pyproj_geod(shared):
    from pyproj import Geod

    path = shared("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif")
    with open_builtup(path, "ldsmt") as stack:
        assert stack.is_geographic
        assert stack.epochs == LDSMT_EPOCHS
        ours = stack.summary()["valid_km2"].iloc[0]
    with rasterio.open(path) as ds:
        raw = ds.read(1)
        t = ds.transform
    geod = Geod(ellps="WGS84")
    total = 0.0
    for r, n_valid in enumerate((raw != 0).sum(axis=1)):
        if n_valid == 0:
            continue
        # one cell of row r, densified along the parallels so edges follow them
        lon0, lon1 = t.c, t.c + t.a
        lat_top, lat_bot = t.f + r * t.e, t.f + (r + 1) * t.e
        lons = np.concatenate([np.linspace(lon0, lon1, 50), np.linspace(lon1, lon0, 50)])
        lats = np.concatenate([np.full(50, lat_top), np.full(50, lat_bot)])
        area, _ = geod.polygon_area_perimeter(lons, lats)
        total += abs(area) * n_valid
    assert ours == pytest.approx(total / 1e6, rel=GEODESIC_RTOL)


@pytest.mark.shared
def test_conakry_ldsmt_reads(shared):
    path = shared("ghsl_ldsmt_conakry", "conakry_ghs_built_ldsmt_epochs.tif")
    with open_builtup(path, "ldsmt", epochs=[1990, 2014]) as stack:
        s = stack.summary()
    assert list(s.index) == [1990, 2014]
    assert s.loc[1990, "built_cells"] < s.loc[2014, "built_cells"]


# -- grid and encoding errors ----------------------------------------------------------------
def test_misaligned_grids_name_both(tmp_path):
    a = write_raster(tmp_path / "a_2000.tif", np.ones((4, 4), np.uint8))
    b = write_raster(tmp_path / "b_2010.tif", np.ones((4, 4), np.uint8),
                     transform=from_origin(4_000_050, 3_000_000, 100, 100))
    with pytest.raises(RasterError, match="a_2000.tif is .* but b_2010.tif is"):
        open_builtup([a, b], "binary")


def test_unknown_encoding_lists_choices():
    with pytest.raises(RasterError, match="choose one of year-built, ldsmt"):
        parse_encoding("yearly")
    with pytest.raises(RasterError, match="lists no class values"):
        parse_encoding("class=")


def test_epochs_from_names_required(tmp_path):
    a = write_raster(tmp_path / "urban.tif", np.ones((2, 2), np.uint8))
    with pytest.raises(RasterError, match="cannot tell the epoch of urban.tif"):
        open_builtup([a], "binary")
    assert open_builtup([a], "binary", epochs=[2001]).epochs == (2001,)


def test_ordinal_encoding_takes_tiles_not_epochs(tmp_path):
    """Several year-built files are tiles of one mosaic: the same tile twice overlaps."""
    a = write_raster(tmp_path / "a.tif", np.full((2, 2), 1990, np.uint16))
    with pytest.raises(RasterError, match="a.tif and a.tif overlap"):
        open_builtup([a, a], "year-built")


def _tiles(tmp_path, arr, rows, cols, nodata=0):
    """Cut ``arr`` into tiles at the given row and column breaks; return their paths."""
    paths = []
    rb, cb = [0, *rows, arr.shape[0]], [0, *cols, arr.shape[1]]
    for i in range(len(rb) - 1):
        for j in range(len(cb) - 1):
            part = arr[rb[i]:rb[i + 1], cb[j]:cb[j + 1]]
            t = from_origin(4_000_000 + 100 * cb[j], 3_000_000 - 100 * rb[i], 100, 100)
            paths.append(write_raster(tmp_path / f"t{i}_{j}.tif", part, transform=t,
                                      nodata=nodata))
    return paths


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(2, 30), w=st.integers(2, 30),
       data=st.data())
def test_tiles_read_as_the_whole_raster(tmp_path_factory, seed, h, w, data):
    """A list of tiles reads cell for cell as the raster they were cut from (by construction)."""
    tmp = tmp_path_factory.mktemp("tiles")
    arr = np.random.default_rng(seed).choice(np.array([0, 1975, 1990, 2000, 2014], np.uint16),
                                             size=(h, w))
    rows = sorted(set(data.draw(st.lists(st.integers(1, h - 1), max_size=3))))
    cols = sorted(set(data.draw(st.lists(st.integers(1, w - 1), max_size=3))))
    whole = open_builtup(write_raster(tmp / "whole.tif", arr, nodata=0), "year-built",
                         epochs=[1975, 1990, 2000, 2014])
    tiles = _tiles(tmp, arr, rows, cols)
    mosaic = open_builtup(tiles[::-1], "year-built", epochs=[1975, 1990, 2000, 2014])
    assert mosaic.shape == whole.shape and mosaic.transform == whole.transform
    assert np.array_equal(mosaic.read_ordinal(), whole.read_ordinal())


def test_mosaic_errors_name_the_tile(tmp_path):
    from gisfix.stack import mosaic_vrt

    arr = np.full((4, 4), 1990, np.uint16)
    a = write_raster(tmp_path / "a.tif", arr)
    off = write_raster(tmp_path / "off.tif", arr,
                       transform=from_origin(4_000_450 + 30, 3_000_000, 100, 100))
    with pytest.raises(RasterError, match="off.tif is not aligned with a.tif"):
        mosaic_vrt([a, off], tmp_path / "m.vrt")
    other = write_raster(tmp_path / "crs.tif", arr, crs="EPSG:3857",
                         transform=from_origin(4_000_400, 3_000_000, 100, 100))
    with pytest.raises(RasterError, match="crs.tif is in"):
        mosaic_vrt([a, other], tmp_path / "m.vrt")
    coarse = write_raster(tmp_path / "coarse.tif", arr,
                          transform=from_origin(4_000_400, 3_000_000, 200, 200))
    with pytest.raises(RasterError, match="coarse.tif has cells of 200 x 200"):
        mosaic_vrt([a, coarse], tmp_path / "m.vrt")
    assert not (tmp_path / "m.vrt").exists()


@pytest.mark.shared
@pytest.mark.filterwarnings("ignore::gisfix.errors.LowCoverageWarning")  # the raster is clipped
def test_dc_tiles_count_as_the_whole_raster(shared, tmp_path):
    """The DC raster cut into 6 tiles gives the same built-up table as the raster itself."""
    import geopandas as gpd

    from gisfix import builtup_by_unit

    path = shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
    with rasterio.open(path) as ds:
        arr, crs, t, nd = ds.read(1), ds.crs, ds.transform, ds.nodata
    tiles = []
    for i, (r0, r1) in enumerate(((0, 400), (400, 869))):
        for j, (c0, c1) in enumerate(((0, 500), (500, 1000), (1000, 1407))):
            with rasterio.open(tmp_path / f"dc_{i}{j}.tif", "w", driver="GTiff",
                               width=c1 - c0, height=r1 - r0, count=1, dtype=arr.dtype,
                               crs=crs, nodata=nd,
                               transform=t * t.translation(c0, r0)) as ds:
                ds.write(arr[r0:r1, c0:c1], 1)
            tiles.append(tmp_path / f"dc_{i}{j}.tif")
    counties = gpd.read_file(shared("ghsl_dc_baltimore", "counties_2017_census.gpkg"),
                             layer="counties").set_index("fips")
    ref = builtup_by_unit(counties, open_builtup(path, "year-built"))
    got = builtup_by_unit(counties, open_builtup(tiles, "year-built"))
    assert got.equals(ref)


def test_unknown_epoch_named(tmp_path):
    a = write_raster(tmp_path / "a.tif", np.full((2, 2), 1990, np.uint16), nodata=65535)
    stack = open_builtup(a, "year-built")
    with pytest.raises(RasterError, match="epoch 2000 is not in this stack; its epochs are 1990"):
        stack.built(2000)


def test_projected_not_equal_area_warns(tmp_path):
    from gisfix.crs import AreaDistortionWarning

    a = write_raster(tmp_path / "a_2000.tif", np.ones((2, 2), np.uint8), crs="EPSG:3857",
                     transform=from_origin(1_000_000, 6_000_000, 100, 100))
    with pytest.warns(AreaDistortionWarning, match="scaled by"):
        open_builtup([a], "binary")


# -- property tests of the encodings ---------------------------------------------------------
EPOCHS = [1975, 1990, 2000, 2014]


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint16, (6, 7), elements=st.sampled_from(EPOCHS + [1980, 2020, 65535])))
def test_year_built_property(tmp_path_factory, values):
    path = write_raster(tmp_path_factory.mktemp("yb") / "y.tif", values, nodata=65535)
    stack = open_builtup(path, "year-built", epochs=EPOCHS)
    frac = stack.read_fraction()
    for j, e in enumerate(EPOCHS):
        expected = (values <= e) & (values != 65535)
        np.testing.assert_array_equal(stack.built(e), expected)
        np.testing.assert_array_equal(frac[j], expected.astype(np.float32))
    # built sets only grow with time
    assert (np.diff(frac, axis=0) >= 0).all()
    assert stack.valid().all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, (5, 6), elements=st.integers(0, 6)))
def test_ldsmt_property(tmp_path_factory, codes):
    path = write_raster(tmp_path_factory.mktemp("ld") / "l.tif", codes, crs="EPSG:4326",
                        transform=from_origin(26.0, 46.0, 0.001, 0.001))
    stack = open_builtup(path, "ldsmt")
    # classes built by each epoch (GHS-BUILT LDSMT definition)
    by_epoch = {1975: {6}, 1990: {5, 6}, 2000: {4, 5, 6}, 2014: {3, 4, 5, 6}}
    for e, classes in by_epoch.items():
        np.testing.assert_array_equal(stack.built(e), np.isin(codes, list(classes)))
    np.testing.assert_array_equal(stack.valid(), codes != 0)
    ordinal = stack.read_ordinal()
    assert ((ordinal == INVALID) == (codes == 0)).all()


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, (4, 5), elements=st.floats(0, 100, width=32)),
       st.sampled_from(["unit", "percent", "m2"]))
def test_fraction_units_property(tmp_path_factory, percent, units):
    scale = {"unit": 0.01, "percent": 1.0, "m2": 100.0}[units]  # 100 m cells = 10,000 m2
    values = (percent * np.float32(scale)).astype(np.float32)
    path = write_raster(tmp_path_factory.mktemp("fr") / "f_2020.tif", values, nodata=-1.0)
    stack = open_builtup([path], "fraction", fraction_units=units)
    np.testing.assert_allclose(stack.fraction(2020), percent / 100, rtol=1e-5, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(arrays(np.uint8, (4, 5), elements=st.integers(0, 4)))
def test_class_property(tmp_path_factory, values):
    path = write_raster(tmp_path_factory.mktemp("cl") / "c_2006.tif", values, nodata=0)
    stack = open_builtup([path], "class=1,3")
    frac = stack.fraction(2006)
    np.testing.assert_array_equal(np.isnan(frac), values == 0)
    np.testing.assert_array_equal(stack.built(2006), np.isin(values, [1, 3]))
