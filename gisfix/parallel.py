"""Scale-out through dask: one way for every raster measure to run on blocks.

A measure splits its raster into blocks, builds one task per block returning partial sums,
and merges them in block order, so the answer does not depend on where the blocks ran.
``scheduler`` is None (in-process, no dask needed), ``"threads"``, ``"processes"``, the
address of a ``dask.distributed`` scheduler (``"tcp://host:8786"``) or a
``distributed.Client``.  dask and distributed come with the ``[dask]`` extra and are
imported only when a scheduler is given.
"""

from __future__ import annotations

from gisfix.errors import UsageError

SCHEDULERS = ("threads", "processes")


def resolve_scheduler(scheduler):
    """Return a value usable as ``dask.compute(..., scheduler=...)``, or None for in-process.

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        None: in-process; ``"threads"`` / ``"processes"``: dask's local schedulers; a
        ``tcp://``, ``tls://``, ``ucx://`` or ``inproc://`` address: a running
        ``dask.distributed`` scheduler (a Client is connected to it); a Client: used as is.

    Returns
    -------
    None, str or distributed.Client
    """
    if scheduler is None:
        return None
    if isinstance(scheduler, str):
        s = scheduler.strip()
        if s in SCHEDULERS or s in ("sync", "synchronous", "single-threaded"):
            _require_dask()
            return s
        if "://" in s:
            _require_dask(distributed=True)
            from distributed import Client

            try:
                return Client(s, set_as_default=False, timeout="10s")
            except OSError as exc:
                raise UsageError(
                    f"cannot connect to the dask scheduler at {s}: {exc}; start one "
                    "(dask scheduler / dask-jobqueue / dask-kubernetes) or use "
                    "--scheduler processes") from exc
        raise UsageError(
            f"scheduler must be None, 'threads', 'processes', a dask.distributed address "
            f"(tcp://host:port) or a Client; got {scheduler!r}")
    if hasattr(scheduler, "get") and hasattr(scheduler, "submit"):  # a distributed.Client
        return scheduler
    raise UsageError(
        f"scheduler must be None, 'threads', 'processes', an address or a "
        f"distributed.Client; got {type(scheduler).__name__}")


def compute(tasks, scheduler=None) -> list:
    """Compute a list of dask.delayed tasks (or run plain callables in order when None).

    Parameters
    ----------
    tasks : list
        ``dask.delayed`` objects when ``scheduler`` is given; zero-argument callables
        when it is None.
    scheduler : see :func:`resolve_scheduler`

    Returns
    -------
    list
        The results, in the order of ``tasks``.
    """
    sched = resolve_scheduler(scheduler)
    if sched is None:
        return [t() if callable(t) else t for t in tasks]
    import dask

    if isinstance(sched, str):
        return list(dask.compute(*tasks, scheduler=sched))
    try:  # a distributed Client
        return list(dask.compute(*tasks, scheduler=sched))
    finally:
        if isinstance(scheduler, str):  # connected here for this call: disconnect
            sched.close()


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


def _require_dask(distributed: bool = False) -> None:
    try:
        import dask  # noqa: F401

        if distributed:
            import distributed as _d  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "a dask scheduler needs dask (and distributed for an address); install the "
            "extra: pip install 'gisfix[dask]'") from exc
