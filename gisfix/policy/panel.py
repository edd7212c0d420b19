r"""Harmonized panels with treatment cohorts, for the evaluation of boundary adjustments.

A policy panel is a long unit x year table on one fixed geography with, for every unit,

``cohort``
    the first year of treatment (an int; ``0`` for units never treated in the panel);
``never_treated``
    True for the comparison units;
``neighbour_of_treated``
    True for comparison units adjacent to a treated unit in the spatial graph (exposed to
    spillovers; :func:`gisfix.policy.did.estimate_did` can drop them).

The chain is:

1. :func:`harmonize_panel` places a table observed on old units onto the target units
   through a lineage crosswalk (:func:`gisfix.edits.lineage.harmonize`): extensive
   outcomes are allocated by the crosswalk's area or weight shares,
   :math:`X_j = \sum_i \omega_{ij} X_i`, intensive ones are weighted means.
2. :func:`cohorts_from_events` reads the treatment of every target unit from an event
   table (:mod:`gisfix.events`): treated units and their year, units to exclude (treated
   in another way or outside the study years) and comparison units.
3. :func:`assign_treatment` joins them to the panel and flags the neighbours of treated
   units from a :func:`make_graph` graph.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from gisfix.errors import DataError, DataWarning, IdError
from gisfix.spatial.graphs import as_graph
from gisfix.spatial.graphs import make_graph as _make_graph

#: Columns :func:`assign_treatment` adds.
TREATMENT_COLUMNS = ["cohort", "never_treated", "neighbour_of_treated"]


def _show(values, limit: int = 6) -> str:
    values = [str(v) for v in values]
    more = f" ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def make_graph(units, kind: str = "queen"):
    """Build the spatial graph of ``units`` with gisfix's graph builder.

    Parameters
    ----------
    units : GeoDataFrame
        Indexed by unit id.
    kind : str
        ``queen``, ``rook``, ``knn=K`` or ``distance=D``.

    Returns
    -------
    SpatialGraph
    """
    return _make_graph(units, kind)


def check_panel(panel: pd.DataFrame, id_col: str, time_col: str,
                outcome: str | None = None) -> pd.DataFrame:
    """Check a long panel; return a copy with text ids and integer years.

    Parameters
    ----------
    panel : DataFrame
        One row per unit and year.
    id_col, time_col : str
        The unit and year columns.
    outcome : str, optional
        A column that must be numeric.

    Returns
    -------
    DataFrame

    Raises
    ------
    DataError
        For a missing column, a non-integer year or a non-numeric outcome.
    IdError
        For empty ids or duplicate (unit, year) rows.
    """
    for col in (id_col, time_col, outcome):
        if col is not None and col not in panel.columns:
            raise DataError(f"the panel has no column {col!r}; columns: "
                            f"{_show(panel.columns, 20)}")
    df = panel.copy()
    if df[id_col].isna().any():
        raise IdError(f"the panel has {int(df[id_col].isna().sum())} rows without a unit id "
                      f"in {id_col!r}; fill or drop them")
    df[id_col] = df[id_col].astype(str).str.strip()
    years = pd.to_numeric(df[time_col], errors="coerce")
    bad = df.loc[years.isna() | (years != years.round()), time_col]
    if len(bad):
        raise DataError(f"the time column {time_col!r} must hold integer years; got "
                        f"{_show(bad.astype(str).unique())}")
    df[time_col] = years.astype("int64")
    dup = df.duplicated([id_col, time_col], keep=False)
    if dup.any():
        pairs = df.loc[dup, [id_col, time_col]].drop_duplicates()
        shown = [f"({u}, {t})" for u, t in pairs.itertuples(index=False)]
        raise IdError(f"the panel has duplicate ({id_col}, {time_col}) rows: "
                      f"{_show(shown)}; keep one row per unit and year (aggregate first)")
    if outcome is not None:
        col = df[outcome]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            num = pd.to_numeric(col, errors="coerce")
            bad = col[num.isna() & col.notna()]
            if not len(bad):
                bad = col
            raise DataError(f"the outcome {outcome!r} must be numeric; it is {col.dtype} with "
                            f"values such as {_show(bad.astype(str).unique()[:3])} (units "
                            f"{_show(df.loc[bad.index, id_col].unique())}); clean or convert "
                            "the column")
    return df


def harmonize_panel(panel: pd.DataFrame, lineage: pd.DataFrame, extensive=(), intensive=(),
                    *, id_col: str, time_col: str, share: str = "weight_share",
                    areas: pd.Series | None = None) -> pd.DataFrame:
    r"""Place a unit x year table on the target geography of a lineage crosswalk.

    Extensive columns are allocated with the crosswalk shares (period totals conserved),

    .. math:: X_{jt} = \sum_i \omega_{ij} X_{it},

    ``"rate=num/den"`` intensive columns are recomputed from the harmonized extensives and
    plain intensive columns are area-weighted means (Logan, Xu & Stults 2014, *The
    Professional Geographer* 66(3), 412-420; see :func:`gisfix.edits.lineage.harmonize`,
    which does the work).

    Parameters
    ----------
    panel : DataFrame
        Long table with ``id_col`` and ``time_col`` (from
        :func:`gisfix.builtup_by_unit` over epochs, or any CSV or Parquet).
    lineage : DataFrame
        ``old_id, new_id, area_share, weight_share`` (``EditResult.lineage``).
    extensive, intensive : list of str
        Columns to allocate / average (see :func:`gisfix.edits.lineage.harmonize`).
    id_col, time_col : str
        The unit and year columns.
    share : {"weight_share", "area_share"}
        The crosswalk share that allocates extensive columns.
    areas : Series, optional
        Old units' areas, for plain intensive columns.

    Returns
    -------
    DataFrame
        Long table with ``id_col`` (the target ids), ``time_col`` and the columns.
    """
    from gisfix.edits.lineage import harmonize  # the edits package loads geopandas

    df = check_panel(panel, id_col, time_col)
    out = harmonize(df, lineage, extensive, intensive, id_col=id_col, time_col=time_col,
                       share=share, areas=areas)
    out = out.rename_axis(id_col).reset_index()
    cols = [id_col, time_col] + [c for c in out.columns if c not in (id_col, time_col)]
    return out[cols].sort_values([id_col, time_col]).reset_index(drop=True)


def lineage_from_events(events: pd.DataFrame, ids, year: int, target_ids) -> pd.DataFrame:
    """Build a lineage crosswalk from an event table: old ids as of ``year`` -> target ids.

    Every id is followed through the later one-target changes (recodes, whole
    conversions, merges into another unit; :func:`gisfix.events.follow_ids`, with merges)
    until it reaches ``target_ids``; the whole unit goes there (shares 1).  A code history
    holds no areas, so units divided among several targets (splits) get no crosswalk
    row: they are left out with a :class:`~gisfix.errors.DataWarning` (use a boundary
    diff, :func:`gisfix.edits.diff.diff`, for their area shares).

    Parameters
    ----------
    events : DataFrame
        An event table.
    ids : sequence of str
        The panel's units (as of ``year``).
    year : int
        The vintage of ``ids``: only later changes are followed.
    target_ids : collection of str
        The units of the target geography.

    Returns
    -------
    DataFrame
        ``old_id, new_id, area_share, weight_share`` for the ids that reach the target.
    """
    from gisfix.events import check_events, follow_ids

    ev = check_events(events)
    one = ev[(ev["event"].isin(["merge", "recode", "county_to_district", "county_to_city"]))
             & ~ev["new_ids"].str.contains(";") & (ev["new_ids"] != "")].copy()
    one["event"] = "recode"  # follow_ids follows one-target recodes
    if "conversion" in one.columns:
        one["conversion"] = "whole"
    ids = [str(i) for i in ids]
    found = follow_ids(one, ids, year, target_ids)
    lost = list(found.index[found.isna()])
    if lost:
        warnings.warn(f"{len(lost)} unit(s) have no one-to-one path to the target geography "
                      f"and are left out: {_show(lost)}", DataWarning, stacklevel=2)
    found = found.dropna()
    return pd.DataFrame({"old_id": list(found.index), "new_id": list(found.astype(str)),
                         "area_share": 1.0, "weight_share": 1.0})


def cohorts_from_events(events: pd.DataFrame, unit_ids, *, event: str = "county_to_district",
                        t0: int | None = None, t1: int | None = None,
                        conversion: str | None = "whole", comparison=None,
                        missing: str = "error") -> pd.DataFrame:
    """Derive every unit's treatment from an event table.

    Treated units are those reached by an ``event`` (of kind ``conversion`` where the table
    has a ``conversion`` column) in ``t0..t1``; the id in ``unit_ids`` is found by
    :func:`gisfix.events.follow_ids` (the unit's own id, or the id it became through this
    and later whole-territory changes).  A unit's cohort is its first such year.  Units
    reached by an ``event`` of another kind (a county merged into or split among
    districts) or in another year (before ``t0``: already treated; after ``t1``: treated
    later) are *excluded*: neither treated nor comparison.

    Parameters
    ----------
    events : DataFrame
        An event table (:mod:`gisfix.events`).
    unit_ids : sequence of str
        The units of the target geography (the panel's).
    event : str
        The event kind that is the treatment.
    t0, t1 : int, optional
        First and last treatment year; events outside are excluded, not treated.  Without
        them every year counts (and :func:`assign_treatment` rejects years outside the
        panel).
    conversion : str, optional
        Kind of ``county_to_district`` conversion that is the treatment (``whole``: the
        same territory before and after); None takes all.
    comparison : collection of str, optional
        Unit kinds (:func:`gisfix.events.unit_kind`: ``county``, ``city``, ``district``)
        allowed as comparison units; e.g. ``("county", "city")`` compares with counties
        never converted, leaving out districts that were districts all along.  None: every
        unit not treated and not excluded.
    missing : {"error", "drop"}
        What to do with treated units whose id is not in ``unit_ids``: raise, or drop them
        with a :class:`~gisfix.errors.DataWarning`.

    Returns
    -------
    DataFrame
        Indexed by ``unit_id`` (every unit of ``unit_ids``): ``cohort`` (int, 0 = not
        treated), ``status`` (``treated``, ``comparison``, ``excluded``) and ``reason``.

    Raises
    ------
    IdError
        With ``missing="error"``, naming the event units missing from ``unit_ids``.
    """
    from gisfix.events import check_events, follow_ids, unit_kind

    if missing not in ("error", "drop"):
        raise DataError(f"missing must be 'error' or 'drop'; got {missing!r}")
    ev = check_events(events)
    ids = pd.Index([str(u) for u in unit_ids], name="unit_id")
    idset = set(ids)
    sel = ev[ev["event"] == event]
    in_years = pd.Series(True, index=sel.index)
    if t0 is not None:
        in_years &= sel["year"] >= t0
    if t1 is not None:
        in_years &= sel["year"] <= t1
    right_kind = pd.Series(True, index=sel.index)
    if conversion is not None and "conversion" in sel.columns:
        right_kind = sel["conversion"].fillna("").astype(str) == conversion
    treated_ev = sel[in_years & right_kind]
    mapped = follow_ids(ev, treated_ev["unit_id"], treated_ev["year"] - 1, idset)
    miss = sorted(set(treated_ev["unit_id"][mapped.isna().to_numpy()]))
    if miss:
        msg = (f"{len(miss)} treated unit(s) of the events are missing from the panel "
               f"({_show(miss)}), directly or through later recodes")
        if missing == "error":
            raise IdError(msg + "; give a panel on the events' geography, or "
                          "missing='drop' (--missing drop) to leave them out")
        warnings.warn(msg + "; they are left out", DataWarning, stacklevel=2)
    cohort = pd.Series(0, index=ids, dtype="int64")
    reason = pd.Series("", index=ids, dtype="object")
    first = (pd.DataFrame({"uid": mapped.to_numpy(), "year": treated_ev["year"].to_numpy()})
             .dropna().groupby("uid")["year"].min())
    cohort[first.index] = first.astype("int64")
    status = pd.Series(np.where(cohort > 0, "treated", "comparison"), index=ids,
                       dtype="object")
    reason[cohort > 0] = f"{event} " + cohort[cohort > 0].astype(str)
    # the other events of this kind: their units are neither treated nor comparison
    other = sel[~(in_years & right_kind)]
    for rec in other.itertuples(index=False):
        targets = [rec.unit_id, *[t for t in str(rec.new_ids).split(";") if t]]
        found = follow_ids(ev, targets, [rec.year - 1] + [rec.year] * (len(targets) - 1),
                           idset)
        why = f"{event} {getattr(rec, 'conversion', '') or ''} {rec.year}".replace("  ", " ")
        for uid in found.dropna().unique():
            if status[uid] == "comparison":
                status[uid] = "excluded"
                reason[uid] = why.strip()
    if comparison is not None:
        allowed = set(comparison)
        kinds = pd.Series([unit_kind(u) for u in ids], index=ids)
        drop = (status == "comparison") & ~kinds.isin(allowed)
        status[drop] = "excluded"
        reason[drop] = "not a comparison kind (" + kinds[drop].astype(str) + ")"
    return pd.DataFrame({"cohort": cohort, "status": status, "reason": reason})


def assign_treatment(panel: pd.DataFrame, treatment, *, id_col: str, time_col: str,
                     graph=None, units=None, graph_kind: str = "queen") -> pd.DataFrame:
    """Join treatment cohorts to a panel and flag the neighbours of treated units.

    Parameters
    ----------
    panel : DataFrame
        Long unit x year table.
    treatment : DataFrame or Series
        :func:`cohorts_from_events` output (units with ``status == "excluded"`` are
        dropped), or a Series of cohorts by unit id (0 or NA = never treated).
    id_col, time_col : str
        The unit and year columns.
    graph : SpatialGraph or libpysal Graph/W, optional
        Neighbours of the units, for ``neighbour_of_treated``.
    units : GeoDataFrame, optional
        Boundaries indexed by unit id; the graph is built from them (``graph_kind``)
        when ``graph`` is not given.
    graph_kind : str
        Kind of graph built from ``units``.

    Returns
    -------
    DataFrame
        The panel (excluded units dropped) with ``cohort``, ``never_treated`` and
        ``neighbour_of_treated`` (False everywhere without a graph).

    Raises
    ------
    IdError
        If treated units are missing from the panel.
    DataError
        If a treatment year is outside the panel's years: a cohort needs at least one
        year before treatment and one year treated in the panel.
    """
    df = check_panel(panel, id_col, time_col)
    if isinstance(treatment, pd.Series):
        coh = pd.to_numeric(treatment, errors="coerce").fillna(0).astype("int64")
        coh.index = coh.index.astype(str)
        excluded: set = set()
    else:
        coh = treatment["cohort"].astype("int64")
        coh.index = coh.index.astype(str)
        excluded = set(treatment.index[treatment["status"] == "excluded"].astype(str))
    present = set(df[id_col])
    treated = coh[coh > 0]
    absent = sorted(set(treated.index) - present)
    if absent:
        raise IdError(f"{len(absent)} treated unit(s) are missing from the panel: "
                      f"{_show(absent)}; check the ids (text, leading zeros) or drop them")
    lo, hi = int(df[time_col].min()), int(df[time_col].max())
    outside = treated[(treated <= lo) | (treated > hi)]
    if len(outside):
        shown = [f"{u} ({y})" for u, y in outside.items()]
        raise DataError(f"treatment years outside the panel's years {lo}-{hi}: {_show(shown)};"
                        f" a cohort needs a year before treatment and a treated year in the "
                        f"panel: drop these units or restrict the events to {lo + 1}-{hi}")
    df = df[~df[id_col].isin(excluded)].copy()
    df["cohort"] = df[id_col].map(coh).fillna(0).astype("int64")
    df["never_treated"] = df["cohort"] == 0
    df["neighbour_of_treated"] = False
    if graph is None and units is not None:
        graph = make_graph(units, graph_kind)
    if graph is not None:
        flags = neighbours_of(graph, set(treated.index))
        df["neighbour_of_treated"] = df["never_treated"] & df[id_col].isin(flags)
    return df.reset_index(drop=True)


def neighbours_of(graph, ids) -> set:
    """Return the ids of the graph neighbours of ``ids`` (``ids`` themselves excluded).

    Parameters
    ----------
    graph : SpatialGraph or libpysal Graph/W
    ids : collection of str
    """
    g = as_graph(graph)
    gids = pd.Index(g.unique_ids.astype(str))
    mask = gids.isin(list(ids))
    if not mask.any():
        return set()
    mat = g.sparse
    reached = np.asarray((mat[mask].sum(axis=0) + mat[:, mask].sum(axis=1).T) != 0).ravel()
    return set(gids[reached]) - set(ids)


__all__ = [
    "TREATMENT_COLUMNS",
    "assign_treatment",
    "check_panel",
    "cohorts_from_events",
    "harmonize_panel",
    "lineage_from_events",
    "make_graph",
    "neighbours_of",
]
