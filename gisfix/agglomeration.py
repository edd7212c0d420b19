"""Agglomeration measures: intensity per unit, concentration, hierarchy, autocorrelation.

Every function takes the long built-up table of :func:`gisfix.builtup_by_unit` (columns
``unit_id``, ``epoch``, ``builtup_km2``, ``valid_km2``, ``builtup_share``), plain values or
and returns a DataFrame, Series or small result object.

* per unit and epoch: :func:`intensity` (built-up share with warning thresholds, built-up
  per capita, population density), :func:`location_quotient`;
* concentration across units: :func:`concentration` (Gini via :mod:`gisfix.inequality`,
  HHI, top-k shares), :func:`hhi`, :func:`top_share`, :func:`lorenz_by_epoch`;
* hierarchy of a city system: :func:`rank_size` (Gabaix-Ibragimov Zipf exponent),
  :func:`primacy`, :func:`hierarchy`;

Spatial autocorrelation (Moran's I, LISA, Getis-Ord Gi*) lives in :mod:`gisfix.spatial`,
patch metrics in :mod:`gisfix.landscape`, urban extents in :mod:`gisfix.extents`; the
workflow that runs them all per unit and epoch is
:func:`gisfix.workflows.measures.agglomeration_measures`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gisfix.errors import DataError, IdError, warn_data

#: Default warning thresholds of built-up share (the 30 % line of Chinese planning).
DEFAULT_THRESHOLDS = (0.30,)
#: Columns the long built-up table must have.
TABLE_COLUMNS = ("unit_id", "epoch", "builtup_km2", "valid_km2")


# -- input checks --------------------------------------------------------------------------
def check_table(table: pd.DataFrame, columns=TABLE_COLUMNS) -> pd.DataFrame:
    """Return ``table`` if it is a long built-up table with ``columns``, else raise.

    The one check of the long built-up table (:func:`gisfix.builtup_by_unit`), for every
    measure that takes it.

    Parameters
    ----------
    table : DataFrame
        The long built-up table.
    columns : sequence of str
        The columns the caller needs (default ``unit_id, epoch, builtup_km2, valid_km2``).

    Returns
    -------
    DataFrame
        ``table`` itself.

    Raises
    ------
    DataError
        For something else than a DataFrame, or missing columns (named, with the fix).
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"expected the long built-up table (a DataFrame), got "
                        f"{type(table).__name__}; make it with gisfix.builtup_by_unit")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"the built-up table lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(columns)} (it has {', '.join(map(str, table.columns))}); make it "
            "with gisfix.builtup_by_unit")
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
        ``builtup_share`` :math:`s = B/V`, ``coverage`` (when the table has it),
        ``intensity_level`` (number of thresholds
        reached), one boolean ``share_ge_<t>`` per threshold and, with a population
        :math:`P`, ``population``, ``builtup_m2_per_capita`` :math:`10^6 B/P` and
        ``population_per_km2`` :math:`P/V` (inhabitants per km² of observed land).
    """
    t = check_table(table)
    th = check_thresholds(thresholds)
    out = t[list(TABLE_COLUMNS)].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["builtup_share"] = np.where(out["valid_km2"] > 0,
                                        out["builtup_km2"] / out["valid_km2"], np.nan)
    if "coverage" in t.columns:  # observed area over unit area (builtup_by_unit)
        out["coverage"] = t["coverage"].to_numpy()
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
            out["population_per_km2"] = np.where(out["valid_km2"] > 0,
                                                 pop / out["valid_km2"], np.nan)
    return out


def check_thresholds(thresholds: Sequence[float]) -> list[float]:
    """Return the thresholds sorted, or raise :class:`DataError` unless all lie in (0, 1].

    Parameters
    ----------
    thresholds : sequence of float
        Built-up share thresholds.
    """
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
        warn_data("%d rows have no population; their per-capita measures are NaN",
                    int(missing.sum()))
    if (vals[~missing] < 0).any():
        raise DataError("population has negative values; fix the population column")
    return vals


def location_quotient(table: pd.DataFrame) -> pd.Series:
    r"""Return the location quotient of built-up share per unit and epoch.

    .. math::
        LQ_{ut} = \frac{B_{ut} / V_{ut}}{\sum_u B_{ut} / \sum_u V_{ut}}

    (Isard 1960): above 1 a unit is more built-up than the whole study area.

    Parameters
    ----------
    table : DataFrame
        Long built-up table (:func:`gisfix.builtup_by_unit`).

    Returns
    -------
    Series
        Named ``location_quotient``, aligned with the rows of ``table``.
    """
    t = check_table(table)
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

    Parameters
    ----------
    values : array-like
        Sizes (>= 0, positive total).
    normalized : bool
        Return :math:`H^*` instead of :math:`H`.

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

    Parameters
    ----------
    values : array-like
        Sizes (>= 0, positive total).
    k : int
        Number of largest values.

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
            warn_data("epoch %s: %s is 0 in every unit; concentration is undefined", epoch,
                        value)
            rows[epoch] = {"n_units": x.size, "total": 0.0}
            continue
        try:
            g = float(gini(x))
        except DataError as exc:  # e.g. a single unit
            warn_data("epoch %s: no Gini (%s)", epoch, exc)
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

    Parameters
    ----------
    table : DataFrame
        Long table with an ``epoch`` column.
    value : str
        The column to measure (default ``builtup_km2``).
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
    r"""Rank-size regression: :math:`\ln(r - 1/2) = a - b \ln S` (see :func:`rank_size`).

    Attributes
    ----------
    exponent : float
        Zipf exponent b (positive).
    se : float
        Its standard error :math:`|b| \sqrt{2/n}`.
    intercept : float
        Intercept a.
    n : int
        Number of sizes used.
    r2 : float
        Coefficient of determination.
    sizes : ndarray
        The sizes used, decreasing.
    """

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

    Parameters
    ----------
    sizes : array-like
        City sizes (>= 0).

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

    Parameters
    ----------
    table : DataFrame
        Long table with an ``epoch`` column.
    value : str
        The size column.
    min_size : float, optional
        Keep only sizes >= this cut-off in the Zipf regression.
    """
    rows = {}
    for epoch, x in _by_epoch(table, value):
        x = x[x > 0]
        row = primacy(x) if x.size else {"primacy_2": math.nan, "primacy_4": math.nan}
        try:
            row.update(rank_size(x, min_size=min_size).as_dict())
        except DataError as exc:
            warn_data("epoch %s: %s", epoch, exc)
            row.update({"zipf_exponent": math.nan, "zipf_se": math.nan,
                        "zipf_intercept": math.nan, "zipf_n": int(x.size), "zipf_r2": math.nan})
        rows[epoch] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "epoch"
    return out


__all__ = ["DEFAULT_THRESHOLDS", "TABLE_COLUMNS", "ZipfResult", "check_table", "check_thresholds",
           "concentration", "hhi", "hierarchy", "intensity", "location_quotient",
           "lorenz_by_epoch", "primacy", "rank_size", "top_share"]
