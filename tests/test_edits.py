"""Tests of gisfix.edits: operations, scenarios, topology, reallocation, lineage, compare.

Oracles: cases solved by hand on a synthetic grid coverage (areas, shares, reallocated
values), geopandas' dissolve and PySAL ``inequality`` as peers, hypothesis properties
(coverage validity, exact conservation) over random edit sequences, and real vintages
(Virginia pre-1995 -> 2017, Wuhu before -> after, Swiss 2018 -> 2024 merges).
"""

from __future__ import annotations

import math
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from gisfix import datasets
from gisfix.edits import (
    apply_scenario,
    check_coverage,
    dissolve,
    harmonise,
    load_scenario,
    merge,
    recode,
    split,
    transfer,
)
from gisfix.errors import EditError, IdError, InputFileError
from gisfix.workflows.compare import compare

#: Cell size of the synthetic grid (metres, EPSG:3035).
CELL = 100.0
X0, Y0 = 4_000_000.0, 3_000_000.0
#: Area comparisons on the synthetic grid (m²).
AREA_TOL = 1e-6
#: Issue thresholds for real vintages.
IOU_VIRGINIA = 0.94
IOU_WUHU = 0.94
IOU_SWISS = 0.99


def grid(nx=3, ny=3, crs="EPSG:3035") -> gpd.GeoDataFrame:
    """nx * ny square units, ids 'ij' (column i, row j from 1), with attributes."""
    ids, geoms, pops, gdp, region = [], [], [], [], []
    for i in range(nx):
        for j in range(ny):
            ids.append(f"{i + 1}{j + 1}")
            geoms.append(box(X0 + i * CELL, Y0 + j * CELL, X0 + (i + 1) * CELL,
                             Y0 + (j + 1) * CELL))
            pops.append(100 * (i + 1) + 7 * j)
            gdp.append(1000.5 * (i + 1) + 3.25 * j)
            region.append("W" if i == 0 else "E")
    gdf = gpd.GeoDataFrame({"name": [f"u{k}" for k in ids], "pop": pops, "gdp": gdp,
                            "region": region}, geometry=geoms, crs=crs,
                           index=pd.Index(ids, name="code"))
    gdf["gdp_pc"] = gdf["gdp"] / gdf["pop"]
    gdf["dens"] = gdf["pop"] / (CELL * CELL)
    return gdf


def sc(*edits, name="t"):
    return {"scenario": {"name": name}, "edit": list(edits)}


def iou(a, b):
    return a.intersection(b).area / a.union(b).area


# --- merge / recode / dissolve -------------------------------------------------------------
def test_merge_hand_solved():
    g = grid()
    res = merge(g, ["11", "21"], into="21", name="joined", extensive=["pop", "gdp"],
                intensive=["dens", "gdp_pc=gdp/pop"])
    u = res.units
    assert len(u) == 8 and u.index.name == "code"
    assert "11" not in u.index
    assert u.loc["21", "pop"] == 100 + 200 and u.loc["21", "name"] == "joined"
    assert u.loc["21", "gdp"] == 1000.5 + 2001.0
    assert u.loc["21", "gdp_pc"] == pytest.approx(3001.5 / 300)
    assert u.loc["21", "dens"] == pytest.approx((1 / CELL**2 * 100 + 200 / CELL**2) / 2)
    assert u.geometry["21"].equals(box(X0, Y0, X0 + 2 * CELL, Y0 + CELL))
    assert u.loc["32", "pop"] == g.loc["32", "pop"]  # untouched
    lin = res.lineage.set_index("old_id")
    assert lin.loc["11", "new_id"] == "21" and lin.loc["11", "area_share"] == 1.0
    assert len(res.lineage) == 9


def test_merge_into_new_id_keeps_order_and_columns():
    g = grid()
    u = merge(g, ["22", "23"], into="X").units
    assert list(u.columns) == list(g.columns)
    assert list(u.index).index("X") == list(g.index).index("22")


def test_recode_and_names():
    g = grid()
    u = recode(g, "33", "99", name="new").units
    assert "99" in u.index and "33" not in u.index and u.loc["99", "name"] == "new"
    assert u.geometry["99"].equals(g.geometry["33"])
    u = recode(g, "33", name="only name").units
    assert u.loc["33", "name"] == "only name"


def test_dissolve_matches_geopandas():
    g = grid()
    res = dissolve(g, "region", extensive=["pop"])
    peer = g.dissolve(by="region", aggfunc={"pop": "sum"})
    assert sorted(res.units.index) == sorted(peer.index)
    for k in peer.index:
        assert res.units.loc[k, "pop"] == peer.loc[k, "pop"]
        assert shapely.symmetric_difference(res.units.geometry[k],
                                            peer.geometry[k]).area < AREA_TOL


# --- split ---------------------------------------------------------------------------------
def test_split_by_line_left_right_and_shares():
    g = grid()
    x = X0 + 30  # unit 11 spans X0..X0+100: 30 % west, 70 % east
    line = f"LINESTRING ({x} {Y0 - 50}, {x} {Y0 + 150})"  # going north: left = west
    res = split(g, "11", line, ["W", "E"], extensive=["pop", "gdp"], intensive=["dens"])
    u = res.units
    assert u.geometry["W"].area == pytest.approx(0.3 * CELL**2)
    assert u.geometry["E"].area == pytest.approx(0.7 * CELL**2)
    assert u.loc["W", "pop"] == 30 and u.loc["E", "pop"] == 70  # 100 split 30/70
    assert u.loc["W", "gdp"] + u.loc["E", "gdp"] == g.loc["11", "gdp"]
    assert u.loc["W", "dens"] == g.loc["11", "dens"]  # area-weighted intensive unchanged
    lin = res.lineage[res.lineage.old_id == "11"].set_index("new_id")
    assert lin.loc["W", "area_share"] == pytest.approx(0.3)
    assert check_coverage(u.geometry.values)["valid"]


