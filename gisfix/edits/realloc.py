r"""Reallocating attributes through boundary edits, with totals conserved exactly.

The edits link every input unit :math:`i` to the output units :math:`j` that received part
of it (the lineage, :mod:`gisfix.edits.lineage`).  For a unit that was divided, the shares
are geometric: the areas of the pieces :math:`i \cap j` or, dasymetrically, their
built-up areas :math:`w_{ij}` (from a :class:`~gisfix.stack.BuiltupStack` at one epoch):

.. math::

    s_{ij} = \frac{w_{ij}}{\sum_k w_{ik}}, \qquad
    X_j = \sum_i s_{ij} X_i, \qquad
    r_j = \frac{\sum_i |i \cap j|\, r_i}{\sum_i |i \cap j|}

for an extensive column :math:`X` (population, GDP, built-up km²) and an area-weighted
intensive column :math:`r`; a ratio column ``rate = num/den`` is recomputed from the
reallocated extensives instead.  A unit whose pieces hold no built-up area falls back to
area shares.  This is areal weighting (Goodchild & Lam 1980, *Geo-Processing* 1:297-312)
and its binary dasymetric refinement (Mennis 2003, *The Professional Geographer*
55(1):31-42), computed from the original units, so a sequence of edits gives the same
values as one overlay of the input and output layers.

Conservation is exact: integer columns are split by largest remainder (Hamilton's
method), float columns give the largest piece the rest (:math:`X_i - \sum` of the others),
and a final correction makes the correctly rounded sum (:func:`math.fsum`) of every
extensive column after the edits equal to the one before, to the last bit.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import shapely

from gisfix.errors import DataError, EditError

#: Pieces smaller than this share of their unit are contact noise along shared edges.
SHARE_EPSILON = 1e-9


def parse_intensive(intensive) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Split intensive specs into area-weighted columns and ratios ``{col: (num, den)}``.

    Accepts a list of ``"col"`` / ``"col=num/den"`` strings or a mapping
    ``{"col": "num/den" or None}``.

    Parameters
    ----------
    intensive : list of str or mapping
        The intensive column specs.
    """
    items = intensive.items() if isinstance(intensive, dict) else [
        tuple(s.split("=", 1)) if "=" in s else (s, None) for s in intensive]
    plain, ratio = [], {}
    for col, spec in items:
        col = col.strip()
        if spec is None or str(spec).strip() == "":
            plain.append(col)
            continue
        num, sep, den = str(spec).partition("/")
        if not sep or not num.strip() or not den.strip():
            raise EditError(f"intensive column {col!r}: expected 'num/den', got {spec!r}")
        ratio[col] = (num.strip(), den.strip())
    return plain, ratio


def piece_shares(step, weighted: bool) -> dict[str, list[tuple[str, float, float, float]]]:
    """Return ``old id -> [(new id, area share, weight share, piece area), ...]`` for a step.

    The weight share is the built-up share when ``weighted`` and the unit holds built-up
    area, else the area share.

    Parameters
    ----------
    step : Step
        An applied edit step.
    weighted : bool
        Use built-up weights where the pieces carry them.
    """
    by_old: dict[str, list] = {}
    for p in step.pieces:
        by_old.setdefault(p.old, []).append(p)
    out = {}
    for old, ps in by_old.items():
        if len(ps) == 1:
            out[old] = [(ps[0].new, 1.0, 1.0, ps[0].area)]
            continue
        a = np.array([p.area for p in ps], dtype=float)
        a_share = a / a.sum() if a.sum() > 0 else np.full(len(ps), 1 / len(ps))
        w = np.array([p.weight for p in ps], dtype=float)
        if weighted and np.isfinite(w).all() and w.sum() > 0:
            w_share = w / w.sum()
        else:
            w_share = a_share
        out[old] = [(p.new, float(x), float(y), p.area) for p, x, y in zip(ps, a_share, w_share)]
    return out


