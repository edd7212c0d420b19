r"""Degree of Urbanisation (DEGURBA), stage I grid and stage II units, from a population grid.

Stage I classifies 1 km² population grid cells; stage II classifies spatial units
(municipalities, counties) by where their people live on that grid (European Commission et
al. 2021 [1]_, chapters 2-3; GHSL Data Package 2023 [2]_).  Two versioned rule presets,
:data:`PRESETS`: ``"manual-2021"`` and ``"ghsl-2023"``.

Implemented rules (threshold: ``manual-2021`` / ``ghsl-2023``; parameter name)
------------------------------------------------------------------------------
Grid cells, level 1 (:func:`classify_grid`):

1. *Urban centre density*: population density
   :math:`P_c / (A_c \cdot \lambda_c) \ge 1500` inhabitants per km² (both;
   ``centre_density``), :math:`A_c` the cell area (geodesic on geographic grids) and
   :math:`\lambda_c` the land fraction of the cell: 1 in ``manual-2021`` (density per km²
   of cell); in ``ghsl-2023`` the share of permanent land when ``land_fraction`` is given
   (``density_on = "land"``).
2. *Urban centre built-up criterion*: a cell with a built-up share
   :math:`\ge 0.5` also qualifies (both; ``centre_builtup_share``; applied only when a
   ``builtup_share`` grid is given).
3. *Urban centre contiguity*: 4-connectivity, edges only, no diagonals (both).
4. *Urban centre gap filling*: holes (areas enclosed by one centre, 8-connected) smaller
   than 15 km² join it (both; ``centre_fill_holes_km2``; strictly smaller: a 15 km² hole
   stays out).
5. *Urban centre size*: at least 50,000 inhabitants after gap filling (both;
   ``centre_population``; 50,000 qualifies).
6. *Urban centre edge smoothing*: a cell with at least 5 of its 8 neighbours in one urban
   centre joins it, repeated until nothing changes (both; ``centre_smooth_neighbours``).
7. *Urban cluster density*: at least 300 inhabitants per km² (both; ``cluster_density``;
   density as in rule 1); urban-centre cells belong to clusters too.
8. *Urban cluster contiguity*: 8-connectivity, diagonals included (both).
9. *Urban cluster size*: at least 5,000 inhabitants (both; ``cluster_population``).
10. *Rural grid cells*: every other cell with data.

Spatial units, level 1 (:func:`classify_units`), from the share of each unit's population
(exact coverage-weighted sums, :func:`gisfix.efficiency.population_by_unit`'s engine):

11. *City* (code 1): at least 50 % of the population in urban centres
    (``city_share``; exactly 50 % is a city).
12. *Rural area* (code 3): otherwise, at least 50 % of the population in rural grid cells
    (``rural_share``; exactly 50 % is rural).
13. *Town and semi-dense area* (code 2): every other unit (less than 50 % in urban centres
    and less than 50 % in rural cells).
14. A unit with no population is a rural area, with a :class:`DegurbaWarning`.

Not implemented (thresholds as the sources give them)
-----------------------------------------------------
* Level 2 grid classes (GHS-SMOD L2): dense urban clusters (>= 1,500 inh/km², 4-connected,
  5,000-49,999 inhabitants), semi-dense urban clusters (>= 300 inh/km², >= 5,000
  inhabitants, at least 2 km from dense clusters and centres), suburban or peri-urban
  cells, rural clusters (>= 300 inh/km², 500-4,999 inhabitants), low density rural cells
  (>= 50 inh/km²), very low density rural cells (< 50 inh/km²), water cells.
* Level 2 units: dense and semi-dense towns, suburban or peri-urban areas, villages,
  dispersed rural areas, mostly uninhabited areas.
* Grouping several units into one city so that the city and its urban centre largely
  coincide (the OECD-EC city definition, Dijkstra and Poelman 2012 [3]_, with 50 % and
  75 % overlap thresholds), commuting zones and functional urban areas (15 % commuting
  threshold), and the disaggregation of census counts onto the grid (how GHS-POP is made).

The grid should have cells of about 1 km² (GHS-POP at 1 km; :func:`degurba_units` warns
otherwise); density rules are per km² so other sizes run, but clusters on 100 m cells are
not what the manual defines.  Cell-level urban extents on built-up grids exist in
:func:`gisfix.extents.urban_extents` (stage I only, no unit classification).

References
----------
.. [1] European Commission, FAO, UN-Habitat, OECD and The World Bank (2021). *Applying the
   Degree of Urbanisation: a methodological manual to define cities, towns and rural areas
   for international comparisons*, 2021 edition. Publications Office of the EU.
   doi:10.2785/706535.
.. [2] Schiavina, M., Melchiorri, M., Pesaresi, M. et al. (2023). *GHSL Data Package 2023*.
   Publications Office of the EU, JRC133256. doi:10.2760/098587.
.. [3] Dijkstra, L. and Poelman, H. (2012). Cities in Europe: the new OECD-EC definition.
   *Regional Focus* 01/2012, European Commission, DG REGIO.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from gisfix.errors import DataError, RasterError

#: Versioned rule presets (see the module docstring for each rule).
PRESETS = {
    "manual-2021": {
        "centre_density": 1500.0, "centre_builtup_share": 0.5, "centre_population": 50_000.0,
        "centre_fill_holes_km2": 15.0, "centre_smooth_neighbours": 5,
        "cluster_density": 300.0, "cluster_population": 5_000.0,
        "city_share": 0.5, "rural_share": 0.5, "density_on": "cell"},
    "ghsl-2023": {
        "centre_density": 1500.0, "centre_builtup_share": 0.5, "centre_population": 50_000.0,
        "centre_fill_holes_km2": 15.0, "centre_smooth_neighbours": 5,
        "cluster_density": 300.0, "cluster_population": 5_000.0,
        "city_share": 0.5, "rural_share": 0.5, "density_on": "land"},
}
DEFAULT_PRESET = "manual-2021"
#: Grid codes of :func:`classify_grid` (GHS-SMOD level 1 numbering).
GRID_CODES = {3: "urban centre", 2: "urban cluster", 1: "rural grid cell", 0: "no data"}
#: Unit codes of :func:`classify_units` (Eurostat DEGURBA numbering).
UNIT_CODES = {1: "city", 2: "town and semi-dense area", 3: "rural area"}


class DegurbaWarning(UserWarning):
    """A DEGURBA input outside the method's assumptions (cell size, uninhabited units)."""


