"""The four-stage model: each rule on hand-made evidence; real cities as evidence tables.

The real-data tests print the stage table of DC-Baltimore 1975-2030 (GHSL year-built),
Lausanne 2000-2012 (CORINE urban, ``class=1``) and Bacau <1975-2014 (GHSL LDSMT) and check
every evidence column against the measure it comes from (stack totals, LEI, core-periphery,
largest patch), so the labels can be audited.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gisfix import diffusion as d
from gisfix.errors import DataError
from gisfix.lei import growth_type_mix, landscape_expansion_index
from gisfix.stack import open_builtup
from gisfix.stages import STAGES, StageRules, city_stages, classify_stages, stage_evidence

REL = 1e-9


def row(**kw):
    base = {"t0": 2000, "t1": 2010, "cagr": 0.03, "accelerating": None,
            "share_infilling": 0.2, "share_outlying": 0.05, "core_share_new": 0.8,
            "d_largest_patch_share": 0.01}
    base.update(kw)
    return base


def test_each_rule_fires():
    ev = pd.DataFrame([
        row(),  # fast, concentrated, edge-dominated -> 1
        row(cagr=0.01, accelerating=False),  # concentrated but slowing -> 2
        row(cagr=0.03, share_infilling=0.7),  # concentrated, mostly infill -> 2
        row(cagr=0.01, accelerating=True),  # accelerating -> 1
        row(core_share_new=0.3),  # most growth outside the core -> 3
        row(share_outlying=0.4),  # leapfrog -> 3
        row(d_largest_patch_share=-0.05),  # main mass loses weight -> 3
        row(cagr=0.004, core_share_new=0.1),  # slow growth wins over dispersal -> 4
    ])
    out = classify_stages(ev)
    assert out["stage"].tolist() == [1, 2, 2, 1, 3, 3, 3, 4]
    assert out["stage_name"].tolist() == [STAGES[s] for s in out["stage"]]
    assert out["dispersing"].tolist() == [False] * 4 + [True] * 4
    assert "core_share_new 0.300 < 0.5" in out.loc[4, "rule"]
    assert "cagr 0.0040 < stable_growth 0.005" in out.loc[7, "rule"]


def test_rules_are_configurable_and_checked():
    ev = pd.DataFrame([row(cagr=0.01, accelerating=False)])
    assert classify_stages(ev)["stage"].item() == 2
    assert classify_stages(ev, StageRules(stable_growth=0.015, fast_growth=0.02))[
        "stage"].item() == 4
    assert classify_stages(ev, StageRules(fast_growth=0.01))["stage"].item() == 1
    with pytest.raises(DataError, match="must not exceed"):
        StageRules(stable_growth=0.05, fast_growth=0.02)
    with pytest.raises(DataError, match="finite number >= 0"):
        StageRules(core_share_min=-1)
    with pytest.raises(DataError, match="lacks column"):
        classify_stages(ev.drop(columns="core_share_new"))


def check_evidence(stack, st):
    """Every evidence column against its own measure."""
    total = stack.summary()["builtup_km2"]
    for _, r in st.iterrows():
        t0, t1 = int(r["t0"]), int(r["t1"])
        assert r["builtup_t0_km2"] == pytest.approx(total[t0], rel=1e-6)
        assert r["cagr"] == pytest.approx((total[t1] / total[t0]) ** (1 / (t1 - t0)) - 1,
                                          rel=1e-6)
    lps = d.largest_patch_share(stack, list(st["t0"]) + [int(st["t1"].iloc[-1])])
    assert st["largest_patch_share_t0"].tolist() == pytest.approx(lps.iloc[:-1].tolist())
    # one period in full: LEI mix and core share from the public functions
    r = st.iloc[len(st) // 2]
    t0, t1 = int(r["t0"]), int(r["t1"])
    mix = growth_type_mix(landscape_expansion_index(stack, t0, t1, polygons=False))
    assert r["share_infilling"] == pytest.approx(mix["share_infilling"], rel=REL)
    assert r["share_outlying"] == pytest.approx(mix["share_outlying"], rel=REL)
    assert r["new_patches"] == mix["new_patches"]
    assert r["core_share_new"] == pytest.approx(
        d.core_periphery(stack, t0, t1)["core_share_new"], rel=REL)
    # the labels follow the rules
    rules = StageRules()
    assert ((st["stage"] == 4) == (st["cagr"] < rules.stable_growth)).all()
    assert st.loc[st["stage"] == 3, "dispersing"].all()
    assert not st.loc[st["stage"].isin([1, 2]), "dispersing"].any()


def show(name, st):
    cols = ["t0", "t1", "cagr", "share_infilling", "share_edge_expansion", "share_outlying",
            "core_share_new", "d_largest_patch_share", "stage", "stage_name"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"\n{name}\n{st[cols].round(4).to_string(index=False)}")


@pytest.mark.shared
def test_dc_1975_2030(shared):
    stack = open_builtup(shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif"),
                         "year-built")
    st = city_stages(stack)
    show("DC-Baltimore (GHSL year-built, 100 m)", st)
    assert list(st["t0"]) == list(range(1975, 2030, 5))
    check_evidence(stack, st)


@pytest.mark.shared
def test_lausanne_2000_2012(shared):
    folder = shared("clc_lausanne")
    paths = sorted(folder.glob("clc_urban_*_100m_epsg3035.tif"))
    stack = open_builtup(paths, "class=1")
    st = city_stages(stack)
    show("Lausanne region (CORINE urban, class=1)", st)
    assert list(zip(st["t0"], st["t1"])) == [(2000, 2006), (2006, 2012)]
    check_evidence(stack, st)


@pytest.mark.shared
def test_bacau_1975_2014(shared):
    stack = open_builtup(shared("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif"),
                         "ldsmt")
    st = city_stages(stack)
    show("Bacau (GHSL LDSMT, 30 m, geographic)", st)
    assert list(zip(st["t0"], st["t1"])) == [(1975, 1990), (1990, 2000), (2000, 2014)]
    check_evidence(stack, st)


@pytest.mark.shared
def test_gini_evidence_with_units(shared):
    import geopandas as gpd

    from gisfix.inequality import gini
    from gisfix.zonal import builtup_by_unit

    stack = open_builtup(shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif"),
                         "year-built", epochs=[1990, 2000, 2010])
    counties = gpd.read_file(shared("ghsl_dc_baltimore", "counties_2017_census.gpkg"),
                             layer="counties").set_index("fips")
    table = builtup_by_unit(counties, stack, method="centre")
    ev = stage_evidence(stack, table=table)
    t = table[table["epoch"] == 2000]
    assert ev.loc[0, "gini_t1"] == pytest.approx(
        gini(t["builtup_km2"] / t["valid_km2"], weights=t["valid_km2"]))
    assert np.isfinite(ev["d_gini"]).all()
    with pytest.raises(DataError, match="at least two epochs"):
        stage_evidence(stack, [1990])


# -- cities through time, units, the regional system ---------------------------------------
def _series(tmp_path, arrays):
    import rasterio
    from rasterio.transform import from_origin

    paths = []
    for year, arr in arrays.items():
        path = tmp_path / f"b_{year}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0],
                           count=1, dtype="uint8", crs="EPSG:3035", nodata=255,
                           transform=from_origin(4_000_000, 3_000_000, 100, 100)) as ds:
            ds.write(arr.astype("uint8"), 1)
        paths.append(path)
    return open_builtup(paths, "binary")


def tracking_case():
    """2000: A (3x3), B (2x2); 2010: A grows to 4x4, C born (2x2); 2020: bridge A-B, C 3x3."""
    a = np.zeros((20, 20), np.uint8)
    a[2:5, 2:5] = 1
    a[2:4, 8:10] = 1
    b = a.copy()
    b[2:6, 2:6] = 1
    b[14:16, 14:16] = 1
    c = b.copy()
    c[3, 6:8] = 1
    c[14:17, 14:17] = 1
    return {2000: a, 2010: b, 2020: c}


ONE_CELL = {"kind": "cluster", "block": 1, "threshold": 0.5, "connectivity": 8,
            "min_area_km2": 0, "fill_holes_km2": 0, "smooth": False}


def test_city_stages_on_a_hand_built_region(tmp_path):
    """Every number derived by hand from the drawing in ``tracking_case``."""
    from gisfix.stages import stages_by_extents

    res = stages_by_extents(_series(tmp_path, tracking_case()), extent_options=ONE_CELL)
    st = res.stages.set_index(["t1", "zone_id"])
    assert sorted(st.index) == [(2010, 1), (2010, 2), (2010, 3), (2020, 1), (2020, 3)]
    ha = 0.01  # km2 per cell
    # city 1 (A) 2000 -> 2010: 9 -> 16 cells, all new land outside A's 2000 extent
    r = st.loc[(2010, 1)]
    assert (r["builtup_t0_km2"], r["builtup_t1_km2"], r["new_km2"]) == pytest.approx(
        (9 * ha, 16 * ha, 7 * ha))
    assert r["cagr"] == pytest.approx((16 / 9) ** 0.1 - 1)
    assert r["core_share_new"] == 0 and r["stage"] == 3 and r["event"] == "growth"
    # city 2 (B) does not grow: stable; city 3 (C) is born: no growth rate, no core
    assert st.loc[(2010, 2), "cagr"] == 0 and st.loc[(2010, 2), "stage"] == 4
    assert st.loc[(2010, 3), "event"] == "birth" and pd.isna(st.loc[(2010, 3), "stage"])
    assert np.isnan(st.loc[(2010, 3), "core_share_new"])
    # city 1 2010 -> 2020: A + B + a 2-cell bridge; coalescence
    r = st.loc[(2020, 1)]
    assert r["event"] == "coalescence" and r["parent_ids"] == "1;2"
    assert (r["builtup_t0_km2"], r["new_km2"]) == pytest.approx((20 * ha, 2 * ha))
    assert r["cagr"] == pytest.approx((22 / 20) ** 0.1 - 1)
    assert r["accelerating"] is False            # 0.0096 after 0.0592
    # the bridge's ring: 10 cells, 5 built in 2010 (3 of A, 2 of B) -> LEI 50: edge
    assert r["new_patches"] == 1 and r["share_edge_expansion"] == 1.0
    # largest patch: 16 of 20 built cells in 2010, all 22 in 2020
    assert r["d_largest_patch_share"] == pytest.approx(1 - 16 / 20)
    # centroid of the built cells, 2010 -> 2020 (cell centres, equal areas)
    cells0 = [(i, j) for i in range(2, 6) for j in range(2, 6)] + [(2, 8), (2, 9), (3, 8),
                                                                    (3, 9)]
    cells1 = cells0 + [(3, 6), (3, 7)]
    x0 = np.mean([4_000_000 + (j + 0.5) * 100 for _, j in cells0])
    x1 = np.mean([4_000_000 + (j + 0.5) * 100 for _, j in cells1])
    y0 = np.mean([3_000_000 - (i + 0.5) * 100 for i, _ in cells0])
    y1 = np.mean([3_000_000 - (i + 0.5) * 100 for i, _ in cells1])
    assert (r["x_t0"], r["x_t1"], r["y_t1"]) == pytest.approx((x0, x1, y1))
    assert r["shift_m"] == pytest.approx(np.hypot(x1 - x0, y1 - y0))
    # geometry layers: a point and an ellipse per city, period and epoch with built land
    # (C, born in 2010, has none in 2000)
    assert len(res.centroids) == 2 * len(res.stages) - 1
    assert res.centroids.geometry.geom_type.unique().tolist() == ["Point"]
    e = res.ellipses.set_index(["zone_id", "t1", "epoch"]).loc[(3, 2020, 2020)]
    assert e["sigma_major_m"] == pytest.approx(e["sigma_minor_m"])   # a 3 x 3 square
    assert e.geometry.area == pytest.approx(np.pi * e["sigma_major_m"] ** 2, rel=2e-3)
    # the regional system of 2010 -> 2020: sizes 16, 4, 4 -> 22, 9
    sysr = res.system.set_index("t1").loc[2020]
    assert sysr["secondary_growth_share"] == pytest.approx(5 / 7)
    assert sysr["d_primacy_2"] == pytest.approx(22 / 9 - 16 / 4)
    b2_0 = np.polyfit(np.log([1, 2]), np.log([16, 4]), 1)[0]
    b3_0 = np.polyfit(np.log([1, 2, 3]), np.log([16, 4, 4]), 1)[0]
    b2_1 = np.polyfit(np.log([1, 2]), np.log([22, 9]), 1)[0]
    assert sysr["polycentricity_bm_t0"] == pytest.approx((b2_0 + b3_0) / 2)
    assert sysr["d_polycentricity_bm"] == pytest.approx(b2_1 - (b2_0 + b3_0) / 2)
    assert (sysr["coalescences"], sysr["cities_absorbed"], sysr["births"]) == (1, 1, 0)
    assert sysr["regional_stage"] == 4 and sysr["regional_rule"].startswith("R4a")


def test_polycentricity_by_hand():
    from gisfix.stages import polycentricity

    assert polycentricity([5, 5, 5, 5, 1]) == 0.0
    assert polycentricity([100, 50]) == pytest.approx(-1.0)
    sizes = [120.0, 60.0, 30.0, 25.0, 3.0]
    want = np.mean([np.polyfit(np.log(np.arange(1, n + 1)), np.log(sizes[:n]), 1)[0]
                    for n in (2, 3, 4)])
    assert polycentricity(sizes) == pytest.approx(want)
    assert np.isnan(polycentricity([7.0]))


def test_regional_rules_by_hand():
    """Each regional rule on a constructed series; the labels derived by hand."""
    from gisfix.stages import classify_region

    base = {"primate_city_id": 1, "n_cities_t1": 5, "secondary_growth_share": 0.6,
            "d_primacy_2": -0.1, "d_polycentricity_bm": 0.05, "coalescences": 0}
    system = pd.DataFrame([
        {"t0": 1990, **base},                                      # R4a
        {"t0": 2000, **base, "secondary_growth_share": 0.3},        # primate city: stage 1
        {"t0": 2010, **base, "d_primacy_2": 0.2, "coalescences": 2},  # R4b: primate in 3
        {"t0": 2020, **base, "d_polycentricity_bm": -0.2},          # primate city: stage 2
        {"t0": 2030, **base, "n_cities_t1": 1},                     # one city: its stage, 4
    ])
    cities = pd.DataFrame({"t0": [1990, 2000, 2010, 2020, 2030], "zone_id": [1] * 5,
                           "stage": [1, 1, 3, 2, 4]})
    out = classify_region(system, cities)
    assert out["regional_stage"].tolist() == [4, 1, 4, 2, 4]
    assert out["regional_rule"].str[:3].tolist() == ["R4a", "pri", "R4b", "pri", "pri"]
    assert out.loc[2, "regional_stage_name"] == "stable regional system"
    # a stricter threshold moves the first period to the primate city's label
    assert classify_region(system, cities, StageRules(secondary_share_min=0.7))[
        "regional_stage"].iloc[0] == 1
    with pytest.raises(DataError, match="lacks column"):
        classify_region(system.drop(columns="coalescences"), cities)


@pytest.mark.shared
def test_dc_city_stages_evidence_is_the_per_city_measures(shared):
    """DC-Baltimore, 1990-2000-2010: one label per tracked city and period; every evidence
    column recomputed here from the raster, the extent polygons and the LEI patch polygons.
    """
    import geopandas as gpd
    import rasterio
    from rasterio.features import rasterize
    from scipy import ndimage

    from gisfix.stages import stages_by_extents

    path = shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
    stack = open_builtup(path, "year-built", epochs=[1990, 2000, 2010])
    res = stages_by_extents(stack)
    st = res.stages
    ext = res.tracks.extents
    # one label per tracked extent and period
    want = {(int(e), int(c)) for e, c in zip(ext["epoch"], ext["city_id"]) if e > 1990}
    assert set(zip(st["t1"], st["zone_id"])) == want and len(st) == len(want)
    assert st["stage"].notna().sum() >= len(st) - (st["event"] == "birth").sum()
    with rasterio.open(path) as ds:
        year = ds.read(1)
        t = ds.transform
    cell_km2 = abs(t.a * t.e) / 1e6
    rows = np.arange(year.shape[0]) + 0.5
    cols = np.arange(year.shape[1]) + 0.5
    xs, ys = t.c + t.a * cols, t.f + t.e * rows
    own = []
    for (a, b), part in st.groupby(["t0", "t1"]):
        b0 = (year <= a) & (year != 65535)
        b1 = (year <= b) & (year != 65535)
        new = b1 & ~b0
        e1 = ext[ext["epoch"] == b].set_index("city_id")
        core = rasterize(list(ext.loc[ext["epoch"] == a, "geometry"]), out_shape=year.shape,
                         transform=t).astype(bool)
        patches = landscape_expansion_index(stack, a, b)
        inter = gpd.overlay(patches.reset_index()[["patch_id", "area_km2", "growth_type",
                                                    "geometry"]],
                            e1.reset_index()[["city_id", "geometry"]], how="intersection",
                            keep_geom_type=True)
        inter["a"] = inter.geometry.area
        best = inter.sort_values("a", ascending=False).drop_duplicates("patch_id")
        for cid in part["zone_id"]:
            z = rasterize([e1.loc[cid, "geometry"]], out_shape=year.shape, transform=t
                          ).astype(bool)
            u0, u1 = (z & b0).sum() * cell_km2, (z & b1).sum() * cell_km2
            n_all = (z & new).sum()
            lab0, _ = ndimage.label(z & b0, structure=np.ones((3, 3)))
            lab1, _ = ndimage.label(z & b1, structure=np.ones((3, 3)))
            mine = best[best["city_id"] == cid]
            typed = mine.dropna(subset=["growth_type"])
            tot = typed["area_km2"].sum()
            r0, c0 = np.nonzero(z & b0)
            r1, c1 = np.nonzero(z & b1)
            own.append({
                "t1": b, "zone_id": cid, "builtup_t0_km2": u0, "builtup_t1_km2": u1,
                "new_km2": n_all * cell_km2,
                "cagr": (u1 / u0) ** (1 / (b - a)) - 1 if u0 > 0 else np.nan,
                "core_share_new": (z & new & core).sum() / n_all
                if n_all and (z & core).any() else np.nan,
                "share_infilling": typed.loc[typed["growth_type"] == "infilling",
                                             "area_km2"].sum() / tot if tot else np.nan,
                "share_outlying": typed.loc[typed["growth_type"] == "outlying",
                                            "area_km2"].sum() / tot if tot else np.nan,
                "new_patches": len(mine),
                "largest_patch_share_t1": np.bincount(lab1.ravel())[1:].max() * cell_km2 / u1,
                "d_largest_patch_share": np.bincount(lab1.ravel())[1:].max() * cell_km2 / u1
                - (np.bincount(lab0.ravel())[1:].max() * cell_km2 / u0 if u0 else np.nan),
                "x_t1": xs[c1].mean(), "y_t1": ys[r1].mean(),
                # ellipse: sqrt(2) x the square roots of the covariance eigenvalues (ArcGIS)
                "ellipse_area_t1_km2": np.pi * 2 * np.sqrt(np.prod(np.linalg.eigvalsh(
                    np.cov(xs[c1], ys[r1], bias=True)))) / 1e6,
                "shift_m": np.hypot(xs[c1].mean() - xs[c0].mean(), ys[r1].mean()
                                    - ys[r0].mean()) if r0.size else np.nan,
            })
    own = pd.DataFrame(own).set_index(["t1", "zone_id"]).sort_index()
    got = st.set_index(["t1", "zone_id"]).sort_index()
    for col in own.columns:
        assert got[col].to_numpy(dtype=float) == pytest.approx(
            own[col].to_numpy(dtype=float), rel=1e-6, abs=1e-9, nan_ok=True), col
    # each label is the rule applied to that evidence
    relabel = classify_stages(got.reset_index().assign(**{c: own[c].to_numpy() for c in (
        "cagr", "core_share_new", "share_infilling", "share_outlying",
        "d_largest_patch_share")}))
    assert relabel["stage"].tolist() == got["stage"].tolist()
    # the regional system: primacy, Burger-Meijers slope and growth shares by hand
    for _, row in res.system.iterrows():
        sizes = np.sort(ext.loc[ext["epoch"] == row["t1"], "builtup_km2"].to_numpy())[::-1]
        assert row["primacy_2_t1"] == pytest.approx(sizes[0] / sizes[1])
        bm = np.mean([np.polyfit(np.log(np.arange(1, n + 1)), np.log(sizes[:n]), 1)[0]
                      for n in (2, 3, 4)])
        assert row["polycentricity_bm_t1"] == pytest.approx(bm)
        per = st[st["t1"] == row["t1"]].set_index("zone_id")["new_km2"]
        primate = ext[ext["epoch"] == row["t1"]].sort_values("builtup_km2").iloc[-1]
        assert row["secondary_growth_share"] == pytest.approx(
            1 - per[primate["city_id"]] / per.sum())
        ev = res.tracks.events
        assert row["coalescences"] == ((ev["t1"] == row["t1"])
                                       & (ev["event"] == "coalescence")).sum()
    print(got[["event", "cagr", "share_infilling", "core_share_new", "stage"]].to_string())
    print(res.system.T.to_string())


def test_stages_by_units_hand_built(tmp_path):
    """Two units (left / right half): evidence per unit; core = the t0 extents inside it."""
    import geopandas as gpd
    import shapely

    from gisfix.stages import stages_by_units

    stack = _series(tmp_path, tracking_case())
    x0, y0 = 4_000_000, 3_000_000
    units = gpd.GeoDataFrame(
        {"geometry": [shapely.box(x0, y0 - 2000, x0 + 700, y0),
                      shapely.box(x0 + 700, y0 - 2000, x0 + 2000, y0)]},
        index=pd.Index(["west", "east"], name="id"), crs="EPSG:3035")
    res = stages_by_units(units, stack, extent_options=ONE_CELL)
    st = res.stages.set_index(["t1", "zone_id"])
    assert sorted(st.index) == [(2010, "east"), (2010, "west"), (2020, "east"),
                                (2020, "west")]
    ha = 0.01
    # west (columns 0-6) holds A and one bridge cell; east holds B, C and the other one
    assert st.loc[(2020, "west"), "builtup_t0_km2"] == pytest.approx(16 * ha)
    assert st.loc[(2020, "west"), "new_km2"] == pytest.approx(1 * ha)
    assert st.loc[(2020, "east"), "new_km2"] == pytest.approx((1 + 5) * ha)
    assert st.loc[(2020, "east"), "builtup_t0_km2"] == pytest.approx(8 * ha)
    # the bridge patch has one cell in each unit; the tie goes to the first unit (west)
    assert st.loc[(2020, "west"), "new_patches"] == 1
    assert st.loc[(2020, "east"), "new_patches"] == 1   # C's ring of new land
    # the 2010 core of the east unit: B and C (8 cells); no new land inside it
    assert st.loc[(2020, "east"), "core_km2"] == pytest.approx(8 * ha)
    assert st.loc[(2020, "east"), "core_share_new"] == 0
    assert res.system is None and len(res.ellipses) > 0


def test_cli_stages(tmp_path, run_cli):
    import geopandas as gpd
    import pyogrio
    import shapely

    from gisfix.io import read_provenance

    stack = _series(tmp_path, tracking_case())
    rasters = [str(p) for p in sorted(tmp_path.glob("b_*.tif"))]
    del stack
    out = tmp_path / "st.gpkg"
    args = [*rasters, "--encoding", "binary", "--block", "1", "--min-area-km2", "0"]
    r = run_cli("stages", *args, "-o", out)
    assert r.exit_code == 0, r.output
    names = [n for n, _ in pyogrio.list_layers(out)]
    assert {"stages", "extents", "events", "centroids", "ellipses", "regional",
            "provenance"} <= set(names)
    st = gpd.read_file(out, layer="stages")
    assert len(st) == 5 and st.crs is not None
    assert set(st.columns) >= {"city_id", "t0", "t1", "stage", "stage_name", "rule", "cagr"}
    assert read_provenance(out)["command"] == "gisfix stages"
    # one period only, centre rules
    r = run_cli("stages", *args, "--from", 2010, "--to", 2020, "--kind", "centre",
                "-o", tmp_path / "one.gpkg")
    assert r.exit_code == 0, r.output
    assert gpd.read_file(tmp_path / "one.gpkg", layer="stages")["t0"].unique().tolist() == [
        2010]
    # by units
    b = tmp_path / "units.geojson"
    gpd.GeoDataFrame({"code": ["w", "e"]}, geometry=[
        shapely.box(4_000_000, 2_998_000, 4_000_700, 3_000_000),
        shapely.box(4_000_700, 2_998_000, 4_002_000, 3_000_000)], crs="EPSG:3035").to_file(b)
    r = run_cli("stages", *args, "--by", "units", "--boundaries", b, "--id", "code",
                "-o", tmp_path / "u.gpkg")
    assert r.exit_code == 0, r.output
    assert sorted(gpd.read_file(tmp_path / "u.gpkg", layer="stages")["unit_id"].unique()) == [
        "e", "w"]
    # no city at all: one line that says what to relax, exit 1, no output
    r = run_cli("stages", *rasters, "--encoding", "binary", "--block", "1",
                "--min-area-km2", "50", "-o", tmp_path / "none.gpkg")
    assert r.exit_code == 1 and "--min-area-km2" in r.output
    assert not (tmp_path / "none.gpkg").exists()
    # usage errors exit 2; an existing output is one line and exit 1
    assert run_cli("stages", *args, "--by", "units", "-o", tmp_path / "x.gpkg").exit_code == 2
    assert run_cli("stages", *args, "--from", 2010, "-o", tmp_path / "x.gpkg").exit_code == 2
    r = run_cli("stages", *args, "-o", out)
    assert r.exit_code == 1 and "exists" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.gpkg").exists()


@pytest.mark.shared
def test_geographic_city_stages_bacau(shared):
    """Bacau (EPSG:4326) as it comes: built-up areas of each city are Geod cell areas."""
    import rasterio
    from pyproj import Geod
    from rasterio.features import rasterize

    from gisfix.stages import stages_by_extents

    path = shared("ghsl_ldsmt_bacau", "bacau_ghs_built_ldsmt_epochs.tif")
    stack = open_builtup(path, "ldsmt")
    res = stages_by_extents(stack, extent_options={"block": 5, "threshold": 0.3,
                                                   "min_area_km2": 0.5})
    with rasterio.open(path) as ds:
        codes = ds.read(1)
        t = ds.transform
    geod = Geod(ellps="WGS84")
    top = t.f + t.e * np.arange(codes.shape[0])
    row_km2 = np.array([abs(geod.polygon_area_perimeter(
        [t.c, t.c + t.a, t.c + t.a, t.c], [y, y, y + t.e, y + t.e])[0]) for y in top]) / 1e6
    min_class = {1975: 6, 1990: 5, 2000: 4, 2014: 3}
    ext = res.tracks.extents.set_index(["epoch", "city_id"])
    for _, r in res.stages.iterrows():
        z = rasterize([ext.loc[(r["t1"], r["zone_id"]), "geometry"]], out_shape=codes.shape,
                      transform=t).astype(bool)
        for col, e in (("builtup_t0_km2", r["t0"]), ("builtup_t1_km2", r["t1"])):
            built = z & (codes >= min_class[e]) & (codes <= 6)
            assert r[col] == pytest.approx((built * row_km2[:, None]).sum(), rel=1e-9)
    assert res.stages["shift_m"].notna().all() and (res.ellipses.crs.to_epsg() == 4326)
    print(res.stages[["zone_id", "t0", "t1", "event", "cagr", "core_share_new",
                      "shift_m", "stage_name"]].to_string())
    print(res.system[["t0", "t1", "n_cities_t1", "secondary_growth_share", "coalescences",
                      "regional_stage_name"]].to_string())


@pytest.mark.shared
def test_dc_county_stages_match_the_zonal_engine(shared):
    """Per-unit built-up land equals builtup_by_unit (cell-centre rule) for every county."""
    import geopandas as gpd

    from gisfix.stages import stages_by_units
    from gisfix.zonal import builtup_by_unit

    stack = open_builtup(shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif"),
                         "year-built", epochs=[2000, 2010])
    counties = gpd.read_file(shared("ghsl_dc_baltimore", "counties_2017_census.gpkg"),
                             layer="counties").set_index("fips")
    res = stages_by_units(counties, stack)
    table = builtup_by_unit(counties, stack, method="centre")
    wide = table.pivot_table(index="unit_id", columns="epoch", values="builtup_km2")
    st = res.stages.set_index("zone_id")
    assert len(st) == len(counties)
    assert st["builtup_t0_km2"].to_numpy() == pytest.approx(
        wide.loc[st.index, 2000].to_numpy(), rel=1e-9, abs=1e-9)
    assert st["builtup_t1_km2"].to_numpy() == pytest.approx(
        wide.loc[st.index, 2010].to_numpy(), rel=1e-9, abs=1e-9)
    # a label wherever the county had built-up land at t0 (some only touch the raster)
    assert (st["stage"].notna() == (st["builtup_t0_km2"] > 0)).all()
    assert st["stage"].notna().sum() >= 20


def _same_tables(a: pd.DataFrame, b: pd.DataFrame):
    """Equal up to the order of floating-point sums (a centre shift to a micrometre)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]):
            assert a[col].to_numpy() == pytest.approx(b[col].to_numpy(), rel=1e-9, abs=1e-6,
                                                      nan_ok=True), col
        else:
            assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col


def test_windowed_evidence_equals_whole_grid(tmp_path):
    """Strips of two rows (patches and cities cross every strip edge) give the same table."""
    from gisfix.stages import stages_by_extents

    stack = _series(tmp_path, tracking_case())
    whole = stages_by_extents(stack, extent_options=ONE_CELL)
    strips = stages_by_extents(stack, extent_options=ONE_CELL, max_cells=40)
    _same_tables(whole.stages, strips.stages)
    _same_tables(whole.system, strips.system)


@pytest.mark.shared
def test_windowed_unit_stages_equal_whole_grid_dc(shared):
    import geopandas as gpd

    from gisfix.stages import stages_by_units

    stack = open_builtup(shared("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif"),
                         "year-built", epochs=[2000, 2010])
    counties = gpd.read_file(shared("ghsl_dc_baltimore", "counties_2017_census.gpkg"),
                             layer="counties").set_index("fips")
    whole = stages_by_units(counties, stack)
    strips = stages_by_units(counties, stack, max_cells=60_000)   # 42 strips of 42 rows
    _same_tables(whole.stages, strips.stages)
