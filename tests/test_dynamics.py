"""Markov chains and rank mobility against giddy (run here) and giddy's published numbers.

Oracles: giddy 2.3.6 run in the test on libpysal's ``us_income`` (48 states, 1929-2009)
with the same weights; the numbers printed in giddy's docstrings (``Markov``,
``Spatial_Markov``, ``LISA_Markov``, ``Tau``, ``SpatialTau`` on Mexico); hand-solved chains.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gisfix.dynamics import (
    as_panel,
    chi2_test,
    kendall_tau,
    lisa_markov,
    markov_chain,
    quantile_classes,
    rank_mobility,
    spatial_markov,
    steady_state,
    transition_counts,
    transition_probabilities,
)
from gisfix.errors import DataError, GisfixError

#: Probabilities and steady states: float round-off only.
ATOL = 1e-10
#: giddy's docstrings print 8 significant digits.
PUBLISHED_ATOL = 5e-8
YEARS = list(range(1929, 2010))


@pytest.fixture(scope="module")
def giddy():
    return pytest.importorskip("giddy.markov")


@pytest.fixture(scope="module")
def us():
    libpysal = pytest.importorskip("libpysal")
    import geopandas as gpd

    f = libpysal.io.open(libpysal.examples.get_path("usjoin.csv"))
    pci = np.array([f.by_col[str(y)] for y in YEARS]).T
    names = f.by_col["Name"]
    panel = pd.DataFrame(pci, index=pd.Index(names, name="unit_id"), columns=YEARS)
    shapes = gpd.read_file(libpysal.examples.get_path("us48.shp")).set_index("STATE_NAME")
    gal = libpysal.io.open(libpysal.examples.get_path("states48.gal")).read()
    return {"panel": panel, "shapes": shapes, "gal": gal, "pci": pci}


def _gal_panel(us, relative=False):
    pci = us["pci"] / us["pci"].mean(axis=0) if relative else us["pci"]
    return pd.DataFrame(pci, index=us["gal"].id_order, columns=YEARS)


# -- classic Markov ---------------------------------------------------------------------
def test_markov_published_us_income(us):
    m = markov_chain(us["panel"], k=5)
    published = [[729, 71, 1, 0, 0], [72, 567, 80, 3, 0], [0, 81, 631, 86, 2],
                 [0, 3, 86, 573, 56], [0, 0, 1, 57, 741]]
    np.testing.assert_array_equal(m.transitions.to_numpy(), published)
    np.testing.assert_allclose(m.steady_state.to_numpy()[0],
                               [0.20774716, 0.18725774, 0.20740537, 0.18821787, 0.20937187],
                               atol=PUBLISHED_ATOL)
    np.testing.assert_allclose(m.probabilities.to_numpy()[0, :3],
                               [0.91011236, 0.0886392, 0.00124844], atol=PUBLISHED_ATOL)
    tidy = m.tidy()
    assert list(tidy.columns) == ["from_class", "to_class", "transitions", "probability"]
    assert len(tidy) == 25 and tidy["transitions"].sum() == 48 * 80


def test_markov_relative_pooled_published(us):
    rel = us["panel"] / us["panel"].mean(axis=0)
    m = markov_chain(rel, k=5, pooled=True)
    np.testing.assert_array_equal(m.transitions.to_numpy(), [
        [707, 58, 7, 1, 0], [50, 629, 80, 1, 1], [4, 79, 610, 73, 2],
        [0, 7, 72, 650, 37], [0, 0, 0, 48, 724]])
    np.testing.assert_allclose(m.steady_state.to_numpy()[0],
                               [0.17957376, 0.21631443, 0.21499942, 0.21134662, 0.17776576],
                               atol=PUBLISHED_ATOL)


def test_markov_equals_giddy(us, giddy):
    import mapclassify as mc

    q5 = np.array([mc.Quantiles(y).yb for y in us["pci"].T]).T
    g = giddy.Markov(q5, summary=False)
    ours = markov_chain(us["panel"], k=5)
    np.testing.assert_array_equal(ours.classes.to_numpy(), q5)
    np.testing.assert_array_equal(ours.transitions.to_numpy(), g.transitions)
    np.testing.assert_allclose(ours.probabilities.to_numpy(), g.p, atol=ATOL)
    np.testing.assert_allclose(ours.steady_state.to_numpy()[0], g.steady_state, atol=ATOL)


def test_markov_discrete_and_long_panel():
    # giddy's docstring example: classes a, b, c
    c = pd.DataFrame([list("bac"), list("cca"), list("cbc"), list("aab"), list("abc")],
                     columns=[2000, 2005, 2010])
    m = markov_chain(c, discrete=True)
    np.testing.assert_allclose(m.probabilities.to_numpy(), [[0.25, 0.5, 0.25],
                                                            [1 / 3, 0, 2 / 3],
                                                            [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(m.steady_state.to_numpy()[0],
                               [0.30769231, 0.28846154, 0.40384615], atol=PUBLISHED_ATOL)
    long = pd.DataFrame({"unit_id": ["a", "a", "b", "b", "c", "c"],
                         "epoch": [1, 2, 1, 2, 1, 2], "v": [1.0, 3.0, 2.0, 1.0, 3.0, 2.0]})
    m2 = markov_chain(long, k=3, value="v")
    # by hand: a 0->2, b 1->0, c 2->1
    np.testing.assert_array_equal(m2.transitions.to_numpy(),
                                  [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_steady_state_hand_and_reducible():
    # Land of Oz (Kemeny & Snell): 0.4, 0.2, 0.4
    np.testing.assert_allclose(steady_state([[.5, .25, .25], [.5, 0, .5], [.25, .25, .5]]),
                               [0.4, 0.2, 0.4], atol=ATOL)
    # two recurrent classes (giddy's docstring), an empty row made absorbing
    np.testing.assert_allclose(steady_state([[.5, .5, 0], [.2, .8, 0], [0, 0, 0]]),
                               [[2 / 7, 5 / 7, 0], [0, 0, 1]], atol=ATOL)
    # unit 1: 0->1, 1->1; unit 2: 1->1, 1->0
    t = transition_counts([[0, 1, 1], [1, 1, 0]], 2)
    np.testing.assert_array_equal(t, [[0, 1], [1, 2]])
    np.testing.assert_allclose(transition_probabilities(t), [[0, 1], [1 / 3, 2 / 3]])


# -- spatial Markov -----------------------------------------------------------------------
def test_spatial_markov_published(us):
    sm = spatial_markov(_gal_panel(us, relative=True), us["gal"], k=5, m=5)
    np.testing.assert_allclose(sm.cutoffs, [0.83999133, 0.94707545, 1.03242697, 1.14911154],
                               atol=PUBLISHED_ATOL)
    np.testing.assert_allclose(sm.lag_cutoffs,
                               [0.88973386, 0.95891917, 1.01469758, 1.1183566],
                               atol=PUBLISHED_ATOL)
    p0 = sm.conditional_probabilities.loc[0].to_numpy()
    np.testing.assert_allclose(p0[0], [0.96341463, 0.0304878, 0.00609756, 0, 0],
                               atol=PUBLISHED_ATOL)
    np.testing.assert_allclose(sm.conditional_steady_state.to_numpy(), [
        [0.43509425, 0.2635327, 0.20363044, 0.06841983, 0.02932278],
        [0.13391287, 0.33993305, 0.25153036, 0.23343016, 0.04119356],
        [0.12124869, 0.21137444, 0.2635101, 0.29013417, 0.1137326],
        [0.0776413, 0.19748806, 0.25352636, 0.22480415, 0.24654013],
        [0.01776781, 0.19964349, 0.19009833, 0.25524697, 0.3372434]], atol=PUBLISHED_ATOL)
    assert f"{sm.homogeneity['LR']:.3f}" == "170.659"
    assert f"{sm.homogeneity['Q']:.3f}" == "200.624"
    assert sm.homogeneity["dof"] == 60
    # k=5, m=4 (giddy's second example)
    sm4 = spatial_markov(_gal_panel(us, relative=True), us["gal"], k=5, m=4)
    assert f"{sm4.homogeneity['LR']:.3f}" == "172.105"
    assert f"{sm4.homogeneity['Q']:.3f}" == "321.128"
    assert sm4.homogeneity["dof"] == 45
    tidy = sm.tidy()
    assert list(tidy.columns) == ["lag_class", "from_class", "to_class", "transitions",
                                  "probability"]
    assert tidy["transitions"].sum() == 48 * 80


def test_spatial_markov_gisfix_graph_equals_giddy(us, giddy):
    """Our queen graph from us48.shp, the same graph handed to giddy as a libpysal W."""
    from gisfix.graphs import make_graph

    graph = make_graph(us["shapes"], "queen")
    rel = us["panel"] / us["panel"].mean(axis=0)
    w = graph.to_libpysal()
    if hasattr(w, "to_W"):
        w = w.to_W()
    w.transform = "r"
    order = list(w.id_order)
    g = giddy.Spatial_Markov(rel.loc[order].to_numpy(), w, k=5, m=5, fixed=True)
    ours = spatial_markov(rel, graph, k=5, m=5)
    np.testing.assert_array_equal(ours.transitions.to_numpy(), g.transitions)
    np.testing.assert_array_equal(ours.conditional_transitions.to_numpy().reshape(5, 5, 5),
                                  g.T)
    np.testing.assert_allclose(ours.conditional_probabilities.to_numpy().reshape(5, 5, 5),
                               g.P, atol=ATOL)
    np.testing.assert_allclose(ours.lag_cutoffs, g.lag_cutoffs, atol=ATOL)
    np.testing.assert_allclose(ours.homogeneity["Q"], g.Q, rtol=1e-12)
    np.testing.assert_allclose(ours.homogeneity["LR"], g.LR, rtol=1e-12)
    for li in range(5):
        np.testing.assert_allclose(ours.conditional_steady_state.loc[li].to_numpy()[0],
                                   np.asarray(g.S[li], dtype=float), atol=1e-9)


# -- LISA Markov --------------------------------------------------------------------------
def test_lisa_markov_published_and_giddy(us, giddy):
    panel = _gal_panel(us)
    lm = lisa_markov(panel, us["gal"])
    np.testing.assert_array_equal(lm.transitions.to_numpy(), [
        [1087, 44, 4, 34], [41, 470, 36, 1], [5, 34, 1422, 39], [30, 1, 40, 552]])
    np.testing.assert_allclose(lm.steady_state.to_numpy()[0],
                               [0.28561505, 0.14190226, 0.40493672, 0.16754598],
                               atol=PUBLISHED_ATOL)
    assert lm.move_types.iloc[0, :3].tolist() == [11, 11, 11]
    g = giddy.LISA_Markov(us["pci"], us["gal"])
    np.testing.assert_array_equal(lm.classes.to_numpy(), g.q)
    np.testing.assert_array_equal(lm.move_types.to_numpy(), g.move_types)
    np.testing.assert_allclose(lm.probabilities.to_numpy(), g.p, atol=ATOL)


def test_chi2_test_equals_giddy_chi2(us, giddy):
    """The chi-squared helper reproduces giddy's published ``chi2`` example."""
    sm = spatial_markov(_gal_panel(us, relative=True), us["gal"], k=4, m=4)
    t1 = sm.conditional_transitions.loc[0].to_numpy()
    np.testing.assert_array_equal(t1, [[562, 22, 1, 0], [12, 201, 22, 0], [0, 17, 97, 4],
                                       [0, 0, 3, 19]])
    stat, p, dof = chi2_test(t1, sm.transitions.to_numpy())
    assert (round(stat, 8), dof) == (round(23.39728441473295, 8), 9)
    assert p == pytest.approx(0.005363116704861337, rel=1e-9)


