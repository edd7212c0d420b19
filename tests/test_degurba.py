"""DEGURBA stage I (grid) and stage II (units) on constructed 1 km grids.

Oracle: grids built by hand so that each rule of gisfix.degurba's docstring sits exactly on
its threshold (qualifies) and just below it (does not); the expected classes are worked out
in the comments, never by calling the implementation's helpers.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from gisfix.degurba import (
    PRESETS,
    DegurbaWarning,
    classify_grid,
    classify_units,
    degurba_units,
    resolve_preset,
)
from gisfix.errors import DataError, RasterError

CENTRE, CLUSTER, RURAL, NODATA = 3, 2, 1, 0


def _grid(shape, fill=0.0):
    return np.full(shape, fill, dtype=float)


# -- rules 1, 5: density and centre size --------------------------------------------------
def test_centre_density_and_size_boundaries():
    g = _grid((3, 14))
    g[1, 0:10] = 5000.0          # 10 x 5,000 = 50,000 exactly: an urban centre (rule 5)
    g[1, 10] = 1500.0            # density exactly 1,500: dense, joins the centre (rule 1)
    g[1, 11] = 1499.0            # just below: not dense; >= 300 so urban cluster (rule 7)
    out = classify_grid(g)
    assert (out[1, 0:11] == CENTRE).all()
    assert out[1, 11] == CLUSTER
    assert out[0, 0] == RURAL and out[2, 13] == RURAL
    g2 = g.copy()
    g2[1, 0] = 4999.0            # 49,999 + 1,500 = 51,499 still >= 50,000 with the 1,500 cell
    g2[1, 10] = 1000.0           # ... so drop the 1,500 cell below the density: 49,999
    out2 = classify_grid(g2)
    assert (out2[1, 0:10] == CLUSTER).all()     # 49,999 < 50,000: an urban cluster only


# -- rules 3, 8: contiguity ---------------------------------------------------------------
def test_centre_edges_only_cluster_diagonals():
    g = _grid((6, 6))
    g[0:3, 0:3] = 30_000 / 9     # 30,000 people
    g[3:6, 3:6] = 30_000 / 9     # touches the first block only at a corner
    out = classify_grid(g)
    # 4-connected: two blocks of 30,000 (< 50,000): no centre; 8-connected: one cluster
    # of 60,000 (>= 5,000)
    assert (out[0:3, 0:3] == CLUSTER).all() and (out[3:6, 3:6] == CLUSTER).all()
    g[3, 0:3] = 30_000 / 9       # now an edge joins them: one 4-connected block of 90,000
    out = classify_grid(g)
    assert (out[0:4, 0:3] == CENTRE).all() and (out[3:6, 3:6] == CENTRE).all()
    # clusters: two blocks of 2,600 at 650/km2 touching at a corner form one 8-connected
    # cluster of 5,200; apart, each is rural
    c = _grid((5, 5))
    c[0:2, 0:2] = 650.0
    c[2:4, 2:4] = 650.0
    assert (classify_grid(c)[0:4, 0:4][c[0:4, 0:4] > 0] == CLUSTER).all()
    c[2:4, 2:4] = 0.0
    c[3:5, 3:5] = 650.0
    assert (classify_grid(c)[c > 0] == RURAL).all()


# -- rule 9: cluster size -----------------------------------------------------------------
def test_cluster_size_boundary():
    g = _grid((3, 12))
    g[1, 0:10] = 500.0           # 5,000 exactly: urban cluster
    out = classify_grid(g)
    assert (out[1, 0:10] == CLUSTER).all()
    g[1, 9] = 499.0              # 4,999: rural (every cell still >= 300 inh/km2)
    assert (classify_grid(g)[1, 0:10] == RURAL).all()


# -- rule 4 (with 5): gap filling before the size threshold --------------------------------
def test_gap_filling_boundary():
    # a ring of 22 cells x 2,000 = 44,000 around a 2 x 7 hole (14 km2) holding 6,000
    g = _grid((6, 11))
    g[1:5, 1:10] = 2000.0
    hole = np.array([428.0] * 13 + [436.0])            # 6,000 people, none dense
    g[2:4, 2:9] = hole.reshape(2, 7)
    out = classify_grid(g)
    # 14 km2 < 15: filled, the centre then holds 50,000: an urban centre, hole included
    assert (out[1:5, 1:10] == CENTRE).all()
    # a 3 x 5 hole (15 km2, not < 15) in a ring of 20 x 2,200 = 44,000; hole 15 x 400
    g = _grid((7, 9))
    g[1:6, 1:8] = 2200.0
    g[2:5, 2:7] = 400.0
    out = classify_grid(g)
    # not filled: 44,000 < 50,000, so no centre; all >= 300 inh/km2: one urban cluster
    assert (out[1:6, 1:8] == CLUSTER).all()
    # a smaller limit leaves the 14 km2 hole out too
    g = _grid((6, 11))
    g[1:5, 1:10] = 2000.0
    g[2:4, 2:9] = hole.reshape(2, 7)
    assert (classify_grid(g, centre_fill_holes_km2=14.0)[2:4, 2:9] == CLUSTER).all()


# -- rule 6: edge smoothing ---------------------------------------------------------------
def test_majority_smoothing_boundary():
    g = _grid((4, 10), 100.0)
    g[0, 0:8] = 7000.0
    g[1, [0, 2, 3]] = 7000.0     # 11 dense cells, 77,000 people
    # (1, 1): neighbours (0,0) (0,1) (0,2) (1,0) (1,2) in the centre = 5 -> joins
    # (1, 4): neighbours (0,3) (0,4) (0,5) (1,3) = 4 -> stays out
    out = classify_grid(g)
    assert out[1, 1] == CENTRE
    assert out[1, 4] != CENTRE
    assert classify_grid(g, centre_smooth_neighbours=6)[1, 1] != CENTRE


# -- rule 2 and the ghsl-2023 land density ------------------------------------------------
def test_builtup_criterion_and_land_density():
    g = _grid((3, 14))
    g[1, 0:10] = 5000.0
    g[1, 10] = 100.0             # sparse but half built up
    g[1, 11] = 100.0
    share = np.zeros_like(g)
    share[1, 10] = 0.5           # exactly 0.5: qualifies, joins the centre
    share[1, 11] = 0.49          # below (and no longer adjacent to a dense cell anyway)
    out = classify_grid(g, builtup_share=share)
    assert out[1, 10] == CENTRE and out[1, 11] != CENTRE
    assert classify_grid(g)[1, 10] != CENTRE     # without the built-up grid: not dense
    # ghsl-2023: density per km2 of land; 1,000 people on half a km2 of land = 2,000/km2
    g[1, 10] = 1000.0
    land = np.ones_like(g)
    land[1, 10] = 0.5
    assert classify_grid(g, land_fraction=land, preset="ghsl-2023")[1, 10] == CENTRE
    assert classify_grid(g, land_fraction=land, preset="manual-2021")[1, 10] != CENTRE


def test_nodata_and_row_areas():
    g = _grid((3, 12))
    g[1, 0:10] = 5000.0
    g[0, 0] = np.nan
    out = classify_grid(g)
    assert out[0, 0] == NODATA and (out[1, 0:10] == CENTRE).all()
    # row areas: the same people on 2 km2 cells halve the density: 2,500 still >= 1,500
    assert (classify_grid(g, np.array([2.0, 2.0, 2.0]))[1, 0:10] == CENTRE).all()
    assert (classify_grid(g, np.array([4.0, 4.0, 4.0]))[1, 0:10] == CLUSTER).all()


# -- rules 11-14: units -------------------------------------------------------------------
def test_unit_rules_boundaries():
    t = pd.DataFrame({
        "population_urban_centre": [50.0, 49.0, 40.0, 0.0, 0.0],
        "population_urban_cluster": [0.0, 1.0, 30.0, 51.0, 0.0],
        "population_rural": [50.0, 50.0, 30.0, 49.0, 0.0]},
        index=["city50", "rural50", "town", "town_cluster", "empty"])
    with pytest.warns(DegurbaWarning, match="no population"):
        out = classify_units(t)
    assert out["degurba"].to_dict() == {"city50": 1, "rural50": 3, "town": 2,
                                        "town_cluster": 2, "empty": 3}
    assert out.loc["town", "degurba_label"] == "town and semi-dense area"
    assert out.loc["city50", "share_urban_centre"] == 0.5


def test_degurba_units_end_to_end(tmp_path):
    g = _grid((4, 14))
    g[1, 0:10] = 5000.0          # urban centre, 50,000
    g[3, 10:14] = 2000.0         # 4 cells of 2,000: an urban cluster of 8,000
    path = tmp_path / "ghs_pop_2020.tif"
    with rasterio.open(path, "w", driver="GTiff", height=4, width=14, count=1,
                       dtype="float64", crs="EPSG:3035", nodata=-1,
                       transform=from_origin(0, 4000, 1000, 1000)) as ds:
        ds.write(g, 1)
    from gisfix.stack import open_builtup

    stack = open_builtup(path, "population")
    units = gpd.GeoDataFrame(
        {"geometry": [box(0, 0, 5000, 4000), box(5000, 0, 10000, 4000),
                      box(10000, 0, 14000, 4000)]},
        index=pd.Index(["west", "mid", "east"], name="id"), crs="EPSG:3035")
    out, grid = degurba_units(units, stack)
    assert grid[1, 0] == CENTRE and grid[3, 12] == CLUSTER
    assert out["degurba"].to_dict() == {"west": 1, "mid": 1, "east": 2}
    assert out.loc["west", "population"] == pytest.approx(25_000)
    assert out.loc["east", "population_urban_cluster"] == pytest.approx(8_000)
    assert set(out["preset"]) == {"manual-2021"} and set(out["epoch"]) == {2020}
    # a unit straddling cells counts them by coverage: half of column 9 (centre, 5,000)
    # and half of column 10 (its row 3 cell is the cluster's 2,000)
    half = gpd.GeoDataFrame({"geometry": [box(9500, 0, 10500, 4000)]},
                            index=pd.Index(["edge"]), crs="EPSG:3035")
    e, _ = degurba_units(half, stack)
    assert e.loc["edge", "population_urban_centre"] == pytest.approx(2500)
    assert e.loc["edge", "population_urban_cluster"] == pytest.approx(1000)
    assert e.loc["edge", "degurba"] == 1        # 2,500 of 3,500 in the centre


def test_presets_and_bad_input(tmp_path):
    assert set(PRESETS) == {"manual-2021", "ghsl-2023"}
    assert resolve_preset("ghsl-2023", centre_population=1.0)["centre_population"] == 1.0
    with pytest.raises(DataError, match="unknown DEGURBA preset"):
        classify_grid(np.ones((2, 2)), preset="degurba-1999")
    with pytest.raises(DataError, match="unknown DEGURBA rule"):
        classify_grid(np.ones((2, 2)), centre_pop=1)
    with pytest.raises(DataError, match="negative"):
        classify_grid(-np.ones((2, 2)))
    with pytest.raises(DataError, match="2-D"):
        classify_grid(np.ones(3))
    with pytest.raises(DataError, match="needs columns"):
        classify_units(pd.DataFrame({"population_rural": [1.0]}))
    path = tmp_path / "b_2000.tif"
    with rasterio.open(path, "w", driver="GTiff", height=2, width=2, count=1, dtype="uint8",
                       crs="EPSG:3035", transform=from_origin(0, 200, 100, 100)) as ds:
        ds.write(np.ones((2, 2), dtype="uint8"), 1)
    from gisfix.stack import open_builtup

    units = gpd.GeoDataFrame({"geometry": [box(0, 0, 200, 200)]}, crs="EPSG:3035")
    with pytest.raises(RasterError, match="population stack"):
        degurba_units(units, open_builtup(path, "binary"))
    with pytest.warns(DegurbaWarning, match="1 km"):
        degurba_units(units, open_builtup(path, "population"))
