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

Many cities, units and the regional system
------------------------------------------
The model is one of *each city* (section 1.2 of the seed), and its stage 4 is a *regional*
system (section 2).  :func:`stages_by_extents` applies the rules above to every city
tracked by :func:`gisfix.extents.track_extents` (a city is its urban extent at t1; its
core the extents at t0 it contains; births, growth and coalescences are recorded), and
:func:`stages_by_units` to every boundary unit (its core: the urban extents at t0 inside
it).  Each row keeps its evidence (:data:`ZONE_COLUMNS`), so every label can be checked.

The regional system of each period (:func:`regional_system`) is measured by the trends of
primacy and rank-size (Zipf) of the tracked cities, the morphological polycentricity of
Burger & Meijers (2012) (:func:`polycentricity`: the mean rank-size slope of the 2, 3 and
4 largest centres), the growth share of the secondary centres (all but the largest city)
and the counts of births and coalescences.  :func:`classify_region` labels the region,
first match wins:

R4a. **Stable regional system, by diffusion to secondary centres**: at least two cities,
     ``secondary_growth_share >= secondary_share_min``, primacy not rising
     (``d_primacy_2 <= primacy_rise_max``) and polycentricity not falling
     (``d_polycentricity_bm >= -polycentricity_drop_max``).  Seed (lines 139-143):
     "通过城市的空间扩张、产业转移、资本流动的方式扩大消费和贸易，实现区域性空间生产关系的构建"
     -- through spatial expansion, industrial transfer and capital flow the city builds
     *regional* spatial production relations; and section 2.2: "由于资本的流动促使各部门利润
     率趋于平均化，进而导致形成了一个具备等级梯度的空间秩序体系" -- capital flows even out
     profit rates and form a hierarchical, graded spatial order.  Growth shared by the
     secondary centres without a rising primate is that flow made visible.
R4b. **Stable regional system, by coalescence**: at least one coalescence while the
     primate city is itself in stage 3 or 4.  Seed (section 2.2): "随着劳动生产率提高、生活
     节奏加速、城市空间扩张、城镇人口增多、区域一体化形成" -- as cities expand, regional
     integration forms: the diffusing main city absorbs its neighbours.
R1-3. Otherwise the region is labelled by its **primate city** (stages 1-3 above): a region
     whose growth is not shared is still the model of one city.  Seed (section 2.1): "资本
     主要的再生产过程、固定投资都锁定在某一城市的空间生产中，城市的扩张和资本的分散是受到一定
     的限制" -- reproduction and fixed investment stay locked in one city, so its expansion
     and the dispersal of capital are limited.

The thresholds are conventions (:class:`StageRules`), not estimates; the evidence columns
are there to re-label.

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
* The regional rules see the form of the city system (sizes, growth shares, mergers), not
  the flows (capital, commuting, trade) the paper names; functional polycentricity
  (Burger & Meijers 2012) needs flow data gisfix does not have.
* Extents (the cities) depend on their delineation (:func:`gisfix.extents.urban_extents`):
  coarser cells or lower thresholds join cities earlier and record more coalescences.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from gisfix.errors import DataError
from gisfix.parallel import stack_task

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
    secondary_share_min : float
        Regional rule R4a: the cities other than the largest (the secondary centres) take
        at least this share of the region's new built-up land in urban extents (0.5: most
        of it).
    primacy_rise_max : float
        Regional rule R4a: the two-city primacy index may rise by at most this much (0:
        must not rise).
    polycentricity_drop_max : float
        Regional rule R4a: the morphological polycentricity index may fall by at most this
        much (0: must not fall).
    """

    stable_growth: float = 0.005
    fast_growth: float = 0.02
    core_share_min: float = 0.5
    outlying_max: float = 0.25
    patch_share_drop: float = 0.02
    infill_min: float = 0.5
    secondary_share_min: float = 0.5
    primacy_rise_max: float = 0.0
    polycentricity_drop_max: float = 0.0

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
                   max_cells: int | None = None, scheduler=None,
                   **core_options) -> pd.DataFrame:
    """Measure the evidence of the four-stage rules for each period of a built-up stack.

    Every measure is windowed: built-up totals, the largest patch
    (:func:`gisfix.diffusion.largest_patch_share`), the core and its share of new land
    (:func:`gisfix.diffusion.core_periphery`) are computed in full-width row strips of
    ``max_cells`` cells, patches stitched across strip edges, so memory depends on the
    strip size and the evidence equals a whole-grid computation; the LEI is that of
    :func:`gisfix.lei.landscape_expansion_index`.

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
    max_cells : int, optional
        Cells per row strip (default :data:`gisfix.stack.DEFAULT_WINDOW_CELLS`).
    scheduler : None, str or distributed.Client
        Where the strips are computed (:func:`gisfix.parallel.resolve_scheduler`).
    **core_options
        The core definition, as :func:`gisfix.diffusion.core_mask`.

    Returns
    -------
    pandas.DataFrame
        One row per period, the columns listed in the module docstring.

    Raises
    ------
    DataError
        With fewer than two epochs.
    """
    from gisfix.diffusion import _core_source, _epochs, _patch_cores, _patch_pass, _row_strips
    from gisfix.lei import growth_type_mix, landscape_expansion_index
    from gisfix.parallel import imap_blocks, scheduler_session

    eps = _epochs(stack, epochs)
    if len(eps) < 2:
        raise DataError(f"the stage model needs at least two epochs; got {eps}")
    periods = list(zip(eps[:-1], eps[1:]))
    strips = _row_strips(stack, max_cells)
    row_km2 = stack.row_cell_areas() / 1e6
    with scheduler_session(scheduler) as sched:
        patches = _patch_pass(stack, eps, connectivity, strips, sched)
        if core_options:
            cores = [_core_source(stack, a, max_cells=max_cells, scheduler=sched,
                                  patches=patches[a] if connectivity == 8 else None,
                                  **core_options) for a, _ in periods]
        else:  # the largest patch at t0 (same connectivity) with its holes filled
            cores = _patch_cores(stack, [(a, connectivity, patches[a]) for a, _ in periods],
                                 strips, sched)
        jobs = [(stack, r0, r1, eps, periods, [c.restrict(r0, r1) for c in cores])
                for r0, r1 in strips]
        rows_new = [[] for _ in periods]
        rows_core = [[] for _ in periods]
        for part in imap_blocks(_stage_strip, jobs, sched):
            for k, (n_new, n_core) in enumerate(part):
                rows_new[k].append(n_new)
                rows_core[k].append(n_core)
        mixes = [growth_type_mix(landscape_expansion_index(
            stack, a, b, buffer_m=buffer_m, connectivity=connectivity, polygons=False,
            scheduler=sched, window_cells=max_cells or _default_cells()))
            for a, b in periods]
    lps = {e: patches[e].share for e in eps}
    rows = []
    prev_cagr = None
    for k, (a, b) in enumerate(periods):
        u0 = patches[a].total_m2 / 1e6
        u1 = patches[b].total_m2 / 1e6
        years = float(b - a)
        cagr = (u1 / u0) ** (1 / years) - 1 if u0 > 0 else np.nan
        mix = mixes[k]
        n_all = float(np.concatenate(rows_new[k]) @ row_km2)
        n_core = float(np.concatenate(rows_core[k]) @ row_km2)
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


def _default_cells() -> int:
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    return DEFAULT_WINDOW_CELLS


@stack_task
def _stage_strip(job):
    """Task of :func:`stage_evidence`: new cells and new cells in the core per row."""
    from gisfix.diffusion import _built_layers

    stack, r0, r1, eps, periods, cores = job
    win = stack.row_window(r0, r1)
    built, valid = _built_layers(stack, win, eps)  # observed at every epoch
    out = []
    for (a, b), core in zip(periods, cores):
        new = built[b] & ~built[a] & valid
        out.append((np.count_nonzero(new, axis=1),
                    np.count_nonzero(new & core.mask(stack, win), axis=1)))
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

    Raises
    ------
    DataError
        When ``evidence`` lacks a column of :func:`stage_evidence`.
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

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The city's built-up stack.
    epochs : list of int, optional
        Epochs delimiting the periods (default: all).
    rules : StageRules, optional
        Thresholds.
    **evidence_options
        Passed to :func:`stage_evidence`.

    Returns
    -------
    pandas.DataFrame
        The table of :func:`classify_stages`: the evidence of every city and period with its
        ``stage``, ``stage_name`` and the ``rule`` that fired.

    Raises
    ------
    DataError
        As :func:`stage_evidence` (fewer than two epochs).
    """
    return classify_stages(stage_evidence(stack, epochs, **evidence_options), rules)


