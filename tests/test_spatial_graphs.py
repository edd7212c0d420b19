"""gisfix.spatial.graphs against libpysal's own builders (the oracle), hand cases and bad input."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from gisfix.errors import CRSError, DataError
from gisfix.spatial.graphs import (
    GRAPH_KINDS,
    SpatialGraph,
    as_graph,
    make_graph,
    parse_kind,
    row_standardized_matrix,
)

#: row sums of a row-standardised matrix (floating-point division)
ROW_SUM_ATOL = 1e-12
DC_COUNTIES = ("ghsl_dc_baltimore", "counties_2017_census.gpkg")
CHINA = ("china_counties_2020", "china_counties_2020.gpkg")


def _peer(gdf, kind):
    """libpysal's graph of the same kind: the oracle."""
    from libpysal.graph import Graph

    name, value = parse_kind(kind)
    if name in ("queen", "rook"):
        return Graph.build_contiguity(gdf, rook=name == "rook")
    if name == "knn":
        return Graph.build_knn(gdf.centroid, k=int(value))
    return Graph.build_distance_band(gdf.centroid, value, binary=True)


def _assert_equal_to_libpysal(ours, peer):
    assert list(ours.unique_ids) == list(peer.unique_ids)
    pd.testing.assert_series_equal(ours.adjacency.sort_index(),
                                   peer.adjacency.sort_index().astype(float),
                                   check_names=False)
    # the conversion for users gives libpysal's own graph, dtype included
    pd.testing.assert_series_equal(ours.to_libpysal().adjacency.sort_index(),
                                   peer.adjacency.sort_index())
    assert sorted(ours.isolates) == sorted(peer.isolates)
    assert ours.n_components == peer.n_components
    np.testing.assert_array_equal(ours.cardinalities.to_numpy(),
                                  (peer.sparse != 0).sum(axis=1) -
                                  (peer.sparse.diagonal() != 0))


@pytest.fixture(scope="module")
def grid():
    """2 x 2 unit squares a b / c d (a bottom left) and an island e, in metres."""
    import geopandas as gpd
    from shapely.geometry import box

    return gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2),
                                      box(1, 1, 2, 2), box(5, 5, 6, 6)],
                            index=list("abcde"), crs=3857)


@pytest.fixture(scope="module")
def china():
    from conftest import shared_path

    import gisfix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gisfix.read_boundaries(shared_path(*CHINA), id_col="CODE", layer="county",
                                      make_valid=True)


@pytest.fixture(scope="module")
def mexico():
    import geopandas as gpd
    import libpysal

    gdf = gpd.read_file(libpysal.examples.get_path("mexicojoin.shp")).set_index("CODE")
    return gdf.set_crs(4326).to_crs(6372)  # Mexico ITRF2008 / LCC, metres


# -- equality with libpysal on real data -----------------------------------------------------
@pytest.mark.shared
@pytest.mark.parametrize("kind", ["queen", "rook", "knn=6", "distance=50000"])
def test_china_equals_libpysal(china, kind):
    """2,990 counties of a real coverage (17 repaired polygons, slivers, islands)."""
    ours = make_graph(china, kind)
    _assert_equal_to_libpysal(ours, _peer(china, kind))
    if kind == "queen":  # islands (Hainan, Zhoushan...) are isolates in both
        assert len(ours.isolates) == 9 and ours.n_links == 17_024


@pytest.mark.parametrize("kind", ["queen", "rook", "knn=4", "distance=300000"])
def test_mexico_equals_libpysal(mexico, kind):
    _assert_equal_to_libpysal(make_graph(mexico, kind), _peer(mexico, kind))


@pytest.mark.shared
@pytest.mark.parametrize("kind", ["queen", "rook", "knn=3", "distance=40000"])
def test_dc_counties_equal_libpysal(shared, kind):
    import geopandas as gpd

    units = gpd.read_file(shared(*DC_COUNTIES), layer="counties").set_index("fips")
    _assert_equal_to_libpysal(make_graph(units, kind), _peer(units, kind))


# -- hand cases -------------------------------------------------------------------------------
def test_grid_queen_rook_and_isolates(grid):
    rook = make_graph(grid, "rook")
    queen = make_graph(grid, "queen")
    expect = {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}
    expect |= {(j, i) for i, j in expect}
    diagonal = {("a", "d"), ("d", "a"), ("b", "c"), ("c", "b")}
    assert set(zip(rook.edge_list()["focal"], rook.edge_list()["neighbor"])) == expect
    assert set(zip(queen.edge_list()["focal"], queen.edge_list()["neighbor"])) == \
        expect | diagonal
    for g in (rook, queen):
        assert list(g.isolates) == ["e"]
        assert g.n_components == 2 and g.is_symmetric
        labels = g.component_labels
        assert labels["a"] == labels["d"] != labels["e"]
        assert g.adjacency[("e", "e")] == 0  # libpysal's zero self-loop for an isolate
    assert queen.cardinalities.to_dict() == {"a": 3, "b": 3, "c": 3, "d": 3, "e": 0}
    # centroids (0.5, 0.5) ... (5.5, 5.5): the nearest of e is d (distance sqrt(32))
    knn = make_graph(grid, "knn=1")
    assert knn.edge_list().set_index("focal")["neighbor"]["e"] == "d"
    assert not knn.is_symmetric and len(knn.isolates) == 0
    band = make_graph(grid, "distance=1")  # exactly 1 apart: rook neighbours, inclusive
    assert set(zip(band.edge_list()["focal"], band.edge_list()["neighbor"])) == expect


