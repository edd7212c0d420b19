"""Spatial autocorrelation: global Moran's I, local Moran (LISA) and Getis-Ord Gi*.

Vectorised numpy on a :class:`~gisfix.spatial.graphs.SpatialGraph` (or a libpysal ``Graph``
or ``W``); the statistics agree with esda to rounding, without esda's numba warm-up.  esda
stays available as a backend (``backend="esda"``), proven equal by the tests.  Permutation
inference goes through :mod:`gisfix.spatial.inference` (one tie rule, one fold, one seeded
stream per measure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gisfix.errors import DataError
from gisfix.spatial.graphs import align_values
from gisfix.spatial.inference import (
    DEFAULT_PERMUTATIONS,
    check_permutations,
    count_at_least,
    normal_p_two_sided,
    normal_sf,
    pseudo_p,
    stream,
)

#: Rows of the permutation matrix drawn at once (bounds memory of the simulations).
PERMUTATION_CHUNK = 256
#: Backends of :func:`moran`, :func:`local_moran` and :func:`getis_ord`.
BACKENDS = ("numpy", "esda")


def _rng(seed, measure: str):
    """The measure's own generator: a Generator is used as given, else a keyed stream."""
    if isinstance(seed, np.random.Generator):
        return seed
    return stream(seed, measure)


def _weights(values, w, transform: str):
    """Return (y, sparse W (CSR, transformed), ids) with y ordered like the weights."""
    y, g = align_values(values, w, order="graph")
    n = g.n
    if not np.isfinite(y).all():
        raise DataError(f"{int((~np.isfinite(y)).sum())} values are NaN or infinite; drop those "
                        "units from the values and the weights first")
    if n < 3:
        raise DataError(f"spatial autocorrelation needs at least 3 units, got {n}")
    return y, _transform(g.sparse, transform), list(g.unique_ids)


def _transform(mat, transform: str):
    import scipy.sparse as sp

    t = str(transform).lower()
    if t == "r":
        rs = np.asarray(mat.sum(axis=1)).ravel()
        inv = np.where(rs != 0, 1.0 / np.where(rs != 0, rs, 1.0), 0.0)
        return sp.csr_matrix(sp.diags(inv) @ mat)
    if t == "b":
        out = mat.copy()
        out.data = (out.data != 0).astype(float)
        out.eliminate_zeros()
        return out
    if t == "o":
        return mat
    raise DataError(f"unknown weights transform {transform!r}; use 'r' (row-standardized), "
                    "'b' (binary) or 'o' (as given)")


#: Relative tolerance when comparing a simulated statistic with the observed one: the same
#: neighbour set summed in another order must count as a tie, not as smaller.
@dataclass(frozen=True)
class MoranResult:
    """Global Moran's I with normal, randomisation and permutation inference.

    Attributes
    ----------
    I, EI : float
        Observed statistic and its expectation :math:`-1/(n-1)`.
    VI_norm, z_norm, p_norm : float
        Variance, z-value and two-sided p-value under normality.
    VI_rand, z_rand, p_rand : float
        The same under randomisation.
    n : int
        Number of units.
    permutations : int
        Number of permutations (0: none).
    p_sim, EI_sim, z_sim : float
        Folded pseudo p-value, mean of the permuted statistics and the z-value of the
        observed one against them.
    sim : ndarray or None
        The permuted statistics.
    """

    I: float  # noqa: E741
    EI: float
    VI_norm: float
    z_norm: float
    p_norm: float
    VI_rand: float
    z_rand: float
    p_rand: float
    n: int
    permutations: int = 0
    p_sim: float = math.nan
    EI_sim: float = math.nan
    z_sim: float = math.nan
    sim: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        """Return the scalar fields as a dict."""
        return {k: v for k, v in self.__dict__.items() if k != "sim"}


