r"""Spatial justice per person: how unequally people, not places, possess built-up space.

Harvey's spatial injustice is the unequal possession of space *by people*.  A county with
a large built-up area and few inhabitants weighs the same as a crowded one in a
unit-weighted (one unit, one vote) or land-weighted measure; here every *person* counts
once, holding the per-capita outcome of the unit they live in (built-up m² per capita by
default, any per-capita outcome the user gives).

For units :math:`i` with per-capita outcome :math:`x_i` and weight shares
:math:`s_i = w_i / \sum_k w_k` (:math:`w_i` population for the person-weighted form,
land area for the land-weighted form, 1 for the unit-weighted form), the measures are
those of :mod:`gisfix.inequality` (reused, not reimplemented):

.. math::
    G = \frac{\sum_i\sum_j s_i s_j |x_i - x_j|}{2\mu},\qquad
    T = \sum_i s_i \frac{x_i}{\mu}\ln\frac{x_i}{\mu},\qquad
    L = \sum_i s_i \ln\frac{\mu}{x_i},\qquad \mu = \sum_i s_i x_i

Person-weighted, :math:`\mu` is the regional land per capita and Theil T becomes
:math:`\sum_i \lambda_i \ln(\lambda_i / \pi_i)` with :math:`\lambda_i` the unit's share of
the built-up land and :math:`\pi_i` its share of the people (Theil 1967; Cowell 2011).
The between/within split over groups (regions) follows Shorrocks (1980), and the Lorenz
curve plots the cumulative population share against the cumulative share of the outcome.

Every table says which weighting it used in a ``weighting`` column: ``person``,
``land`` or ``unit``.

References
----------
.. [1] Harvey, D. (1973). *Social Justice and the City*. Edward Arnold.
.. [2] Soja, E. W. (2010). *Seeking Spatial Justice*. University of Minnesota Press.
.. [3] Theil, H. (1967). *Economics and Information Theory*. North-Holland.
.. [4] Shorrocks, A. F. (1980). The class of additively decomposable inequality measures.
   *Econometrica* 48(3), 613-625.
.. [5] Cowell, F. A. (2011). *Measuring Inequality*, 3rd ed. Oxford University Press.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gisfix.errors import DataError

#: Weightings a table may report; ``person`` is the one this module is for.
WEIGHTINGS = ("person", "land", "unit")
MEASURES = ("gini", "theil_t", "theil_l")


def _aligned(values, other, name: str) -> pd.Series:
    """Return ``other`` as a float Series aligned to ``values``' index (or positionally)."""
    if other is None:
        return None
    if isinstance(values, pd.Series) and isinstance(other, pd.Series):
        missing = values.index.difference(other.index)
        if len(missing):
            raise DataError(f"{len(missing)} units have a value but no {name} "
                            f"({list(missing.astype(str))[:5]}); index both by the same ids")
        return other.reindex(values.index).astype(float)
    arr = np.asarray(other, dtype=float).ravel()
    if arr.size != len(values):
        raise DataError(f"got {arr.size} {name} weights for {len(values)} values")
    index = values.index if isinstance(values, pd.Series) else pd.RangeIndex(arr.size)
    return pd.Series(arr, index=index)


def _weightings(values, population, area) -> dict:
    w = {"person": _aligned(values, population, "population")}
    if w["person"] is None:
        raise DataError("person-weighted inequality needs the population of each unit")
    if (w["person"] < 0).any() or not np.isfinite(w["person"]).all():
        raise DataError("populations must be finite and >= 0")
    if area is not None:
        w["land"] = _aligned(values, area, "area")
    w["unit"] = None
    return w