def resolve_preset(preset: str | dict = DEFAULT_PRESET, **overrides) -> dict:
    """Return the rule set of ``preset`` with ``overrides`` applied.

    Parameters
    ----------
    preset : str or dict
        ``"manual-2021"``, ``"ghsl-2023"``, or a full dict of rules.
    **overrides
        Any rule of :data:`PRESETS` by name.

    Raises
    ------
    DataError
        An unknown preset or rule name.
    """
    if isinstance(preset, dict):
        rules = dict(preset)
    elif preset in PRESETS:
        rules = dict(PRESETS[preset])
    else:
        raise DataError(f"unknown DEGURBA preset {preset!r}; choose one of "
                        f"{', '.join(PRESETS)}")
    unknown = set(overrides) - set(PRESETS[DEFAULT_PRESET])
    if unknown:
        raise DataError(f"unknown DEGURBA rule(s) {sorted(unknown)}; rules are "
                        f"{', '.join(PRESETS[DEFAULT_PRESET])}")
    rules.update(overrides)
    return rules


def _structure(connectivity: int) -> np.ndarray:
    from scipy import ndimage

    return ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)


def _fill_gaps(labels: np.ndarray, n: int, max_cells: np.ndarray | float,
               cell_km2: np.ndarray) -> np.ndarray:
    """Add to each centre the holes it encloses whose area is < the limit (km²)."""
    from scipy import ndimage

    out = labels.copy()
    for lab in range(1, n + 1):
        mask = labels == lab
        filled = ndimage.binary_fill_holes(mask, structure=_structure(8))
        holes = filled & ~mask
        if not holes.any():
            continue
        hl, hn = ndimage.label(holes, structure=_structure(8))
        area = ndimage.sum(cell_km2, hl, index=np.arange(1, hn + 1))
        small = np.r_[False, area < max_cells]
        out[small[hl] & (out == 0)] = lab
    return out


def _smooth(labels: np.ndarray, need: int, allowed: np.ndarray,
            max_iter: int = 1000) -> np.ndarray:
    """Majority rule: a cell with >= ``need`` of 8 neighbours in one centre joins it."""
    from scipy import ndimage

    kernel = np.ones((3, 3), dtype=np.int32)
    kernel[1, 1] = 0
    out = labels.copy()
    ids = [i for i in np.unique(out) if i > 0]
    for _ in range(max_iter):
        changed = False
        for lab in ids:
            count = ndimage.convolve((out == lab).astype(np.int32), kernel, mode="constant")
            add = (out == 0) & allowed & (count >= need)
            if add.any():
                out[add] = lab
                changed = True
        if not changed:
            break
    return out