def _centred(y: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    """Deviations from the mean and their sum of squares; constant values are an error."""
    z = y - y.mean()
    m2 = float((z * z).sum())
    if m2 == 0:
        raise DataError(f"all values are equal; {what} is undefined")
    return z, m2


def moran(values, w, *, transform: str = "r", permutations: int = DEFAULT_PERMUTATIONS,
          seed=None, backend: str = "numpy") -> MoranResult:
    r"""Return global Moran's I of ``values`` under the spatial weights ``w``.

    .. math::
        I = \frac{n}{S_0} \frac{\sum_i \sum_j w_{ij} z_i z_j}{\sum_i z_i^2}, \qquad
        z_i = y_i - \bar y, \quad S_0 = \sum_i\sum_j w_{ij}

    (Moran 1950), with :math:`E[I] = -1/(n-1)` and the variances under normality and
    randomisation of Cliff & Ord (1981, eqs. 1.35-1.36); two-sided normal p-values.  The
    permutation p-value is :math:`(m + 1)/(P + 1)`, :math:`m` the number of permuted
    :math:`I` at least as extreme on the side of the observed one (folded as in esda);
    a simulated value within :data:`TIE_RTOL` of the observed one counts as a tie.

    Parameters
    ----------
    values : Series or array
        One value per unit; a Series is aligned on the weights' ids.
    w : SpatialGraph, libpysal.weights.W or libpysal.graph.Graph
        Spatial weights (:func:`gisfix.spatial.make_graph`).
    transform : {"r", "b", "o"}
        Row-standardize (default, as esda), binary, or as given.
    permutations : int
        Random permutations for ``p_sim`` (0 to skip).
    seed : int, SeedSequence or numpy.random.Generator, optional
        Seed of the permutations (a Generator is used as given; otherwise the stream
        ``stream(seed, "moran")`` of :mod:`gisfix.spatial.inference`).
    backend : {"numpy", "esda"}
        Compute here (default) or with esda's ``Moran`` (needs esda; same statistic and
        analytical inference, esda's own random permutations).

    Returns
    -------
    MoranResult
    """
    y, mat, ids = _weights(values, w, transform)
    if _check_backend(backend) == "esda":
        return _moran_esda(y, mat, ids, check_permutations(permutations), seed)
    n = y.size
    z, m2 = _centred(y, "Moran's I")
    s0 = float(mat.sum())
    i_obs = n / s0 * float(z @ (mat @ z)) / m2
    ei = -1.0 / (n - 1)
    wt = mat + mat.T
    s1 = 0.5 * float(wt.multiply(wt).sum())
    s2 = float(((np.asarray(mat.sum(axis=1)).ravel() + np.asarray(mat.sum(axis=0)).ravel())
                ** 2).sum())
    n2 = n * n
    v_norm = (n2 * s1 - n * s2 + 3 * s0 * s0) / ((n2 - 1) * s0 * s0) - ei * ei
    k = (np.sum(z ** 4) / n) / (m2 / n) ** 2
    a = n * ((n2 - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
    b = k * ((n2 - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
    v_rand = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - ei * ei
    z_norm = (i_obs - ei) / math.sqrt(v_norm)
    z_rand = (i_obs - ei) / math.sqrt(v_rand) if v_rand > 0 else math.nan
    permutations = check_permutations(permutations)
    p_sim = ei_sim = z_sim = math.nan
    sim = None
    if permutations:
        rng = _rng(seed, "moran")
        sims = []
        for start in range(0, permutations, PERMUTATION_CHUNK):
            p = min(PERMUTATION_CHUNK, permutations - start)
            zp = rng.permuted(np.broadcast_to(z, (p, n)), axis=1).T  # n x p
            sims.append(n / s0 * np.einsum("ij,ij->j", zp, mat @ zp) / m2)
        sim = np.concatenate(sims)
        p_sim = pseudo_p(count_at_least(sim, i_obs), permutations)
        ei_sim = float(sim.mean())
        sd = sim.std()
        z_sim = float((i_obs - sim.mean()) / sd) if sd > 0 else math.nan
    res = MoranResult(I=i_obs, EI=ei, VI_norm=v_norm, z_norm=z_norm,
                      p_norm=normal_p_two_sided(z_norm), VI_rand=v_rand, z_rand=z_rand,
                      p_rand=normal_p_two_sided(z_rand), n=n, permutations=permutations,
                      p_sim=p_sim, EI_sim=ei_sim, z_sim=z_sim, sim=sim)
    return res


def _neighbour_table(mat):
    """Return padded neighbour weights (n x kmax) and cardinalities of a CSR matrix.

    The diagonal is excluded (self-weights are handled by the caller).
    """
    import scipy.sparse as sp

    off = sp.csr_matrix(mat - sp.diags(mat.diagonal()))
    off.eliminate_zeros()
    card = np.diff(off.indptr)
    kmax = int(card.max()) if card.size else 0
    wpad = np.zeros((mat.shape[0], max(kmax, 1)))
    for i in range(mat.shape[0]):
        lo, hi = off.indptr[i], off.indptr[i + 1]
        wpad[i, : hi - lo] = off.data[lo:hi]
    return wpad, card, kmax


def _conditional_sims(x: np.ndarray, wpad: np.ndarray, kmax: int, permutations: int, rng,
                      cache_rows: int = 64):
    """Yield, for blocks of units, simulated neighbour sums under conditional randomisation.

    For unit ``i`` the neighbours' values are a random draw without replacement from the
    other ``n - 1`` values (Anselin 1995).  As in esda, one set of ``permutations`` random
    draws of ``kmax`` positions among ``n - 1`` is shared by every unit; position ``r`` of
    unit ``i`` maps to unit ``r + (r >= i)``.  Yields ``(slice, sums)`` with ``sums`` of
    shape (units in the slice, permutations).
    """
    n = x.size
    rids = np.empty((permutations, kmax), dtype=np.int64)
    for p in range(permutations):
        rids[p] = rng.choice(n - 1, size=kmax, replace=False)
    for start in range(0, n, cache_rows):
        stop = min(n, start + cache_rows)
        i = np.arange(start, stop)[:, None, None]
        j = rids[None, :, :] + (rids[None, :, :] >= i)
        sums = np.einsum("ipk,ik->ip", x[j], wpad[start:stop, :kmax])
        yield slice(start, stop), sums


QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


def local_moran(values, w, *, transform: str = "r", permutations: int = DEFAULT_PERMUTATIONS,
                seed=None, significance: float = 0.05, backend: str = "numpy") -> pd.DataFrame:
    r"""Return local Moran's I (LISA) per unit with conditional-permutation inference.

    .. math::
        I_i = (n - 1) \frac{z_i \sum_j w_{ij} z_j}{\sum_k z_k^2}

    (Anselin 1995, as computed by esda's ``Moran_Local``).  Quadrant ``q``: 1 HH
    (:math:`z_i>0`, lag > 0), 2 LH, 3 LL, 4 HL.  ``p_sim`` is the folded pseudo p-value
    :math:`(m+1)/(P+1)` of :math:`P` conditional permutations (neighbours drawn from the
    other units); ``cluster`` is the quadrant label where ``p_sim <= significance``, else
    ``"ns"``.

    Parameters
    ----------
    values, w, transform
        As :func:`moran`.
    permutations : int
        Conditional permutations (0: no ``p_sim``, clusters all ``"ns"``).
    seed : int or numpy.random.Generator, optional
        Seed of the permutations.
    significance : float
        Pseudo p-value at or below which a unit is a cluster.
    backend : {"numpy", "esda"}
        Compute here (default) or with esda's ``Moran_Local`` (same ``Is``, ``lag`` and
        ``q``; esda's own random permutations).

    Returns
    -------
    DataFrame
        Indexed by the weights' ids: ``Is``, ``lag``, ``q``, ``p_sim``, ``cluster``.
    """
    y, mat, ids = _weights(values, w, transform)
    permutations = check_permutations(permutations)
    if _check_backend(backend) == "esda":
        return _local_moran_esda(y, mat, ids, permutations, seed, significance)
    n = y.size
    z, m2 = _centred(y, "local Moran's I")
    lag = mat @ z
    local = (n - 1) * z * lag / m2
    q = np.where(z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3))
    p_sim = np.full(n, np.nan)
    if permutations:
        rng = _rng(seed, "local_moran")
        wpad, card, kmax = _neighbour_table(mat)
        if kmax > 0:
            larger = np.zeros(n)
            for sl, sums in _conditional_sims(z, wpad, kmax, permutations, rng):
                sim = (n - 1) * z[sl, None] * sums / m2
                larger[sl] = count_at_least(sim, local[sl])
            p_sim = pseudo_p(larger, permutations)
            p_sim[card == 0] = np.nan
    cluster = np.where(p_sim <= significance, pd.Series(q).map(QUADRANTS).to_numpy(), "ns")
    return pd.DataFrame({"Is": local, "lag": lag, "q": q, "p_sim": p_sim, "cluster": cluster},
                        index=pd.Index([str(i) for i in ids], name="unit_id"))


def getis_ord(values, w, *, star: bool = True, transform: str = "b",
              permutations: int = DEFAULT_PERMUTATIONS, seed=None,
              significance: float = 0.05) -> pd.DataFrame:
    r"""Return the Getis-Ord local statistic :math:`G_i^*` (or :math:`G_i`) per unit.

    .. math::
        G_i = \frac{\sum_j w_{ij} y_j}{\sum_{j} y_j - (1-\delta) y_i}, \qquad
        z_i = \frac{G_i - E[G_i]}{\sqrt{V[G_i]}}

    with :math:`\delta = 1` for :math:`G_i^*` (the unit is its own neighbour: self-weight 1
    added before ``transform``), :math:`E[G_i] = W_i/N`, :math:`V[G_i] = \frac{W_i(N -
    W_i)}{N^2 (N-1)} \frac{s^2}{\bar y^2}` over the :math:`N = n - (1-\delta)` values
    entering the sum (Getis & Ord 1992; Ord & Getis 1995), as in esda's ``G_Local``.
    ``p_norm`` is one-sided, :math:`1-\Phi(|z_i|)`; ``hotspot`` is ``"hot"`` / ``"cold"``
    where the chosen p-value (``p_sim`` with permutations, else ``p_norm``) is at or below
    ``significance``.

    Parameters
    ----------
    values : Series or array
        One value per unit, all >= 0 (a share or an area).
    w : SpatialGraph, libpysal W or Graph
        Spatial weights (binary contiguity or distance band; :func:`gisfix.spatial.make_graph`).
    star : bool
        :math:`G_i^*` (default) or :math:`G_i`.
    transform : {"b", "r"}
        Binary (default, the textbook :math:`G_i^*`) or row-standardised.
    permutations : int
        Conditional permutations for ``p_sim`` (default 999; 0: ``hotspot`` from the
        normal ``p_norm``).
    seed : int or numpy.random.Generator, optional
        Seed of the permutations.
    significance : float
        Threshold for ``hotspot``.

    Returns
    -------
    DataFrame
        Indexed by the weights' ids: ``G``, ``EG``, ``VG``, ``z``, ``p_norm``, ``p_sim``,
        ``hotspot``.
    """
    import scipy.sparse as sp

    if str(transform).lower() not in ("b", "r"):
        raise DataError(f"getis_ord transform must be 'b' or 'r', got {transform!r}")
    y, raw, ids = _weights(values, w, "o")
    permutations = check_permutations(permutations)
    if (y < 0).any():
        raise DataError("Getis-Ord G needs values >= 0 (areas, shares); got negative values")
    raw = sp.csr_matrix(raw)
    raw = sp.csr_matrix(raw - sp.diags(raw.diagonal()))
    binary = _transform(raw, "b")
    mat = binary + sp.identity(y.size, format="csr") if star else binary
    mat = _transform(sp.csr_matrix(mat), transform)
    n = y.size
    remove = 0 if star else 1
    nn = n - remove
    total = y.sum()
    g = (mat @ y) / (total - y * remove)
    mean = (total - y * remove) / nn
    msq = ((y ** 2).sum() - (y ** 2) * remove) / nn
    var = msq - mean ** 2
    card = np.asarray(mat.sum(axis=1)).ravel()
    eg = card / nn
    vg = card * (nn - card) / (nn - 1) / nn ** 2 * var / mean ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        zs = (g - eg) / np.sqrt(vg)
    p_norm = normal_sf(np.abs(zs))
    p_sim = np.full(n, np.nan)
    if permutations:
        rng = _rng(seed, "getis_ord")
        self_w = mat.diagonal()
        wpad, kcard, kmax = _neighbour_table(mat)
        if kmax > 0:
            larger = np.zeros(n)
            for sl, sums in _conditional_sims(y, wpad, kmax, permutations, rng):
                sim = (sums + (self_w[sl] * y[sl])[:, None]) / (total - y[sl, None] * remove)
                larger[sl] = count_at_least(sim, g[sl])
            p_sim = pseudo_p(larger, permutations)
    p = p_sim if permutations else p_norm
    hot = np.where(p <= significance, np.where(zs > 0, "hot", "cold"), "ns")
    return pd.DataFrame({"G": g, "EG": eg, "VG": vg, "z": zs, "p_norm": p_norm,
                         "p_sim": p_sim, "hotspot": hot},
                        index=pd.Index([str(i) for i in ids], name="unit_id"))




# -- esda backend ----------------------------------------------------------------------------
def _check_backend(backend: str) -> str:
    b = str(backend).lower()
    if b not in BACKENDS:
        raise DataError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    return b


def _esda_w(mat, ids):
    """The (already transformed) weights as a libpysal W with its original weights."""
    from libpysal.weights import WSP

    w = WSP(mat, id_order=list(ids)).to_W(silence_warnings=True)
    w.transform = "O"
    return w


def _esda_seed(seed) -> int | None:
    if seed is None:
        return None
    return int(stream(seed, "esda").integers(2**31 - 1))


def _moran_esda(y, mat, ids, permutations: int, seed) -> MoranResult:
    import esda

    np.random.seed(_esda_seed(seed))
    m = esda.Moran(y, _esda_w(mat, ids), transformation="O", permutations=permutations)
    sim = np.asarray(m.sim) if permutations else None
    return MoranResult(I=float(m.I), EI=float(m.EI), VI_norm=float(m.VI_norm),
                       z_norm=float(m.z_norm), p_norm=float(m.p_norm),
                       VI_rand=float(m.VI_rand), z_rand=float(m.z_rand),
                       p_rand=float(m.p_rand), n=int(m.n), permutations=permutations,
                       p_sim=float(m.p_sim) if permutations else math.nan,
                       EI_sim=float(m.EI_sim) if permutations else math.nan,
                       z_sim=float(m.z_sim) if permutations else math.nan, sim=sim)


def _local_moran_esda(y, mat, ids, permutations: int, seed, significance: float):
    import esda

    m = esda.Moran_Local(y, _esda_w(mat, ids), transformation="O", permutations=permutations,
                         seed=_esda_seed(seed))
    n = y.size
    p_sim = np.asarray(m.p_sim, dtype=float) if permutations else np.full(n, np.nan)
    q = np.asarray(m.q, dtype=int)
    cluster = np.where(p_sim <= significance, pd.Series(q).map(QUADRANTS).to_numpy(), "ns")
    lag = mat @ (y - y.mean())
    return pd.DataFrame({"Is": np.asarray(m.Is, dtype=float), "lag": lag, "q": q,
                         "p_sim": p_sim, "cluster": cluster},
                        index=pd.Index([str(i) for i in ids], name="unit_id"))


__all__ = ["BACKENDS", "QUADRANTS", "MoranResult", "getis_ord", "local_moran", "moran"]
