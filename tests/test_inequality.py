"""Tests of gisfix.inequality and gisfix.spatial.gini against independent oracles.

Oracles: PySAL ``inequality`` run in the test on libpysal's ``mexico`` data and the numbers
published in its documentation (Rey and Sastre-Gutierrez 2010 data); statsmodels for the
convergence regressions; hand-solved cases; replication (an integer weight equals repeating
the unit); the China 2020 county census (shared data) for decomposition additivity.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gisfix import inequality as ineq
from gisfix.errors import DataError
from gisfix.spatial import make_graph, spatial_gini
from gisfix.spatial.gini import _neighbour_sums, _pairs


def contiguity_graph(gdf, rook=False):
    """The libpysal Graph of gisfix's contiguity builder."""
    return make_graph(gdf, "rook" if rook else "queen", libpysal=True)


#: agreement with a peer library computing the same formula (floating-point summation order)
PEER_REL = 1e-12
#: published numbers are printed with 8 significant digits
PUBLISHED_ABS = 5e-9
#: between + within == total
ADDITIVITY = 1e-12
#: hand-solved cases
HAND = 1e-12

YEARS = list(range(1940, 2010, 10))
COLS = [f"pcgdp{y}" for y in YEARS]
# PySAL inequality docs (Theil / TheilD docstrings and tests), Rey & Sastre-Gutierrez 2010 data
PUBLISHED_THEIL = [0.20894344, 0.15222451, 0.10472941, 0.10194725, 0.09560113, 0.10511256,
                   0.10660832]
PUBLISHED_THEIL_BG = [0.0345889, 0.02816853, 0.05260921, 0.05931219, 0.03205257, 0.02963731,
                      0.03635872]
PUBLISHED_THEIL_WG = [0.17435454, 0.12405598, 0.0521202, 0.04263506, 0.06354856, 0.07547525,
                      0.0702496]
PUBLISHED_GINI_1940 = 0.35372371173452849
# Gini_Spatial on pcgdp1940 with HANSON98 block weights (PySAL test suite)
PUBLISHED_WG_1940 = 884130.0
PUBLISHED_WCG_1940 = 4353856.0


@pytest.fixture(scope="module")
def mexico():
    import libpysal

    return pd.read_csv(libpysal.examples.get_path("mexico.csv"))


@pytest.fixture(scope="module")
def mexico_gdf():
    import geopandas as gpd
    import libpysal

    return gpd.read_file(libpysal.examples.get_path("mexicojoin.shp")).set_index("CODE")


@pytest.fixture(scope="module")
def china():
    import pyogrio
    from conftest import shared_path

    p = shared_path("china_counties_2020", "china_counties_2020.gpkg")
    df = pyogrio.read_dataframe(p, layer="county")
    df = df[df["POPU"].notna()].copy()
    df.index = df["CODE"].astype(str)
    return df


def rel(a, b):
    return abs(a - b) / abs(b)


# ----------------------------------------------------------------------------- hand cases
def test_gini_hand():
    # ordered-pair |differences| of 1..4 sum to 20; 2 n^2 mean = 80
    assert ineq.gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=HAND)
    assert ineq.gini([5, 5, 5]) == pytest.approx(0.0, abs=HAND)
    assert ineq.gini([0, 0, 0, 1]) == pytest.approx(0.75, abs=HAND)  # (n-1)/n
    # weights [3, 1] on values [1, 2] = the values [1, 1, 1, 2]: sum |d| = 6, 2*16*1.25 = 40
    assert ineq.gini([1, 2], [3, 1]) == pytest.approx(6 / 40, abs=HAND)


def test_lorenz_hand_and_gini_identity():
    lz = ineq.lorenz(pd.Series([3, 1, 4, 2], index=list("cadb")))
    assert list(lz["unit"][1:]) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(lz["value_share"], [0, 0.1, 0.3, 0.6, 1.0], atol=HAND)
    np.testing.assert_allclose(lz["population_share"], [0, 0.25, 0.5, 0.75, 1.0], atol=HAND)
    rng = np.random.default_rng(3)
    x, w = rng.lognormal(size=50), rng.integers(1, 9, 50)
    lz = ineq.lorenz(x, w)
    f, lv = lz["population_share"].to_numpy(), lz["value_share"].to_numpy()
    area = np.sum(np.diff(f) * (lv[1:] + lv[:-1]))
    assert ineq.gini(x, w) == pytest.approx(1 - area, abs=1e-12)


