"""The main job: a region's project file in, every measure before and after each adjustment out.

:func:`run_project` (CLI: ``gisfix run PROJECT.toml -o DIR``) reads a project file
(:mod:`gisfix.project`), measures the base units on the built-up rasters, applies every
``[[scenario]]`` of boundary edits and measures the edited units the same way, then writes
(:func:`write_outputs`, atomically: a failed run leaves nothing half-written):

- ``results.gpkg``: ``units``, ``units_long``, ``patches``, ``summary``, ``inequality``,
  ``stages``, ``justice``, ``justice_lorenz``, and per scenario ``units_<name>``,
  ``lineage_<name>``, ``change_<name>``;
- ``measures.parquet`` / ``measures.csv``: every value, tidy (``scenario, unit_id, epoch,
  measure, value``; ``unit_id`` is empty for region-wide measures);
- ``compare.csv``: one row per scenario, region-wide measure and epoch: the base value, the
  scenario value, their absolute and relative change;
- ``run.json``: inputs (sha256, size), parameters, versions and the time of each step;
- ``project.toml`` (the project, paths absolute: repeat the run with it) and ``REPORT.md``.

The measure families (``[measures] include``) are :data:`gisfix.project.FAMILIES`:

1. ``builtup``: built-up, valid area and share by unit and epoch
   (:func:`gisfix.builtup_by_unit`), with the region's totals;
2. ``intensity``: share, warning levels and counts of units at or above each threshold
   (:func:`gisfix.intensity`), location quotient;
3. ``concentration``: Gini, HHI and top-k shares of built-up km² (:func:`gisfix.concentration`);
4. ``hierarchy``: rank-size (Zipf) exponent and primacy (:func:`gisfix.hierarchy`);
5. ``autocorrelation``: Moran's I, LISA and Gi* of the share (:func:`gisfix.moran`...);
6. ``inequality``: Gini, Theil T and L, CV of the share weighted by observed land, the
   Theil between/within split by the ``groups`` columns, and Williamson's index of built-up
   m² per capita when a population is given;
7. ``spatial_gini``: Rey and Smith's spatial Gini of the share;
8. ``expansion``: expansion rates between consecutive epochs (:func:`gisfix.expansion_series`);
9. ``lei``: per-unit Landscape Expansion Index summaries (:func:`gisfix.lei_by_unit`);
10. ``patches``: FRAGSTATS patch metrics per unit (:func:`gisfix.patch_metrics`);
11. ``stages``: the four-stage labels of the region (:func:`gisfix.city_stages`).

With a population (``[boundaries] population``: one column, or one per epoch), every pass
also measures land per person and spatial justice (:func:`population_measures`): built-up
m² per capita by unit and epoch, LCR, PGR and LCRPGR (SDG 11.3.1) by unit and period and
for the region, the land-population elasticity, and the inequality of built-up m² per
capita weighted by people (``percapita_<measure>_person_weighted``) beside the same
measure weighted by land (``percapita_<measure>_land_weighted``; the ``share_*`` measures
are land-weighted too) and by unit; the ``justice`` layer lists them with a ``weighting``
column and ``justice_lorenz`` holds the Lorenz curves.  Without a population nothing of
this is computed, and the report and the ``justice`` layer say how to give one.

Scenarios reuse the raster work of the base pass: a unit the edits made of whole base
units (a merger, a recode, an untouched unit) gets the sum of its parts' built-up and
valid area per epoch, through the lineage; only the pieces that splits and transfers
create are counted again over the raster, and patch metrics are recomputed only for the
units the edits changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gisfix.errors import DataError, OutputExistsError
from gisfix.report import run_charts, run_markdown

log = logging.getLogger(__name__)

GPKG = "results.gpkg"
#: Every file a run writes into its folder.
OUTPUTS = (GPKG, "measures.parquet", "measures.csv", "compare.csv", "run.json", "REPORT.md",
           "project.toml", "share_map.png", "builtup_chart.png", "project.qgz", "report.html")
#: Name of the base units in the tidy tables.
BASE = "base"
#: A lineage share at or above this counts a base unit as taken whole.
WHOLE = 1 - 1e-9
#: Dependencies whose versions run.json records.
KEY_DEPENDENCIES = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "rasterio", "pyogrio",
                    "libpysal", "scipy")




@dataclass
class Measures:
    """Every measure of one set of units (the base or a scenario's edited units).

    Attributes
    ----------
    table : DataFrame
        The built-up table (``unit_id, epoch, builtup_km2, valid_km2, builtup_share``).
    per_unit : DataFrame
        One row per unit and epoch: the table, intensity, location quotient, patch
        metrics, LISA and Gi*, expansion (at the period's end epoch) and LEI summaries (at
        ``t1``).
    region : DataFrame
        One row per epoch: region totals, counts over thresholds, concentration,
        hierarchy, Moran's I, inequality and spatial Gini.
    expansion, lei_summary, patch_table : DataFrame or None
        The per-period and per-unit tables they come from.
    notes : list of str
        Why a measure was not computed.
    per_capita, efficiency, justice, lorenz : DataFrame or None
        With a population (:func:`population_measures`): built-up m² per capita by unit
        and epoch (:func:`gisfix.efficiency.land_per_capita`), LCR, PGR and LCRPGR by unit
        and period (:func:`gisfix.efficiency.land_use_efficiency`), the person-, land- and
        unit-weighted inequality of built-up m² per capita
        (:func:`gisfix.justice.justice_inequality`) and its Lorenz curves
        (:func:`gisfix.justice.justice_lorenz`); None without a population.
    """

    table: pd.DataFrame
    per_unit: pd.DataFrame
    region: pd.DataFrame
    expansion: pd.DataFrame | None = None
    lei_summary: pd.DataFrame | None = None
    patch_table: pd.DataFrame | None = None
    notes: list = field(default_factory=list)
    per_capita: pd.DataFrame | None = None
    efficiency: pd.DataFrame | None = None
    justice: pd.DataFrame | None = None
    lorenz: pd.DataFrame | None = None


@dataclass
class ScenarioRun:
    """One scenario's edited units, lineage, measures and per-unit change.

    Attributes
    ----------
    name : str
        Scenario name.
    units : GeoDataFrame
        The edited units.
    lineage : DataFrame
        Old -> new unit links with area shares.
    measures : Measures
        Every measure of the edited units.
    change : GeoDataFrame
        Per new unit: sources, status, built-up before and after (:func:`change_layer`).
    report : dict
        What :func:`gisfix.edits.apply_scenario` reported.
    recounted : list
        Ids of the new pieces counted again over the raster.
    scenario : Scenario, optional
        The scenario applied.
    source_report : dict, optional
        For a vintage scenario, the report of the edits found.
    """

    name: str
    units: object
    lineage: pd.DataFrame
    measures: Measures
    change: object
    report: dict
    recounted: list
    scenario: object = None
    source_report: dict | None = None


@dataclass
class RunResult:
    """Everything :func:`run_project` computed; :func:`write_outputs` writes it.

    Attributes
    ----------
    project : Project
        The project run.
    units : GeoDataFrame
        The base units.
    stack : BuiltupStack
        The built-up rasters.
    base : Measures
        Every measure of the base units.
    scenarios : dict
        Scenario name -> :class:`ScenarioRun`.
    lei_patches : GeoDataFrame, optional
        New built-up patches with their LEI growth type.
    stages : DataFrame, optional
        Four-stage labels of the region.
    timings, parameters, files : dict
        Seconds per step, parameters and input files (for ``run.json``).
    notes : list of str
        Why a measure was not computed.
    """

    project: object
    units: object
    stack: object
    base: Measures
    scenarios: dict
    lei_patches: object = None
    stages: pd.DataFrame | None = None
    timings: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


@dataclass
class _Context:
    """What every measure pass shares: the stack, parameters and applicable families."""

    stack: object
    families: set
    thresholds: list
    top_k: int
    graph: str
    permutations: int
    seed: int
    groups: list
    population: dict
    lei_period: tuple | None
    notes: list = field(default_factory=list)


def _agglomeration_measures():
    """The per-unit agglomeration bundle, wherever the architecture keeps it."""
    from gisfix.workflows.measures import agglomeration_measures

    return agglomeration_measures


def applicable_families(requested: Sequence[str], stack, n_units: int,
                        explicit: bool = False) -> tuple[set, list]:
    """Return the families that apply to the data, and a note for each one that does not.

    Parameters
    ----------
    requested : sequence of str
        Families asked for (:data:`gisfix.project.FAMILIES`).
    stack : BuiltupStack
        The built-up rasters (epochs, CRS).
    n_units : int
        Number of units.
    explicit : bool
        The families were listed by the user: only notes about those are kept.
    """
    fams, notes = set(requested), []
    epochs = len(stack.epochs)
    geographic = stack.crs.is_geographic
    for f, ok, why in (
            ("expansion", epochs >= 2, "needs two epochs or more"),
            ("lei", epochs >= 2 and not geographic,
             "needs two epochs or more on a projected raster"),
            ("stages", epochs >= 2 and not geographic,
             "needs two epochs or more on a projected raster"),
            ("patches", not geographic, "needs a projected raster (reproject it with "
                                        "gdalwarp to an equal-area CRS)"),
            ("autocorrelation", n_units >= 3, "needs three units or more"),
            ("spatial_gini", n_units >= 3, "needs three units or more")):
        if f in fams and not ok:
            fams.discard(f)
            notes.append(f"{f} not computed: it {why}; the raster has "
                         f"{epochs} epoch(s){' and is geographic' if geographic else ''}")
    if explicit:
        notes = [n for n in notes if n.split()[0] in requested]
    return fams, notes


# -- one measure pass ----------------------------------------------------------------------
def _population_series(units, population: dict):
    if not population:
        return None
    keys, vals = [], []
    for epoch, col in population.items():
        for uid, v in units[col].items():
            keys.append((str(uid), int(epoch)))
            vals.append(float(v))
    return pd.Series(vals, index=pd.MultiIndex.from_tuples(keys, names=["unit_id", "epoch"]))


def share_inequality(table: pd.DataFrame, units, groups: Sequence[str] = (),
                     population: dict | None = None) -> pd.DataFrame:
    r"""Inequality of built-up share across units, by epoch, each unit weighted by its land.

    For each epoch: ``share_gini``, ``share_theil_t``, ``share_theil_l`` (only when every
    share is positive: Theil L is undefined at 0), ``share_cv`` (unweighted CV across
    units) and ``share_cv_land_weighted`` (:func:`gisfix.inequality.cv` weighted by
    observed land :math:`V_u`), each with weights :math:`V_u` (``valid_km2``: every km² of
    land counts once); with ``groups``, ``share_theil_t_between`` / ``_within`` (and L)
    from :func:`gisfix.inequality.theil_decomposition` (nested groups: between sums every
    level; one-unit groups allowed); with a population, ``williamson`` is Williamson's
    population-weighted CV (:func:`gisfix.inequality.williamson`) of built-up m² per
    capita.  With shares :math:`s_u = B_u / V_u` and land weights
    :math:`w_u = V_u / \sum_v V_v`, e.g.

    .. math::

        G = \frac{\sum_u \sum_v w_u w_v |s_u - s_v|}{2 \bar s}, \qquad
        T = \sum_u w_u \frac{s_u}{\bar s} \ln \frac{s_u}{\bar s}, \qquad
        \bar s = \sum_u w_u s_u

    (Gini 1912; Theil 1967; Shorrocks 1980 for the decomposition; Williamson 1965).
    Formulas and citations of each are in those functions.

    Parameters
    ----------
    table : DataFrame
        Long built-up table.
    units : GeoDataFrame
        The units (for groups and population), indexed by id.
    groups : sequence of str
        Group columns, outermost first.
    population : dict, optional
        Epoch -> population column.

    Returns
    -------
    DataFrame
        Indexed by epoch.
    """
    from gisfix.inequality import cv, gini, theil_decomposition, theil_l, theil_t, williamson

    rows = {}
    ids = units.index.map(str)
    for epoch, part in table.groupby("epoch"):
        part = part.set_index("unit_id").reindex(ids)
        ok = part["builtup_share"].notna() & (part["valid_km2"] > 0)
        s, w = part.loc[ok, "builtup_share"], part.loc[ok, "valid_km2"]
        if len(s) < 2 or s.sum() <= 0:
            continue
        row = {"n_units": int(len(s)), "share_gini": gini(s, w), "share_theil_t": theil_t(s, w),
               "share_cv": cv(s), "share_cv_land_weighted": cv(s, w)}
        positive = bool((s > 0).all())
        if positive:
            row["share_theil_l"] = theil_l(s, w)
        if groups:
            g = [units[c].set_axis(ids).loc[s.index] for c in groups]
            for key, idx in (("theil_t", "T"), ("theil_l", "L")):
                if idx == "L" and not positive:
                    continue
                d = theil_decomposition(s, g if len(g) > 1 else g[0], w, index=idx,
                                        allow_singletons=True)
                row[f"share_{key}_between"], row[f"share_{key}_within"] = d.between, d.within
        if population and int(epoch) in population:
            pop = units[population[int(epoch)]].set_axis(ids).loc[s.index].astype(float)
            km2 = part.loc[ok, "builtup_km2"]
            good = pop > 0
            if good.sum() >= 2:
                row["williamson"] = williamson(km2[good] * 1e6 / pop[good], pop[good])
        rows[int(epoch)] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("epoch")


def _graph(units, kind):
    from gisfix.spatial.graphs import unit_graph

    return unit_graph(units, kind)


def measure_units(units, table: pd.DataFrame, ctx: _Context, *, patch_table=None,
                  lei_summary=None, graph=None) -> Measures:
    """Every applicable measure of ``units`` from their built-up ``table`` (one pass).

    ``patch_table`` and ``lei_summary`` are taken as given (the caller reuses the base
    pass's raster work); the graph of the units is built unless given.

    Parameters
    ----------
    units : GeoDataFrame
        The units, indexed by id.
    table : DataFrame
        Their long built-up table.
    ctx : _Context
        Stack, families and parameters of the run.
    patch_table, lei_summary : DataFrame, optional
        Patch metrics and LEI summaries computed elsewhere.
    graph : libpysal.graph.Graph, optional
        Spatial graph of the units.

    Returns
    -------
    Measures
    """
    from gisfix.agglomeration import concentration, hierarchy

    fams = ctx.families
    notes: list = []
    table = table.copy()
    table["unit_id"] = table["unit_id"].astype(str)
    if graph is None and fams & {"autocorrelation", "spatial_gini"}:
        graph = _graph(units, ctx.graph)
    pop = _population_series(units, ctx.population)
    agg = _agglomeration_measures()
    per_unit, summary = agg(units, ctx.stack, population=pop, thresholds=ctx.thresholds,
                            patches=False, permutations=ctx.permutations, seed=ctx.seed,
                            graph=graph if "autocorrelation" in fams else None, table=table)
    summary = summary.set_index("epoch")
    region = table.groupby("epoch")[["builtup_km2", "valid_km2"]].sum()
    region.columns = ["builtup_km2_total", "valid_km2_total"]
    region["builtup_share_region"] = region["builtup_km2_total"] / region["valid_km2_total"]
    region["n_units"] = table.groupby("epoch").size()
    if "intensity" in fams:
        for t in ctx.thresholds:
            col = f"share_ge_{t:g}"
            region[f"n_units_{col}"] = per_unit.groupby("epoch")[col].sum().astype(int)
    else:
        per_unit = per_unit.drop(columns=[c for c in per_unit if c.startswith("share_ge_")
                                          or c in ("intensity_level", "location_quotient")])
    if "concentration" in fams:
        conc = concentration(table, top_k=sorted({1, ctx.top_k}))
        region = region.join(conc.drop(columns=["n_units", "total"]).add_prefix("builtup_km2_"))
    if "hierarchy" in fams:
        region = region.join(hierarchy(table))
    if "autocorrelation" in fams:
        moran_cols = [c for c in summary.columns if c.startswith("moran_")]
        region = region.join(summary[moran_cols])
    if "inequality" in fams:
        ineq = share_inequality(table, units, ctx.groups, ctx.population)
        region = region.join(ineq.drop(columns=["n_units"], errors="ignore"))
        no_l = [int(e) for e in region.index
                if "share_theil_l" not in region or pd.isna(region.loc[e, "share_theil_l"])]
        if no_l:
            notes.append(f"share_theil_l not computed for epoch(s) "
                         f"{', '.join(map(str, no_l))}: some unit has a built-up share of 0, "
                         "and Theil L needs positive values (Theil T and the Gini are given)")
    if "spatial_gini" in fams and graph is not None:
        region = region.join(_spatial_gini(table, graph, ctx))
    expansion = None
    if "expansion" in fams:
        from gisfix.diffusion import expansion_series

        expansion = expansion_series(table)
        exp = expansion.drop(columns=["t0"]).rename(columns={"t1": "epoch"})
        exp = exp.rename(columns={c: f"expansion_{c}" for c in exp.columns
                                  if c not in ("unit_id", "epoch")})
        per_unit = per_unit.merge(exp, on=["unit_id", "epoch"], how="left")
    if patch_table is not None:
        pm = patch_table.copy()
        pm["unit_id"] = pm["unit_id"].astype(str)
        per_unit = per_unit.merge(pm.rename(columns={c: f"patch_{c}" for c in pm.columns
                                                     if c not in ("unit_id", "epoch")}),
                                  on=["unit_id", "epoch"], how="left")
    if lei_summary is not None:
        lei = lei_summary.add_prefix("lei_").rename_axis("unit_id").reset_index()
        lei["unit_id"] = lei["unit_id"].astype(str)
        lei["epoch"] = int(ctx.lei_period[1])
        per_unit = per_unit.merge(lei, on=["unit_id", "epoch"], how="left")
    popm: dict = {}
    if ctx.population:
        popm = population_measures(units, table, ctx.population, ctx.groups)
        region = region.join(popm["region"])
        popm["per_unit"]["unit_id"] = popm["per_unit"]["unit_id"].astype(str)
        per_unit = per_unit.merge(popm["per_unit"], on=["unit_id", "epoch"], how="left")
        notes.extend(popm["notes"])
    return Measures(table, per_unit, region, expansion, lei_summary, patch_table, notes,
                    popm.get("per_capita"), popm.get("efficiency"), popm.get("justice"),
                    popm.get("lorenz"))


def _spatial_gini(table: pd.DataFrame, graph, ctx: _Context) -> pd.DataFrame:
    from gisfix.spatial import spatial_gini

    rows = {}
    ids = [str(i) for i in graph.unique_ids]
    seeds = np.random.SeedSequence(ctx.seed).spawn(len(set(table["epoch"])))
    for (epoch, part), ss in zip(table.groupby("epoch"), seeds):
        share = part.set_index("unit_id")["builtup_share"].reindex(ids)
        if share.isna().any() or share.sum() <= 0:
            continue
        sg = spatial_gini(share, graph, permutations=ctx.permutations,
                          seed=int(ss.generate_state(1)[0]))
        rows[int(epoch)] = {"share_spatial_gini": sg.gini,
                            "share_spatial_gini_non_neighbor_share": sg.non_neighbor_share,
                            "share_spatial_gini_p_sim": sg.p_sim}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("epoch")


# -- land per person and spatial justice (issue 16, items 3 and 4) -------------------------
#: Weightings of the per-capita inequality columns ``percapita_<measure>_<weighting>_weighted``:
#: ``person`` (every inhabitant counts once), ``land`` (every km² of observed land counts
#: once, as the ``share_*`` measures), ``unit`` (every unit counts once).
JUSTICE_WEIGHTINGS = ("person", "land", "unit")


def _group_values(units, groups: Sequence[str], ids: pd.Index):
    """The group column(s) of ``units`` aligned on ``ids`` (one Series, or a nested list)."""
    if not groups:
        return None
    keyed = units.set_axis(units.index.map(str))
    g = [keyed[c].loc[ids] for c in groups]
    return g[0] if len(g) == 1 else g


def population_measures(units, table: pd.DataFrame, population: dict,
                        groups: Sequence[str] = ()) -> dict:
    r"""Land per person, SDG 11.3.1 and person-weighted spatial justice of one set of units.

    With :math:`B_{ut}` the built-up km² and :math:`P_{ut}` the population of unit
    :math:`u` at epoch :math:`t`:

    - ``per_capita``: :math:`L_{ut} = 10^6 B_{ut}/P_{ut}` (built-up m² per capita,
      :func:`gisfix.efficiency.land_per_capita`);
    - ``efficiency`` (two population epochs or more, from distinct columns): per unit and
      period :math:`LCR = \ln(B_{t_1}/B_{t_0})/y`, :math:`PGR = \ln(P_{t_1}/P_{t_0})/y`,
      :math:`LCRPGR = LCR/PGR` (UN-Habitat 2021, SDG indicator 11.3.1,
      :func:`gisfix.efficiency.land_use_efficiency`), for the units and for the region's
      totals;
    - the land-population elasticity across units, per epoch on log levels and per period
      on log changes (:func:`gisfix.efficiency.land_population_elasticity`);
    - ``justice``: Gini, Theil T and Theil L of :math:`L_{ut}` across units with population
      weights (``person``), observed-land weights (``land``: ``valid_km2``) and no weights
      (``unit``), Theil split between/within the ``groups`` (Shorrocks 1980;
      :func:`gisfix.justice.justice_inequality`); Theil L only where every unit has some
      built-up land;
    - ``lorenz``: the person- and land-weighted Lorenz curves
      (:func:`gisfix.justice.justice_lorenz`).

    Units with no population in an epoch are left out of that epoch's inequality.

    Parameters
    ----------
    units : GeoDataFrame
        The units, indexed by id, with the population column(s) and the group columns.
    table : DataFrame
        Their long built-up table (``unit_id, epoch, builtup_km2, valid_km2``).
    population : dict
        Epoch -> population column of ``units`` (as :func:`gisfix.project.open_inputs`
        gives it).
    groups : sequence of str
        Group columns, outermost first, for the between/within split.

    Returns
    -------
    dict
        ``per_capita``, ``efficiency`` (or None), ``justice``, ``lorenz`` (DataFrames),
        ``region`` (DataFrame indexed by epoch: ``population_total``,
        ``builtup_m2_per_capita_region``, ``percapita_<measure>_<weighting>_weighted``
        (``_between`` / ``_within``), ``land_population_elasticity`` and its ``_r2``, and
        at the end epoch of each period ``lcr_per_year_region``, ``pgr_per_year_region``,
        ``lcrpgr_region``, ``land_population_elasticity_growth``), ``per_unit`` (DataFrame
        ``unit_id, epoch, lcr_per_year, pgr_per_year, lcrpgr, change_m2_per_capita`` at
        the end epoch of each period) and ``notes`` (list of str).
    """
    from gisfix.efficiency import (
        land_per_capita,
        land_population_elasticity,
        land_use_efficiency,
        population_from_columns,
    )
    from gisfix.justice import justice_inequality, justice_lorenz

    notes: list = []
    pop = population_from_columns(units, {int(e): c for e, c in population.items()})
    t = table.copy()
    t["unit_id"] = t["unit_id"].astype(str)
    t = t[t["epoch"].isin(pop["epoch"].unique())]
    builtup = t[["unit_id", "epoch", "builtup_km2"]]
    pc = land_per_capita(builtup, pop)
    tot = pc.groupby("epoch")[["builtup_km2", "population"]].sum()
    region = pd.DataFrame({"population_total": tot["population"]})
    with np.errstate(divide="ignore", invalid="ignore"):
        region["builtup_m2_per_capita_region"] = np.where(
            tot["population"] > 0, tot["builtup_km2"] * 1e6 / tot["population"], np.nan)
    justice, lorenz = [], []
    for epoch, part in pc.groupby("epoch", sort=True):
        ok = part[(part["population"] > 0) & part["builtup_m2_per_capita"].notna()]
        ok = ok.set_index("unit_id")
        if len(ok) < 2:
            notes.append(f"per-capita inequality not computed for {int(epoch)}: fewer than "
                         "two units with a population")
            continue
        x, w = ok["builtup_m2_per_capita"], ok["population"]
        area = t[t["epoch"] == epoch].set_index("unit_id")["valid_km2"].reindex(x.index)
        measures = ("gini", "theil_t", "theil_l") if (x > 0).all() else ("gini", "theil_t")
        if len(measures) == 2:
            notes.append(f"percapita Theil L not computed for {int(epoch)}: some unit with "
                         "people has no built-up land (Theil L needs positive values)")
        res = justice_inequality(x, w, _group_values(units, groups, x.index), area=area,
                                 measures=measures)
        res.insert(0, "epoch", int(epoch))
        res.insert(1, "outcome", "builtup_m2_per_capita")
        justice.append(res)
        for r in res.itertuples(index=False):
            name = f"percapita_{r.measure}_{r.weighting}_weighted"
            region.loc[epoch, name] = r.value
            if not pd.isna(r.between):
                region.loc[epoch, f"{name}_between"] = r.between
                region.loc[epoch, f"{name}_within"] = r.within
        cur = justice_lorenz(x, w, area=area)
        cur.insert(0, "epoch", int(epoch))
        lorenz.append(cur)
    lev = land_population_elasticity(builtup, pop)
    if len(lev):
        lev = lev.set_index("epoch")
        region["land_population_elasticity"] = lev["elasticity"]
        region["land_population_elasticity_r2"] = lev["r2"]
    eff, per_unit = None, pd.DataFrame(columns=["unit_id", "epoch"])
    cols = list(dict.fromkeys(population.values()))
    if len(population) >= 2 and len(cols) >= 2:
        eff = land_use_efficiency(builtup, pop)
        per_unit = eff[["unit_id", "t1", "lcr_per_year", "pgr_per_year", "lcrpgr",
                        "change_m2_per_capita"]].rename(columns={"t1": "epoch"})
        reg_b = tot.reset_index().assign(unit_id="region")
        reg = land_use_efficiency(reg_b[["unit_id", "epoch", "builtup_km2"]],
                                  reg_b[["unit_id", "epoch", "population"]]).set_index("t1")
        for c in ("lcr_per_year", "pgr_per_year", "lcrpgr"):
            region.loc[reg.index, f"{c}_region"] = reg[c]
        gro = land_population_elasticity(builtup, pop, growth=True)
        if len(gro):
            region.loc[gro["t1"].to_numpy(), "land_population_elasticity_growth"] = (
                gro["elasticity"].to_numpy())
    else:
        notes.append("LCR, PGR and LCRPGR (SDG 11.3.1) not computed: they need the "
                     "population of two epochs or more, one column per epoch "
                     "([boundaries] population = {2000 = \"pop2000\", 2020 = \"pop2020\"})")
    region.index = region.index.astype(int)
    return {"per_capita": pc, "efficiency": eff, "region": region.rename_axis("epoch"),
            "per_unit": per_unit,
            "justice": pd.concat(justice, ignore_index=True) if justice else None,
            "lorenz": pd.concat(lorenz, ignore_index=True) if lorenz else None,
            "notes": notes}


# -- scenarios: reuse the base pass through the lineage ------------------------------------
def whole_units(lineage: pd.DataFrame) -> pd.Index:
    """New ids made only of whole base units (mergers, recodes, untouched units).

    Parameters
    ----------
    lineage : DataFrame
        ``old_id, new_id, area_share``.
    """
    part = lineage[lineage["area_share"] > 1e-12]
    ok = part.groupby("new_id")["area_share"].min() >= WHOLE
    return pd.Index(ok.index[ok.to_numpy()])


def unchanged_units(lineage: pd.DataFrame) -> pd.Index:
    """New ids that are one base unit, whole, under the same id.

    Parameters
    ----------
    lineage : DataFrame
        ``old_id, new_id, area_share``.
    """
    part = lineage[lineage["area_share"] > 1e-12]
    g = part.groupby("new_id")
    one = (g.size() == 1) & (g["area_share"].min() >= WHOLE)
    same = part.drop_duplicates("new_id").set_index("new_id")["old_id"]
    keep = one & (same.reindex(one.index) == one.index)
    return pd.Index(keep.index[keep.to_numpy()])


def scenario_table(base_table: pd.DataFrame, lineage: pd.DataFrame, units, stack,
                   method: str = "exact") -> tuple[pd.DataFrame, list]:
    """Built-up table of edited ``units``: sums of base parts, or a recount of new pieces.

    Returns the table (rows in the order of ``units``, then epoch) and the ids recounted
    over the raster.

    Parameters
    ----------
    base_table : DataFrame
        The base units' long built-up table.
    lineage : DataFrame
        ``old_id, new_id, area_share``.
    units : GeoDataFrame
        The edited units.
    stack : BuiltupStack
        The built-up rasters.
    method : str
        Method of :func:`gisfix.builtup_by_unit` for the recounted pieces.
    """
    from gisfix.zonal import builtup_by_unit, share_and_coverage

    ids = [str(i) for i in units.index]
    whole = set(whole_units(lineage))
    recount = [i for i in ids if i not in whole]
    links = lineage[lineage["new_id"].isin(list(whole)) & (lineage["area_share"] > 1e-12)]
    parts = base_table.merge(links[["old_id", "new_id"]], left_on="unit_id", right_on="old_id")
    summed = parts.groupby(["new_id", "epoch"], as_index=False)[["builtup_km2",
                                                                  "valid_km2"]].sum()
    summed = summed.rename(columns={"new_id": "unit_id"})
    frames = [summed]
    if recount:
        sub = units.loc[[u for u in units.index if str(u) in set(recount)]]
        frames.append(builtup_by_unit(sub, stack, method=method)[
            ["unit_id", "epoch", "builtup_km2", "valid_km2"]])
    out = pd.concat(frames, ignore_index=True)
    out["unit_id"] = out["unit_id"].astype(str)
    from gisfix.crs import true_areas

    unit_km2 = pd.Series(true_areas(units.to_crs(stack.crs).geometry.values, stack.crs) / 1e6,
                         index=ids)
    out["builtup_share"], out["coverage"] = share_and_coverage(
        out["builtup_km2"], out["valid_km2"], out["unit_id"].map(unit_km2))
    order = {u: k for k, u in enumerate(ids)}
    out = out.assign(_o=out["unit_id"].map(order)).sort_values(["_o", "epoch"])
    return out.drop(columns="_o").reset_index(drop=True), recount


def _scenario_lei(base_lei: pd.DataFrame, lineage: pd.DataFrame, units, stack, ctx):
    """LEI summary of edited units: sums of base parts when every unit is whole."""
    from gisfix.lei import GROWTH_TYPES

    ids = [str(i) for i in units.index]
    if set(ids) <= set(whole_units(lineage)):
        links = lineage[lineage["area_share"] > 1e-12][["old_id", "new_id"]]
        base = base_lei.copy()
        base.index = base.index.map(str)
        add = [c for c in base.columns if c.startswith("n_") or c.endswith("_km2")]
        s = base[add].join(links.set_index("old_id")).groupby("new_id")[add].sum()
        s = s.reindex(ids)
        for name in GROWTH_TYPES:
            col = name.replace("-", "_")
            with np.errstate(invalid="ignore", divide="ignore"):
                s[f"share_{col}"] = np.where(s["new_km2"] > 0,
                                             s[f"{col}_km2"] / s["new_km2"], np.nan)
        return s.rename_axis("unit_id")[list(base_lei.columns)]
    from gisfix.lei import lei_by_unit

    _, summary = lei_by_unit(units, stack, *ctx.lei_period, polygons=False)
    return summary


def _scenario_patches(base_pm: pd.DataFrame, lineage: pd.DataFrame, units, stack):
    from gisfix.landscape import patch_metrics

    same = set(unchanged_units(lineage))
    changed = [u for u in units.index if str(u) not in same]
    keep = base_pm[base_pm["unit_id"].astype(str).isin(same)]
    frames = [keep]
    if changed:
        frames.append(patch_metrics(units.loc[changed], stack))
    out = pd.concat(frames, ignore_index=True)
    out["unit_id"] = out["unit_id"].astype(str)
    return out


def change_layer(units, lineage: pd.DataFrame, base_table: pd.DataFrame,
                 sc_table: pd.DataFrame):
    """Per new unit: its source units and built-up km² / share before and after, by epoch.

    Before is the source units taken whole (the old units it came from): built-up km² is
    their sum and the share their total built-up over their total valid area.

    Parameters
    ----------
    units : GeoDataFrame
        The edited units.
    lineage : DataFrame
        ``old_id, new_id, area_share``.
    base_table, sc_table : DataFrame
        Long built-up tables of the base and the edited units.
    """
    from gisfix.edits.lineage import unit_status

    part = lineage[lineage["area_share"] > 1e-6]
    sources = part.groupby("new_id")["old_id"].agg(lambda s: ",".join(map(str, s)))
    ids = [str(i) for i in units.index]
    out = units[[units.geometry.name]].copy()
    out.index = ids
    out["old_ids"] = sources.reindex(ids).to_numpy()
    out["n_sources"] = part.groupby("new_id").size().reindex(ids).fillna(0).astype(int).to_numpy()
    out["status"] = unit_status(lineage, ids).to_numpy()
    before = base_table.merge(part[["old_id", "new_id"]], left_on="unit_id",
                              right_on="old_id").groupby(["new_id", "epoch"])[
        ["builtup_km2", "valid_km2"]].sum()
    after = sc_table.set_index(["unit_id", "epoch"])[["builtup_km2", "valid_km2"]]
    for epoch in sorted(set(sc_table["epoch"])):
        b = before.xs(epoch, level="epoch").reindex(ids)
        a = after.xs(epoch, level="epoch").reindex(ids)
        e = int(epoch)
        out[f"builtup_km2_{e}_before"] = b["builtup_km2"].to_numpy()
        out[f"builtup_km2_{e}_after"] = a["builtup_km2"].to_numpy()
        out[f"share_{e}_before"] = (b["builtup_km2"] / b["valid_km2"]).to_numpy()
        out[f"share_{e}_after"] = (a["builtup_km2"] / a["valid_km2"]).to_numpy()
        out[f"share_{e}_change"] = out[f"share_{e}_after"] - out[f"share_{e}_before"]
    return out.rename_axis("unit_id").reset_index()


def run_scenario(name: str, scenario, spec, units, base: Measures, ctx: _Context,
                 population_cols: Sequence[str] = ()) -> ScenarioRun:
    """Apply one scenario's edits and measure the edited units, reusing the base pass.

    Parameters
    ----------
    name : str
        Scenario name.
    scenario : Scenario
        The edits.
    spec : ScenarioSpec or None
        The project's entry (reallocation method).
    units : GeoDataFrame
        The base units.
    base : Measures
        The base pass.
    ctx : _Context
        Stack, families and parameters of the run.
    population_cols : sequence of str
        Extensive columns reallocated by the edits (population).

    Returns
    -------
    ScenarioRun
    """
    from gisfix.edits import apply_scenario

    dasy = spec is not None and spec.reallocation == "dasymetric"
    res = apply_scenario(units, scenario, extensive=list(dict.fromkeys(population_cols)),
                         stack=ctx.stack if dasy else None)
    edited = res.units
    table, recount = scenario_table(base.table, res.lineage, edited, ctx.stack)
    pm = lei = None
    if base.patch_table is not None:
        pm = _scenario_patches(base.patch_table, res.lineage, edited, ctx.stack)
    if base.lei_summary is not None:
        lei = _scenario_lei(base.lei_summary, res.lineage, edited, ctx.stack, ctx)
    m = measure_units(edited, table, ctx, patch_table=pm, lei_summary=lei)
    change = change_layer(edited, res.lineage, base.table, table)
    return ScenarioRun(name, edited, res.lineage, m, change, res.report, recount, scenario)


# -- tidy tables ---------------------------------------------------------------------------
def tidy(m: Measures, scenario: str) -> pd.DataFrame:
    """Every numeric value of a measure pass as ``scenario, unit_id, epoch, measure, value``.

    Parameters
    ----------
    m : Measures
        A measure pass.
    scenario : str
        Its name (``base`` or the scenario's).
    """
    pu = m.per_unit.copy()
    num = [c for c in pu.columns if c not in ("unit_id", "epoch")
           and (pd.api.types.is_numeric_dtype(pu[c]) or pd.api.types.is_bool_dtype(pu[c]))]
    long_u = pu.melt(id_vars=["unit_id", "epoch"], value_vars=num, var_name="measure",
                     value_name="value")
    reg = m.region.reset_index()
    rnum = [c for c in reg.columns if c != "epoch" and pd.api.types.is_numeric_dtype(reg[c])]
    long_r = reg.melt(id_vars=["epoch"], value_vars=rnum, var_name="measure",
                      value_name="value")
    long_r.insert(0, "unit_id", None)
    out = pd.concat([long_r, long_u], ignore_index=True)
    out["value"] = pd.to_numeric(out["value"].astype("Float64"), errors="coerce").astype(float)
    out.insert(0, "scenario", scenario)
    out["epoch"] = out["epoch"].astype(int)
    return out[["scenario", "unit_id", "epoch", "measure", "value"]]


def before_after(base: pd.DataFrame, other: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """One row per region-wide measure and epoch: base, scenario, absolute, relative change.

    Parameters
    ----------
    base, other : DataFrame
        Region-wide measures (indexed by epoch) of the base and of the scenario.
    scenario : str
        The scenario's name.
    """
    b = base.reset_index().melt(id_vars="epoch", var_name="measure", value_name="base")
    o = other.reset_index().melt(id_vars="epoch", var_name="measure", value_name="value")
    out = b.merge(o, on=["epoch", "measure"], how="outer")
    out["base"] = pd.to_numeric(out["base"], errors="coerce")
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    out["abs_change"] = out["value"] - out["base"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rel_change"] = np.where(out["base"] != 0, out["abs_change"] / out["base"].abs(),
                                     np.nan)
    out.insert(0, "scenario", scenario)
    return out[["scenario", "measure", "epoch", "base", "value", "abs_change", "rel_change"]]


# -- the run -------------------------------------------------------------------------------
def _check_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file; give a folder for the results")
    if not overwrite and out.exists():
        existing = [n for n in OUTPUTS if (out / n).exists()]
        if existing:
            raise OutputExistsError(f"{out} already holds results ({', '.join(existing[:3])}"
                                    "); pass --overwrite (overwrite=True) to replace them")


def run_project(project, output, *, overwrite: bool = False,
                progress: Callable[[str], None] | None = None, write: bool = True) -> RunResult:
    """Run a project: measure the base units and every scenario, then write the outputs.

    Parameters
    ----------
    project : Project, path-like or mapping
        A project (:func:`gisfix.project.load_project`) or what it reads.
    output : path-like
        Folder for the results (created; nothing is written when the run fails).
    overwrite : bool
        Replace results of an earlier run; otherwise they are an error, raised before
        any work.
    progress : callable, optional
        Called with a short message before each step.
    write : bool
        Write the outputs (:func:`write_outputs`); False only computes them.

    Returns
    -------
    RunResult
    """
    from gisfix.project import Project, load_project, open_inputs

    out = Path(output) if output is not None else None
    if write:
        if out is None:
            raise OutputExistsError("give an output folder (or write=False)")
        _check_folder(out, overwrite)
    say = progress or log.info
    timings: dict = {}

    def step(label):
        say(label)
        timings[label] = time.perf_counter()

    t_start = time.perf_counter()
    step("checking the project and its inputs")
    p = project if isinstance(project, Project) else load_project(project)
    inputs = open_inputs(p, progress=None)
    units, stack = inputs.units, inputs.stack
    diff_reports = vintage_scenarios(p, inputs)
    mp = p.measures
    fams, notes = applicable_families(mp["include"], stack, len(units), mp["include_given"])
    lei_period = mp["lei_period"] or ((stack.epochs[0], stack.epochs[-1])
                                      if len(stack.epochs) >= 2 else None)
    ctx = _Context(stack, fams, mp["thresholds"], mp["top_k"], mp["graph"], mp["permutations"],
                   mp["seed"], p.boundaries["groups"], inputs.population, lei_period, notes)

    step("built-up area by unit and epoch (base)")
    from gisfix.parallel import scheduler_session
    from gisfix.zonal import builtup_by_unit

    scheduler = getattr(p, "dask", {}).get("scheduler")  # [dask] scheduler: raster blocks
    with scheduler_session(scheduler) as sched:
        table = builtup_by_unit(units, stack, scheduler=sched)
        pm = lei_patches = lei_summary = stages = None
        if "patches" in fams:
            step("patch metrics (base)")
            from gisfix.landscape import patch_metrics

            pm = patch_metrics(units, stack, scheduler=sched)
        if "lei" in fams:
            step(f"Landscape Expansion Index {lei_period[0]} -> {lei_period[1]}")
            from gisfix.lei import lei_by_unit

            lei_patches, lei_summary = lei_by_unit(units, stack, *lei_period, scheduler=sched)
        if "stages" in fams:
            step("four-stage labels of the region")
            from gisfix.stages import city_stages

            stages = city_stages(stack, table=table, scheduler=sched)
    step("measures of the base units")
    base = measure_units(units, table, ctx, patch_table=pm, lei_summary=lei_summary)
    notes.extend(base.notes)
    pop_cols = list(dict.fromkeys(inputs.population.values()))
    runs = {}
    for spec in p.scenarios:
        step(f"scenario {spec.name}: edits and measures")
        runs[spec.name] = run_scenario(spec.name, inputs.scenarios[spec.name], spec, units,
                                       base, ctx, pop_cols)
        runs[spec.name].source_report = diff_reports.get(spec.name)
    marks = list(timings.items()) + [("end", time.perf_counter())]
    seconds = {k: round(marks[i + 1][1] - v, 3) for i, (k, v) in enumerate(marks[:-1])}
    result = RunResult(p, units, stack, base, runs, lei_patches, stages, seconds,
                       {"families": sorted(fams), "thresholds": ctx.thresholds,
                        "top_k": ctx.top_k, "graph": ctx.graph,
                        "permutations": ctx.permutations, "seed": ctx.seed,
                        "lei_period": list(lei_period) if lei_period else None,
                        "epochs": list(stack.epochs), "encoding": stack.encoding,
                        "groups": ctx.groups, "population": inputs.population,
                        **({"scheduler": scheduler} if scheduler else {})},
                       inputs.files, notes)
    if not write:
        return result
    step("writing the results")
    write_outputs(result, out, overwrite=overwrite)
    result.timings["writing the results"] = round(time.perf_counter()
                                                  - timings["writing the results"], 3)
    result.timings["total"] = round(time.perf_counter() - t_start, 3)
    return result


def vintage_scenarios(project, inputs) -> dict:
    """Find the edits of every ``vintage`` scenario (:func:`gisfix.edits.diff.diff`).

    The scenarios are added to ``inputs.scenarios`` (checked like the others); returns
    the diff reports by scenario name.

    Parameters
    ----------
    project : Project
        The project.
    inputs : Inputs
        Its opened inputs (:func:`gisfix.project.open_inputs`).
    """
    from gisfix.edits.diff import diff
    from gisfix.edits.scenario import load_scenario
    from gisfix.project import check_scenario_ids

    reports = {}
    for spec in project.scenarios:
        if spec.name not in inputs.vintages:
            continue
        found = diff(inputs.units, inputs.vintages[spec.name],
                     name=project.boundaries.get("name"), scenario_name=spec.name)
        sc = load_scenario(found.scenario)
        check_scenario_ids(project, spec, sc, inputs.units, {"key": "vintage"})
        inputs.scenarios[spec.name] = sc
        reports[spec.name] = found.report
    return reports


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _inputs_record(files: dict) -> dict:
    rec = {}
    for name, value in files.items():
        paths = value if isinstance(value, list) else [value]
        items = []
        for v in paths:
            if v is None:
                continue
            p = Path(v)
            items.append({"path": str(p.resolve()), "bytes": p.stat().st_size,
                          "sha256": _sha256(p)} if p.is_file() else {"path": str(p)})
        rec[name] = items if isinstance(value, list) else (items[0] if items else None)
    return rec


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from gisfix._version import __version__

    out = {"gisfix": __version__}
    for dep in KEY_DEPENDENCIES:
        try:
            out[dep] = version(dep)
        except PackageNotFoundError:
            out[dep] = None
    return out


def project_document(p) -> dict:
    """The project as a TOML structure with absolute paths (written as ``project.toml``).

    Parameters
    ----------
    p : Project
        The project.
    """
    doc = {"region": {"name": p.region}}
    b = {k: v for k, v in p.boundaries.items() if k not in ("dataset",)}
    b["path"] = str(Path(b["path"]).resolve())
    doc["boundaries"] = b
    r = {k: v for k, v in p.builtup.items() if k not in ("dataset",)}
    r["paths"] = [str(Path(x).resolve()) for x in r["paths"]]
    if "aoi" in r:
        r["aoi"] = str(Path(r["aoi"]).resolve())
    doc["builtup"] = r
    m = {k: v for k, v in p.measures.items() if k not in ("include_given",) and v is not None}
    if "lei_period" in m:
        m["lei_period"] = list(m["lei_period"])
    doc["measures"] = m
    scs = []
    for s in p.scenarios:
        d = {"name": s.name, "reallocation": s.reallocation}
        if s.source == "edits":
            d["edits"] = str(s.edits.resolve())
        elif s.source == "vintage":
            d["vintage"] = str(s.vintage.resolve())
            d["vintage_id"] = s.vintage_id
            if s.vintage_layer:
                d["vintage_layer"] = s.vintage_layer
        else:
            d["edit"] = s.inline
        scs.append(d)
    if getattr(p, "dask", {}).get("scheduler"):
        doc["dask"] = {"scheduler": p.dask["scheduler"]}
    if scs:
        doc["scenario"] = scs
    return doc


def write_outputs(result: RunResult, output, overwrite: bool = False,
                  report_extra: str = "", extra: Callable[[Path], None] | None = None,
                  images: bool = False) -> Path:
    """Write every output of a run into folder ``output``, all or nothing.

    Files are written into a staging folder beside ``output`` and moved into place only
    when all are complete.  This is the one place that writes a run's files: the HTML
    report and the QGIS project hook in here.

    Parameters
    ----------
    result : RunResult
        What :func:`run_project` computed.
    output : path-like
        The folder.
    overwrite : bool
        Replace the files of an earlier run.
    report_extra : str
        Markdown appended to ``REPORT.md``.
    extra : callable, optional
        Called with the staging folder before the standard files are written, to add
        more files (they are moved into place with the others); a string it returns is
        appended to ``REPORT.md``.
    images : bool
        Also embed the folder's PNG charts (those ``extra`` wrote) in ``report.html``.

    Returns
    -------
    Path
        The folder.
    """
    out = Path(output)
    _check_folder(out, overwrite)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.gisfix-", dir=parent))
    try:
        more = extra(staging) if extra is not None else None
        _write_all(result, staging, report_extra + (more or ""), images=images)
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(staging.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _layer_units(units, m: Measures, last: int, wide_table: pd.DataFrame):
    idname = units.index.name or "unit_id"
    layer = units.copy()
    layer.index = layer.index.map(str)
    layer = layer.join(wide_table)
    cur = m.per_unit[m.per_unit["epoch"] == last].set_index("unit_id")
    cur = cur.drop(columns=[c for c in cur.columns if c in ("epoch", "builtup_km2",
                                                            "builtup_share")
                            or c in POPULATION_UNIT_COLUMNS or c in layer.columns])
    layer = layer.join(cur)
    wide = _wide_population(m)
    layer = layer.join(wide[[c for c in wide.columns if c not in layer.columns]])
    return layer.rename_axis(idname).reset_index()


#: Per-unit population columns shown per epoch (wide) in ``units``, not at the last epoch.
POPULATION_UNIT_COLUMNS = ("population", "builtup_m2_per_capita", "population_per_km2",
                           "lcr_per_year", "pgr_per_year", "lcrpgr", "change_m2_per_capita")


def _wide_population(m: Measures) -> pd.DataFrame:
    """Population, built-up m² per capita by epoch and LCR/PGR/LCRPGR by period, wide."""
    parts = []
    if m.per_capita is not None:
        pc = m.per_capita.pivot(index="unit_id", columns="epoch",
                                values=["population", "builtup_m2_per_capita"])
        pc.columns = [f"{v}_{int(e)}" for v, e in pc.columns]
        parts.append(pc)
    if m.efficiency is not None:
        ef = m.efficiency.assign(period=m.efficiency["t0"].astype(int).astype(str) + "_"
                                 + m.efficiency["t1"].astype(int).astype(str))
        ef = ef.pivot(index="unit_id", columns="period",
                      values=["lcr_per_year", "pgr_per_year", "lcrpgr"])
        ef.columns = [f"{v}_{p}" for v, p in ef.columns]
        parts.append(ef)
    if not parts:
        return pd.DataFrame(index=pd.Index([], dtype=str))
    out = pd.concat(parts, axis=1)
    out.index = out.index.astype(str)
    return out


def _write_all(result: RunResult, d: Path, report_extra: str = "", images: bool = False) -> None:
    from gisfix import styles
    from gisfix.edits.lineage import STATUS_COLORS
    from gisfix.io import provenance, write_json, write_layers, write_table
    from gisfix.project import write_project
    from gisfix.zonal import to_wide

    base, stack = result.base, result.stack
    last = int(stack.epochs[-1])
    prov = provenance({k: v for k, v in result.files.items() if v is not None},
                      result.parameters, "gisfix run")
    unit_layer = _layer_units(result.units, base, last, to_wide(base.table))
    share_col = f"share_{last}"
    layers = {"units": unit_layer, "units_long": base.per_unit,
              "patches": _patches_layer(result),
              "summary": base.region.reset_index(),
              "inequality": base.region[[c for c in base.region.columns
                                         if c.startswith("share_") or c == "williamson"]]
              .reset_index(),
              "stages": (result.stages.reset_index(drop=True) if result.stages is not None
                         else pd.DataFrame({"note": ["stages not computed: "
                                                     + "; ".join(n for n in result.notes
                                                                 if n.startswith("stages"))
                                                     or "not requested"]}))}
    layers["justice"], layers["justice_lorenz"] = justice_layers(result)
    sty = {"units": styles.graduated(unit_layer[share_col], share_col)}
    if result.lei_patches is not None and "growth_type" in layers["patches"]:
        sty["patches"] = styles.categorized(
            ["infilling", "edge-expansion", "outlying"], "growth_type",
            colors={"infilling": "44,162,95", "edge-expansion": "254,178,76",
                    "outlying": "240,59,32"})
    tidy_parts = [tidy(base, BASE)]
    compare_parts = []
    for name, sc in result.scenarios.items():
        layer = _layer_units(sc.units, sc.measures, last, to_wide(sc.measures.table))
        layer["status"] = sc.change["status"].to_numpy()
        layers[f"units_{name}"] = layer
        layers[f"lineage_{name}"] = sc.lineage
        layers[f"change_{name}"] = sc.change
        sty[f"units_{name}"] = styles.graduated(layer[share_col], share_col)
        sty[f"change_{name}"] = styles.categorized(list(STATUS_COLORS), "status",
                                                   colors=STATUS_COLORS)
        tidy_parts.append(tidy(sc.measures, name))
        compare_parts.append(before_after(base.region, sc.measures.region, name))
    write_layers(d / GPKG, layers, prov, overwrite=True, styles=sty)
    measures = pd.concat(tidy_parts, ignore_index=True)
    write_table(measures, d / "measures.parquet", prov, overwrite=True)
    write_table(measures, d / "measures.csv", prov, overwrite=True)
    compare = (pd.concat(compare_parts, ignore_index=True) if compare_parts else
               pd.DataFrame(columns=["scenario", "measure", "epoch", "base", "value",
                                     "abs_change", "rel_change"]))
    write_table(compare, d / "compare.csv", prov, overwrite=True)
    # the CSV writer leaves provenance sidecars: run.json carries the record instead
    for side in d.glob("*.csv.provenance.json"):
        side.unlink()
    write_project(project_document(result.project), d / "project.toml", overwrite=True)
    run = {"provenance": prov, "region": result.project.region,
           "inputs": _inputs_record(result.files), "parameters": result.parameters,
           "versions": _versions(), "seconds": result.timings, "notes": result.notes,
           "units": len(result.units),
           "scenarios": {n: {"units": len(s.units), "recounted_units": s.recounted,
                             "edits": len(s.report.get("edits", []))}
                         for n, s in result.scenarios.items()}}
    write_json(run, d / "run.json", overwrite=True)
    run_charts(unit_layer, share_col, base.region, d)
    (d / "REPORT.md").write_text(run_markdown(result, compare) + justice_markdown(result)
                                 + report_extra, encoding="utf-8")
    _write_deliverables(result, d, unit_layer, prov, images)


#: How to give a population, said wherever the per-person measures are missing.
POPULATION_HINT = ("built-up land per person, LCRPGR (SDG 11.3.1) and the person-weighted "
                   "inequality need a population: add a population column to the boundaries "
                   "and name it in the project file, one column per epoch for LCRPGR "
                   "([boundaries] population = {2000 = \"pop2000\", 2020 = \"pop2020\"}), "
                   "or one column for every epoch ([boundaries] population = \"pop\"); on "
                   "the command line: gisfix run BOUNDARIES RASTER --id ID --population COL")


def justice_layers(result: RunResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``justice`` and ``justice_lorenz`` tables of a run (a note without population).

    Parameters
    ----------
    result : RunResult
        What :func:`run_project` computed.

    Returns
    -------
    (DataFrame, DataFrame)
        ``justice``: ``scenario, epoch, outcome, measure, weighting, value, between,
        within, between_share`` for the base and every scenario (``weighting`` is
        ``person``, ``land`` or ``unit``); ``justice_lorenz``: the base units' curves
        (``epoch, weighting, unit_id, value, weight_share, value_share``).  Without a
        population both hold one ``note`` row saying how to give one.
    """
    base = result.base
    if base.justice is None:
        note = pd.DataFrame({"note": [POPULATION_HINT]})
        return note, note.copy()
    parts = [base.justice.assign(scenario=BASE)]
    parts += [sc.measures.justice.assign(scenario=name)
              for name, sc in result.scenarios.items() if sc.measures.justice is not None]
    j = pd.concat(parts, ignore_index=True)
    j = j[["scenario"] + [c for c in j.columns if c != "scenario"]]
    lz = base.lorenz.copy()
    lz["unit_id"] = lz["unit_id"].astype(str)
    return j, lz


def justice_markdown(result: RunResult) -> str:
    """The "Land per person and spatial justice" section of ``REPORT.md``.

    Parameters
    ----------
    result : RunResult
        What :func:`run_project` computed.

    Returns
    -------
    str
        Markdown: per epoch the region's built-up m² per capita, the person-weighted and
        the land-weighted Gini and Theil of built-up m² per capita, LCRPGR by period; or,
        without a population, what is needed and how to give it.
    """
    from gisfix.report import markdown_table

    lines = ["## Land per person and spatial justice", ""]
    base = result.base
    if base.justice is None:
        return "\n".join(lines + [f"Not computed: {POPULATION_HINT}.", ""]) + "\n"
    lines += ["Built-up m² per capita of each unit, and how unequally it is held. "
              "**Person-weighted** measures (`percapita_*_person_weighted`) count every "
              "inhabitant once: they answer how unequally people possess built-up space. "
              "**Land-weighted** measures count every km² of observed land once: "
              "`percapita_*_land_weighted` for land per capita, and `share_gini`, "
              "`share_theil_t`... for the built-up share. Unit-weighted "
              "(`percapita_*_unit_weighted`) count every unit once. Layers `justice` "
              "(every value, with its `weighting`) and `justice_lorenz` (the Lorenz curves, "
              "cumulative population share against cumulative share of built-up land) in "
              "`results.gpkg`.", ""]
    keep = [c for c in ("population_total", "builtup_m2_per_capita_region",
                        "percapita_gini_person_weighted", "percapita_gini_land_weighted",
                        "percapita_theil_t_person_weighted",
                        "percapita_theil_t_person_weighted_between",
                        "percapita_theil_t_person_weighted_within",
                        "percapita_theil_t_land_weighted",
                        "percapita_theil_l_person_weighted", "share_gini (land-weighted)",
                        "land_population_elasticity", "lcr_per_year_region",
                        "pgr_per_year_region", "lcrpgr_region") if c in base.region]
    eps = sorted(int(e) for e in base.justice["epoch"].unique())
    reg = base.region.loc[eps, keep]
    if "share_gini" in base.region:
        reg = reg.assign(**{"share_gini (land-weighted)": base.region.loc[eps, "share_gini"]})
    lines += [markdown_table(reg.T.rename(columns=int), 4), ""]
    if base.efficiency is not None:
        e = base.efficiency
        lines += [f"LCRPGR (SDG 11.3.1, ratio of the land consumption rate to the population "
                  f"growth rate) by unit: median {e['lcrpgr'].median():.3f}; "
                  f"{int((e['lcrpgr'] > 1).sum())} of {int(e['lcrpgr'].notna().sum())} "
                  "unit-periods consume land faster than their population grows "
                  "(LCRPGR > 1); per unit in `units` (`lcrpgr_<t0>_<t1>`) and `units_long`.",
                  ""]
    return "\n".join(lines) + "\n"


def _write_deliverables(result: RunResult, d: Path, unit_layer, prov, images: bool) -> None:
    """``project.qgz`` (every layer, the raster window of the region) and ``report.html``."""
    from gisfix.deliverables import write_deliverables
    from gisfix.qgis_project import raster_layers

    region = result.project.region
    name = region.get("name") if isinstance(region, dict) else region
    stack = result.stack
    rasters = raster_layers(stack, copy_to=d, overwrite=True,
                            bounds=result.units.to_crs(stack.crs).total_bounds)
    write_deliverables(d, title=f"gisfix results: {name or f'{len(result.units)} units'}",
                       crs=unit_layer.crs, extent=unit_layer.total_bounds, rasters=rasters,
                       provenance=prov, images=images, overwrite=True)


def _patches_layer(result: RunResult):
    """LEI patches when the LEI ran; otherwise the built-up patches of the last epoch."""
    if result.lei_patches is not None:
        p = result.lei_patches
        return p.reset_index(drop=True) if hasattr(p, "geometry") else pd.DataFrame(p)
    from gisfix.landscape import patch_layer

    return patch_layer(result.stack, int(result.stack.epochs[-1]))


def run_pipeline(units, stack, output, *, population: str | None = None,
                 thresholds: Sequence[float] = (0.3,), lei_period: tuple[int, int] | None = None,
                 permutations: int = 999, seed: int = 0, overwrite: bool = False,
                 inputs: dict | None = None, progress=None) -> dict:
    """Measure one set of units (no scenario); kept for the first API (see run_project).

    Parameters
    ----------
    units : GeoDataFrame
        Boundaries from :func:`gisfix.read_boundaries`.
    stack : BuiltupStack
        Built-up rasters from :func:`gisfix.open_builtup`.
    output : path-like
        Folder for the results.
    population : str, optional
        Column of ``units`` with population.
    thresholds : sequence of float
        Warning thresholds of built-up share.
    lei_period : (int, int), optional
        Epochs of the LEI.
    permutations, seed : int
        Permutations and seed of every pseudo p-value.
    overwrite : bool
        Replace earlier results.
    inputs : dict, optional
        ``{"boundaries": path, "rasters": [paths], "id": column}``: the files the units
        and stack come from (required: a run always writes its project file).
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    dict
        Headline numbers.
    """
    if not inputs or "boundaries" not in inputs or "rasters" not in inputs:
        raise DataError("run_pipeline needs inputs={'boundaries': path, 'rasters': [...], "
                        "'id': column} to write the project file; or use run_project")
    doc = shortcut_project(inputs["boundaries"], inputs["rasters"],
                           id_col=inputs.get("id", units.index.name), encoding=stack.encoding,
                           epochs=list(stack.epochs), population=population,
                           thresholds=list(thresholds), lei_period=lei_period,
                           permutations=permutations, seed=seed)
    res = run_project(doc, output, overwrite=overwrite, progress=progress)
    return headline(res)


def shortcut_project(boundaries, rasters, *, id_col: str, layer=None, crs=None,
                     make_valid=False, encoding: str, epochs=None, fraction_units=None,
                     population=None, thresholds=None, lei_period=None, permutations=None,
                     seed=None, region: str | None = None) -> dict:
    """The project structure equivalent to ``gisfix run BOUNDARIES RASTER... --id COL``.

    Parameters
    ----------
    boundaries : path-like
        The boundaries file.
    rasters : sequence of path-like
        The built-up rasters.
    id_col : str
        Id column of the boundaries.
    layer, crs, make_valid : optional
        Layer, CRS and repair of the boundaries.
    encoding : str
        Raster encoding.
    epochs, fraction_units : optional
        Epochs and fraction units of the rasters.
    population : str or dict, optional
        Population column (or epoch -> column).
    thresholds, lei_period, permutations, seed : optional
        Measure parameters.
    region : str, optional
        Region name; default the boundaries' file stem.
    """
    b = {"path": str(Path(boundaries).resolve()), "id": id_col, "layer": layer, "crs": crs,
         "make_valid": bool(make_valid) or None, "population": population}
    r = {"paths": [str(Path(x).resolve()) for x in rasters], "encoding": encoding,
         "epochs": list(epochs) if epochs else None, "fraction_units": fraction_units}
    m = {"thresholds": list(thresholds) if thresholds else None,
         "lei_period": list(lei_period) if lei_period else None,
         "permutations": permutations, "seed": seed}
    drop = lambda d: {k: v for k, v in d.items() if v is not None}  # noqa: E731
    return {"region": {"name": region or Path(boundaries).stem},
            "boundaries": drop(b), "builtup": drop(r), "measures": drop(m)}


def headline(res: RunResult) -> dict:
    """Headline numbers of a run (printed by the CLI).

    Parameters
    ----------
    res : RunResult
        What :func:`run_project` computed.
    """
    reg = res.base.region
    last = int(res.stack.epochs[-1])
    out = {"units": len(res.units), "epochs": list(res.stack.epochs),
           "builtup_km2": reg["builtup_km2_total"].round(4).to_dict(),
           "notes": res.notes, "seconds": res.timings,
           "scenarios": {n: len(s.units) for n, s in res.scenarios.items()}}
    for c in reg.columns:
        if c.startswith("n_units_share_ge_"):
            out[c] = int(reg.loc[last, c])
    if res.stages is not None and "stage_name" in res.stages:
        out["stages"] = res.stages[["t0", "t1", "stage_name"]].to_dict(orient="records")
    return out
