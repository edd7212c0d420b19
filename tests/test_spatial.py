"""gisfix.spatial: the inference helper, the esda backend, libpysal graphs in and out, seeds.

Oracles: scipy.stats (normal tail), esda run in the test (backend equality), libpysal's own
Graph/W, hand-counted ties; the seed policy is checked by recomputing with other epochs.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gisfix.spatial import (
    as_graph,
    count_at_least,
    getis_ord,
    local_moran,
    make_graph,
    moran,
    normal_sf,
    pseudo_p,
    spatial_gini,
    stream,
)
from gisfix.spatial.inference import TIE_RTOL, normal_p_two_sided

#: esda and gisfix compute the same formulas (floating-point summation order)
ESDA_RTOL = 1e-10


@pytest.fixture(scope="module")
def grid():
    """A 6 x 6 grid of unit squares, ids as text, with a smooth trend plus noise."""
    cells = [box(i, j, i + 1, j + 1) for j in range(6) for i in range(6)]
    ids = [f"u{k:02d}" for k in range(36)]
    gdf = gpd.GeoDataFrame(geometry=cells, index=pd.Index(ids, name="unit_id"), crs=3857)
    rng = np.random.default_rng(42)
    xy = np.array([(i, j) for j in range(6) for i in range(6)], dtype=float)
    value = xy.sum(axis=1) / 10 + rng.uniform(0, 0.3, 36)
    return gdf, pd.Series(value, index=gdf.index)


def test_normal_sf_equals_scipy():
    from scipy.stats import norm

    z = np.array([-8.0, -1.96, 0.0, 0.5, 1.644853626951, 3.7, 12.0])
    np.testing.assert_allclose(normal_sf(z), norm.sf(z), rtol=1e-13, atol=1e-300)
    assert normal_sf(1.96) == pytest.approx(norm.sf(1.96), rel=1e-14)
    assert normal_p_two_sided(-1.96) == pytest.approx(2 * norm.sf(1.96), rel=1e-14)
    assert math.isnan(normal_sf(float("nan")))


def test_one_tie_rule_and_fold():
    obs = 0.3
    sim = np.array([0.1, 0.3 * (1 - TIE_RTOL / 10), 0.3, 0.5, 0.2])  # a rounding tie counts
    assert int(count_at_least(sim, obs)) == 3
    assert pseudo_p(3, 5) == pytest.approx((min(3, 2) + 1) / 6)
    np.testing.assert_allclose(pseudo_p(np.array([0, 99, 50]), 99),
                               [1 / 100, 1 / 100, 50 / 100])
    sims = np.array([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
    np.testing.assert_array_equal(count_at_least(sims, np.array([1.0, 5.0])), [2, 3])


def test_streams_are_keyed_not_ordered():
    a = stream(7, "lisa", 2020).random(5)
    _ = stream(7, "lisa", 1990).random(5)
    assert np.array_equal(a, stream(7, "lisa", 2020).random(5))
    assert not np.array_equal(a, stream(7, "lisa", 2015).random(5))
    assert not np.array_equal(a, stream(7, "moran", 2020).random(5))
    assert not np.array_equal(a, stream(8, "lisa", 2020).random(5))
    gen = np.random.default_rng(7)
    assert np.array_equal(stream(gen, "lisa", 2020).random(5), a)  # a Generator's seed


def test_lisa_2020_independent_of_other_epochs(grid):
    """Issue 11: LISA p-values for 2020 are the same whether or not 1990 is also requested."""
    from gisfix.workflows.measures import agglomeration_measures

    gdf, value = grid
    rows = []
    for epoch, shift in ((1990, 0.0), (2020, 0.4)):
        share = (value + shift).clip(upper=1.0) / 2
        rows.append(pd.DataFrame({"unit_id": gdf.index, "epoch": epoch,
                                  "builtup_km2": share.to_numpy(),
                                  "valid_km2": np.ones(len(gdf))}))
    both = pd.concat(rows, ignore_index=True)
    only = both[both["epoch"] == 2020].reset_index(drop=True)
    kw = {"patches": False, "permutations": 199, "seed": 3}
    per_both, sum_both = agglomeration_measures(gdf, None, table=both, **kw)
    per_only, sum_only = agglomeration_measures(gdf, None, table=only, **kw)
    a = per_both[per_both["epoch"] == 2020].set_index("unit_id")["lisa_p_sim"]
    b = per_only.set_index("unit_id")["lisa_p_sim"]
    assert a.notna().all()
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
    ma = sum_both.set_index("epoch").loc[2020, "moran_p_sim"]
    assert ma == sum_only.set_index("epoch").loc[2020, "moran_p_sim"]


@pytest.mark.parametrize("kind", ["queen", "rook"])
def test_libpysal_graph_and_w_in_and_out(grid, kind):
    from libpysal.graph import Graph

    gdf, value = grid
    peer = Graph.build_contiguity(gdf, rook=kind == "rook")
    ours = make_graph(gdf, kind, libpysal=True)
    assert isinstance(ours, Graph)
    pd.testing.assert_series_equal(ours.adjacency.sort_index(), peer.adjacency.sort_index(),
                                   check_dtype=False)
    own = make_graph(gdf, kind)
    for g in (peer, peer.to_W(), own):
        assert moran(value, g, permutations=0).I == pytest.approx(
            moran(value, own, permutations=0).I, rel=1e-12)
        pd.testing.assert_frame_equal(local_moran(value, g, permutations=0),
                                      local_moran(value, own, permutations=0))
        pd.testing.assert_frame_equal(getis_ord(value, g, permutations=0),
                                      getis_ord(value, own, permutations=0))
        assert spatial_gini(value, g, permutations=0).neighbor == \
            spatial_gini(value, own, permutations=0).neighbor
    assert as_graph(peer).n == len(gdf)


def test_esda_backend_equals_numpy(grid):
    gdf, value = grid
    g = make_graph(gdf, "queen")
    ours = moran(value, g, permutations=0)
    peer = moran(value, g, permutations=0, backend="esda")
    for k in ("I", "EI", "VI_norm", "z_norm", "p_norm", "VI_rand", "z_rand", "p_rand"):
        assert getattr(ours, k) == pytest.approx(getattr(peer, k), rel=ESDA_RTOL), k
    lo = local_moran(value, g, permutations=0)
    lp = local_moran(value, g, permutations=0, backend="esda")
    np.testing.assert_allclose(lo["Is"], lp["Is"], rtol=ESDA_RTOL, atol=1e-15)
    np.testing.assert_array_equal(lo["q"], lp["q"])
    np.testing.assert_allclose(lo["lag"], lp["lag"], rtol=ESDA_RTOL, atol=1e-15)


def test_default_permutations_are_999(grid):
    gdf, value = grid
    g = make_graph(gdf, "queen")
    assert moran(value, g, seed=0).permutations == 999
    assert spatial_gini(value, g, seed=0).permutations == 999
    assert getis_ord(value, g, seed=0)["p_sim"].notna().all()
