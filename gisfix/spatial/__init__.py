"""Spatial statistics in one place: graphs, Moran/LISA/Gi*, the spatial Gini, inference.

* :mod:`~gisfix.spatial.graphs`: :func:`make_graph` (queen, rook, knn, distance band; fast,
  without libpysal), :class:`SpatialGraph`, :func:`as_graph` (accepts a libpysal ``Graph`` or
  ``W``), :func:`align_values` (the one id alignment), ``to_libpysal()``.
* :mod:`~gisfix.spatial.autocorrelation`: :func:`moran`, :func:`local_moran`,
  :func:`getis_ord` (esda as an optional backend).
* :mod:`~gisfix.spatial.gini`: :func:`spatial_gini` (Rey and Smith 2013).
* :mod:`~gisfix.spatial.inference`: seeded streams per measure and epoch, the one tie rule
  and fold of permutation p-values, normal p-values through :func:`math.erfc`.

Names are imported lazily, so ``import gisfix.spatial`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    **{name: "gisfix.spatial.graphs" for name in (
        "GRAPH_KINDS", "SpatialGraph", "align_values", "as_graph", "make_graph", "parse_kind",
        "row_standardized_matrix", "unit_graph")},
    **{name: "gisfix.spatial.autocorrelation" for name in (
        "MoranResult", "QUADRANTS", "getis_ord", "local_moran", "moran")},
    **{name: "gisfix.spatial.gini" for name in ("SpatialGini", "spatial_gini")},
    **{name: "gisfix.spatial.inference" for name in (
        "DEFAULT_PERMUTATIONS", "TIE_RTOL", "count_at_least", "normal_sf", "pseudo_p",
        "seed_sequence", "stream")},
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gisfix.spatial' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = sorted(_EXPORTS)