def justice_inequality(values, population, groups=None, *, area=None,
                       measures=MEASURES) -> pd.DataFrame:
    r"""Return person-weighted inequality of a per-capita outcome beside the other weightings.

    Gini, Theil T and Theil L (module formulas) of ``values`` with population weights
    (``person``), with area weights (``land``, when ``area`` is given) and unweighted
    (``unit``); with ``groups``, Theil T and L are split into between- and within-group
    parts (:func:`gisfix.inequality.theil_decomposition`).

    Parameters
    ----------
    values : pandas.Series or array-like
        Per-capita outcome of each unit (built-up m² per capita, income per capita...), > 0
        for Theil L, >= 0 otherwise.
    population : pandas.Series or array-like
        Inhabitants of each unit (aligned on the index when both are Series).
    groups : pandas.Series or array-like, optional
        Region of each unit for the between/within split.
    area : pandas.Series or array-like, optional
        Land area of each unit (km²) for the land-weighted rows.
    measures : sequence of str
        Any of ``gini``, ``theil_t``, ``theil_l``.

    Returns
    -------
    pandas.DataFrame
        One row per (measure, weighting): ``measure``, ``weighting``, ``value``,
        ``between``, ``within``, ``between_share`` (NaN without groups and for the Gini).

    Raises
    ------
    DataError
        Unknown measure, misaligned or negative weights, values a measure cannot take.
    """
    from gisfix.inequality import gini, theil_decomposition, theil_l, theil_t

    bad = [m for m in measures if m not in MEASURES]
    if bad:
        raise DataError(f"unknown measure(s) {bad}; choose from {', '.join(MEASURES)}")
    fns = {"gini": gini, "theil_t": theil_t, "theil_l": theil_l}
    rows = []
    if groups is not None and isinstance(values, pd.Series) and isinstance(groups, pd.Series):
        groups = groups.reindex(values.index)
    for weighting, w in _weightings(values, population, area).items():
        for m in measures:
            row = {"measure": m, "weighting": weighting, "value": fns[m](values, w),
                   "between": np.nan, "within": np.nan, "between_share": np.nan}
            if groups is not None and m != "gini":
                d = theil_decomposition(values, groups, w, index="T" if m == "theil_t" else "L",
                                        allow_singletons=True)
                row.update(between=d.between, within=d.within,
                           between_share=d.between / d.total if d.total else np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def justice_lorenz(values, population, *, area=None) -> pd.DataFrame:
    r"""Return Lorenz curves of a per-capita outcome: person-weighted (and land-weighted).

    Units sorted by the outcome; row :math:`k` holds the cumulative weight share
    :math:`F_k = \sum_{i\le k} s_i` and outcome share
    :math:`L_k = \sum_{i\le k} s_i x_i/\mu` (:func:`gisfix.inequality.lorenz`).  Person
    weighting (population shares on the x axis) answers "the poorest-housed p % of people
    hold what share of the built-up land?".

    Parameters
    ----------
    values : pandas.Series or array-like
        Per-capita outcome of each unit.
    population : pandas.Series or array-like
        Inhabitants of each unit.
    area : pandas.Series or array-like, optional
        Land area of each unit, for a land-weighted curve too.

    Returns
    -------
    pandas.DataFrame
        ``weighting``, ``unit_id``, ``value``, ``weight_share`` (cumulative population or
        land share), ``value_share`` (cumulative outcome share); a ``(0, 0)`` row starts
        each curve.
    """
    from gisfix.inequality import lorenz

    parts = []
    for weighting, w in _weightings(values, population, area).items():
        if weighting == "unit":
            continue
        c = lorenz(values, w).rename(columns={"unit": "unit_id",
                                              "population_share": "weight_share"})
        c.insert(0, "weighting", weighting)
        parts.append(c)
    return pd.concat(parts, ignore_index=True)


def builtup_justice(per_capita, *, groups=None, area=None, outcome: str =
                    "builtup_m2_per_capita") -> pd.DataFrame:
    r"""Return person-, land- and unit-weighted inequality of a per-capita outcome per epoch.

    Runs :func:`justice_inequality` on each epoch of a table such as the one
    :func:`gisfix.efficiency.land_per_capita` returns (built-up m² per capita, the module
    formulas with :math:`x_i = 10^6\, Urb_i / Pop_i`).

    Parameters
    ----------
    per_capita : pandas.DataFrame
        ``unit_id``, ``epoch``, ``population`` and the ``outcome`` column.
    groups : pandas.Series, optional
        Region of each unit, indexed by unit id (str).
    area : pandas.Series, optional
        Land area of each unit (km²), indexed by unit id, for the land-weighted rows.
    outcome : str
        The per-capita column to measure.

    Returns
    -------
    pandas.DataFrame
        ``epoch``, ``outcome``, then the columns of :func:`justice_inequality`.
    """
    need = ["unit_id", "epoch", "population", outcome]
    missing = [c for c in need if c not in per_capita.columns]
    if missing:
        raise DataError(f"the per-capita table has no column(s) {missing}; it has "
                        f"{list(per_capita.columns)} (gisfix.efficiency.land_per_capita "
                        "makes one)")
    parts = []
    for epoch, t in per_capita.groupby("epoch", sort=True):
        t = t[t["population"] > 0].set_index(t.loc[t["population"] > 0, "unit_id"].astype(str))
        g = None if groups is None else _by_id(groups, t.index, "groups")
        a = None if area is None else _by_id(area, t.index, "area")
        res = justice_inequality(t[outcome], t["population"], g, area=a)
        res.insert(0, "outcome", outcome)
        res.insert(0, "epoch", int(epoch))
        parts.append(res)
    return pd.concat(parts, ignore_index=True)


def _by_id(series, ids, name: str) -> pd.Series:
    s = pd.Series(series)
    s.index = s.index.astype(str)
    missing = ids.difference(s.index)
    if len(missing):
        raise DataError(f"{name} has no entry for {len(missing)} units "
                        f"({list(missing)[:5]}); index it by unit id")
    return s.reindex(ids)


__all__ = ["MEASURES", "WEIGHTINGS", "builtup_justice", "justice_inequality",
           "justice_lorenz"]
