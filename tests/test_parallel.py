"""gisfix.parallel: scheduler names, in-process compute, the union-find of patch stitching.

Oracles: scipy.sparse.csgraph.connected_components for the union-find; ndimage.label of the
whole array for the strip stitching (global and streaming).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from gisfix.errors import DataError, GisfixError, UsageError
from gisfix.parallel import (
    StreamStitch,
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
    import distributed  # noqa: F401 - loads its config defaults: config.set's exit would
    # otherwise drop the whole "distributed" section it found missing on entry

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


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 30), w=st.integers(1, 12),
       rows=st.integers(1, 5), p=st.floats(0.1, 0.8), conn=st.sampled_from([4, 8]))
def test_streamed_strips_equal_whole_labelling(seed, h, w, rows, p, conn):
    """Every patch closed by the stream has the cells and first cell of a whole-grid patch."""
    a = np.random.default_rng(seed).random((h, w)) < p
    structure = np.ones((3, 3)) if conn == 8 else None
    whole, n = ndimage.label(a, structure=structure)
    sizes = np.bincount(whole.ravel(), minlength=n + 1)[1:]
    firsts = np.array([np.flatnonzero(whole.ravel() == i + 1)[0] for i in range(n)])
    expect = sorted(zip(firsts.tolist(), sizes.tolist()))
    s = StreamStitch(1, conn)
    got = []
    for r0 in range(0, h, rows):
        lab, k = ndimage.label(a[r0:r0 + rows], structure=structure)
        size = np.bincount(lab.ravel(), minlength=k + 1)
        first = np.full(k + 1, -1)
        for i in range(1, k + 1):
            rr, cc = np.nonzero(lab == i)
            first[i] = (rr[0] + r0) * w + cc[0]
        edge = np.zeros(k + 1, bool)
        edge[lab[0]] = edge[lab[-1]] = True
        edge[0] = False
        el = np.flatnonzero(edge)
        rows_ = [(np.flatnonzero(r), r[np.flatnonzero(r)]) for r in (lab[0], lab[-1])]
        vals, fst = s.add(k, rows_[0], rows_[1], el, size[el][None, :], first[el])
        got += list(zip(fst.tolist(), vals[0].tolist()))
        inner = np.flatnonzero(~edge)[1:]
        got += list(zip(first[inner].tolist(), size[inner].tolist()))
        assert len(s.open_first) <= w  # only the open boundary is kept
    vals, fst = s.finish()
    got += list(zip(fst.tolist(), vals[0].tolist()))
    assert s.n == n
    assert sorted(got) == expect
