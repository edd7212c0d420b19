"""Regressions of gisfix.inequality.panels through statsmodels and spreg (the oracles).

Oracles: statsmodels ``OLS`` (classical, White HC1, clustered) and PySAL spreg ``GM_Lag``
run in the test on libpysal's ``mexico`` data with libpysal's own queen weights; a peak
memory bound for the spatial lag on 50,000 synthetic units, measured in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gisfix import inequality as ineq
from gisfix.errors import DataError

#: the same estimator in two libraries (floating-point summation order)
PEER_RTOL = 1e-9
#: acceptance of issue 15: beta convergence with a spatial lag on 50,000 units under 2 GB
MAX_RSS_BYTES = 2 * 1024**3
YEARS = (1940, 2000)


@pytest.fixture(scope="module")
def mexico_gdf():
    import geopandas as gpd
    import libpysal

    return gpd.read_file(libpysal.examples.get_path("mexicojoin.shp")).set_index("CODE")


def _design(gdf):
    y0 = gdf[f"PCGDP{YEARS[0]}"].to_numpy(dtype=float)
    y1 = gdf[f"PCGDP{YEARS[1]}"].to_numpy(dtype=float)
    return np.log(y1 / y0) / (YEARS[1] - YEARS[0]), np.log(y0)


def test_ols_robust_and_clustered_equal_statsmodels(mexico_gdf):
    import statsmodels.api as sm

    wide = mexico_gdf[[f"PCGDP{y}" for y in YEARS]]
    g, lx = _design(mexico_gdf)
    X = sm.add_constant(lx)
    for cov_type, kw in (("HC1", {}), ("cluster", {"groups": mexico_gdf["HANSON98"]})):
        ours = ineq.beta_convergence(wide, cov_type=cov_type, **kw)
        cov_kwds = {"groups": mexico_gdf["HANSON98"].to_numpy()} if kw else None
        peer = sm.OLS(g, X).fit(cov_type=cov_type, cov_kwds=cov_kwds)
        np.testing.assert_allclose(ours.params["coef"], peer.params, rtol=PEER_RTOL)
        np.testing.assert_allclose(ours.params["se"], peer.bse, rtol=PEER_RTOL)
        assert ours.cov_type == cov_type
    with pytest.raises(DataError, match="needs groups"):
        ineq.beta_convergence(wide, cov_type="cluster")
    with pytest.raises(DataError, match="cov_type must be one of"):
        ineq.beta_convergence(wide, cov_type="HC9")


@pytest.mark.parametrize("robust", [None, "white"])
def test_spatial_lag_equals_spreg_on_mexico(mexico_gdf, robust):
    import libpysal
    import spreg

    from gisfix.spatial import make_graph

    wide = mexico_gdf[[f"PCGDP{y}" for y in YEARS]]
    ours = ineq.beta_convergence(wide, graph=make_graph(mexico_gdf, "queen"), spatial="lag",
                                 cov_type="HC0" if robust else "nonrobust")
    g, lx = _design(mexico_gdf)
    w = libpysal.weights.Queen.from_dataframe(mexico_gdf, use_index=True)
    w.transform = "r"
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        peer = spreg.GM_Lag(g[:, None], lx[:, None], w=w, w_lags=2, robust=robust,
                            sig2n_k=True, spat_diag=False, spat_impacts=None)
    np.testing.assert_allclose(ours.params["coef"], np.ravel(peer.betas), rtol=PEER_RTOL)
    np.testing.assert_allclose(ours.params["se"], np.sqrt(np.diag(peer.vm)), rtol=PEER_RTOL)
    assert ours.rho == pytest.approx(float(np.ravel(peer.rho)[0]), rel=PEER_RTOL)


def test_spatial_lag_50000_units_under_2_gb():
    """A 224 x 224 rook lattice (50,176 units): sparse W only, peak RSS measured."""
    code = textwrap.dedent("""
        import resource, sys
        import numpy as np, pandas as pd, scipy.sparse as sp
        from gisfix.spatial import SpatialGraph
        from gisfix.inequality import beta_convergence

        side = 224
        n = side * side
        idx = np.arange(n).reshape(side, side)
        pairs = [(idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])]
        i = np.concatenate([a.ravel() for a, b in pairs] + [b.ravel() for a, b in pairs])
        j = np.concatenate([b.ravel() for a, b in pairs] + [a.ravel() for a, b in pairs])
        ids = pd.Index([f"u{k}" for k in range(n)])
        graph = SpatialGraph(ids, sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n)))
        rng = np.random.default_rng(0)
        y0 = np.exp(rng.normal(9, 0.5, n))
        growth = 0.03 - 0.002 * np.log(y0) + rng.normal(0, 0.002, n)
        wide = pd.DataFrame({"y2000": y0, "y2010": y0 * np.exp(10 * growth)}, index=ids)
        res = beta_convergence(wide, graph=graph, spatial="lag")
        assert res.n == n and res.beta < 0, res
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    peak = int(r.stdout.strip().splitlines()[-1])
    assert peak < MAX_RSS_BYTES, f"peak RSS {peak / 1024**3:.2f} GB"
