"""Spatial neighbour graphs of units: contiguity, k nearest neighbours, distance band.

One builder, :func:`make_graph`, for every kind of neighbours gisfix uses, returning one
light object, :class:`SpatialGraph` (the unit ids and a CSR sparse matrix of weights, with
helpers: row-standardized matrix, edge list, isolates, components, and
:meth:`SpatialGraph.to_libpysal` for users of PySAL).  It is what the spatial statistics
of :mod:`gisfix.spatial` (Moran's I, LISA, Getis-Ord, the spatial Gini) run on; every function
taking a graph also accepts a libpysal ``Graph`` or ``W`` (see :func:`as_graph`), and
``make_graph(..., libpysal=True)`` returns a ``libpysal.graph.Graph``.

Building a graph never imports libpysal (whose import costs seconds in a cold process):

* ``queen`` / ``rook`` contiguity is libpysal's vertex-set rule
  (``Graph.build_contiguity(strict=False)``, Rey and Anselin 2007 [1]_): two polygons are
  queen neighbours when they share a vertex (the same exact coordinates), rook neighbours
  when they share an edge (two consecutive vertices), vectorised with numpy sorts instead
  of a Python dictionary.  It gives the same links as libpysal on the China counties, the
  DC counties and Mexico (tested).  Being a vertex rule, it sees neither slivers nor gaps:
  polygons separated by a gap are not neighbours however narrow the gap (3 county pairs
  of China are 10-100 m apart), overlapping polygons are neighbours only through a
  shared vertex (the 13 overlapping China pairs all share one), and a vertex of one
  polygon lying inside an edge of another is no link.  Like libpysal it takes a repeated
  vertex (a zero-length segment) present in both polygons for a shared edge, so two units
  touching at such a point are rook neighbours (1 of the 8,484 rook pairs of China).
* ``knn=K``: the K nearest centroids (asymmetric), ``distance=D``: centroids within D
  CRS units (binary, symmetric), both with a :class:`scipy.spatial.cKDTree` as libpysal's
  ``Graph.build_knn`` / ``build_distance_band``.

References
----------
.. [1] Rey, S. J. and Anselin, L. (2007). PySAL: A Python library of spatial analytical
   methods. *The Review of Regional Studies* 37(1), 5-27.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gisfix.errors import DataError, IdError, IdMismatchError, show_ids, warn_data

#: Graph kinds :func:`make_graph` understands (``knn=K`` and ``distance=D`` take a number).
GRAPH_KINDS = ("queen", "rook", "knn=K", "distance=D")

_PARAM = re.compile(r"(knn|distance)\s*=\s*([0-9.eE+]+)")


def parse_kind(kind) -> tuple[str, float | None]:
    """Return ``(name, parameter)`` of a graph kind such as ``"queen"`` or ``"knn=6"``.

    Parameters
    ----------
    kind : str
        A graph kind, one of :data:`GRAPH_KINDS`.

    Returns
    -------
    (str, float or None)

    Raises
    ------
    DataError
        For a kind that is not one of :data:`GRAPH_KINDS`.
    """
    key = str(kind).strip().lower()
    if key in ("queen", "rook"):
        return key, None
    m = _PARAM.fullmatch(key)
    if m:
        try:
            value = float(m.group(2))
        except ValueError:
            value = None
        if value is not None and np.isfinite(value) and value > 0:
            if m.group(1) == "knn" and value != int(value):
                raise DataError(f"knn=K needs an integer K >= 1; got {m.group(2)}")
            return m.group(1), value
        raise DataError(f"{m.group(1)}= needs a positive number; got {m.group(2)!r} (e.g. "
                        "'knn=6', 'distance=50000')")
    raise DataError(f"unknown graph kind {kind!r}; use one of {', '.join(GRAPH_KINDS)} "
                    "(e.g. 'knn=6', 'distance=50000')")


@dataclass(frozen=True, eq=False)
class SpatialGraph:
    """Neighbours of units: ids and a CSR sparse weights matrix (row = focal unit).

    Made by :func:`make_graph` (binary weights, no self-links) or :func:`as_graph` (from a
    libpysal ``Graph``/``W``, weights kept).  Its ``unique_ids``, ``sparse``,
    ``cardinalities``, ``isolates``, ``n_components`` and ``component_labels`` read like
    those of a libpysal ``Graph``; :meth:`to_libpysal` converts.

    Parameters
    ----------
    unique_ids : sequence
        Unit ids, in the order of the matrix rows and columns.
    sparse : scipy sparse matrix
        ``n x n`` weights, ``sparse[i, j] != 0`` when unit ``j`` is a neighbour of ``i``.
    kind : str
        How the graph was made (``"queen"``, ``"knn=6"``, ...; ``"custom"`` otherwise).
    """

    unique_ids: pd.Index
    sparse: object
    kind: str = "custom"

    def __post_init__(self):
        from scipy import sparse

        ids = pd.Index(self.unique_ids)
        mat = sparse.csr_matrix(self.sparse, dtype=float)
        if mat.shape != (len(ids), len(ids)):
            raise DataError(f"a graph over {len(ids)} ids needs a {len(ids)} x {len(ids)} "
                            f"matrix; got {mat.shape[0]} x {mat.shape[1]}")
        if ids.has_duplicates:
            raise DataError(f"the graph ids have duplicates "
                            f"({show_ids(ids[ids.duplicated()].unique())}); use unique unit ids")
        mat.sum_duplicates()
        mat.eliminate_zeros()
        mat.sort_indices()
        object.__setattr__(self, "unique_ids", ids)
        object.__setattr__(self, "sparse", mat)

    # -- size and structure ---------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.unique_ids)

    def _links(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coo = self.sparse.tocoo()
        off = coo.row != coo.col
        return coo.row[off].astype(np.int64), coo.col[off].astype(np.int64), coo.data[off]

    @property
    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Directed links ``(i, j)`` as row/column positions (row order), self-links excluded."""
        return self._links()[:2]

    @property
    def n_links(self) -> int:
        """Number of directed links (a symmetric pair counts twice), self-links excluded."""
        return len(self.edges[0])

    @property
    def cardinalities(self) -> pd.Series:
        """Number of neighbours (self excluded) of each unit, indexed by id."""
        i, _ = self.edges
        return pd.Series(np.bincount(i, minlength=self.n), index=self.unique_ids,
                         name="cardinalities")

    @property
    def isolates(self) -> pd.Index:
        """Ids of the units without neighbours."""
        return self.unique_ids[self.cardinalities.to_numpy() == 0]

    @property
    def is_symmetric(self) -> bool:
        """Whether every link ``i -> j`` has the reverse link with the same weight."""
        diff = self.sparse - self.sparse.T
        return diff.nnz == 0 or bool(np.abs(diff.data).max() == 0)

    @property
    def component_labels(self) -> pd.Series:
        """Connected component of each unit (links taken as undirected), indexed by id."""
        from scipy.sparse.csgraph import connected_components

        _, labels = connected_components(self.sparse, directed=False)
        return pd.Series(labels, index=self.unique_ids, name="component labels")

    @property
    def n_components(self) -> int:
        """Number of connected components (an isolate is a component of its own)."""
        from scipy.sparse.csgraph import connected_components

        return int(connected_components(self.sparse, directed=False)[0])

    # -- views ------------------------------------------------------------------------------
    def edge_list(self) -> pd.DataFrame:
        """Return the links as a table with columns ``focal``, ``neighbor``, ``weight``.

        Self-links and isolates are left out (see :attr:`isolates`).
        """
        i, j, w = self._links()
        return pd.DataFrame({"focal": self.unique_ids[i], "neighbor": self.unique_ids[j],
                             "weight": w})

    @property
    def adjacency(self) -> pd.Series:
        """Weights as a Series indexed by ``(focal, neighbor)``, as libpysal's ``adjacency``.

        Isolates appear as a self-link of weight 0, libpysal's convention; other self-links
        are left out.
        """
        i, j, w = self._links()
        iso = np.flatnonzero(np.bincount(i, minlength=self.n) == 0)
        focal, neigh = np.r_[i, iso], np.r_[j, iso]
        weight = np.r_[w, np.zeros(len(iso))]
        order = np.lexsort((neigh, focal))
        index = pd.MultiIndex.from_arrays(
            [self.unique_ids[focal[order]], self.unique_ids[neigh[order]]],
            names=["focal", "neighbor"])
        return pd.Series(weight[order], index=index, name="weight")

    def row_standardized(self):
        r"""Return the row-standardized CSR matrix :math:`w_{ij} / \sum_k w_{ik}`.

        Rows of isolates stay zero.
        """
        from scipy import sparse

        rs = np.asarray(self.sparse.sum(axis=1)).ravel()
        inv = np.divide(1.0, rs, out=np.zeros_like(rs), where=rs != 0)
        return sparse.csr_matrix(sparse.diags(inv) @ self.sparse)

    def reorder(self, ids) -> SpatialGraph:
        """Return the graph with rows and columns in the order of ``ids`` (the same set)."""
        ids = pd.Index(ids)
        if ids.equals(self.unique_ids):
            return self
        pos = self.unique_ids.get_indexer(ids)
        if len(ids) != self.n or (pos < 0).any() or ids.has_duplicates:
            miss = ids[pos < 0] if (pos < 0).any() else self.unique_ids.difference(ids)
            raise DataError(f"the graph ids do not match the {len(ids)} ids given ({len(miss)} "
                            f"differ, e.g. {show_ids(miss)}); build the graph from the same units")
        return SpatialGraph(ids, self.sparse[pos][:, pos], self.kind)

    def subgraph(self, ids) -> SpatialGraph:
        """Return the graph restricted to ``ids`` (a subset, in that order).

        Links to units outside ``ids`` are dropped, so a unit may become an isolate; use it
        to measure on the observed units only (e.g. inside a study area).

        Parameters
        ----------
        ids : sequence
            Unit ids of this graph.

        Returns
        -------
        SpatialGraph
        """
        ids = pd.Index(ids)
        pos = self.unique_ids.get_indexer(ids)
        if (pos < 0).any() or ids.has_duplicates:
            raise DataError(f"subgraph ids must be unique ids of the graph; "
                            f"{show_ids(ids[pos < 0])} are not")
        return SpatialGraph(ids, self.sparse[pos][:, pos], self.kind)

    def to_libpysal(self):
        """Return the graph as a :class:`libpysal.graph.Graph` (imports libpysal).

        Isolates become self-links of weight 0, libpysal's convention; contiguity weights are
        integers, as those of ``Graph.build_contiguity``.
        """
        from libpysal.graph import Graph

        adj = self.adjacency
        w = adj.to_numpy()
        if self.kind in ("queen", "rook"):
            w = w.astype(np.int64)
        return Graph.from_arrays(adj.index.get_level_values(0), adj.index.get_level_values(1), w)

    def __repr__(self) -> str:
        return (f"SpatialGraph(kind={self.kind!r}, n={self.n}, links={self.n_links}, "
                f"isolates={len(self.isolates)})")