def test_split_by_polygon_inside_then_remainder():
    g = grid()
    poly = box(X0 + 100 + 50, Y0 + 100 + 50, X0 + 400, Y0 + 400)  # NE quarter of unit 22
    u = split(g, "22", poly, ["in", "out"], extensive=["pop"]).units
    assert u.geometry["in"].area == pytest.approx(0.25 * CELL**2)
    assert u.geometry["out"].area == pytest.approx(0.75 * CELL**2)
    assert u.loc["in", "pop"] + u.loc["out", "pop"] == g.loc["22", "pop"]
    assert check_coverage(u.geometry.values)["valid"]


def test_split_by_several_polygons_and_names():
    g = grid().drop(columns="name")  # no name column: edits create it
    x, y = X0 + 100, Y0 + 100  # unit 22 spans x..x+100, y..y+100
    p1 = box(x - 10, y - 10, x + 20, y + 110)  # west 20 % of the unit
    p2 = box(x, y - 10, x + 70, y + 110)  # overlaps p1: only x+20..x+70 is left (50 %)
    res = split(g, "22", [p1, p2], ["a", "b", "c"], names=["A", "B", "C"],
                extensive=["pop"])
    u = res.units
    assert [u.geometry[k].area / CELL**2 for k in "abc"] == pytest.approx([0.2, 0.5, 0.3])
    assert list(u.loc[["a", "b", "c"], "name"]) == ["A", "B", "C"]
    assert u.loc["11", "name"] != u.loc["11", "name"]  # NaN for units never named
    assert u.loc[["a", "b", "c"], "pop"].sum() == g.loc["22", "pop"]
    with pytest.raises(EditError, match="give 3 parts but 2 new_ids"):
        split(g, "22", [p1, p2], ["a", "b"])


def test_split_errors():
    g = grid()
    far = f"LINESTRING ({X0 + 30} {Y0 + 5000}, {X0 + 30} {Y0 + 6000})"
    with pytest.raises(EditError, match=r"edit 1 \(split\).*does not cross unit '11'"):
        split(g, "11", far, ["a", "b"])
    with pytest.raises(EditError, match="exist already"):
        split(g, "11", far, ["a", "12"])
    with pytest.raises(EditError, match="neither WKT nor an existing file"):
        split(g, "11", "no such thing", ["a", "b"])


# --- transfer ------------------------------------------------------------------------------
def test_transfer_hand_solved():
    g = grid()
    # the west quarter of unit 21 moves to its western neighbour 11
    part = box(X0 + 100, Y0, X0 + 125, Y0 + 100)
    res = transfer(g, "21", "11", part, extensive=["pop"], intensive=["dens"])
    u = res.units
    assert u.geometry["11"].area == pytest.approx(1.25 * CELL**2)
    assert u.geometry["21"].area == pytest.approx(0.75 * CELL**2)
    assert u.loc["11", "pop"] == 100 + 50 and u.loc["21", "pop"] == 150
    # area-weighted density: (1 * d11 + 0.25 * d21) / 1.25
    assert u.loc["11", "dens"] == pytest.approx((100 + 0.25 * 200) / 1.25 / CELL**2)
    lin = res.lineage.set_index(["old_id", "new_id"])
    assert lin.loc[("21", "11"), "area_share"] == pytest.approx(0.25)
    assert check_coverage(u.geometry.values)["valid"]


def quadrants(g):
    """Four sub-units per unit: 'ij-sw', 'ij-se', 'ij-nw', 'ij-ne'."""
    ids, geoms = [], []
    for uid, geom in zip(g.index, g.geometry):
        x0, y0, x1, y1 = geom.bounds
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        for name, b in (("sw", (x0, y0, xm, ym)), ("se", (xm, y0, x1, ym)),
                        ("nw", (x0, ym, xm, y1)), ("ne", (xm, ym, x1, y1))):
            ids.append(f"{uid}-{name}")
            geoms.append(box(*b))
    return gpd.GeoDataFrame(geometry=geoms, index=pd.Index(ids, name="sub"), crs=g.crs)


def test_transfer_by_subunits():
    g = grid()
    subs = quadrants(g)
    res = transfer(g, "21", "11", subunit_ids=["21-sw", "21-nw"], subunits=subs,
                   extensive=["pop"])
    assert res.units.geometry["11"].area == pytest.approx(1.5 * CELL**2)
    assert res.units.loc["11", "pop"] == 100 + 100 and res.units.loc["21", "pop"] == 100
    assert check_coverage(res.units.geometry.values)["valid"]
    with pytest.raises(EditError, match="unknown sub-unit id"):
        transfer(g, "21", "11", subunit_ids=["21-xx"], subunits=subs)
    with pytest.raises(EditError, match="no sub-unit layer"):
        transfer(g, "21", "11", subunit_ids=["21-sw"])
    with pytest.raises(EditError, match="either 'part'"):
        load_scenario(sc({"op": "transfer", "from": "a", "to": "b"}))


def test_transfer_part_outside_a_is_refused():
    g = grid()
    with pytest.raises(EditError, match="lies outside unit '21'"):
        transfer(g, "21", "11", box(X0 + 500, Y0 + 500, X0 + 600, Y0 + 600))
    # a part straying into a third unit (31) by far more than the tolerance
    with pytest.raises(EditError, match=r"outside units '21' and '11'"):
        transfer(g, "21", "11", box(X0 + 150, Y0, X0 + 260, Y0 + 100))
    # a part reaching into the receiving unit is fine (already its land)
    res = transfer(g, "21", "11", box(X0 + 50, Y0, X0 + 125, Y0 + 100))
    assert res.units.geometry["21"].area == pytest.approx(0.75 * CELL**2)