def test_theil_and_ge_hand():
    assert ineq.theil_t([0, 0, 0, 4]) == pytest.approx(math.log(4), abs=HAND)
    assert ineq.theil_t([7, 7, 7]) == pytest.approx(0, abs=HAND)
    # [1, 4]: mean 2.5
    t = 0.5 * (0.4 * math.log(0.4) + 1.6 * math.log(1.6))
    assert ineq.theil_t([1, 4]) == pytest.approx(t, abs=HAND)
    assert ineq.theil_l([1, 4]) == pytest.approx(0.5 * math.log(6.25 / 4), abs=HAND)
    assert ineq.generalized_entropy([1, 4], 1) == pytest.approx(t, abs=HAND)
    assert ineq.generalized_entropy([1, 4], 0) == pytest.approx(ineq.theil_l([1, 4]), abs=HAND)
    # GE(2) = CV^2 / 2 ;  GE(-1) of [1, 4] = (1/2) * (mean(mu/x) - 1) with mu/x = 2.5, 0.625
    assert ineq.generalized_entropy([1, 4], 2) == pytest.approx(0.5 * 0.6**2, abs=HAND)
    assert ineq.generalized_entropy([1, 4], -1) == pytest.approx(
        0.5 * ((2.5 + 0.625) / 2 - 1), abs=HAND)
    # GE is continuous in alpha at 1 and 0
    x = [1.0, 2.0, 7.0, 3.0]
    assert ineq.generalized_entropy(x, 1 + 1e-7) == pytest.approx(ineq.theil_t(x), rel=1e-6)
    assert ineq.generalized_entropy(x, 1e-7) == pytest.approx(ineq.theil_l(x), rel=1e-6)


def test_atkinson_hand_and_published():
    from inequality.atkinson import atkinson as peer

    x = [10, 20, 30, 40, 50]
    # published in PySAL's atkinson docstring
    assert round(ineq.atkinson(x, 0.5), 5) == 0.06315
    assert round(ineq.atkinson(x, 1), 5) == 0.13161
    for eps in (0.5, 1, 2):
        assert rel(ineq.atkinson(x, eps), peer(np.array(x, dtype=float), eps)) < PEER_REL
    # [1, 4]: mean 2.5; geometric 2, harmonic 1.6, ((1 + 2) / 2)^2 = 2.25
    assert ineq.atkinson([1, 4], 1) == pytest.approx(0.2, abs=HAND)
    assert ineq.atkinson([1, 4], 2) == pytest.approx(0.36, abs=HAND)
    assert ineq.atkinson([1, 4], 0.5) == pytest.approx(0.1, abs=HAND)
    assert ineq.atkinson([1, 4], 0) == pytest.approx(0, abs=HAND)


def test_cv_williamson_ratios_hand():
    assert ineq.cv([1, 2, 3]) == pytest.approx(math.sqrt(2 / 3) / 2, abs=HAND)
    assert ineq.cv([1, 2, 3], ddof=1) == pytest.approx(0.5, abs=HAND)
    # values [1, 3], population [3, 1]: national mean 1.5, variance 0.75
    assert ineq.williamson([1, 3], [3, 1]) == pytest.approx(math.sqrt(0.75) / 1.5, abs=HAND)
    assert ineq.cv([1, 3], [3, 1]) == ineq.williamson([1, 3], [3, 1])
    assert ineq.max_min_ratio([2, 5, 10]) == 5
    assert ineq.top_bottom_ratio(range(1, 11)) == pytest.approx(19 / 3, abs=HAND)
    assert ineq.top_bottom_ratio(range(1, 11), share=0.5) == pytest.approx(40 / 15, abs=HAND)
    # 5 units, share 0.3: bottom = 1 + half of 2, top = 5 + half of 4
    assert ineq.top_bottom_ratio([1, 2, 3, 4, 5], 0.3) == pytest.approx(7 / 2, abs=HAND)
    # weights: values [1, 3] with population [4, 1] = units [1, 1, 1, 1, 3]
    assert ineq.top_bottom_ratio([1, 3], 0.2, [4, 1]) == pytest.approx(3.0, abs=HAND)
    assert ineq.top_bottom_ratio([3, 1], 0.4, [1, 4]) == pytest.approx(4 / 2, abs=HAND)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 1000), st.integers(1, 5)), min_size=2, max_size=12))
def test_integer_weights_equal_replication(pairs):
    x = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    rep = np.repeat(x, w)
    if np.ptp(rep) == 0:
        return
    for fn in (ineq.gini, ineq.theil_t, ineq.theil_l, ineq.cv):
        assert fn(x, w) == pytest.approx(fn(rep), rel=1e-9, abs=1e-12)
    for a in (-1, 0.5, 2):
        assert ineq.generalized_entropy(x, a, w) == pytest.approx(
            ineq.generalized_entropy(rep, a), rel=1e-9, abs=1e-12)
    for eps in (0.5, 1, 2):
        assert ineq.atkinson(x, eps, w) == pytest.approx(ineq.atkinson(rep, eps),
                                                         rel=1e-9, abs=1e-12)
    assert ineq.top_bottom_ratio(x, 0.3, w) == pytest.approx(ineq.top_bottom_ratio(rep, 0.3),
                                                             rel=1e-9)
    g = np.arange(len(x)) % 2
    d_w = ineq.theil_decomposition(x, g, w, allow_singletons=True)
    d_r = ineq.theil_decomposition(rep, np.repeat(g, w), allow_singletons=True)
    assert d_w.between == pytest.approx(d_r.between, rel=1e-9, abs=1e-12)


