"""Scale-out through dask: one way to name a scheduler, one way to compute a list of tasks.

Every raster measure that accepts ``scheduler=`` passes it to :func:`compute`:

* ``None``: run in this process, in order (dask is not imported);
* ``"threads"`` / ``"processes"`` / ``"synchronous"``: dask's local schedulers;
* ``"tcp://host:port"`` (or any address ``distributed.Client`` accepts): an existing
  ``dask.distributed`` cluster, for example one started by dask-jobqueue on an HPC system or
  by dask-kubernetes;
* a ``distributed.Client``: used as it is.

dask and distributed are the ``[dask]`` extra; they are imported only when a scheduler is
given.
"""

from __future__ import annotations

from gisfix.errors import DataError, UsageError

#: dask's local scheduler names accepted as ``scheduler=``.
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous", "single-threaded", "sync")


def resolve_scheduler(scheduler):   # None | "threads" | "processes" | "tcp://addr" | dask Client
    """Return a value usable as dask.compute(..., scheduler=...) or None for in-process.

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        None (in process), a local scheduler name (:data:`LOCAL_SCHEDULERS`), the address of
        a ``dask.distributed`` scheduler (``tcp://10.0.0.5:8786``) or a Client.

    Returns
    -------
    None, str or distributed.Client
    """
    if scheduler is None:
        return None
    if isinstance(scheduler, str):
        if scheduler in LOCAL_SCHEDULERS:
            _require_dask()
            return scheduler
        if "://" in scheduler or ":" in scheduler:
            _require_dask()
            try:
                from distributed import Client
            except ImportError as err:
                raise DataError(
                    f"scheduler {scheduler!r} is a dask.distributed address, but distributed "
                    "is not installed; pip install 'gisfix[dask]'") from err
            try:
                return Client(scheduler)
            except OSError as err:
                raise DataError(
                    f"cannot reach the dask scheduler at {scheduler!r} ({err}); start one "
                    "(`dask scheduler`) or pass 'threads' or 'processes'") from err
        raise UsageError(
            f"unknown scheduler {scheduler!r}: scheduler must be None, one of "
            f"{', '.join(LOCAL_SCHEDULERS)}, a dask.distributed address such as "
            "'tcp://host:8786', or a distributed.Client")
    if hasattr(scheduler, "get") and hasattr(scheduler, "submit"):  # a distributed.Client
        return scheduler
    raise UsageError(
        f"scheduler must be None, a name, an address or a distributed.Client; got "
        f"{type(scheduler).__name__}")


def compute(tasks, scheduler=None) -> list:
    """Compute a list of dask.delayed tasks (plain callables run in order when scheduler is None).

    Parameters
    ----------
    tasks : list
        ``dask.delayed`` objects, or zero-argument callables (called in order when
        ``scheduler`` is None; wrapped in ``dask.delayed`` otherwise).
    scheduler : see :func:`resolve_scheduler`

    Returns
    -------
    list
        The results, in the order of ``tasks``.
    """
    tasks = list(tasks)
    sched = resolve_scheduler(scheduler)
    if sched is None:
        out = []
        for t in tasks:
            if callable(t) and not hasattr(t, "dask"):
                out.append(t())
            else:  # a dask.delayed given without scheduler: compute it in process
                import dask

                out.append(dask.compute(t, scheduler="sync")[0])
        return out
    import dask

    tasks = [dask.delayed(t)() if callable(t) and not hasattr(t, "dask") else t for t in tasks]
    if not tasks:
        return []
    if isinstance(sched, str):
        return list(dask.compute(*tasks, scheduler=sched))
    return list(dask.compute(*tasks, scheduler=sched))


def delayed(fn, *args, **kwargs):
    """Return ``dask.delayed(fn)(*args, **kwargs)`` (pure: same inputs, same result).

    Parameters
    ----------
    fn : callable
        The task's function.
    *args, **kwargs
        Its arguments.

    Returns
    -------
    dask.delayed.Delayed
    """
    import dask

    return dask.delayed(fn, pure=True)(*args, **kwargs)


def _require_dask() -> None:
    try:
        import dask  # noqa: F401
    except ImportError as err:
        raise DataError(
            "a dask scheduler was asked for but dask is not installed; "
            "pip install 'gisfix[dask]'") from err


# -- helpers below the shared API (h7) --------------------------------------------------

