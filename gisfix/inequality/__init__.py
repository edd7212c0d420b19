"""Interregional inequality: Gini, Theil, generalised entropy, Atkinson, CV, decompositions.

Every measure is a plain function of a vector of unit values (a :class:`pandas.Series`
indexed by unit id, or any array) and optional weights (usually population).  With weights,
each unit stands for ``w_i`` people who all have the unit's value (per-capita income, urban
share...), which is the population-weighted form the regional literature uses.

Positivity rules (checked, with the offending ids named in the error):

* Theil L (GE(0)), GE(alpha <= 0), Atkinson(epsilon >= 1), max/min: values > 0.
* Gini, Theil T (GE(1)), GE(alpha > 0), Atkinson(epsilon < 1), CV, top/bottom: values
  >= 0 with a positive mean (``0 ln 0 = 0`` in Theil T, as in PySAL's ``Theil``).

Layout: :mod:`~gisfix.inequality.measures` (single-number measures),
:mod:`~gisfix.inequality.decomposition` (between/within decompositions and :func:`summarize`),
:mod:`~gisfix.inequality.panels` (measures over time, sigma and beta convergence).
Everything public is importable from here; the spatial Gini is in :mod:`gisfix.spatial`.

References
----------
.. [1] Cowell, F. A. (2011). *Measuring Inequality*, 3rd ed. Oxford University Press.
.. [2] Shorrocks, A. F. (1980). The class of additively decomposable inequality measures.
   *Econometrica* 48(3), 613-625.
.. [3] Theil, H. (1967). *Economics and Information Theory*. North-Holland.
.. [4] Atkinson, A. B. (1970). On the measurement of inequality. *Journal of Economic
   Theory* 2(3), 244-263.
.. [5] Williamson, J. G. (1965). Regional inequality and the process of national
   development. *Economic Development and Cultural Change* 13(4), 1-84.
.. [6] Rey, S. J. and Sastre-Gutierrez, M. L. (2010). Interregional inequality dynamics in
   Mexico. *Spatial Economic Analysis* 5(3), 277-298.
.. [7] Barro, R. J. and Sala-i-Martin, X. (1992). Convergence. *Journal of Political
   Economy* 100(2), 223-251.
"""

from __future__ import annotations

from gisfix.inequality.decomposition import (
    MEASURES,
    TheilDecomposition,
    summarize,
    theil_decomposition,
)
from gisfix.inequality.measures import (
    atkinson,
    cv,
    generalized_entropy,
    gini,
    lorenz,
    max_min_ratio,
    theil_l,
    theil_t,
    top_bottom_ratio,
    williamson,
)
from gisfix.inequality.panels import (
    BetaConvergence,
    SigmaConvergence,
    beta_convergence,
    over_time,
    sigma_convergence,
)

__all__ = [
    "MEASURES",
    "BetaConvergence",
    "SigmaConvergence",
    "TheilDecomposition",
    "atkinson",
    "beta_convergence",
    "cv",
    "generalized_entropy",
    "gini",
    "lorenz",
    "max_min_ratio",
    "over_time",
    "sigma_convergence",
    "summarize",
    "theil_decomposition",
    "theil_l",
    "theil_t",
    "top_bottom_ratio",
    "williamson",
]
