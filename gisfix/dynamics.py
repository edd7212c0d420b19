r"""Spatio-temporal dynamics of a unit x epoch panel: Markov chains and rank mobility.

How do units move up and down the hierarchy over time?  Four measures, each a plain numpy
implementation (no giddy needed at run time; the tests prove them equal to giddy on
libpysal's ``us_income`` panel, 48 states, 1929-2009):

* :func:`markov_chain`: the classic discrete Markov chain of quantile classes
  (Quah 1993 [1]_): transition counts, maximum-likelihood probabilities
  :math:`\hat p_{ij} = n_{ij} / \sum_j n_{ij}` and the steady state :math:`\pi = \pi P`.
* :func:`spatial_markov`: the chain conditioned on the class of the spatial lag at the start
  of each transition (Rey 2001 [2]_), one matrix per lag class, with the Bickenbach and Bode
  (2003) [3]_ homogeneity tests :math:`Q` and :math:`LR`.
* :func:`lisa_markov`: transitions between the four Moran scatterplot quadrants (HH, LH, LL,
  HL) of each unit (Rey and Janikas 2006 [4]_), with optional LISA significance by
  conditional permutation (``seed=``) and the test that own and neighbour moves are
  independent.
* :func:`rank_mobility`: Kendall's :math:`\tau_b` between consecutive epochs and the spatial
  :math:`\tau` over neighbouring pairs with a random-permutation pseudo p-value (Rey 2004
  [5]_), ``seed=`` for the permutations.

A panel is a wide :class:`pandas.DataFrame` (one row per unit, one column per epoch, epochs
increasing), or a long tidy frame (``unit_id``, ``epoch`` and a value column) with
``value=`` naming the column.  Graphs come from :func:`gisfix.graphs.make_graph` (or are a
libpysal ``W``/``Graph``); spatial lags use the row-standardised weights.

References
----------
.. [1] Quah, D. (1993). Empirical cross-section dynamics in economic growth. *European
   Economic Review* 37(2-3), 426-434.
.. [2] Rey, S. J. (2001). Spatial empirics for economic growth and convergence.
   *Geographical Analysis* 33(3), 195-214.
.. [3] Bickenbach, F. and Bode, E. (2003). Evaluating the Markov property in studies of
   economic convergence. *International Regional Science Review* 26(3), 363-392.
.. [4] Rey, S. J. and Janikas, M. V. (2006). STARS: Space-Time Analysis of Regional Systems.
   *Geographical Analysis* 38(1), 67-86.
.. [5] Rey, S. J. (2004). Spatial dependence in the evolution of regional income
   distributions. In Getis, Mur and Zoller (eds.), *Spatial Econometrics and Spatial
   Statistics*, 193-213. Palgrave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gisfix.errors import DataError

# Spatial machinery comes from two places only: this import and the one in lisa_markov
# (gisfix.graphs and agglomeration.local_moran are moving to gisfix.spatial).
from gisfix.graphs import _align, as_graph, row_standardised_matrix

#: Moran scatterplot quadrants (esda / giddy numbering, not GeoDa's).
QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
DEFAULT_PERMUTATIONS = 999


# -- inputs --------------------------------------------------------------------------------
def as_panel(panel, value: str | None = None, *, id_col: str = "unit_id") -> pd.DataFrame:
    """Return ``panel`` as a wide float frame: one row per unit, one column per epoch.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide (index = unit ids, columns = epochs), or long with ``id_col``, ``epoch`` and
        ``value`` columns.
    value : str, optional
        The value column of a long panel; None for a wide panel.
    id_col : str
        The unit id column of a long panel.

    Raises
    ------
    DataError
        Fewer than two epochs or two units, missing or non-finite values, unknown columns.
    """
    if not isinstance(panel, pd.DataFrame):
        raise DataError(f"a panel is a pandas DataFrame (units x epochs); got "
                        f"{type(panel).__name__}")
    if value is not None:
        missing = [c for c in (id_col, "epoch", value) if c not in panel.columns]
        if missing:
            raise DataError(f"the long panel has no column(s) {missing}; it has "
                            f"{list(panel.columns)}. Pass id_col= and value= naming them")
        if panel.duplicated([id_col, "epoch"]).any():
            raise DataError(f"the long panel repeats ({id_col}, epoch) pairs; give one value "
                            "per unit and epoch")
        wide = panel.pivot(index=id_col, columns="epoch", values=value)
    else:
        wide = panel
    try:
        cols = [int(c) for c in wide.columns]
    except (TypeError, ValueError) as err:
        raise DataError(f"panel columns must be epochs (years); got {list(wide.columns)[:6]}"
                        "; for a long panel pass value= (and id_col=)") from err
    wide = wide.copy()
    wide.columns = pd.Index(cols, name="epoch")
    wide = wide.sort_index(axis=1)
    if wide.columns.has_duplicates:
        dup = sorted(set(wide.columns[wide.columns.duplicated()]))
        raise DataError(f"the panel repeats epochs {dup}; give one column per epoch")
    if wide.shape[1] < 2 or wide.shape[0] < 2:
        raise DataError(f"a panel needs at least 2 units and 2 epochs; got {wide.shape[0]} "
                        f"units x {wide.shape[1]} epochs")
    try:
        arr = wide.to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError("panel values must be numbers") from err
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = wide.index[bad.any(axis=1)]
        raise DataError(f"the panel has {int(bad.sum())} missing or infinite values (units "
                        f"{', '.join(map(str, rows[:6]))}{' ...' if len(rows) > 6 else ''}); "
                        "a Markov chain needs a balanced panel: drop or fill them first")
    return pd.DataFrame(arr, index=wide.index, columns=wide.columns)


def _graph_matrices(graph, ids):
    """Return (row-standardised CSR matrix, SpatialGraph) both in the order of ``ids``."""
    g = _align(as_graph(graph), pd.Index(ids))
    return row_standardised_matrix(g, ids), g


def _seed_sequences(seed, n: int) -> list:
    """Spawn ``n`` independent seeds from ``seed`` (int, None, SeedSequence or Generator)."""
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.default_rng(s) for s in ss.spawn(n)]


# -- classes ---------------------------------------------------------------------------------
def quantile_cutoffs(values, k: int) -> np.ndarray:
    r"""Return the upper bounds of ``k`` quantile classes (mapclassify's ``Quantiles``).

    .. math:: c_j = Q(j/k),\quad j = 1..k

    with :math:`Q` the linear-interpolation percentile (numpy's default); repeated cutoffs
    are merged, so fewer than ``k`` classes may result.  The last cutoff is the maximum.

    Parameters
    ----------
    values : array-like
        The values to classify.
    k : int
        Number of classes (>= 2).
    """
    if int(k) != k or k < 2:
        raise DataError(f"the number of classes must be an integer >= 2; got {k!r}")
    v = np.asarray(values, dtype=float).ravel()
    pct = np.arange(1, int(k) + 1) * (100.0 / k)
    pct[-1] = min(pct[-1], 100.0)
    return np.unique(np.percentile(v, pct))


def classify(values, cutoffs) -> np.ndarray:
    r"""Return the class (0-based) of each value: the first cutoff it does not exceed.

    Class ``j`` holds :math:`c_{j-1} < y \le c_j`; values above the last cutoff get the
    last class + 1 (as mapclassify's ``UserDefined`` with an open top class).

    Parameters
    ----------
    values : array-like
        The values.
    cutoffs : array-like
        Increasing upper bounds.
    """
    return np.searchsorted(np.asarray(cutoffs, dtype=float), np.asarray(values, dtype=float),
                           side="left")


def quantile_classes(panel, k: int = 5, *, pooled: bool = False, cutoffs=None,
                     value: str | None = None) -> pd.DataFrame:
    """Return the quantile class (0 .. k-1) of every unit and epoch.

    Parameters
    ----------
    panel : pandas.DataFrame
        See :func:`as_panel`.
    k : int
        Number of quantile classes (5: quintiles).
    pooled : bool
        False: quantiles of each epoch (relative position in that year's distribution, giddy's
        ``Markov`` example); True: quantiles of all unit-epoch values pooled (giddy's
        ``Spatial_Markov(fixed=True)``).
    cutoffs : array-like, optional
        Upper bounds of the classes but the last (as giddy's ``cutoffs``); overrides ``k``.
    value : str, optional
        Value column of a long panel.
    """
    wide = as_panel(panel, value)
    classes, _, _ = _classify_panel(wide.to_numpy(), k, pooled, cutoffs)
    return pd.DataFrame(classes, index=wide.index, columns=wide.columns)


def _classify_panel(y: np.ndarray, k: int, pooled: bool, cutoffs):
    """Return (class ids, number of classes, cutoffs but the top one; None per epoch)."""
    if cutoffs is not None:
        cuts = np.asarray(cutoffs, dtype=float)
        if cuts.ndim != 1 or cuts.size < 1 or np.any(np.diff(cuts) <= 0):
            raise DataError(f"cutoffs must be a strictly increasing list of numbers; got "
                            f"{list(np.atleast_1d(cutoffs))}")
        return classify(y, cuts), len(cuts) + 1, cuts
    if pooled:
        cuts = quantile_cutoffs(y, k)
        return classify(y, cuts), len(cuts), cuts[:-1]
    out = np.empty(y.shape, dtype=np.int64)
    for t in range(y.shape[1]):
        out[:, t] = classify(y[:, t], quantile_cutoffs(y[:, t], k))
    return out, int(k), None


# -- chain algebra -------------------------------------------------------------------------
def transition_counts(class_ids, k: int) -> np.ndarray:
    r"""Return the ``k x k`` matrix of transitions between consecutive epochs.

    .. math:: n_{ij} = \#\{(u, t): c_{u,t} = i,\ c_{u,t+1} = j\}

    Parameters
    ----------
    class_ids : array-like of int, shape (units, epochs)
        Classes ``0 .. k-1``.
    k : int
        Number of classes.
    """
    c = np.asarray(class_ids, dtype=np.int64)
    key = c[:, :-1].ravel() * k + c[:, 1:].ravel()
    return np.bincount(key, minlength=k * k).reshape(k, k).astype(float)


def transition_probabilities(counts) -> np.ndarray:
    r"""Return maximum-likelihood probabilities :math:`\hat p_{ij} = n_{ij}/\sum_j n_{ij}`.

    Rows without transitions stay zero (as giddy with ``fill_empty_classes=False``).

    Parameters
    ----------
    counts : array-like, shape (k, k)
        Transition counts.
    """
    t = np.asarray(counts, dtype=float)
    rows = t.sum(axis=-1, keepdims=True)
    return t / np.where(rows == 0, 1.0, rows)


def steady_state(p) -> np.ndarray:
    r"""Return the steady-state (ergodic) distribution of a transition matrix.

    .. math:: \pi P = \pi, \qquad \sum_i \pi_i = 1

    solved on each recurrent class (a strongly connected set of states that no transition
    leaves; Kemeny and Snell 1976).  Rows without transitions are made absorbing first
    (giddy's ``fill_empty_classes=True``).

    Parameters
    ----------
    p : array-like, shape (k, k)
        Row-stochastic transition probabilities.

    Returns
    -------
    numpy.ndarray
        Shape ``(k,)`` for a chain with one recurrent class; ``(r, k)``, one distribution
        per recurrent class in order of their smallest state, when there are ``r > 1``.
    """
    from scipy.sparse.csgraph import connected_components

    p = np.array(p, dtype=float)
    empty = p.sum(axis=1) == 0
    p[empty, empty] = 1.0
    n_comp, label = connected_components(p > 0, directed=True, connection="strong")
    recurrent = []
    for c in range(n_comp):
        members = np.flatnonzero(label == c)
        if not (p[np.ix_(members, np.flatnonzero(label != c))] > 0).any():
            recurrent.append(members)
    recurrent.sort(key=lambda m: m[0])
    out = np.zeros((len(recurrent), len(p)))
    for r, members in enumerate(recurrent):
        sub = p[np.ix_(members, members)]
        m = len(members)
        a = np.vstack([sub.T - np.eye(m), np.ones((1, m))])
        b = np.r_[np.zeros(m), 1.0]
        out[r, members] = np.linalg.lstsq(a, b, rcond=None)[0]
    return out[0] if len(recurrent) == 1 else out


def _chi2_sf(stat: float, dof: int) -> float:
    from scipy import stats

    return float(stats.chi2.sf(stat, dof)) if dof > 0 else float("nan")


def chi2_test(observed, reference) -> tuple[float, float, int]:
    r"""Chi-squared test that ``observed`` transitions follow ``reference``'s probabilities.

    .. math:: \chi^2 = \sum_{ij} \frac{(n_{ij} - E_{ij})^2}{E_{ij}},\qquad
        E_{ij} = n_{i\cdot}\, m_{ij} / m_{i\cdot}

    with degrees of freedom :math:`(r_1 - 1)(r_2 - 1)` over the non-empty rows (giddy's
    ``chi2``; Bickenbach and Bode 2003).

    Parameters
    ----------
    observed, reference : array-like, shape (k, k)
        Transition counts.

    Returns
    -------
    (statistic, p_value, dof)
    """
    t1 = np.asarray(observed, dtype=float)
    t2 = np.asarray(reference, dtype=float)
    rs1, rs2 = t1.sum(axis=1), t2.sum(axis=1)
    dof = int(((rs1 > 0).sum() - 1) * ((rs2 > 0).sum() - 1))
    e = rs1[:, None] * t2 / np.where(rs2 == 0, 1.0, rs2)[:, None]
    stat = float(((t1 - e) ** 2 / np.where(e == 0, 1.0, e)).sum())
    return stat, _chi2_sf(stat, dof), dof


def homogeneity_test(transitions) -> dict:
    r"""Bickenbach-Bode tests that several transition matrices share one chain.

    .. math::
        Q = \sum_m \sum_i n_{i,m} \sum_{j} \frac{(\hat p_{ij,m} - \hat p_{ij})^2}{\hat p_{ij}},
        \qquad
        LR = 2 \sum_m \sum_{ij} n_{ij,m} \ln \frac{\hat p_{ij,m}}{\hat p_{ij}}

    both :math:`\chi^2` with :math:`\sum_i (b_i - 1)(a_i - 1)` degrees of freedom (:math:`b_i`
    regimes with transitions out of :math:`i`, :math:`a_i` non-zero pooled probabilities in
    row :math:`i`), Bickenbach and Bode (2003), as giddy's ``homogeneity``.

    Parameters
    ----------
    transitions : array-like, shape (m, k, k)
        Counts of each regime (lag class).

    Returns
    -------
    dict
        ``Q``, ``Q_p_value``, ``LR``, ``LR_p_value``, ``dof``.
    """
    m_all = np.asarray(transitions, dtype=float)
    pooled = m_all.sum(axis=0)
    p = transition_probabilities(pooled)
    den = np.where(p == 0, 1.0, p)
    q = lr = 0.0
    b = np.zeros(len(pooled))
    for nijm in m_all:
        nim = nijm.sum(axis=1)
        b += nim > 0
        pm = transition_probabilities(nijm)
        q += (nim[:, None] * (pm - p) ** 2 / den).sum()
        mask = (nijm > 0) & (p > 0)
        ratio = np.where(mask, pm, 1.0) / np.where(mask, p, 1.0)
        lr += (nijm * np.log(ratio)).sum()
    a = (pooled > 0).sum(axis=1)
    dof = int(((b - 1) * (a - 1)).sum())
    return {"Q": float(q), "Q_p_value": _chi2_sf(q, dof), "LR": float(2 * lr),
            "LR_p_value": _chi2_sf(2 * lr, dof), "dof": dof}


def _matrix_frame(mat, labels, name: str = "from_class") -> pd.DataFrame:
    return pd.DataFrame(mat, index=pd.Index(labels, name=name),
                        columns=pd.Index(labels, name="to_class"))


def _steady_frame(ss, labels) -> pd.DataFrame:
    ss = np.atleast_2d(ss)
    return pd.DataFrame(ss, index=pd.RangeIndex(len(ss), name="recurrent_class"),
                        columns=pd.Index(labels, name="class"))


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MarkovChain:
    """Result of :func:`markov_chain` (and the base of the spatial variants).

    Attributes
    ----------
    classes : pandas.DataFrame
        Class of every unit (rows) and epoch (columns).
    transitions : pandas.DataFrame
        ``k x k`` counts, index ``from_class``, columns ``to_class``.
    probabilities : pandas.DataFrame
        Row-normalised transitions.
    steady_state : pandas.DataFrame
        One row per recurrent class (one row for an ergodic chain), one column per class.
    cutoffs : tuple or None
        Upper bounds of the classes but the last (None for per-epoch quantiles).
    """

    classes: pd.DataFrame
    transitions: pd.DataFrame
    probabilities: pd.DataFrame
    steady_state: pd.DataFrame
    cutoffs: tuple | None

    @property
    def k(self) -> int:
        """Number of classes."""
        return len(self.transitions)

    def tidy(self) -> pd.DataFrame:
        """Return one row per (from_class, to_class): ``transitions`` (count), ``probability``."""
        t = self.transitions.stack().rename("transitions")
        p = self.probabilities.stack().rename("probability")
        return pd.concat([t, p], axis=1).reset_index()


@dataclass(frozen=True)
class SpatialMarkovChain(MarkovChain):
    """Result of :func:`spatial_markov`: the classic chain plus one chain per lag class.

    Attributes
    ----------
    lag_classes : pandas.DataFrame
        Class of the spatial lag of every unit and epoch.
    lag_cutoffs : tuple or None
        Upper bounds of the lag classes but the last.
    conditional_transitions : pandas.DataFrame
        Counts indexed by ``(lag_class, from_class)``, columns ``to_class``.
    conditional_probabilities : pandas.DataFrame
        Row-normalised conditional counts, same layout.
    conditional_steady_state : pandas.DataFrame
        Indexed by ``(lag_class, recurrent_class)``, one column per class.
    homogeneity : dict
        Bickenbach-Bode ``Q``, ``LR``, their p-values and ``dof``.
    """

    lag_classes: pd.DataFrame = None
    lag_cutoffs: tuple | None = None
    conditional_transitions: pd.DataFrame = None
    conditional_probabilities: pd.DataFrame = None
    conditional_steady_state: pd.DataFrame = None
    homogeneity: dict = None

    def tidy(self) -> pd.DataFrame:
        """Return one row per (lag_class, from_class, to_class) with counts and probability."""
        t = self.conditional_transitions.stack().rename("transitions")
        p = self.conditional_probabilities.stack().rename("probability")
        return pd.concat([t, p], axis=1).reset_index()


@dataclass(frozen=True)
class LisaMarkovChain(MarkovChain):
    """Result of :func:`lisa_markov`: a chain over Moran scatterplot quadrants.

    Attributes
    ----------
    move_types : pandas.DataFrame
        Per unit and transition (columns = end epochs): ``4 * (q_t - 1) + q_{t+1}`` (1-16).
    p_values : pandas.DataFrame or None
        LISA pseudo p-values per unit and epoch (``permutations > 0``).
    significant_moves : pandas.DataFrame or None
        giddy's move type 1-64: 1-16 both ends significant, 17-32 only the start, 33-48 only
        the end, 49-64 neither.
    independence : dict
        Chi-squared test that a unit's own moves and its neighbours' moves (each classified
        above / below the mean) are independent: ``chi2``, ``p_value``, ``dof``, and the
        ``expected`` counts.
    """

    move_types: pd.DataFrame = None
    p_values: pd.DataFrame | None = None
    significant_moves: pd.DataFrame | None = None
    independence: dict = None


def markov_chain(panel, k: int = 5, *, pooled: bool = False, cutoffs=None,
                 discrete: bool = False, value: str | None = None) -> MarkovChain:
    r"""Estimate the classic discrete Markov chain of quantile classes of a panel.

    Each unit's value is put in a class (quantiles of each epoch by default) and every move
    between consecutive epochs is counted:

    .. math::
        n_{ij} = \#\{(u,t): c_{u,t}=i,\ c_{u,t+1}=j\},\qquad
        \hat p_{ij} = \frac{n_{ij}}{\sum_j n_{ij}},\qquad \pi = \pi \hat P

    (Quah 1993; Rey 2001; giddy's ``Markov``).

    Parameters
    ----------
    panel : pandas.DataFrame
        Units x epochs (see :func:`as_panel`).
    k : int
        Number of quantile classes.
    pooled : bool
        Quantiles of all values pooled instead of per epoch.
    cutoffs : array-like, optional
        Explicit class upper bounds (all but the last class).
    discrete : bool
        The panel holds classes already (any sortable labels); ``k`` is then ignored.
    value : str, optional
        Value column of a long panel.

    Returns
    -------
    MarkovChain

    Examples
    --------
    >>> import pandas as pd
    >>> m = markov_chain(pd.DataFrame({2000: [1, 2, 3], 2010: [2, 1, 3]}), k=3)
    >>> m.transitions.to_numpy().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if discrete:
        wide = _discrete_panel(panel, value)
        labels, codes = np.unique(wide.to_numpy(), return_inverse=True)
        codes = codes.reshape(wide.shape)
        cuts = None
    else:
        wide = as_panel(panel, value)
        codes, kk, cuts = _classify_panel(wide.to_numpy(), k, pooled, cutoffs)
        labels = np.arange(kk)
    return _chain(wide, codes, labels, cuts)


def _discrete_panel(panel, value) -> pd.DataFrame:
    if value is not None:
        panel = panel.pivot(index="unit_id", columns="epoch", values=value)
    if panel.isna().any().any() or panel.shape[1] < 2:
        raise DataError("a discrete panel needs at least 2 epochs and no missing class")
    return panel.sort_index(axis=1)


def _chain(wide, codes, labels, cuts) -> MarkovChain:
    k = len(labels)
    t = transition_counts(codes, k)
    p = transition_probabilities(t)
    return MarkovChain(
        classes=pd.DataFrame(np.asarray(labels)[codes], index=wide.index, columns=wide.columns),
        transitions=_matrix_frame(t, labels), probabilities=_matrix_frame(p, labels),
        steady_state=_steady_frame(steady_state(p), labels),
        cutoffs=None if cuts is None else tuple(float(c) for c in cuts))


def spatial_markov(panel, graph, k: int = 5, m: int = 5, *, pooled: bool = True,
                   cutoffs=None, lag_cutoffs=None, value: str | None = None
                   ) -> SpatialMarkovChain:
    r"""Estimate the spatial Markov chain: transitions conditioned on the spatial lag class.

    With row-standardised weights :math:`w_{uv}`, the spatial lag
    :math:`L_{u,t} = \sum_v w_{uv} y_{v,t}` is classified (``m`` quantiles, pooled by default)
    and each transition is counted in the matrix of the lag class at its start:

    .. math::
        n_{ij|l} = \#\{(u,t): \ell_{u,t} = l,\ c_{u,t}=i,\ c_{u,t+1}=j\},\qquad
        \hat p_{ij|l} = n_{ij|l} / \sum_j n_{ij|l}

    (Rey 2001, giddy's ``Spatial_Markov``), with the Bickenbach and Bode (2003) tests of
    homogeneity across lag classes (:func:`homogeneity_test`).

    Parameters
    ----------
    panel : pandas.DataFrame
        Units x epochs; the index must be the graph's ids (any order).
    graph : gisfix.graphs.SpatialGraph, libpysal W or Graph
        Neighbours (``gisfix.graphs.make_graph(units, "queen")``); weights are row-standardised.
    k, m : int
        Number of quantile classes of the values and of the lags.
    pooled : bool
        Quantiles of all unit-epoch values (True, giddy's ``fixed=True``) or per epoch.
    cutoffs, lag_cutoffs : array-like, optional
        Explicit class upper bounds for values and lags (all but the top class).
    value : str, optional
        Value column of a long panel.

    Returns
    -------
    SpatialMarkovChain
    """
    wide = as_panel(panel, value)
    y = wide.to_numpy()
    mat, _ = _graph_matrices(graph, wide.index)
    lag = np.asarray(mat @ y)
    codes, kk, cuts = _classify_panel(y, k, pooled, cutoffs)
    lcodes, mm, lcuts = _classify_panel(lag, m, pooled, lag_cutoffs)
    labels = np.arange(kk)
    base = _chain(wide, codes, labels, cuts)
    key = (lcodes[:, :-1].ravel() * kk + codes[:, :-1].ravel()) * kk + codes[:, 1:].ravel()
    tt = np.bincount(key, minlength=mm * kk * kk).reshape(mm, kk, kk).astype(float)
    pp = transition_probabilities(tt)
    rows = pd.MultiIndex.from_product([np.arange(mm), labels], names=["lag_class", "from_class"])
    cols = pd.Index(labels, name="to_class")
    steady = []
    for li in range(mm):
        s = _steady_frame(steady_state(pp[li]), labels)
        s.index = pd.MultiIndex.from_product([[li], s.index],
                                             names=["lag_class", "recurrent_class"])
        steady.append(s)
    return SpatialMarkovChain(
        classes=base.classes, transitions=base.transitions, probabilities=base.probabilities,
        steady_state=base.steady_state, cutoffs=base.cutoffs,
        lag_classes=pd.DataFrame(lcodes, index=wide.index, columns=wide.columns),
        lag_cutoffs=None if lcuts is None else tuple(float(c) for c in lcuts),
        conditional_transitions=pd.DataFrame(tt.reshape(-1, kk), index=rows, columns=cols),
        conditional_probabilities=pd.DataFrame(pp.reshape(-1, kk), index=rows, columns=cols),
        conditional_steady_state=pd.concat(steady), homogeneity=homogeneity_test(tt))


def lisa_markov(panel, graph, *, permutations: int = 0, significance: float = 0.05,
                seed=None, value: str | None = None) -> LisaMarkovChain:
    r"""Estimate the LISA Markov chain: moves between Moran scatterplot quadrants.

    In each epoch the values are centred, :math:`z_u = y_u - \bar y`, and each unit falls in
    the quadrant of :math:`(z_u, \sum_v w_{uv} z_v)` (row-standardised weights): 1 HH, 2 LH,
    3 LL, 4 HL (Anselin 1995; esda's numbering).  The chain counts moves between quadrants
    (Rey and Janikas 2006; giddy's ``LISA_Markov``).  With ``permutations > 0``, local
    Moran pseudo p-values (conditional permutation, :func:`gisfix.agglomeration.local_moran`,
    one independent random stream per epoch spawned from ``seed``) give giddy's
    ``significant_moves`` (giddy draws from numpy's global generator, so the p-values agree
    in distribution, not draw by draw).

    The independence test compares the observed quadrant moves with those expected if a
    unit's own relative position (:math:`y/\bar y < 1`) and its lag's moved independently:
    :math:`E = \mathrm{diag}(n_{i\cdot})\, A (P_y \otimes P_{Wy}) A^\top`, where
    :math:`P_y` and :math:`P_{Wy}` are the 2-state chains over time of each unit's value and
    lag relative to the cross-sectional mean of the epoch.  giddy's ``LISA_Markov.chi_2``
    (published: 1058.208 on ``us_income``) differs: it divides by each unit's mean over time
    and counts its 2-state "transitions" along the units of one year (its ``y`` is
    transposed); gisfix counts them over time, as the null hypothesis describes.

    Parameters
    ----------
    panel : pandas.DataFrame
        Units x epochs; index = graph ids.
    graph : gisfix.graphs.SpatialGraph, libpysal W or Graph
        Neighbours.
    permutations : int
        Conditional permutations for LISA significance (0: none).
    significance : float
        Pseudo p-value at or below which a LISA end point is significant.
    seed : int, numpy.random.Generator or None
        Seed of the permutations.
    value : str, optional
        Value column of a long panel.

    Returns
    -------
    LisaMarkovChain
    """
    from gisfix.agglomeration import local_moran  # -> gisfix.spatial after h1's move

    wide = as_panel(panel, value)
    y = wide.to_numpy()
    mat, g = _graph_matrices(graph, wide.index)
    zc = y - y.mean(axis=0)
    lag = np.asarray(mat @ zc)
    q = np.where(zc > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3))
    labels = np.arange(1, 5)
    base = _chain(wide, q - 1, labels, None)
    n, t = q.shape
    move = 4 * (q[:, :-1] - 1) + q[:, 1:]
    p_values = sig_moves = None
    if permutations:
        rngs = _seed_sequences(seed, t)
        pv = np.column_stack([
            local_moran(pd.Series(y[:, j], index=g.unique_ids), g, permutations=permutations,
                        seed=rngs[j])["p_sim"].to_numpy() for j in range(t)])
        sig = pv <= significance
        s0, s1 = sig[:, :-1], sig[:, 1:]
        block = np.where(s0 & s1, 0, np.where(s0, 1, np.where(s1, 2, 3)))
        sig_moves = pd.DataFrame(block * 16 + move, index=wide.index, columns=wide.columns[1:])
        p_values = pd.DataFrame(pv, index=wide.index, columns=wide.columns)
    # independence of own and neighbour moves (giddy's chi_2)
    rel = y / y.mean(axis=0)
    rlag = np.asarray(mat @ y) / y.mean(axis=0)
    py = transition_probabilities(transition_counts((rel < 1).astype(int), 2))
    pl = transition_probabilities(transition_counts((rlag < 1).astype(int), 2))
    a = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0]])
    kp = a @ np.kron(py, pl) @ a.T
    counts = base.transitions.to_numpy()
    expected = counts.sum(axis=1)[:, None] * kp
    stat, pval, dof = chi2_test(counts, expected)
    return LisaMarkovChain(
        classes=pd.DataFrame(q, index=wide.index, columns=wide.columns),
        transitions=base.transitions, probabilities=base.probabilities,
        steady_state=base.steady_state, cutoffs=None,
        move_types=pd.DataFrame(move, index=wide.index, columns=wide.columns[1:]),
        p_values=p_values, significant_moves=sig_moves,
        independence={"chi2": stat, "p_value": pval, "dof": dof,
                      "expected": _matrix_frame(expected, labels)})


# -- rank mobility -------------------------------------------------------------------------
def _tau_counts(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray):
    """Return (concordant, discordant, ties only in x, ties only in y) over pairs (i, j)."""
    dx = np.sign(x[i] - x[j])
    dy = np.sign(y[i] - y[j])
    prod = dx * dy
    return (int((prod > 0).sum()), int((prod < 0).sum()),
            int(((dx == 0) & (dy != 0)).sum()), int(((dy == 0) & (dx != 0)).sum()))


def kendall_tau(x, y) -> dict:
    r"""Return Kendall's :math:`\tau_b` between two rankings, with giddy's asymptotic p-value.

    .. math::
        \tau_b = \frac{C - D}{\sqrt{(C + D + T_y)(C + D + T_x)}}

    over all pairs, :math:`C`/:math:`D` concordant/discordant pairs, :math:`T_x` pairs tied
    in x only and :math:`T_y` tied in y only (Kendall 1945; Rey 2004).  The p-value is
    :math:`\operatorname{erfc}(|z|/\sqrt 2)` with :math:`z = \tau / \sqrt{(4n+10)/(9n(n-1))}`
    (giddy's ``Tau``; no tie correction).

    Parameters
    ----------
    x, y : array-like
        Values of the same units at two epochs.

    Returns
    -------
    dict
        ``tau``, ``tau_p``, ``concordant``, ``discordant``, ``ties_x``, ``ties_y``.
    """
    from math import erfc, sqrt

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    if n < 2 or len(y) != n:
        raise DataError(f"Kendall's tau needs two equal-length series of >= 2 values; got "
                        f"{len(x)} and {len(y)}")
    c = d = tx = ty = 0
    step = max(1, 4_000_000 // n)  # bounded memory: blocks of rows of the pair matrix
    for a0 in range(0, n, step):
        rows = np.arange(a0, min(n, a0 + step))
        i, j = np.nonzero(rows[:, None] < np.arange(n)[None, :])
        cc, dd, xx, yy = _tau_counts(x, y, rows[i], j)
        c, d, tx, ty = c + cc, d + dd, tx + xx, ty + yy
    den = sqrt((c + d + ty) * (c + d + tx))
    tau = (c - d) / den if den else float("nan")
    z = tau / sqrt((4.0 * n + 10) / (9.0 * n * (n - 1)))
    return {"tau": tau, "tau_p": erfc(abs(z) / 1.4142136), "concordant": c, "discordant": d,
            "ties_x": tx, "ties_y": ty}


def _spatial_tau(x, y, i, j) -> float:
    dx = x[i] - x[j]
    dy = y[i] - y[j]
    prod = dx * dy
    n1 = np.count_nonzero(dx)
    n2 = np.count_nonzero(dy)
    s = np.count_nonzero(prod > 0) - np.count_nonzero(prod < 0)
    return s / (np.sqrt(n1) * np.sqrt(n2)) if n1 and n2 else float("nan")


def _fold_p(sims: np.ndarray, observed: float) -> float:
    """Return giddy's folded pseudo p-value: the smaller tail, ``(m + 1) / (P + 1)``."""
    nperm = len(sims)
    larger = int((sims >= observed).sum())
    if larger > nperm - larger:
        larger = nperm - larger
    return (larger + 1.0) / (nperm + 1.0)


def rank_mobility(panel, graph=None, *, permutations: int = DEFAULT_PERMUTATIONS, seed=None,
                  value: str | None = None) -> pd.DataFrame:
    r"""Return rank mobility between consecutive epochs: Kendall's tau and the spatial tau.

    For each period :math:`(t_0, t_1)`, Kendall's :math:`\tau_b` over all pairs of units
    (:func:`kendall_tau`) and, with a graph, the spatial tau over neighbouring pairs only
    (Rey 2004):

    .. math::
        \tau_S = \frac{\sum_{(u,v) \in N} \operatorname{sgn}(\Delta x\, \Delta y)}
        {\sqrt{n_x}\sqrt{n_y}}

    where :math:`N` holds each neighbouring pair once, :math:`n_x` (:math:`n_y`) counts the
    pairs not tied in x (y).  Inference: the units are permuted at random (the same
    permutation at both epochs) ``permutations`` times; ``tau_spatial_p_sim`` is giddy's
    folded pseudo p-value.  Each period draws from its own stream spawned from ``seed``,
    so a period's result never depends on the others.  A spatial tau below tau says that
    neighbours exchange ranks more often than units in general.

    Parameters
    ----------
    panel : pandas.DataFrame
        Units x epochs.
    graph : gisfix.graphs.SpatialGraph, libpysal W or Graph, optional
        Neighbours (links taken as binary and undirected); no spatial tau when None.
    permutations : int
        Random permutations for the spatial tau (0: no inference).
    seed : int, numpy.random.Generator or None
        Seed of the permutations.
    value : str, optional
        Value column of a long panel.

    Returns
    -------
    pandas.DataFrame
        One row per period: ``t0``, ``t1``, ``tau``, ``tau_p``, ``concordant``,
        ``discordant``, and with a graph ``tau_spatial``, ``pairs_spatial``,
        ``concordant_spatial``, ``discordant_spatial``, ``tau_spatial_expected`` (mean of
        the permutations), ``tau_spatial_p_sim``.
    """
    wide = as_panel(panel, value)
    y = wide.to_numpy()
    epochs = list(wide.columns)
    if permutations < 0 or int(permutations) != permutations:
        raise DataError(f"permutations must be an integer >= 0; got {permutations!r}")
    if graph is not None:
        _, g = _graph_matrices(graph, wide.index)
        a, b = g.edges
        keep = a < b
        links = set(zip(a[keep].tolist(), b[keep].tolist())) | set(
            zip(b[~keep].tolist(), a[~keep].tolist()))
        pi = np.array(sorted(links), dtype=np.int64).reshape(-1, 2)
        i, j = pi[:, 0], pi[:, 1]
    rngs = _seed_sequences(seed, len(epochs) - 1)
    rows = []
    for s in range(len(epochs) - 1):
        x0, x1 = y[:, s], y[:, s + 1]
        kt = kendall_tau(x0, x1)
        row = {"t0": epochs[s], "t1": epochs[s + 1], "tau": kt["tau"], "tau_p": kt["tau_p"],
               "concordant": kt["concordant"], "discordant": kt["discordant"]}
        if graph is not None:
            cc, dd, _, _ = _tau_counts(x0, x1, i, j)
            ts = _spatial_tau(x0, x1, i, j)
            row.update({"tau_spatial": ts, "pairs_spatial": len(i),
                        "concordant_spatial": cc, "discordant_spatial": dd})
            if permutations:
                sims = np.empty(int(permutations))
                for r in range(int(permutations)):
                    perm = rngs[s].permutation(len(x0))
                    sims[r] = _spatial_tau(x0[perm], x1[perm], i, j)
                row.update({"tau_spatial_expected": float(sims.mean()),
                            "tau_spatial_p_sim": _fold_p(sims, ts)})
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["LisaMarkovChain", "MarkovChain", "QUADRANTS", "SpatialMarkovChain", "as_panel",
           "chi2_test", "classify", "homogeneity_test", "kendall_tau", "lisa_markov",
           "markov_chain", "quantile_classes", "quantile_cutoffs", "rank_mobility",
           "spatial_markov", "steady_state", "transition_counts", "transition_probabilities"]