class scheduler_session:  # noqa: N801 - used as a context manager, like open()
    """Resolve a scheduler once for several computations; close a Client made from an address.

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        As for :func:`resolve_scheduler`.

    Examples
    --------
    >>> with scheduler_session(None) as sched:
    ...     compute([lambda: 1], sched)
    [1]
    """

    def __init__(self, scheduler):
        self.given = scheduler
        self.resolved = None

    def __enter__(self):
        self.resolved = resolve_scheduler(self.given)
        return self.resolved

    def __exit__(self, *exc):
        if isinstance(self.given, str) and self.resolved is not None \
                and not isinstance(self.resolved, str):
            self.resolved.close()

def map_blocks(func, items, scheduler=None) -> list:
    """Return ``[func(item) for item in items]``, computed with ``scheduler``.

    Parameters
    ----------
    func : callable
        A picklable function of one argument (module level, for "processes" and clusters).
    items : iterable
        The arguments.
    scheduler : see :func:`resolve_scheduler`
    """
    return list(imap_blocks(func, items, scheduler))


def imap_blocks(func, items, scheduler=None, batch: int | None = None):
    """Yield ``func(item)`` for each item, in order, computing ``batch`` items at a time.

    Results are handed back batch by batch so that the caller can reduce them as they come:
    memory holds one batch of results, not all of them.  ``items`` is consumed lazily, a
    batch ahead at most, so a generator of arguments is never held whole either.

    Parameters
    ----------
    func : callable
        A picklable function of one argument.
    items : iterable
        The arguments.
    scheduler : see :func:`resolve_scheduler`
    batch : int, optional
        Items per dask computation (default: 4 per worker thread, at least 8).
    """
    from itertools import islice

    sched = resolve_scheduler(scheduler)
    if sched is None:
        for it in items:
            yield func(it)
        return
    import dask

    if batch is None:
        batch = 8
        if not isinstance(sched, str):
            try:
                batch = max(8, 4 * sum(sched.nthreads().values()))
            except Exception:  # noqa: BLE001 - any client without nthreads: keep the default
                batch = 8
    it = iter(items)
    if hasattr(sched, "submit"):  # a distributed Client: a pipeline, results in order
        from collections import deque

        queue = deque(sched.submit(func, x, pure=False) for x in islice(it, batch))
        while queue:
            head = queue.popleft()
            for x in it:  # keep ``batch`` tasks in flight while waiting for the head
                queue.append(sched.submit(func, x, pure=False))
                break
            yield head.result()
            head.release()
        return
    while part := [dask.delayed(func)(x) for x in islice(it, batch)]:
        yield from compute(part, sched)


def worker_local(stack):
    """Return a copy of ``stack`` private to this worker thread, reused across its tasks.

    Under dask every task gets its own (unpickled or shared) stack object; reopening the
    rasters in each task is slow for a VRT of thousands of tiles, and sharing one rasterio
    handle between threads is unsafe.  In a worker thread (not the main thread) the first
    task's copy, with its open handles, is kept for the thread's later tasks.  In the main
    thread ``stack`` itself is returned.

    Parameters
    ----------
    stack : gisfix.stack.BuiltupStack
        The stack a task received.
    """
    import copy
    import threading

    if threading.current_thread() is threading.main_thread():
        return stack
    cache = getattr(_LOCAL, "stacks", None)
    if cache is None:
        cache = _LOCAL.stacks = {}
    key = (tuple(map(str, stack.paths)), stack.encoding, tuple(stack.epochs), stack.classes,
           stack.fraction_units)
    st = cache.get(key)
    if st is None:
        st = copy.copy(stack)
        st._handles = {}
        cache[key] = st
    return st


def stack_task(body):
    """Make ``body(job)`` a task over one window of a stack (a decorator).

    ``job[0]`` is the stack: the task runs on the worker's own copy of it
    (:func:`worker_local`), with GDAL's block cache bounded
    (:func:`gisfix.stack.bounded_reads`).  The task keeps ``body``'s name, so it pickles
    by reference for dask's process and distributed schedulers.

    Parameters
    ----------
    body : callable
        A module-level function of one tuple, whose first item is a stack.

    Returns
    -------
    callable
    """
    import functools

    @functools.wraps(body)
    def task(job):
        from gisfix.stack import bounded_reads

        with bounded_reads():
            return body((worker_local(job[0]), *job[1:]))
    return task


def _local():
    import threading

    return threading.local()


_LOCAL = _local()


# -- patches across blocks ---------------------------------------------------------------