def test_transfer_snaps_noise_and_leaves_no_slivers():
    g = grid()
    eps = 1e-7  # drawn 0.1 µm off the shared boundary: snapped, no sliver left behind
    part = box(X0 + 100 + eps, Y0 - 3, X0 + 125, Y0 + 100 + 3)
    u = transfer(g, "21", "11", part).units
    assert len(shapely.get_parts(u.geometry["21"])) == 1
    assert check_coverage(u.geometry.values, tolerance=1.0)["valid"]


def test_transfer_exchange_both_ways_hand_solved():
    # 21 gives its lower-left 30 x 50 m corner to 11; then 11 gives back a 40 x 20 m block
    # that straddles the old boundary (10 m of its own land, 30 m of what it just received)
    g = grid()
    first = box(X0 + 100, Y0, X0 + 130, Y0 + 50)
    back = box(X0 + 90, Y0 + 30, X0 + 130, Y0 + 50)
    res = apply_scenario(g, sc({"op": "transfer", "from": "21", "to": "11",
                                "part": first.wkt},
                               {"op": "transfer", "from": "11", "to": "21",
                                "part": back.wkt}), extensive=["pop"])
    u = res.units
    assert u.geometry["11"].area == pytest.approx(CELL**2 + 1500 - 800, abs=AREA_TOL)
    assert u.geometry["21"].area == pytest.approx(CELL**2 - 1500 + 800, abs=AREA_TOL)
    expected_21 = box(X0 + 100, Y0, X0 + 200, Y0 + 100).difference(first).union(back)
    assert u.geometry["21"].symmetric_difference(expected_21).area < AREA_TOL
    assert check_coverage(u.geometry.values)["valid"]  # exact coordinates, no grid
    assert res.report["coverage_after"]["valid"]
    assert not any(r.get("cleaned") for r in res.report["edits"])
    assert int(u["pop"].sum()) == int(g["pop"].sum())


def test_transfer_exchange_on_real_units_keeps_an_exact_coverage():
    # Bern units 582 -> 586 and back, by discs cut across their curved shared boundary: the
    # second cut leaves vertices closer than the 1 mm check grid; the exact coverage is
    # valid and no cleaning is needed (rounding alone must not raise a false alarm)
    full = datasets.load("swiss-2018")
    region = full[full["KTNR"] == 2]
    a, b = region.geometry["582"], region.geometry["586"]
    shared = shapely.line_merge(a.intersection(b))
    p1 = shapely.line_interpolate_point(shared, 0.2645654501488921, normalized=True)
    p2 = shapely.line_interpolate_point(shared, 0.6557325520266352, normalized=True)
    d1 = shapely.buffer(p1, 120.46945684113554).intersection(a)
    d2 = shapely.buffer(p2, 120.46945684113554).intersection(b.union(d1))
    res = apply_scenario(region, sc({"op": "transfer", "from": "582", "to": "586",
                                     "part": d1.wkt},
                                    {"op": "transfer", "from": "586", "to": "582",
                                     "part": d2.wkt}))
    u = res.units
    assert res.report["coverage_after"]["valid"]
    assert not any(r.get("cleaned") for r in res.report["edits"])
    pair = u.geometry[["582", "586"]].values
    assert check_coverage(pair)["valid"]
    total = a.area + b.area
    assert shapely.area(pair).sum() == pytest.approx(total, rel=1e-12)
    assert u.geometry["582"].area == pytest.approx(a.area - d1.area + d2.area, rel=1e-6)


# --- validation and untouched input --------------------------------------------------------
def test_unknown_ids_name_the_nearest_and_input_untouched():
    g = grid()
    before = g.copy()
    s = sc({"op": "recode", "unit": "11", "new_id": "A"},
           {"op": "merge", "units": ["A", "34"], "into": "A"})
    with pytest.raises(EditError) as exc:
        apply_scenario(g, s)
    msg = str(exc.value)
    assert msg.startswith("edit 2 (merge): unknown unit id(s) '34'")
    assert "nearest known ids: 33, 32" in msg
    from geopandas.testing import assert_geodataframe_equal

    assert_geodataframe_equal(g, before)


def test_merge_into_existing_non_member():
    with pytest.raises(EditError, match="'into' '33' is an existing unit"):
        merge(grid(), ["11", "12"], into="33")


@pytest.mark.parametrize("doc, pattern", [
    (sc({"op": "explode", "unit": "1"}), r"edit 1 \(explode\): unknown or missing op 'explode'"),
    (sc({"op": "merge", "units": ["1"], "into": "1"}), r"edit 1 \(merge\): merge needs at least"),
    (sc({"op": "recode", "unit": "1", "name": "a"}, {"op": "merge", "units": ["1", "2"]}),
     r"edit 2 \(merge\): missing key\(s\) 'into'"),
    (sc({"op": "recode", "unit": "1", "new": "2"}), r"edit 1 \(recode\): unknown key\(s\) 'new'"),
    (sc({"op": "split", "unit": "1", "by": "LINESTRING (0 0, 1 1)", "new_ids": ["a"]}),
     r"edit 1 \(split\): split needs at least two new_ids"),
    ({"scenario": {"name": "x"}, "edits": []}, r"unknown top-level key\(s\) 'edits'"),
    (sc({"op": "recode", "unit": 1.5, "new_id": "2"}), r"'unit' must be an id"),
])
def test_load_scenario_errors(doc, pattern):
    with pytest.raises(EditError, match=pattern):
        load_scenario(doc)