def test_distance_band_inclusive_and_coincident_like_libpysal(grid):
    """Centroids exactly D apart and coincident centroids are neighbours, as in libpysal."""
    twin = pd.concat([grid, grid.iloc[[0]].set_axis(["f"])])
    ours = make_graph(twin, "distance=1")
    _assert_equal_to_libpysal(ours, _peer(twin, "distance=1"))
    assert set(ours.edge_list().query("focal == 'f'")["neighbor"]) == {"a", "b", "c"}


def test_row_standardized_and_reorder(grid):
    g = make_graph(grid, "queen")
    w = g.row_standardized()
    sums = np.asarray(w.sum(axis=1)).ravel()
    np.testing.assert_allclose(sums, [1, 1, 1, 1, 0], atol=ROW_SUM_ATOL)  # e: zero row
    assert w[0, 1] == pytest.approx(1 / 3, abs=ROW_SUM_ATOL)
    order = list("edcba")
    m = row_standardized_matrix(g, order).toarray()
    np.testing.assert_array_equal(m, w.toarray()[::-1, ::-1])
    assert list(g.reorder(order).unique_ids) == order
    with pytest.raises(DataError, match="graph ids do not match"):
        g.reorder(list("abcdx"))
    with pytest.raises(DataError, match="graph has 5 units but there are 4"):
        row_standardized_matrix(g, list("abcd"))
    # ids that differ only as text and number are matched
    num = SpatialGraph([1, 2, 3], [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(row_standardized_matrix(num, ["3", "2", "1"]).toarray(),
                                  [[0, 1, 0], [0.5, 0, 0.5], [0, 1, 0]])


def test_as_graph_keeps_libpysal_weights(mexico):
    from libpysal.graph import Graph

    peer = Graph.build_knn(mexico.centroid, k=3).transform("r")
    g = as_graph(peer)
    assert list(g.unique_ids) == list(peer.unique_ids)
    np.testing.assert_array_equal(g.sparse.toarray(), peer.sparse.toarray())
    w = as_graph(peer.to_W())
    np.testing.assert_array_equal(w.sparse.toarray(), peer.sparse.toarray())
    assert as_graph(g) is g


def test_no_libpysal_import():
    """Building any kind stays free of libpysal/esda (seconds to import in a cold CLI)."""
    code = (
        "import sys, geopandas as gpd\n"
        "from shapely.geometry import box\n"
        "from gisfix.spatial import make_graph\n"
        "g = gpd.GeoDataFrame(geometry=[box(i, 0, i + 1, 1) for i in range(4)], crs=3857)\n"
        "for k in ('queen', 'rook', 'knn=2', 'distance=1.5'):\n"
        "    g2 = make_graph(g, k); g2.row_standardized(); g2.n_components\n"
        "import gisfix.agglomeration, gisfix.spatial.gini, gisfix.cli.agglomeration\n"
        "bad = [m for m in ('libpysal', 'esda', 'sklearn') if m in sys.modules]\n"
        "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, message", [
    ("bishop", "unknown graph kind 'bishop'"),
    ("knn", "unknown graph kind"),
    ("knn=K", "unknown graph kind"),
    ("knn=2.5", "integer K"),
    ("knn=0", "positive number"),
    ("distance=0", "positive number"),
    ("distance=1e999", "positive number"),
    ("distance=1..2", "positive number"),
])
def test_bad_kinds(grid, kind, message):
    with pytest.raises(DataError, match=message):
        make_graph(grid, kind)
    assert GRAPH_KINDS == ("queen", "rook", "knn=K", "distance=D")


def test_bad_input(grid):
    with pytest.raises(DataError, match=r"knn=K needs an integer 1 <= K < 5"):
        make_graph(grid, "knn=5")
    with pytest.raises(DataError, match="duplicate ids .*a"):
        make_graph(grid.set_axis(list("abcda")), "queen")
    with pytest.raises(CRSError):
        make_graph(grid.set_crs(None, allow_override=True), "knn=2")
    with pytest.raises(CRSError, match="degrees"):
        make_graph(grid.set_crs(4326, allow_override=True), "distance=1")
    twin = pd.concat([grid, grid.iloc[[0]].set_axis(["f"])])
    with pytest.raises(DataError, match="1 units share their centroid"):
        make_graph(twin, "knn=2")
    with pytest.raises(DataError, match="libpysal W or Graph; got ndarray"):
        as_graph(np.eye(3))
    with pytest.raises(DataError, match="3 x 3 matrix; got 2 x 2"):
        SpatialGraph(["a", "b", "c"], np.eye(2))
    with pytest.raises(DataError, match="duplicates"):
        SpatialGraph(["a", "a"], np.zeros((2, 2)))