def allocate(value, shares, integer: bool = False) -> list:
    """Split ``value`` into parts proportional to ``shares`` that sum back to it exactly.

    Integers use the largest-remainder method; floats give the largest share the rest.
    NaN gives NaN parts.

    Parameters
    ----------
    value : number
        The value to split.
    shares : sequence of float
        Non-negative shares.
    integer : bool
        Split an integer count (largest remainders).
    """
    n = len(shares)
    if n == 1:
        return [value]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return [float("nan")] * n
    shares = np.asarray(shares, dtype=float)
    if integer:
        v = int(value)
        raw = v * shares
        base = np.floor(raw).astype(np.int64)
        rest = v - int(base.sum())
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:rest]] += 1
        return [int(b) for b in base]
    v = float(value)
    parts = [v * s for s in shares]
    big = int(np.argmax(shares))
    parts[big] = v - math.fsum(parts[:big] + parts[big + 1:])
    return parts


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def builtup_km2(geoms, crs, stack, epoch) -> np.ndarray:
    """Return the built-up km² at ``epoch`` inside each geometry (exact coverage fractions).

    Parameters
    ----------
    geoms : sequence of shapely geometries
        Polygons in ``crs``.
    crs : CRS-like
        Their CRS.
    stack : BuiltupStack
        The built-up rasters.
    epoch : int
        The epoch.
    """
    import geopandas as gpd

    from gisfix.zonal import builtup_by_unit

    if len(geoms) == 0:
        return np.zeros(0)
    stack.epoch_index(epoch)  # raises naming the epochs
    keys = [f"p{k}" for k in range(len(geoms))]
    gdf = gpd.GeoDataFrame({"piece": keys}, geometry=list(geoms), crs=crs).set_index("piece")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pieces outside the raster simply weigh nothing
        long = builtup_by_unit(gdf, stack, method="exact")
    got = long[long["epoch"] == int(epoch)].set_index("unit_id")["builtup_km2"]
    return np.array([float(got.get(k, 0.0)) for k in keys])


def refine_lineage(lineage: pd.DataFrame, old_geoms: dict, new_geoms: dict, area_fn,
                   crs=None, stack=None, epoch=None) -> pd.DataFrame:
    r"""Replace composed shares by geometric ones for input units that were divided.

    For an input unit :math:`i` linked to several output units :math:`j`, the shares become
    :math:`\alpha_{ij} = |i \cap j| / \sum_k |i \cap k|` (and built-up shares likewise
    with a stack), so a unit merged and then partly transferred gives the transferred land
    to whichever of its original units it came from.  Pairs that do not overlap are
    dropped; every unit's shares still sum to 1.

    Parameters
    ----------
    lineage : DataFrame
        Composed crosswalk.
    old_geoms, new_geoms : dict
        ``id -> geometry`` before and after the edits.
    area_fn : callable
        Areas of a list of geometries (m²).
    crs : CRS-like, optional
        CRS of the geometries (with ``stack``).
    stack : BuiltupStack, optional
        Built-up rasters for built-up shares.
    epoch : int, optional
        Epoch of ``stack``.
    """
    multi = lineage["old_id"].duplicated(keep=False).to_numpy()
    if not multi.any():
        return lineage
    sub = lineage[multi]
    pieces = shapely.intersection(
        np.asarray([old_geoms[o] for o in sub["old_id"]], dtype=object),
        np.asarray([new_geoms[n] for n in sub["new_id"]], dtype=object))
    a = np.asarray(area_fn(pieces), dtype=float)
    tot = pd.Series(a, index=sub.index).groupby(sub["old_id"]).transform("sum").to_numpy()
    a = np.where(a < SHARE_EPSILON * tot, 0.0, a)  # edge-contact noise, not land
    sub = sub.assign(_a=a)
    tot = sub.groupby("old_id")["_a"].transform("sum").to_numpy()
    area_share = np.where(tot > 0, a / np.where(tot > 0, tot, 1), sub["area_share"].to_numpy())
    sub = sub.assign(area_share=area_share)
    if stack is not None:
        w = np.where(a > 0, builtup_km2(pieces, crs, stack, epoch), 0.0)
        wt = pd.Series(w, index=sub.index).groupby(sub["old_id"]).transform("sum").to_numpy()
        sub = sub.assign(weight_share=np.where(wt > 0, w / np.where(wt > 0, wt, 1), area_share))
    else:
        sub = sub.assign(weight_share=area_share)
    out = pd.concat([lineage[~multi], sub.drop(columns=["_a"])])
    keep = (out["area_share"] > 0) | (out["weight_share"] > 0)
    # keep at least one row per input unit even if every piece is degenerate
    keep |= ~out["old_id"].duplicated(keep=False)
    out = out[keep]
    return out.loc[sorted(out.index)].reset_index(drop=True)


