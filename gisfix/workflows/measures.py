"""The agglomeration workflow: every per-unit agglomeration measure of units on a stack.

It composes the built-up engine (:func:`gisfix.zonal.builtup_by_unit`), the measures of
:mod:`gisfix.agglomeration`, the patch metrics of :mod:`gisfix.landscape` and the spatial
statistics of :mod:`gisfix.spatial`; it is the only place that knows their order.
"""

from __future__ import annotations

import pandas as pd

from gisfix.agglomeration import (
    DEFAULT_THRESHOLDS,
    concentration,
    hierarchy,
    intensity,
    location_quotient,
)
from gisfix.spatial.inference import DEFAULT_PERMUTATIONS, stream


def agglomeration_measures(units, stack, *, population=None, thresholds=DEFAULT_THRESHOLDS,
                           method: str = "exact", connectivity: int = 8, patches: bool = True,
                           permutations: int = DEFAULT_PERMUTATIONS, seed=0, graph="queen",
                           table=None, edge_length: str = "true", scheduler=None):
    """Every per-unit agglomeration measure of ``units`` on ``stack``, and a per-epoch summary.

    Per unit and epoch: :func:`intensity` (share, warning levels, per capita, density),
    :func:`location_quotient`, the patch metrics of :func:`gisfix.landscape.patch_metrics`,
    local Moran (:func:`gisfix.spatial.local_moran`) and Getis-Ord Gi*
    (:func:`gisfix.spatial.getis_ord`, normal inference) of the built-up share.  Per epoch:
    :func:`concentration`, :func:`hierarchy` and global :func:`gisfix.spatial.moran`.
    Formulas and citations are in those functions.  Each measure and epoch draws its
    permutations from its own stream (``stream(seed, measure, epoch)``), so a result never
    depends on which other epochs were computed.

    Parameters
    ----------
    units : GeoDataFrame
        Boundaries indexed by unit id.
    stack : BuiltupStack
        Built-up rasters (patch metrics need a projected grid).
    population : str, optional
        Column of ``units`` with population.
    thresholds : sequence of float
        Warning thresholds of built-up share.
    method : {"exact", "centre"}
        Built-up accounting rule (:func:`gisfix.zonal.builtup_by_unit`).
    connectivity : {8, 4}
        Patch neighbourhood.
    patches : bool
        Compute the patch metrics.
    permutations : int
        Permutations of the pseudo p-values (0: none).
    seed : int or numpy SeedSequence
        Seed of the permutations.
    graph : str, SpatialGraph, libpysal Graph or W, or None
        Neighbours of the spatial statistics: a kind (:data:`gisfix.spatial.GRAPH_KINDS`),
        a graph (:func:`gisfix.spatial.make_graph`) or None for none.
    table : DataFrame, optional
        A built-up table already computed for these units and stack.
    edge_length : {"true", "cell_width"}
        Edge convention of the patch metrics for non-square cells
        (:func:`gisfix.landscape.landscape_metrics`).
    scheduler : None, str or distributed.Client
        Where the raster blocks of the built-up table and the patch metrics are computed
        (:func:`gisfix.parallel.resolve_scheduler`); the same results.

    Returns
    -------
    (DataFrame, DataFrame)
        The per-unit-and-epoch table and the per-epoch summary.
    """
    from gisfix.spatial import as_graph, getis_ord, local_moran, moran, unit_graph
    from gisfix.zonal import builtup_by_unit

    if table is None:
        table = builtup_by_unit(units, stack, method=method, scheduler=scheduler)
    per_unit = intensity(table, units, population=population, thresholds=thresholds)
    per_unit["location_quotient"] = location_quotient(table).to_numpy()
    if patches:
        from gisfix.landscape import patch_metrics

        pm = patch_metrics(units, stack, connectivity=connectivity, edge_length=edge_length,
                           scheduler=scheduler)
        pm["unit_id"] = pm["unit_id"].astype(str)
        per_unit = per_unit.merge(pm, on=["unit_id", "epoch"], how="left")
    summary = concentration(table).join(hierarchy(table))
    if isinstance(graph, str):
        graph = unit_graph(units, graph)
    elif graph is not None:
        graph = as_graph(graph)
    lisa_parts, morans = [], {}
    for epoch, grp in per_unit.groupby("epoch", sort=True):
        share = grp.set_index("unit_id")["builtup_share"]
        if graph is None:
            continue
        share = share.reindex([str(i) for i in graph.unique_ids])
        observed = share.notna().to_numpy()
        share = share[observed]
        if len(share) < 3 or share.nunique() < 2:
            continue
        # units with no observed cell (outside the study area) have no share: the
        # statistics are those of the observed units and their links among themselves
        g = graph if observed.all() else graph.subgraph(graph.unique_ids[observed])
        m = moran(share, g, permutations=permutations, seed=stream(seed, "moran", epoch))
        morans[epoch] = {"moran_I": m.I, "moran_z_norm": m.z_norm, "moran_p_norm": m.p_norm,
                         "moran_p_sim": m.p_sim}
        lisa = local_moran(share, g, permutations=permutations,
                           seed=stream(seed, "local_moran", epoch))
        gi = getis_ord(share, g, permutations=0)
        part = pd.DataFrame({"unit_id": lisa.index, "epoch": epoch, "lisa_Is": lisa["Is"].values,
                             "lisa_p_sim": lisa["p_sim"].values,
                             "lisa_cluster": lisa["cluster"].values, "gi_star_z": gi["z"].values,
                             "gi_star_p": gi["p_norm"].values, "hotspot": gi["hotspot"].values})
        lisa_parts.append(part)
    if morans:
        summary = summary.join(pd.DataFrame.from_dict(morans, orient="index"))
    if lisa_parts:
        per_unit = per_unit.merge(pd.concat(lisa_parts), on=["unit_id", "epoch"], how="left")
    summary = summary.reset_index()
    return per_unit, summary


__all__ = ["agglomeration_measures"]
