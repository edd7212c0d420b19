"""Input checks shared by the inequality measures: NaN, positivity, weights, unit count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gisfix.errors import DataError, show_ids

#: Show at most this many offending ids in an error message.
MAX_IDS_SHOWN = 8


def _labels(values) -> pd.Index:
    if isinstance(values, pd.Series | pd.DataFrame):
        return values.index
    return pd.RangeIndex(len(np.atleast_1d(np.asarray(values))))


def _as_vector(values, measure: str, what: str = "values") -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{measure}: {what} must be numbers; got {type(values).__name__} "
                        "with non-numeric entries") from None
    if x.ndim != 1:
        raise DataError(f"{measure}: {what} must be one-dimensional; got shape {x.shape}")
    return x


def _prepare(values, weights=None, *, measure: str, positive: str | None = "nonneg",
             min_n: int = 2):
    """Return ``(x, s, labels)``: values, population shares summing to 1, and unit labels.

    ``positive`` is ``"strict"`` (x > 0), ``"nonneg"`` (x >= 0 and mean > 0) or None.
    """
    x = _as_vector(values, measure)
    labels = _labels(values)
    n = len(x)
    nan = ~np.isfinite(x)
    if nan.any():
        raise DataError(
            f"{measure}: {int(nan.sum())} of {n} values are NaN or infinite (ids "
            f"{show_ids(labels[nan])}); drop these units (--dropna) or fill the values first")
    if n < min_n:
        raise DataError(f"{measure} needs at least {min_n} units; got {n}")
    if weights is None:
        s = np.full(n, 1.0 / n)
    else:
        w = _weights(values, weights, measure)
        s = w / w.sum()
    if positive == "strict":
        bad = x <= 0
        if bad.any():
            raise DataError(
                f"{measure} needs positive values; {int(bad.sum())} of {n} values are <= 0 "
                f"(ids {show_ids(labels[bad])}); drop or fix these units, or use a measure "
                "defined for zeros (gini, theil_t, cv)")
    elif positive == "nonneg":
        bad = x < 0
        if bad.any():
            raise DataError(
                f"{measure} needs values >= 0; {int(bad.sum())} of {n} values are negative "
                f"(ids {show_ids(labels[bad])}); drop or fix these units")
        if not (s @ x) > 0:
            raise DataError(f"{measure} needs a positive mean; all {n} values are 0")
    return x, s, labels


def _weights(values, weights, measure: str) -> np.ndarray:
    n = len(np.asarray(values))
    if isinstance(weights, pd.Series) and isinstance(values, pd.Series):
        if not weights.index.equals(values.index):
            if weights.index.has_duplicates or set(weights.index) != set(values.index):
                missing = values.index.difference(weights.index)
                extra = weights.index.difference(values.index)
                raise DataError(
                    f"{measure}: weights do not match the values: {len(missing)} value ids "
                    f"have no weight ({show_ids(missing)}) and {len(extra)} weight ids have no "
                    f"value ({show_ids(extra)}); pass weights indexed like the values")
            weights = weights.reindex(values.index)
    w = _as_vector(weights, measure, "weights")
    if len(w) != n:
        raise DataError(f"{measure}: got {n} values but {len(w)} weights; pass one weight "
                        "per unit, in the same order")
    labels = _labels(values)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(
            f"{measure}: {int(bad.sum())} weights are NaN, infinite or negative (ids "
            f"{show_ids(labels[bad])}); weights must be finite and >= 0 (e.g. population)")
    if not w.sum() > 0:
        raise DataError(f"{measure}: all {n} weights are 0")
    return w