def test_lisa_markov_significance_seeded(us):
    panel = _gal_panel(us).iloc[:, :6]
    a = lisa_markov(panel, us["gal"], permutations=99, seed=7)
    b = lisa_markov(panel, us["gal"], permutations=99, seed=7)
    pd.testing.assert_frame_equal(a.significant_moves, b.significant_moves)
    sm = a.significant_moves.to_numpy()
    assert sm.min() >= 1 and sm.max() <= 64
    # the move type is the same modulo the significance block
    np.testing.assert_array_equal((sm - 1) % 16 + 1, a.move_types.to_numpy())


# -- rank mobility ------------------------------------------------------------------------
def test_kendall_tau_published_and_scipy():
    from scipy.stats import kendalltau

    kt = kendall_tau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])
    assert f"{kt['tau']:.5f}" == "-0.47140"
    assert f"{kt['tau_p']:.5f}" == "0.24821"
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 20, 300), rng.integers(0, 20, 300)
    assert kendall_tau(x, y)["tau"] == pytest.approx(kendalltau(x, y)[0], abs=1e-12)


def test_spatial_tau_published_mexico(giddy):
    """giddy's SpatialTau docstring: Mexico, esquivel99 regimes as block weights."""
    import libpysal
    from giddy.rank import SpatialTau

    f = libpysal.io.open(libpysal.examples.get_path("mexico.csv"))
    years = list(range(1940, 2010, 10))
    y = np.array([f.by_col[f"pcgdp{d}"] for d in years]).T
    w = libpysal.weights.block_weights(np.array(f.by_col["esquivel99"]))
    panel = pd.DataFrame(y, index=w.id_order, columns=years)
    res = rank_mobility(panel, w, permutations=99, seed=12345)
    assert [f"{v:.3f}" for v in res["tau_spatial"]] == [
        "0.397", "0.492", "0.651", "0.714", "0.683", "0.810"]
    for s in range(6):
        g = SpatialTau(y[:, s], y[:, s + 1], w, 0)
        assert res.loc[s, "tau"] == pytest.approx(g.tau, abs=1e-12)
        assert res.loc[s, "tau_spatial"] == pytest.approx(g.tau_spatial, abs=1e-12)
        assert res.loc[s, "pairs_spatial"] == g.pairs_spatial
        assert res.loc[s, "concordant_spatial"] == g.concordant_spatial
        assert res.loc[s, "discordant_spatial"] == g.discordant_spatial
    assert res["tau_spatial_p_sim"].between(0.01, 1).all()