# ----------------------------------------------------------------------------- PySAL / Mexico
def test_mexico_theil_all_decades(mexico):
    from inequality.theil import Theil

    got = ineq.over_time(mexico[COLS], "theil_t")
    assert list(got.index) == COLS
    peer = Theil(mexico[COLS].to_numpy()).T
    np.testing.assert_allclose(got.to_numpy(), peer, rtol=PEER_REL)
    np.testing.assert_allclose(got.to_numpy(), PUBLISHED_THEIL, atol=PUBLISHED_ABS)


def test_mexico_theild_hanson98(mexico):
    from inequality.theil import TheilD

    peer = TheilD(mexico[COLS].to_numpy(), mexico["hanson98"].to_numpy())
    for k, col in enumerate(COLS):
        d = ineq.theil_decomposition(mexico[col], mexico["hanson98"])
        assert rel(d.between, peer.bg[k]) < PEER_REL
        assert rel(d.within, peer.wg[k]) < 1e-11
        assert d.between == pytest.approx(PUBLISHED_THEIL_BG[k], abs=PUBLISHED_ABS)
        assert d.within == pytest.approx(PUBLISHED_THEIL_WG[k], abs=PUBLISHED_ABS)
        assert abs(d.total - d.between - d.within) < ADDITIVITY
        assert d.groups["contribution"].sum() == pytest.approx(d.total, abs=ADDITIVITY)
        assert d.groups["n"].sum() == 32


def test_mexico_gini(mexico):
    from inequality.gini import Gini

    for col in ("pcgdp1940", "pcgdp2000"):
        assert rel(ineq.gini(mexico[col]), Gini(mexico[col].to_numpy()).g) < PEER_REL
    assert ineq.gini(mexico["pcgdp1940"]) == pytest.approx(PUBLISHED_GINI_1940, abs=1e-15)


def test_mexico_spatial_gini_block_weights(mexico):
    import libpysal
    from inequality.gini import Gini_Spatial

    x = mexico["pcgdp1940"].to_numpy()
    w = libpysal.weights.block_weights(mexico["hanson98"].to_numpy(), silence_warnings=True)
    r = spatial_gini(x, w, permutations=999, seed=7)
    assert r.gini == pytest.approx(PUBLISHED_GINI_1940, abs=1e-15)
    assert r.neighbor == PUBLISHED_WG_1940
    assert r.non_neighbor == PUBLISHED_WCG_1940
    np.random.seed(12345)
    peer = Gini_Spatial(x, w, permutations=999)
    assert r.neighbor == peer.wg and r.non_neighbor == peer.wcg
    assert rel(r.polarization, peer.polarization) < PEER_REL
    assert rel(r.non_neighbor_share, peer.wcg_share) < PEER_REL
    # different generators, same null: pseudo p-values and means agree within MC error
    assert abs(r.p_sim - peer.p_sim) < 0.03
    assert rel(r.expected, peer.e_wcg) < 0.01


def test_spatial_gini_permutation_engine_equals_pysal_loop(mexico_gdf):
    """Our vectorised neighbour sums equal PySAL's loop on the same permuted values."""
    from inequality.gini import Gini_Spatial

    graph = make_graph(mexico_gdf, "queen")
    w = graph.to_libpysal().to_W()
    x = mexico_gdf["PCGDP1960"].to_numpy()
    ids = list(mexico_gdf.index)
    pos = {k: i for i, k in enumerate(ids)}
    w_pos = type(w)({pos[k]: [pos[j] for j in v] for k, v in w.neighbors.items()})
    i, j = [], []
    for a, js in w_pos.neighbors.items():
        i += [a] * len(js)
        j += js
    a, b, c = _pairs(np.array(i), np.array(j), len(x))
    rng = np.random.default_rng(0)
    xp = np.vstack([rng.permutation(x) for _ in range(20)])
    ours = _neighbour_sums(xp, a, b, c)
    loop = np.array([Gini_Spatial._calc(None, row, w_pos) for row in xp])
    np.testing.assert_allclose(ours, loop, rtol=PEER_REL)
    # the full result on the queen graph, matched by id
    r = spatial_gini(mexico_gdf["PCGDP1960"], graph, permutations=0)
    np.random.seed(1)
    peer = Gini_Spatial(x, w_pos, permutations=0)
    assert rel(r.neighbor, peer.wg) < PEER_REL and rel(r.non_neighbor, peer.wcg) < PEER_REL
    assert r.p_sim is None and len(r.distribution) == 0