# -- cities and units through time --------------------------------------------------------
#: Columns of the per-city (per-unit) evidence, after ``zone_id``, ``t0`` and ``t1``.
ZONE_COLUMNS = (
    "years", "builtup_t0_km2", "builtup_t1_km2", "new_km2", "cagr", "accelerating",
    "new_patches", "share_infilling", "share_edge_expansion", "share_outlying",
    "core_km2", "new_core_km2", "core_share_new", "largest_patch_share_t0",
    "largest_patch_share_t1", "d_largest_patch_share", "x_t0", "y_t0", "x_t1", "y_t1",
    "shift_m", "bearing_deg", "ellipse_area_t0_km2", "ellipse_area_t1_km2",
    "ellipse_rotation_t1_deg", "ellipse_axis_ratio_t1",
)


@dataclass(frozen=True)
class StageResult:
    """Stages of many cities (or units) through time, with their geometry layers.

    Attributes
    ----------
    stages : pandas.DataFrame
        One row per city (unit) and period: ``zone_id`` (the city id of
        :func:`gisfix.extents.track_extents`, or the unit id), ``t0``, ``t1``, the evidence
        (:data:`ZONE_COLUMNS`; with extents also ``event``, ``parent_ids``,
        ``extent_area_t0_km2``, ``extent_area_t1_km2``) and the labels of
        :func:`classify_stages` (``dispersing``, ``stage``, ``stage_name``, ``rule``).
    centroids : geopandas.GeoDataFrame
        Points: the centre of built-up land of each city (unit) at ``t0`` and ``t1`` of
        each period (``zone_id``, ``t0``, ``t1``, ``epoch``, ``x``, ``y``,
        ``builtup_km2``).
    ellipses : geopandas.GeoDataFrame
        Polygons: the standard deviational ellipse of the same built-up land
        (``sigma_major_m``, ``sigma_minor_m``, ``rotation_deg``, ``area_km2``).
    tracks : gisfix.extents.ExtentTracks
        The tracked urban extents (the zones with ``by="extents"``, the cores with
        ``by="units"``).
    system : pandas.DataFrame or None
        The regional system per period (:func:`regional_system`) with its label
        (:func:`classify_region`); extents only.
    """

    stages: pd.DataFrame
    centroids: object
    ellipses: object
    tracks: object
    system: pd.DataFrame | None = None


def _in_window(value, window):
    """``value(window)`` for a callable, else the window's slice of a whole-grid array."""
    if callable(value):
        return value(window)
    r0, c0 = int(window.row_off), int(window.col_off)
    return value[r0: r0 + int(window.height), c0: c0 + int(window.width)]


def _zone_labels(mask: np.ndarray, z: np.ndarray, structure) -> tuple[np.ndarray, int, np.ndarray]:
    """Label the patches of ``mask`` cut by the zones ``z`` in one strip.

    Two cells share a label iff both are in ``mask``, neighbours under ``structure`` and in
    the same zone (``z >= 0``): each zone present is labelled alone in its bounding box
    within the strip, so a patch that leaves a zone and comes back gives two patches there.

    Returns
    -------
    labels : numpy.ndarray of int32
        0 off the patches, 1..n.
    n : int
    zone_of : numpy.ndarray of int64
        Zone of each label, index 0 unused (-1).
    """
    from scipy import ndimage

    zz = np.where(mask & (z >= 0), z.astype(np.int32) + 1, 0)
    labels = np.zeros(mask.shape, np.int32)
    zone_of = [np.full(1, -1, np.int64)]
    n = 0
    for k, sl in enumerate(ndimage.find_objects(zz)):
        if sl is None:
            continue
        sub = zz[sl] == k + 1
        lab, m = ndimage.label(sub, structure=structure)
        view = labels[sl]
        view[sub] = lab[sub] + n
        zone_of.append(np.full(m, k, np.int64))
        n += m
    return labels, n, np.concatenate(zone_of)


