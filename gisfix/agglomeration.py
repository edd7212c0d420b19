"""Agglomeration measures: intensity per unit, concentration, hierarchy, autocorrelation.

Every function takes the long built-up table of :func:`gisfix.builtup_by_unit` (columns
``unit_id``, ``epoch``, ``builtup_km2``, ``valid_km2``, ``builtup_share``), plain values or
a neighbour graph (:func:`gisfix.graphs.make_graph`, or a libpysal ``Graph``/``W``), and
returns a DataFrame, Series or small result object.

* per unit and epoch: :func:`intensity` (built-up share with warning thresholds, built-up
  per capita, population density), :func:`location_quotient`;
* concentration across units: :func:`concentration` (Gini via :mod:`gisfix.inequality`,
  HHI, top-k shares), :func:`hhi`, :func:`top_share`, :func:`lorenz_by_epoch`;
* hierarchy of a city system: :func:`rank_size` (Gabaix-Ibragimov Zipf exponent),
  :func:`primacy`, :func:`hierarchy`;
* spatial autocorrelation: :func:`moran`, :func:`local_moran`, :func:`getis_ord`, in
  vectorised numpy (they agree with esda to rounding, without esda's numba warm-up).

Patch metrics live in :mod:`gisfix.landscape`, urban extents in :mod:`gisfix.extents`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gisfix.errors import DataError, IdError
from gisfix.graphs import SpatialGraph, as_graph, make_graph

log = logging.getLogger(__name__)

#: Default warning thresholds of built-up share (the 30 % line of Chinese planning).
DEFAULT_THRESHOLDS = (0.30,)
#: Columns the long built-up table must have.
TABLE_COLUMNS = ("unit_id", "epoch", "builtup_km2", "valid_km2")
#: Rows of the permutation matrix drawn at once (bounds memory of the simulations).
PERMUTATION_CHUNK = 256


# -- input checks --------------------------------------------------------------------------
def _check_table(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"expected the long built-up table (a DataFrame), got "
                        f"{type(table).__name__}; make it with gisfix.builtup_by_unit")
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(
            f"the built-up table lacks column(s) {', '.join(missing)} (it has "
            f"{', '.join(map(str, table.columns))}); make it with gisfix.builtup_by_unit")
    return table


def _values(values, what: str = "values", positive: bool = False) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise DataError(f"{what}: no values given")
    if not np.isfinite(x).all():
        raise DataError(f"{what}: {int((~np.isfinite(x)).sum())} of {x.size} values are NaN "
                        "or infinite; drop or fill them first")
    if (x < 0).any():
        raise DataError(f"{what}: {int((x < 0).sum())} negative values (smallest {x.min():g});"
                        " sizes and areas must be >= 0")
    if positive and x.sum() <= 0:
        raise DataError(f"{what}: the values sum to 0; nothing to measure")
    return x


# -- per unit and epoch --------------------------------------------------------------------
def intensity(table: pd.DataFrame, units=None, *, population=None,
              thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    r"""Return land development intensity per unit and epoch, with warning levels.

    Parameters
    ----------
    table : DataFrame
        Long built-up table (:func:`gisfix.builtup_by_unit`).
    units : DataFrame, optional
        Units indexed by id; needed when ``population`` names one of its columns.
    population : str or Series, optional
        A column of ``units`` or a Series indexed by unit id (one value per unit, used for
        every epoch) or by (unit id, epoch).
    thresholds : sequence of float
        Warning thresholds of the built-up share, in (0, 1]; default 0.30 (the "30 % line"
        of Chinese land-use planning).

    Returns
    -------
    DataFrame
        Rows as ``table``; columns ``unit_id``, ``epoch``, ``builtup_km2``, ``valid_km2``,
        ``builtup_share`` :math:`s = B/V`, ``intensity_level`` (number of thresholds
        reached), one boolean ``share_ge_<t>`` per threshold and, with a population
        :math:`P`, ``population``, ``builtup_m2_per_capita`` :math:`10^6 B/P` and
        ``population_density`` :math:`P/V` (inhabitants per km² of observed land).
    """
    t = _check_table(table)
    th = check_thresholds(thresholds)
    out = t[list(TABLE_COLUMNS)].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["builtup_share"] = np.where(out["valid_km2"] > 0,
                                        out["builtup_km2"] / out["valid_km2"], np.nan)
    share = out["builtup_share"].to_numpy()
    level = np.zeros(len(out), dtype=int)
    for v in th:
        flag = share >= v - 1e-12
        out[f"share_ge_{v:g}"] = flag
        level += flag
    out["intensity_level"] = np.where(np.isnan(share), -1, level)
    if population is not None:
        pop = _population(out, units, population)
        out["population"] = pop
        with np.errstate(invalid="ignore", divide="ignore"):
            out["builtup_m2_per_capita"] = np.where(pop > 0, out["builtup_km2"] * 1e6 / pop,
                                                    np.nan)
            out["population_density"] = np.where(out["valid_km2"] > 0,
                                                 pop / out["valid_km2"], np.nan)
    return out


def check_thresholds(thresholds: Sequence[float]) -> list[float]:
    """Return the thresholds sorted, or raise :class:`DataError` unless all lie in (0, 1]."""
    th = sorted(float(v) for v in thresholds)
    bad = [v for v in th if not 0 < v <= 1]
    if bad or not th:
        raise DataError(f"thresholds must lie in (0, 1] (shares, not percent); got "
                        f"{bad or 'none'}; write 0.3 for 30 %")
    return th


def _population(out: pd.DataFrame, units, population) -> np.ndarray:
    if isinstance(population, str):
        if units is None or population not in getattr(units, "columns", ()):
            have = ", ".join(map(str, getattr(units, "columns", []))) or "no units given"
            raise DataError(f"population column {population!r} not found in the units "
                            f"({have})")
        population = units[population]
    pop = pd.Series(population)
    pop.index = pop.index.map(str) if pop.index.nlevels == 1 else pop.index
    if pop.index.nlevels == 2:
        key = pd.MultiIndex.from_arrays([out["unit_id"].astype(str), out["epoch"]])
        vals = pop.reindex(key).to_numpy(dtype=float)
    else:
        vals = pop.reindex(out["unit_id"].astype(str)).to_numpy(dtype=float)
    missing = np.isnan(vals)
    if missing.all():
        raise IdError("no unit of the built-up table has a population value; check that the "
                      "population is indexed by the same unit ids")
    if missing.any():
        log.warning("%d rows have no population; their per-capita measures are NaN",
                    int(missing.sum()))
    if (vals[~missing] < 0).any():
        raise DataError("population has negative values; fix the population column")
    return vals


def location_quotient(table: pd.DataFrame) -> pd.Series:
    r"""Return the location quotient of built-up share per unit and epoch.

    .. math::
        LQ_{ut} = \frac{B_{ut} / V_{ut}}{\sum_u B_{ut} / \sum_u V_{ut}}

    (Isard 1960): above 1 a unit is more built-up than the whole study area.

    Returns
    -------
    Series
        Named ``location_quotient``, aligned with the rows of ``table``.
    """
    t = _check_table(table)
    tot = t.groupby("epoch")[["builtup_km2", "valid_km2"]].transform("sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        lq = (t["builtup_km2"] / t["valid_km2"]) / (tot["builtup_km2"] / tot["valid_km2"])
    return lq.rename("location_quotient")


# -- concentration -------------------------------------------------------------------------
def hhi(values, *, normalized: bool = False) -> float:
    r"""Return the Herfindahl-Hirschman index of concentration.

    .. math::
        H = \sum_i s_i^2, \quad s_i = x_i / \sum_j x_j, \qquad
        H^* = \frac{H - 1/n}{1 - 1/n}\ (\text{normalized})

    (Herfindahl 1950; Hirschman 1945).  :math:`1/n \le H \le 1`; :math:`H^*` in [0, 1].

    Examples
    --------
    >>> hhi([1, 1, 2])
    0.375
    """
    x = _values(values, "hhi", positive=True)
    s = x / x.sum()
    h = float((s * s).sum())
    if normalized:
        n = x.size
        return math.nan if n == 1 else (h - 1.0 / n) / (1.0 - 1.0 / n)
    return h


def top_share(values, k: int = 1) -> float:
    r"""Return the share of the ``k`` largest values in the total.

    .. math::
        T_k = \sum_{i \le k} x_{(i)} / \sum_i x_i

    with the values sorted decreasingly.

    Examples
    --------
    >>> top_share([5, 3, 2], k=2)
    0.8
    """
    x = _values(values, "top_share", positive=True)
    if int(k) < 1:
        raise DataError(f"k must be >= 1, got {k}")
    return float(np.sort(x)[::-1][: int(k)].sum() / x.sum())


def _by_epoch(table: pd.DataFrame, value: str):
    t = table
    if not isinstance(t, pd.DataFrame) or "epoch" not in t.columns:
        raise DataError("expected a long table with an 'epoch' column (gisfix.builtup_by_unit, "
                        "or urban extents with an added 'epoch' column)")
    if value not in t.columns:
        raise DataError(f"column {value!r} not in the table ({', '.join(map(str, t.columns))})")
    for epoch, grp in t.groupby("epoch", sort=True):
        yield epoch, grp[value].to_numpy(dtype=float)


def concentration(table: pd.DataFrame, *, value: str = "builtup_km2",
                  top_k: Sequence[int] = (1, 5)) -> pd.DataFrame:
    r"""Return concentration of built-up area across units, per epoch.

    Columns: ``n_units``, ``total``, ``gini`` (:func:`gisfix.inequality.gini`), ``hhi``
    and ``hhi_normalized`` (:func:`hhi`), ``top<k>_share`` (:func:`top_share`).

    Parameters
    ----------
    table : DataFrame
        Long built-up table.
    value : str
        The column to measure (default ``builtup_km2``).
    top_k : sequence of int
        The k of the top-k shares.

    Returns
    -------
    DataFrame
        Indexed by epoch; an epoch where every value is 0 gets NaN measures.
    """
    from gisfix.inequality import gini

    rows = {}
    for epoch, x in _by_epoch(table, value):
        x = _values(x, f"{value} at epoch {epoch}")
        if x.sum() <= 0:
            log.warning("epoch %s: %s is 0 in every unit; concentration is undefined", epoch,
                        value)
            rows[epoch] = {"n_units": x.size, "total": 0.0}
            continue
        try:
            g = float(gini(x))
        except DataError as exc:  # e.g. a single unit
            log.warning("epoch %s: no Gini (%s)", epoch, exc)
            g = math.nan
        row = {"n_units": x.size, "total": float(x.sum()), "gini": g,
               "hhi": hhi(x), "hhi_normalized": hhi(x, normalized=True)}
        for k in top_k:
            row[f"top{int(k)}_share"] = top_share(x, k)
        rows[epoch] = row
    cols = ["n_units", "total", "gini", "hhi", "hhi_normalized"] + [
        f"top{int(k)}_share" for k in top_k]
    out = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=cols)
    out.index.name = "epoch"
    return out


def lorenz_by_epoch(table: pd.DataFrame, *, value: str = "builtup_km2") -> pd.DataFrame:
    """Return the Lorenz curve of ``value`` across units for each epoch (long form).

    Uses :func:`gisfix.inequality.lorenz`; columns ``epoch``, ``population_share``
    (cumulative share of units) and ``value_share`` (cumulative share of ``value``).
    """
    from gisfix.inequality import lorenz

    parts = []
    for epoch, x in _by_epoch(table, value):
        curve = lorenz(_values(x, value, positive=True))
        if isinstance(curve, pd.DataFrame):
            p = curve["population_share"].to_numpy(dtype=float)
            v = curve["value_share"].to_numpy(dtype=float)
        else:
            p, v = (np.asarray(c, dtype=float) for c in curve)
        parts.append(pd.DataFrame({"epoch": epoch, "population_share": p, "value_share": v}))
    return pd.concat(parts, ignore_index=True)


# -- hierarchy -----------------------------------------------------------------------------
@dataclass
class ZipfResult:
    r"""Rank-size regression: :math:`\ln(r - 1/2) = a - b \ln S` (see :func:`rank_size`)."""

    exponent: float
    se: float
    intercept: float
    n: int
    r2: float
    sizes: np.ndarray = field(repr=False, default=None)

    def as_dict(self) -> dict:
        """Return the scalar fields as a dict."""
        return {"zipf_exponent": self.exponent, "zipf_se": self.se,
                "zipf_intercept": self.intercept, "zipf_n": self.n, "zipf_r2": self.r2}


def rank_size(sizes, *, min_size: float | None = None, top: int | None = None) -> ZipfResult:
    r"""Estimate the rank-size (Zipf) exponent with the Gabaix-Ibragimov estimator.

    Sizes :math:`S_{(1)} \ge \dots \ge S_{(n)}` with ranks :math:`r`; ordinary least squares
    of

    .. math::
        \ln\left(r - \tfrac12\right) = a - b \ln S_{(r)}

    whose shift of 1/2 removes the small-sample bias of the log-rank regression, with the
    standard error :math:`\widehat{se}(b) = |b| \sqrt{2/n}` (Gabaix & Ibragimov 2011,
    J. Business & Economic Statistics 29(1), 24-39).  Zipf's law is :math:`b = 1`.

    Parameters
    ----------
    sizes : array-like
        City sizes (population, built-up area...), all > 0.
    min_size : float, optional
        Keep only sizes >= this cut-off.
    top : int, optional
        Keep only the ``top`` largest sizes (after ``min_size``).

    Returns
    -------
    ZipfResult
        ``exponent`` b (positive), ``se``, ``intercept`` a, ``n``, ``r2``.
    """
    x = _values(sizes, "rank_size")
    if min_size is not None:
        x = x[x >= min_size]
    x = np.sort(x)[::-1]
    if top is not None:
        x = x[: int(top)]
    if (x <= 0).any():
        raise DataError("rank_size needs sizes > 0; drop zeros (e.g. min_size=...)")
    n = x.size
    if n < 3:
        raise DataError(f"rank_size needs at least 3 sizes, got {n}")
    if np.ptp(x) == 0:
        raise DataError("rank_size: all sizes are equal; the exponent is undefined")
    lx = np.log(x)
    ly = np.log(np.arange(1, n + 1) - 0.5)
    xc = lx - lx.mean()
    slope = float((xc * (ly - ly.mean())).sum() / (xc * xc).sum())
    intercept = float(ly.mean() - slope * lx.mean())
    resid = ly - intercept - slope * lx
    r2 = float(1 - (resid ** 2).sum() / ((ly - ly.mean()) ** 2).sum())
    b = -slope
    return ZipfResult(exponent=b, se=abs(b) * math.sqrt(2.0 / n), intercept=intercept, n=n,
                      r2=r2, sizes=x)


def primacy(sizes) -> dict:
    r"""Return the primacy indices of a city system.

    .. math::
        P_2 = \frac{S_{(1)}}{S_{(2)}}, \qquad P_4 = \frac{S_{(1)}}{S_{(2)} + S_{(3)} + S_{(4)}}

    (two-city index after Jefferson 1939; four-city index after Ginsburg 1961).  NaN when
    fewer than 2 (4) cities are given.

    Examples
    --------
    >>> primacy([10, 5, 3, 2, 1])
    {'primacy_2': 2.0, 'primacy_4': 1.0}
    """
    x = np.sort(_values(sizes, "primacy"))[::-1]
    p2 = float(x[0] / x[1]) if x.size >= 2 and x[1] > 0 else math.nan
    p4 = float(x[0] / x[1:4].sum()) if x.size >= 4 and x[1:4].sum() > 0 else math.nan
    return {"primacy_2": p2, "primacy_4": p4}


def hierarchy(table: pd.DataFrame, *, value: str = "builtup_km2",
              min_size: float | None = None) -> pd.DataFrame:
    """Return Zipf exponent (:func:`rank_size`) and primacy (:func:`primacy`) per epoch.

    The "cities" are the rows of ``table`` at each epoch: units (the built-up table) or
    urban extents (:func:`gisfix.extents.urban_extents` per epoch, concatenated with an
    ``epoch`` column, ``value="area_km2"``); zero sizes are dropped.
    """
    rows = {}
    for epoch, x in _by_epoch(table, value):
        x = x[x > 0]
        row = primacy(x) if x.size else {"primacy_2": math.nan, "primacy_4": math.nan}
        try:
            row.update(rank_size(x, min_size=min_size).as_dict())
        except DataError as exc:
            log.warning("epoch %s: %s", epoch, exc)
            row.update({"zipf_exponent": math.nan, "zipf_se": math.nan,
                        "zipf_intercept": math.nan, "zipf_n": int(x.size), "zipf_r2": math.nan})
        rows[epoch] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "epoch"
    return out


# -- spatial autocorrelation ---------------------------------------------------------------
#: Binary contiguity weights, kept under their first name: a
#: :class:`gisfix.graphs.SpatialGraph` (``Contiguity(unique_ids=..., sparse=...)`` still works).
Contiguity = SpatialGraph


def contiguity(units, *, rook: bool = False) -> SpatialGraph:
    """Return queen (shared vertex) or rook (shared edge) contiguity of polygons.

    A thin wrapper of :func:`gisfix.graphs.make_graph` (``"queen"`` or ``"rook"``), whose
    links equal libpysal's ``Graph.build_contiguity``; the ids are turned into text, like
    the ``unit_id`` of the built-up table.

    Parameters
    ----------
    units : GeoDataFrame
        Polygons indexed by unit id.
    rook : bool
        Rook instead of queen.

    Returns
    -------
    SpatialGraph
    """
    units = units.set_axis(units.index.map(str))
    return make_graph(units, "rook" if rook else "queen")


def _weights(values, w, transform: str):
    """Return (y, sparse W (CSR, transformed), ids) with y ordered like the weights."""
    g = as_graph(w)
    ids = list(g.unique_ids)
    mat = g.sparse
    n = mat.shape[0]
    if isinstance(values, pd.Series):
        key = [str(i) for i in ids]
        vals = values.copy()
        vals.index = vals.index.map(str)
        missing = [k for k in key if k not in vals.index]
        if missing:
            raise IdError(f"{len(missing)} ids of the weights have no value (e.g. "
                          f"{', '.join(missing[:5])}); index the values by the same ids")
        y = vals.reindex(key).to_numpy(dtype=float)
    else:
        y = np.asarray(values, dtype=float).ravel()
        if y.size != n:
            raise DataError(f"got {y.size} values for weights over {n} units; they must match")
    if not np.isfinite(y).all():
        raise DataError(f"{int((~np.isfinite(y)).sum())} values are NaN or infinite; drop those "
                        "units from the values and the weights first")
    if n < 3:
        raise DataError(f"spatial autocorrelation needs at least 3 units, got {n}")
    mat = _transform(mat, transform)
    return y, mat, ids


def _transform(mat, transform: str):
    import scipy.sparse as sp

    t = str(transform).lower()
    if t == "r":
        rs = np.asarray(mat.sum(axis=1)).ravel()
        inv = np.where(rs != 0, 1.0 / np.where(rs != 0, rs, 1.0), 0.0)
        return sp.csr_matrix(sp.diags(inv) @ mat)
    if t == "b":
        out = mat.copy()
        out.data = (out.data != 0).astype(float)
        out.eliminate_zeros()
        return out
    if t == "o":
        return mat
    raise DataError(f"unknown weights transform {transform!r}; use 'r' (row-standardised), "
                    "'b' (binary) or 'o' (as given)")


#: Relative tolerance when comparing a simulated statistic with the observed one: the same
#: neighbour set summed in another order must count as a tie, not as smaller.
TIE_RTOL = 1e-10


def _at_least(sim: np.ndarray, observed) -> np.ndarray:
    observed = np.asarray(observed, dtype=float)
    return sim >= observed - TIE_RTOL * np.maximum(np.abs(observed), 1e-300)


def _fold(larger: np.ndarray, permutations: int) -> np.ndarray:
    larger = np.asarray(larger)
    below = (permutations - larger) < larger
    larger = np.where(below, permutations - larger, larger)
    return (larger + 1.0) / (permutations + 1.0)


@dataclass
class MoranResult:
    """Global Moran's I with normal, randomisation and permutation inference."""

    I: float  # noqa: E741
    EI: float
    VI_norm: float
    z_norm: float
    p_norm: float
    VI_rand: float
    z_rand: float
    p_rand: float
    n: int
    permutations: int = 0
    p_sim: float = math.nan
    EI_sim: float = math.nan
    z_sim: float = math.nan
    sim: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        """Return the scalar fields as a dict."""
        return {k: v for k, v in self.__dict__.items() if k != "sim"}


