"""Before/after comparison: what did an administrative-division adjustment change?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gisfix.errors import EditError

_NUM = "__gisfix_value_x_weight"


def _summary(values, weights=None) -> dict:
    """:func:`gisfix.inequality.summarize`, with undefined measures as NaN (too few units)."""
    from gisfix.errors import DataError
    from gisfix.inequality import summarize

    try:
        return summarize(values, weights, undefined="null")
    except DataError:
        return {}


def _builtup_rows(units, stack, epoch, weight) -> dict:
    import warnings

    from gisfix.zonal import builtup_by_unit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        long = builtup_by_unit(units, stack, method="exact")
    t = long[long["epoch"] == int(epoch)].set_index("unit_id").reindex(units.index.astype(str))
    share = t["builtup_share"].astype(float)
    km2 = t["builtup_km2"].astype(float)
    rows = {"builtup_km2_total": float(km2.sum()), "builtup_km2_max": float(km2.max()),
            "builtup_share_mean": float(share.mean()),
            "builtup_share_overall": float(km2.sum() / t["valid_km2"].sum())}
    ok = share.notna()
    s = _summary(share[ok].to_numpy())
    rows["builtup_share_gini"] = s.get("gini")
    rows["builtup_share_cv"] = s.get("cv")
    rows["builtup_km2_gini"] = _summary(km2[km2.notna()].to_numpy()).get("gini")
    if weight is not None:
        w = units[weight].astype(float).to_numpy()
        dens = np.where(km2.to_numpy() > 0, w / np.where(km2.to_numpy() > 0, km2.to_numpy(), 1),
                        np.nan)
        rows["density_per_builtup_km2_overall"] = float(np.nansum(w[km2.to_numpy() > 0])
                                                         / km2[km2 > 0].sum())
        good = np.isfinite(dens)
        rows["density_per_builtup_km2_gini"] = _summary(dens[good], w[good]).get("gini")
    return rows


def compare(units, scenario, measures=None, value: str | None = None,
            weight: str | None = None, stack=None, *, epoch=None, kind: str | None = None,
            dasymetric: bool = True, **kwargs) -> pd.DataFrame:
    r"""Run inequality and built-up measures before and after a scenario; tabulate the change.

    The value column is carried through the edits as an extensive count (``kind=
    "extensive"``, the default without ``weight``) or as a ``weight``-weighted mean
    (``kind="intensive"``, the default with ``weight``: :math:`v_j = \sum_i w_i v_i /
    \sum_i w_i` over the pieces of unit *j*, e.g. GDP per capita weighted by population),
    then summarised by :func:`gisfix.inequality.summarize` (Gini, Theil T and L, CV,
    Atkinson, Williamson's population-weighted CV; formulas and citations there).  With a
    built-up ``stack``, built-up area, share (land development intensity) and density
    (``weight`` per built-up km²) by unit are measured before and after at ``epoch``
    (:func:`gisfix.zonal.builtup_by_unit`).

    Parameters
    ----------
    units : GeoDataFrame
        The coverage before the edits.
    scenario : Scenario, mapping or path
        The edits (:func:`gisfix.edits.load_scenario`).
    measures : list of str, optional
        Rows to keep (default: all computed).
    value, weight : str, optional
        Column to measure inequality of, and its weight (population).
    stack : BuiltupStack, optional
        Built-up rasters for built-up measures (and dasymetric reallocation).
    epoch : int, optional
        Epoch of ``stack`` (default its last).
    kind : {"extensive", "intensive"}, optional
        How ``value`` is reallocated.
    dasymetric : bool
        Reallocate with built-up weights when ``stack`` is given.
    **kwargs
        Passed to :func:`gisfix.edits.apply_scenario` (``snap_tolerance``...).

    Returns
    -------
    DataFrame
        Indexed by measure, columns ``before``, ``after``, ``change`` (after − before).

    Raises
    ------
    EditError
        Without ``value`` and ``stack`` (nothing to measure) or with an unknown ``kind``.
    """
    from gisfix.edits.apply import apply_scenario

    if value is None and stack is None:
        raise EditError("compare needs value= (a column) and/or stack= (built-up rasters)")
    kind = kind or ("intensive" if weight is not None else "extensive")
    if kind not in ("extensive", "intensive"):
        raise EditError(f"kind must be 'extensive' or 'intensive', got {kind!r}")
    if kind == "intensive" and weight is None:
        raise EditError("an intensive value needs weight= (e.g. population) to be averaged")
    if stack is not None and epoch is None:
        epoch = stack.epochs[-1]
    work = units.copy()
    extensive, intensive = [], []
    if weight is not None:
        extensive.append(weight)
    if value is not None:
        for col in [value] + ([weight] if weight else []):
            if col not in work.columns:
                raise EditError(f"no column {col!r} in the units; columns: "
                                f"{', '.join(c for c in work.columns if c != work.geometry.name)}")
        if kind == "extensive":
            extensive.append(value)
        else:
            work[_NUM] = work[value].astype(float) * work[weight].astype(float)
            intensive.append(f"{value}={_NUM}/{weight}")
    res = apply_scenario(work, scenario, extensive=extensive, intensive=intensive,
                         stack=stack if dasymetric else None, epoch=epoch, **kwargs)
    after = res.units
    rows_b: dict = {"n_units": len(work)}
    rows_a: dict = {"n_units": len(after)}
    if value is not None:
        wb = work[weight].astype(float) if weight else None
        wa = after[weight].astype(float) if weight else None
        for frame, w, out in ((work, wb, rows_b), (after, wa, rows_a)):
            s = _summary(frame[value].astype(float), w)
            out.update({k: v for k, v in s.items() if k != "n"})
    if stack is not None:
        rows_b.update(_builtup_rows(work, stack, epoch, weight))
        rows_a.update(_builtup_rows(after, stack, epoch, weight))
    table = pd.DataFrame({"before": pd.Series(rows_b, dtype=float),
                          "after": pd.Series(rows_a, dtype=float)})
    table = table.loc[list(dict.fromkeys([*rows_b, *rows_a]))]
    table["change"] = table["after"] - table["before"]
    table.index.name = "measure"
    if measures is not None:
        unknown = [m for m in measures if m not in table.index]
        if unknown:
            raise EditError(f"unknown measure(s) {', '.join(unknown)}; available: "
                            f"{', '.join(table.index)}")
        table = table.loc[list(measures)]
    table.attrs["report"] = res.report
    return table
