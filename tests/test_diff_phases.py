"""The phases of gisfix.edits.diff.diff, each on its own, on hand-solved vintages.

OLD: four 1 km squares a, b, c, d in a row (EPSG:3857 metres).  NEW: a and b merged into
"ab"; c keeps its id but takes 200 m of d (a transfer); d keeps the rest.  Every expected
value below is worked out by hand from these squares.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Polygon, box

from gisfix.edits import diff as D
from gisfix.errors import DataError

#: hand-solved areas and shares (floating-point rounding of products of exact metres)
HAND = 1e-9
KM = 1000.0


@pytest.fixture
def vintages():
    old = gpd.GeoDataFrame({"name": ["A", "B", "C", "D"]},
                           geometry=[box(i * KM, 0, (i + 1) * KM, KM) for i in range(4)],
                           index=["a", "b", "c", "d"], crs=3857)
    new = gpd.GeoDataFrame({"name": ["AB", "C", "D"]},
                           geometry=[box(0, 0, 2 * KM, KM), box(2 * KM, 0, 3.2 * KM, KM),
                                     box(3.2 * KM, 0, 4 * KM, KM)],
                           index=["ab", "c", "d"], crs=3857)
    return old, new


def _through(phase, old, new, tolerance_m=1.0):
    st = D.prepare_vintages(old, new, name="name")
    steps = [D.project_vintages, D.find_pieces, lambda s: D.choose_tolerance(s, tolerance_m),
             D.tie_units, D.write_edits]
    for step in steps[:phase]:
        step(st)
    return st


def test_prepare_vintages_sets_empty_units_aside(vintages):
    old, new = vintages
    new = new.copy()
    new.loc["e"] = ["E", Polygon()]
    st = D.prepare_vintages(old, new)
    assert list(st.new.index) == ["ab", "c", "d"] and st.new_empty == ["e"]
    with pytest.raises(DataError, match="no name column 'nom'"):
        D.prepare_vintages(old, new, name="nom")


def test_project_vintages_geographic_goes_to_laea(vintages):
    old, new = vintages
    st = D.prepare_vintages(old.to_crs(4326), new.to_crs(4326))
    D.project_vintages(st)
    assert "+proj=laea" in st.work_label and st.work_crs.is_projected
    st = _through(1, old, new)
    assert st.work_crs == st.old_crs
    np.testing.assert_allclose(st.A, [KM * KM] * 4, rtol=HAND)
    np.testing.assert_allclose(st.PB, [6 * KM, 4.4 * KM, 3.6 * KM], rtol=HAND)


def test_find_pieces_and_dominant_pieces(vintages):
    st = _through(2, *vintages)
    got = {(st.oid[i], st.nid[j]): a for (i, j), a in st.inter.items()}
    assert got.keys() == {("a", "ab"), ("b", "ab"), ("c", "c"), ("d", "c"), ("d", "d")}
    assert got[("d", "c")] == pytest.approx(0.2 * KM * KM, rel=HAND)
    assert st.prim_target == {0: 0, 1: 0, 2: 1, 3: 2}   # d's largest piece stays in d
    assert st.prim_source == {0: 0, 1: 2, 2: 3}          # c's largest source is c


def test_choose_tolerance_given_and_floor(vintages):
    st = _through(2, *vintages)
    D.choose_tolerance(st, 150.0)  # width threshold 300 m: the 200 m strip is noise
    assert st.tol == 150.0 and (3, 1) not in st.sig
    D.choose_tolerance(st, 1.0)
    assert (3, 1) in st.sig and st.tol_note == "given"
    D.choose_tolerance(st, None)  # c, d keep their ids: |c'△c| / mean perimeter
    d_c, d_d = 0.2e6 / ((4 + 4.4) / 2 * KM), 0.2e6 / ((4 + 3.6) / 2 * KM)
    assert st.tol == pytest.approx(3 * (d_c + d_d) / 2, rel=HAND)


def test_tie_units_homes(vintages):
    st = _through(4, *vintages)
    assert st.identity_old == {2: 1, 3: 2}         # c and d keep their ids
    assert st.home == {0: 0, 1: 0, 2: 1, 3: 2}
    assert sorted(st.members[0]) == ["a", "b"]
    assert (3, 1) in st.ties                       # d's strip is tied to c


def test_write_edits_merge_and_transfer(vintages):
    st = _through(5, *vintages)
    ops = [(e["op"], e.get("into") or e.get("to")) for e in st.edits]
    assert ops == [("merge", "ab"), ("transfer", "c")]
    assert st.edits[0]["units"] == ["a", "b"] and st.edits[0]["name"] == "AB"
    from shapely import from_wkt

    part = from_wkt(st.edits[1]["part"])  # c' within PART_MARGIN_M of d: the strip + margin
    assert part.area == pytest.approx((0.2 * KM + D.PART_MARGIN_M) * KM, rel=HAND)


def test_pairs_explanations_and_report(vintages):
    st = _through(5, *vintages)
    pairs = D.pairs_table(st)
    row = pairs.set_index(["old_id", "new_id"]).loc[("d", "c")]
    assert row.kind == "transfer" and row.area_m2 == pytest.approx(0.2e6, rel=HAND)
    iou_cc = pairs.set_index(["old_id", "new_id"]).loc[("c", "c"), "iou"]
    assert iou_cc == pytest.approx(1.0 / 1.2, rel=HAND)  # |c ∩ c'| / |c ∪ c'| = 1 / 1.2
    text = D.explanations(st)
    assert text["old:a"].startswith("merged into ab with b")
    assert text["new:ab"].startswith("merger of a (50.0% of it), b (50.0% of it)")
    rep = D.diff_report(st, pairs)
    assert rep["edits"] == {"merge": 1, "split": 0, "transfer": 1, "recode": 0}
    assert rep["n_old"] == 4 and rep["n_new"] == 3


def test_phases_compose_to_diff(vintages):
    old, new = vintages
    res = D.diff(old, new, tolerance_m=1.0, name="name")
    st = _through(5, old, new)
    assert [e["op"] for e in res.edits] == [e["op"] for e in st.edits]


def test_dropped_units_come_from_the_read_record_never_the_file(vintages):
    """The diff restores units dropped as empty from attrs only; a bare count is an error."""
    from gisfix.boundaries import dropped_empty_ids, restore_empty

    old, new = vintages
    new = new.copy()
    new.attrs["gisfix"] = {"source": "/nowhere/moved.gpkg", "dropped_empty": 1,
                           "dropped_empty_ids": ["e"]}
    restored = restore_empty(new)
    assert list(restored.index) == ["ab", "c", "d", "e"] and restored.geometry.iloc[-1].is_empty
    res = D.diff(old, new, tolerance_m=1.0)
    assert res.report["empty_in_new"] == ["e"]
    new.attrs["gisfix"] = {"source": "/nowhere/moved.gpkg", "dropped_empty": 1}
    with pytest.raises(DataError, match="not their ids"):
        dropped_empty_ids(new)
    with pytest.raises(DataError, match="not their ids"):
        D.diff(old, new, tolerance_m=1.0)
