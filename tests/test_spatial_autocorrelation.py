"""gisfix.spatial.autocorrelation: esda and libpysal as oracles, published values, exact cases.

Oracles: the published Moran's I of stl HR8893 (esda documentation), esda's ``Moran``,
``Moran_Local`` and ``G_Local`` run in the test, exact enumeration of every permutation
(small n) for the pseudo p-values, libpysal's ``Graph.build_contiguity``.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from gisfix.errors import DataError, IdError
from gisfix.spatial import getis_ord, local_moran, make_graph, moran

#: Published Moran's I of stl HR8893 under stl.gal (esda documentation / PySAL notebooks).
STL_MORAN_I = 0.24365582621771659
#: Agreement with esda on the analytical statistics.
ESDA_RTOL = 1e-12
DC_COUNTIES = ("ghsl_dc_baltimore", "counties_2017_census.gpkg")


@pytest.fixture(scope="module")
def stl():
    import libpysal
    from libpysal.examples import get_path

    y = pd.read_csv(get_path("stl_hom.csv"))["HR8893"].to_numpy()
    w = libpysal.io.open(get_path("stl.gal")).read()
    return y, w


def test_moran_stl_published_and_esda(stl):
    import esda

    y, w = stl
    ours = moran(y, w, permutations=0)
    assert ours.I == pytest.approx(STL_MORAN_I, rel=ESDA_RTOL)
    ref = esda.Moran(y, w, permutations=0)
    for k in ("I", "EI", "VI_norm", "z_norm", "p_norm", "VI_rand", "z_rand", "p_rand"):
        assert getattr(ours, k) == pytest.approx(getattr(ref, k), rel=ESDA_RTOL), k


def test_local_moran_and_getis_ord_match_esda(stl):
    import esda

    y, w = stl
    lisa = local_moran(y, w, permutations=0)
    ref = esda.Moran_Local(y, w, permutations=0)
    np.testing.assert_allclose(lisa["Is"].to_numpy(), ref.Is, rtol=ESDA_RTOL, atol=1e-15)
    assert (lisa["q"].to_numpy() == ref.q).all()
    for transform in ("B", "R"):
        for star in (True, False):
            ours = getis_ord(y, w, star=star, transform=transform.lower(), permutations=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")           # esda warns on R + star
                ref = esda.G_Local(y, w, transform=transform, star=star, permutations=0)
            np.testing.assert_allclose(ours["G"].to_numpy(), ref.Gs, rtol=ESDA_RTOL)
            np.testing.assert_allclose(ours["z"].to_numpy(), ref.Zs, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(ours["p_norm"].to_numpy(), ref.p_norm, rtol=1e-10)


def _ring_graph(n, extra=()):
    import scipy.sparse as sp

    from gisfix.spatial import SpatialGraph

    rows, cols = [], []
    for i in range(n):
        for j in ((i + 1) % n, (i - 1) % n):
            rows.append(i)
            cols.append(j)
    for i, j in extra:
        rows += [i, j]
        cols += [j, i]
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    m.data[:] = 1.0
    return SpatialGraph(unique_ids=[str(i) for i in range(n)], sparse=m)


def _pstat(count_ge, total):
    """Expected folded pseudo p-value from exact counts."""
    p_ge = count_ge / total
    return min(p_ge, 1 - p_ge)


def test_moran_permutation_p_matches_exact_enumeration():
    """n = 7: all 5,040 permutations give the exact p; 20,000 random ones must agree."""
    y = np.array([1.0, 2.0, 4.0, 8.0, 7.0, 3.0, 0.5])
    g = _ring_graph(7, extra=[(0, 3)])
    obs = moran(y, g, permutations=20_000, seed=11)
    z = y - y.mean()
    mat = g.sparse.toarray()
    mat = mat / mat.sum(axis=1, keepdims=True)
    sims = np.array([z[list(p)] @ mat @ z[list(p)] for p in itertools.permutations(range(7))])
    sims *= 7 / mat.sum() / (z @ z)
    exact = _pstat(int((sims >= obs.I - 1e-12).sum()), sims.size)
    tol = 4 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-3
    assert obs.p_sim == pytest.approx(exact, abs=tol)
    again = moran(y, g, permutations=20_000, seed=11)
    assert again.p_sim == obs.p_sim and np.array_equal(again.sim, obs.sim)


def test_lisa_permutation_p_matches_exact_conditional_enumeration():
    """Each unit's conditional distribution enumerated over all neighbour sets (n = 9)."""
    y = np.array([5.0, 1.0, 9.0, 2.0, 7.0, 3.0, 8.0, 0.5, 4.0])
    g = _ring_graph(9, extra=[(0, 4), (2, 6)])
    perms = 20_000
    lisa = local_moran(y, g, permutations=perms, seed=5)
    z = y - y.mean()
    n = y.size
    for i in range(n):
        nb = g.sparse[i].indices
        k = nb.size
        others = [j for j in range(n) if j != i]
        lags = np.array([z[list(c)].mean() for c in itertools.combinations(others, k)])
        sims = (n - 1) * z[i] * lags / (z @ z)
        exact = _pstat(int((sims >= lisa["Is"].iloc[i] - 1e-12).sum()), sims.size)
        tol = 4 * math.sqrt(exact * (1 - exact) / perms) + 2e-3
        assert lisa["p_sim"].iloc[i] == pytest.approx(exact, abs=tol), i
    assert local_moran(y, g, permutations=99, seed=1)["p_sim"].equals(
        local_moran(y, g, permutations=99, seed=1)["p_sim"])


def test_getis_ord_permutations_exact_enumeration():
    y = np.array([5.0, 1.0, 9.0, 2.0, 7.0, 3.0, 8.0, 0.5, 4.0])
    g = _ring_graph(9)
    perms = 20_000
    gi = getis_ord(y, g, star=True, permutations=perms, seed=2)
    for i in range(9):
        others = [j for j in range(9) if j != i]
        sums = np.array([y[list(c)].sum() for c in itertools.combinations(others, 2)])
        sims = (sums + y[i]) / y.sum()
        exact = _pstat(int((sims >= gi["G"].iloc[i] - 1e-12).sum()), sims.size)
        assert gi["p_sim"].iloc[i] == pytest.approx(
            exact, abs=4 * math.sqrt(exact * (1 - exact) / perms) + 2e-3), i


def test_autocorrelation_bad_input(stl):
    y, w = stl
    with pytest.raises(DataError, match="values for weights"):
        moran(y[:-1], w)
    with pytest.raises(DataError, match="all values are equal"):
        moran(np.ones_like(y), w)
    with pytest.raises(DataError, match="libpysal W or Graph"):
        moran(y, np.eye(len(y)))
    with pytest.raises(IdError, match="have no value"):
        moran(pd.Series(y, index=[f"x{i}" for i in range(len(y))]), w)
    with pytest.raises(DataError, match="transform"):
        moran(y, w, transform="v")


@pytest.mark.shared
def test_contiguity_matches_libpysal(shared):
    import geopandas as gpd
    from libpysal.graph import Graph

    units = gpd.read_file(shared(*DC_COUNTIES), layer="counties").set_index("fips")
    for rook in (False, True):
        ref = Graph.build_contiguity(units, rook=rook)
        ours = make_graph(units.set_axis(units.index.map(str)), "rook" if rook else "queen")
        order = ours.unique_ids.get_indexer([str(i) for i in ref.unique_ids])
        assert (order >= 0).all()
        np.testing.assert_array_equal(ref.sparse.toarray(),
                                      ours.sparse.toarray()[np.ix_(order, order)])


# -- CLI -----------------------------------------------------------------------------------
