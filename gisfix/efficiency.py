r"""Land-use efficiency and over-accumulation: SDG 11.3.1, built-up land per capita, elasticity.

The seed's third stage turns on *over-accumulation*: land is consumed faster than people
arrive.  SDG indicator 11.3.1 measures exactly that, as the ratio of the land consumption
rate to the population growth rate (UN-Habitat [1]_):

.. math::
    LCR = \frac{\ln(Urb_{t+n} / Urb_t)}{y}, \qquad
    PGR = \frac{\ln(Pop_{t+n} / Pop_t)}{y}, \qquad
    LCRPGR = \frac{LCR}{PGR}

with :math:`Urb` the built-up area, :math:`Pop` the population and :math:`y` the number of
years between the two epochs.  ``LCRPGR > 1``: land is consumed faster than the population
grows (built-up land per capita rises, densities fall); ``0 < LCRPGR < 1``: the area
densifies; a negative ratio means land and population move in opposite directions (for
example shrinking population with growing land, the clearest over-accumulation).

* :func:`population_by_unit`: population summed exactly over units from a population raster
  (GHS-POP) opened with ``open_builtup(..., encoding="population")``, weighting each cell by
  the fraction of its area inside the unit (exactextract's ``sum``), with the built-up
  engine's own coverage fractions (:func:`gisfix.zonal.coverage_fractions`).
* :func:`population_from_columns`: population from one attribute column per epoch.
* :func:`land_per_capita`: built-up m² per person.
* :func:`land_use_efficiency`: LCR, PGR, LCRPGR and the per-capita change, per unit and
  period; units may be administrative units or city extents (extent polygons as units).
* :func:`land_population_elasticity`: the cross-sectional elasticity of built-up land with
  respect to population (urban scaling, Bettencourt 2013 [2]_) per epoch, and of land growth
  with respect to population growth per period, by OLS on logs.

References
----------
.. [1] UN-Habitat (2021). SDG indicator metadata, indicator 11.3.1: Ratio of land
   consumption rate to population growth rate (metadata update March 2021), section 4.c
   *Method of computation*. https://unstats.un.org/sdgs/metadata/files/Metadata-11-03-01.pdf
.. [2] Bettencourt, L. M. A. (2013). The origins of scaling in cities. *Science* 340(6139),
   1438-1441.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from gisfix.errors import DataError, IdError, RasterError

#: Cells per strip of :func:`population_by_unit` times units touching it (bounded memory).
COVERAGE_BUDGET_CELLS = 8_000_000
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


class UndefinedRateWarning(UserWarning):
    """A rate or ratio that is undefined for some units (zero or missing land or people)."""


# -- population by unit --------------------------------------------------------------------
def population_by_unit(units, stack, *, max_cells: int = COVERAGE_BUDGET_CELLS,
                       scheduler=None) -> pd.DataFrame:
    r"""Return the population of every unit and epoch, summed exactly from a population grid.

    .. math:: P_{ut} = \sum_i w_{ui}\, p_{it}

    with :math:`w_{ui}` the fraction of cell :math:`i`'s area inside unit :math:`u` (the
    coverage fraction of exactextract, Baston 2023, computed by
    :func:`gisfix.zonal.coverage_fractions`, the built-up engine) and :math:`p_{it}` the
    cell's count at epoch :math:`t`; not-observed (nodata) cells add nothing.  This is
    exactextract's ``sum`` operation.  Overlapping units each count their share.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units indexed by id (as :func:`gisfix.read_boundaries` returns them), with a CRS;
        reprojected to the grid (the grid is never resampled).  City extents work the same.
    stack : gisfix.stack.BuiltupStack
        A population stack: ``open_builtup(paths, "population", epochs=[...])``.
    max_cells : int
        Bound on (cells per strip x units touching the strip); results do not depend on it.
    scheduler : None, str or distributed.Client
        Where the strips are summed (:func:`gisfix.parallel.resolve_scheduler`): None in
        this process, ``"threads"``, ``"processes"``, a dask.distributed address or Client.
        Each strip gives partial sums per unit, merged in strip order: the same answer.

    Returns
    -------
    pandas.DataFrame
        ``unit_id`` (str), ``epoch``, ``population``, ``valid_km2`` (observed area of the
        unit); one row per unit (input order) and epoch.

    Raises
    ------
    RasterError
        A stack whose encoding is not ``population``.
    CRSError
        Units without a CRS.
    """
    if getattr(stack, "encoding", None) != "population":
        raise RasterError(f"population_by_unit needs a population stack (open_builtup(paths, "
                          f"'population')); got encoding {getattr(stack, 'encoding', stack)!r}")
    ids, pop, valid = _sum_by_unit(units, stack, None, len(stack.epochs), max_cells,
                                   scheduler=scheduler)
    n, k = len(ids), len(stack.epochs)
    return pd.DataFrame({
        "unit_id": np.repeat(ids, k),
        "epoch": np.tile(np.asarray(stack.epochs, dtype=int), n),
        "population": pop.ravel(), "valid_km2": valid.ravel() / 1e6})


def _sum_by_unit(units, stack, read, layers: int, max_cells: int = COVERAGE_BUDGET_CELLS,
                 scheduler=None):
    """Sum coverage-weighted layers over units, strip by strip (bounded memory).

    ``read(window)`` returns ``(layers, rows, cols)`` values, NaN where not observed (None:
    the stack's population).  Each strip is a task (:func:`gisfix.parallel.imap_blocks`)
    returning the partial sums of the units touching it; they are added in strip order.
    Returns (unit ids as str, sums ``(units, layers)``, observed m² ``(units, layers)``).
    """
    import shapely
    from rasterio.windows import Window

    from gisfix.parallel import imap_blocks, scheduler_session

    if units.crs is None:
        from gisfix.crs import resolve_crs

        resolve_crs(None, what="the units")  # raises, naming the fix
    geoms = units.geometry if units.crs.equals(stack.crs) else units.geometry.to_crs(stack.crs)
    gdf = units.set_geometry(geoms)
    n = len(gdf)
    total = np.zeros((n, layers))
    valid = np.zeros((n, layers))
    bounds = shapely.bounds(np.asarray(geoms.values, dtype=object))
    t = stack.transform
    rows_a = (bounds[:, 3] - t.f) / t.e
    rows_b = (bounds[:, 1] - t.f) / t.e
    lo = np.floor(np.nan_to_num(np.fmin(rows_a, rows_b), nan=np.inf))
    hi = np.ceil(np.nan_to_num(np.fmax(rows_a, rows_b), nan=-np.inf))
    jobs = []
    r0 = 0
    while r0 < stack.height:
        h = max(1, int(max_cells // max(1, stack.width)))
        while True:
            h = min(h, stack.height - r0)
            near = np.flatnonzero((hi >= r0) & (lo <= r0 + h))
            if h == 1 or len(near) * h * stack.width <= max_cells:
                break
            h //= 2
        if len(near):
            w = Window(0, r0, stack.width, h)
            jobs.append((near, gdf.iloc[near], stack, w, None if read is None else read(w)))
        r0 += h
    with scheduler_session(scheduler) as sched:
        for near, tot, val in imap_blocks(_strip_unit_sums, jobs, sched):
            total[near] += tot
            valid[near] += val
    return gdf.index.astype(str).to_numpy(), total, valid


def _strip_unit_sums(job):
    """Coverage-weighted sums of one strip over the units touching it (a task)."""
    from gisfix.parallel import worker_local
    from gisfix.stack import bounded_reads
    from gisfix.zonal import coverage_fractions

    near, units, stack, w, values = job
    stack = worker_local(stack)
    with bounded_reads():
        cov = coverage_fractions(units, stack, w)                       # (units, h, width)
        if values is None:
            values = stack.read_population(w)                           # (layers, h, width)
    observed = ~np.isnan(values)
    areas = stack.row_cell_areas(w)[None, :, None]
    return (near, np.einsum("uhw,ehw->ue", cov, np.where(observed, values, 0.0)),
            np.einsum("uhw,ehw->ue", cov, observed * areas))


def population_from_columns(units, columns: dict | None = None, *,
                            prefix: str = "pop") -> pd.DataFrame:
    """Return population per unit and epoch from one attribute column per epoch.

    Parameters
    ----------
    units : pandas.DataFrame or geopandas.GeoDataFrame
        Indexed by unit id.
    columns : dict, optional
        ``{epoch: column}``.  Default: every column named ``prefix`` followed by a 4-digit
        year (``pop2011``, ``pop_2015``, ``POP2020``; case-insensitive).
    prefix : str
        Name stem of the population columns when ``columns`` is None.

    Returns
    -------
    pandas.DataFrame
        ``unit_id`` (str), ``epoch``, ``population``.

    Raises
    ------
    DataError
        No matching column, non-numeric or negative populations.
    """
    if columns is None:
        columns = {}
        for c in units.columns:
            name = str(c)
            if name.lower().startswith(prefix.lower()):
                m = _YEAR.search(name[len(prefix):])
                if m and name[len(prefix):].strip("_ -") == m.group(1):
                    columns[int(m.group(1))] = c
        if not columns:
            raise DataError(f"no population column named {prefix}<year> (e.g. {prefix}2015) "
                            f"among {list(units.columns)[:12]}; pass columns={{epoch: name}}")
    missing = [c for c in columns.values() if c not in units.columns]
    if missing:
        raise DataError(f"population column(s) {missing} not in the table; it has "
                        f"{list(units.columns)[:12]}")
    parts = []
    for epoch, col in sorted(columns.items()):
        try:
            values = pd.to_numeric(units[col], errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError) as err:
            raise DataError(f"population column {col!r} is not numeric") from err
        if (values < 0).any():
            raise DataError(f"population column {col!r} has negative values (units "
                            f"{list(units.index[values < 0].astype(str))[:5]})")
        parts.append(pd.DataFrame({"unit_id": units.index.astype(str), "epoch": int(epoch),
                                   "population": values}))
    return pd.concat(parts, ignore_index=True)


# -- measures ------------------------------------------------------------------------------
def _long(table, value: str, what: str) -> pd.DataFrame:
    """Return ``table`` as unit_id (str), epoch (int), value; refusing duplicates."""
    need = ["unit_id", "epoch", value]
    if not isinstance(table, pd.DataFrame) or any(c not in table.columns for c in need):
        cols = list(table.columns) if isinstance(table, pd.DataFrame) else type(table).__name__
        raise DataError(f"the {what} table needs columns {need}; got {cols} (builtup_by_unit "
                        "and population_by_unit / population_from_columns make them)")
    out = table[need].copy()
    out["unit_id"] = out["unit_id"].astype(str)
    out["epoch"] = out["epoch"].astype(int)
    if out.duplicated(["unit_id", "epoch"]).any():
        raise DataError(f"the {what} table repeats (unit_id, epoch) pairs")
    return out


def _joined(builtup, population) -> pd.DataFrame:
    b = _long(builtup, "builtup_km2", "built-up")
    p = _long(population, "population", "population")
    both = b.merge(p, on=["unit_id", "epoch"], how="inner")
    if both.empty:
        raise IdError("the built-up and population tables share no (unit_id, epoch) pair; "
                      f"built-up epochs {sorted(b.epoch.unique())}, population epochs "
                      f"{sorted(p.epoch.unique())}; use the same unit ids and epochs")
    only_b = set(b.unit_id) - set(p.unit_id)
    if only_b:
        warnings.warn(f"{len(only_b)} units have built-up area but no population and are left "
                      f"out ({sorted(only_b)[:5]})", UndefinedRateWarning, stacklevel=3)
    return both


def land_per_capita(builtup, population) -> pd.DataFrame:
    r"""Return built-up land per inhabitant of every unit and epoch.

    .. math:: L_{ut} = 10^6\, Urb_{ut} / Pop_{ut}\quad [\mathrm{m^2\ per\ person}]

    (the "built-up area per capita" of the UN-Habitat SDG 11.3.1 metadata [1]_).  Units with
    no population get NaN and an :class:`UndefinedRateWarning`.

    Parameters
    ----------
    builtup : pandas.DataFrame
        ``unit_id``, ``epoch``, ``builtup_km2`` (:func:`gisfix.builtup_by_unit`).
    population : pandas.DataFrame
        ``unit_id``, ``epoch``, ``population``.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``epoch``, ``builtup_km2``, ``population``, ``builtup_m2_per_capita``.
    """
    t = _joined(builtup, population)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(t["population"] > 0, t["builtup_km2"] * 1e6 / t["population"], np.nan)
    if np.isnan(per).any():
        bad = t.loc[np.isnan(per), "unit_id"].unique()
        warnings.warn(f"{len(bad)} units have no population in some epoch: built-up m2 per "
                      f"capita is NaN there ({list(bad)[:5]})", UndefinedRateWarning,
                      stacklevel=2)
    t["builtup_m2_per_capita"] = per
    return t.reset_index(drop=True)


def _periods(epochs, t0, t1) -> list[tuple[int, int]]:
    epochs = sorted(int(e) for e in epochs)
    if t0 is not None or t1 is not None:
        a = epochs[0] if t0 is None else int(t0)
        b = epochs[-1] if t1 is None else int(t1)
        for e in (a, b):
            if e not in epochs:
                raise DataError(f"epoch {e} has no built-up and population data; epochs with "
                                f"both are {epochs}")
        if b <= a:
            raise DataError(f"t1 must come after t0; got t0={a}, t1={b}")
        return [(a, b)]
    if len(epochs) < 2:
        raise DataError(f"LCRPGR needs two epochs with built-up and population; got {epochs}")
    return list(zip(epochs[:-1], epochs[1:]))


def land_use_efficiency(builtup, population, *, t0: int | None = None,
                        t1: int | None = None) -> pd.DataFrame:
    r"""Return SDG 11.3.1 (LCRPGR) and the change in land per capita, per unit and period.

    For each unit and period :math:`(t_0, t_1)`, :math:`y = t_1 - t_0` years (UN-Habitat
    2021, metadata of indicator 11.3.1, section 4.c [1]_):

    .. math::
        LCR = \frac{\ln(Urb_{t_1}/Urb_{t_0})}{y},\quad
        PGR = \frac{\ln(Pop_{t_1}/Pop_{t_0})}{y},\quad
        LCRPGR = \frac{LCR}{PGR}

    The ratio of log rates is also the arc elasticity of land with respect to population of
    the unit, :math:`\Delta \ln Urb / \Delta \ln Pop`.  Undefined values (no land or no
    people at an end, no population change) are NaN with an :class:`UndefinedRateWarning`.

    Parameters
    ----------
    builtup : pandas.DataFrame
        ``unit_id``, ``epoch``, ``builtup_km2`` (:func:`gisfix.builtup_by_unit`, on
        administrative units or on city extents used as units).
    population : pandas.DataFrame
        ``unit_id``, ``epoch``, ``population`` (:func:`population_by_unit` or
        :func:`population_from_columns`).
    t0, t1 : int, optional
        One period; default every pair of consecutive epochs present in both tables.

    Returns
    -------
    pandas.DataFrame
        One row per unit and period: ``unit_id``, ``t0``, ``t1``, ``years``,
        ``builtup_t0_km2``, ``builtup_t1_km2``, ``population_t0``, ``population_t1``,
        ``lcr_per_year``, ``pgr_per_year``, ``lcrpgr``, ``builtup_t0_m2_per_capita``,
        ``builtup_t1_m2_per_capita``, ``change_m2_per_capita``.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"unit_id": ["a", "a"], "epoch": [2000, 2010],
    ...                   "builtup_km2": [10.0, 20.0]})
    >>> p = pd.DataFrame({"unit_id": ["a", "a"], "epoch": [2000, 2010],
    ...                   "population": [1e5, 1.2e5]})
    >>> round(float(land_use_efficiency(b, p)["lcrpgr"].iloc[0]), 4)
    3.8018
    """
    t = _joined(builtup, population)
    rows = []
    for a, b in _periods(set(t.epoch), t0, t1):
        s = t[t.epoch == a].set_index("unit_id")
        e = t[t.epoch == b].set_index("unit_id")
        ids = s.index.intersection(e.index)
        s, e = s.loc[ids], e.loc[ids]
        y = float(b - a)
        with np.errstate(divide="ignore", invalid="ignore"):
            ub0, ub1 = s["builtup_km2"].to_numpy(float), e["builtup_km2"].to_numpy(float)
            p0, p1 = s["population"].to_numpy(float), e["population"].to_numpy(float)
            ok_l = (ub0 > 0) & (ub1 > 0)
            ok_p = (p0 > 0) & (p1 > 0)
            lcr = np.where(ok_l, np.log(np.where(ok_l, ub1 / ub0, 1.0)) / y, np.nan)
            pgr = np.where(ok_p, np.log(np.where(ok_p, p1 / p0, 1.0)) / y, np.nan)
            ratio = np.where(pgr != 0, lcr / np.where(pgr != 0, pgr, 1.0), np.nan)
            pc0 = np.where(p0 > 0, ub0 * 1e6 / np.where(p0 > 0, p0, 1.0), np.nan)
            pc1 = np.where(p1 > 0, ub1 * 1e6 / np.where(p1 > 0, p1, 1.0), np.nan)
        rows.append(pd.DataFrame({
            "unit_id": ids, "t0": a, "t1": b, "years": y, "builtup_t0_km2": ub0,
            "builtup_t1_km2": ub1, "population_t0": p0, "population_t1": p1,
            "lcr_per_year": lcr, "pgr_per_year": pgr, "lcrpgr": ratio,
            "builtup_t0_m2_per_capita": pc0, "builtup_t1_m2_per_capita": pc1,
            "change_m2_per_capita": pc1 - pc0}))
    out = pd.concat(rows, ignore_index=True)
    bad = out.loc[out["lcrpgr"].isna(), "unit_id"].unique()
    if len(bad):
        warnings.warn(f"LCRPGR is undefined (NaN) for {len(bad)} units (no built-up land or no "
                      f"people at an end of a period, or no population change): "
                      f"{list(bad)[:5]}", UndefinedRateWarning, stacklevel=2)
    return out


def _ols(x: np.ndarray, y: np.ndarray) -> dict:
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        return {"elasticity": np.nan, "intercept": np.nan, "std_error": np.nan,
                "r2": np.nan, "n": n}
    xm, ym = x.mean(), y.mean()
    sxx = ((x - xm) ** 2).sum()
    beta = ((x - xm) * (y - ym)).sum() / sxx
    alpha = ym - beta * xm
    resid = y - alpha - beta * x
    sst = ((y - ym) ** 2).sum()
    se = np.sqrt((resid ** 2).sum() / (n - 2) / sxx)
    return {"elasticity": float(beta), "intercept": float(alpha), "std_error": float(se),
            "r2": float(1 - (resid ** 2).sum() / sst) if sst > 0 else np.nan, "n": n}


def land_population_elasticity(builtup, population, *, growth: bool = False) -> pd.DataFrame:
    r"""Return the elasticity of built-up land with respect to population across units.

    Levels (``growth=False``), one regression per epoch (urban scaling; Bettencourt 2013):

    .. math:: \ln Urb_u = \alpha + \beta \ln Pop_u + \varepsilon_u

    Growth (``growth=True``), one regression per consecutive period:

    .. math:: \Delta\ln Urb_u = \alpha + \beta\, \Delta\ln Pop_u + \varepsilon_u

    :math:`\beta < 1`: land grows less than proportionally with people (economies of land,
    densification); :math:`\beta > 1`: more (sprawl).  OLS with the classical standard
    error; units with no land or no people are left out.  The per-unit ratio
    :math:`\Delta \ln Urb_u / \Delta \ln Pop_u` is the ``lcrpgr`` of
    :func:`land_use_efficiency`.

    Parameters
    ----------
    builtup, population : pandas.DataFrame
        As :func:`land_use_efficiency`.
    growth : bool
        Regress log changes per period instead of log levels per epoch.

    Returns
    -------
    pandas.DataFrame
        ``epoch`` (or ``t0``, ``t1``), ``elasticity``, ``intercept``, ``std_error``, ``r2``,
        ``n`` (units used).
    """
    t = _joined(builtup, population)
    t = t[(t["builtup_km2"] > 0) & (t["population"] > 0)]
    rows = []
    if not growth:
        for e, g in t.groupby("epoch"):
            rows.append({"epoch": int(e), **_ols(np.log(g["population"].to_numpy(float)),
                                                 np.log(g["builtup_km2"].to_numpy(float)))})
        return pd.DataFrame(rows)
    for a, b in _periods(set(t.epoch), None, None):
        s = t[t.epoch == a].set_index("unit_id")
        e = t[t.epoch == b].set_index("unit_id")
        ids = s.index.intersection(e.index)
        dx = np.log(e.loc[ids, "population"].to_numpy(float) / s.loc[ids, "population"])
        dy = np.log(e.loc[ids, "builtup_km2"].to_numpy(float) / s.loc[ids, "builtup_km2"])
        rows.append({"t0": a, "t1": b, **_ols(np.asarray(dx), np.asarray(dy))})
    return pd.DataFrame(rows)


__all__ = ["UndefinedRateWarning", "land_per_capita", "land_population_elasticity",
           "land_use_efficiency", "population_by_unit", "population_from_columns"]
