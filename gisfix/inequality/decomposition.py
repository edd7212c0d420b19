"""Between/within decomposition of Theil T, Theil L and GE(alpha); the standard summary."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gisfix.errors import DataError, show_ids, warn_data
from gisfix.inequality._checks import _labels, _prepare
from gisfix.inequality.measures import (
    _ge,
    _ge_positivity,
    _xlogx,
    atkinson,
    cv,
    generalized_entropy,
    gini,
    max_min_ratio,
    theil_l,
    theil_t,
    top_bottom_ratio,
    williamson,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- decomposition
@dataclass
class TheilDecomposition:
    """Between/within decomposition of a GE index over (nested) groups.

    Attributes
    ----------
    index : str
        ``"T"``, ``"L"`` or ``"GE(alpha)"``.
    alpha : float
        The GE parameter (1 for T, 0 for L).
    total, between, within : float
        ``total == between + within``; ``between`` sums every level.
    levels : DataFrame
        One row per grouping level (outermost first): the between-group part at that
        level (between the level's groups inside their parent group) and its share of the
        total.
    groups : DataFrame
        Per group of the outermost level: ``n``, ``population_share``, ``value_share``,
        ``mean``, ``index`` (the group's own inequality), ``weight`` (its weight in the
        within part), ``between`` (its term in the between part), ``within``
        (``weight * index``) and ``contribution`` (``between + within``; sums to total).
    by_level : dict of DataFrame
        The same table for each level (cells of nested levels are tuples of group labels).
    """

    index: str
    alpha: float
    total: float
    between: float
    within: float
    levels: pd.DataFrame
    groups: pd.DataFrame
    by_level: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        """Return the scalar parts as a plain dict."""
        return {"index": self.index, "total": self.total, "between": self.between,
                "within": self.within}


def _parse_index(index) -> tuple[str, float]:
    if isinstance(index, int | float) and not isinstance(index, bool):
        a = float(index)
    else:
        key = str(index).strip().upper()
        if key in ("T", "THEIL_T", "GE(1)"):
            return "T", 1.0
        if key in ("L", "THEIL_L", "GE(0)", "MLD"):
            return "L", 0.0
        m = re.fullmatch(r"GE\(?\s*(-?[0-9.]+(?:E-?[0-9]+)?)\s*\)?", key)
        if not m:
            raise DataError(f"theil_decomposition: unknown index {index!r}; use 'T', 'L', "
                            "'GE(alpha)' (e.g. 'GE(2)') or a number alpha")
        a = float(m.group(1))
    name = "T" if a == 1 else "L" if a == 0 else f"GE({a:g})"
    return name, a


def _group_columns(values, groups, measure) -> list[np.ndarray]:
    n = len(np.asarray(values))
    if isinstance(groups, str):
        raise DataError(f"{measure}: groups must be the group labels (e.g. df[{groups!r}]), one "
                        f"per unit; got the string {groups!r}")
    if isinstance(groups, pd.DataFrame):
        cols = [groups[c] for c in groups.columns]
    elif isinstance(groups, list | tuple) and groups and not np.isscalar(groups[0]):
        cols = list(groups)
    else:
        cols = [groups]
    out = []
    for g in cols:
        if isinstance(g, pd.Series) and isinstance(values, pd.Series) \
                and not g.index.equals(values.index):
            if set(g.index) != set(values.index):
                raise DataError(f"{measure}: the group labels are indexed differently from "
                                "the values; pass groups indexed like the values")
            g = g.reindex(values.index)
        arr = np.asarray(g, dtype=object)
        if arr.ndim != 1 or len(arr) != n:
            raise DataError(f"{measure}: got {n} values but {len(arr)} group labels")
        miss = pd.isna(pd.Series(arr)).to_numpy()
        if miss.any():
            raise DataError(f"{measure}: {int(miss.sum())} units have no group (ids "
                            f"{show_ids(_labels(values)[miss])}); fill the group column")
        out.append(arr)
    return out


def theil_decomposition(values, groups, weights=None, index="T", *,
                        allow_singletons: bool = False) -> TheilDecomposition:
    r"""Decompose Theil T, Theil L or GE(alpha) into between- and within-group parts.

    With population shares :math:`p_g = \sum_{i\in g} s_i`, group means :math:`\mu_g` and
    the group's own index :math:`GE_g` (computed within the group),

    .. math::

        GE(\alpha) = \underbrace{\sum_g p_g \frac{(\mu_g/\mu)^\alpha - 1}
            {\alpha(\alpha-1)}}_{\text{between}}
            + \underbrace{\sum_g p_g \left(\frac{\mu_g}{\mu}\right)^{\alpha} GE_g}_{
            \text{within}}

    so Theil T weights each group by its value share :math:`p_g\mu_g/\mu` and Theil L by its
    population share :math:`p_g` (Shorrocks 1980; Cowell 2011, ch. 6).  For nested groups
    ``[province, county]`` the within part of each province is decomposed again: total =
    between provinces + between counties within provinces + within counties.  Unweighted
    Theil T over one level is PySAL's ``inequality.theil.TheilD`` (``bg``, ``wg``).

    Parameters
    ----------
    values : Series or array-like
        Unit values (> 0 for L and alpha <= 0, >= 0 otherwise).
    groups : Series, array-like, list of them, or DataFrame
        Group labels, one per unit; a list (or DataFrame columns) gives nested levels,
        outermost first.
    weights : Series or array-like, optional
        Non-negative unit weights (population).
    index : {"T", "L", "GE(alpha)"} or float
        The index to decompose; a number is taken as alpha.
    allow_singletons : bool
        Groups with a single unit have no within-group inequality by construction and are
        often a coding error, so they raise :class:`DataError` unless this is True.

    Returns
    -------
    TheilDecomposition

    References
    ----------
    Shorrocks, A. F. (1980). *Econometrica* 48(3), 613-625. Rey and Sastre-Gutierrez
    (2010) for the Mexican regional application.
    """
    name, alpha = _parse_index(index)
    measure = f"theil_decomposition(index={name})"
    x, s, labels = _prepare(values, weights, measure=measure,
                            positive=_ge_positivity(alpha))
    cols = _group_columns(values, groups, measure)
    names = _level_names(groups, len(cols))
    mu = s @ x
    total = _ge(x, s, alpha)

    # cell codes for each cumulative level: level k cell = (g1, ..., gk)
    codes, cells = [], []
    for k in range(len(cols)):
        key = pd.MultiIndex.from_arrays([c for c in cols[: k + 1]]) if k else pd.Index(cols[0])
        code, uniq = pd.factorize(key, sort=True)
        codes.append(code)
        cells.append(uniq)
    # singletons at every level
    if not allow_singletons:
        for k, code in enumerate(codes):
            counts = np.bincount(code)
            single = np.flatnonzero(counts == 1)
            if len(single):
                units = [labels[np.flatnonzero(code == c)[0]] for c in single]
                raise DataError(
                    f"{measure}: {len(single)} groups of {names[k]!r} have a single unit "
                    f"(groups {show_ids(cells[k][single])}; units {show_ids(units)}); check the "
                    "group codes, or pass allow_singletons=True (--allow-singletons) to keep "
                    "them (their within-group inequality is 0)")

    by_level = {}
    levels = []
    parent_code = np.zeros(len(x), dtype=int)
    parent_p = np.array([1.0])
    parent_mu = np.array([mu])
    for k, code in enumerate(codes):
        m = len(cells[k])
        p = np.bincount(code, weights=s, minlength=m)
        mass = np.bincount(code, weights=s * x, minlength=m)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu_c = np.where(p > 0, mass / np.where(p > 0, p, 1), 0.0)
        # parent of each cell
        par = np.zeros(m, dtype=int)
        par[code] = parent_code
        v_par = parent_p[par] * (parent_mu[par] / mu) ** alpha
        term = _between_terms(p / parent_p[par], mu_c / parent_mu[par], alpha)
        between_c = v_par * term
        own = _cell_ge(x, s, code, p, mu_c, alpha)
        weight_c = p * (mu_c / mu) ** alpha
        table = pd.DataFrame({
            "n": np.bincount(code, minlength=m),
            "population_share": p,
            "value_share": mass / mass.sum(),
            "mean": mu_c,
            "index": own,
            "weight": weight_c,
            "between": between_c,
            "within": weight_c * own,
        }, index=cells[k])
        table["contribution"] = table["between"] + table["within"]
        table.index.name = names[k] if k == 0 else None
        if k:
            table.index.names = names[: k + 1]
        by_level[names[k]] = table
        b = float(between_c.sum())
        levels.append({"level": names[k], "groups": m, "between": b,
                       "share": b / total if total > 0 else float("nan")})
        parent_code, parent_p, parent_mu = code, p, mu_c
    finest = by_level[names[-1]]
    within = float(finest["within"].sum())
    levels_df = pd.DataFrame(levels).set_index("level")
    between = float(levels_df["between"].sum())
    return TheilDecomposition(index=name, alpha=alpha, total=total, between=between,
                              within=within, levels=levels_df, groups=by_level[names[0]],
                              by_level=by_level)


def _cell_ge(x, s, code, p, mu_c, alpha) -> np.ndarray:
    """GE(alpha) inside every cell at once (cells with no weight or a zero mean get 0)."""
    m = len(p)
    ok = (p > 0) & (mu_c > 0)
    r = x / np.where(ok, mu_c, 1.0)[code]
    if alpha == 1:
        terms = _xlogx(r)
    elif alpha == 0:
        terms = -np.log(np.where(r > 0, r, 1.0))
    else:
        terms = (r**alpha - 1.0) / (alpha * (alpha - 1.0))
    total = np.bincount(code, weights=s * terms, minlength=m)
    return np.where(ok, total / np.where(ok, p, 1.0), 0.0)


def _between_terms(p_rel: np.ndarray, r: np.ndarray, alpha: float) -> np.ndarray:
    """Per-cell terms of GE(alpha) between cells with relative shares p_rel, mean ratios r."""
    if alpha == 1:
        return p_rel * _xlogx(r)
    if alpha == 0:
        with np.errstate(divide="ignore"):
            return np.where(p_rel > 0, -p_rel * np.log(np.where(r > 0, r, 1.0)), 0.0)
    return p_rel * (r**alpha - 1.0) / (alpha * (alpha - 1.0))


def _level_names(groups, k: int) -> list[str]:
    if isinstance(groups, pd.DataFrame):
        return [str(c) for c in groups.columns]
    if isinstance(groups, pd.Series):
        return [str(groups.name) if groups.name is not None else "group"]
    if isinstance(groups, list | tuple) and groups and not np.isscalar(groups[0]):
        return [str(getattr(g, "name", None) or f"level_{i + 1}") for i, g in enumerate(groups)]
    return ["group"] if k == 1 else [f"level_{i + 1}" for i in range(k)]


# --------------------------------------------------------------------------- summary
#: The measures :func:`over_time` and :func:`summarize` know by name.
MEASURES: dict[str, Callable] = {
    "gini": gini,
    "theil_t": theil_t,
    "theil_l": theil_l,
    "cv": cv,
    "williamson": williamson,
    "generalized_entropy": generalized_entropy,
    "atkinson": atkinson,
    "max_min_ratio": max_min_ratio,
    "top_bottom_ratio": top_bottom_ratio,
}


def summarize(values, weights=None, groups=None, *, allow_singletons: bool = False,
              undefined: str = "raise") -> dict:
    r"""Return the standard inequality summary of one variable as a JSON-ready dict.

    Keys: ``n``, ``gini``, ``theil_t``, ``theil_l``, ``cv``, ``atkinson_0.5``,
    ``atkinson_1``; with ``weights`` also ``williamson``; with ``groups`` also
    ``theil_t_between``, ``theil_t_within``, ``theil_l_between``, ``theil_l_within``
    (for nested groups the between parts of all levels are summed).

    With weights, ``gini``, ``theil_*`` and ``atkinson_*`` are population-weighted and
    ``williamson`` is the weighted CV (:func:`williamson`), while ``cv`` stays the
    unweighted CV across units (Williamson's :math:`V_{uw}`), so both are reported.

    Parameters
    ----------
    values : Series or array-like
        Unit values.
    weights : Series or array-like, optional
        Non-negative unit weights (population).
    groups : Series, array-like or list of them, optional
        Group labels for the Theil decompositions (nested: outermost first).
    allow_singletons : bool
        Passed to :func:`theil_decomposition`.
    undefined : {"raise", "null"}
        What to do when a measure is undefined for the data (e.g. Theil L with zeros):
        raise the :class:`DataError` (default) or report ``None`` and log a warning.

    Returns
    -------
    dict
    """
    if undefined not in ("raise", "null"):
        raise DataError(f"summarize: undefined must be 'raise' or 'null'; got {undefined!r}")
    x, _, _ = _prepare(values, weights, measure="summarize", positive=None)
    out: dict = {"n": int(len(x))}

    def attempt(key, fn, *args, **kw):
        try:
            out[key] = float(fn(*args, **kw))
        except DataError as exc:
            if undefined == "raise":
                raise
            warn_data("%s undefined: %s", key, exc)
            out[key] = None

    attempt("gini", gini, values, weights)
    attempt("theil_t", theil_t, values, weights)
    attempt("theil_l", theil_l, values, weights)
    attempt("cv", cv, values)
    attempt("atkinson_0.5", atkinson, values, 0.5, weights)
    attempt("atkinson_1", atkinson, values, 1.0, weights)
    if weights is not None:
        attempt("williamson", williamson, values, weights)
    if groups is not None:
        for key, idx in (("theil_t", "T"), ("theil_l", "L")):
            try:
                d = theil_decomposition(values, groups, weights, index=idx,
                                        allow_singletons=allow_singletons)
                out[f"{key}_between"], out[f"{key}_within"] = d.between, d.within
            except DataError as exc:
                if undefined == "raise":
                    raise
                warn_data("%s decomposition undefined: %s", key, exc)
                out[f"{key}_between"] = out[f"{key}_within"] = None
    return out