def test_scenario_toml_round_trip(tmp_path):
    doc = sc({"op": "merge", "units": ["51780", 51083], "into": "51083", "year": 1995,
              "note": "South Boston"},
             {"op": "recode", "unit": "340221", "new_id": "340209", "name": "湾沚区"},
             name="round trip")
    s = load_scenario(doc)
    assert s.edits[0]["units"] == ["51780", "51083"]  # ids become strings
    path = s.to_toml(tmp_path / "s.toml")
    again = load_scenario(path)
    assert again.to_dict() == s.to_dict()
    with pytest.raises(Exception, match="exists"):
        s.to_toml(path)
    from gisfix.io import provenance, read_provenance

    s.to_toml(path, overwrite=True, provenance=provenance({"old": None}, {"t": 1.5},
                                                         command="test"))
    assert read_provenance(path)["command"] == "test"
    assert load_scenario(path).to_dict() == s.to_dict()
    with pytest.raises(InputFileError):
        load_scenario(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[scenario\n", encoding="utf-8")
    with pytest.raises(EditError, match="not valid TOML"):
        load_scenario(tmp_path / "bad.toml")


def test_bad_columns():
    g = grid()
    with pytest.raises(EditError, match="no column 'people'"):
        merge(g, ["11", "12"], into="11", extensive=["people"])
    with pytest.raises(Exception, match="not numeric"):
        merge(g, ["11", "12"], into="11", extensive=["region"])
    with pytest.raises(EditError, match="both extensive and intensive"):
        merge(g, ["11", "12"], into="11", extensive=["pop"], intensive=["pop"])


# --- final coverage check ------------------------------------------------------------------
def test_check_coverage_only_masks_the_context():
    # a 0.5 m wide strip S between units A and B, all under C: a valid coverage
    a, s, b = box(0, 0, 100, 100), box(100, 0, 100.5, 100), box(100.5, 0, 200.5, 100)
    c = shapely.Polygon([(0, 100), (100, 100), (100.5, 100), (200.5, 100), (200.5, 200),
                         (0, 200)])
    assert check_coverage([a, s, b, c], tolerance=1.0)["valid"]
    # without S (a subset, as around an edit), A and B seem to face a gap narrower than 1 m
    alone = check_coverage([a, b, c], tolerance=1.0, ids=["A", "B", "C"])
    assert alone["invalid_ids"] == ["A", "B"] and alone["invalid_edge_length"] == 200.0
    # C has all its neighbours: reported as in the whole layer, A and B are only context
    only_c = check_coverage([a, b, c], tolerance=1.0, ids=["A", "B", "C"],
                            only=[False, False, True])
    assert only_c["valid"] and only_c["invalid_edge_length"] == 0.0


def test_check_around_edited_units_matches_the_whole_layer():
    from gisfix.edits.apply import _check_around

    g = grid(5, 5)
    ids = list(g.index)
    geoms = g.geometry.values.copy()
    k = ids.index("33")
    geoms[k] = shapely.affinity.translate(geoms[k], 5.0, 0.0)  # overlaps 43, 5 m gap to 23
    whole = check_coverage(geoms, tolerance=10.0, ids=ids)
    assert not whole["valid"]
    for which in (["33"], ["23"], ["11", "55"], ["32", "34"]):
        local = _check_around(ids, geoms, which, 10.0, 0.0)
        expected = sorted(set(whole["invalid_ids"]) & set(which))
        assert sorted(local["invalid_ids"]) == expected, which
        assert local["valid"] == (not expected)
    edges = shapely.coverage_invalid_edges(np.asarray(geoms), gap_width=10.0)
    assert _check_around(ids, geoms, ["33"], 10.0, 0.0)["invalid_edge_length"] == \
        pytest.approx(edges[k].length)


def test_final_check_catches_what_the_edits_broke(monkeypatch):
    """A recode is not checked when it runs (it keeps the geometry); the final check is."""
    from gisfix.edits import ops

    def shifted_recode(cov, number, edit):
        step = ops.op_recode(cov, number, edit)
        step.added = {i: shapely.affinity.translate(g, 5.0, 0.0) for i, g in step.added.items()}
        return step

    g = grid()
    s = sc({"op": "recode", "unit": "22", "new_id": "X"})
    res = apply_scenario(g, s)
    assert res.report["coverage_after"]["valid"]
    assert "1 units the edits created" in res.report["coverage_after"]["scope"]
    monkeypatch.setitem(ops.OPERATIONS, "recode", shifted_recode)
    with pytest.raises(EditError, match=r"left an invalid coverage \(units .*X"):
        apply_scenario(g, s)
    res = apply_scenario(g, s, check=False)  # unchecked: the damage is there
    assert not check_coverage(res.units.geometry.values)["valid"]


# --- dasymetric reallocation ---------------------------------------------------------------
def builtup_raster(path):
    """10 m year-built raster over the 3 x 3 grid: built (2000) only in the western 20 m of
    unit 11 (0.002 km²), never built elsewhere."""
    import rasterio
    from rasterio.transform import from_origin

    res_m = 10.0
    n = int(3 * CELL / res_m)
    arr = np.zeros((n, n), dtype=np.uint16)
    arr[n - 10:, 0:2] = 2000
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="uint16",
                       crs="EPSG:3035", transform=from_origin(X0, Y0 + 3 * CELL, res_m, res_m),
                       nodata=0) as dst:
        dst.write(arr, 1)
    return path


def test_dasymetric_split_follows_builtup(tmp_path):
    from gisfix.stack import open_builtup

    g = grid()
    stack = open_builtup(builtup_raster(tmp_path / "yb.tif"), "year-built")
    line = f"LINESTRING ({X0 + 50} {Y0 - 50}, {X0 + 50} {Y0 + 150})"
    res = split(g, "11", line, ["W", "E"], extensive=["pop"], stack=stack, epoch=2000)
    assert res.units.loc["W", "pop"] == 100 and res.units.loc["E", "pop"] == 0
    lin = res.lineage[res.lineage.old_id == "11"].set_index("new_id")
    assert lin.loc["W", "weight_share"] == pytest.approx(1.0)
    assert lin.loc["W", "area_share"] == pytest.approx(0.5)
    # a unit without built-up area falls back to area shares
    res = split(g, "33", f"LINESTRING ({X0 + 250} {Y0}, {X0 + 250} {Y0 + 400})", ["a", "b"],
                extensive=["pop"], stack=stack, epoch=2000)
    assert res.units.loc["a", "pop"] + res.units.loc["b", "pop"] == g.loc["33", "pop"]
    assert abs(res.units.loc["a", "pop"] - res.units.loc["b", "pop"]) <= 1


# --- lineage and harmonise -----------------------------------------------------------------
def test_lineage_composes_and_harmonises_a_panel():
    g = grid()
    s = sc({"op": "split", "unit": "11", "by": f"LINESTRING ({X0 + 50} {Y0 - 1}, "
            f"{X0 + 50} {Y0 + 101})", "new_ids": ["a", "b"]},
           {"op": "merge", "units": ["b", "21"], "into": "M"},
           {"op": "recode", "unit": "M", "new_id": "N"})
    res = apply_scenario(g, s, extensive=["pop"])
    res_d = apply_scenario(g, s, intensive=["dens"])
    lin = res.lineage.set_index(["old_id", "new_id"])
    assert lin.loc[("11", "a"), "area_share"] == pytest.approx(0.5)
    assert lin.loc[("11", "N"), "area_share"] == pytest.approx(0.5)
    assert lin.loc[("21", "N"), "area_share"] == 1.0
    assert res.lineage.groupby("old_id")["area_share"].sum().to_numpy() == pytest.approx(1.0)
    panel = pd.DataFrame({"code": list(g.index) * 2, "year": [2000] * 9 + [2010] * 9,
                          "pop": list(g["pop"]) + list(g["pop"] * 2),
                          "gdp": list(g["gdp"]) * 2})
    h = harmonise(panel, res.lineage, extensive=["pop", "gdp"], intensive=["pc=gdp/pop"],
                  id_col="code", time_col="year")
    h10 = h[h["year"] == 2010]
    assert h10.loc["N", "pop"] == 2 * (50 + 200)  # half of 11 (100) and all of 21
    assert h10["pop"].sum() == 2 * g["pop"].sum()
    assert math.fsum(h[h.year == 2000]["gdp"]) == math.fsum(g["gdp"])
    assert h10.loc["N", "pc"] == pytest.approx(h10.loc["N", "gdp"] / h10.loc["N", "pop"])
    # harmonising the input vintage reproduces the edited layer's reallocation
    h00 = h[h["year"] == 2000]
    assert (h00["pop"].reindex(res.units.index) == res.units["pop"]).all()
    hd = harmonise(g.drop(columns="geometry"), res.lineage, intensive=["dens"],
                   areas=g.geometry.area)
    assert hd.loc["N", "dens"] == pytest.approx(
        (0.5 * g.loc["11", "dens"] + g.loc["21", "dens"]) / 1.5)
    assert hd.loc["N", "dens"] == pytest.approx(res_d.units.loc["N", "dens"])
    with pytest.raises(EditError, match="need areas="):
        harmonise(g, res.lineage, intensive=["dens"])
    with pytest.raises(IdError, match="not in the lineage"):
        harmonise(pd.DataFrame({"pop": [1]}, index=["zz"]), res.lineage, extensive=["pop"])


# --- compare -------------------------------------------------------------------------------
def test_compare_against_pysal_inequality():
    from inequality.gini import Gini

    g = grid()
    s = sc({"op": "merge", "units": ["11", "12", "13"], "into": "W"})
    table = compare(g, s, value="pop")
    assert list(table.columns) == ["before", "after", "change"]
    assert table.loc["n_units", "before"] == 9 and table.loc["n_units", "after"] == 7
    after = g["pop"].drop(["11", "12", "13"]).tolist() + [g.loc[["11", "12", "13"], "pop"].sum()]
    assert table.loc["gini", "before"] == pytest.approx(Gini(g["pop"].to_numpy()).g)
    assert table.loc["gini", "after"] == pytest.approx(Gini(np.array(after, float)).g)
    assert table.loc["gini", "change"] == pytest.approx(
        table.loc["gini", "after"] - table.loc["gini", "before"])
    t2 = compare(g, s, measures=["gini", "williamson"], value="gdp_pc", weight="pop")
    assert list(t2.index) == ["gini", "williamson"]
    with pytest.raises(EditError, match="unknown measure"):
        compare(g, s, measures=["nope"], value="pop")
    with pytest.raises(EditError, match="needs value="):
        compare(g, s)


def test_compare_builtup_measures_by_hand(tmp_path):
    from gisfix.stack import open_builtup

    g = grid()
    stack = open_builtup(builtup_raster(tmp_path / "yb.tif"), "year-built")
    s = sc({"op": "merge", "units": ["11", "21"], "into": "M"})
    t = compare(g, s, value="gdp_pc", weight="pop", stack=stack, epoch=2000)
    assert t.loc["builtup_km2_total", "before"] == pytest.approx(0.002)
    assert t.loc["builtup_km2_total", "change"] == pytest.approx(0.0, abs=1e-12)
    assert t.loc["builtup_share_mean", "before"] == pytest.approx(0.2 / 9)
    assert t.loc["builtup_share_mean", "after"] == pytest.approx(0.1 / 8)  # 0.002 / 0.02 km²
    # people per built-up km²: unit 11 (100 people) before, 11 + 21 (300) after
    assert t.loc["density_per_builtup_km2_overall", "before"] == pytest.approx(100 / 0.002)
    assert t.loc["density_per_builtup_km2_overall", "after"] == pytest.approx(300 / 0.002)
    assert t.loc["n_units", "after"] == 8


# --- properties ----------------------------------------------------------------------------
def _random_scenario(rng, g, n_edits):
    """Random merges of neighbours, line splits, transfers of strips and recodes."""
    cur = {i: geom for i, geom in zip(g.index, g.geometry)}
    edits, fresh = [], iter(f"n{k}" for k in range(1000))
    for _ in range(n_edits):
        ids = sorted(cur)
        op = rng.choice(["merge", "split", "transfer", "recode"])
        a = ids[rng.integers(len(ids))]
        ga = cur[a]
        nbrs = [b for b in ids if b != a and ga.intersection(cur[b]).length > 1]
        if op == "merge" and nbrs:
            b = nbrs[rng.integers(len(nbrs))]
            into = a if rng.random() < 0.5 else next(fresh)
            edits.append({"op": "merge", "units": [a, b], "into": into})
            cur[into] = shapely.union(cur.pop(a), cur.pop(b))
        elif op == "split":
            x0, y0, x1, y1 = ga.bounds
            x = x0 + (x1 - x0) * rng.uniform(0.3, 0.7)
            line = shapely.LineString([(x, y0 - 10), (x, y1 + 10)])
            parts = shapely.get_parts(shapely.ops.split(ga, line))
            if len(parts) < 2:
                continue
            new = [next(fresh), next(fresh)]
            edits.append({"op": "split", "unit": a, "by": line.wkt, "new_ids": new})
            cur.pop(a)
            cur[new[0]] = shapely.union_all([p for p in parts if p.centroid.x < x])
            cur[new[1]] = shapely.union_all([p for p in parts if p.centroid.x >= x])
        elif op == "transfer" and nbrs:
            b = nbrs[rng.integers(len(nbrs))]
            shared = ga.intersection(cur[b])
            strip = shapely.intersection(shapely.buffer(shared, CELL * rng.uniform(0.1, 0.3),
                                                        cap_style="flat"), ga)
            strip = shapely.intersection(strip, shapely.box(*strip.bounds))
            rest = shapely.difference(ga, strip)
            if strip.area < 50 or rest.area < 0.2 * ga.area:
                continue
            edits.append({"op": "transfer", "from": a, "to": b, "part": strip.wkt})
            cur[a] = rest
            cur[b] = shapely.union(cur[b], strip)
        elif op == "recode":
            new = next(fresh)
            edits.append({"op": "recode", "unit": a, "new_id": new})
            cur[new] = cur.pop(a)
    return sc(*edits)


def _check_invariants(g, res):
    u = res.units
    assert check_coverage(u.geometry.values)["valid"]
    assert res.report["coverage_after"]["valid"]
    assert res.report["sliver_parts"]["count"] == 0
    assert shapely.union_all(u.geometry.values).area == pytest.approx(
        shapely.union_all(g.geometry.values).area, rel=1e-9)
    assert int(u["pop"].sum()) == int(g["pop"].sum())  # integers: exact
    assert math.fsum(u["gdp"]) == math.fsum(g["gdp"])  # floats: exact to the last bit
    shares = res.lineage.groupby("old_id")[["area_share", "weight_share"]].sum()
    assert np.allclose(shares.to_numpy(), 1.0)
    assert set(res.lineage["new_id"]) == set(u.index)


def test_property_random_sequences_on_grid():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    g = grid(4, 4)

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 8))
    def run(seed, n):
        s = _random_scenario(np.random.default_rng(seed), g, n)
        res = apply_scenario(g, s, extensive=["pop", "gdp"], intensive=["gdp_pc=gdp/pop"])
        _check_invariants(g, res)
        h = harmonise(g.drop(columns="geometry"), res.lineage, extensive=["pop", "gdp"])
        assert int(h["pop"].sum()) == int(g["pop"].sum())
        # harmonising through the lineage reproduces the edited layer's reallocation
        assert (h["pop"].reindex(res.units.index) == res.units["pop"]).all()

    assert hypothesis is not None
    run()


