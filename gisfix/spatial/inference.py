"""Seeded permutation inference, once for every spatial statistic of gisfix.

* :func:`stream`: one random generator per measure and epoch, from a
  :class:`numpy.random.SeedSequence` keyed by the measure's name and the epoch, so a result
  never depends on what else was requested (or in which order).
* :func:`count_at_least` and :func:`pseudo_p`: the one tie rule and the one fold of
  permutation pseudo p-values (PySAL's fold).
* :func:`normal_sf`: the upper-tail normal probability through :func:`math.erfc`, so that no
  spatial statistic needs ``scipy.stats`` (slow to import in a cold CLI process).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from gisfix.errors import DataError

#: Relative tolerance when comparing a simulated statistic with the observed one: the same
#: neighbour set summed in another order must count as a tie, not as smaller.
TIE_RTOL = 1e-10

#: Default number of permutations of every permutation test.
DEFAULT_PERMUTATIONS = 999


def _key(part) -> int:
    if isinstance(part, int | np.integer):
        return int(part) & 0xFFFFFFFF
    return zlib.crc32(str(part).encode("utf-8"))


def seed_sequence(seed=None, *keys) -> np.random.SeedSequence:
    """Return the :class:`~numpy.random.SeedSequence` of ``seed`` spawned for ``keys``.

    Parameters
    ----------
    seed : None, int, SeedSequence or numpy.random.Generator
        The user's seed.  A Generator contributes its own seed sequence (it is not advanced).
    *keys : str or int
        What the stream is for, e.g. ``("lisa", 2020)``: each distinct key gets an
        independent stream, the same key always the same one.

    Returns
    -------
    numpy.random.SeedSequence
    """
    if isinstance(seed, np.random.Generator):
        base = seed.bit_generator.seed_seq
    elif isinstance(seed, np.random.SeedSequence):
        base = seed
    elif seed is None or isinstance(seed, int | np.integer):
        base = np.random.SeedSequence(None if seed is None else int(seed))
    else:
        raise DataError(f"seed must be None, an int, a SeedSequence or a numpy Generator; got "
                        f"{type(seed).__name__}")
    return np.random.SeedSequence(base.entropy,
                                  spawn_key=tuple(base.spawn_key) + tuple(map(_key, keys)))


def stream(seed=None, *keys) -> np.random.Generator:
    """Return the random generator of measure/epoch ``keys`` under ``seed``.

    Parameters
    ----------
    seed : None, int, SeedSequence or numpy.random.Generator
        The user's seed (see :func:`seed_sequence`).
    *keys : str or int
        Measure name and epoch, e.g. ``stream(0, "lisa", 2020)``.

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng(seed_sequence(seed, *keys))


def check_permutations(permutations) -> int:
    """Return ``permutations`` as an int >= 0, or raise :class:`DataError`.

    Parameters
    ----------
    permutations : int
        Number of random permutations (0 for none).
    """
    try:
        p = int(permutations)
    except (TypeError, ValueError):
        p = -1
    if p < 0 or p != permutations:
        raise DataError(f"permutations must be an integer >= 0; got {permutations!r}")
    return p


def count_at_least(sim: np.ndarray, observed, axis: int = -1) -> np.ndarray:
    """Count simulated statistics at least as large as the observed one (the tie rule).

    A simulated value within a relative :data:`TIE_RTOL` of the observed value is a tie and
    counts as at least as large.

    Parameters
    ----------
    sim : ndarray
        Simulated statistics; permutations along ``axis``.
    observed : float or ndarray
        Observed statistic(s), broadcastable against ``sim`` without ``axis``.
    axis : int
        Axis of the permutations.

    Returns
    -------
    ndarray
        Counts (an int array; a 0-d array for one statistic).
    """
    sim = np.asarray(sim, dtype=float)
    observed = np.expand_dims(np.asarray(observed, dtype=float), axis)
    tol = TIE_RTOL * np.maximum(np.abs(observed), 1e-300)
    return (sim >= observed - tol).sum(axis=axis)


def pseudo_p(larger, permutations: int):
    r"""Fold counts of simulated values at or above the observed into pseudo p-values.

    .. math::
        p = \frac{\min(m, P - m) + 1}{P + 1}

    with :math:`m` the count (:func:`count_at_least`) and :math:`P` the permutations: the
    fold of PySAL (esda, inequality), a one-sided test on the side of the observed value.

    Parameters
    ----------
    larger : int or ndarray
        Counts of simulated values at or above the observed one.
    permutations : int
        Number of permutations.

    Returns
    -------
    float or ndarray
    """
    larger = np.asarray(larger, dtype=float)
    p = (np.minimum(larger, permutations - larger) + 1.0) / (permutations + 1.0)
    return float(p) if p.ndim == 0 else p


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def normal_sf(z):
    r"""Return the upper-tail standard normal probability :math:`1 - \Phi(z)`.

    Computed as :math:`\tfrac12 \operatorname{erfc}(z/\sqrt2)` with :func:`math.erfc`
    (exact to double precision, no scipy.stats import).  NaN stays NaN.

    Parameters
    ----------
    z : float or array-like
        Standard normal deviates.

    Returns
    -------
    float or ndarray
    """
    arr = np.asarray(z, dtype=float)
    if arr.ndim == 0:
        return 0.5 * math.erfc(float(arr) / math.sqrt(2.0))
    return 0.5 * np.asarray(_ERFC(arr / math.sqrt(2.0)), dtype=float)


def normal_p_two_sided(z):
    r"""Return the two-sided normal p-value :math:`2 (1 - \Phi(|z|))`.

    Parameters
    ----------
    z : float or array-like
        Standard normal deviates.

    Returns
    -------
    float or ndarray
    """
    arr = np.abs(np.asarray(z, dtype=float))
    out = 2.0 * normal_sf(arr)
    return out


__all__ = ["DEFAULT_PERMUTATIONS", "TIE_RTOL", "check_permutations", "count_at_least",
           "normal_p_two_sided", "normal_sf", "pseudo_p", "seed_sequence", "stream"]