def _centred(y: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    """Deviations from the mean and their sum of squares; constant values are an error."""
    z = y - y.mean()
    m2 = float((z * z).sum())
    if m2 == 0:
        raise DataError(f"all values are equal; {what} is undefined")
    return z, m2


def moran(values, w, *, transform: str = "r", permutations: int = 999,
          seed=None) -> MoranResult:
    r"""Return global Moran's I of ``values`` under the spatial weights ``w``.

    .. math::
        I = \frac{n}{S_0} \frac{\sum_i \sum_j w_{ij} z_i z_j}{\sum_i z_i^2}, \qquad
        z_i = y_i - \bar y, \quad S_0 = \sum_i\sum_j w_{ij}

    (Moran 1950), with :math:`E[I] = -1/(n-1)` and the variances under normality and
    randomisation of Cliff & Ord (1981, eqs. 1.35-1.36); two-sided normal p-values.  The
    permutation p-value is :math:`(m + 1)/(P + 1)`, :math:`m` the number of permuted
    :math:`I` at least as extreme on the side of the observed one (folded as in esda);
    a simulated value within :data:`TIE_RTOL` of the observed one counts as a tie.

    Parameters
    ----------
    values : Series or array
        One value per unit; a Series is aligned on the weights' ids.
    w : SpatialGraph, libpysal.weights.W or libpysal.graph.Graph
        Spatial weights (:func:`gisfix.graphs.make_graph`).
    transform : {"r", "b", "o"}
        Row-standardise (default, as esda), binary, or as given.
    permutations : int
        Random permutations for ``p_sim`` (0 to skip).
    seed : int or numpy.random.Generator, optional
        Seed of the permutations.

    Returns
    -------
    MoranResult
    """
    from scipy.special import ndtr  # scipy.stats costs seconds to import in a cold process

    y, mat, _ = _weights(values, w, transform)
    n = y.size
    z, m2 = _centred(y, "Moran's I")
    s0 = float(mat.sum())
    i_obs = n / s0 * float(z @ (mat @ z)) / m2
    ei = -1.0 / (n - 1)
    wt = mat + mat.T
    s1 = 0.5 * float(wt.multiply(wt).sum())
    s2 = float(((np.asarray(mat.sum(axis=1)).ravel() + np.asarray(mat.sum(axis=0)).ravel())
                ** 2).sum())
    n2 = n * n
    v_norm = (n2 * s1 - n * s2 + 3 * s0 * s0) / ((n2 - 1) * s0 * s0) - ei * ei
    k = (np.sum(z ** 4) / n) / (m2 / n) ** 2
    a = n * ((n2 - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
    b = k * ((n2 - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
    v_rand = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - ei * ei
    z_norm = (i_obs - ei) / math.sqrt(v_norm)
    z_rand = (i_obs - ei) / math.sqrt(v_rand) if v_rand > 0 else math.nan
    res = MoranResult(I=i_obs, EI=ei, VI_norm=v_norm, z_norm=z_norm,
                      p_norm=float(2 * ndtr(-abs(z_norm))), VI_rand=v_rand,
                      z_rand=z_rand, p_rand=float(2 * ndtr(-abs(z_rand))), n=n)
    if permutations:
        rng = np.random.default_rng(seed)
        sims = []
        for start in range(0, int(permutations), PERMUTATION_CHUNK):
            p = min(PERMUTATION_CHUNK, int(permutations) - start)
            zp = np.stack([rng.permutation(z) for _ in range(p)], axis=1)  # n x p
            sims.append(n / s0 * np.einsum("ij,ij->j", zp, mat @ zp) / m2)
        sim = np.concatenate(sims)
        res.permutations = int(permutations)
        res.sim = sim
        res.p_sim = float(_fold(_at_least(sim, i_obs).sum(), int(permutations)))
        res.EI_sim = float(sim.mean())
        sd = sim.std()
        res.z_sim = float((i_obs - sim.mean()) / sd) if sd > 0 else math.nan
    return res


def _neighbour_table(mat):
    """Return padded neighbour weights (n x kmax) and cardinalities of a CSR matrix.

    The diagonal is excluded (self-weights are handled by the caller).
    """
    import scipy.sparse as sp

    off = sp.csr_matrix(mat - sp.diags(mat.diagonal()))
    off.eliminate_zeros()
    card = np.diff(off.indptr)
    kmax = int(card.max()) if card.size else 0
    wpad = np.zeros((mat.shape[0], max(kmax, 1)))
    for i in range(mat.shape[0]):
        lo, hi = off.indptr[i], off.indptr[i + 1]
        wpad[i, : hi - lo] = off.data[lo:hi]
    return wpad, card, kmax


def _conditional_sims(x: np.ndarray, wpad: np.ndarray, kmax: int, permutations: int, rng,
                      cache_rows: int = 64):
    """Yield, for blocks of units, simulated neighbour sums under conditional randomisation.

    For unit ``i`` the neighbours' values are a random draw without replacement from the
    other ``n - 1`` values (Anselin 1995).  As in esda, one set of ``permutations`` random
    draws of ``kmax`` positions among ``n - 1`` is shared by every unit; position ``r`` of
    unit ``i`` maps to unit ``r + (r >= i)``.  Yields ``(slice, sums)`` with ``sums`` of
    shape (units in the slice, permutations).
    """
    n = x.size
    rids = np.empty((permutations, kmax), dtype=np.int64)
    for p in range(permutations):
        rids[p] = rng.choice(n - 1, size=kmax, replace=False)
    for start in range(0, n, cache_rows):
        stop = min(n, start + cache_rows)
        i = np.arange(start, stop)[:, None, None]
        j = rids[None, :, :] + (rids[None, :, :] >= i)
        sums = np.einsum("ipk,ik->ip", x[j], wpad[start:stop, :kmax])
        yield slice(start, stop), sums


QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


def local_moran(values, w, *, transform: str = "r", permutations: int = 999, seed=None,
                significance: float = 0.05) -> pd.DataFrame:
    r"""Return local Moran's I (LISA) per unit with conditional-permutation inference.

    .. math::
        I_i = (n - 1) \frac{z_i \sum_j w_{ij} z_j}{\sum_k z_k^2}

    (Anselin 1995, as computed by esda's ``Moran_Local``).  Quadrant ``q``: 1 HH
    (:math:`z_i>0`, lag > 0), 2 LH, 3 LL, 4 HL.  ``p_sim`` is the folded pseudo p-value
    :math:`(m+1)/(P+1)` of :math:`P` conditional permutations (neighbours drawn from the
    other units); ``cluster`` is the quadrant label where ``p_sim <= significance``, else
    ``"ns"``.

    Parameters
    ----------
    values, w, transform
        As :func:`moran`.
    permutations : int
        Conditional permutations (0: no ``p_sim``, clusters all ``"ns"``).
    seed : int or numpy.random.Generator, optional
        Seed of the permutations.
    significance : float
        Pseudo p-value at or below which a unit is a cluster.

    Returns
    -------
    DataFrame
        Indexed by the weights' ids: ``Is``, ``lag``, ``q``, ``p_sim``, ``cluster``.
    """
    y, mat, ids = _weights(values, w, transform)
    n = y.size
    z, m2 = _centred(y, "local Moran's I")
    lag = mat @ z
    local = (n - 1) * z * lag / m2
    q = np.where(z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3))
    p_sim = np.full(n, np.nan)
    if permutations:
        rng = np.random.default_rng(seed)
        wpad, card, kmax = _neighbour_table(mat)
        if kmax > 0:
            larger = np.zeros(n)
            for sl, sums in _conditional_sims(z, wpad, kmax, int(permutations), rng):
                sim = (n - 1) * z[sl, None] * sums / m2
                larger[sl] = _at_least(sim, local[sl, None]).sum(axis=1)
            p_sim = _fold(larger, int(permutations))
            p_sim[card == 0] = np.nan
    cluster = np.where(p_sim <= significance, pd.Series(q).map(QUADRANTS).to_numpy(), "ns")
    return pd.DataFrame({"Is": local, "lag": lag, "q": q, "p_sim": p_sim, "cluster": cluster},
                        index=pd.Index([str(i) for i in ids], name="unit_id"))


def getis_ord(values, w, *, star: bool = True, transform: str = "b", permutations: int = 0,
              seed=None, significance: float = 0.05) -> pd.DataFrame:
    r"""Return the Getis-Ord local statistic :math:`G_i^*` (or :math:`G_i`) per unit.

    .. math::
        G_i = \frac{\sum_j w_{ij} y_j}{\sum_{j} y_j - (1-\delta) y_i}, \qquad
        z_i = \frac{G_i - E[G_i]}{\sqrt{V[G_i]}}

    with :math:`\delta = 1` for :math:`G_i^*` (the unit is its own neighbour: self-weight 1
    added before ``transform``), :math:`E[G_i] = W_i/N`, :math:`V[G_i] = \frac{W_i(N -
    W_i)}{N^2 (N-1)} \frac{s^2}{\bar y^2}` over the :math:`N = n - (1-\delta)` values
    entering the sum (Getis & Ord 1992; Ord & Getis 1995), as in esda's ``G_Local``.
    ``p_norm`` is one-sided, :math:`1-\Phi(|z_i|)`; ``hotspot`` is ``"hot"`` / ``"cold"``
    where the chosen p-value (``p_sim`` with permutations, else ``p_norm``) is at or below
    ``significance``.

    Parameters
    ----------
    values : Series or array
        One value per unit, all >= 0 (a share or an area).
    w : SpatialGraph, libpysal W or Graph
        Spatial weights (binary contiguity or distance band; :func:`gisfix.graphs.make_graph`).
    star : bool
        :math:`G_i^*` (default) or :math:`G_i`.
    transform : {"b", "r"}
        Binary (default, the textbook :math:`G_i^*`) or row-standardised.
    permutations : int
        Conditional permutations for ``p_sim`` (default 0).
    seed : int or numpy.random.Generator, optional
        Seed of the permutations.
    significance : float
        Threshold for ``hotspot``.

    Returns
    -------
    DataFrame
        Indexed by the weights' ids: ``G``, ``EG``, ``VG``, ``z``, ``p_norm``, ``p_sim``,
        ``hotspot``.
    """
    import scipy.sparse as sp
    from scipy.special import ndtr

    if str(transform).lower() not in ("b", "r"):
        raise DataError(f"getis_ord transform must be 'b' or 'r', got {transform!r}")
    y, raw, ids = _weights(values, w, "o")
    if (y < 0).any():
        raise DataError("Getis-Ord G needs values >= 0 (areas, shares); got negative values")
    raw = sp.csr_matrix(raw)
    raw = sp.csr_matrix(raw - sp.diags(raw.diagonal()))
    binary = _transform(raw, "b")
    mat = binary + sp.identity(y.size, format="csr") if star else binary
    mat = _transform(sp.csr_matrix(mat), transform)
    n = y.size
    remove = 0 if star else 1
    nn = n - remove
    total = y.sum()
    g = (mat @ y) / (total - y * remove)
    mean = (total - y * remove) / nn
    msq = ((y ** 2).sum() - (y ** 2) * remove) / nn
    var = msq - mean ** 2
    card = np.asarray(mat.sum(axis=1)).ravel()
    eg = card / nn
    vg = card * (nn - card) / (nn - 1) / nn ** 2 * var / mean ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        zs = (g - eg) / np.sqrt(vg)
    p_norm = ndtr(-np.abs(zs))
    p_sim = np.full(n, np.nan)
    if permutations:
        rng = np.random.default_rng(seed)
        self_w = mat.diagonal()
        wpad, kcard, kmax = _neighbour_table(mat)
        if kmax > 0:
            larger = np.zeros(n)
            for sl, sums in _conditional_sims(y, wpad, kmax, int(permutations), rng):
                sim = (sums + (self_w[sl] * y[sl])[:, None]) / (total - y[sl, None] * remove)
                larger[sl] = _at_least(sim, g[sl, None]).sum(axis=1)
            p_sim = _fold(larger, int(permutations))
    p = p_sim if permutations else p_norm
    hot = np.where(p <= significance, np.where(zs > 0, "hot", "cold"), "ns")
    return pd.DataFrame({"G": g, "EG": eg, "VG": vg, "z": zs, "p_norm": p_norm,
                         "p_sim": p_sim, "hotspot": hot},
                        index=pd.Index([str(i) for i in ids], name="unit_id"))


def agglomeration_measures(units, stack, *, population=None, thresholds=DEFAULT_THRESHOLDS,
                           method: str = "exact", connectivity: int = 8, patches: bool = True,
                           permutations: int = 999, seed=0, graph="queen", table=None,
                           edge_length: str = "true"):
    """Every per-unit agglomeration measure of ``units`` on ``stack``, and a per-epoch summary.

    Per unit and epoch: :func:`intensity` (share, warning levels, per capita, density),
    :func:`location_quotient`, the patch metrics of :func:`gisfix.landscape.patch_metrics`,
    local Moran (:func:`local_moran`) and Getis-Ord Gi* (:func:`getis_ord`) of the built-up
    share.  Per epoch: :func:`concentration`, :func:`hierarchy` and global :func:`moran`.
    Formulas and citations are in those functions.

    Parameters
    ----------
    units : GeoDataFrame
        Boundaries indexed by unit id.
    stack : BuiltupStack
        Built-up rasters (patch metrics need a projected grid).
    population : str, optional
        Column of ``units`` with population.
    thresholds : sequence of float
        Warning thresholds of built-up share.
    method : {"exact", "centre"}
        Built-up accounting rule (:func:`gisfix.zonal.builtup_by_unit`).
    connectivity : {8, 4}
        Patch neighbourhood.
    patches : bool
        Compute the patch metrics.
    permutations : int
        Permutations of the pseudo p-values (0: none).
    seed : int or numpy Generator
        Seed of the permutations.
    graph : str, SpatialGraph or None
        Neighbours of the spatial statistics: a kind (:data:`gisfix.graphs.GRAPH_KINDS`),
        a graph (:func:`gisfix.graphs.make_graph`, ids as text) or None for none.
    table : DataFrame, optional
        A built-up table already computed for these units and stack.
    edge_length : {"true", "cell_width"}
        Edge convention of the patch metrics for non-square cells
        (:func:`gisfix.landscape.landscape_metrics`).

    Returns
    -------
    (DataFrame, DataFrame)
        The per-unit-and-epoch table and the per-epoch summary.
    """
    from gisfix.zonal import builtup_by_unit

    if table is None:
        table = builtup_by_unit(units, stack, method=method)
    per_unit = intensity(table, units, population=population, thresholds=thresholds)
    per_unit["location_quotient"] = location_quotient(table).to_numpy()
    if patches:
        from gisfix.landscape import patch_metrics

        pm = patch_metrics(units, stack, connectivity=connectivity, edge_length=edge_length)
        pm["unit_id"] = pm["unit_id"].astype(str)
        per_unit = per_unit.merge(pm, on=["unit_id", "epoch"], how="left")
    summary = concentration(table).join(hierarchy(table))
    if isinstance(graph, str):
        graph = unit_graph(units, graph)
    rng = np.random.default_rng(seed)
    lisa_parts, morans = [], {}
    for epoch, grp in per_unit.groupby("epoch", sort=True):
        share = grp.set_index("unit_id")["builtup_share"]
        if graph is None or share.isna().any() or share.nunique() < 2:
            continue
        share = share.reindex([str(i) for i in graph.unique_ids])
        m = moran(share, graph, permutations=permutations, seed=rng)
        morans[epoch] = {"moran_I": m.I, "moran_z_norm": m.z_norm, "moran_p_norm": m.p_norm,
                         "moran_p_sim": m.p_sim}
        lisa = local_moran(share, graph, permutations=permutations, seed=rng)
        gi = getis_ord(share, graph)
        part = pd.DataFrame({"unit_id": lisa.index, "epoch": epoch, "lisa_Is": lisa["Is"].values,
                             "lisa_p_sim": lisa["p_sim"].values,
                             "lisa_cluster": lisa["cluster"].values, "gi_star_z": gi["z"].values,
                             "gi_star_p": gi["p_norm"].values, "hotspot": gi["hotspot"].values})
        lisa_parts.append(part)
    if morans:
        summary = summary.join(pd.DataFrame.from_dict(morans, orient="index"))
    if lisa_parts:
        per_unit = per_unit.merge(pd.concat(lisa_parts), on=["unit_id", "epoch"], how="left")
    summary = summary.reset_index()
    return per_unit, summary


def unit_graph(units, kind: str = "queen"):
    """Neighbour graph of the units (ids as text), or None (with a warning) when unusable.

    Units without neighbours are logged by :func:`gisfix.graphs.make_graph`; their local
    statistics use no neighbours.
    """
    from gisfix.graphs import make_graph

    if len(units) < 3:
        log.warning("fewer than 3 units: no spatial autocorrelation")
        return None
    return make_graph(units.set_axis(units.index.map(str)), kind)


__all__ = ["DEFAULT_THRESHOLDS", "Contiguity", "MoranResult", "ZipfResult",
           "agglomeration_measures", "check_thresholds", "concentration", "contiguity",
           "getis_ord", "hhi", "hierarchy", "intensity", "local_moran", "location_quotient",
           "lorenz_by_epoch", "moran", "primacy", "rank_size", "top_share", "unit_graph"]