def test_property_random_merges_on_real_swiss_units():
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    full = datasets.load("swiss-2018")
    region = full[full["KTNR"] == 2].copy()  # canton of Bern: ~350 real units
    region["pop"] = np.arange(len(region), dtype=np.int64) * 13 + 5
    region["gdp"] = np.linspace(0.1, 99.7, len(region))

    @settings(max_examples=6, deadline=None, derandomize=True)
    @given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6))
    def run(seed, n):
        s = _random_scenario(np.random.default_rng(seed), region, n)
        res = apply_scenario(region, s, extensive=["pop", "gdp"])
        _check_invariants(region, res)

    run()


def test_property_dasymetric_conserves(tmp_path):
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gisfix.stack import open_builtup

    g = grid()
    stack = open_builtup(builtup_raster(tmp_path / "yb.tif"), "year-built")

    @settings(max_examples=10, deadline=None, derandomize=True)
    @given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5))
    def run(seed, n):
        s = _random_scenario(np.random.default_rng(seed), g, n)
        res = apply_scenario(g, s, extensive=["pop", "gdp"], stack=stack, epoch=2000)
        _check_invariants(g, res)

    run()


def test_geographic_units_use_true_area_shares():
    from pyproj import Geod

    va = datasets.load("virginia-pre1995")
    unit = "51083"  # Halifax County
    x0, y0, x1, y1 = va.geometry[unit].bounds
    cut = box(x0 - 1, y0 - 1, (x0 + x1) / 2, y1 + 1)  # west of the middle meridian
    res = split(va, unit, cut, ["west", "east"])
    geod = Geod(ellps="WGS84")
    west = abs(geod.geometry_area_perimeter(res.units.geometry["west"])[0])
    east = abs(geod.geometry_area_perimeter(res.units.geometry["east"])[0])
    lin = res.lineage[res.lineage.old_id == unit].set_index("new_id")
    assert lin.loc["west", "area_share"] == pytest.approx(west / (west + east), rel=1e-4)
    assert res.report["coverage_after"]["valid"]