@pytest.mark.parametrize("rook", [False, True])
def test_contiguity_graph_equals_libpysal(mexico_gdf, rook):
    from libpysal.graph import Graph

    peer = Graph.build_contiguity(mexico_gdf, rook=rook)
    ours = contiguity_graph(mexico_gdf, rook=rook)
    assert list(ours.unique_ids) == list(peer.unique_ids)
    pd.testing.assert_series_equal(ours.adjacency.sort_index(), peer.adjacency.sort_index())
    # a hand case: 2 x 2 grid of unit squares + one island; queen links the diagonals
    import geopandas as gpd
    from shapely.geometry import box

    grid = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2),
                                      box(1, 1, 2, 2), box(5, 5, 6, 6)],
                            index=list("abcde"))
    adj = contiguity_graph(grid, rook=rook).adjacency
    links = {(f, n) for (f, n), w in adj.items() if w}
    expect = {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}
    if not rook:
        expect |= {("a", "d"), ("b", "c")}
    assert links == expect | {(n, f) for f, n in expect}
    assert adj[("e", "e")] == 0  # the island: libpysal's zero-weight self-loop


def test_spatial_gini_knn_and_distance_vs_pysal(mexico_gdf):
    """Asymmetric knn links count once per direction, exactly as PySAL's loop does."""
    from inequality.gini import Gini_Spatial
    from libpysal.graph import Graph
    from libpysal.weights import W

    gdf = mexico_gdf.set_crs(4326).to_crs(6372)  # Mexico ITRF2008 / LCC, metres
    ids = list(gdf.index)
    pos = {k: i for i, k in enumerate(ids)}
    for kind in ("knn=4", "distance=300000"):
        graph = make_graph(gdf, kind)
        if kind.startswith("knn"):
            peer_graph = Graph.build_knn(gdf.centroid, k=4)
        else:
            peer_graph = Graph.build_distance_band(gdf.centroid, 300000, binary=True)
        assert graph.adjacency.sort_index().equals(peer_graph.adjacency.sort_index())
        nb = peer_graph.to_W().neighbors  # PySAL runs on libpysal's own graph
        w = W({pos[k]: [pos[j] for j in v] for k, v in nb.items()}, silence_warnings=True)
        peer = Gini_Spatial(gdf["PCGDP1970"].to_numpy(), w, permutations=0)
        r = spatial_gini(gdf["PCGDP1970"], graph, permutations=9, seed=0)
        assert rel(r.neighbor, peer.wg) < PEER_REL
        assert rel(r.non_neighbor, peer.wcg) < PEER_REL
        assert rel(r.polarization, peer.polarization) < PEER_REL


def test_spatial_gini_seed_and_blocks(mexico_gdf):
    v = mexico_gdf["PCGDP2000"]
    r1 = spatial_gini(v, mexico_gdf, permutations=199, seed=3, kind="rook")
    r2 = spatial_gini(v, mexico_gdf, permutations=199, seed=3, kind="rook", block_cells=50)
    r3 = spatial_gini(v, mexico_gdf, permutations=199, seed=4, kind="rook")
    np.testing.assert_array_equal(r1.distribution, r2.distribution)
    assert not np.array_equal(r1.distribution, r3.distribution)
    assert r1.p_sim == r2.p_sim and r1.seed == 3 and r1.permutations == 199
    # the distribution is a permutation null: every value is a valid non-neighbour sum
    total = r1.neighbor + r1.non_neighbor
    assert np.all((r1.distribution > 0) & (r1.distribution < total))


def test_spatial_gini_hand():
    """Four units on a line 0-1-2-3 (path graph): neighbour pairs (0,1), (1,2), (2,3)."""
    from libpysal.weights import W

    w = W({0: [1], 1: [0, 2], 2: [1, 3], 3: [2]})
    x = np.array([1.0, 2.0, 3.0, 10.0])
    r = spatial_gini(x, w, permutations=0)
    assert r.neighbor == 2 * (1 + 1 + 7)
    all_pairs = 2 * (1 + 2 + 9 + 1 + 8 + 7)
    assert r.non_neighbor == all_pairs - 18
    assert r.gini == pytest.approx(all_pairs / (2 * 16 * 4), abs=HAND)


# ----------------------------------------------------------------------------- decomposition
def test_decomposition_hand():
    # PySAL's TheilD test: two groups, all the value in one -> between = ln 2, within 0
    d = ineq.theil_decomposition([0, 0, 0, 10, 10, 10], [0, 0, 0, 1, 1, 1])
    assert d.total == pytest.approx(math.log(2), abs=HAND)
    assert d.between == pytest.approx(math.log(2), abs=HAND)
    assert d.within == pytest.approx(0, abs=HAND)
    # L: groups {1, 3} and {4}: group means 2 and 4, overall 8/3
    x, g = [1, 3, 4], ["a", "a", "b"]
    dl = ineq.theil_decomposition(x, g, index="L", allow_singletons=True)
    between = (2 / 3) * math.log((8 / 3) / 2) + (1 / 3) * math.log((8 / 3) / 4)
    within = (2 / 3) * 0.5 * (math.log(2 / 1) + math.log(2 / 3))
    assert dl.between == pytest.approx(between, abs=HAND)
    assert dl.within == pytest.approx(within, abs=HAND)
    assert dl.total == pytest.approx(ineq.theil_l(x), abs=HAND)