def test_rank_mobility_seed_per_period(us):
    panel = _gal_panel(us).iloc[:, :4]
    a = rank_mobility(panel, us["gal"], permutations=49, seed=5)
    b = rank_mobility(panel, us["gal"], permutations=49, seed=5)
    pd.testing.assert_frame_equal(a, b)
    # a period's result never depends on the other periods requested
    c = rank_mobility(panel.iloc[:, :2], us["gal"], permutations=49, seed=5)
    assert c.loc[0, "tau_spatial"] == a.loc[0, "tau_spatial"]
    assert list(a.columns[:4]) == ["t0", "t1", "tau", "tau_p"]
    no_graph = rank_mobility(panel)
    assert "tau_spatial" not in no_graph


# -- bad input ---------------------------------------------------------------------------
def test_bad_panels():
    with pytest.raises(DataError, match="at least 2 units and 2 epochs"):
        as_panel(pd.DataFrame({2000: [1.0, 2.0]}))
    with pytest.raises(DataError, match="missing or infinite"):
        markov_chain(pd.DataFrame({2000: [1.0, np.nan], 2010: [1.0, 2.0]}))
    with pytest.raises(DataError, match="epochs"):
        as_panel(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]}))
    with pytest.raises(DataError, match="no column"):
        as_panel(pd.DataFrame({"unit_id": [1], "epoch": [2000]}), value="pop")
    with pytest.raises(GisfixError, match="integer >= 2"):
        quantile_classes(pd.DataFrame({2000: [1.0, 2.0], 2010: [1.0, 2.0]}), k=1)
    with pytest.raises(DataError, match="strictly increasing"):
        markov_chain(pd.DataFrame({2000: [1.0, 2.0], 2010: [1.0, 2.0]}), cutoffs=[2, 1])
    with pytest.raises(ValueError):  # GisfixError subclasses keep the built-in
        markov_chain("not a frame")


