r"""Lineage crosswalks for edit sequences, and panel harmonisation with them.

The crosswalk of a sequence of edits links every input unit :math:`i` to every output
unit :math:`j` that received part of it.  The links are found by composing the edits
(:func:`compose`: the product of the per-step piece shares along every chain of pieces, as
in the harmonisation of census geographies, Logan, Xu & Stults 2014, *The Professional
Geographer* 66(3):412-420); for a unit that was divided the shares are then measured on
the geometry (:func:`gisfix.edits.realloc.refine_lineage`):

.. math::

    \alpha_{ij} = \frac{|i \cap j|}{\sum_k |i \cap k|}, \qquad
    \omega_{ij} = \frac{B(i \cap j)}{\sum_k B(i \cap k)}

with :math:`B` the built-up area (``weight_share``; equal to :math:`\alpha_{ij}` without
a raster stack or where the unit holds no built-up area).  The shares of every input unit
sum to 1, so extensive totals are conserved by :func:`harmonize`.
"""

from __future__ import annotations

import math

import pandas as pd

from gisfix.edits.realloc import allocate, parse_intensive, piece_shares
from gisfix.errors import EditError, IdError

#: Columns of a lineage crosswalk.
LINEAGE_COLUMNS = ["old_id", "new_id", "area_share", "weight_share"]


def compose(steps, ids, weighted: bool = False) -> pd.DataFrame:
    """Compose the per-step piece shares into one crosswalk ``old_id -> new_id``.

    Parameters
    ----------
    steps : list of Step
        The steps of :func:`gisfix.edits.apply_scenario`, in order.
    ids : sequence of str
        The input unit ids.
    weighted : bool
        Whether the pieces carry built-up weights.

    Returns
    -------
    DataFrame
        Columns ``old_id, new_id, area_share, weight_share``; units untouched by the edits
        map to themselves with shares 1.
    """
    ids = list(ids)
    # cw[orig][cur]: shares of input unit orig now in current unit cur; rev[cur]: the input
    # units in cur.  Input units no edit has reached yet (``fresh``) get their entries when
    # an edit first takes them (untouched units: no per-unit containers to build)
    cw: dict[str, dict[str, list[float]]] = {}
    rev: dict[str, set[str]] = {}
    fresh = set(ids)

    def origins(cur: str) -> set[str]:
        if cur in rev:
            return rev.pop(cur)
        if cur in fresh:
            fresh.discard(cur)
            cw[cur] = {cur: [1.0, 1.0]}
            return {cur}
        return set()

    for step in steps:
        shares = piece_shares(step, weighted)
        new_rev: dict[str, set[str]] = {}
        for old, rows in shares.items():
            for orig in origins(old):
                a0, w0 = cw[orig].pop(old)
                for new, a_s, w_s, _ in rows:
                    acc = cw[orig].setdefault(new, [0.0, 0.0])
                    acc[0] += a0 * a_s
                    acc[1] += w0 * w_s
                    new_rev.setdefault(new, set()).add(orig)
        for new, origs in new_rev.items():
            rev.setdefault(new, set()).update(origs)
    rows = [(o, n, a, w) for o in ids
            for n, (a, w) in (cw[o].items() if o in cw else ((o, (1.0, 1.0)),))]
    return pd.DataFrame(rows, columns=LINEAGE_COLUMNS)


def check_lineage(lineage: pd.DataFrame) -> None:
    """Raise :class:`EditError` unless ``lineage`` has the crosswalk columns.

    Parameters
    ----------
    lineage : DataFrame
        A crosswalk (:data:`LINEAGE_COLUMNS`).
    """
    missing = [c for c in LINEAGE_COLUMNS if c not in lineage.columns]
    if missing:
        raise EditError(f"a lineage table needs columns {', '.join(LINEAGE_COLUMNS)}; missing "
                        f"{', '.join(missing)} (use EditResult.lineage)")


