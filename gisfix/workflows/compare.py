"""Before/after comparison: what did an administrative-division adjustment change?

:func:`compare` applies a scenario and measures the units before and after it.  Besides its
built-in rows (inequality of a column, built-up measures), it takes any measure as a
callable over ``(units, built-up table)``, so users add their own.  A measure that cannot
be computed raises its error: nothing is turned into an empty result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from gisfix.errors import EditError

_NUM = "__gisfix_value_x_weight"


def _summary(values, weights=None) -> dict:
    """Return :func:`gisfix.inequality.summarize` of the values.

    A measure undefined for the data is reported as None with a warning; a data problem
    (too few units, bad values) raises.
    """
    from gisfix.inequality import summarize

    return summarize(values, weights, undefined="null")


def _table(units, stack):
    from gisfix.zonal import builtup_by_unit

    return builtup_by_unit(units, stack, method="exact")


def _builtup_rows(units, long, epoch, weight, notes: list) -> dict:
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
        # a Gini across fewer than two units is not defined: NaN, said in the notes (the
        # applicability is checked, no error is swallowed)
        rows["density_per_builtup_km2_gini"] = (
            _summary(dens[good], w[good]).get("gini") if good.sum() >= 2 else np.nan)
        if good.sum() < 2:
            notes.append(f"density_per_builtup_km2_gini is NaN: {int(good.sum())} unit(s) "
                         "with built-up land, a Gini needs two")
    return rows


def _custom_rows(name: str, fn: Callable, units, table) -> dict:
    """Return the rows of one user measure.

    A number gives row ``name``; a mapping or Series gives ``name.key`` for each key.
    """
    got = fn(units, table)
    if isinstance(got, pd.Series):
        got = got.to_dict()
    if isinstance(got, Mapping):
        return {f"{name}.{k}": float(v) if v is not None else np.nan for k, v in got.items()}
    try:
        return {name: float(got)}
    except (TypeError, ValueError):
        raise EditError(f"measure {name!r} returned {type(got).__name__}; a measure returns a "
                        "number, or a dict / Series of numbers") from None


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
    measures : list of str, or mapping of name to callable, optional
        Names of the built-in rows to keep (default: all computed), or measures of your
        own: ``{"name": fn}`` (or a list mixing names and callables, a callable taking its
        ``__name__``), each called as ``fn(units, table)`` on the units before and after
        the edits, with ``table`` the long built-up table of
        :func:`gisfix.zonal.builtup_by_unit` (None without ``stack``).  ``fn`` returns a
        number (row ``name``) or a dict / Series of numbers (rows ``name.key``).  Its
        errors propagate.
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
        Passed to :func:`gisfix.edits.apply_scenario` (``snap_tolerance``...);
        ``extensive=[...]`` / ``intensive=[...]`` columns are reallocated as well (for
        measures of your own).

    Returns
    -------
    DataFrame
        Indexed by measure, columns ``before``, ``after``, ``change`` (after − before).

    Raises
    ------
    EditError
        Without ``value``, ``stack`` or a measure of your own (nothing to measure), or
        with an unknown ``kind``.
    DataError
        When a measure cannot be computed on the data (e.g. fewer than two units).

    Examples
    --------
    >>> from gisfix import datasets
    >>> va = datasets.load("virginia-pre1995")
    >>> sc = {"scenario": {"name": "1995"},
    ...       "edit": [{"op": "merge", "units": ["51780", "51083"], "into": "51083"}]}
    >>> t = compare(va, sc, measures={"n": lambda units, table: len(units)})
    >>> t.loc["n"].tolist()
    [136.0, 135.0, -1.0]
    """
    from gisfix.edits.apply import apply_scenario

    names, custom = _split_measures(measures)
    if value is None and stack is None and not custom:
        raise EditError("compare needs value= (a column), stack= (built-up rasters) or "
                        "measures of your own ({name: fn(units, table)})")
    kind = kind or ("intensive" if weight is not None else "extensive")
    if kind not in ("extensive", "intensive"):
        raise EditError(f"kind must be 'extensive' or 'intensive', got {kind!r}")
    if kind == "intensive" and weight is None:
        raise EditError("an intensive value needs weight= (e.g. population) to be averaged")
    if stack is not None and epoch is None:
        epoch = stack.epochs[-1]
    work = units.copy()
    extensive, intensive = list(kwargs.pop("extensive", ())), list(kwargs.pop("intensive", ()))
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
    tables: dict = {"b": None, "a": None}
    notes: list = []
    if stack is not None:
        tables = {"b": _table(work, stack), "a": _table(after, stack)}
        rows_b.update(_builtup_rows(work, tables["b"], epoch, weight, notes))
        rows_a.update(_builtup_rows(after, tables["a"], epoch, weight, notes))
    for name, fn in custom.items():
        rows_b.update(_custom_rows(name, fn, units, tables["b"]))
        rows_a.update(_custom_rows(name, fn, after, tables["a"]))
    table = pd.DataFrame({"before": pd.Series(rows_b, dtype=float),
                          "after": pd.Series(rows_a, dtype=float)})
    table = table.loc[list(dict.fromkeys([*rows_b, *rows_a]))]
    table["change"] = table["after"] - table["before"]
    table.index.name = "measure"
    if names:
        unknown = [m for m in names if m not in table.index]
        if unknown:
            raise EditError(f"unknown measure(s) {', '.join(unknown)}; available: "
                            f"{', '.join(table.index)}")
        own = [r for r in table.index if any(r == n or r.startswith(f"{n}.") for n in custom)]
        table = table.loc[list(dict.fromkeys([*names, *own]))]
    table.attrs["report"] = res.report
    table.attrs["notes"] = list(dict.fromkeys(notes))
    return table


def _split_measures(measures) -> tuple[list[str], dict[str, Callable]]:
    """Split ``measures`` into built-in row names and ``{name: callable}``."""
    if measures is None:
        return [], {}
    if isinstance(measures, Mapping):
        items = list(measures.items())
    elif isinstance(measures, str) or callable(measures):
        items = [(None, measures)]
    else:
        items = [(None, m) for m in measures]
    names, custom = [], {}
    for key, m in items:
        if callable(m):
            custom[key or getattr(m, "__name__", f"measure_{len(custom) + 1}")] = m
        elif isinstance(m, str) and key is None:
            names.append(m)
        else:
            raise EditError(f"measures must be names of rows or callables fn(units, table); "
                            f"got {m!r}")
    return names, custom