# -- builders -------------------------------------------------------------------------------
def _vertex_pairs(geoms, rook: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return directed (i, j) positions of polygons sharing a vertex (queen) or an edge (rook).

    The rule of libpysal's ``Graph.build_contiguity(strict=False)`` (vertex-set
    intersection on exact coordinates), vectorised with numpy instead of a Python dict.
    Rook edges are consecutive vertices of one part, as libpysal's.
    """
    import shapely

    geoms = np.asarray(geoms)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    if rook:
        parts = shapely.get_parts(geoms)
        _, part = shapely.get_coordinates(parts, return_index=True)
        same = part[:-1] == part[1:]
        a, b = coords[:-1][same], coords[1:][same]
        swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
        lo = np.where(swap[:, None], b, a)
        hi = np.where(swap[:, None], a, b)
        keys = np.column_stack([lo, hi])
        owner = owner[:-1][same]
    else:
        keys = coords
    if len(keys) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # one row per (key, owner); group the rows by key
    order = np.lexsort((owner, *keys.T[::-1]))  # by key columns, then owner
    k, own = keys[order], owner[order].astype(np.int64)
    new = np.r_[True, np.any(k[1:] != k[:-1], axis=1)]
    dup = np.r_[False, ~new[1:] & (own[1:] == own[:-1])]   # same key, same owner
    k, own, new = k[~dup], own[~dup], new[~dup]
    start = np.flatnonzero(new)
    size = np.diff(np.r_[start, len(k)])
    shared = size >= 2
    if not shared.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    gid = np.cumsum(new) - 1                    # group of each row
    rows = np.flatnonzero(shared[gid])          # rows in shared groups
    rep = size[gid[rows]]
    focal = np.repeat(own[rows], rep)
    offs = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
    partner = own[np.repeat(start[gid[rows]], rep) + offs]
    keep = focal != partner
    n = len(geoms)
    pair = np.unique(focal[keep] * n + partner[keep])
    return pair // n, pair % n


def _centroid_coords(gdf, name: str) -> np.ndarray:
    import shapely

    from gisfix.crs import require_projected, resolve_crs

    crs = resolve_crs(gdf.crs, what="the layer")
    require_projected(crs, what="the layer", purpose=f"a {name} graph")
    return shapely.get_coordinates(shapely.centroid(np.asarray(gdf.geometry.values)))


def _knn_pairs(xy: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    n = len(xy)
    if not 1 <= k < n:
        raise DataError(f"knn=K needs an integer 1 <= K < {n} (the number of units); got {k}")
    _, first = np.unique(xy, axis=0, return_index=True)
    if len(first) < n:
        raise DataError(f"knn: {n - len(first)} units share their centroid with another unit, "
                        "so their nearest neighbours are undefined; use queen, rook or "
                        "distance=D, or merge the duplicated units")
    _, nb = cKDTree(xy).query(xy, k=k + 1)
    return np.repeat(np.arange(n), k), nb[:, 1:].ravel()


def _distance_pairs(xy: np.ndarray, d: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(r=d, output_type="ndarray")
    return np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]]


def make_graph(gdf, kind: str = "queen", *, libpysal: bool = False):
    """Build the neighbour graph of a GeoDataFrame's units (without importing libpysal).

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons (or points for ``knn``/``distance``), indexed by unique unit ids.
    kind : str
        ``"queen"`` (shared vertex), ``"rook"`` (shared edge), ``"knn=K"`` (the K nearest
        centroids; asymmetric) or ``"distance=D"`` (centroids within D CRS units; binary).
        ``knn`` and ``distance`` need a projected CRS.  The rules are those of libpysal's
        ``Graph.build_contiguity``, ``build_knn`` and ``build_distance_band`` (see the
        module notes on slivers and gaps).
    libpysal : bool
        Return a :class:`libpysal.graph.Graph` (imports libpysal) instead of a
        :class:`SpatialGraph`; the links are the same.

    Returns
    -------
    SpatialGraph or libpysal.graph.Graph
        Binary weights, ids ``gdf.index``; units without neighbours are logged.

    Raises
    ------
    DataError
        For an unknown kind, duplicate ids, a bad K, or coincident centroids with ``knn``.
    CRSError
        For ``knn``/``distance`` on a layer without a projected CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grid = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1),
    ...                                   box(0, 1, 1, 2), box(1, 1, 2, 2)], index=list("abcd"))
    >>> make_graph(grid, "rook").cardinalities.tolist()
    [2, 2, 2, 2]
    >>> make_graph(grid, "queen").n_links
    12
    """
    from scipy import sparse

    name, value = parse_kind(kind)
    if gdf.index.has_duplicates:
        raise DataError(f"make_graph: the GeoDataFrame index has duplicate ids "
                        f"({show_ids(gdf.index[gdf.index.duplicated()].unique())}); index it by "
                        "a unique unit id")
    if name in ("queen", "rook"):
        i, j = _vertex_pairs(gdf.geometry.values, name == "rook")
        label = name
    else:
        xy = _centroid_coords(gdf, name)
        if name == "knn":
            i, j = _knn_pairs(xy, int(value))
            label = f"knn={int(value)}"
        else:
            i, j = _distance_pairs(xy, value)
            label = f"distance={value:g}"
    n = len(gdf)
    mat = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    g = SpatialGraph(gdf.index, mat, label)
    iso = g.isolates
    if len(iso):
        warn_data("the %s graph has %d units without neighbours (%s)", label, len(iso),
                  show_ids(iso))
    return g.to_libpysal() if libpysal else g


def unit_graph(units, kind: str = "queen"):
    """Return the neighbour graph of units with ids as text, or None when too few units.

    The graph of the spatial statistics of a workflow: ids as text, like the ``unit_id`` of
    the built-up table.  Fewer than 3 units give None (with a data warning): spatial
    autocorrelation is then undefined.

    Parameters
    ----------
    units : GeoDataFrame
        Polygons indexed by unit id.
    kind : str
        One of :data:`GRAPH_KINDS`.

    Returns
    -------
    SpatialGraph or None
    """
    if len(units) < 3:
        warn_data("fewer than 3 units: no spatial autocorrelation")
        return None
    return make_graph(units.set_axis(units.index.map(str)), kind)


def as_graph(graph) -> SpatialGraph:
    """Return ``graph`` as a :class:`SpatialGraph` (weights kept).

    Parameters
    ----------
    graph : SpatialGraph, libpysal.graph.Graph or libpysal.weights.W
        The neighbours.

    Returns
    -------
    SpatialGraph

    Raises
    ------
    DataError
        For anything else.
    """
    if isinstance(graph, SpatialGraph):
        return graph
    if hasattr(graph, "unique_ids") and hasattr(graph, "sparse"):  # libpysal.graph.Graph
        return SpatialGraph(graph.unique_ids, graph.sparse)
    if hasattr(graph, "id_order") and hasattr(graph, "sparse"):  # libpysal.weights.W
        return SpatialGraph(graph.id_order, graph.sparse)
    raise DataError(f"expected a gisfix SpatialGraph (gisfix.spatial.make_graph), a libpysal W "
                    f"or Graph; got {type(graph).__name__}")


def row_standardized_matrix(graph, ids) -> object:
    """Return the row-standardized sparse weights matrix of ``graph`` in the order of ``ids``.

    Units without neighbours get a zero row; weights are taken as binary links (a nonzero
    weight is a neighbour), self-links are dropped.

    Parameters
    ----------
    graph : SpatialGraph, libpysal Graph or W
        The neighbours.
    ids : sequence
        Unit ids, the same set as the graph's (ids that differ only as text and number,
        such as 1 and "1", are matched).
    """
    from scipy import sparse

    g = _align(as_graph(graph), pd.Index(ids))
    i, j = g.edges
    binary = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(g.n, g.n))
    return SpatialGraph(g.unique_ids, binary, g.kind).row_standardized()


def _match(g: SpatialGraph, ids: pd.Index) -> tuple[SpatialGraph, pd.Index]:
    """Return ``g`` and ``ids`` with ids as text when they differ only in type (1 vs "1")."""
    own = g.unique_ids
    if own.isin(ids).all():
        return g, ids
    if own.astype(str).isin(ids.astype(str)).all():
        return SpatialGraph(own.astype(str), g.sparse, g.kind), ids.astype(str)
    miss = own[~own.astype(str).isin(ids.astype(str))]
    raise IdMismatchError(f"the graph ids do not match the value ids: {len(miss)} ids of the graph "
                  f"have no value (e.g. {show_ids(miss)}); index the values by the same unit ids "
                  "as the graph (build the graph from the same GeoDataFrame)")


def _align(g: SpatialGraph, ids: pd.Index) -> SpatialGraph:
    """Reorder ``g`` to ``ids`` (the same set), matching ids as text when types differ."""
    if len(ids) != g.n:
        raise DataError(f"the graph has {g.n} units but there are {len(ids)} values; build "
                        "the graph from the same units")
    if ids.equals(g.unique_ids):
        return g
    g, ids = _match(g, ids)
    return g.reorder(ids)


def align_values(values, graph, *, order: str = "graph") -> tuple[np.ndarray, SpatialGraph]:
    """Return values and graph in one common unit order: the one id alignment of gisfix.

    Parameters
    ----------
    values : Series or array-like
        One value per unit.  A Series is matched to the graph by id (ids that differ only
        as text and number, such as 1 and "1", match); an array must be in graph order.
    graph : SpatialGraph, libpysal Graph or W
        The neighbours.
    order : {"graph", "values"}
        Keep the graph's order (values are reindexed; a Series may hold more units than the
        graph) or the values' order (the graph is reordered; the same set of units).

    Returns
    -------
    (ndarray, SpatialGraph)
        Float values and the graph, aligned.

    Raises
    ------
    IdError
        When graph units have no value.
    DataError
        When an array's length differs from the graph's number of units.
    """
    g = as_graph(graph)
    if not isinstance(values, pd.Series):
        y = np.asarray(values, dtype=float).ravel()
        if y.size != g.n:
            raise DataError(f"got {y.size} values for weights over {g.n} units; they must "
                            "match (pass a Series indexed by unit id to align them)")
        return y, g
    if order == "values":
        return values.to_numpy(dtype=float), _align(g, pd.Index(values.index))
    if order != "graph":
        raise DataError(f"order must be 'graph' or 'values'; got {order!r}")
    idx = pd.Index(values.index)
    if idx.has_duplicates:
        raise IdError(f"the values have duplicate ids ({show_ids(idx[idx.duplicated()].unique())})"
                      "; give one value per unit")
    g2, idx2 = _match(g, idx)
    y = pd.Series(values.to_numpy(), index=idx2).reindex(g2.unique_ids).to_numpy(dtype=float)
    return y, g2


__all__ = ["GRAPH_KINDS", "SpatialGraph", "align_values", "as_graph", "make_graph",
           "parse_kind", "row_standardized_matrix", "unit_graph"]