# --- real vintages -------------------------------------------------------------------------
VIRGINIA = sc(
    {"op": "merge", "units": ["51780", "51083"], "into": "51083", "year": 1995,
     "note": "South Boston city reverts to a town in Halifax County"},
    {"op": "merge", "units": ["51560", "51005"], "into": "51005", "year": 2001,
     "note": "Clifton Forge city reverts to a town in Alleghany County"},
    {"op": "merge", "units": ["51515", "51019"], "into": "51019", "year": 2013,
     "note": "Bedford city reverts to a town in Bedford County"},
    name="Virginia independent-city reversions")


def test_virginia_reversions_match_2017():
    old = datasets.load("virginia-pre1995")
    new = datasets.load("virginia-2017", make_valid=True, drop_empty=True)
    res = apply_scenario(old, VIRGINIA)
    assert len(res.units) == len(old) - 3 and res.units.index.name == "FIPS"
    assert res.report["coverage_after"]["valid"]
    a, b = res.units.to_crs(5070), new.to_crs(5070)
    for fips in ("51083", "51005", "51019"):
        assert iou(a.geometry[fips], b.geometry[fips]) >= IOU_VIRGINIA, fips
    assert set(res.units.index) <= set(new.index) | {"51610"}


def test_wuhu_recodes_and_merge(shared):
    import gisfix

    folder = shared("china_wuhu_adjustment")
    before = gisfix.read_boundaries(folder / "wuhu_before_made_valid.geojson", id="adcode")
    after = gisfix.read_boundaries(folder / "wuhu_after.geojson", id="adcode", make_valid=True)
    s = sc({"op": "recode", "unit": "340221", "new_id": "340210", "name": "湾沚区"},
           {"op": "recode", "unit": "340222", "new_id": "340212", "name": "繁昌区"},
           {"op": "recode", "unit": "340225", "new_id": "340281", "name": "无为市"},
           {"op": "merge", "units": ["340203", "340208"], "into": "340209", "name": "弋江区"},
           name="Wuhu 2019-2020")
    res = apply_scenario(before, s)
    assert sorted(res.units.index) == sorted(after.index)
    aea = "+proj=aea +lat_0=36 +lat_1=24 +lat_2=48 +lon_0=104.5 +datum=WGS84 +units=m"
    a, b = res.units.to_crs(aea), after.to_crs(aea)
    for code in b.index:
        assert iou(a.geometry[code], b.geometry[code]) >= IOU_WUHU, code
        assert a.loc[code, "name"] == b.loc[code, "name"]