def classify_grid(population, cell_area_km2=1.0, *, builtup_share=None, land_fraction=None,
                  preset: str | dict = DEFAULT_PRESET, **overrides) -> np.ndarray:
    r"""Return the DEGURBA level-1 class of every grid cell (stage I).

    Rules 1-10 of the module docstring: urban centres (code 3), urban clusters that are not
    urban centres (code 2), rural grid cells (1), no data (0, NaN population).

    Parameters
    ----------
    population : 2-D array
        Inhabitants per cell (NaN = no data).
    cell_area_km2 : float or array
        Cell area in km²: a scalar, one value per row (geographic grids), or a full grid.
    builtup_share : 2-D array, optional
        Built-up share of each cell (0-1) for the built-up criterion of urban centres.
    land_fraction : 2-D array, optional
        Share of permanent land of each cell (0-1); used when the preset's ``density_on`` is
        ``"land"`` (``ghsl-2023``).
    preset : str or dict
        ``"manual-2021"`` (default) or ``"ghsl-2023"``.
    **overrides
        Rule values to change (e.g. ``centre_population=25_000``).

    Returns
    -------
    numpy.ndarray of int8
        Codes of :data:`GRID_CODES`.

    Examples
    --------
    >>> import numpy as np
    >>> pop = np.full((3, 3), 6000.0)   # 9 cells of 6,000: a 54,000-person centre
    >>> int(classify_grid(pop)[1, 1])
    3
    """
    from scipy import ndimage

    rules = resolve_preset(preset, **overrides)
    pop = np.asarray(population, dtype=float)
    if pop.ndim != 2:
        raise DataError(f"the population grid must be 2-D; got shape {pop.shape}")
    if np.nanmin(pop, initial=0.0) < 0:
        raise DataError("the population grid has negative counts; mark missing cells as NaN")
    nodata = np.isnan(pop)
    p = np.where(nodata, 0.0, pop)
    area = np.broadcast_to(np.asarray(cell_area_km2, dtype=float).reshape(
        (-1, 1) if np.ndim(cell_area_km2) == 1 else np.shape(cell_area_km2)), pop.shape)
    if np.any(area <= 0):
        raise DataError("cell areas must be positive (km²)")
    denom = area
    if rules["density_on"] == "land" and land_fraction is not None:
        lf = np.asarray(land_fraction, dtype=float)
        if lf.shape != pop.shape:
            raise DataError(f"land_fraction has shape {lf.shape}, the grid {pop.shape}")
        denom = area * np.clip(np.nan_to_num(lf, nan=0.0), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(denom > 0, p / np.where(denom > 0, denom, 1.0), 0.0)
    dense = density >= rules["centre_density"]
    if builtup_share is not None:
        bs = np.asarray(builtup_share, dtype=float)
        if bs.shape != pop.shape:
            raise DataError(f"builtup_share has shape {bs.shape}, the grid {pop.shape}")
        dense |= np.nan_to_num(bs, nan=0.0) >= rules["centre_builtup_share"]
    dense &= ~nodata
    # urban centres: 4-connected dense cells, gaps filled, size threshold, edges smoothed
    lab, n = ndimage.label(dense, structure=_structure(4))
    lab = _fill_gaps(lab, n, rules["centre_fill_holes_km2"], area)
    size = ndimage.sum(p, lab, index=np.arange(n + 1))
    keep = size >= rules["centre_population"]
    keep[0] = False
    centre_lab = np.where(keep[lab], lab, 0)
    centre_lab = _smooth(centre_lab, int(rules["centre_smooth_neighbours"]), ~nodata)
    centre = centre_lab > 0
    # urban clusters: 8-connected cells >= cluster density (centres included)
    moderate = ((density >= rules["cluster_density"]) | centre) & ~nodata
    clab, cn = ndimage.label(moderate, structure=_structure(8))
    csize = ndimage.sum(p, clab, index=np.arange(cn + 1))
    ckeep = csize >= rules["cluster_population"]
    ckeep[0] = False
    cluster = ckeep[clab]
    out = np.ones(pop.shape, dtype=np.int8)
    out[cluster] = 2
    out[centre] = 3
    out[nodata] = 0
    return out


def classify_units(class_population: pd.DataFrame, *, preset: str | dict = DEFAULT_PRESET,
                   **overrides) -> pd.DataFrame:
    r"""Return the DEGURBA level-1 class of every unit from its population by grid class.

    Rules 11-14 of the module docstring, with :math:`s_c = P_{u,c} / P_u` the share of the
    unit's people living in grid class :math:`c`:

    .. math::
        \text{city if } s_{centre} \ge 0.5;\ \text{else rural if } s_{rural} \ge 0.5;\
        \text{else town and semi-dense area}

    Parameters
    ----------
    class_population : pandas.DataFrame
        Indexed by unit id, columns ``population_urban_centre``,
        ``population_urban_cluster`` (cluster cells outside centres) and
        ``population_rural``.
    preset : str or dict
        Rule preset (only ``city_share`` and ``rural_share`` are used here).
    **overrides
        Rule values to change.

    Returns
    -------
    pandas.DataFrame
        The input columns, ``population``, ``share_urban_centre``, ``share_urban_cluster``,
        ``share_rural``, ``degurba`` (1, 2, 3) and ``degurba_label``.
    """
    rules = resolve_preset(preset, **overrides)
    cols = ["population_urban_centre", "population_urban_cluster", "population_rural"]
    missing = [c for c in cols if c not in class_population.columns]
    if missing:
        raise DataError(f"class_population needs columns {cols}; missing {missing}")
    t = class_population[cols].astype(float).copy()
    if (t < 0).any().any():
        raise DataError("class populations must be >= 0")
    t["population"] = t[cols].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        for c, name in zip(cols, ("share_urban_centre", "share_urban_cluster", "share_rural")):
            t[name] = np.where(t["population"] > 0, t[c] / t["population"], np.nan)
    empty = t["population"] <= 0
    if empty.any():
        warnings.warn(f"{int(empty.sum())} units have no population on the grid and are "
                      f"classed as rural areas ({list(t.index[empty].astype(str))[:5]})",
                      DegurbaWarning, stacklevel=2)
    code = np.where(t["share_urban_centre"] >= rules["city_share"], 1,
                    np.where(t["share_rural"] >= rules["rural_share"], 3, 2))
    code = np.where(empty, 3, code)
    t["degurba"] = code.astype(int)
    t["degurba_label"] = pd.Series(code, index=t.index).map(UNIT_CODES)
    return t


def degurba_units(units, stack, epoch: int | None = None, *, builtup_share=None,
                  land_fraction=None, preset: str | dict = DEFAULT_PRESET, scheduler=None,
                  **overrides) -> tuple[pd.DataFrame, np.ndarray]:
    """Classify units as cities, towns and semi-dense areas, or rural areas (stage II).

    Reads the population grid of ``epoch``, classifies its cells (:func:`classify_grid`),
    sums each unit's population per grid class exactly (coverage-weighted, the engine of
    :func:`gisfix.efficiency.population_by_unit`) and applies :func:`classify_units`.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units indexed by id, with a CRS.
    stack : gisfix.stack.BuiltupStack
        A population stack (``open_builtup(paths, "population")``), ideally 1 km cells.
    epoch : int, optional
        The epoch (default: the last).
    builtup_share, land_fraction : 2-D array, optional
        On the population grid; see :func:`classify_grid`.
    preset : str or dict
        ``"manual-2021"`` or ``"ghsl-2023"``.
    scheduler : None, str or distributed.Client
        Where the per-unit sums are computed, strip by strip
        (:func:`gisfix.parallel.resolve_scheduler`); partial sums per strip are merged in
        strip order, so the answer is the same.
    **overrides
        Rule values to change.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        The table of :func:`classify_units` (with ``epoch`` and ``preset`` columns, indexed
        by ``unit_id``) and the grid classes.
    """
    from gisfix.efficiency import _sum_by_unit

    if getattr(stack, "encoding", None) != "population":
        raise RasterError("degurba_units needs a population stack (open_builtup(paths, "
                          f"'population')); got encoding {getattr(stack, 'encoding', stack)!r}")
    epoch = stack.epochs[-1] if epoch is None else int(epoch)
    pop = stack.read_population(None, [epoch])[0]
    cell_km2 = stack.row_cell_areas() / 1e6
    if np.any(np.abs(cell_km2 - 1.0) > 0.25):
        warnings.warn(f"DEGURBA is defined on 1 km² cells; this grid's cells are "
                      f"{cell_km2.min():.3g}-{cell_km2.max():.3g} km² (aggregate GHS-POP to "
                      "1 km first for results comparable with GHS-SMOD)", DegurbaWarning,
                      stacklevel=2)
    grid = classify_grid(pop, cell_km2, builtup_share=builtup_share,
                         land_fraction=land_fraction, preset=preset, **overrides)
    layers = np.stack([np.where(grid == c, pop, 0.0) for c in (3, 2, 1)])
    layers[:, grid == 0] = np.nan

    def read(w):
        r0, h = int(w.row_off), int(w.height)
        return layers[:, r0:r0 + h, int(w.col_off):int(w.col_off + w.width)]

    ids, sums, _ = _sum_by_unit(units, stack, read, 3, scheduler=scheduler)
    table = pd.DataFrame(sums, index=pd.Index(ids, name="unit_id"),
                         columns=["population_urban_centre", "population_urban_cluster",
                                  "population_rural"])
    out = classify_units(table, preset=preset, **overrides)
    out.insert(0, "epoch", epoch)
    out["preset"] = preset if isinstance(preset, str) else "custom"
    return out, grid


__all__ = ["DEFAULT_PRESET", "DegurbaWarning", "GRID_CODES", "PRESETS", "UNIT_CODES",
           "classify_grid", "classify_units", "degurba_units", "resolve_preset"]
