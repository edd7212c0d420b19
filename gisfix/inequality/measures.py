"""Single-number inequality measures: Gini and Lorenz, the entropy family, Atkinson, CV.

See :mod:`gisfix.inequality` for the positivity rules and the references.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gisfix.errors import DataError
from gisfix.inequality._checks import _prepare


# --------------------------------------------------------------------------- Gini & Lorenz
def gini(values, weights=None) -> float:
    r"""Gini coefficient (mean absolute difference over twice the mean), optionally weighted.

    .. math::

        G = \frac{\sum_i \sum_j s_i s_j \lvert x_i - x_j \rvert}{2 \mu},
        \qquad \mu = \sum_i s_i x_i, \quad s_i = w_i / \sum_k w_k

    Unweighted (:math:`s_i = 1/n`) this is :math:`\sum_i\sum_j|x_i-x_j| / (2 n^2 \mu)`,
    the form of PySAL's ``inequality.gini.Gini`` (no small-sample correction).  It equals
    one minus twice the area under the (trapezoidal) Lorenz curve of :func:`lorenz`.
    Computed in :math:`O(n \log n)` by sorting.

    Parameters
    ----------
    values : Series or array-like
        Unit values, >= 0 with a positive mean.
    weights : Series or array-like, optional
        Non-negative unit weights (population).

    Returns
    -------
    float

    References
    ----------
    Gini, C. (1912). *Variabilità e mutabilità*. Cowell (2011), ch. 2; Rey and
    Sastre-Gutierrez (2010) for the regional use.

    Examples
    --------
    >>> round(gini([1, 2, 3, 4]), 6)
    0.25
    """
    x, s, _ = _prepare(values, weights, measure="gini")
    return _gini(x, s)


def _gini(x: np.ndarray, s: np.ndarray) -> float:
    order = np.argsort(x, kind="stable")
    xs, ss = x[order], s[order]
    cum = np.cumsum(ss)
    below = cum - ss              # weight share strictly before each unit in sorted order
    above = 1.0 - cum             # weight share after it
    mu = ss @ xs
    # sum_i sum_j s_i s_j |x_i - x_j| = 2 sum_k s_k x_k (S_below_k - S_above_k)
    return float((ss * xs) @ (below - above) / mu)


def lorenz(values, weights=None) -> pd.DataFrame:
    r"""Lorenz curve points: cumulative population share against cumulative value share.

    Units are sorted by value; row ``k`` holds
    :math:`F_k = \sum_{i \le k} s_i` and :math:`L_k = \sum_{i \le k} s_i x_i / \mu`, with a
    first row ``(0, 0)``.  The Gini coefficient is
    :math:`1 - \sum_k (F_k - F_{k-1})(L_k + L_{k-1})`.

    Parameters
    ----------
    values : Series or array-like
        Unit values, >= 0 with a positive mean.
    weights : Series or array-like, optional
        Non-negative unit weights (population).

    Returns
    -------
    DataFrame
        Columns ``unit`` (the unit label; None on the origin row), ``value``,
        ``population_share`` and ``value_share``, n + 1 rows.

    References
    ----------
    Lorenz, M. O. (1905). Methods of measuring the concentration of wealth. *Publications
    of the American Statistical Association* 9(70), 209-219.
    """
    x, s, labels = _prepare(values, weights, measure="lorenz")
    order = np.argsort(x, kind="stable")
    mass = s[order] * x[order]
    return pd.DataFrame({
        "unit": [None, *labels[order]],
        "value": np.r_[np.nan, x[order]],
        "population_share": np.r_[0.0, np.cumsum(s[order])],
        "value_share": np.r_[0.0, np.cumsum(mass) / mass.sum()],
    })


# --------------------------------------------------------------------------- entropy family
def _xlogx(r: np.ndarray) -> np.ndarray:
    out = np.zeros_like(r)
    pos = r > 0
    out[pos] = r[pos] * np.log(r[pos])
    return out


def _ge(x: np.ndarray, s: np.ndarray, alpha: float) -> float:
    mu = s @ x
    if mu == 0:  # a group whose values are all 0 (only reachable inside decompositions)
        return 0.0
    r = x / mu
    if alpha == 1:
        return float(s @ _xlogx(r))
    if alpha == 0:
        return float(-(s @ np.log(r)))
    return float((s @ r**alpha - 1.0) / (alpha * (alpha - 1.0)))


def _ge_positivity(alpha: float) -> str:
    return "strict" if alpha <= 0 else "nonneg"


def generalized_entropy(values, alpha: float, weights=None) -> float:
    r"""Generalised entropy index GE(alpha) (Shorrocks 1980; Cowell 2011).

    .. math::

        GE(\alpha) = \frac{1}{\alpha(\alpha-1)} \sum_i s_i
            \left[ \left(\frac{x_i}{\mu}\right)^{\alpha} - 1 \right],

    with the limits :math:`GE(1) = \sum_i s_i (x_i/\mu) \ln(x_i/\mu)` (Theil T) and
    :math:`GE(0) = -\sum_i s_i \ln(x_i/\mu)` (Theil L, mean log deviation);
    :math:`s_i = w_i/\sum w` (or :math:`1/n`), :math:`\mu = \sum_i s_i x_i`.

    Parameters
    ----------
    values : Series or array-like
        Unit values: > 0 for alpha <= 0, >= 0 otherwise.
    alpha : float
        Sensitivity parameter: small alpha weights the bottom, large alpha the top.
    weights : Series or array-like, optional
        Non-negative unit weights (population).

    Returns
    -------
    float

    References
    ----------
    Shorrocks, A. F. (1980). *Econometrica* 48(3), 613-625.
    """
    alpha = float(alpha)
    x, s, _ = _prepare(values, weights, measure=f"generalized_entropy(alpha={alpha:g})",
                       positive=_ge_positivity(alpha))
    return _ge(x, s, alpha)


def theil_t(values, weights=None) -> float:
    r"""Theil's T index, GE(1) (Theil 1967).

    .. math::

        T = \sum_i s_i \frac{x_i}{\mu} \ln \frac{x_i}{\mu}

    Unweighted it is PySAL's ``inequality.theil.Theil``:
    :math:`\sum_i (y_i/Y) \ln(n\, y_i / Y)`.  Zeros contribute 0 (:math:`0 \ln 0 = 0`).

    Parameters
    ----------
    values : Series or array-like
        Unit values, >= 0 with a positive mean.
    weights : Series or array-like, optional
        Non-negative unit weights (population).

    Returns
    -------
    float

    References
    ----------
    Theil, H. (1967). *Economics and Information Theory*. North-Holland.
    """
    x, s, _ = _prepare(values, weights, measure="theil_t")
    return _ge(x, s, 1.0)


def theil_l(values, weights=None) -> float:
    r"""Theil's L index (mean log deviation), GE(0) (Theil 1967).

    .. math::

        L = \sum_i s_i \ln \frac{\mu}{x_i}

    Parameters
    ----------
    values : Series or array-like
        Unit values, > 0.
    weights : Series or array-like, optional
        Non-negative unit weights (population).

    Returns
    -------
    float

    References
    ----------
    Theil, H. (1967). *Economics and Information Theory*. North-Holland.
    """
    x, s, _ = _prepare(values, weights, measure="theil_l", positive="strict")
    return _ge(x, s, 0.0)


def cv(values, weights=None, ddof: int = 0) -> float:
    r"""Coefficient of variation :math:`\sigma/\mu`; with weights, Williamson's CV.

    .. math::

        CV = \frac{1}{\mu}\sqrt{\sum_i s_i (x_i - \mu)^2}

    Unweighted with ``ddof=0`` this is the population standard deviation over the mean;
    ``ddof=1`` gives the sample form :math:`\sqrt{\sum (x_i-\bar x)^2/(n-1)}/\bar x`
    (unweighted only).

    Parameters
    ----------
    values : Series or array-like
        Unit values, >= 0 with a positive mean.
    weights : Series or array-like, optional
        Non-negative unit weights (population); see :func:`williamson`.
    ddof : int
        Delta degrees of freedom of the unweighted standard deviation.

    Returns
    -------
    float

    References
    ----------
    Williamson, J. G. (1965). *Economic Development and Cultural Change* 13(4), 1-84.
    """
    x, s, _ = _prepare(values, weights, measure="cv")
    mu = s @ x
    if weights is not None:
        if ddof:
            raise DataError("cv: ddof applies to the unweighted CV only; drop ddof= or weights=")
        return float(np.sqrt(s @ (x - mu) ** 2) / mu)
    return float(np.std(x, ddof=ddof) / mu)


def williamson(values, population) -> float:
    r"""Williamson's population-weighted coefficient of variation (Williamson 1965).

    .. math::

        V_w = \frac{1}{\bar y}\sqrt{\sum_i \frac{p_i}{P} (y_i - \bar y)^2},
        \qquad \bar y = \sum_i \frac{p_i}{P} y_i

    where :math:`y_i` is the per-capita value of region *i*, :math:`p_i` its population
    and :math:`P = \sum p_i`, so :math:`\bar y` is the national per-capita value.

    Parameters
    ----------
    values : Series or array-like
        Per-capita values, >= 0 with a positive mean.
    population : Series or array-like
        Population of each unit.

    Returns
    -------
    float

    References
    ----------
    Williamson, J. G. (1965). *Economic Development and Cultural Change* 13(4), 1-84.
    """
    if population is None:
        raise DataError("williamson needs population weights; got population=None")
    return cv(values, weights=population)


def atkinson(values, epsilon: float, weights=None) -> float:
    r"""Atkinson index with inequality aversion epsilon (Atkinson 1970).

    .. math::

        A_\varepsilon = 1 - \frac{1}{\mu}
            \left(\sum_i s_i x_i^{1-\varepsilon}\right)^{1/(1-\varepsilon)},
        \qquad A_1 = 1 - \frac{1}{\mu}\exp\left(\sum_i s_i \ln x_i\right)

    Parameters
    ----------
    values : Series or array-like
        Unit values: > 0 for epsilon >= 1, >= 0 otherwise.
    epsilon : float
        Inequality aversion, >= 0.
    weights : Series or array-like, optional
        Non-negative unit weights (population).

    Returns
    -------
    float

    References
    ----------
    Atkinson, A. B. (1970). *Journal of Economic Theory* 2(3), 244-263.

    Examples
    --------
    >>> round(atkinson([10, 20, 30, 40, 50], 0.5), 5)
    0.06315
    """
    epsilon = float(epsilon)
    if not epsilon >= 0:
        raise DataError(f"atkinson: epsilon must be >= 0; got {epsilon}")
    x, s, _ = _prepare(values, weights, measure=f"atkinson(epsilon={epsilon:g})",
                       positive="strict" if epsilon >= 1 else "nonneg")
    return _atkinson(x, s, epsilon)


def _atkinson(x, s, epsilon) -> float:
    mu = s @ x
    if epsilon == 1:
        ede = math.exp(s @ np.log(x))
    else:
        ede = (s @ x ** (1.0 - epsilon)) ** (1.0 / (1.0 - epsilon))
    return float(1.0 - ede / mu)


def max_min_ratio(values) -> float:
    r"""Ratio of the largest to the smallest unit value, :math:`\max_i x_i / \min_i x_i`.

    Parameters
    ----------
    values : Series or array-like
        Unit values, > 0.

    Returns
    -------
    float

    References
    ----------
    Cowell (2011), ch. 2 (the range as a crude inequality measure).
    """
    x, _, _ = _prepare(values, None, measure="max_min_ratio", positive="strict")
    return float(x.max() / x.min())


def top_bottom_ratio(values, share: float = 0.2, weights=None) -> float:
    r"""Value held by the top ``share`` of the population over that held by the bottom share.

    With the Lorenz curve :math:`L(p)` of :func:`lorenz` (linear between its points),

    .. math::

        R = \frac{1 - L(1 - \text{share})}{L(\text{share})}

    With share = 0.2 this is the quintile share ratio S80/S20.  Unweighted, when
    ``share * n`` is a whole number k it is the total of the k largest values over the
    total of the k smallest; otherwise units on the cut are split proportionally.

    Parameters
    ----------
    values : Series or array-like
        Unit values, >= 0; the bottom tail must hold a positive total.
    share : float
        Tail share of the population (units) in (0, 0.5].
    weights : Series or array-like, optional
        Non-negative unit weights (population).

    Returns
    -------
    float

    References
    ----------
    Eurostat, *Income quintile share ratio S80/S20* (ilc_di11); Cowell (2011), ch. 2.
    """
    if not 0 < share <= 0.5:
        raise DataError(f"top_bottom_ratio: share must be in (0, 0.5]; got {share}")
    x, s, _ = _prepare(values, weights, measure="top_bottom_ratio")
    order = np.argsort(x, kind="stable")
    f = np.r_[0.0, np.cumsum(s[order])]
    mass = s[order] * x[order]
    lz = np.r_[0.0, np.cumsum(mass) / mass.sum()]
    f[-1] = 1.0
    bottom = float(np.interp(share, f, lz))
    top = 1.0 - float(np.interp(1.0 - share, f, lz))
    if bottom <= 0:
        raise DataError(f"top_bottom_ratio: the bottom {share:g} of the population holds no "
                        "value; the ratio is infinite (use gini or theil_t)")
    return top / bottom
