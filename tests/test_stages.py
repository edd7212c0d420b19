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
