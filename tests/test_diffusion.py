"""Expansion rates, centroid / ellipse, direction sectors and rings, core-periphery.

Oracles: hand-made tables and rasters solved by hand; the trigonometric ArcGIS / Yuill
formula of the standard deviational ellipse written out here; built-up totals of
``stack.summary()`` for growth rates on the DC raster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window

from gisfix import diffusion as d
from gisfix.errors import DataError
from gisfix.stack import open_builtup

CELL = 100.0
X0, Y0 = 4_000_000.0, 3_000_000.0
REL = 1e-9


def write_stack(tmp_path, arrays, years):
    paths = []
    for a, y in zip(arrays, years):
        p = tmp_path / f"b_{y}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=1,
                           dtype="uint8", crs="EPSG:3035", nodata=255,
                           transform=from_origin(X0, Y0, CELL, CELL)) as ds:
            ds.write(a.astype("uint8"), 1)
        paths.append(p)
    return open_builtup(paths, "binary")


def centre_of(r, c):
    return X0 + (c + 0.5) * CELL, Y0 - (r + 0.5) * CELL


# -- expansion ---------------------------------------------------------------------------
def hand_table():
    return pd.DataFrame({
        "unit_id": ["A", "B", "A", "B", "A", "B"],
        "epoch": [2000, 2000, 2010, 2010, 2020, 2020],
        "builtup_km2": [10.0, 5.0, 20.0, 5.0, 30.0, 6.0],
        "valid_km2": [100.0, 50.0, 100.0, 50.0, 100.0, 50.0],
    })


def test_expansion_by_hand():
    e = d.expansion(hand_table(), 2000, 2010)
    a, b = e.loc["A"], e.loc["B"]
    assert a["new_km2"] == 10 and b["new_km2"] == 0
    assert a["speed_km2_per_year"] == pytest.approx(1.0)
    assert a["cagr"] == pytest.approx(2 ** 0.1 - 1, rel=REL)  # 0.07177
    assert b["cagr"] == 0
    assert a["intensity_pct_per_year"] == pytest.approx(1.0)  # 100 * 10 / (100 * 10)
    assert (a["share_of_new"], b["share_of_new"]) == (1.0, 0.0)
    e2 = d.expansion(hand_table(), 2000, 2020, land_km2=pd.Series({"A": 200.0, "B": 10.0}))
    assert e2.loc["B", "intensity_pct_per_year"] == pytest.approx(100 * 1 / (10 * 20))
    assert e2["share_of_new"].sum() == pytest.approx(1.0)
    s = d.expansion_series(hand_table())
    assert list(zip(s["t0"], s["t1"])) == [(2000, 2010)] * 2 + [(2010, 2020)] * 2
    assert s.loc[(s["t0"] == 2010) & (s["unit_id"] == "B"), "cagr"].item() == \
        pytest.approx(1.2 ** 0.1 - 1)


def test_expansion_bad_input():
    with pytest.raises(DataError, match="lacks column"):
        d.expansion(hand_table().drop(columns="epoch"), 2000, 2010)
    with pytest.raises(DataError, match=r"epoch\(s\) \[1990\] not in"):
        d.expansion(hand_table(), 1990, 2010)
    with pytest.raises(DataError, match="after"):
        d.expansion(hand_table(), 2010, 2000)
    with pytest.raises(DataError, match="at least two epochs"):
        d.expansion_series(hand_table(), epochs=[2000])


@pytest.mark.shared
def test_growth_rates_match_stack_totals(shared):
    import geopandas as gpd

    from gisfix.zonal import builtup_by_unit

    stack = open_builtup(shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif"),
                         "year-built")
    t = stack.transform
    box = shapely.box(t.c, t.f + t.e * stack.height, t.c + t.a * stack.width, t.f)
    units = gpd.GeoDataFrame(geometry=[box], index=pd.Index(["all"], name="id"), crs=stack.crs)
    table = builtup_by_unit(units, stack, method="exact")
    total = stack.summary()["builtup_km2"]
    e = d.expansion(table, 1990, 2020).loc["all"]
    assert e["new_km2"] == pytest.approx(total[2020] - total[1990], rel=1e-9)
    assert e["cagr"] == pytest.approx((total[2020] / total[1990]) ** (1 / 30) - 1, rel=1e-9)
    assert e["speed_km2_per_year"] == pytest.approx((434_295 - 350_143) * 0.01 / 30)
    cen = d.builtup_centroids(stack, [1990, 2020])
    assert cen["builtup_km2"].tolist() == pytest.approx([total[1990], total[2020]])


# -- standard deviational ellipse -----------------------------------------------------------
def arcgis_sde(x, y):
    """Yuill (1971) / ArcGIS formula, written out with the tangent of the rotation."""
    xt, yt = x - x.mean(), y - y.mean()
    a = (xt ** 2).sum() - (yt ** 2).sum()
    c = 2 * (xt * yt).sum()
    b = np.sqrt(a ** 2 + c ** 2)
    theta = np.arctan((a + b) / c)
    sx = np.sqrt(2) * np.sqrt(((xt * np.cos(theta) - yt * np.sin(theta)) ** 2).sum() / len(x))
    sy = np.sqrt(2) * np.sqrt(((xt * np.sin(theta) + yt * np.cos(theta)) ** 2).sum() / len(x))
    return theta, sx, sy


def test_sde_hand_cases():
    # a cross: (+-a, 0), (0, +-b); with the sqrt(2) convention the semi-axes are a and b
    e = d.sde_from_points([-3, 3, 0, 0], [0, 0, -1, 1])
    assert (e["sigma_major_m"], e["sigma_minor_m"]) == pytest.approx((3.0, 1.0))
    assert e["rotation_deg"] == pytest.approx(90.0)  # major axis east-west
    assert e["area_km2"] == pytest.approx(np.pi * 3 / 1e6)
    e = d.sde_from_points([-3, 3, 0, 0], [0, 0, -1, 1], sqrt2=False)
    assert e["sigma_major_m"] == pytest.approx(3 / np.sqrt(2))
    # points on a line at azimuth 30 degrees: minor axis 0
    t = np.linspace(-5, 5, 11)
    e = d.sde_from_points(t * np.sin(np.radians(30)), t * np.cos(np.radians(30)))
    assert e["rotation_deg"] == pytest.approx(30.0)
    assert e["sigma_minor_m"] == pytest.approx(0.0, abs=1e-7)
    assert e["sigma_major_m"] == pytest.approx(np.sqrt(2) * t.std())
    # weights act as repeated points
    w = d.sde_from_points([0, 1, 5], [0, 2, 1], weights=[1, 2, 1])
    r = d.sde_from_points([0, 1, 1, 5], [0, 2, 2, 1])
    assert [w[k] for k in ("x", "y", "sigma_major_m", "sigma_minor_m", "rotation_deg")] == \
        pytest.approx([r[k] for k in ("x", "y", "sigma_major_m", "sigma_minor_m", "rotation_deg")])


def test_sde_against_arcgis_formula():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3000, 500)
    y = 0.6 * x + rng.normal(0, 1000, 500)
    theta, sx, sy = arcgis_sde(x, y)
    e = d.sde_from_points(x, y)
    assert sorted([sx, sy]) == pytest.approx([e["sigma_minor_m"], e["sigma_major_m"]], rel=1e-9)
    # ArcGIS's theta rotates the y axis onto the axis of sx; the major axis has the larger
    axis_az = np.degrees(theta) % 180 if sy > sx else (np.degrees(theta) + 90) % 180
    assert e["rotation_deg"] == pytest.approx(axis_az, abs=1e-7)
    with pytest.raises(DataError, match="non-empty"):
        d.sde_from_points([], [])


def test_stack_centroid_shift_and_ellipse(tmp_path):
    a = np.zeros((10, 12), bool)
    a[2, 2] = a[2, 4] = True
    b = a.copy()
    b[2, 9] = True
    stack = write_stack(tmp_path, [a, b], [2000, 2010])
    cen = d.builtup_centroids(stack)
    x, y = centre_of(2, 3)
    assert (cen.loc[2000, "x"], cen.loc[2000, "y"]) == pytest.approx((x, y))
    assert cen.loc[2010, "x"] == pytest.approx((2 * x + centre_of(2, 9)[0]) / 3)
    assert cen.loc[2010, "bearing_deg"] == pytest.approx(90.0)
    assert cen.loc[2010, "shift_m"] == pytest.approx((centre_of(2, 9)[0] - x) / 3)
    ell = d.standard_deviational_ellipse(stack)
    assert ell.loc[2000, "sigma_major_m"] == pytest.approx(np.sqrt(2) * CELL)
    assert ell.loc[2000, "sigma_minor_m"] == pytest.approx(0.0, abs=1e-6)
    assert ell.loc[2000, "rotation_deg"] == pytest.approx(90.0)
    assert ell.loc[2000, "builtup_km2"] == pytest.approx(0.02)
    # windows of one row give the same moments
    assert d.standard_deviational_ellipse(stack, max_cells=12).to_numpy() == \
        pytest.approx(ell.to_numpy(), nan_ok=True)


# -- direction sectors and rings ------------------------------------------------------------
def test_directional_growth_by_hand(tmp_path):
    a = np.zeros((11, 11), bool)
    a[5, 5] = True
    b = a.copy()
    b[2, 5] = True  # north, 300 m
    b[5, 9] = True  # east, 400 m
    b[5, 0] = True  # west, 500 m
    b[1, 9] = True  # north-east, 566 m
    stack = write_stack(tmp_path, [a, b], [2000, 2010])
    g = d.directional_growth(stack, 2000, 2010, ring_width_m=500.0)  # centre: the t0 centroid
    assert g.attrs["centre"] == pytest.approx(centre_of(5, 5))
    new = g[g["new_km2"] > 0].set_index(["sector", "ring"])["new_km2"]
    assert new.to_dict() == pytest.approx({(0, 0): 0.01, (1, 1): 0.01, (2, 0): 0.01,
                                           (6, 1): 0.01})
    assert g["share_of_new"].sum() == pytest.approx(1.0)
    assert g["valid_km2"].sum() == pytest.approx(1.21)
    assert g.loc[g["sector"] == 0, ["bearing_from", "bearing_to"]].iloc[0].tolist() == \
        [337.5, 22.5]
    g16 = d.directional_growth(stack, 2000, 2010, n_sectors=16, centre=centre_of(5, 5))
    assert set(g16.loc[g16["new_km2"] > 0, "sector"]) == {0, 2, 4, 12}
    with pytest.raises(DataError, match="n_sectors"):
        d.directional_growth(stack, 2000, 2010, n_sectors=0)


# -- core and periphery --------------------------------------------------------------------
def core_case():
    b0 = np.zeros((12, 12), bool)
    b0[1:6, 1:6] = True
    b0[3, 3] = False
    b0[9, 1] = True  # a small separate patch: not core
    b1 = b0.copy()
    b1[3, 3] = True  # in the hole of the main mass: core
    b1[3:5, 6] = True  # at its edge: periphery unless dilated
    b1[10, 10] = True  # far: periphery
    return b0, b1


def test_core_periphery_by_hand(tmp_path):
    b0, b1 = core_case()
    stack = write_stack(tmp_path, [b0, b1], [2000, 2010])
    cp = d.core_periphery(stack, 2000, 2010)
    assert cp["core_km2"] == pytest.approx(0.25)  # 5 x 5 with its hole filled
    assert cp["new_km2"] == pytest.approx(0.04)
    assert cp["core_share_new"] == pytest.approx(0.25)
    avail = 144 - 25  # observed and not built at t0
    assert cp["core_share_available"] == pytest.approx(1 / avail)
    assert cp["core_ratio"] == pytest.approx(0.25 * avail)
    assert d.core_periphery(stack, 2000, 2010, dilate_m=100)["core_share_new"] == \
        pytest.approx(0.75)
    # a distance ring of 250 m around the centre of cell (3, 3)
    ring = d.core_periphery(stack, 2000, 2010, radius_m=250, centre=centre_of(3, 3))
    assert ring["core_share_new"] == pytest.approx(0.25)
    # a user polygon: the right half of the grid, as a GeoDataFrame in another CRS
    import geopandas as gpd

    half = gpd.GeoSeries([shapely.box(X0 + 600, Y0 - 1200, X0 + 1200, Y0)], crs="EPSG:3035")
    cp = d.core_periphery(stack, 2000, 2010, core=half.to_crs("EPSG:4326"))
    assert cp["core_share_new"] == pytest.approx(0.75)
    # row strips of one row give the same answer for every core definition
    for opts in ({}, {"dilate_m": 100}, {"radius_m": 250, "centre": centre_of(3, 3)},
                 {"core": half.to_crs("EPSG:4326")}):
        whole = d.core_periphery(stack, 2000, 2010, **opts)
        strips = d.core_periphery(stack, 2000, 2010, max_cells=12, **opts)
        assert strips.to_numpy() == pytest.approx(whole.to_numpy(), rel=1e-12, nan_ok=True)
    assert d.core_mask(stack, 2000, core=half, window=Window(0, 2, 12, 3)).tolist() == \
        d.core_mask(stack, 2000, core=half)[2:5].tolist()
    series = d.core_periphery_series(stack)
    assert series[["t0", "t1", "core_share_new"]].values.tolist() == [[2000, 2010, 0.25]]
    with pytest.raises(DataError, match="after"):
        d.core_periphery(stack, 2010, 2000)
    with pytest.raises(DataError, match="no CRS"):
        d.core_mask(stack, 2000, core=gpd.GeoSeries([shapely.box(0, 0, 1, 1)]))


def test_largest_patch_share(tmp_path):
    b0, b1 = core_case()
    stack = write_stack(tmp_path, [b0, b1], [2000, 2010])
    lps = d.largest_patch_share(stack)
    assert lps[2000] == pytest.approx(24 / 25)
    assert lps[2010] == pytest.approx(27 / 29)  # block + hole + 2 edge cells; 29 built


# -- geographic (EPSG:4326) grids as they come ---------------------------------------------
LDSMT = {"bacau": ("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif"),
         "conakry": ("ghsl_ldsmt_conakry", "conakry_ghs_built_ldsmt_epochs.tif")}
#: LDSMT class -> built at these epochs (class 6 before 1975 ... class 3 2000-2014).
LDSMT_MIN_CLASS = {1975: 6, 1990: 5, 2000: 4, 2014: 3}


def ldsmt_oracle(path):
    """Independent reading of an LDSMT raster: codes, cell centres and Geod cell areas."""
    from pyproj import Geod

    with rasterio.open(path) as ds:
        codes = ds.read(1)
        t = ds.transform
    h, w = codes.shape
    lon = t.c + t.a * (np.arange(w) + 0.5)
    lat = t.f + t.e * (np.arange(h) + 0.5)
    geod = Geod(ellps="WGS84")
    top = t.f + t.e * np.arange(h)
    areas = np.array([abs(geod.polygon_area_perimeter(
        [t.c, t.c + t.a, t.c + t.a, t.c], [y, y, y + t.e, y + t.e])[0]) for y in top])
    return codes, lon, lat, areas, t


def built_at(codes, epoch):
    return (codes >= LDSMT_MIN_CLASS[epoch]) & (codes <= 6)


def weighted_sde(x, y, w):
    """ArcGIS / Yuill trigonometric formula with weights, written out here."""
    mx, my = (w * x).sum() / w.sum(), (w * y).sum() / w.sum()
    xt, yt = x - mx, y - my
    a = (w * xt ** 2).sum() - (w * yt ** 2).sum()
    c = 2 * (w * xt * yt).sum()
    b = np.sqrt(a ** 2 + c ** 2)
    theta = np.arctan((a + b) / c)
    sx = np.sqrt(2 * (w * (xt * np.cos(theta) - yt * np.sin(theta)) ** 2).sum() / w.sum())
    sy = np.sqrt(2 * (w * (xt * np.sin(theta) + yt * np.cos(theta)) ** 2).sum() / w.sum())
    return mx, my, sorted([sx, sy])


@pytest.mark.shared
@pytest.mark.parametrize("city", sorted(LDSMT))
def test_geographic_diffusion_measures_against_pyproj(shared, city):
    """Bacau and Conakry LDSMT (EPSG:4326) without reprojection, against pyproj.

    Centres and ellipses: pyproj's ellipsoidal sinusoidal projection about the grid centre
    and the trigonometric SDE formula, cells weighted by pyproj Geod polygon areas.
    Rings and sectors: pyproj Geod.inv distances and azimuths.  Areas: Geod areas.
    """
    from pyproj import Geod, Transformer

    path = shared(*LDSMT[city])
    stack = open_builtup(path, "ldsmt")
    codes, lon, lat, areas, t = ldsmt_oracle(path)
    lon_c = t.c + t.a * stack.width / 2
    lat_c = t.f + t.e * stack.height / 2
    sinu = Transformer.from_crs("EPSG:4326", f"+proj=sinu +lon_0={lon_c} +ellps=WGS84",
                                always_xy=True)
    ell = d.standard_deviational_ellipse(stack)
    for epoch in (1990, 2014):
        r, c = np.nonzero(built_at(codes, epoch))
        x, y = sinu.transform(lon[c], lat[r])
        mx, my, (minor, major) = weighted_sde(np.asarray(x), np.asarray(y), areas[r])
        e = ell.loc[epoch]
        assert e["builtup_km2"] == pytest.approx(areas[r].sum() / 1e6, rel=1e-9)
        assert (e["sigma_minor_m"], e["sigma_major_m"]) == pytest.approx((minor, major),
                                                                         rel=1e-6)
        ex, ey = sinu.transform(e["x"], e["y"])
        assert (ex, ey) == pytest.approx((mx, my), abs=1e-3)  # millimetres
    # the centroid shift is the geodesic distance between the centres
    cen = d.builtup_centroids(stack, [1990, 2014])
    az, _, dist = Geod(ellps="WGS84").inv(*cen.loc[1990, ["x", "y"]], *cen.loc[2014, ["x", "y"]])
    assert cen.loc[2014, "shift_m"] == pytest.approx(dist, rel=1e-9)
    assert cen.loc[2014, "bearing_deg"] == pytest.approx(az % 360, abs=1e-9)
    # direction sectors and 1 km rings around the grid centre, geodesic
    g = d.directional_growth(stack, 1990, 2014, centre=(lon_c, lat_c), ring_width_m=1000.0)
    new = built_at(codes, 2014) & ~built_at(codes, 1990)
    r, c = np.nonzero(new)
    az, _, dist = Geod(ellps="WGS84").inv(np.full(r.size, lon_c), np.full(r.size, lat_c),
                                          lon[c], lat[r])
    sector = np.floor(np.mod(np.mod(az, 360) + 22.5, 360) / 45).astype(int) % 8
    ring = np.floor(dist / 1000.0).astype(int)
    want = pd.Series(areas[r] / 1e6).groupby([sector, ring]).sum()
    got = g.set_index(["sector", "ring"])["new_km2"]
    got = got[got > 0]
    assert got.sort_index().to_numpy() == pytest.approx(want.sort_index().to_numpy(), rel=1e-9)
    assert g["new_km2"].sum() == pytest.approx(areas[r].sum() / 1e6, rel=1e-9)
    # a 2 km geodesic disc around the grid centre as the core
    cp = d.core_periphery(stack, 1990, 2014, radius_m=2000.0, centre=(lon_c, lat_c))
    assert cp["new_core_km2"] == pytest.approx(areas[r][dist <= 2000.0].sum() / 1e6, rel=1e-9)


@pytest.mark.shared
def test_geographic_buffer_in_metres_is_topological_for_one_cell(shared):
    """A buffer in metres that reaches only the 8 neighbours gives the 3 x 3 ring on Bacau.

    The ring of a buffer D holds the cells whose centre is within D of the cell square: the
    diagonal neighbour at hypot(w, h) / 2, the second cell along a row at 1.5 w.  Any D in
    between is the one-cell ring, i.e. the array treated as a projected grid.
    """
    from scipy import ndimage

    from gisfix.crs import geod_for

    stack = open_builtup(shared(*LDSMT["bacau"]), "ldsmt")
    t = stack.transform
    geod = geod_for(stack.crs)
    lat = t.f + t.e * stack.height / 2
    width = geod.inv(t.c, lat, t.c + t.a, lat)[2]
    height = geod.inv(t.c, lat, t.c, lat + abs(t.e))[2]
    lo, hi = np.hypot(width, height) / 2, 1.5 * min(width, height)
    assert lo < hi
    buffer_m = (lo + hi) / 2
    plain = d.core_mask(stack, 1990)
    dilated = d.core_mask(stack, 1990, dilate_m=buffer_m)
    assert np.array_equal(dilated, ndimage.binary_dilation(plain, structure=np.ones((3, 3))))


@pytest.mark.shared
def test_core_from_urban_extents_matches_builtup_by_unit(shared):
    """A user core (the urban extents of gisfix.extents) against the zonal engine."""
    from gisfix.extents import urban_extents
    from gisfix.zonal import builtup_by_unit

    stack = open_builtup(shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif"),
                         "year-built", epochs=[1990, 2020])
    ext = urban_extents(stack, 1990).set_index("extent_id")
    cp = d.core_periphery(stack, 1990, 2020, core=ext)
    t = builtup_by_unit(ext, stack, method="centre")
    by = t.pivot_table(index="unit_id", columns="epoch", values="builtup_km2").sum()
    assert cp["new_core_km2"] == pytest.approx(by[2020] - by[1990], rel=1e-9)
    assert cp["core_km2"] == pytest.approx(t.loc[t["epoch"] == 1990, "valid_km2"].sum(),
                                           rel=1e-9)
    total = stack.summary()["builtup_km2"]
    assert cp["new_km2"] == pytest.approx(total[2020] - total[1990], rel=1e-9)