def _zone_pieces(mask: np.ndarray, z: np.ndarray, n_zones: int, rows_m2, structure,
                 equal: bool) -> dict:
    """Patch pieces of one strip: what :func:`_zone_patch_reduce` needs of it.

    Pieces touching the strip's first or last row may continue in the next strips: their
    labels, zones and sizes are kept with the edge rows (columns coded as
    ``zone * (width + 2) + column``, so that only cells of one zone meet when the strips are
    stitched).  Of the other pieces (whole patches) only the largest of each zone matters.
    Sizes are cell counts where every cell has one area (``equal``), else areas in m²
    (true area of each row's cells, ``rows_m2``).
    """
    labels, n, zone_of = _zone_labels(mask, z, structure)
    if equal:
        size = np.bincount(labels.ravel(), minlength=n + 1).astype(np.int64)
    else:
        w = np.broadcast_to(np.asarray(rows_m2, float)[:, None], labels.shape)
        size = np.bincount(labels.ravel(), weights=w.ravel(), minlength=n + 1)
    width = labels.shape[1]
    # int32 where it fits: the client keeps the edge rows of every strip until it stitches
    ctype = np.int32 if n_zones * (width + 2) < 2 ** 31 else np.int64
    edge = np.zeros(n + 1, bool)
    rows = []
    for row in (labels[0], labels[-1]):
        cols = np.flatnonzero(row)
        lab = row[cols]
        edge[lab] = True
        code = zone_of[lab] * (width + 2) + cols
        order = np.argsort(code, kind="stable")
        rows.append((code[order].astype(ctype), lab[order].astype(np.int32)))
    inner = np.flatnonzero(~edge)[1:]
    best = np.zeros(n_zones, size.dtype)
    if inner.size:
        np.maximum.at(best, zone_of[inner], size[inner])
    ek = np.flatnonzero(edge)
    return {"n": int(n), "first_row": rows[0], "last_row": rows[1],
            "edge_labels": ek.astype(np.int32), "edge_zones": zone_of[ek].astype(np.int32),
            "edge_sizes": size[ek], "best": best}


def _zone_patch_reduce(parts: list[dict], best, connectivity: int):
    """Largest patch size per zone from the strips' pieces (``best``: their inner bests).

    The edge pieces of consecutive strips are joined by union-find over their edge labels
    (:func:`gisfix.parallel.stitch_strips`; the zone-coded columns join only cells of one
    zone); the size of a patch is the sum of its pieces'.
    """
    from gisfix.parallel import stitch_strips

    best = best.copy()
    if not parts:
        return best
    stitch = stitch_strips([p["first_row"] for p in parts], [p["last_row"] for p in parts],
                           [p["n"] for p in parts], connectivity)
    gids = np.concatenate([stitch.map(s, p["edge_labels"]) for s, p in enumerate(parts)])
    if gids.size:
        zones = np.concatenate([p["edge_zones"] for p in parts])
        sizes = np.concatenate([p["edge_sizes"] for p in parts])
        u, first, inv = np.unique(gids, return_index=True, return_inverse=True)
        total = np.zeros(len(u), sizes.dtype)
        np.add.at(total, inv, sizes)
        np.maximum.at(best, zones[first], total)
    return best


@stack_task
def _zone_strip(job):
    """One row strip of :func:`zone_evidence`: sums, moments and patch pieces per zone.

    ``job``: (stack, r0, height, zones, core, t0, t1, patch epochs, n zones, connectivity,
    whether to compute the sums and moments).  The built land of a patch epoch is that of the
    epoch alone (built and valid at that epoch).
    """
    from rasterio.windows import Window

    from gisfix.diffusion import _built_layers, _Frame, window_moments

    stack, r0, h, z, c, t0, t1, patch_epochs, n, connectivity, sums_too = job
    win = Window(0, r0, stack.width, h)
    z = np.asarray(z).astype(np.int64)
    eps = sorted({*patch_epochs, *((t0, t1) if sums_too else ())})
    if stack.is_ordinal:
        built, valid = _built_layers(stack, win, eps)
        valid_of = dict.fromkeys(eps, valid)
    else:  # fractions: a cell is valid where its epochs' fractions are
        built, valid_of = {}, {}
        for e in eps:
            b, v = _built_layers(stack, win, [e])
            built[e], valid_of[e] = b[e], v
    out = {}
    if sums_too:
        valid = valid_of[t0] & valid_of[t1]
        b0, b1 = built[t0] & valid, built[t1] & valid
        new = b1 & ~b0
        inside = z >= 0
        rr = np.nonzero(inside)[0]
        zz = z[inside]
        w = stack.row_cell_areas(win)[rr] / 1e6
        out["sums"] = [np.bincount(zz, weights=w * mask[inside], minlength=n)[:n]
                       for mask in (b0, b1, new, new & c, c & valid)]
        frame = _Frame(stack)
        out["moments"] = (window_moments(b0, z, n, stack, win, frame),
                          window_moments(b1, z, n, stack, win, frame))
    ra = stack.row_cell_areas()
    equal = bool(ra.size) and bool(np.all(ra == ra[0]))
    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    out["pieces"] = {e: _zone_pieces(built[e] & valid_of[e], z, n, stack.row_cell_areas(win),
                                     structure, equal) for e in patch_epochs}
    return out


def _zone_jobs(stack, zones, core, n, t0, t1, patch_epochs, connectivity, max_cells,
               sums_too):
    """The strip jobs of :func:`_zone_strip`, made one at a time (zones read per strip)."""
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    ztype = np.int16 if n < 2 ** 15 else np.int32 if n < 2 ** 31 else np.int64
    for win in stack.windows(max_cells or DEFAULT_WINDOW_CELLS):
        z = np.asarray(_in_window(zones, win)).astype(np.int64)
        z = np.where(z >= 0, z, -1).astype(ztype)
        c = np.asarray(_in_window(core, win), dtype=bool) if sums_too else None
        yield (stack, int(win.row_off), int(win.height), z, c, t0, t1, tuple(patch_epochs),
               n, int(connectivity), sums_too)


