"""Panels: any measure over time, sigma-convergence and beta-convergence (with spatial terms)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gisfix.errors import DataError
from gisfix.inequality._checks import _prepare
from gisfix.inequality.decomposition import MEASURES
from gisfix.inequality.measures import williamson


# --------------------------------------------------------------------------- panels
def _measure(measure) -> tuple[str, Callable]:
    if callable(measure):
        return getattr(measure, "__name__", "measure"), measure
    if measure not in MEASURES:
        raise DataError(f"unknown measure {measure!r}; use one of {', '.join(MEASURES)} or a "
                        "function")
    return measure, MEASURES[measure]


def over_time(wide_df: pd.DataFrame, measure="gini", **kw) -> pd.Series:
    """Apply one measure to every column (period) of a wide table.

    Parameters
    ----------
    wide_df : DataFrame
        One row per unit, one column per period (e.g. ``pcgdp1940 ... pcgdp2000``).
    measure : str or callable
        A name from :data:`MEASURES` or a function ``f(values, **kw) -> float``.
    **kw
        Passed to the measure.  ``weights`` may be a Series (the same weights every period)
        or a DataFrame with the same columns as ``wide_df`` (weights by period).

    Returns
    -------
    Series
        Indexed by the columns of ``wide_df``, named after the measure.
    """
    name, fn = _measure(measure)
    if not isinstance(wide_df, pd.DataFrame) or wide_df.shape[1] < 1:
        raise DataError("over_time needs a DataFrame with one column per period")
    weights = kw.pop("weights", None)
    out = {}
    for col in wide_df.columns:
        w = weights
        if isinstance(weights, pd.DataFrame):
            if col not in weights.columns:
                raise DataError(f"over_time: the weights table has no column {col!r}")
            w = weights[col]
        args = dict(kw)
        if w is not None:
            args["population" if fn is williamson else "weights"] = w
        try:
            out[col] = fn(wide_df[col], **args)
        except DataError as exc:
            raise DataError(f"period {col!r}: {exc}") from exc
    return pd.Series(out, name=name, dtype=float)


def _years(columns, years) -> np.ndarray:
    if years is not None:
        y = np.asarray(years, dtype=float)
        if len(y) != len(columns):
            raise DataError(f"got {len(columns)} columns but {len(y)} years")
        return y
    out = []
    for c in columns:
        if isinstance(c, int | float | np.integer | np.floating):
            out.append(float(c))
            continue
        m = re.findall(r"(\d{4})", str(c))
        if not m:
            raise DataError(f"cannot read a year from column {c!r}; name columns by year "
                            "(1990, 'pop2000'...) or pass years=[...]")
        out.append(float(m[-1]))
    y = np.asarray(out)
    if len(np.unique(y)) != len(y):
        raise DataError(f"the columns give repeated years {list(y)}; pass years=[...]")
    return y


#: Covariance types of the OLS regressions (statsmodels' ``cov_type``).
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")


def _ols(y: np.ndarray, X: np.ndarray, names: Sequence[str], cov_type: str = "nonrobust",
         groups=None) -> tuple[pd.DataFrame, dict]:
    """OLS through statsmodels: coefficient table (coef, se, t, p) and fit."""
    import statsmodels.api as sm

    n, k = X.shape
    if n <= k:
        raise DataError(f"regression needs more units ({n}) than coefficients ({k})")
    kw = _cov_kwds(cov_type, groups, n)
    fit = sm.OLS(np.asarray(y, dtype=float), X).fit(**kw)
    table = pd.DataFrame({"coef": fit.params, "se": fit.bse, "t": fit.tvalues,
                          "p": fit.pvalues}, index=list(names))
    return table, {"r2": float(fit.rsquared), "dof": float(fit.df_resid),
                   "resid": np.asarray(fit.resid)}


def _cov_kwds(cov_type: str, groups, n: int) -> dict:
    if cov_type not in COV_TYPES:
        raise DataError(f"cov_type must be one of {', '.join(COV_TYPES)}; got {cov_type!r}")
    if cov_type != "cluster":
        if groups is not None:
            raise DataError("groups= is only used with cov_type='cluster'")
        return {"cov_type": cov_type}
    if groups is None:
        raise DataError("cov_type='cluster' needs groups= (one cluster label per unit)")
    codes = pd.factorize(pd.Series(np.asarray(groups)))[0]
    if len(codes) != n or (codes < 0).any():
        raise DataError(f"groups must give one non-missing cluster label per unit ({n}); got "
                        f"{len(codes)} labels, {int((codes < 0).sum())} missing")
    return {"cov_type": "cluster", "cov_kwds": {"groups": codes}}


@dataclass(frozen=True)
class SigmaConvergence:
    """Dispersion over time and its linear trend.

    Attributes
    ----------
    dispersion : Series
        The measure in each period.
    slope, se, t, p_value : float
        OLS trend of the dispersion on the year (per year) and its test.
    change : float
        Last minus first dispersion.
    converging : bool
        True when the dispersion fell (negative slope).
    """

    dispersion: pd.Series
    slope: float
    se: float
    t: float
    p_value: float
    change: float
    converging: bool


def sigma_convergence(wide_df: pd.DataFrame, measure="cv", *, log: bool = False,
                      years=None, **kw) -> SigmaConvergence:
    r"""Sigma-convergence: the cross-sectional dispersion over time and its trend.

    The dispersion :math:`\sigma_t` (by default the CV; with ``log=True`` the standard
    deviation of :math:`\ln y_{it}`, Barro and Sala-i-Martin 1992) is computed for each
    period and regressed on the year, :math:`\sigma_t = a + b\,t + e_t`; convergence is a
    falling dispersion (:math:`b < 0`).

    Parameters
    ----------
    wide_df : DataFrame
        One row per unit, one column per period.
    measure : str or callable
        The dispersion measure (ignored when ``log=True``).
    log : bool
        Use the standard deviation of log values (population form, ddof=0).
    years : sequence, optional
        Years of the columns; read from the column names by default.
    **kw
        Passed to :func:`over_time` (e.g. ``weights=``).

    Returns
    -------
    SigmaConvergence

    References
    ----------
    Barro, R. J. and Sala-i-Martin, X. (1992). *Journal of Political Economy* 100(2),
    223-251.
    """
    if log:
        def sd_log(v, **_):
            x, _, _ = _prepare(v, None, measure="sigma_convergence(log=True)",
                               positive="strict")
            return float(np.std(np.log(x)))
        disp = over_time(wide_df, sd_log)
        disp.name = "sd_log"
    else:
        disp = over_time(wide_df, measure, **kw)
    t = _years(wide_df.columns, years)
    if len(t) < 3:
        raise DataError(f"sigma_convergence needs at least 3 periods for a trend; got {len(t)}")
    table, _ = _ols(disp.to_numpy(), np.column_stack([np.ones_like(t), t]), ["const", "year"])
    b = table.loc["year"]
    return SigmaConvergence(dispersion=disp, slope=float(b.coef), se=float(b.se),
                            t=float(b.t), p_value=float(b.p),
                            change=float(disp.iloc[-1] - disp.iloc[0]),
                            converging=bool(b.coef < 0))


@dataclass(frozen=True)
class BetaConvergence:
    r"""Result of :func:`beta_convergence`.

    Attributes
    ----------
    beta, se, t, p_value : float
        Coefficient of log initial level and its test.
    speed : float
        Implied convergence speed :math:`\lambda` per year (NaN if beta >= 0 or beta*T <= -1).
    half_life : float
        :math:`\ln 2 / \lambda` in years (NaN when speed is NaN).
    rho : float or None
        Coefficient of the spatial term (lag of growth, or lag of log initial level for SLX).
    params : DataFrame
        All coefficients with ``coef``, ``se``, ``t``, ``p``.
    r2 : float
    n : int
    t0, t1 : float
        Years of the first and last period; ``span = t1 - t0``.
    spatial : str or None
        None, ``"lag"`` or ``"slx"``.
    cov_type : str
        The standard errors: statsmodels' ``cov_type`` (``"nonrobust"``, ``"HC1"``...,
        ``"cluster"``); for the spatial lag ``"nonrobust"`` or ``"white"``.
    """

    beta: float
    se: float
    t: float
    p_value: float
    speed: float
    half_life: float
    rho: float | None
    params: pd.DataFrame
    r2: float
    n: int
    t0: float
    t1: float
    spatial: str | None = None
    cov_type: str = "nonrobust"


def beta_convergence(wide_df: pd.DataFrame, t0=None, t1=None, *, graph=None,
                     spatial: str = "lag", years=None, cov_type: str = "nonrobust",
                     groups=None) -> BetaConvergence:
    r"""Absolute beta-convergence: annualised growth on log initial level.

    .. math::

        g_i = \frac{1}{T}\ln\frac{y_{i,t_0+T}}{y_{i,t_0}} = a + \beta \ln y_{i,t_0} + e_i,
        \qquad \lambda = -\frac{\ln(1 + \beta T)}{T}, \qquad
        \text{half-life} = \frac{\ln 2}{\lambda}

    (Barro and Sala-i-Martin 1992).  With a ``graph`` (row-standardised :math:`W`):

    * ``spatial="lag"``: :math:`g = a + \beta \ln y_0 + \rho W g + e`, estimated by
      spatial two-stage least squares with instruments
      :math:`[1, \ln y_0, W \ln y_0, W^2 \ln y_0]` (Kelejian and Prucha 1998), since OLS of
      :math:`g` on :math:`Wg` is inconsistent: PySAL spreg's ``GM_Lag`` (``w_lags=2``,
      :math:`\sigma^2` with n - k) on a sparse :math:`W`, no dense n x n matrix.
    * ``spatial="slx"``: :math:`g = a + \beta \ln y_0 + \theta W \ln y_0 + e` by OLS
      (``rho`` reports :math:`\theta`).

    Every OLS is statsmodels' ``OLS`` with the ``cov_type`` asked (classical, White
    ``HC0``-``HC3``, or clustered by ``groups``).

    Parameters
    ----------
    wide_df : DataFrame
        One row per unit, one column per period; values > 0.
    t0, t1 : column label, optional
        The initial and final periods (default: the first and last columns).
    graph : libpysal Graph or W, optional
        Neighbours of the units (ids matching ``wide_df.index``); see
        :func:`gisfix.spatial.make_graph`.
    spatial : {"lag", "slx"}
        The spatial specification used with ``graph``.
    years : sequence, optional
        Years of the columns (read from the column names by default).
    cov_type : str
        Standard errors: ``"nonrobust"`` (default), ``"HC0"``-``"HC3"`` (White) or
        ``"cluster"`` (with ``groups``); the spatial lag takes ``"nonrobust"`` or
        ``"HC0"`` (spreg's White estimator).
    groups : array-like, optional
        One cluster label per unit (row of ``wide_df``), with ``cov_type="cluster"``.

    Returns
    -------
    BetaConvergence

    References
    ----------
    Barro and Sala-i-Martin (1992); Rey, S. J. and Montouri, B. D. (1999). US regional
    income convergence: a spatial econometric perspective. *Regional Studies* 33(2),
    143-156; Kelejian, H. H. and Prucha, I. R. (1998). *Journal of Real Estate Finance and
    Economics* 17(1), 99-121.
    """
    cols = list(wide_df.columns)
    t_all = _years(cols, years)
    c0 = cols[0] if t0 is None else t0
    c1 = cols[-1] if t1 is None else t1
    for c in (c0, c1):
        if c not in cols:
            raise DataError(f"beta_convergence: no column {c!r}; columns are {cols}")
    y0 = wide_df[c0]
    y1 = wide_df[c1]
    x0, _, _ = _prepare(y0, None, measure="beta_convergence", positive="strict", min_n=3)
    x1, _, _ = _prepare(y1, None, measure="beta_convergence", positive="strict", min_n=3)
    year0, year1 = t_all[cols.index(c0)], t_all[cols.index(c1)]
    span = year1 - year0
    if span <= 0:
        raise DataError(f"beta_convergence: the end period ({year1:g}) must come after the start "
                        f"({year0:g})")
    g = np.log(x1 / x0) / span
    lx = np.log(x0)
    one = np.ones_like(lx)
    rho = None
    if graph is None:
        table, fit = _ols(g, np.column_stack([one, lx]), ["const", "log_initial"], cov_type,
                          groups)
        used = None
    else:
        from gisfix.spatial.graphs import row_standardized_matrix

        W = row_standardized_matrix(graph, wide_df.index)
        if spatial == "slx":
            table, fit = _ols(g, np.column_stack([one, lx, W @ lx]),
                              ["const", "log_initial", "w_log_initial"], cov_type, groups)
            rho = float(table.loc["w_log_initial", "coef"])
        elif spatial == "lag":
            table, fit = _spatial_lag(g, lx, W, cov_type,
                                      ["const", "log_initial", "w_growth"])
            rho = float(table.loc["w_growth", "coef"])
        else:
            raise DataError(f"beta_convergence: spatial must be 'lag' or 'slx'; got {spatial!r}")
        used = spatial
    b = table.loc["log_initial"]
    beta = float(b.coef)
    inner = 1 + beta * span
    speed = float(-math.log(inner) / span) if (beta < 0 and inner > 0) else float("nan")
    half = float(math.log(2) / speed) if speed == speed and speed > 0 else float("nan")
    return BetaConvergence(beta=beta, se=float(b.se), t=float(b.t), p_value=float(b.p),
                           speed=speed, half_life=half, rho=rho, params=table, r2=fit["r2"],
                           n=len(g), t0=float(year0), t1=float(year1), spatial=used,
                           cov_type=cov_type)


def _spatial_lag(g: np.ndarray, lx: np.ndarray, W, cov_type: str, names):
    """Spatial-lag 2SLS through spreg's ``GM_Lag`` on a sparse row-standardized ``W``."""
    import spreg
    from libpysal.weights import WSP

    n = len(g)
    if cov_type not in ("nonrobust", "HC0"):
        raise DataError(f"the spatial lag model takes cov_type 'nonrobust' or 'HC0' (White); "
                        f"got {cov_type!r} (use spatial='slx' for clustered errors)")
    if n <= 4:
        raise DataError(f"spatial lag regression needs more units ({n}) than instruments (4)")
    w = WSP(W.tocsr(), id_order=list(range(n))).to_W(silence_warnings=True)
    w.transform = "r"  # the rows of W sum to 1 already; spreg checks the flag
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # islands, and spreg's notices (it also prints)
        m = spreg.GM_Lag(np.asarray(g, dtype=float)[:, None], np.asarray(lx)[:, None], w=w,
                         w_lags=2, robust="white" if cov_type == "HC0" else None,
                         sig2n_k=True, spat_diag=False, spat_impacts=None)
    coef = np.asarray(m.betas, dtype=float).ravel()
    se = np.sqrt(np.diag(np.asarray(m.vm, dtype=float)))
    z = np.array([zs for zs, _ in m.z_stat], dtype=float)
    p = np.array([pv for _, pv in m.z_stat], dtype=float)
    resid = np.asarray(m.u, dtype=float).ravel()
    yc = g - g.mean()
    r2 = 1 - float(resid @ resid) / float(yc @ yc)
    return (pd.DataFrame({"coef": coef, "se": se, "t": z, "p": p}, index=list(names)),
            {"r2": r2, "dof": float(n - len(coef)), "resid": resid})