class Stitch:
    """Global patch ids for patches labelled strip by strip (see :func:`stitch_strips`).

    A patch gets the id it would get from one ``scipy.ndimage.label`` of the whole grid:
    patches are numbered 1..n in the order of their first cell in raster order.

    Parameters
    ----------
    counts : sequence of int
        Number of local labels of each strip.
    base : sequence of int
        Global id of each strip's first label that continues no patch from above.
    ns_labels, ns_gids : sequence of ndarray
        Per strip, the sorted local labels that are not new (they continue a patch of an
        earlier strip) and their global ids.
    """

    def __init__(self, counts, base, ns_labels, ns_gids):
        self.counts = counts
        self.base = base
        self.ns_labels = ns_labels
        self.ns_gids = ns_gids

    @property
    def n(self) -> int:
        """The number of patches of the whole grid."""
        return int(sum(self.counts) - sum(len(x) for x in self.ns_labels))

    def params(self, s: int) -> tuple:
        """The (small) facts a worker needs to map strip ``s``'s labels to global ids."""
        return int(self.base[s]), self.ns_labels[s], self.ns_gids[s]

    def map(self, s: int, labels):
        """Return the global ids of local labels of strip ``s`` (0 stays 0)."""
        return map_labels(labels, *self.params(s))


def map_labels(labels, base, ns_labels, ns_gids):
    """Map local labels to global ids given a strip's :meth:`Stitch.params`.

    Parameters
    ----------
    labels : array-like of int
        Local labels of one strip (0 = background).
    base : int
        Global id of the strip's first new label.
    ns_labels, ns_gids : ndarray
        Sorted local labels that continue earlier patches, and their global ids.

    Returns
    -------
    ndarray
        Global ids (0 stays 0).
    """
    import numpy as np

    k = np.asarray(labels, dtype=np.int64)
    rank = np.searchsorted(ns_labels, k, side="left")
    g = base + k - rank
    if len(ns_labels):
        pos = np.minimum(rank, len(ns_labels) - 1)
        hit = ns_labels[pos] == k
        g = np.where(hit, ns_gids[pos], g)
    return np.where(k > 0, g, 0)