def test_nested_decomposition_additivity():
    rng = np.random.default_rng(5)
    n = 300
    prov = rng.integers(0, 5, n)
    pref = prov * 10 + rng.integers(0, 4, n)
    x, w = rng.lognormal(size=n), rng.integers(100, 10_000, n)
    for idx in ("T", "L", "GE(2)", -0.5):
        d = ineq.theil_decomposition(x, [prov, pref], w, index=idx, allow_singletons=True)
        assert list(d.levels.index) == ["level_1", "level_2"]
        assert abs(d.total - d.between - d.within) < ADDITIVITY
        # cumulative between of level 2 == between of the province x prefecture cells alone
        one = ineq.theil_decomposition(x, pref, w, index=idx, allow_singletons=True)
        assert d.between == pytest.approx(one.between, abs=ADDITIVITY)
        assert d.within == pytest.approx(one.within, abs=ADDITIVITY)
        assert d.groups["contribution"].sum() == pytest.approx(d.total, abs=ADDITIVITY)
        # each group's own index is the index computed on that group alone
        a = ineq.decomposition._parse_index(idx)[1]
        for gid in (0, 3):
            inside = prov == gid
            assert d.groups.loc[gid, "index"] == pytest.approx(
                ineq.generalized_entropy(x[inside], a, w[inside]), rel=1e-12)


@pytest.mark.shared
def test_china_theil_by_province(china):
    v, w, g = china["POPU_URB"], china["POPU"], china["PROV_CODE"]
    # two real single-county "provinces" in the file (codes 32000 and 440300)
    with pytest.raises(DataError, match=r"2 groups .* single unit .*32000, 440300"):
        ineq.theil_decomposition(v, g, w)
    for idx, fn in (("T", ineq.theil_t), ("L", ineq.theil_l)):
        d = ineq.theil_decomposition(v, g, w, index=idx, allow_singletons=True)
        assert abs(d.total - (d.between + d.within)) < ADDITIVITY
        assert rel(d.total, fn(v, w)) < PEER_REL
        # between = the same index over province means weighted by province population
        means = (v * w).groupby(g).sum() / w.groupby(g).sum()
        assert rel(d.between, fn(means, w.groupby(g).sum())) < 1e-11
        assert len(d.groups) == 33
    s = ineq.summarize(v, w, g, allow_singletons=True)
    assert set(s) == {"n", "gini", "theil_t", "theil_l", "cv", "atkinson_0.5", "atkinson_1",
                      "williamson", "theil_t_between", "theil_t_within", "theil_l_between",
                      "theil_l_within"}
    assert s["n"] == 2989


@pytest.mark.shared
def test_china_spatial_gini_matches_pysal(china):
    from inequality.gini import Gini_Spatial
    from libpysal.graph import Graph

    gdf = china.reset_index(drop=True)
    graph = Graph.build_contiguity(gdf, rook=False)
    ours = contiguity_graph(gdf, rook=False)
    assert ours.adjacency.sort_index().equals(graph.adjacency.sort_index())
    x = gdf["POPU_URB"].to_numpy()
    r = spatial_gini(x, graph, permutations=99, seed=0)
    peer = Gini_Spatial(x, graph.to_W(), permutations=0)
    assert rel(r.gini, peer.g) < PEER_REL
    assert rel(r.neighbor, peer.wg) < PEER_REL
    assert rel(r.non_neighbor, peer.wcg) < PEER_REL


# ----------------------------------------------------------------------------- panels
def test_sigma_convergence_vs_linregress(mexico):
    from scipy.stats import linregress

    s = ineq.sigma_convergence(mexico[COLS])
    lr = linregress(YEARS, ineq.over_time(mexico[COLS], "cv").to_numpy())
    assert rel(s.slope, lr.slope) < 1e-10 and rel(s.se, lr.stderr) < 1e-10
    assert s.p_value == pytest.approx(lr.pvalue, rel=1e-8)
    assert s.converging
    slog = ineq.sigma_convergence(mexico[COLS], log=True)
    assert slog.dispersion.iloc[0] == pytest.approx(np.std(np.log(mexico["pcgdp1940"])),
                                                    rel=1e-12)