#: A 2024 unit that merged and also gained land by a transfer this scenario leaves out.
SWISS_NOT_MERGE_ONLY = {"304"}


def swiss_merge_scenario(s18, s24):
    """Merge groups 2018 -> 2024 by largest overlap (the benchmark's workload too)."""
    gone = s18.index.difference(s24.index)
    ov = gpd.overlay(s18.loc[gone].reset_index()[["id", "geometry"]],
                     s24.reset_index()[["id", "geometry"]], keep_geom_type=True)
    ov["a"] = ov.area
    target = ov.sort_values("a").groupby("id_1")["id_2"].last()
    edits = []
    for into, members in target.groupby(target).groups.items():
        units = sorted(members) + ([into] if into in s18.index else [])
        edits.append({"op": "merge", "units": units, "into": into})
    return sc(*edits, name="Swiss mergers 2018-2024")


def test_swiss_mergers_and_split_fast_and_faithful():
    s18, s24 = datasets.load("swiss-2018"), datasets.load("swiss-2024")
    s = swiss_merge_scenario(s18, s24)
    assert len(s["edit"]) == 55
    # Cugnasco-Gerra (5138) is split roughly in half and Lavertezzo (5112) gives 57 of its
    # 58 km² (Lavertezzo Valle): those parts join the new Verzasca (5399).  Split both by
    # the 2024 polygon of Verzasca, then merge the parts.
    verz = shapely.to_wkt(s24.geometry["5399"], rounding_precision=-1)
    for unit in ("5138", "5112"):
        s["edit"].insert(0, {"op": "split", "unit": unit, "by": verz,
                             "new_ids": [f"{unit}-v", unit]})
    merge_v = next(e for e in s["edit"] if e.get("into") == "5399")
    merge_v["units"] += ["5138-v", "5112-v"]
    s18 = s18.assign(pop=np.arange(len(s18), dtype=np.int64) * 11)
    t0 = time.perf_counter()
    res = apply_scenario(s18, s, extensive=["pop"])
    elapsed = time.perf_counter() - t0
    assert elapsed < 10, elapsed
    assert res.report["coverage_after"]["valid"]
    assert res.units["pop"].sum() == s18["pop"].sum()
    assert sorted(res.units.index) == sorted(s24.index)
    share = res.lineage.set_index(["old_id", "new_id"]).loc[("5138", "5399"), "area_share"]
    assert 0.3 < share < 0.7  # "roughly in half"
    checked = [e["into"] for e in s["edit"] if e["op"] == "merge"] + ["5138", "5112"]
    checked = [i for i in checked if i not in SWISS_NOT_MERGE_ONLY]
    assert len(checked) == 56
    a = res.units.geometry[checked].values
    b = s24.geometry[checked].values
    ious = shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))
    assert ious.min() >= IOU_SWISS, dict(zip(checked, ious.round(4)))


