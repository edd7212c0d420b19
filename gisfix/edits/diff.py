r"""Vintage diff: detect the boundary edits between two vintages of a boundary layer.

:func:`diff` compares an OLD and a NEW vintage of the same region and returns a scenario
(the TOML structure of :mod:`gisfix.edits.scenario`) that, applied to OLD with
:func:`gisfix.edits.apply_scenario`, reproduces NEW, together with a report: the matched
pairs with their intersection over union, the generalisation noise tolerated and an
explanation for every id that disappears or appears.

Method
------
1. NEW is reprojected to OLD's CRS; a geographic OLD is reprojected (both vintages) to a
   Lambert azimuthal equal-area projection centred on the data, so that tolerances are
   metres and shares are true area shares.
2. The overlap matrix :math:`a_{ij} = |O_i \cap N_j|`: a polygon drawn alike in both
   vintages (identical, or keeping its id with no vertex moved by more than
   :data:`ALIKE_M`) is its own piece and needs no overlay; the others are paired by an
   STRtree query on their envelopes (pairs whose envelopes barely touch, or whose
   polygons only touch, are skipped) and intersected by GEOS in one vectorised call.
3. Every piece :math:`O_i \cap N_j` gets a mean width :math:`w_{ij} = 2 a_{ij} / p_{ij}`
   (twice the area over the perimeter; a strip of width :math:`w` and length
   :math:`L \gg w` has :math:`2A/P \approx w`).  When both vintages draw a shared edge
   with a displacement of at most :math:`t` (the tolerance), the slivers between them are
   at most :math:`2t` wide, so a piece is *significant* (a real edit) only when

   .. math:: w_{ij} > 2 t .

   Edge noise thus scales with perimeter times tolerance, as it should, instead of with
   unit area: a 3 km² piece of a 4 km² city can be noise in a coarse vintage, while a
   400 m² piece is an edit when both vintages share one generalisation.
4. Units persist by id (the same id in both vintages, with a significant or dominant
   overlap).  Every other old unit goes *whole* to the new unit holding its largest
   piece; its other significant pieces, like those of persisting units, are moved after.
   The scenario then reads, in order: *merge* (several old units form one new unit, under
   a new or a surviving id) and *recode* (one old unit becomes a new id; ids still held by
   another unit go through a temporary ``<id>*``); *split* (a new unit that no old unit
   forms whole is cut off the unit holding its largest source piece); *transfer* (each
   remaining significant piece, grouped by giving and receiving unit, between two units
   present in NEW: an exchange of land both ways is two transfers, the transfer re-nodes
   the receiving unit so the coverage stays valid).  An old unit *divided* between the unit
   it stays in and a merger group (each side at least :data:`SPLIT_MIN_SHARE` of it) is
   ``split`` first, the part joining the merger under a temporary ``<old>><new>`` id that
   the ``merge`` then takes in.  Transfer and split polygons are NEW's polygon minus the
   old units not involved, clipped to a :data:`PART_MARGIN_M` margin around the giving
   unit, in OLD's own coordinates: their edges follow NEW's boundary or lie outside the
   giver.
5. The tolerance, when not given, is estimated from the data: the median displacement
   :math:`d = |O \triangle N| / \bar p` (symmetric difference over mean perimeter, an
   edge displacement in metres) of the units that keep their id with IoU >= 0.5, times
   :data:`AUTO_TOLERANCE_FACTOR`, and never below :data:`MIN_TOLERANCE_M`.

References
----------
The area-overlap matching of boundary vintages is the method behind census crosswalks,
e.g. Schroeder, J. P. (2007). Target-density weighting interpolation and uncertainty
evaluation for temporal analysis of census data. *Geographical Analysis* 39(3), 311-335;
the width test is a morphological opening by the tolerance (Serra, J. 1982, *Image Analysis
and Mathematical Morphology*), measured on the piece's area and perimeter.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gisfix.boundaries import known_valid, restore_empty, valid_mask
from gisfix.crs import crs_label, resolve_crs
from gisfix.edits.topology import DEFAULT_SNAP_TOLERANCE_M, iou_from_areas
from gisfix.errors import CRSError, DataError, GeometryError, IdError

log = logging.getLogger(__name__)

#: Floor of the estimated tolerance (metres).  The edit engine snaps within
#: :data:`gisfix.edits.topology.DEFAULT_SNAP_TOLERANCE_M` (1 m), so a moved piece must be
#: clearly wider than that (width threshold 2 x 2.5 = 5 m) to be applied as drawn;
#: narrower differences are re-digitisation noise.
MIN_TOLERANCE_M = 2.5 * DEFAULT_SNAP_TOLERANCE_M
#: The estimated tolerance is this multiple of the median edge displacement.
AUTO_TOLERANCE_FACTOR = 3.0
#: Units that keep their id with at least this IoU inform the tolerance estimate.
ESTIMATE_MIN_IOU = 0.5
#: A piece narrower than this multiple of the tolerance is generalisation noise.
WIDTH_FACTOR = 2.0
#: An old unit is reported as divided (split) when its second-largest part has this share.
SPLIT_MIN_SHARE = 0.2
#: Margin (metres) around a moved piece within which a transfer part follows NEW's polygon.
PART_MARGIN_M = 0.5
#: Metres per degree, to express the margin in a geographic OLD's units.
METRES_PER_DEGREE = 111_320.0
#: Summed overlaps above this relative excess reveal overlapping polygons in a vintage.
OVERLAP_SLACK = 0.01
#: Polygons whose vertices moved by at most this (metres) are drawn alike (no overlay).
ALIKE_M = 1e-3
#: Quantiles reported for the noise distributions.
NOISE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


@dataclass
class DiffResult:
    """The edits between two boundary vintages and how they were found.

    Attributes
    ----------
    scenario : dict
        ``{"scenario": {...}, "edit": [...]}``: applied to OLD it reproduces NEW.
    pairs : pandas.DataFrame
        One row per (old unit, new unit) tie: ``old_id``, ``new_id``, ``kind``
        (``same``, ``recode``, ``merge``, ``split``, ``transfer``), ``area_m2`` of the
        piece, ``share_old`` / ``share_new`` (its share of each unit), ``iou`` of the two
        units and ``displacement_m`` (symmetric difference over mean perimeter).
    explanations : dict
        For every id that disappears (``"old:<id>"``) or appears (``"new:<id>"``), and for
        ids kept on a different territory, one sentence saying what happened.
    report : dict
        CRS used, tolerance (given or estimated), counts of edits, and the noise
        tolerated: IoU and displacement quantiles of unchanged units, the number, total
        area and widest of the pieces dismissed as noise.
    """

    scenario: dict
    pairs: pd.DataFrame
    explanations: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)

    @property
    def edits(self) -> list[dict]:
        """The list of edits of :attr:`scenario`."""
        return self.scenario["edit"]

    def to_toml(self, path, overwrite: bool = False, provenance=None, explain: bool = True):
        """Write :attr:`scenario` as a TOML file, atomically.

        Parameters
        ----------
        path : path-like
            The ``.toml`` file.
        overwrite : bool
            Replace an existing file.
        provenance : mapping, optional
            A :func:`gisfix.io.provenance` record, stored as the ``[provenance]`` table.
        explain : bool
            Also store :attr:`report` and :attr:`explanations` in the ``[scenario]`` table
            (``[scenario.report]``, ``[scenario.explain]``), so the file says why.

        Returns
        -------
        pathlib.Path
        """
        from gisfix.edits.scenario import load_scenario

        doc = {"scenario": dict(self.scenario["scenario"]), "edit": self.scenario["edit"]}
        if explain:
            doc["scenario"]["report"] = self.report
            doc["scenario"]["explain"] = dict(sorted(self.explanations.items()))
        return load_scenario(doc).to_toml(path, overwrite=overwrite, provenance=provenance)


# --------------------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------------------

def _prepare(frame: gpd.GeoDataFrame, what: str, id_col: str | None, checked=None):
    """Check a vintage; return it indexed by string ids without empty units, and their ids.

    Polygons this process already found valid (read with :func:`~gisfix.read_boundaries`,
    see :func:`~gisfix.boundaries.valid_mask`) are not tested again, and ``checked`` (a
    GeoSeries indexed by id, already checked) spares the test of the polygons identical
    to their namesake there (same structure and coordinates, hence the same validity).
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError(f"{what} must be a GeoDataFrame (from gisfix.read_boundaries), got "
                        f"{type(frame).__name__}")
    if id_col is not None:
        if id_col not in frame.columns:
            raise IdError(f"{what} has no column {id_col!r} for the ids; columns: "
                          f"{', '.join(map(str, frame.columns))}")
        frame = frame.set_index(id_col, drop=False)
    if pd.api.types.infer_dtype(frame.index, skipna=False) == "string":
        ids = pd.Index(np.asarray(frame.index, dtype=object), dtype=object)
    else:
        ids = pd.Index([None if pd.isna(v) else str(v) for v in frame.index], dtype=object)
    if ids.isna().any():
        raise IdError(f"{what} has {int(ids.isna().sum())} units without an id")
    if ids.has_duplicates:
        dup = sorted(set(ids[ids.duplicated()]))[:8]
        raise IdError(f"{what} has duplicated ids ({', '.join(dup)}); ids must be unique")
    frame = frame.set_axis(ids, axis=0)  # a new frame (copy-on-write): the input is kept
    if frame.crs is None:
        raise CRSError(f"{what} has no CRS; assign one (gdf.set_crs(...), or --crs)")
    geom = np.asarray(frame.geometry.values, dtype=object)
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    # type ids 3 and 6: Polygon and MultiPolygon
    bad = ~empty & ~np.isin(shapely.get_type_id(geom), (3, 6))
    if bad.any():
        raise GeometryError(f"{what}: {int(bad.sum())} units are not polygons (ids "
                            f"{', '.join(ids[bad][:8])}); a boundary layer holds "
                            "Polygon/MultiPolygon units")
    # polygons read_boundaries (or an earlier diff) found valid are not tested again
    todo = ~empty & ~known_valid(geom)
    if checked is not None and len(checked):
        pos = checked.index.get_indexer(ids)
        have = todo & (pos >= 0)
        todo[have] = ~shapely.equals_exact(geom[have], np.asarray(checked.values)[pos[have]],
                                           0.0)
    invalid = np.zeros(len(geom), dtype=bool)
    invalid[todo] = ~valid_mask(geom[todo])
    if invalid.any():
        raise GeometryError(f"{what}: {int(invalid.sum())} polygons are invalid (ids "
                            f"{', '.join(ids[invalid][:8])}); read with "
                            "make_valid=True (--make-valid)")
    return (frame.loc[~empty] if empty.any() else frame), list(ids[empty])