def test_beta_convergence_hand():
    # growth exactly a + beta ln y0 with beta = -0.02 over 10 years
    y0 = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    g = 0.1 - 0.02 * np.log(y0)
    wide = pd.DataFrame({"y2000": y0, "y2010": y0 * np.exp(10 * g)})
    b = ineq.beta_convergence(wide)
    assert b.beta == pytest.approx(-0.02, abs=1e-12)
    lam = -math.log(1 - 0.2) / 10
    assert b.speed == pytest.approx(lam, abs=1e-12)
    assert b.half_life == pytest.approx(math.log(2) / lam, abs=1e-9)
    assert b.t0 == 2000 and b.t1 == 2010 and b.rho is None


def test_beta_convergence_vs_statsmodels(mexico, mexico_gdf):
    import statsmodels.api as sm
    from statsmodels.sandbox.regression.gmm import IV2SLS

    b = ineq.beta_convergence(mexico[COLS])
    g = np.log(mexico["pcgdp2000"] / mexico["pcgdp1940"]) / 60
    X = sm.add_constant(np.log(mexico["pcgdp1940"]))
    fit = sm.OLS(g, X).fit()
    assert rel(b.beta, fit.params.iloc[1]) < 1e-10
    assert rel(b.se, fit.bse.iloc[1]) < 1e-9 and b.p_value == pytest.approx(fit.pvalues.iloc[1])
    assert b.r2 == pytest.approx(fit.rsquared, rel=1e-10)
    assert b.beta < 0 and b.half_life > 0

    graph = make_graph(mexico_gdf, "queen")
    wide = mexico_gdf[[c.upper() for c in COLS]]
    W = np.zeros((32, 32))
    ids = list(wide.index)
    for (f, n_), wt in graph.adjacency.items():
        if f != n_ and wt:
            W[ids.index(f), ids.index(n_)] = 1
    W = W / W.sum(axis=1, keepdims=True)
    lx = np.log(wide["PCGDP1940"].to_numpy())
    gr = np.log(wide["PCGDP2000"].to_numpy() / wide["PCGDP1940"].to_numpy()) / 60
    slx = ineq.beta_convergence(wide, graph=graph, spatial="slx")
    fit = sm.OLS(gr, np.column_stack([np.ones(32), lx, W @ lx])).fit()
    np.testing.assert_allclose(slx.params["coef"], fit.params, rtol=1e-9)
    np.testing.assert_allclose(slx.params["se"], fit.bse, rtol=1e-9)
    lag = ineq.beta_convergence(wide, graph=graph, spatial="lag")
    Z = np.column_stack([np.ones(32), lx, W @ lx, W @ W @ lx])
    iv = IV2SLS(gr, np.column_stack([np.ones(32), lx, W @ gr]), Z).fit()
    np.testing.assert_allclose(lag.params["coef"], iv.params, rtol=1e-9)
    np.testing.assert_allclose(lag.params["se"], iv.bse, rtol=1e-9)
    assert lag.rho == pytest.approx(iv.params[2], rel=1e-9)


def test_over_time_weights_by_period():
    wide = pd.DataFrame({"2000": [1.0, 2.0], "2010": [1.0, 3.0]})
    pop = pd.DataFrame({"2000": [1, 1], "2010": [3, 1]})
    out = ineq.over_time(wide, "gini", weights=pop)
    assert out["2000"] == pytest.approx(ineq.gini([1, 2]), abs=HAND)
    assert out["2010"] == pytest.approx(ineq.gini([1, 1, 1, 3]), abs=HAND)


# ----------------------------------------------------------------------------- bad input
def test_errors_api():
    s = pd.Series([1.0, 0.0, 2.0, -1.0], index=["a", "b", "c", "d"])
    with pytest.raises(DataError, match=r"theil_l needs positive values; 2 of 4 .*ids b, d"):
        ineq.theil_l(s)
    with pytest.raises(DataError, match=r"atkinson\(epsilon=1\) needs positive values"):
        ineq.atkinson(s.abs() * 0 + [1, 0, 2, 3], 1)
    with pytest.raises(DataError, match=r"gini needs values >= 0; 1 of 4 .*ids d"):
        ineq.gini(s)
    with pytest.raises(DataError, match=r"1 of 3 values are NaN .*ids y"):
        ineq.gini(pd.Series([1, np.nan, 2], index=["x", "y", "z"]))
    with pytest.raises(DataError, match="at least 2 units; got 1"):
        ineq.theil_t([3.0])
    with pytest.raises(DataError, match="got 3 values but 2 weights"):
        ineq.gini([1, 2, 3], [1, 2])
    with pytest.raises(DataError, match="weights do not match the values"):
        ineq.gini(pd.Series([1, 2], index=["a", "b"]), pd.Series([1, 2], index=["a", "c"]))
    with pytest.raises(DataError, match="negative"):
        ineq.gini([1, 2], [1, -1])
    with pytest.raises(DataError, match=r"single unit \(groups b; units 2\)"):
        ineq.theil_decomposition([1, 2, 3], ["a", "a", "b"])
    with pytest.raises(DataError, match="unknown index"):
        ineq.theil_decomposition([1, 2, 3], ["a", "a", "b"], index="Q")
    with pytest.raises(DataError, match=r"groups must be the group labels \(e.g. df\['g'\]\)"):
        ineq.theil_decomposition([1, 2, 3], "g")
    with pytest.raises(DataError, match="got 3 values but 2 group labels"):
        ineq.theil_decomposition([1, 2, 3], ["a", "b"])
    with pytest.raises(DataError, match="no group"):
        ineq.theil_decomposition([1, 2, 3], ["a", None, "b"])
    with pytest.raises(DataError, match="unknown measure"):
        ineq.over_time(pd.DataFrame({"2000": [1, 2]}), "median")
    # summarize: undefined measures become None only when asked
    with pytest.raises(DataError, match="theil_l"):
        ineq.summarize([0.0, 1.0, 2.0])
    s0 = ineq.summarize([0.0, 1.0, 2.0], undefined="null")
    assert s0["theil_l"] is None and s0["atkinson_1"] is None and s0["gini"] > 0