def _imap_strips(jobs, scheduler):
    """Yield :func:`_zone_strip` of each job, in order, with few jobs made ahead.

    The jobs carry the zones of their strip, so they are made as the tasks are handed out:
    at most about two per worker thread (one in process) are held at once.
    """
    from itertools import islice

    from gisfix.parallel import imap_blocks

    ahead = 1
    if scheduler is not None:
        import os

        ahead = 2 * (os.cpu_count() or 1)
        if hasattr(scheduler, "nthreads"):
            try:
                ahead = 2 * max(1, sum(scheduler.nthreads().values()))
            except Exception:  # noqa: BLE001 - any client without nthreads: keep the default
                pass
    jobs = iter(jobs)
    while True:
        part = list(islice(jobs, ahead))
        if not part:
            return
        yield from imap_blocks(_zone_strip, part, scheduler, batch=ahead)


def _zone_largest_patch(stack, zones, n, t, connectivity: int, *, max_cells: int | None = None,
                        scheduler=None) -> np.ndarray:
    """Area (km²) of the largest connected built patch inside each zone at epoch ``t``.

    Patches are cut by the zone boundaries: two cells are in one patch iff both are built
    and valid at ``t``, neighbours under ``connectivity`` and in the same zone.  Computed
    over full-width row strips of ``max_cells`` cells (zones read per strip) stitched by
    union-find over their edge rows, so memory holds a few strips, not the zones' boxes.
    """
    from gisfix.parallel import scheduler_session

    with scheduler_session(scheduler) as sched:
        jobs = _zone_jobs(stack, zones, None, n, t, t, (t,), connectivity, max_cells, False)
        parts, best = [], None
        for res in _imap_strips(jobs, sched):
            p = res["pieces"][t]
            best = p["best"] if best is None else np.maximum(best, p["best"])
            parts.append(p)
    return _patch_km2(stack, _zone_patch_reduce(parts, best, connectivity)
                      if parts else np.zeros(n))


def _patch_km2(stack, size) -> np.ndarray:
    """Sizes of :func:`_zone_pieces` (cell counts or m²) in km²."""
    ra = stack.row_cell_areas()
    if size.dtype.kind in "iu":
        return size * (float(ra[0]) if ra.size else 0.0) / 1e6
    return size / 1e6