def union_find_min(a, b, m: int):
    """Connected components of the graph with edges ``a[i] - b[i]`` over nodes ``0..m-1``.

    Vectorised union-find (hooking roots onto the smaller root, then path compression by
    pointer jumping, until no edge joins two roots): returns, for every node, the smallest
    node of its component.

    Parameters
    ----------
    a, b : numpy.ndarray of int
        Edge end points.
    m : int
        Number of nodes.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> import numpy as np
    >>> union_find_min(np.array([3, 1, 4]), np.array([1, 2, 5]), 6).tolist()
    [0, 1, 1, 1, 4, 4]
    """
    import numpy as np

    lab = np.arange(m, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while True:
        ra, rb = lab[a], lab[b]
        d = ra != rb
        if not d.any():
            return lab
        np.minimum.at(lab, np.maximum(ra[d], rb[d]), np.minimum(ra[d], rb[d]))
        while True:
            nxt = lab[lab]
            if np.array_equal(nxt, lab):
                break
            lab = nxt


def stitch_strips(first_rows, last_rows, counts, connectivity: int = 8) -> Stitch:
    """Union-find over the edge labels of consecutive full-width strips.

    Parameters
    ----------
    first_rows, last_rows : list of (cols, labels)
        For each strip, the columns and local labels (1..counts[s]) of the patch cells in its
        first and last row, columns ascending.
    counts : list of int
        Number of local labels of each strip.
    connectivity : {8, 4}
        Whether diagonal neighbours across a strip edge join patches.

    Returns
    -------
    Stitch

    See Also
    --------
    junction_edges, stitch_edges : the same in two steps, for strips that arrive one by one
        (only the edges are kept, not the rows).
    """
    import numpy as np

    offs = np.concatenate(([0], np.cumsum(np.asarray(counts, dtype=np.int64))))
    edges = [junction_edges(last_rows[s], first_rows[s + 1], offs[s], offs[s + 1],
                            connectivity) for s in range(len(counts) - 1)]
    return stitch_edges(counts, edges)


def junction_edges(last_row, first_row, off_above: int, off_below: int,
                   connectivity: int = 8):
    """The edges that join patches across the edge between two consecutive strips.

    Nodes are numbered over all strips: local label ``k`` of a strip whose labels start at
    offset ``off`` (the sum of the earlier strips' label counts) is node ``off + k - 1``.

    Parameters
    ----------
    last_row, first_row : (cols, labels)
        Columns (ascending) and local labels of the patch cells in the upper strip's last
        row and in the lower strip's first row.
    off_above, off_below : int
        Node offsets of the two strips.
    connectivity : {8, 4}
        Whether diagonal neighbours join patches.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Edge end points (int64), for :func:`stitch_edges`.
    """
    import numpy as np

    cb, lb = (np.asarray(x, dtype=np.int64) for x in last_row)
    ct, lt = (np.asarray(x, dtype=np.int64) for x in first_row)
    if not len(cb) or not len(ct):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a_list, b_list = [], []
    for d in ((-1, 0, 1) if connectivity == 8 else (0,)):
        pos = np.searchsorted(ct, cb + d)
        pos_c = np.minimum(pos, len(ct) - 1)
        hit = ct[pos_c] == cb + d
        a_list.append(off_above + lb[hit] - 1)
        b_list.append(off_below + lt[pos_c[hit]] - 1)
    return np.concatenate(a_list), np.concatenate(b_list)


def stitch_edges(counts, edges) -> Stitch:
    """Global patch ids from the strips' label counts and the edges across their edges.

    Parameters
    ----------
    counts : sequence of int
        Number of local labels of each strip.
    edges : list of (numpy.ndarray, numpy.ndarray)
        Edges between nodes, from :func:`junction_edges`.

    Returns
    -------
    Stitch
    """
    import numpy as np

    counts = np.asarray(counts, dtype=np.int64)
    offs = np.concatenate(([0], np.cumsum(counts)))
    nstrips = len(counts)
    ns_labels = [np.zeros(0, np.int64) for _ in range(nstrips)]
    ns_gids = [np.zeros(0, np.int64) for _ in range(nstrips)]
    a = np.concatenate([np.zeros(0, np.int64)] + [e[0] for e in edges]).astype(np.int64)
    b = np.concatenate([np.zeros(0, np.int64)] + [e[1] for e in edges]).astype(np.int64)
    if len(a):
        nodes, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
        root = union_find_min(inv[:len(a)], inv[len(a):], len(nodes))
        # starter of each component: its smallest node (nodes ascend in (strip, label))
        starter = nodes[root]
        is_ns = starter != nodes
        strip_of = np.searchsorted(offs, nodes, side="right") - 1
        ns_nodes, ns_strip = nodes[is_ns], strip_of[is_ns]
        ns_start = starter[is_ns]
        ns_count = np.bincount(ns_strip, minlength=nstrips)
        base = offs[:-1] - np.concatenate(([0], np.cumsum(ns_count)[:-1]))
        # global id of each starter node
        st_strip = np.searchsorted(offs, ns_start, side="right") - 1
        st_label = ns_start - offs[st_strip] + 1
        order = np.argsort(ns_nodes, kind="stable")
        ns_nodes, ns_strip, ns_start = ns_nodes[order], ns_strip[order], ns_start[order]
        st_strip, st_label = st_strip[order], st_label[order]
        ns_local = ns_nodes - offs[ns_strip] + 1
        bounds = np.searchsorted(ns_strip, np.arange(nstrips + 1))
        for s in range(nstrips):
            ns_labels[s] = ns_local[bounds[s]:bounds[s + 1]]
        st_gid = np.empty(len(ns_nodes), np.int64)
        for s in np.unique(st_strip):  # starters are never non-starters: map them directly
            sel = st_strip == s
            k = st_label[sel]
            st_gid[sel] = base[s] + k - np.searchsorted(ns_labels[s], k, side="left")
        for s in range(nstrips):
            ns_gids[s] = st_gid[bounds[s]:bounds[s + 1]]
    else:
        base = offs[:-1].copy()
    return Stitch(counts, base, ns_labels, ns_gids)


class StreamStitch:
    """Join patches labelled strip by strip, in order, keeping only the open boundary.

    :func:`stitch_strips` needs the edge rows of every strip at once, which grows with the
    raster (the edge rows of 2,550 strips of a 100,000-column mosaic are gigabytes).  This
    class takes the strips one after the other, top to bottom, and keeps only the last row
    of the strip before and the patches that touch it (the *open* patches).  A patch is
    *closed* once a strip ends without it touching its last row: its summed values are
    handed back and forgotten.  Memory holds one row and the open patches, whatever the
    number of strips.

    Each patch carries values summed over its cells (for example cell counts and moments)
    and the raster-order index of its first cell (the minimum over its pieces), so a closed
    patch is summarised exactly as a whole-grid labelling would summarise it.  Connected
    components of each strip's small junction graph come from
    :func:`scipy.sparse.csgraph.connected_components`.

    Parameters
    ----------
    n_values : int
        Number of summed values per patch.
    connectivity : {8, 4}
        Whether diagonal neighbours across a strip edge join patches.

    Attributes
    ----------
    n : int
        Patches so far: every local label counted once, less one per join.

    Examples
    --------
    >>> import numpy as np
    >>> s = StreamStitch(1)
    >>> row = (np.array([0]), np.array([1]))            # one patch in column 0
    >>> s.add(1, row, row, np.array([1]), np.array([[3]]), np.array([0]))[0].shape
    (1, 0)
    >>> vals, first = s.add(1, row, row, np.array([1]), np.array([[2]]), np.array([9]))
    >>> s.n, s.finish()[0].tolist()                    # the two pieces are one patch of 5
    (1, [[5]])
    """

    def __init__(self, n_values: int, connectivity: int = 8):
        import numpy as np

        self.k = int(n_values)
        self.shifts = (-1, 0, 1) if int(connectivity) == 8 else (0,)
        self.n = 0
        self.open_cols = np.zeros(0, np.int64)   # columns of the open row's patch cells
        self.open_node = np.zeros(0, np.int64)   # their open patch (index into the arrays below)
        self.open_vals = np.zeros((self.k, 0), np.int64)
        self.open_first = np.zeros(0, np.int64)

    def add(self, n_labels, first_row, last_row, edge_labels, edge_values, edge_first):
        """Take the next strip; return the patches closed by it as ``(values, first)``.

        Parameters
        ----------
        n_labels : int
            Number of local labels of the strip.
        first_row, last_row : (cols, labels)
            Columns (ascending) and local labels of the patch cells of the strip's first and
            last row.
        edge_labels : numpy.ndarray of int
            The sorted local labels present in the first or last row.
        edge_values : numpy.ndarray, shape (n_values, len(edge_labels))
            Their summed values within the strip.
        edge_first : numpy.ndarray of int
            Their first cells (raster-order index) within the strip.

        Returns
        -------
        values : numpy.ndarray, shape (n_values, m)
        first : numpy.ndarray, shape (m,)
            The ``m`` patches that no later strip can reach.
        """
        import numpy as np
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        edge_labels = np.asarray(edge_labels, np.int64)
        n_open, n_edge = len(self.open_first), len(edge_labels)
        m = n_open + n_edge
        self.n += int(n_labels)
        ct, lt = (np.asarray(x, np.int64) for x in first_row)
        a_list, b_list = [], []
        if len(ct) and n_open:
            cb, nb = self.open_cols, self.open_node
            for d in self.shifts:
                pos = np.minimum(np.searchsorted(ct, cb + d), len(ct) - 1)
                hit = ct[pos] == cb + d
                a_list.append(nb[hit])
                b_list.append(n_open + np.searchsorted(edge_labels, lt[pos[hit]]))
        vals = np.concatenate([self.open_vals, np.asarray(edge_values, np.int64)
                               .reshape(self.k, n_edge)], axis=1)
        first = np.concatenate([self.open_first, np.asarray(edge_first, np.int64)])
        if a_list and sum(len(a) for a in a_list):
            a, b = np.concatenate(a_list), np.concatenate(b_list)
            graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(m, m))
            n_comp, comp = connected_components(graph, directed=False)
            self.n -= m - int(n_comp)
            merged = np.zeros((self.k, n_comp), np.int64)
            for i in range(self.k):
                np.add.at(merged[i], comp, vals[i])
            mfirst = np.full(n_comp, np.iinfo(np.int64).max, np.int64)
            np.minimum.at(mfirst, comp, first)
            vals, first = merged, mfirst
        else:
            n_comp, comp = m, np.arange(m)
        cl, ll = (np.asarray(x, np.int64) for x in last_row)
        node = comp[n_open + np.searchsorted(edge_labels, ll)] if len(ll) else \
            np.zeros(0, np.int64)
        keep = np.zeros(n_comp, bool)
        keep[node] = True
        closed = (vals[:, ~keep], first[~keep])
        # renumber the open patches 0..k-1
        new_index = np.cumsum(keep) - 1
        self.open_cols, self.open_node = cl, new_index[node]
        self.open_vals, self.open_first = vals[:, keep], first[keep]
        return closed

    def finish(self):
        """Close the patches still open after the last strip; return ``(values, first)``."""
        import numpy as np

        closed = (self.open_vals, self.open_first)
        self.open_cols = self.open_node = np.zeros(0, np.int64)
        self.open_vals = np.zeros((self.k, 0), np.int64)
        self.open_first = np.zeros(0, np.int64)
        return closed
