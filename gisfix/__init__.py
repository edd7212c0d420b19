"""gisfix: spatial measures of agglomeration, diffusion and inequality on real boundaries.

Real boundaries and built-up rasters go in; measures come out; administrative-division
adjustments are reproducible boundary edits::

    import gisfix
    units = gisfix.read_boundaries("counties.gpkg", id_col="fips")
    stack = gisfix.open_builtup("ghsl_year_built.tif", encoding="year-built")
    table = gisfix.builtup_by_unit(units, stack)

The public API is re-exported here and imported lazily (PEP 562), so ``import gisfix`` and
``gisfix --help`` stay fast; the modules themselves are the reference.
"""

from __future__ import annotations

import importlib

from gisfix._version import __version__
from gisfix.errors import (
    CRSError,
    DataError,
    EditError,
    GeometryError,
    GisfixError,
    IdError,
    InputFileError,
    OutputExistsError,
    RasterError,
)

#: public name -> module that defines it
_EXPORTS = {
    # data layer
    "read_boundaries": "gisfix.boundaries",
    "open_builtup": "gisfix.stack",
    "mosaic_vrt": "gisfix.stack",
    "read_aoi": "gisfix.stack",
    "BuiltupStack": "gisfix.stack",
    "datasets": "gisfix.datasets",
    # built-up engine
    "builtup_by_unit": "gisfix.zonal",
    "to_wide": "gisfix.zonal",
    "label_cells": "gisfix.zonal",
    "coverage_fractions": "gisfix.zonal",
    # inequality
    **{name: "gisfix.inequality" for name in (
        "atkinson", "beta_convergence", "cv", "generalized_entropy", "gini", "lorenz",
        "max_min_ratio", "over_time", "sigma_convergence", "summarize", "theil_decomposition",
        "theil_l", "theil_t", "top_bottom_ratio", "williamson", "TheilDecomposition",
        "SigmaConvergence", "BetaConvergence")},
    # spatial statistics
    **{name: "gisfix.spatial" for name in (
        "SpatialGini", "spatial_gini", "make_graph", "SpatialGraph", "as_graph", "moran",
        "local_moran", "getis_ord", "MoranResult")},
    # agglomeration
    **{name: "gisfix.agglomeration" for name in (
        "intensity", "location_quotient", "concentration", "lorenz_by_epoch", "hhi",
        "top_share", "rank_size", "primacy", "hierarchy")},
    "agglomeration_measures": "gisfix.workflows.measures",
    "patch_metrics": "gisfix.landscape",
    "landscape_metrics": "gisfix.landscape",
    "urban_extents": "gisfix.extents",
    "extent_agreement": "gisfix.extents",
    "track_extents": "gisfix.extents",
    "ExtentTracks": "gisfix.extents",
    # diffusion
    "landscape_expansion_index": "gisfix.lei",
    "lei_by_unit": "gisfix.lei",
    "LEIThresholds": "gisfix.lei",
    **{name: "gisfix.diffusion" for name in (
        "expansion", "expansion_series", "builtup_centroids", "standard_deviational_ellipse",
        "directional_growth", "core_periphery", "core_periphery_series",
        "largest_patch_share")},
    **{name: "gisfix.stages" for name in (
        "city_stages", "stage_evidence", "classify_stages", "StageRules",
        "stages_by_extents", "stages_by_units", "StageResult", "regional_system",
        "classify_region", "city_system", "polycentricity")},
    # land-use efficiency (SDG 11.3.1) and population
    **{name: "gisfix.efficiency" for name in (
        "population_by_unit", "population_from_columns", "land_per_capita",
        "land_use_efficiency", "land_population_elasticity")},
    # spatial justice per person
    **{name: "gisfix.justice" for name in (
        "justice_inequality", "justice_lorenz", "builtup_justice")},
    # Degree of Urbanisation, stage II
    **{name: "gisfix.degurba" for name in (
        "classify_grid", "classify_units", "degurba_units")},
    # dynamics of a unit x epoch panel
    **{name: "gisfix.dynamics" for name in (
        "markov_chain", "spatial_markov", "lisa_markov", "rank_mobility", "kendall_tau",
        "quantile_classes", "steady_state", "homogeneity_test", "MarkovChain",
        "SpatialMarkovChain", "LisaMarkovChain")},
    # boundary edits
    **{name: "gisfix.edits" for name in (
        "load_scenario", "apply_scenario", "Scenario", "EditResult", "merge", "split",
        "transfer", "recode", "dissolve", "harmonize")},
    "diff": "gisfix.edits.diff",
    # policy evaluation
    **{name: "gisfix.events" for name in (
        "read_code_history", "events_from_vintages", "events_from_scenario",
        "conversions_per_year", "unit_kind")},
    **{name: "gisfix.policy" for name in (
        "harmonize_panel", "cohorts_from_events", "assign_treatment", "estimate_did",
        "plot_event_study", "DidResult")},
    "DiffResult": "gisfix.edits.diff",
    # workflows: the main job (project file -> every measure before and after each scenario)
    "compare": "gisfix.workflows.compare",
    "load_project": "gisfix.project",
    "Project": "gisfix.project",
    "run_project": "gisfix.workflows.run",
    "run_pipeline": "gisfix.workflows.run",
    # outputs people open: styles, QGIS projects, HTML reports; data for your own region
    "style_for": "gisfix.styles",
    "write_qgis_project": "gisfix.qgis_project",
    "LayerSpec": "gisfix.qgis_project",
    "write_report": "gisfix.html_report",
    "write_deliverables": "gisfix.deliverables",
    "fetch_ghsl": "gisfix.fetch",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gisfix' has no attribute {name!r}")
    if name == "datasets":
        return importlib.import_module(module)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "CRSError",
    "DataError",
    "EditError",
    "GeometryError",
    "GisfixError",
    "IdError",
    "InputFileError",
    "OutputExistsError",
    "RasterError",
    "__version__",
    *_EXPORTS,
]
