"""gisfix.parallel: scheduler names, in-process compute, the union-find of patch stitching.

Oracles: scipy.sparse.csgraph.connected_components for the union-find; ndimage.label of the
whole array for the strip stitching.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from gisfix.errors import DataError, GisfixError, UsageError
from gisfix.parallel import (
    compute,
    map_blocks,
    resolve_scheduler,
    stitch_strips,
    union_find_min,
)


def test_resolve_scheduler():
    assert resolve_scheduler(None) is None
    assert resolve_scheduler("threads") == "threads"
    assert resolve_scheduler("processes") == "processes"
    with pytest.raises(UsageError, match="unknown scheduler .fast.") as err:
        resolve_scheduler("fast")
    assert isinstance(err.value, GisfixError) and isinstance(err.value, ValueError)
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(DataError, match="cannot reach the dask scheduler"):
        resolve_scheduler("tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="scheduler must be"):
        resolve_scheduler(3)


def test_compute_in_process_and_threads():
    assert compute([lambda: 1, lambda: 2]) == [1, 2]
    assert compute([lambda: 1, lambda: 2], "threads") == [1, 2]
    assert map_blocks(abs, [-1, 2, -3], "threads") == [1, 2, 3]
    assert map_blocks(abs, [-1, 2, -3]) == [1, 2, 3]


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 60), edges=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)),
                                            max_size=80))
def test_union_find_against_scipy(m, edges):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = np.array([(a % m, b % m) for a, b in edges], dtype=np.int64).reshape(-1, 2)
    lab = union_find_min(e[:, 0], e[:, 1], m)
    _, comp = connected_components(
        coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(m, m)), directed=False)
    smallest = np.full(comp.max() + 1, m)
    np.minimum.at(smallest, comp, np.arange(m))
    assert lab.tolist() == smallest[comp].tolist()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 25), w=st.integers(1, 12),
       rows=st.integers(1, 5), p=st.floats(0.1, 0.8), conn=st.sampled_from([4, 8]))
def test_stitched_strips_equal_whole_labelling(seed, h, w, rows, p, conn):
    a = np.random.default_rng(seed).random((h, w)) < p
    structure = np.ones((3, 3)) if conn == 8 else None
    whole, n = ndimage.label(a, structure=structure)
    first, last, counts, labs = [], [], [], []
    for r0 in range(0, h, rows):
        lab, k = ndimage.label(a[r0:r0 + rows], structure=structure)
        labs.append(lab)
        counts.append(k)
        for out, row in ((first, lab[0]), (last, lab[-1])):
            c = np.flatnonzero(row)
            out.append((c, row[c]))
    s = stitch_strips(first, last, counts, conn)
    assert s.n == n
    got = np.concatenate([s.map(i, lab) for i, lab in enumerate(labs)])
    assert got.tolist() == whole.tolist()
