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


def _constructed_city(tmp_path):
    """A 40 x 40 grid of 100 m cells whose history is built by hand, one stage per period.

    1990: a 10 x 10 block with a 4 x 4 hole (84 cells).
    2000: the hole is filled (16 new cells, all infilling, inside the core): slow growth
          (1.76 %/yr), mostly infilling -> 2 (optimal agglomeration).
    2010: a 4-row band along the block's south edge (40 cells, edge expansion; 30 of them
          inside the core dilated by 300 m): 3.42 %/yr >= 2 % -> 1 (agglomeration).
    2020: a separate 10 x 10 patch far away (100 cells, outlying, outside the core):
          dispersing -> 3 (turn to diffusion).
    2030: nothing new: cagr 0 < 0.5 %/yr -> 4 (stable regional system).
    """
    import rasterio
    from rasterio.transform import from_origin

    a = np.full((40, 40), 65535, np.uint16)
    a[10:20, 10:20] = 1990
    a[13:17, 13:17] = 2000
    a[20:24, 10:20] = 2010
    a[30:40, 28:38] = 2020
    path = tmp_path / "city.tif"
    with rasterio.open(path, "w", driver="GTiff", width=40, height=40, count=1,
                       dtype="uint16", nodata=65535, crs="EPSG:3035",
                       transform=from_origin(4_000_000, 3_004_000, 100, 100)) as ds:
        ds.write(a, 1)
    return open_builtup(path, "year-built", epochs=[1990, 2000, 2010, 2020, 2030])


def test_hand_derived_labels_on_a_constructed_city(tmp_path):
    with _constructed_city(tmp_path) as stack:
        ev = stage_evidence(stack, dilate_m=300)
    out = classify_stages(ev)
    # the labels derived by hand in _constructed_city's docstring
    assert out["stage"].tolist() == [2, 1, 3, 4]
    assert out["stage_name"].tolist() == ["optimal agglomeration", "agglomeration",
                                          "turn to diffusion", "stable regional system"]
    # and the evidence behind them, also by hand
    np.testing.assert_allclose(out["cagr"].iloc[:3],
                               [(100 / 84) ** 0.1 - 1, (140 / 100) ** 0.1 - 1,
                                (240 / 140) ** 0.1 - 1], rtol=1e-9)
    assert out["cagr"].iloc[3] == 0
    assert out["share_infilling"].iloc[0] == 1 and out["share_outlying"].iloc[2] == 1
    assert out["core_share_new"].iloc[0] == 1
    # the core dilated by 300 m reaches 3 of the band's 4 rows: 30 of 40 new cells
    assert out["core_share_new"].iloc[1] == pytest.approx(30 / 40, rel=1e-9)
    assert out["core_share_new"].iloc[2] == 0
    assert out["d_largest_patch_share"].iloc[2] == pytest.approx(140 / 240 - 1, rel=1e-9)


def test_strict_core_turns_edge_growth_into_diffusion(tmp_path):
    """Without dilation the band along the edge lies outside the core: by hand, period
    2000-2010 then disperses (core_share_new 0 < 0.5) and is labelled 3."""
    with _constructed_city(tmp_path) as stack:
        out = classify_stages(stage_evidence(stack))
    assert out["stage"].tolist() == [2, 3, 3, 4]