# --- CLI -----------------------------------------------------------------------------------
def test_cli_edit_virginia(tmp_path, run_cli):
    import pyogrio
    import tomli_w

    from gisfix.io import read_provenance

    scen = tmp_path / "va.toml"
    scen.write_text(tomli_w.dumps(VIRGINIA), encoding="utf-8")
    out = tmp_path / "va.gpkg"
    path = datasets.get_path("virginia-pre1995")
    r = run_cli("edit", path, scen, "--id", "FIPS", "--layer", "counties_pre1995", "-o", out)
    assert r.exit_code == 0, r.output
    units = pyogrio.read_dataframe(out, layer="units")
    lineage = pyogrio.read_dataframe(out, layer="lineage")
    assert "FIPS" in units.columns and len(units) == 133
    assert list(lineage.columns) == ["old_id", "new_id", "area_share", "weight_share"]
    assert read_provenance(out)["command"] == "gisfix edit"
    r = run_cli("edit", path, scen, "--id", "FIPS", "--layer", "counties_pre1995", "-o", out)
    assert r.exit_code == 1 and "exists" in r.output


def test_cli_edit_bad_input(tmp_path, run_cli):
    scen = tmp_path / "bad.toml"
    scen.write_text('[scenario]\nname = "x"\n[[edit]]\nop = "merge"\nunits = ["51780", '
                    '"99999"]\ninto = "51083"\n', encoding="utf-8")
    path = datasets.get_path("virginia-pre1995")
    r = run_cli("edit", path, scen, "--id", "FIPS", "--layer", "counties_pre1995",
                "-o", tmp_path / "o.gpkg")
    assert r.exit_code == 1
    assert "gisfix: error: edit 1 (merge): unknown unit id(s) '99999'" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "o.gpkg").exists()
    r = run_cli("edit", path, tmp_path / "none.toml", "--id", "FIPS", "--layer",
                "counties_pre1995", "-o", tmp_path / "o.gpkg")
    assert r.exit_code == 1 and "no such scenario file" in r.output


def test_cli_edit_dasymetric_with_attributes(tmp_path, run_cli):
    import pyogrio
    import tomli_w

    g = grid()
    src = tmp_path / "grid.gpkg"
    g.reset_index().to_file(src, layer="units")
    raster = builtup_raster(tmp_path / "yb.tif")
    scen = tmp_path / "s.toml"
    line = f"LINESTRING ({X0 + 50} {Y0 - 50}, {X0 + 50} {Y0 + 150})"
    scen.write_text(tomli_w.dumps(sc({"op": "split", "unit": "11", "by": line,
                                      "new_ids": ["W", "E"]})), encoding="utf-8")
    out = tmp_path / "out.gpkg"
    r = run_cli("edit", src, scen, "--id", "code", "-o", out, "--extensive", "pop,gdp",
                "--intensive", "gdp_pc=gdp/pop", "--raster", raster, "--encoding",
                "year-built", "--epoch", "2000")
    assert r.exit_code == 0, r.output
    units = pyogrio.read_dataframe(out, layer="units").set_index("code")
    assert units.loc["W", "pop"] == 100 and units.loc["E", "pop"] == 0
    assert units.loc["W", "gdp"] == g.loc["11", "gdp"]
    assert units.loc["W", "gdp_pc"] == pytest.approx(g.loc["11", "gdp_pc"])
    subs = tmp_path / "subs.gpkg"
    quadrants(g).reset_index().to_file(subs, layer="subs")
    scen2 = tmp_path / "t.toml"
    scen2.write_text(tomli_w.dumps(sc({"op": "transfer", "from": "21", "to": "11",
                                       "units": ["21-sw", "21-nw"]})), encoding="utf-8")
    r = run_cli("edit", src, scen2, "--id", "code", "-o", tmp_path / "t.gpkg", "--subunits",
                subs, "--subunit-id", "sub", "--extensive", "pop")
    assert r.exit_code == 0, r.output
    t = pyogrio.read_dataframe(tmp_path / "t.gpkg", layer="units").set_index("code")
    assert t.loc["11", "pop"] == 200
    r = run_cli("edit", src, scen, "--id", "code", "-o", tmp_path / "o2.gpkg",
                "--extensive", "nope")
    assert r.exit_code == 1 and "no column 'nope'" in r.output


def test_unit_status_hand_case():
    import pandas as pd

    from gisfix.edits.lineage import unit_status

    lineage = pd.DataFrame({
        "old_id": ["a", "b", "c", "d", "d", "e"],
        "new_id": ["a", "x", "x", "d", "f", "g"],
        "area_share": [1.0, 1.0, 1.0, 0.7, 0.3, 1.0],
        "weight_share": [1.0, 1.0, 1.0, 0.7, 0.3, 1.0]})
    got = unit_status(lineage, ["a", "x", "d", "f", "g"])
    assert got.to_dict() == {"a": "unchanged", "x": "merged", "d": "boundary changed",
                             "f": "boundary changed", "g": "recoded"}


def test_edit_cli_output_styled_by_status(run_cli, tmp_path):
    import pyogrio

    from gisfix import datasets
    from gisfix.workflows.demo import VIRGINIA_SCENARIO

    out = tmp_path / "va.gpkg"
    r = run_cli("edit", datasets.get_path("virginia-pre1995"), VIRGINIA_SCENARIO, "--id", "FIPS",
                "--layer", "counties_pre1995", "-o", out)
    assert r.exit_code == 0, r.output
    units = pyogrio.read_dataframe(out, layer="units").set_index("FIPS")
    assert units.loc[["51083", "51005", "51019"], "status"].eq("merged").all()
    assert (units["status"] == "unchanged").sum() == 130
