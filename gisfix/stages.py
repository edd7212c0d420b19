r"""The four-stage agglomeration-diffusion model of a single city, as explicit rules.

The seed paper (section 1.2, "城市内部空间生产关系的集聚-扩散效应演化规律") describes the
spatial production relations of a single city passing four stages.  The passage
(lines 131-141 of the plain-text seed) reads: "首先，在初期，资本不断进行集聚从而降低成本、市场的
专业化多样化程度不断提升，城市空间生产关系保持集聚效应。其次，资本通过技术创新实现对相对剩余价值的
追求，城市市场规模不断扩大，城市空间生产关系形成最优集聚效应。再次，由于城市内部资本的过度积聚，城市
开始出现规模扩大的需要，空间生产关系开始转向扩散效应。最后，通过城市的空间扩张、产业转移、资本流动的
方式扩大消费和贸易，实现区域性空间生产关系的构建……城市的空间生产关系逐渐保持平稳状态。"
It gives no numbers; gisfix turns each sentence into a rule over measurable evidence of one
period (two consecutive epochs), with every threshold in :class:`StageRules`.

Evidence (one row per period t0 -> t1, see :func:`stage_evidence`)
--------------------------------------------------------------------
``cagr``
    compound annual growth rate of the built-up area, :math:`(U_1/U_0)^{1/\Delta t} - 1`.
``accelerating``
    ``cagr`` above that of the previous period (None for the first period).
``share_infilling``, ``share_edge_expansion``, ``share_outlying``
    the growth-type mix: share of new built-up area in patches of each LEI type
    (:mod:`gisfix.lei`).
``core_share_new``
    share of new built-up land inside the t0 urban core (:func:`gisfix.diffusion.core_periphery`;
    default core: the largest built-up patch at t0 with its holes filled).
``d_largest_patch_share``
    change of the share of built-up land in the largest patch
    (:func:`gisfix.diffusion.largest_patch_share`): the concentration trend, > 0 when
    growth joins the main urban mass.
``gini_t0``, ``gini_t1``, ``d_gini`` (only with a per-unit built-up table)
    Gini of built-up density across units, weighted by land area
    (:func:`gisfix.inequality.gini`): reported, not used by the rules.

Rules (first match wins, in this order)
---------------------------------------
4. **Stable regional system** (平稳状态): ``cagr < stable_growth``.  Paper: "through spatial
   expansion, industrial transfer and capital flow ... the city's spatial production
   relations gradually keep a steady state" -- expansion has run its course, so growth is
   slow.
3. **Turn to diffusion** (转向扩散效应): the period is *dispersing*: ``core_share_new <
   core_share_min`` (most new land lands outside the earlier core) or ``share_outlying >
   outlying_max`` (a large part is leapfrog growth) or ``d_largest_patch_share <
   -patch_share_drop`` (the main urban mass loses weight).  Paper: "because capital
   over-accumulates inside the city, the city needs to grow in scale and its relations turn
   to diffusion".
1. **Agglomeration** (集聚效应): not dispersing, growth fast or accelerating (``cagr >=
   fast_growth`` or ``accelerating``) and not dominated by infilling (``share_infilling <
   infill_min``).  Paper: "at first, capital keeps agglomerating to lower costs" -- the
   compact mass grows quickly at and from its edge.
2. **Optimal agglomeration** (最优集聚效应): every other concentrated period: growth that
   stays in the core but is slowing, or is mostly infilling.  Paper: "capital pursues relative
   surplus value through technical innovation, the market grows, and the city reaches an
   optimal agglomeration" -- the core is filled up to its capacity.

Limits
------
* The paper is qualitative: the thresholds are conventions (defaults argued in
  :class:`StageRules`), not estimates; change them and the labels change.  The evidence
  columns are there so a reader can check or re-label every period.
* The labels hinge on the core.  The default core (largest patch at t0, holes filled) is
  strict: new land at its edge counts as periphery.  On DC-Baltimore 1990 -> 2020 it takes
  24 % of the new built-up land, the largest urban centre of :mod:`gisfix.extents` 29 %,
  all urban centres together 80 %; pass ``core=`` (a polygon layer) or ``dilate_m=`` to
  :func:`stage_evidence` to choose.
* Built-up land stands in for capital, people and industry; the model says nothing about
  the causes (over-accumulation) the paper names.
* Stages are labelled period by period; nothing forces the sequence 1 -> 2 -> 3 -> 4, and a
  city can go "back".  The paper's sequence is a tendency, not a rule the data must obey.
* The core, the LEI buffer and the growth rate depend on the grid: 30 m Landsat (LDSMT),
  100 m GHSL and CORINE (25 ha minimum mapping unit, reclassification noise) give different
  numbers for the same city; compare labels within one product.
* The single-city model ignores the regional system the paper's stage 4 leads into (other
  cities, flows); see :mod:`gisfix.diffusion` and :mod:`gisfix.inequality` for that.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from gisfix.errors import DataError

log = logging.getLogger(__name__)

#: Stage number -> name.
STAGES = {
    1: "agglomeration",
    2: "optimal agglomeration",
    3: "turn to diffusion",
    4: "stable regional system",
}


@dataclass(frozen=True)
class StageRules:
    """Thresholds of the four-stage rules (see the module docstring for the rules).

    Attributes
    ----------
    stable_growth : float
        Below this compound annual growth rate of built-up area (0.005 = 0.5 %/yr) a
        period is stable.  Mature cities in Europe and North America add well under 1 %
        of their built-up area a year; fast-urbanising ones several percent.
    fast_growth : float
        At or above this rate (2 %/yr, about the global mean of urban land expansion in
        Seto et al. 2011, PLoS ONE 6:e23777) concentrated growth is agglomeration.
    core_share_min : float
        Below this share of new land inside the t0 core a period is dispersing (0.5: most
        new land outside).
    outlying_max : float
        Above this share of new area in outlying patches a period is dispersing.
    patch_share_drop : float
        A fall of the largest patch's share of built-up land by more than this (in share
        points, 0.02 = 2 points) marks dispersal.
    infill_min : float
        At or above this share of new area that is infilling, concentrated growth is
        optimal agglomeration rather than agglomeration.
    """

    stable_growth: float = 0.005
    fast_growth: float = 0.02
    core_share_min: float = 0.5
    outlying_max: float = 0.25
    patch_share_drop: float = 0.02
    infill_min: float = 0.5

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not np.isfinite(value) or value < 0:
                raise DataError(f"StageRules.{name} must be a finite number >= 0; got {value}")
        if self.stable_growth > self.fast_growth:
            raise DataError(
                f"StageRules.stable_growth ({self.stable_growth}) must not exceed "
                f"fast_growth ({self.fast_growth})")


EVIDENCE_COLUMNS = (
    "t0", "t1", "years", "builtup_t0_km2", "builtup_t1_km2", "new_km2", "cagr",
    "accelerating", "new_patches", "share_infilling", "share_edge_expansion",
    "share_outlying", "core_share_new", "largest_patch_share_t0", "largest_patch_share_t1",
    "d_largest_patch_share",
)


def stage_evidence(stack, epochs: Sequence[int] | None = None, *, buffer_m: float | None = None,
                   connectivity: int = 8, table: pd.DataFrame | None = None,
                   **core_options) -> pd.DataFrame:
    """Measure the evidence of the four-stage rules for each period of a built-up stack.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The city's built-up stack (the whole grid is the city or region).
    epochs : list of int, optional
        Epochs delimiting the periods (default: all of the stack's).
    buffer_m : float, optional
        LEI buffer (default one cell).
    connectivity : {8, 4}
        Patch connectivity for the LEI and the largest patch.
    table : pandas.DataFrame, optional
        Long built-up table by unit (:func:`gisfix.zonal.builtup_by_unit`); adds the Gini
        of built-up density across units.
    **core_options
        The core definition, as :func:`gisfix.diffusion.core_mask`.

    Returns
    -------
    pandas.DataFrame
        One row per period, the columns listed in the module docstring.
    """
    from gisfix.diffusion import _built_layers, _epochs, core_mask, largest_patch
    from gisfix.lei import buffer_offsets, cell_size_m, growth_type_mix, lei_arrays, lei_weighting

    eps = _epochs(stack, epochs)
    if len(eps) < 2:
        raise DataError(f"the stage model needs at least two epochs; got {eps}")
    built, valid = _built_layers(stack, None, eps)
    row_area = stack.row_cell_areas()
    area = row_area[:, None] / 1e6
    offsets = buffer_offsets(buffer_m, cell_size_m(stack)) if buffer_m is not None else None
    lps = {}
    for e in eps:
        total = float((built[e] * area).sum())
        lps[e] = float((largest_patch(built[e], connectivity) * area).sum()) / total \
            if total > 0 else np.nan
    rows = []
    prev_cagr = None
    for a, b in zip(eps[:-1], eps[1:]):
        u0 = float((built[a] * area).sum())
        u1 = float((built[b] * area).sum())
        years = float(b - a)
        cagr = (u1 / u0) ** (1 / years) - 1 if u0 > 0 else np.nan
        _, patches = lei_arrays(built[a], built[b], valid, offsets=offsets,
                                connectivity=connectivity, row_areas=row_area,
                                lei_from=lei_weighting(stack, buffer_m))
        mix = growth_type_mix(patches)
        core = core_mask(stack, a, **core_options) if core_options else None
        if core is None:
            from scipy import ndimage

            core = ndimage.binary_fill_holes(largest_patch(built[a], connectivity))
        new = built[b] & ~built[a] & valid
        n_all = float((new * area).sum())
        n_core = float((new & core).sum(axis=1) @ area[:, 0])
        rows.append({
            "t0": a, "t1": b, "years": years, "builtup_t0_km2": u0, "builtup_t1_km2": u1,
            "new_km2": n_all, "cagr": cagr,
            "accelerating": None if prev_cagr is None or np.isnan(prev_cagr)
            else bool(cagr > prev_cagr),
            "new_patches": int(mix["new_patches"]),
            "share_infilling": mix["share_infilling"],
            "share_edge_expansion": mix["share_edge_expansion"],
            "share_outlying": mix["share_outlying"],
            "core_share_new": n_core / n_all if n_all > 0 else np.nan,
            "largest_patch_share_t0": lps[a], "largest_patch_share_t1": lps[b],
            "d_largest_patch_share": lps[b] - lps[a],
        })
        prev_cagr = cagr
    out = pd.DataFrame(rows)
    if table is not None:
        out = _add_gini(out, table)
    return out


def _add_gini(out: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    from gisfix.inequality import gini

    need = {"unit_id", "epoch", "builtup_km2", "valid_km2"}
    if not need <= set(table.columns):
        raise DataError(f"the built-up table needs columns {sorted(need)}; got "
                        f"{list(table.columns)}")
    g = {}
    for e, part in table.groupby("epoch"):
        part = part[part["valid_km2"] > 0]
        g[int(e)] = gini(part["builtup_km2"] / part["valid_km2"], weights=part["valid_km2"])
    out["gini_t0"] = out["t0"].map(g)
    out["gini_t1"] = out["t1"].map(g)
    out["d_gini"] = out["gini_t1"] - out["gini_t0"]
    return out


def classify_stages(evidence: pd.DataFrame, rules: StageRules | None = None) -> pd.DataFrame:
    """Label each period of ``evidence`` with a stage, by the rules of the module docstring.

    Parameters
    ----------
    evidence : pandas.DataFrame
        As :func:`stage_evidence` returns (or hand-made with the same columns).
    rules : StageRules, optional
        Thresholds; the defaults of :class:`StageRules` when None.

    Returns
    -------
    pandas.DataFrame
        ``evidence`` plus ``dispersing`` (bool), ``stage`` (1-4), ``stage_name`` and
        ``rule`` (the condition that fired, with the numbers).
    """
    r = rules or StageRules()
    need = ["cagr", "accelerating", "share_infilling", "share_outlying", "core_share_new",
            "d_largest_patch_share"]
    missing = [c for c in need if c not in evidence.columns]
    if missing:
        raise DataError(f"stage evidence lacks column(s) {', '.join(missing)}; build it with "
                        "stage_evidence()")
    out = evidence.copy()
    stages, texts, disp = [], [], []
    for _, row in out.iterrows():
        g = row["cagr"]
        reasons = []
        if row["core_share_new"] < r.core_share_min:
            reasons.append(f"core_share_new {row['core_share_new']:.3f} < {r.core_share_min}")
        if row["share_outlying"] > r.outlying_max:
            reasons.append(f"share_outlying {row['share_outlying']:.3f} > {r.outlying_max}")
        if row["d_largest_patch_share"] < -r.patch_share_drop:
            reasons.append(f"d_largest_patch_share {row['d_largest_patch_share']:+.3f} < "
                           f"-{r.patch_share_drop}")
        dispersing = bool(reasons)
        disp.append(dispersing)
        if not np.isfinite(g):
            stages.append(np.nan)
            texts.append("no built-up land at t0: no growth rate")
        elif g < r.stable_growth:
            stages.append(4)
            texts.append(f"cagr {g:.4f} < stable_growth {r.stable_growth}")
        elif dispersing:
            stages.append(3)
            texts.append("dispersing: " + "; ".join(reasons))
        elif (g >= r.fast_growth or row["accelerating"] is True) and \
                row["share_infilling"] < r.infill_min:
            why = (f"cagr {g:.4f} >= fast_growth {r.fast_growth}" if g >= r.fast_growth
                   else "accelerating")
            stages.append(1)
            texts.append(f"concentrated; {why}; share_infilling "
                         f"{row['share_infilling']:.3f} < {r.infill_min}")
        else:
            stages.append(2)
            texts.append(f"concentrated; cagr {g:.4f}, accelerating={row['accelerating']}, "
                         f"share_infilling {row['share_infilling']:.3f}")
    out["dispersing"] = disp
    out["stage"] = pd.array(stages, dtype="Int64")
    out["stage_name"] = [STAGES.get(s) if s == s else None for s in stages]
    out["rule"] = texts
    return out


def city_stages(stack, epochs: Sequence[int] | None = None, *, rules: StageRules | None = None,
                **evidence_options) -> pd.DataFrame:
    """Measure the evidence and label every period.

    :func:`stage_evidence` then :func:`classify_stages`; keyword options go to the former.
    """
    return classify_stages(stage_evidence(stack, epochs, **evidence_options), rules)


__all__ = ["STAGES", "StageRules", "city_stages", "classify_stages", "stage_evidence"]