def harmonize(panel: pd.DataFrame, lineage: pd.DataFrame, extensive=(), intensive=(), *,
              id_col: str | None = None, time_col: str | None = None,
              share: str = "weight_share", areas: pd.Series | None = None) -> pd.DataFrame:
    r"""Carry a panel observed on the old units onto the new units of a lineage crosswalk.

    Extensive columns are allocated with the crosswalk shares (conserving every period's
    total exactly, as in :func:`gisfix.edits.realloc.allocate`):

    .. math:: X_j = \sum_i \omega_{ij} X_i,

    ratio columns ``rate=num/den`` are recomputed from the harmonized extensives, and plain
    intensive columns are averaged with weights :math:`\alpha_{ij} A_i` (``areas``).

    Parameters
    ----------
    panel : DataFrame
        One row per old unit (and period, with ``time_col``); ids in ``id_col`` or the index.
    lineage : DataFrame
        ``old_id, new_id, area_share, weight_share`` (:attr:`EditResult.lineage`).
    extensive : list of str
        Columns to allocate.
    intensive : list of str or dict
        ``"col=num/den"`` ratios, or plain columns (need ``areas``).
    id_col, time_col : str, optional
        Id and period columns of a long panel.
    share : {"weight_share", "area_share"}
        Which crosswalk share allocates the extensives.
    areas : Series, optional
        Old units' areas indexed by old id, for plain intensive columns.

    Returns
    -------
    DataFrame
        Indexed by the new id (and with the period column for a long panel).

    Raises
    ------
    IdError
        If the panel holds ids the crosswalk does not know.
    """
    check_lineage(lineage)
    if share not in ("weight_share", "area_share"):
        raise EditError(f"share must be 'weight_share' or 'area_share', got {share!r}")
    plain, ratio = parse_intensive(intensive)
    if plain and areas is None:
        raise EditError(f"plain intensive columns {plain} need areas= (old units' areas); or "
                        "give them as ratios 'col=num/den' of extensive columns")
    ext = list(dict.fromkeys([*extensive, *[c for spec in ratio.values() for c in spec]]))
    df = panel.copy()
    if id_col is not None:
        df = df.set_index(id_col)
    df.index = df.index.astype(str)
    known = set(lineage["old_id"].astype(str))
    unknown = sorted(set(df.index) - known)
    if unknown:
        raise IdError(f"{len(unknown)} panel ids are not in the lineage's old_id "
                      f"({', '.join(unknown[:8])}); harmonize from the vintage the edits "
                      "started from")
    for col in ext + plain:
        if col not in df.columns:
            raise EditError(f"no column {col!r} in the panel; columns: {', '.join(df.columns)}")
    groups = [(None, df)] if time_col is None else list(df.groupby(time_col, sort=True))
    out = []
    lin = lineage.assign(old_id=lineage["old_id"].astype(str),
                         new_id=lineage["new_id"].astype(str))
    by_old = {o: g for o, g in lin.groupby("old_id", sort=False)}
    new_order = list(dict.fromkeys(lin["new_id"]))
    for t, g in groups:
        res = pd.DataFrame(index=pd.Index(new_order, name="new_id"))
        for col in ext:
            integer = pd.api.types.is_integer_dtype(g[col])
            acc: dict[str, list] = {n: [] for n in new_order}
            for old, rows in by_old.items():
                v = g[col].get(old, float("nan"))
                parts = allocate(v, rows[share].to_numpy(), integer)
                for n, x in zip(rows["new_id"], parts):
                    acc[n].append(x)
            res[col] = [(_sum(acc[n], integer)) for n in new_order]
        for col, (num, den) in ratio.items():
            res[col] = res[num] / res[den].where(res[den] != 0)
        for col in plain:
            a = lin["area_share"] * lin["old_id"].map(areas.astype(float)).fillna(0.0)
            vals = lin["old_id"].map(g[col])
            tmp = pd.DataFrame({"n": lin["new_id"], "wv": a * vals, "w": a})
            agg = tmp.groupby("n", sort=False)[["wv", "w"]].sum(min_count=1)
            res[col] = (agg["wv"] / agg["w"]).reindex(new_order)
        if time_col is not None:
            res.insert(0, time_col, t)
        out.append(res)
    return pd.concat(out) if len(out) > 1 else out[0]


def _sum(parts, integer):
    if not parts or any(p is None or (isinstance(p, float) and math.isnan(p)) for p in parts):
        return float("nan")
    return int(sum(parts)) if integer else math.fsum(parts)

#: QGIS colours (R,G,B) of :func:`unit_status` labels.
STATUS_COLORS = {"unchanged": "220,220,220", "merged": "240,59,32",
                 "boundary changed": "49,130,189", "recoded": "116,196,118"}


def unit_status(lineage: pd.DataFrame, new_ids) -> pd.Series:
    """Label each new unit from the lineage: unchanged, recoded, merged or boundary changed.

    ``unchanged``: one source unit, taken whole, same id; ``recoded``: the same but a new
    id; ``merged``: two or more source units taken whole; ``boundary changed``: anything
    else (transfers, splits, partial merges).

    Parameters
    ----------
    lineage : DataFrame
        The crosswalk of an edit (:attr:`EditResult.lineage`).
    new_ids : sequence
        The ids of the edited units.
    """
    parts = lineage[lineage["area_share"] > 1e-6]
    sources = parts.groupby("new_id")["old_id"].agg(list)
    whole = parts[parts["area_share"] > 0.999].groupby("new_id").size()
    out = {}
    for nid in new_ids:
        olds = sources.get(nid, [])
        n_whole = int(whole.get(nid, 0))
        if len(olds) == 1 and n_whole == 1:
            out[nid] = "unchanged" if olds[0] == nid else "recoded"
        elif n_whole >= 2:
            out[nid] = "merged"
        else:
            out[nid] = "boundary changed"
    return pd.Series(out, name="status").reindex(list(new_ids))