def _restore_dropped(frame, id_col):
    """Put the units dropped as empty back as empty rows (not compared), as the CLI does."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    restored = restore_empty(frame, id_col)
    if restored is not frame:
        added = list(restored.index[len(frame):])
        log.info("%d units were dropped as empty when read; kept as empty rows (not "
                 "compared): %s", len(added), ", ".join(map(str, added[:8])))
    return restored


def _local_laea(frame: gpd.GeoDataFrame) -> str:
    lon0, lat0, lon1, lat1 = frame.to_crs(4326).total_bounds
    return (f"+proj=laea +lat_0={(lat0 + lat1) / 2:.6f} +lon_0={(lon0 + lon1) / 2:.6f} "
            "+datum=WGS84 +units=m +no_defs")


# --------------------------------------------------------------------------------------
# the diff
# --------------------------------------------------------------------------------------

def overlap_pieces(old_geoms, new_geoms, old_area=None, candidates=None,
                   alike: float = ALIKE_M) -> pd.DataFrame:
    r"""Return every non-empty intersection of an old and a new polygon.

    Parameters
    ----------
    old_geoms, new_geoms : array of shapely polygons
        In one projected CRS; each array a coverage (no overlaps within a vintage).
    old_area : array of float, optional
        The old polygons' areas, if already computed.
    candidates : array of (i, j) position pairs, optional
        Pairs that may be drawn alike (the units keeping their id).
    alike : float
        Two polygons with the same number of vertices, none moved by more than ``alike``
        (CRS units), are drawn alike (default :data:`ALIKE_M`, 1 mm).

    Returns
    -------
    pandas.DataFrame
        ``i``, ``j`` (positions), ``area`` :math:`a_{ij}`, ``perimeter`` and ``width``
        :math:`w_{ij} = 2 a_{ij} / p_{ij}` of each piece, and the piece ``geometry``.

    Notes
    -----
    A polygon drawn alike in both vintages (same WKB, or a candidate pair whose vertices
    moved by at most ``alike``) is its own piece (area: the old polygon's), and, each
    vintage being a coverage, it meets no other polygon of the other vintage in more than
    a sliver ``alike`` wide, far below any edit: it takes no overlay and drops out of the
    pair search (such slivers are not counted as noise pieces).  The remaining polygons
    are paired by an STRtree query on their envelopes; pairs whose envelopes overlap in a
    band no wider than ``alike`` (neighbours touching along a straight edge) are skipped,
    since a piece's mean width :math:`2A/P` is at most the smaller side of its envelope,
    and so are pairs that only touch (:func:`shapely.touches` on the prepared old
    polygons: interiors disjoint, no piece); the others are intersected by GEOS in one
    vectorised call.
    """
    old_geoms = np.asarray(old_geoms, dtype=object)
    new_geoms = np.asarray(new_geoms, dtype=object)
    old_area = shapely.area(old_geoms) if old_area is None else np.asarray(old_area)
    # 1. polygons drawn alike: identical WKB, or a candidate pair (same id) with the same
    # number of vertices, none of which moved by more than ``alike``
    pairs: dict[int, int] = {}
    if candidates is not None and len(candidates):
        ci, cj = np.asarray(candidates, dtype=np.intp).T
        nv = shapely.get_num_coordinates(old_geoms[ci])
        ok = nv == shapely.get_num_coordinates(new_geoms[cj])
        ci, cj = ci[ok], cj[ok]
        if len(ci):
            xa = shapely.get_coordinates(old_geoms[ci])
            xb = shapely.get_coordinates(new_geoms[cj])
            nv = nv[ok]
            moved = np.zeros(len(ci))  # largest shift of a vertex, per pair (0: no vertex)
            if len(xa):
                start = np.concatenate([[0], np.cumsum(nv)[:-1]])  # first row of each pair
                has = nv > 0
                moved[has] = np.maximum.reduceat(np.abs(xa - xb).max(axis=1), start[has])
            pairs.update(zip(ci[moved <= alike].tolist(), cj[moved <= alike].tolist()))
    left_i = np.setdiff1d(np.arange(len(old_geoms)), np.fromiter(pairs, dtype=np.intp))
    left_j = np.setdiff1d(np.arange(len(new_geoms)),
                          np.fromiter(pairs.values(), dtype=np.intp))
    if len(left_i) and len(left_j):  # identical polygons under another id (recodes)
        new_key = {w: j for j, w in zip(left_j.tolist(), shapely.to_wkb(new_geoms[left_j]))}
        for i, w in zip(left_i.tolist(), shapely.to_wkb(old_geoms[left_i])):
            j = new_key.pop(w, None)
            if j is not None:
                pairs[i] = j
    same_i = np.fromiter(pairs.keys(), dtype=np.intp, count=len(pairs))
    same_j = np.fromiter(pairs.values(), dtype=np.intp, count=len(pairs))
    rest_i = np.setdiff1d(np.arange(len(old_geoms)), same_i)
    rest_j = np.setdiff1d(np.arange(len(new_geoms)), same_j)
    # 2. the others: candidate pairs by envelope, intersected in one call
    ii = np.zeros(0, dtype=np.intp)
    jj = np.zeros(0, dtype=np.intp)
    if len(rest_i) and len(rest_j):
        tree = shapely.STRtree(new_geoms[rest_j])
        qi, qj = tree.query(old_geoms[rest_i])
        ii, jj = rest_i[qi], rest_j[qj]
        bo = shapely.bounds(old_geoms[ii])
        bn = shapely.bounds(new_geoms[jj])
        w = np.minimum(bo[:, 2], bn[:, 2]) - np.maximum(bo[:, 0], bn[:, 0])
        h = np.minimum(bo[:, 3], bn[:, 3]) - np.maximum(bo[:, 1], bn[:, 1])
        # a piece lies in the envelopes' overlap, and its mean width 2A/P is at most the
        # overlap's smaller side: overlaps no wider than ``alike`` hold no edit
        keep = (w > alike) & (h > alike)
        ii, jj = ii[keep], jj[keep]
        # neighbours that only touch (interiors disjoint, no area in common) need no
        # overlay: a prepared (indexed) predicate is much cheaper
        left = np.unique(ii)
        was = shapely.is_prepared(old_geoms[left])
        shapely.prepare(old_geoms[left])
        try:
            touch = shapely.touches(old_geoms[ii], new_geoms[jj])
        finally:  # leave the caller's geometries as they were
            shapely.destroy_prepared(old_geoms[left[~was]])
        ii, jj = ii[~touch], jj[~touch]
    inter = shapely.intersection(old_geoms[ii], new_geoms[jj])
    area = shapely.area(inter)
    area = np.where(np.isnan(area), 0.0, area)
    keep = area > 0
    ii = np.concatenate([same_i, ii[keep]])
    jj = np.concatenate([same_j, jj[keep]])
    inter = np.concatenate([old_geoms[same_i], inter[keep]])
    area = np.concatenate([old_area[same_i], area[keep]])
    perim = shapely.length(inter)
    width = np.where(perim > 0, 2 * area / np.where(perim > 0, perim, 1), 0.0)
    order = np.lexsort((jj, ii))
    return pd.DataFrame({"i": ii[order], "j": jj[order], "area": area[order],
                         "perimeter": perim[order], "width": width[order],
                         "geometry": inter[order]})


def diff(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, tolerance_m: float | None = None,
         new_id_col: str | None = None, name: str | None = None,
         scenario_name: str | None = None) -> DiffResult:
    r"""Detect the edits (merge, split, transfer, recode) that turn OLD into NEW.

    Parameters
    ----------
    old, new : GeoDataFrame
        The two vintages, indexed by unit id (as :func:`gisfix.read_boundaries` returns
        them).  They may be in different CRSs: NEW is reprojected to OLD's; a geographic
        OLD is reprojected to a local Lambert azimuthal equal-area CRS (reported).  Units
        with an empty geometry are not compared (no edit); their ids are reported.  Units
        that :func:`gisfix.read_boundaries` dropped as empty (``drop_empty=True``,
        recorded in ``attrs["gisfix"]``) are restored as such empty units, as
        ``gisfix diff`` does, so they are not mistaken for disappearances (merges); see
        :func:`gisfix.boundaries.dropped_empty_ids`.
    tolerance_m : float, optional
        The largest edge displacement (metres) between the two vintages' drawings of the
        same boundary that counts as generalisation noise.  A piece of an old unit lying
        in another new unit is an edit only when its mean width :math:`2A/P` exceeds
        ``2 * tolerance_m``.  Default: estimated from the data (see the module notes);
        the value used is in ``report["tolerance_m"]``.
    new_id_col : str, optional
        Column of NEW holding its ids, when NEW is not indexed by them.
    name : str, optional
        A name column present in both vintages: merges and recodes then carry NEW's name,
        and a unit that only changes its name gets a ``recode`` with ``name``.
    scenario_name : str, optional
        The ``[scenario] name``; default ``"diff <n old> -> <n new> units"``.

    Returns
    -------
    DiffResult
        The scenario (ordered: splits of divided units, merges and recodes, splits off
        units, transfers; see the module notes), the matched pairs, an explanation for
        every id that disappears or appears, and the report (CRS, tolerance, edit
        counts, noise tolerated).

    Raises
    ------
    CRSError
        If either vintage has no CRS.
    IdError
        If ids are missing or duplicated, or ``new_id_col`` is not a column.
    GeometryError
        If a geometry is invalid or not polygonal.
    DataError
        If the vintages do not overlap at all, or ``tolerance_m`` is negative.

    Notes
    -----
    A piece :math:`O_i \cap N_j` is significant when :math:`2 a_{ij}/p_{ij} > 2t`.  The
    intersection over union of a matched pair is
    :math:`|O \cap N| / |O \cup N|` and its displacement
    :math:`d = |O \triangle N| / ((p_O + p_N)/2)`, the mean distance between the two
    drawings of its boundary.

    Examples
    --------
    >>> from gisfix import datasets
    >>> from gisfix.edits.diff import diff
    >>> res = diff(datasets.load("virginia-pre1995"),
    ...            datasets.load("virginia-2017", make_valid=True, drop_empty=True),
    ...            tolerance_m=1200)  # doctest: +SKIP
    >>> [e["into"] for e in res.edits if e["op"] == "merge"]  # doctest: +SKIP
    ['51005', '51019', '51083']
    """
    if tolerance_m is not None and not tolerance_m >= 0:
        raise DataError(f"tolerance_m must be a length in metres >= 0, got {tolerance_m!r}")
    st = prepare_vintages(old, new, new_id_col=new_id_col, name=name)
    project_vintages(st)
    find_pieces(st)
    choose_tolerance(st, tolerance_m)
    tie_units(st)
    write_edits(st)
    pairs = pairs_table(st)
    explain = explanations(st)
    report = diff_report(st, pairs)
    meta = {"name": scenario_name or f"diff {report['n_old']} -> {report['n_new']} units",
            "method": "gisfix.edits.diff", "tolerance_m": st.tol,
            "crs": crs_label(st.old_crs)}
    edit_crs = crs_label(st.old_crs) if st.old_crs.to_epsg() else st.old_crs.to_wkt()
    for e in st.edits:
        if e["op"] in ("split", "transfer"):
            e["crs"] = edit_crs
    log.info("diff: %s (tolerance %.3g m)", report["edits"], st.tol)
    return DiffResult(scenario={"scenario": meta, "edit": st.edits}, pairs=pairs,
                      explanations=explain, report=report)


# --------------------------------------------------------------------------------------
# the phases of the diff, in order (each fills fields of a DiffState)
# --------------------------------------------------------------------------------------

@dataclass(eq=False)
class DiffState:
    """What the phases of :func:`diff` know so far (filled in phase order).

    ``old``/``new`` are the checked vintages indexed by text ids (non-empty units only);
    ``o``/``n`` the same in the working CRS, ``og``/``ng`` their polygons, ``oid``/``nid``
    their ids, ``A``/``B`` areas and ``PA``/``PB`` perimeters (m², m); ``pieces`` the
    overlap table of :func:`overlap_pieces`; the tie and edit fields are filled by
    :func:`tie_units` and :func:`write_edits`.

    Attributes
    ----------
    old, new : GeoDataFrame
        The checked vintages (filled by :func:`prepare_vintages`).
    name : str or None
        The name column.
    tol : float
        The tolerance in metres (:func:`choose_tolerance`).
    edits : list of dict
        The scenario's edits (:func:`write_edits`).
    """

    old: gpd.GeoDataFrame
    new: gpd.GeoDataFrame
    name: str | None = None
    old_empty: list = field(default_factory=list)
    new_empty: list = field(default_factory=list)
    old_unseen: list = field(default_factory=list)
    new_unseen: list = field(default_factory=list)
    # project_vintages
    old_crs: CRS | None = None
    new_crs: CRS | None = None
    work_crs: CRS | None = None
    work_label: str = ""
    crs_note: str = ""
    o: gpd.GeoDataFrame | None = None
    n: gpd.GeoDataFrame | None = None
    og: np.ndarray | None = None
    ng: np.ndarray | None = None
    oid: np.ndarray | None = None
    nid: np.ndarray | None = None
    A: np.ndarray | None = None  # noqa: N815
    B: np.ndarray | None = None  # noqa: N815
    PA: np.ndarray | None = None  # noqa: N815
    PB: np.ndarray | None = None  # noqa: N815
    old_pos: dict = field(default_factory=dict)
    new_pos: dict = field(default_factory=dict)
    # find_pieces
    same_id: list = field(default_factory=list)
    pieces: pd.DataFrame | None = None
    inter: dict = field(default_factory=dict)
    prim_target: dict = field(default_factory=dict)
    prim_source: dict = field(default_factory=dict)
    piece_key: np.ndarray | None = None
    # choose_tolerance
    tol: float = 0.0
    tol_note: str = ""
    sig: set = field(default_factory=set)
    # tie_units
    identity_new: dict = field(default_factory=dict)
    identity_old: dict = field(default_factory=dict)
    ties: set = field(default_factory=set)
    targets: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    home: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)
    member_pos: dict = field(default_factory=dict)
    sources_of: dict = field(default_factory=dict)
    # write_edits
    edits: list = field(default_factory=list)
    kinds: dict = field(default_factory=dict)

    def overlap(self, ii, jj):
        """Return :math:`a_{ij}` for position arrays ``ii``, ``jj`` (0 where no piece)."""
        piece_area = self.pieces.area.to_numpy()
        key = np.asarray(ii, dtype=np.int64) * len(self.ng) + np.asarray(jj, dtype=np.int64)
        k = np.minimum(np.searchsorted(self.piece_key, key), max(len(self.piece_key) - 1, 0))
        found = self.piece_key[k] == key  # pieces are sorted by (i, j), so by key
        return np.where(found, piece_area[k], 0.0), found

    def iou(self, ii, jj, a=None):
        """Intersection over union of old units ``ii`` and new units ``jj`` (positions)."""
        ii = np.asarray(ii, dtype=np.intp)
        jj = np.asarray(jj, dtype=np.intp)
        if a is None:
            a = self.overlap(ii, jj)[0]
        return iou_from_areas(a, self.A[ii], self.B[jj])

    def displacement(self, ii, jj, a):
        """Symmetric difference over mean perimeter (metres) of paired units."""
        return (self.A[ii] + self.B[jj] - 2 * a) / ((self.PA[ii] + self.PB[jj]) / 2)


def prepare_vintages(old, new, *, new_id_col: str | None = None,
                     name: str | None = None) -> DiffState:
    """Phase 1: check both vintages, restore units dropped as empty, set aside empty units.

    Parameters
    ----------
    old, new : GeoDataFrame
        The vintages (see :func:`diff`).
    new_id_col : str, optional
        Column of NEW holding its ids.
    name : str, optional
        Name column present in both vintages.

    Returns
    -------
    DiffState
    """
    old, old_empty = _prepare(_restore_dropped(old, None), "OLD", None)
    new, new_empty = _prepare(_restore_dropped(new, new_id_col), "NEW", new_id_col,
                              checked=old.geometry if new.crs == old.crs else None)
    # a unit present in both vintages but drawn in only one cannot be compared: keep it
    new_empty_set, old_empty_set = set(new_empty), set(old_empty)
    old_unseen = [k for k in old.index if k in new_empty_set]
    new_unseen = [k for k in new.index if k in old_empty_set]
    old = old.drop(index=old_unseen)
    new = new.drop(index=new_unseen)
    if name is not None:
        for frame, what in ((old, "OLD"), (new, "NEW")):
            if name not in frame.columns:
                raise DataError(f"{what} has no name column {name!r}; columns: "
                                f"{', '.join(map(str, frame.columns))}")
    if len(old) == 0 or len(new) == 0:
        raise DataError(f"nothing to compare: OLD has {len(old)} and NEW {len(new)} units "
                        "with a geometry")
    return DiffState(old=old, new=new, name=name, old_empty=old_empty, new_empty=new_empty,
                     old_unseen=old_unseen, new_unseen=new_unseen)


def project_vintages(st: DiffState) -> None:
    """Phase 2: choose the working CRS (OLD's, or a local LAEA) and measure both vintages.

    Parameters
    ----------
    st : DiffState
        From :func:`prepare_vintages`.
    """
    st.old_crs = old_crs = resolve_crs(st.old.crs, what="OLD")
    st.new_crs = new_crs = resolve_crs(st.new.crs, what="NEW")
    if old_crs.is_projected:
        st.work_crs = old_crs
        st.work_label = crs_label(old_crs)
        st.crs_note = f"OLD's projected CRS {crs_label(old_crs)} ({old_crs.name})"
    else:
        st.work_label = _local_laea(st.old)
        st.work_crs = CRS.from_proj4(st.work_label)
        st.crs_note = (f"OLD is geographic ({crs_label(old_crs)}); both vintages were "
                       f"reprojected to {st.work_label} (Lambert azimuthal equal-area "
                       "centred on the data)")
    st.o = st.old.to_crs(st.work_crs) if not old_crs.equals(st.work_crs) else st.old
    st.n = st.new.to_crs(st.work_crs) if not new_crs.equals(st.work_crs) else st.new
    st.og = st.o.geometry.values
    st.ng = st.n.geometry.values
    st.oid = np.asarray(st.o.index, dtype=object)
    st.nid = np.asarray(st.n.index, dtype=object)
    st.A = shapely.area(st.og)
    st.B = shapely.area(st.ng)
    st.PA = shapely.length(st.og)
    st.PB = shapely.length(st.ng)
    st.new_pos = {k: p for p, k in enumerate(st.nid)}
    st.old_pos = {k: p for p, k in enumerate(st.oid)}


def find_pieces(st: DiffState) -> None:
    """Phase 3: the overlap pieces and the dominant piece of every unit.

    Parameters
    ----------
    st : DiffState
        From :func:`project_vintages`.
    """
    st.same_id = [(i, st.new_pos[k]) for i, k in enumerate(st.oid) if k in st.new_pos]
    pieces = overlap_pieces(st.og, st.ng, st.A, st.same_id)
    if pieces.empty:
        raise DataError("OLD and NEW do not overlap at all; are they the same region and "
                        "is each one's CRS right?")
    pi = pieces.i.to_numpy(np.int64)
    pj = pieces.j.to_numpy(np.int64)
    area = pieces.area.to_numpy()
    pieces["share_old"] = area / st.A[pi]
    pieces["share_new"] = area / st.B[pj]
    st.pieces = pieces
    st.inter = dict(zip(zip(pi.tolist(), pj.tolist()), area.tolist()))
    st.prim_target = _argmax_by(pi, pj, area)
    st.prim_source = _argmax_by(pj, pi, area)
    st.piece_key = pi * len(st.ng) + pj


def _argmax_by(key: np.ndarray, other: np.ndarray, value: np.ndarray) -> dict:
    """``{k: other at the largest value among rows with key k}`` (first on ties)."""
    order = np.lexsort((-value, key))  # by key, largest value first (stable on ties)
    k = key[order]
    first = np.r_[True, k[1:] != k[:-1]]
    return dict(zip(k[first].tolist(), other[order][first].tolist()))


def choose_tolerance(st: DiffState, tolerance_m: float | None = None) -> None:
    """Phase 4: the tolerance (given or estimated) and the significant pieces.

    Parameters
    ----------
    st : DiffState
        From :func:`find_pieces`.
    tolerance_m : float, optional
        The tolerance given by the user (metres); estimated when None.
    """
    si, sj = (np.asarray(st.same_id, dtype=np.intp).reshape(-1, 2).T if st.same_id
              else (np.zeros(0, np.intp), np.zeros(0, np.intp)))
    sa = st.overlap(si, sj)[0]
    est = st.displacement(si, sj, sa)[st.iou(si, sj, sa) >= ESTIMATE_MIN_IOU]
    if tolerance_m is None:
        if len(est):
            med = float(np.median(est))
            st.tol = max(MIN_TOLERANCE_M, AUTO_TOLERANCE_FACTOR * med)
            st.tol_note = (f"estimated: {AUTO_TOLERANCE_FACTOR:g} x the median displacement "
                           f"({med:.3g} m) of {len(est)} units that keep their id "
                           f"with IoU >= {ESTIMATE_MIN_IOU}")
        else:
            st.tol = MIN_TOLERANCE_M
            st.tol_note = ("no unit keeps its id with IoU >= 0.5, so the floor "
                           f"{MIN_TOLERANCE_M:g} m is used; pass tolerance_m")
    else:
        st.tol = float(tolerance_m)
        st.tol_note = "given"
    sigmask = st.pieces.width.to_numpy() > WIDTH_FACTOR * st.tol
    st.pieces["significant"] = sigmask
    st.sig = set(zip(st.pieces.i.to_numpy()[sigmask].tolist(),
                     st.pieces.j.to_numpy()[sigmask].tolist()))


def tie_units(st: DiffState) -> None:
    """Phase 5: identity by id, ties between old and new units, and each old unit's home.

    Parameters
    ----------
    st : DiffState
        From :func:`choose_tolerance`.
    """
    identity_new = {}  # new pos -> old pos (same id, same unit)
    for i, j in st.same_id:
        if (i, j) in st.sig or st.prim_target.get(i) == j or st.prim_source.get(j) == i:
            identity_new[j] = i
    identity_old = {i: j for j, i in identity_new.items()}
    ties: set[tuple[int, int]] = set(identity_old.items())
    ties |= st.sig
    tied_new = {j for _, j in ties}
    for j in range(len(st.ng)):
        if j not in identity_new and j not in tied_new and j in st.prim_source:
            ties.add((st.prim_source[j], j))
    # an old unit that lost its id keeps its dominant piece tied (its "rest")
    for i in range(len(st.og)):
        if i not in identity_old and i in st.prim_target:
            ties.add((i, st.prim_target[i]))
    targets, sources = defaultdict(set), defaultdict(set)
    for i, j in ties:
        targets[i].add(j)
        sources[j].add(i)
    home = {i: identity_old[i] if i in identity_old else st.prim_target[i]
            for i in range(len(st.og)) if i in identity_old or i in st.prim_target}
    members = defaultdict(list)  # new pos -> old ids of the units that form it
    member_pos = defaultdict(list)  # new pos -> old positions of the units that form it
    for i, j in home.items():
        members[j].append(st.oid[i])
        member_pos[j].append(i)
    sources_of = defaultdict(list)  # new pos -> old positions tied to it
    for i, j in ties:
        sources_of[j].append(i)
    st.identity_new, st.identity_old, st.ties = identity_new, identity_old, ties
    st.targets, st.sources, st.home = targets, sources, home
    st.members, st.member_pos, st.sources_of = members, member_pos, sources_of


class _Parts:
    """Edit polygons in OLD's own coordinates (exact vertices, no round trip).

    The part moved from the unit formed by old units F to the new unit j is NEW's polygon
    j minus the old units outside F and outside j's own old units, clipped to a thin
    margin around F: its edges then follow NEW's boundary, the other units' exact
    boundaries, or run strictly outside F, and never put a vertex on the giver's edge that
    the taker lacks.
    """

    def __init__(self, st: DiffState):
        self.st = st
        # plain object arrays: indexing a GeometryArray builds a new array each time
        self.old = np.asarray(st.old.geometry.values, dtype=object)
        same = st.new_crs.equals(st.old_crs)
        self.new = np.asarray((st.new if same else st.new.to_crs(st.old_crs)).geometry.values,
                              dtype=object)
        self.margin = (PART_MARGIN_M / METRES_PER_DEGREE if st.old_crs.is_geographic
                       else PART_MARGIN_M)
        self.tree = shapely.STRtree(self.old)

    def wkt(self, giver_group, j) -> str:
        giver = self.st.member_pos[giver_group]
        keep = set(giver) | set(self.st.member_pos.get(j, []))
        near = shapely.buffer(shapely.union_all(self.old[giver]), self.margin)
        region = shapely.intersection(self.new[j], near)
        others = [k for k in self.tree.query(region, predicate="intersects") if k not in keep]
        if others:
            region = shapely.difference(region, shapely.union_all(self.old[others]))
        return shapely.to_wkt(_polygonal(region), rounding_precision=-1)


def write_edits(st: DiffState) -> None:
    """Phase 6: the scenario: divided-unit splits, merges and recodes, split-offs, transfers.

    Parameters
    ----------
    st : DiffState
        From :func:`tie_units`.
    """
    parts = _Parts(st)
    oid, nid, inter, A = st.oid, st.nid, st.inter, st.A
    edits: list[dict] = []
    kinds: dict[tuple[int, int], str] = {}
    # 0. old units divided between the unit they stay in and a merger group: the part that
    # joins the merger is split off first (temporary id ``<old>><new>``) and merged with the
    # group, so the scenario reads "split + merge" exactly where a unit is divided
    moved = defaultdict(list)  # (from new pos, to new pos) -> old positions of the pieces
    for i, j in sorted(st.ties):
        if st.home.get(i) != j:
            moved[(st.home[i], j)].append(i)
    joins = defaultdict(list)  # new pos -> temporary ids of split-off parts joining it
    current_ids = set(oid)
    for (h, j), olds in sorted(moved.items()):
        i = olds[0]
        tmp = f"{oid[i]}>{nid[j]}"
        if (len(olds) != 1 or len(st.member_pos.get(j, [])) < 2 or st.member_pos.get(h) != [i]
                or tmp in current_ids
                or inter[(i, j)] < SPLIT_MIN_SHARE * A[i]
                or inter.get((i, h), 0.0) < SPLIT_MIN_SHARE * A[i]):
            continue
        edits.append({"op": "split", "unit": oid[i], "by": [parts.wkt(h, j)],
                      "new_ids": [tmp, oid[i]],
                      "note": f"{oid[i]} is divided: {inter[(i, j)] / 1e6:.4g} km² "
                              f"({100 * inter[(i, j)] / A[i]:.1f}%) join {nid[j]}"})
        current_ids.add(tmp)
        joins[j].append(tmp)
        kinds[(i, j)] = "split"
        moved[(h, j)] = []
    edits += _merges_and_recodes(st, joins, current_ids)
    # 2. new units that no old unit forms as a whole: split off their largest source piece
    name = st.name
    for j in range(len(st.ng)):
        if st.members.get(j):
            continue
        src = [(inter[(i, j)], i) for i in sorted(st.sources_of[j]) if (i, j) in inter]
        if not src:  # pragma: no cover - every new unit is tied to a source
            continue
        _, i = max(src)
        h = st.home[i]
        op = {"op": "split", "unit": nid[h], "by": [parts.wkt(h, j)],
              "new_ids": [nid[j], nid[h]],
              "note": f"{nid[j]} is split off {nid[h]} ({oid[i]} gives "
                      f"{inter[(i, j)] / 1e6:.4g} km²)"}
        if name is not None and isinstance(st.n[name].iloc[j], str) and st.n[name].iloc[j]:
            op["names"] = [st.n[name].iloc[j], st.n[name].iloc[h]]
        edits.append(op)
        kinds[(i, j)] = "split"
        moved[(h, j)].remove(i)
    # 3. transfers between the units of NEW, one per (from, to) pair, also when two units
    # exchange land both ways (two transfers: the transfer re-nodes the receiving unit, so
    # the coverage stays valid)
    for (h, j), olds in sorted((k, v) for k, v in moved.items() if v):
        for i in olds:
            kinds[(i, j)] = "transfer"
        area = sum(inter[(i, j)] for i in olds)
        edits.append({"op": "transfer", "from": nid[h], "to": nid[j], "part": parts.wkt(h, j),
                      "note": f"{area / 1e6:.4g} km² of old "
                              f"{', '.join(oid[i] for i in olds)} now in {nid[j]}"})
    st.edits, st.kinds = edits, kinds


def _merges_and_recodes(st: DiffState, joins, current_ids: set) -> list[dict]:
    """Merges and recodes, with temporary ids while an id is still held by another unit."""
    edits, renames = [], []
    name = st.name
    names = None if name is None else st.n[name].to_numpy(dtype=object)
    for j in range(len(st.ng)):
        mem = st.members.get(j, [])
        target = st.nid[j]
        if not mem:
            continue
        new_name = None if names is None else names[j]
        named = isinstance(new_name, str) and bool(new_name)
        holder_outside = target in current_ids and target not in mem
        into = f"{target}*" if holder_outside else target
        if len(mem) > 1:
            op = {"op": "merge", "units": [*mem, *joins.get(j, [])], "into": into}
            if named:
                op["name"] = new_name
            part_note = (f" and part of {', '.join(t.split('>')[0] for t in joins[j])}"
                         if joins.get(j) else "")
            op["note"] = f"{len(mem)} units{part_note} form {target}"
            edits.append(op)
            current_ids.difference_update(op["units"])
            current_ids.add(into)
        elif mem[0] != target:
            op = {"op": "recode", "unit": mem[0], "new_id": into}
            if named:
                op["name"] = new_name
            edits.append(op)
            current_ids.discard(mem[0])
            current_ids.add(into)
        elif name is not None and named and new_name != st.o[name].iloc[st.identity_new[j]]:
            edits.append({"op": "recode", "unit": target, "name": new_name})
        if holder_outside:
            renames.append((into, target))
    for tmp, target in renames:
        edits.append({"op": "recode", "unit": tmp, "new_id": target,
                      "note": "second step of an id swap"})
    return edits


def _tie_arrays(st: DiffState):
    return (np.asarray(sorted(st.ties), dtype=np.intp).reshape(-1, 2).T if st.ties
            else (np.zeros(0, np.intp), np.zeros(0, np.intp)))


def pairs_table(st: DiffState) -> pd.DataFrame:
    """Phase 7: one row per tie of an old and a new unit (see :attr:`DiffResult.pairs`).

    Parameters
    ----------
    st : DiffState
        From :func:`write_edits`.

    Returns
    -------
    DataFrame
    """
    ti, tj = _tie_arrays(st)
    ta, _ = st.overlap(ti, tj)
    n_members = np.zeros(len(st.ng), dtype=np.intp)
    for j, mem in st.member_pos.items():
        n_members[j] = len(mem)
    kind = np.where(n_members[tj] > 1, "merge",
                    np.where(st.oid[ti] == st.nid[tj], "same", "recode")).astype(object)
    for k, key in enumerate(zip(ti.tolist(), tj.tolist())):
        if key in st.kinds:
            kind[k] = st.kinds[key]
    return pd.DataFrame({"old_id": st.oid[ti], "new_id": st.nid[tj], "kind": kind,
                         "area_m2": ta, "share_old": ta / st.A[ti], "share_new": ta / st.B[tj],
                         "iou": st.iou(ti, tj, ta),
                         "displacement_m": st.displacement(ti, tj, ta)},
                        columns=["old_id", "new_id", "kind", "area_m2", "share_old",
                                 "share_new", "iou", "displacement_m"])


def explanations(st: DiffState) -> dict[str, str]:
    """Phase 8: one sentence for every id that disappears or appears, or changes territory.

    Parameters
    ----------
    st : DiffState
        From :func:`write_edits`.

    Returns
    -------
    dict
        ``{"old:<id>" or "new:<id>": sentence}``.
    """
    oid, nid, inter, A, B = st.oid, st.nid, st.inter, st.A, st.B
    home, member_pos, kinds = st.home, st.member_pos, st.kinds

    def iou(i, j):
        return float(st.iou([i], [j], np.array([inter.get((i, j), 0.0)]))[0])

    def gives(i):
        out = [f"{100 * inter[(i, j)] / A[i]:.1f}% to {nid[j]} ({kinds.get((i, j))})"
               for j in sorted(st.targets[i], key=lambda j: -inter.get((i, j), 0))
               if j != home.get(i) and (i, j) in inter]
        return ("; it also gives " + ", ".join(out)) if out else ""

    explain: dict[str, str] = {}
    for i in range(len(st.og)):
        if i in st.identity_old or i not in home:
            continue
        j = home[i]
        prefix = (f"id {oid[i]} is used in NEW for another territory; the OLD unit "
                  if oid[i] in st.new_pos else "")
        share = 100 * inter.get((i, j), 0.0) / A[i]
        if len(member_pos[j]) == 1:
            text = f"recoded to {nid[j]} (IoU {iou(i, j):.3f})"
        else:
            others = [oid[k] for k in member_pos[j] if k != i]
            text = f"merged into {nid[j]} with {', '.join(others)} ({share:.1f}% of its area)"
        explain[f"old:{oid[i]}"] = prefix + text + gives(i)
    for j in range(len(st.ng)):
        if j in st.identity_new:
            continue
        prefix = (f"id {nid[j]} was used in OLD for another territory; the NEW unit "
                  if nid[j] in st.old_pos else "")
        mem = member_pos.get(j, [])
        if len(mem) == 1:
            text = f"recode of {oid[mem[0]]} (IoU {iou(mem[0], j):.3f})"
        elif mem:
            text = "merger of " + ", ".join(
                f"{oid[i]} ({100 * inter.get((i, j), 0) / B[j]:.1f}% of it)" for i in mem)
        else:
            src = sorted((i for i in st.sources[j]), key=lambda i: -inter.get((i, j), 0))
            text = "split off " + ", ".join(
                f"{oid[i]} ({100 * inter.get((i, j), 0) / A[i]:.1f}% of {oid[i]})"
                for i in src)
        explain[f"new:{nid[j]}"] = prefix + text
    for i in sorted(st.identity_old):  # persisting units that lose significant pieces
        if len(st.targets[i]) > 1:
            explain[f"old:{oid[i]}"] = f"kept as {nid[st.identity_old[i]]}" + gives(i)
    for k in st.old_empty:
        explain[f"old:{k}"] = "empty geometry in OLD: not compared, no edit"
    for k in st.new_empty:
        explain[f"new:{k}"] = ("empty geometry in NEW (lost in generalisation?): not "
                               "compared, no edit")
    for k in st.old_unseen:
        explain[f"old:{k}"] = ("kept (no edit): the unit is present in NEW but its geometry "
                               "there is empty, so it cannot be compared")
    for k in st.new_unseen:
        explain[f"new:{k}"] = ("kept (no edit): the unit is present in OLD but its geometry "
                               "there is empty, so it cannot be compared")
    for k in _outside_new(st):
        explain[f"old:{k}"] = ("overlaps no NEW unit: its territory is outside NEW, which no "
                               "edit can express (the scenario keeps it)")
    for k in _outside_old(st):
        explain[f"new:{k}"] = ("overlaps no OLD unit: its territory is outside OLD, which no "
                               "edit can express (the scenario cannot create it)")
    return explain


def _outside_new(st: DiffState) -> list:
    return [st.oid[i] for i in range(len(st.og)) if i not in st.home]


def _outside_old(st: DiffState) -> list:
    return [st.nid[j] for j in range(len(st.ng))
            if not st.sources.get(j) and not st.members.get(j)]


def diff_report(st: DiffState, pairs: pd.DataFrame) -> dict:
    """Phase 9: the report: CRS, tolerance, edit counts and the noise tolerated.

    Parameters
    ----------
    st : DiffState
        From :func:`write_edits`.
    pairs : DataFrame
        From :func:`pairs_table`.

    Returns
    -------
    dict
    """
    edits, pieces = st.edits, st.pieces
    touched_old = {st.oid[i] for i, _ in st.kinds}
    touched_new = {st.nid[j] for _, j in st.kinds}
    unchanged = pairs[pairs.kind.isin(["same", "recode"]) & ~pairs.old_id.isin(touched_old)
                      & ~pairs.new_id.isin(touched_new)]
    ti, tj = _tie_arrays(st)
    ta, t_found = st.overlap(ti, tj)
    tied = np.isin(st.piece_key, ti.astype(np.int64) * len(st.ng) + tj)
    noise = pieces[~pieces.significant.to_numpy() & ~tied]
    counts = {op: sum(e["op"] == op for e in edits) for op in ("merge", "split", "transfer",
                                                               "recode")}
    # old units whose second-largest tied piece holds at least SPLIT_MIN_SHARE of them
    tie_share = pd.DataFrame({"i": ti[t_found], "s": ta[t_found] / st.A[ti[t_found]]})
    second = (tie_share.sort_values(["i", "s"], ascending=[True, False], kind="stable")
              .groupby("i").nth(1))
    divided = [st.oid[i] for i in sorted(second.i[second.s >= SPLIT_MIN_SHARE].tolist())]
    return {
        "crs": st.work_label,
        "crs_note": st.crs_note,
        "old_crs": crs_label(st.old_crs),
        "new_crs": crs_label(st.new_crs),
        "tolerance_m": st.tol,
        "tolerance_note": st.tol_note,
        "width_threshold_m": WIDTH_FACTOR * st.tol,
        "n_old": int(len(st.old) + len(st.old_empty) + len(st.old_unseen)),
        "n_new": int(len(st.new) + len(st.new_empty) + len(st.new_unseen)),
        "edits": counts,
        "merge_groups": counts["merge"],
        "merged_units": len({u.split(">")[0] for e in edits if e["op"] == "merge"
                             for u in e["units"]}),
        "transfers": counts["transfer"],
        "boundary_adjustments": len({frozenset((e["from"], e["to"])) for e in edits
                                     if e["op"] == "transfer"}),
        "divided_units": divided,
        "recoded_ids": int(sum(e["op"] == "recode" and "new_id" in e
                               and not e["unit"].endswith("*") for e in edits)),
        "unchanged_units": int(len(unchanged)),
        "unchanged_iou": _quantiles(unchanged.iou),
        "unchanged_displacement_m": _quantiles(unchanged.displacement_m),
        "noise_pieces": int(len(noise)),
        "noise_area_m2": float(noise.area.sum()),
        "noise_max_width_m": float(noise.width.max()) if len(noise) else 0.0,
        "new_overlaps_over_old_units": _over_covered(pieces, "i", st.A, st.oid),
        "old_overlaps_over_new_units": _over_covered(pieces, "j", st.B, st.nid),
        "outside_new": _outside_new(st),
        "outside_old": _outside_old(st),
        "empty_in_old": list(st.old_empty),
        "empty_in_new": list(st.new_empty),
    }


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _over_covered(pieces: pd.DataFrame, key: str, areas, ids) -> list[str]:
    """Return the ids whose summed overlaps exceed their area (the other vintage overlaps)."""
    total = pieces.groupby(key).area.sum()
    over = total[total > areas[total.index] * (1 + OVERLAP_SLACK)]
    return [str(ids[k]) for k in over.index]


def _quantiles(values: pd.Series) -> dict:
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        return {}
    qs = np.quantile(values.to_numpy(), NOISE_QUANTILES)  # linear, as Series.quantile
    return {f"q{int(round(q * 100)):02d}": float(v) for q, v in zip(NOISE_QUANTILES, qs)}


__all__ = ["DiffResult", "DiffState", "choose_tolerance", "diff", "diff_report", "explanations",
           "find_pieces", "iou_from_areas", "overlap_pieces", "pairs_table", "prepare_vintages",
           "project_vintages", "tie_units", "write_edits"]