def test_errors_graph(mexico_gdf):
    with pytest.raises(DataError, match="unknown graph kind"):
        make_graph(mexico_gdf, "bishop")
    from gisfix.errors import CRSError

    with pytest.raises(CRSError):
        make_graph(mexico_gdf, "knn=4")  # no CRS: metres unknown
    graph = make_graph(mexico_gdf, "queen")
    with pytest.raises(DataError, match="graph has 32 units but there are 31"):
        spatial_gini(mexico_gdf["PCGDP1940"].iloc[:31], graph)
    bad = mexico_gdf["PCGDP1940"].rename(index=lambda k: k + "x")
    with pytest.raises(DataError, match="graph ids do not match"):
        spatial_gini(bad, graph)


# ----------------------------------------------------------------------------- CLI
def test_cli_shapefile(run_cli, tmp_path, mexico_gdf):
    import libpysal

    shp = libpysal.examples.get_path("mexicojoin.shp")
    out = tmp_path / "mx.json"
    r = run_cli("inequality", shp, "--value", "PCGDP1940", "--group", "HANSON98", "--id",
                "CODE", "--spatial-gini", "--permutations", 99, "--seed", 5, "-o", out)
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    for key in ("n", "gini", "theil_t", "theil_l", "cv", "atkinson_0.5", "atkinson_1",
                "theil_t_between", "theil_t_within", "theil_l_between", "theil_l_within",
                "spatial_gini", "inputs", "provenance"):
        assert key in doc
    assert "williamson" not in doc
    assert doc["gini"] == pytest.approx(PUBLISHED_GINI_1940, abs=1e-15)
    assert doc["theil_t_between"] == pytest.approx(PUBLISHED_THEIL_BG[0], abs=PUBLISHED_ABS)
    sg = doc["spatial_gini"]
    api = spatial_gini(mexico_gdf["PCGDP1940"], mexico_gdf, permutations=99, seed=5)
    assert sg["neighbor"] == api.neighbor and sg["p_sim"] == api.p_sim
    assert {"gini", "neighbor", "non_neighbor", "p_sim", "permutations", "seed"} <= set(sg)
    assert doc["provenance"]["gisfix_version"]
    # without --seed a fresh seed is drawn and recorded: rerunning with it repeats the result
    r = run_cli("inequality", shp, "--value", "PCGDP1940", "--spatial-gini", "-o",
                tmp_path / "a.json")
    first = json.loads((tmp_path / "a.json").read_text())["spatial_gini"]
    assert isinstance(first["seed"], int)
    r = run_cli("inequality", shp, "--value", "PCGDP1940", "--spatial-gini", "--seed",
                first["seed"], "-o", tmp_path / "b.json")
    assert json.loads((tmp_path / "b.json").read_text())["spatial_gini"] == first
    # refuses to overwrite
    r = run_cli("inequality", shp, "--value", "PCGDP1940", "-o", out)
    assert r.exit_code == 1 and "--overwrite" in r.output


def test_cli_csv_weights(run_cli, tmp_path):
    csv = tmp_path / "t.csv"
    pd.DataFrame({"id": ["a", "b"], "v": [1, 3], "pop": [3, 1]}).to_csv(csv, index=False)
    out = tmp_path / "t.json"
    r = run_cli("inequality", csv, "--value", "v", "--weight", "pop", "--id", "id", "-o", out)
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["williamson"] == pytest.approx(math.sqrt(0.75) / 1.5, abs=HAND)
    assert doc["gini"] == pytest.approx(ineq.gini([1, 1, 1, 3]), abs=HAND)