def from_lineage(lineage: pd.DataFrame, values: pd.DataFrame, extensive, plain, integer,
                 old_areas: pd.Series | None = None, share: str = "weight_share"):
    """Reallocate columns from old units onto new units through a crosswalk.

    Extensive columns are split per old unit with :func:`allocate` (so each unit's value
    is conserved exactly) and summed per new unit; plain intensive columns are averaged
    with weights ``area_share * old_areas``.

    Parameters
    ----------
    lineage : DataFrame
        The crosswalk.
    values : DataFrame
        Old units' columns, indexed by old id.
    extensive : list of str
        Columns split and summed.
    plain : list of str
        Columns averaged by area.
    integer : set of str
        Extensive columns holding integer counts.
    old_areas : Series, optional
        Old units' areas (needed with ``plain``).
    share : str
        The lineage column of shares to split extensives by.

    Returns
    -------
    (dict, set)
        ``column -> {new id: value}`` and the new ids that received anything but one whole
        old unit (their values are recomputed; the others keep the old value as is).
    """
    # a new unit is altered unless it receives exactly one old unit, whole (both shares 1)
    new_ids = lineage["new_id"]
    whole = ((lineage["area_share"].to_numpy() == 1.0) & (lineage[share].to_numpy() == 1.0)
             & ~new_ids.duplicated(keep=False).to_numpy())
    altered = set(new_ids[~whole].tolist())
    rows_by_old: dict[str, list] = {}
    incoming: dict[str, list] = {}
    if extensive or plain:  # the per-row tables only the reallocation needs
        for old, new, a_s, w_s in zip(lineage["old_id"].tolist(), new_ids.tolist(),
                                      lineage["area_share"].tolist(),
                                      lineage[share].tolist()):
            rows_by_old.setdefault(old, []).append((new, a_s, w_s))
            incoming.setdefault(new, []).append((old, a_s, w_s))
    out = {}
    for col in extensive:
        col_vals = values[col].to_dict()
        is_int = col in integer
        acc: dict[str, list] = {}
        for old, rows in rows_by_old.items():
            v = col_vals.get(old, float("nan"))
            parts = [v] if len(rows) == 1 and rows[0][2] == 1.0 else allocate(
                v, [r[2] for r in rows], is_int)
            for (n, *_), x in zip(rows, parts):
                acc.setdefault(n, []).append(x)
        res = {}
        for n, parts in acc.items():
            if len(parts) == 1:
                res[n] = parts[0]
            elif any(_is_missing(x) for x in parts):
                res[n] = float("nan")
            else:
                res[n] = int(sum(parts)) if is_int else math.fsum(parts)
        out[col] = res
    for col in plain:
        col_vals = values[col].to_dict()
        res = {}
        for n, ins in incoming.items():
            if n not in altered:
                res[n] = col_vals.get(ins[0][0], float("nan"))
                continue
            if old_areas is None:
                raise EditError(f"intensive column {col!r} needs the old units' areas")
            xs = [col_vals.get(o, float("nan")) for o, *_ in ins]
            ws = [a_s * float(old_areas[o]) for o, a_s, _ in ins]
            if any(_is_missing(x) for x in xs) or math.fsum(ws) <= 0:
                res[n] = float("nan")
            else:
                res[n] = math.fsum(x * w for x, w in zip(xs, ws)) / math.fsum(ws)
        out[col] = res
    return out, altered


def conserve(before: dict, after: dict, adjustable) -> float:
    """Nudge one adjustable value so that ``fsum(after) == fsum(before)`` (NaN skipped).

    Returns the total correction applied (a few ulps of the largest value).

    Parameters
    ----------
    before : dict
        ``id -> value`` before.
    after : dict
        ``id -> value`` after (changed in place).
    adjustable : iterable
        Ids whose value may be nudged.
    """
    def total(d):
        return math.fsum(v for v in d.values() if not _is_missing(v))

    target = total(before)
    keys = [k for k in adjustable if k in after and not _is_missing(after[k])]
    if not keys:
        return 0.0
    key = max(keys, key=lambda k: abs(after[k]))
    applied = 0.0
    for _ in range(50):
        diff = target - total(after)
        if diff == 0:
            break
        after[key] = after[key] + diff
        applied += diff
    return applied


def check_columns(units: pd.DataFrame, extensive, plain, ratio) -> None:
    """Raise if a declared column is missing or not numeric, naming the columns there are.

    Parameters
    ----------
    units : DataFrame
        The units.
    extensive : list of str
        Extensive columns.
    plain : list of str
        Area-weighted intensive columns.
    ratio : dict
        ``{column: (numerator, denominator)}``.
    """
    names = [c for c in units.columns if c != getattr(units, "geometry", pd.Series()).name]
    for col in [*extensive, *plain, *[c for spec in ratio.values() for c in spec]]:
        if col not in units.columns:
            raise EditError(f"no column {col!r} in the units; columns: {', '.join(names)}")
        if not pd.api.types.is_numeric_dtype(units[col]):
            raise DataError(f"column {col!r} is {units[col].dtype}, not numeric; an extensive "
                            "or intensive column must hold numbers")
    both = set(extensive) & (set(plain) | set(ratio))
    if both:
        raise EditError(f"column(s) {', '.join(sorted(both))} declared both extensive and "
                        "intensive; choose one")