def test_lisa_independence_null_and_giddy_orientation(us):
    """The docstring's claim: giddy's published chi_2 (1058.208) is the same test with each
    unit's mean over time as the reference and 2-state moves counted along the units of a
    year; gisfix counts them over time."""
    lm = lisa_markov(_gal_panel(us), us["gal"])
    pci = us["pci"]
    w = us["gal"]
    ids = list(w.id_order)
    mat = np.zeros((48, 48))
    for i, nb in w.neighbors.items():
        for j in nb:
            mat[ids.index(i), ids.index(j)] = 1.0 / len(nb)
    yt = pci.T                                       # giddy's orientation: years x units
    ybar = yt.mean(axis=0)
    r, rlag = yt / ybar, (mat @ pci).T / ybar
    py = transition_probabilities(transition_counts((r < 1).astype(int), 2))
    pl = transition_probabilities(transition_counts((rlag < 1).astype(int), 2))
    a = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0]])
    counts = lm.transitions.to_numpy()
    stat, _, dof = chi2_test(counts, counts.sum(axis=1)[:, None] * (a @ np.kron(py, pl) @ a.T))
    assert (f"{stat:.3f}", dof) == ("1058.208", 9)
    # gisfix's own null: the 2-state chains over time of value and lag relative to the
    # cross-sectional mean of each year
    rel = pci / pci.mean(axis=0)
    rl = (mat @ pci) / pci.mean(axis=0)
    py2 = transition_probabilities(transition_counts((rel < 1).astype(int), 2))
    pl2 = transition_probabilities(transition_counts((rl < 1).astype(int), 2))
    expected = counts.sum(axis=1)[:, None] * (a @ np.kron(py2, pl2) @ a.T)
    np.testing.assert_allclose(lm.independence["expected"].to_numpy(), expected, atol=ATOL)
    assert lm.independence["dof"] == 9


def test_gisfix_does_not_need_giddy():
    import subprocess
    import sys

    code = ("import sys, pandas as pd, gisfix.dynamics as d; "
            "d.rank_mobility(pd.DataFrame({2000: [1., 2, 3], 2010: [3., 1, 2]})); "
            "d.markov_chain(pd.DataFrame({2000: [1., 2, 3], 2010: [3., 1, 2]}), k=3); "
            "assert not [m for m in sys.modules if m.startswith(('giddy', 'numba', "
            "'mapclassify'))]")
    subprocess.run([sys.executable, "-c", code], check=True)