def test_cli_errors(run_cli, tmp_path):
    csv = tmp_path / "t.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "v": [1, 0, 3], "g": [1, 1, 2]}).to_csv(csv,
                                                                             index=False)
    out = tmp_path / "o.json"
    cases = [
        (["--value", "nope"], "has no column 'nope'; its columns are: id, v, g"),
        (["--value", "v", "--spatial-gini"], "needs polygons but t.csv is a CSV"),
        (["--value", "v", "--id", "id"], "theil_l needs positive values; 1 of 3 values are "
                                         "<= 0 (ids b)"),
        (["--value", "v", "--group", "g"], "needs positive values"),
    ]
    for args, msg in cases:
        r = run_cli("inequality", csv, *args, "-o", out)
        assert r.exit_code == 1, r.output
        assert msg in r.output and "Traceback" not in r.output
        assert not out.exists()
    r = run_cli("inequality", tmp_path / "missing.csv", "--value", "v", "-o", out)
    assert r.exit_code == 1 and "no such file" in r.output
    r = run_cli("inequality", csv, "--value", "v", "-o", tmp_path / "o.txt")
    assert r.exit_code == 1 and ".json" in r.output


def test_cli_graph_errors(run_cli, tmp_path):
    import libpysal

    shp = libpysal.examples.get_path("mexicojoin.shp")  # lon/lat, no .prj
    out = tmp_path / "o.json"
    r = run_cli("inequality", shp, "--value", "PCGDP1940", "--spatial-gini", "--graph",
                "knn=4", "-o", out)
    assert r.exit_code == 1 and "has no CRS" in r.output, r.output
    r = run_cli("inequality", shp, "--value", "PCGDP1940", "--spatial-gini", "--graph",
                "knn=4", "--crs", "EPSG:4326", "-o", out)
    assert r.exit_code == 1 and "is in degrees" in r.output and "reproject" in r.output
    r = run_cli("inequality", shp, "--value", "PCGDP1940", "--spatial-gini", "--graph",
                "bishop", "-o", out)
    assert r.exit_code == 1 and "unknown graph kind 'bishop'" in r.output
    assert not out.exists()


@pytest.mark.parametrize("kind", ["rook", "knn=4", "distance=300000"])
def test_cli_graph_kinds(run_cli, tmp_path, mexico_gdf, kind):
    """--graph: the neighbour sum of PySAL's Gini_Spatial on libpysal's graph of that kind."""
    from inequality.gini import Gini_Spatial
    from libpysal.graph import Graph
    from libpysal.weights import W

    gdf = mexico_gdf.set_crs(4326).to_crs(6372)
    gpkg = tmp_path / "mx.gpkg"
    gdf.reset_index().to_file(gpkg)
    out = tmp_path / "o.json"
    r = run_cli("inequality", gpkg, "--value", "PCGDP1970", "--id", "CODE", "--spatial-gini",
                "--graph", kind, "--permutations", 0, "-o", out)
    assert r.exit_code == 0, r.output
    sg = json.loads(out.read_text())["spatial_gini"]
    assert sg["graph"] == kind
    peer_graph = {"rook": lambda: Graph.build_contiguity(gdf, rook=True),
                  "knn=4": lambda: Graph.build_knn(gdf.centroid, k=4),
                  "distance=300000": lambda: Graph.build_distance_band(
                      gdf.centroid, 300000, binary=True)}[kind]()
    w = peer_graph.to_W()
    pos = {k: i for i, k in enumerate(w.id_order)}
    w_pos = W({pos[k]: [pos[j] for j in v] for k, v in w.neighbors.items()},
              silence_warnings=True)
    x = gdf["PCGDP1970"].reindex(w.id_order).to_numpy()
    peer = Gini_Spatial(x, w_pos, permutations=0)
    assert rel(sg["neighbor"], peer.wg) < PEER_REL
    assert rel(sg["non_neighbor"], peer.wcg) < PEER_REL


@pytest.mark.shared
def test_cli_china(run_cli, tmp_path, shared):
    gpkg = shared("china_counties_2020", "china_counties_2020.gpkg")
    out = tmp_path / "cn.json"
    args = ["inequality", gpkg, "--layer", "county", "--value", "POPU_URB", "--weight", "POPU",
            "--group", "PROV_CODE", "--id", "CODE"]
    r = run_cli(*args, "-o", out)
    assert r.exit_code == 1 and "NaN" in r.output and "350527" in r.output
    r = run_cli(*args, "--dropna", "-o", out)
    assert r.exit_code == 1 and "single unit" in r.output and "--allow-singletons" in r.output
    r = run_cli(*args, "--dropna", "--allow-singletons", "--spatial-gini", "--permutations",
                "99", "--seed", "1", "-o", out)
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["n"] == 2989 and doc["inputs"]["dropped"] == ["350527"]
    assert abs(doc["theil_t"] - doc["theil_t_between"] - doc["theil_t_within"]) < ADDITIVITY
    assert doc["spatial_gini"]["p_sim"] <= 0.02  # urban shares cluster strongly