def zone_evidence(stack, zones, zone_ids, t0: int, t1: int, *, core, patch_zone: pd.Series,
                  patches: pd.DataFrame, connectivity: int = 8, max_cells: int | None = None,
                  scheduler=None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    r"""Evidence of the stage rules for every zone (city or unit) in one period.

    For zone *k* with cells :math:`Z_k`, built-up land :math:`B_t` and true cell areas
    :math:`a_i`:

    .. math::
        U_t = \sum_{i \in Z_k \cap B_t} a_i,\quad
        \mathrm{cagr} = (U_1/U_0)^{1/(t_1-t_0)} - 1,\quad
        \mathrm{core\_share\_new} = \frac{\sum_{i \in Z_k \cap N \cap C} a_i}
                                        {\sum_{i \in Z_k \cap N} a_i},

        \mathrm{share}_T = \frac{\sum_{p \to k,\ \mathrm{type}(p) = T} A_p}
                                {\sum_{p \to k} A_p},\qquad
        \mathrm{LPS}_t = \frac{\max_{P \subseteq Z_k \cap B_t} A_P}{U_t},

    with :math:`N = B_1 \setminus B_0` the new land, :math:`C` the core (the t0 urban
    extents; ``core_share_new`` is NaN for a zone without core cells, such as a city
    born in the period), :math:`p \to k` the LEI patches (Liu et al. 2010) assigned to the
    zone (by majority of cells) and :math:`P` the connected built patches cut by the zone.
    The centres are the area-weighted mean centres of :math:`Z_k \cap B_t` (Yuill 1971)
    and the shift the (geodesic on a geographic grid) distance between them; the ellipse
    columns are those of the standard deviational ellipse of the same land
    (:func:`gisfix.diffusion.sde_from_points`: :math:`\pi\sigma_{maj}\sigma_{min}`, the
    azimuth of the major axis, :math:`\sigma_{min}/\sigma_{maj}`).

    Memory: one pass over full-width row strips of ``max_cells`` cells (the zones and the
    core are read per strip) accumulates the sums and moments and labels the patches of
    every zone in each strip; patches crossing strip edges are joined by union-find over
    the strips' edge labels (two cells join iff both are built and in the same zone), so the
    largest patch is that of the whole grid and memory depends on the strip size, not on
    the raster or the zones.  The strips are computed with ``scheduler``.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        Built-up rasters.
    zones : numpy.ndarray of int, or callable
        Zone position per cell (0 .. len(zone_ids)-1, -1 outside): a whole-grid array, or
        a function of a :class:`rasterio.windows.Window` returning that window's zones.
    zone_ids : sequence
        Ids of the zones.
    t0, t1 : int
        The period.
    core : numpy.ndarray of bool, or callable
        The core cells (whole grid, or a function of a window).
    patch_zone : pandas.Series
        Zone id of each LEI patch (indexed like ``patches``; None: no zone).
    patches : pandas.DataFrame
        LEI patches of the period (:func:`gisfix.lei.landscape_expansion_index`).
    connectivity : {8, 4}
        For the largest patch.
    max_cells : int, optional
        Cells per row strip (default :data:`gisfix.stack.DEFAULT_WINDOW_CELLS`).
    scheduler : None, str or distributed.Client
        Where the strips are computed (:func:`gisfix.parallel.resolve_scheduler`): None in
        this process, ``"threads"``, ``"processes"``, a dask.distributed address or Client.

    Returns
    -------
    evidence : pandas.DataFrame
        One row per zone: ``zone_id``, ``t0``, ``t1`` and :data:`ZONE_COLUMNS` (without
        ``accelerating``, which needs the previous period).
    moments0, moments1 : numpy.ndarray
        The area-weighted moments of built land at t0 and t1 per zone
        (:func:`gisfix.diffusion.window_moments`).
    """
    from gisfix.diffusion import _Frame, sde_table
    from gisfix.lei import growth_type_mix
    from gisfix.parallel import scheduler_session

    n = len(zone_ids)
    frame = _Frame(stack)
    sums = np.zeros((5, n))  # U0, U1, new, new in core, core
    m0, m1 = np.zeros((n, 6)), np.zeros((n, 6))
    parts = {t0: [], t1: []}
    best = {}
    with scheduler_session(scheduler) as sched:
        jobs = _zone_jobs(stack, zones, core, n, t0, t1, (t0, t1), connectivity, max_cells,
                          True)
        for res in _imap_strips(jobs, sched):
            for k in range(5):
                sums[k] += res["sums"][k]
            m0 += res["moments"][0]
            m1 += res["moments"][1]
            for e, p in res["pieces"].items():
                best[e] = p["best"] if e not in best else np.maximum(best[e], p["best"])
                parts[e].append(p)
    u0, u1, n_all, n_core, core_km2 = sums
    years = float(t1 - t0)
    lp0, lp1 = (_patch_km2(stack, _zone_patch_reduce(parts[e], best[e], connectivity))
                if parts[e] else np.zeros(n) for e in (t0, t1))
    del parts
    with np.errstate(divide="ignore", invalid="ignore"):
        cagr = np.where(u0 > 0, (u1 / np.where(u0 > 0, u0, 1)) ** (1 / years) - 1, np.nan)
        # no core at t0 (a city born in the period, a unit without an extent): undefined
        core_share = np.where((n_all > 0) & (core_km2 > 0),
                              n_core / np.where(n_all > 0, n_all, 1), np.nan)
        lps0 = np.where(u0 > 0, lp0 / np.where(u0 > 0, u0, 1), np.nan)
        lps1 = np.where(u1 > 0, lp1 / np.where(u1 > 0, u1, 1), np.nan)
    c0, c1 = sde_table(m0, frame), sde_table(m1, frame)
    shift = np.full(n, np.nan)
    bearing = np.full(n, np.nan)
    for k in range(n):
        if np.isfinite([c0.at[k, "x"], c0.at[k, "y"], c1.at[k, "x"], c1.at[k, "y"]]).all():
            d_, b_ = frame.distance_bearing(c0.at[k, "x"], c0.at[k, "y"], c1.at[k, "x"],
                                            c1.at[k, "y"])
            shift[k], bearing[k] = float(d_), float(b_)
    mixes = {}
    if len(patches):
        for zid, part in patches.groupby(patch_zone.reindex(patches.index).to_numpy(),
                                         dropna=True):
            mixes[zid] = growth_type_mix(part)
    empty = {"new_patches": 0, "share_infilling": np.nan, "share_edge_expansion": np.nan,
             "share_outlying": np.nan}
    rows = []
    for k, zid in enumerate(zone_ids):
        mix = mixes.get(zid, empty)
        rows.append({
            "zone_id": zid, "t0": int(t0), "t1": int(t1), "years": years,
            "builtup_t0_km2": u0[k], "builtup_t1_km2": u1[k], "new_km2": n_all[k],
            "cagr": cagr[k], "new_patches": int(mix["new_patches"]),
            "share_infilling": mix["share_infilling"],
            "share_edge_expansion": mix["share_edge_expansion"],
            "share_outlying": mix["share_outlying"], "core_km2": core_km2[k],
            "new_core_km2": n_core[k], "core_share_new": core_share[k],
            "largest_patch_share_t0": lps0[k], "largest_patch_share_t1": lps1[k],
            "d_largest_patch_share": lps1[k] - lps0[k],
            "x_t0": c0.at[k, "x"], "y_t0": c0.at[k, "y"], "x_t1": c1.at[k, "x"],
            "y_t1": c1.at[k, "y"], "shift_m": shift[k], "bearing_deg": bearing[k],
            "ellipse_area_t0_km2": c0.at[k, "area_km2"],
            "ellipse_area_t1_km2": c1.at[k, "area_km2"],
            "ellipse_rotation_t1_deg": c1.at[k, "rotation_deg"],
            "ellipse_axis_ratio_t1": c1.at[k, "sigma_minor_m"] / c1.at[k, "sigma_major_m"]
            if c1.at[k, "sigma_major_m"] > 0 else np.nan,
        })
    return pd.DataFrame(rows), m0, m1


def _accelerating(ev: pd.DataFrame) -> pd.DataFrame:
    """``accelerating``: cagr above the same zone's cagr in its previous period."""
    ev = ev.sort_values(["zone_id", "t0"], kind="stable")
    prev = ev.groupby("zone_id", sort=False)["cagr"].shift(1)
    acc = [None if not np.isfinite(p) or not np.isfinite(c) else bool(c > p)
           for p, c in zip(prev.fillna(np.nan).to_numpy(dtype=float), ev["cagr"])]
    ev = ev.copy()
    ev.insert(ev.columns.get_loc("cagr") + 1, "accelerating", pd.Series(acc, index=ev.index,
                                                                       dtype=object))
    return ev.sort_values(["t0", "zone_id"], kind="stable").reset_index(drop=True)


def _geometry_layers(stack, rows: list[dict]):
    import geopandas as gpd

    from gisfix.diffusion import ellipse_polygons

    table = pd.DataFrame(rows)
    if table.empty:
        table = pd.DataFrame(columns=["zone_id", "t0", "t1", "epoch", "x", "y",
                                      "sigma_major_m", "sigma_minor_m", "rotation_deg",
                                      "area_km2", "builtup_km2"])
    pts = gpd.GeoDataFrame(table[["zone_id", "t0", "t1", "epoch", "x", "y", "builtup_km2"]],
                           geometry=gpd.points_from_xy(table["x"], table["y"]), crs=stack.crs)
    pts = pts[np.isfinite(table["x"].to_numpy(dtype=float))].reset_index(drop=True)
    ell = gpd.GeoDataFrame(table.drop(columns=["x", "y"]),
                           geometry=ellipse_polygons(table, stack).values, crs=stack.crs)
    ell = ell[ell.geometry.notna()].reset_index(drop=True)
    return pts, ell


def _periods(stack, epochs):
    from gisfix.diffusion import _epochs

    eps = sorted(_epochs(stack, epochs))
    if len(eps) < 2:
        raise DataError(f"the stage model needs at least two epochs; got {eps}")
    return eps


def _run_zones(stack, eps, zones_of, core_of, units_of, *, buffer_m, connectivity, extra=None,
               max_cells=None, scheduler=None):
    """Evidence per zone and period.

    ``zones_of(t1)`` gives (zones, ids), ``units_of(t1)`` the polygons the LEI patches are
    assigned to, ``core_of(t0)`` the core.  Every raster pass is windowed (strips of
    ``max_cells`` cells, computed with ``scheduler``): the LEI
    (:func:`gisfix.lei.landscape_expansion_index`) and the evidence (:func:`zone_evidence`).
    """
    from gisfix.diffusion import _Frame, sde_table
    from gisfix.lei import landscape_expansion_index
    from gisfix.parallel import scheduler_session
    from gisfix.stack import DEFAULT_WINDOW_CELLS

    frame = _Frame(stack)
    parts, geo = [], []
    with scheduler_session(scheduler) as sched:
        for a, b in zip(eps[:-1], eps[1:]):
            zones, ids = zones_of(b)
            if len(ids) == 0:
                continue
            units = units_of(b)
            patches = landscape_expansion_index(
                stack, a, b, buffer_m=buffer_m, connectivity=connectivity, units=units,
                polygons=False, scheduler=sched,
                window_cells=int(max_cells or DEFAULT_WINDOW_CELLS))
            ev, m0, m1 = zone_evidence(stack, zones, ids, a, b, core=core_of(a),
                                       patch_zone=patches["unit_id"], patches=patches,
                                       connectivity=connectivity, max_cells=max_cells,
                                       scheduler=sched)
            if extra is not None:
                ev = extra(ev, a, b)
            parts.append(ev)
            for epoch, mom in ((a, m0), (b, m1)):
                tab = sde_table(mom, frame)
                for k, zid in enumerate(ids):
                    geo.append({"zone_id": zid, "t0": a, "t1": b, "epoch": epoch,
                                **tab.iloc[k].to_dict()})
            log.info("stages %s->%s: %d zones, %d LEI patches", a, b, len(ids), len(patches))
    if not parts:
        raise DataError(
            f"no urban extent (city) at any of the epochs {eps[1:]}: nothing to label; relax "
            "the extent rules (a lower threshold or min_area_km2, a larger block; on the "
            "command line --threshold, --min-area-km2, --block) or use --by units")
    return _accelerating(pd.concat(parts, ignore_index=True)), geo


def _extent_options(extent_options, max_cells=None):
    opts = {"kind": "cluster", "block": 10, "threshold": 0.5, "min_area_km2": 5.0}
    if max_cells:
        opts["max_cells"] = int(max_cells)
    opts.update(extent_options or {})
    return opts


def stages_by_extents(stack, epochs: Sequence[int] | None = None, *,
                      rules: StageRules | None = None, buffer_m: float | None = None,
                      connectivity: int = 8, extent_options: dict | None = None,
                      tracks=None, max_cells: int | None = None, scheduler=None
                      ) -> StageResult:
    """Label every tracked city (urban extent) and period with a stage, with its evidence.

    The cities are the urban extents of :func:`gisfix.extents.track_extents` (default:
    ``kind="cluster", block=10, threshold=0.5, min_area_km2=5``: 1 km cells at least half
    built, 8-connected, at least 5 km²).  In the period t0 -> t1 a city is the territory
    of its extent at t1; its evidence (:func:`zone_evidence`) is measured on that
    territory; its core is its extent(s) at t0 (the cities it contains); its LEI patches
    are those of the whole grid (:func:`gisfix.lei.landscape_expansion_index`) whose
    majority of cells lies in it.  Labels: :func:`classify_stages`; the regional system
    and its label: :func:`regional_system`, :func:`classify_region`.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        Built-up rasters (projected or geographic).
    epochs : list of int, optional
        Epochs delimiting the periods (default: all).
    rules : StageRules, optional
        Thresholds of the city and regional rules.
    buffer_m : float, optional
        LEI buffer (default one cell).
    connectivity : {8, 4}
        LEI patches and largest patch.
    extent_options : dict, optional
        Options of :func:`gisfix.extents.urban_extents` replacing the defaults above.
    tracks : gisfix.extents.ExtentTracks, optional
        Already tracked extents (``extent_options`` is then ignored).
    max_cells : int, optional
        Cells per row strip of the evidence pass (:func:`zone_evidence`); the extents are
        delineated strip by strip too.  The LEI is that of
        :func:`gisfix.lei.landscape_expansion_index` (strips of ``max_cells`` cells too).
    scheduler : None, str or distributed.Client
        Where the strips of the LEI and of the evidence are computed
        (:func:`gisfix.parallel.resolve_scheduler`): None in this process, ``"threads"``,
        ``"processes"``, a dask.distributed address or Client.  Same result for every one.

    Returns
    -------
    StageResult
        Per-city stages, centroids, ellipses, the tracks and the regional system.
    """
    from gisfix.extents import track_extents

    eps = _periods(stack, epochs)
    tr = tracks if tracks is not None else track_extents(
        stack, eps, **_extent_options(extent_options, max_cells))
    shape = stack.shape

    def zones_of(t1):
        ids = tr.extents.loc[tr.extents["epoch"] == t1, "city_id"].to_numpy(dtype=np.int64)
        # the labels of t1 are city ids of t1's extents: no whole-grid read to size the table
        lut = np.full(int(ids.max(initial=0)) + 1, -1, dtype=np.int64)
        lut[ids] = np.arange(len(ids))

        def zones(win):
            lab = tr.city_labels(t1, shape, win)
            return np.where(lab < len(lut), lut[np.minimum(lab, len(lut) - 1)], -1)

        return zones, list(ids)

    def units_of(t1):
        e = tr.extents[tr.extents["epoch"] == t1]
        return e.set_index("city_id")[["geometry"]]

    def core_of(t0):
        return lambda win: tr.city_labels(t0, shape, win) > 0

    ev_table = tr.events.set_index(["t1", "city_id"])
    ext = tr.extents.set_index(["epoch", "city_id"])

    def extra(ev, a, b):
        keys = list(zip([b] * len(ev), ev["zone_id"]))
        ev.insert(3, "event", [ev_table["event"].get(k) for k in keys])
        ev.insert(4, "parent_ids", [ev_table["parent_ids"].get(k) for k in keys])
        ev.insert(5, "extent_area_t0_km2", [ev_table["area_t0_km2"].get(k, np.nan)
                                            for k in keys])
        ev.insert(6, "extent_area_t1_km2", [ext["area_km2"].get(k, np.nan) for k in keys])
        return ev

    ev, geo = _run_zones(stack, eps, zones_of, core_of, units_of, buffer_m=buffer_m,
                         connectivity=connectivity, extra=extra, max_cells=max_cells,
                         scheduler=scheduler)
    labelled = classify_stages(ev, rules)
    pts, ell = _geometry_layers(stack, geo)
    system = classify_region(regional_system(tr, labelled), labelled, rules)
    return StageResult(stages=labelled, centroids=pts, ellipses=ell, tracks=tr, system=system)


def stages_by_units(units, stack, epochs: Sequence[int] | None = None, *,
                    rules: StageRules | None = None, buffer_m: float | None = None,
                    connectivity: int = 8, extent_options: dict | None = None,
                    tracks=None, max_cells: int | None = None, scheduler=None
                    ) -> StageResult:
    """Label every unit (boundary polygon) and period with a stage, with its evidence.

    As :func:`stages_by_extents` with the units as fixed territories (cells by the
    cell-centre rule, :func:`gisfix.zonal.label_cells`); the core of a unit in t0 -> t1 is
    the part of the urban extents of t0 (:func:`gisfix.extents.track_extents`, same
    defaults) inside it; LEI patches go to the unit holding most of their cells.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Boundaries indexed by unit id (:func:`gisfix.read_boundaries`).
    stack : gisfix.stack.BuiltupStack
        Built-up rasters.
    epochs, rules, buffer_m, connectivity, extent_options, tracks, max_cells, scheduler
        As :func:`stages_by_extents`.

    Returns
    -------
    StageResult
        Per-unit stages, centroids and ellipses (``zone_id`` is the unit id), the tracks of
        the cores; ``system`` is None.

    Raises
    ------
    DataError
        When ``units`` is empty, or with fewer than two epochs.
    """
    from gisfix.extents import track_extents
    from gisfix.zonal import label_cells

    if units is None or len(units) == 0:
        raise DataError("stages_by_units needs boundaries with at least one unit")
    eps = _periods(stack, epochs)
    tr = tracks if tracks is not None else track_extents(
        stack, eps, **_extent_options(extent_options, max_cells))
    ids = list(units.index)
    shape = stack.shape

    def zones(win):
        return label_cells(units, stack, win)

    ev, geo = _run_zones(stack, eps, lambda t1: (zones, ids),
                         lambda t0: (lambda win: tr.city_labels(t0, shape, win) > 0),
                         lambda t1: units, buffer_m=buffer_m, connectivity=connectivity,
                         max_cells=max_cells, scheduler=scheduler)
    labelled = classify_stages(ev, rules)
    pts, ell = _geometry_layers(stack, geo)
    return StageResult(stages=labelled, centroids=pts, ellipses=ell, tracks=tr, system=None)


# -- the regional system (stage 4) ----------------------------------------------------------
def polycentricity(sizes, top: Sequence[int] = (2, 3, 4)) -> float:
    r"""Morphological polycentricity: the rank-size slope of the largest centres.

    Burger & Meijers (2012) measure the morphological polycentricity of a region by the
    slope :math:`b_n` of the rank-size regression over its :math:`n` largest centres,

    .. math::
        \ln S_{(r)} = c_n + b_n \ln r, \qquad r = 1, \dots, n,

    computed for :math:`n = 2, 3, 4` and averaged:

    .. math::
        \mathrm{PC} = \bar b = \tfrac13 (b_2 + b_3 + b_4) \le 0.

    A flat hierarchy (:math:`\bar b = 0`, centres of equal size) is perfectly
    polycentric, a steep one (:math:`\bar b \ll 0`) monocentric: the index *rises* with
    polycentricity.  With fewer than 4 centres the available :math:`n \ge 2` are used;
    fewer than 2 centres give NaN.

    Parameters
    ----------
    sizes : array-like
        Sizes of the centres (here the built-up km² of each urban extent); values <= 0
        and NaN are ignored.
    top : sequence of int
        The :math:`n` to average over.

    Returns
    -------
    float
        :math:`\bar b`.

    References
    ----------
    Burger, M., Meijers, E. (2012). Form follows function? Linking morphological and
    functional polycentricity. Urban Studies 49(5), 1127-1149.  Meijers, E., Burger, M.
    (2010). Spatial structure and productivity in US metropolitan areas. Environment and
    Planning A 42(6), 1383-1402.

    Examples
    --------
    >>> polycentricity([100, 100, 100, 100])
    0.0
    >>> round(polycentricity([100, 50]), 6)  # ln(1/2) / ln 2
    -1.0
    """
    x = np.sort(np.asarray(sizes, float))[::-1]
    x = x[np.isfinite(x) & (x > 0)]
    slopes = []
    for n in top:
        if x.size >= n >= 2:
            lr = np.log(np.arange(1, n + 1))
            ls = np.log(x[:n])
            lr_c = lr - lr.mean()
            slopes.append(float((lr_c * (ls - ls.mean())).sum() / (lr_c ** 2).sum()))
    if not slopes:
        return float("nan")
    b = float(np.mean(slopes))
    return 0.0 if b == 0 else b


def city_system(tracks, size: str = "builtup_km2") -> pd.DataFrame:
    """Rank-size, primacy and polycentricity of the tracked cities at each epoch.

    Parameters
    ----------
    tracks : gisfix.extents.ExtentTracks
        Tracked urban extents.
    size : str
        Column of ``tracks.extents`` giving a city's size (``builtup_km2`` or ``area_km2``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch``: ``n_cities``, ``total_km2``, ``primate_city_id``,
        ``primacy_2``, ``primacy_4`` (:func:`gisfix.agglomeration.primacy`),
        ``zipf_exponent``, ``zipf_n`` (:func:`gisfix.agglomeration.rank_size`, at least 3
        cities), ``polycentricity_bm`` (:func:`polycentricity`).  ``primate_city_id`` is
        -1 at an epoch without cities.
    """
    from gisfix.agglomeration import primacy, rank_size

    rows = {}
    ext = tracks.extents
    for e in sorted(tracks.labels):
        part = ext[ext["epoch"] == e].sort_values(size, ascending=False, kind="stable")
        x = part[size].to_numpy(dtype=float)
        x = x[x > 0]
        row = {"n_cities": int(x.size), "total_km2": float(x.sum()),
               "primate_city_id": int(part["city_id"].iloc[0]) if len(part) else -1}
        row.update(primacy(x) if x.size else {"primacy_2": np.nan, "primacy_4": np.nan})
        if x.size >= 3 and np.ptp(x) > 0:
            z = rank_size(x)
            row.update({"zipf_exponent": z.exponent, "zipf_n": z.n})
        else:
            row.update({"zipf_exponent": np.nan, "zipf_n": int(x.size)})
        row["polycentricity_bm"] = polycentricity(x)
        rows[e] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["primate_city_id"] = out["primate_city_id"].astype(np.int64)
    out.index.name = "epoch"
    return out


def regional_system(tracks, city_stages_table: pd.DataFrame, size: str = "builtup_km2"
                    ) -> pd.DataFrame:
    r"""Trends of the regional city system per period, the evidence of the regional label.

    For the period t0 -> t1, with :func:`city_system` at both epochs:
    ``d_primacy_2``, ``d_zipf_exponent``, ``d_polycentricity_bm`` (t1 minus t0); the growth
    share of the secondary centres

    .. math::
        s_{sec} = 1 - \frac{N_{primate}}{\sum_k N_k}

    with :math:`N_k` the new built-up land of city *k* (its ``new_km2`` in
    ``city_stages_table``) and the primate city the largest at t1; and the counts of
    ``births`` and ``coalescences`` (:func:`gisfix.extents.track_extents`), with
    ``cities_absorbed`` the number of earlier cities that joined another.

    Parameters
    ----------
    tracks : gisfix.extents.ExtentTracks
        Tracked urban extents.
    city_stages_table : pandas.DataFrame
        The per-city stages (:attr:`StageResult.stages`).
    size : str
        City size column (see :func:`city_system`).

    Returns
    -------
    pandas.DataFrame
        One row per period.
    """
    sys_ = city_system(tracks, size)
    ev = tracks.events
    rows = []
    for (a, b), part in city_stages_table.groupby(["t0", "t1"], sort=True):
        s0, s1 = sys_.loc[a], sys_.loc[b]
        primate = int(s1["primate_city_id"])
        new = part.set_index("zone_id")["new_km2"]
        total = float(new.sum())
        prim_new = float(new.get(primate, 0.0))
        e = ev[(ev["t0"] == a) & (ev["t1"] == b)]
        co = e[e["event"] == "coalescence"]
        row = {"t0": int(a), "t1": int(b), "n_cities_t0": int(s0["n_cities"]),
               "n_cities_t1": int(s1["n_cities"]), "primate_city_id": primate,
               "new_km2": total,
               "secondary_growth_share": 1 - prim_new / total if total > 0 else np.nan,
               "births": int((e["event"] == "birth").sum()), "coalescences": len(co),
               "cities_absorbed": int((co["n_parents"] - 1).sum())}
        for col in ("primacy_2", "primacy_4", "zipf_exponent", "polycentricity_bm"):
            row[f"{col}_t0"] = s0[col]
            row[f"{col}_t1"] = s1[col]
            row[f"d_{col}"] = s1[col] - s0[col]
        rows.append(row)
    return pd.DataFrame(rows)


def classify_region(system: pd.DataFrame, city_stages_table: pd.DataFrame,
                    rules: StageRules | None = None) -> pd.DataFrame:
    """Label each period of the regional system (module docstring, rules R4a, R4b, R1-3).

    Parameters
    ----------
    system : pandas.DataFrame
        As :func:`regional_system` returns (or hand-made with its columns).
    city_stages_table : pandas.DataFrame
        Per-city stages with ``zone_id``, ``t0``, ``stage`` (for the primate city).
    rules : StageRules, optional
        Thresholds.

    Returns
    -------
    pandas.DataFrame
        ``system`` plus ``regional_stage``, ``regional_stage_name`` and ``regional_rule``.

    Raises
    ------
    DataError
        When ``system`` lacks a column of the regional system.
    """
    r = rules or StageRules()
    need = ["t0", "primate_city_id", "n_cities_t1", "secondary_growth_share", "d_primacy_2",
            "d_polycentricity_bm", "coalescences"]
    missing = [c for c in need if c not in system.columns]
    if missing:
        raise DataError(f"the regional system lacks column(s) {', '.join(missing)}; build it "
                        "with regional_system()")
    st = city_stages_table.set_index(["t0", "zone_id"])
    out = system.copy()
    stages, names, texts = [], [], []
    for _, row in out.iterrows():
        primate = int(row["primate_city_id"])
        key = (int(row["t0"]), primate)
        prim = st["stage"].get(key) if key in st.index else None
        prim = None if prim is None or prim != prim else int(prim)
        share, dp, dpc = (row["secondary_growth_share"], row["d_primacy_2"],
                          row["d_polycentricity_bm"])
        r4a = (row["n_cities_t1"] >= 2 and share >= r.secondary_share_min
               and not dp > r.primacy_rise_max and not dpc < -r.polycentricity_drop_max)
        r4b = row["coalescences"] >= 1 and prim in (3, 4)
        if r4a:
            stage = 4
            text = (f"R4a: secondary centres take {share:.3f} >= {r.secondary_share_min} of "
                    f"new land; d_primacy_2 {dp:+.3f} <= {r.primacy_rise_max}; "
                    f"d_polycentricity_bm {dpc:+.3f} >= -{r.polycentricity_drop_max}")
        elif r4b:
            stage = 4
            text = (f"R4b: {int(row['coalescences'])} coalescence(s) while the primate city "
                    f"{primate} is in stage {prim}")
        elif prim is not None:
            stage = prim
            text = f"primate city {primate}: stage {prim}"
        else:
            stage = None
            text = "no label: the primate city has no stage in this period"
        stages.append(stage)
        names.append(STAGES.get(stage) if stage is not None else None)
        texts.append(text)
    out["regional_stage"] = pd.array(stages, dtype="Int64")
    out["regional_stage_name"] = names
    out["regional_rule"] = texts
    return out


__all__ = ["STAGES", "ZONE_COLUMNS", "StageResult", "StageRules", "city_stages", "city_system",
           "classify_region", "classify_stages", "polycentricity", "regional_system",
           "stage_evidence", "stages_by_extents", "stages_by_units", "zone_evidence"]
