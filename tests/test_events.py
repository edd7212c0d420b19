"""Event tables from code histories, scenarios and vintages; harmonized policy panels.

Oracles
- Hand-verified county-to-district conversions of China's code history (issue 13):
  蓟县 -> 蓟州区 2016, 密云县 -> 密云区 2015, 栾城县 -> 栾城区 2014, 富阳市 -> 富阳区 2014,
  璧山县 -> 璧山区 2014 (whole), 江浦县 merged into 浦口区 2002.
- ``WHOLE_PER_YEAR``: the whole conversions per year 2001-2020 under the documented rules
  (printed by the test, quoted in the README; pinned so that a change of the rules shows).
- Small hand-built tables whose events are known by construction.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from gisfix.errors import DataError, IdError
from gisfix.events import (
    EVENT_COLUMNS,
    conversions_per_year,
    events_from_scenario,
    events_from_vintages,
    follow_ids,
    read_code_history,
    unit_kind,
)

HAND_VERIFIED = [  # old name, old code, year, new code, conversion
    ("蓟县", "120225", 2016, "120119", "whole"),
    ("密云县", "110228", 2015, "110118", "whole"),
    ("栾城县", "130124", 2014, "130111", "whole"),
    ("富阳市", "330183", 2014, "330111", "whole"),
    ("璧山县", "500227", 2014, "500120", "whole"),
    ("江浦县", "320122", 2002, "320111", "merged"),
]
WHOLE_PER_YEAR = {2001: 17, 2002: 17, 2003: 7, 2004: 1, 2005: 0, 2006: 5, 2007: 0, 2008: 0,
                  2009: 1, 2010: 0, 2011: 5, 2012: 5, 2013: 7, 2014: 23, 2015: 27, 2016: 29,
                  2017: 8, 2018: 8, 2019: 6, 2020: 6}

HEADER = "代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n"
MINI = HEADER + "\n".join([
    "990000,测试省,,测试省,省级,在用,1980,,",
    "990100,测试省,甲市,甲市,地级,在用,1980,,",
    "990200,测试省,乙地区,乙地区,地级,弃用,1980,2010,990300",
    "990300,测试省,乙市,乙市,地级,在用,2010,,",
    "990101,测试省,甲市,东区,县级,在用,1980,,",
    "990121,测试省,甲市,北县,县级,弃用,1980,2005,990102",       # whole -> new 990102
    "990102,测试省,甲市,北区,县级,在用,2005,,",
    "990122,测试省,甲市,南县,县级,弃用,1980,2006,990101",       # merged into old 东区
    "990123,测试省,甲市,西县,县级,弃用,1980,2007,990103;990104",  # split
    "990103,测试省,甲市,西区,县级,在用,2007,,",
    "990104,测试省,甲市,中区,县级,在用,2007,,",
    "990124,测试省,甲市,泉县,县级,弃用,1980,2008,990101[2001];990181",  # transfer + city
    "990181,测试省,甲市,泉市,县级,在用,2008,,",
    "990105,测试省,甲市,河区,县级,变更,1980,2009,990105",        # renamed
    "990105,测试省,甲市,江区,县级,在用,2009,,",
    "990221,测试省,乙地区,山县,县级,弃用,1980,2010,990302",      # with prefecture reorg
    "990302,测试省,乙市,山区,县级,在用,2010,,",
]) + "\n"


@pytest.fixture
def mini(tmp_path):
    p = tmp_path / "codes.csv"
    p.write_text(MINI, encoding="utf-8-sig")
    return read_code_history(p)


def test_unit_kind_code_and_suffix():
    assert unit_kind("110101") == "district"
    assert unit_kind("110120") == "district"
    assert unit_kind("110221") == "county"
    assert unit_kind("110280") == "county"
    assert unit_kind("110281") == "city"
    assert unit_kind("152501", "二连浩特市") == "city"  # suffix first
    assert unit_kind("150721", "阿荣旗") == "county"
    assert unit_kind("429004", "仙桃市") == "city"
    assert unit_kind("429004") == "district"  # the code rule alone errs here
    assert unit_kind("110000") is None


def test_mini_history_classified_by_the_rules(mini):
    assert list(mini.columns[:5]) == EVENT_COLUMNS
    ev = mini.set_index(["unit_id", "event"])
    assert ev.loc[("990121", "county_to_district"), "conversion"] == "whole"
    assert ev.loc[("990121", "county_to_district"), "year"] == 2005
    assert ev.loc[("990122", "county_to_district"), "conversion"] == "merged"
    assert ev.loc[("990123", "county_to_district"), "conversion"] == "split"
    assert ev.loc[("990123", "county_to_district"), "new_ids"] == "990103;990104"
    assert ev.loc[("990124", "county_to_city"), "year"] == 2008
    assert ev.loc[("990124", "transfer"), "year"] == 2001
    assert ev.loc[("990124", "transfer"), "new_ids"] == "990101"
    assert ev.loc[("990105", "recode"), "new_names"] == "江区"
    reorg = mini.set_index("unit_id")["prefecture_reorg"]
    assert reorg["990221"] and not reorg["990121"]
    per_year = conversions_per_year(mini, 2004, 2010)
    assert per_year.to_dict() == {2004: 0, 2005: 1, 2006: 0, 2007: 0, 2008: 0, 2009: 0,
                                  2010: 1}


def test_code_history_bad_files(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        read_code_history(tmp_path / "nope.csv")
    p = tmp_path / "bad.csv"
    p.write_text("code,name\n1,a\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        read_code_history(p)
    p.write_text(HEADER + "990121,x,y,北县,县级,弃用,1980,2005,99x102\n", encoding="utf-8")
    with pytest.raises(DataError, match="99x102"):
        read_code_history(p)


def test_follow_ids_through_later_recodes(mini):
    extra = pd.DataFrame([{"unit_id": "990102", "year": 2012, "event": "recode",
                           "new_ids": "990110", "date": ""}])
    ev = pd.concat([mini, extra], ignore_index=True)
    got = follow_ids(ev, ["990121"], 2004, {"990110", "990101"})
    assert got.iloc[0] == "990110"
    assert follow_ids(ev, ["990123"], 2006, {"990110"}).isna().all()


def test_events_from_scenario():
    sc = {"scenario": {"name": "t"}, "edit": [
        {"op": "recode", "unit": "110221", "new_id": "110115", "name": "某区", "year": 2011},
        {"op": "merge", "units": ["110222", "110101"], "into": "110101", "year": 2012},
        {"op": "recode", "unit": "110223", "new_id": "110281", "year": 2013},
    ]}
    ev = events_from_scenario(sc).set_index("unit_id")
    assert ev.loc["110221", "event"] == "county_to_district"
    assert ev.loc["110222", "event"] == "county_to_district"
    assert ev.loc["110223", "event"] == "county_to_city"
    assert ev["year"].tolist() == [2011, 2012, 2013]
    del sc["edit"][0]["year"]
    with pytest.raises(DataError, match="edit 1 \\(recode\\) .* has no 'year'"):
        events_from_scenario(sc)


def test_events_from_vintages():
    old = gpd.GeoDataFrame({"name": ["北县", "南县", "东区"]},
                           geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000),
                                     box(2000, 0, 3000, 1000)],
                           index=pd.Index(["990121", "990122", "990101"]), crs=3857)
    new = gpd.GeoDataFrame({"name": ["北区", "东区"]},
                           geometry=[box(0, 0, 1000, 1000), box(1000, 0, 3000, 1000)],
                           index=pd.Index(["990102", "990101"]), crs=3857)
    ev = events_from_vintages({2000: old, 2005: new}, name_col="name").set_index("unit_id")
    assert ev.loc["990121", "event"] == "county_to_district"
    assert ev.loc["990121", "new_ids"] == "990102"
    assert ev.loc["990122", "event"] == "county_to_district"  # merged into 东区
    assert ev.loc["990122", "new_ids"] == "990101"
    assert set(ev["year"]) == {2005}
    with pytest.raises(DataError, match="at least two vintages"):
        events_from_vintages({2000: old})


def test_harmonize_panel_through_lineage():
    from gisfix.policy import harmonize_panel

    lineage = pd.DataFrame({"old_id": ["a", "b", "c", "c"], "new_id": ["ab", "ab", "c", "ab"],
                            "area_share": [1.0, 1.0, 0.75, 0.25],
                            "weight_share": [1.0, 1.0, 0.75, 0.25]})
    panel = pd.DataFrame({"id": ["a", "b", "c"] * 2, "year": [2000] * 3 + [2001] * 3,
                          "light": [1.0, 2.0, 4.0, 10.0, 20.0, 40.0]})
    out = harmonize_panel(panel, lineage, ["light"], id_col="id", time_col="year")
    got = out.set_index(["id", "year"])["light"]
    assert got[("ab", 2000)] == pytest.approx(1 + 2 + 1)  # a + b + a quarter of c
    assert got[("c", 2000)] == pytest.approx(3.0)
    assert got[("ab", 2001)] == pytest.approx(40.0)
    assert out.groupby("year")["light"].sum().tolist() == pytest.approx([7.0, 70.0])
    with pytest.raises(IdError, match="duplicate"):
        harmonize_panel(pd.concat([panel, panel.iloc[[0]]]), lineage, ["light"], id_col="id",
                        time_col="year")


def test_cli_events_from_scenario(run_cli, tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('[scenario]\nname = "t"\n[[edit]]\nop = "recode"\nunit = "110221"\n'
                    'new_id = "110115"\nyear = 2011\n', encoding="utf-8")
    out = tmp_path / "ev.csv"
    r = run_cli("events", "--scenario", toml, "-o", out)
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype=str)
    assert got.loc[0, "event"] == "county_to_district" and got.loc[0, "year"] == "2011"
    assert (tmp_path / "ev.csv.provenance.json").exists()
    r = run_cli("events", "-o", tmp_path / "x.csv")
    assert r.exit_code == 2


def test_cli_events_from_vintages(run_cli, tmp_path):
    old = gpd.GeoDataFrame({"code": ["990121", "990101"], "name": ["北县", "东区"]},
                           geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
                           crs=3857)
    new = old.assign(code=["990102", "990101"], name=["北区", "东区"])
    old.to_file(tmp_path / "v2000.gpkg")
    new.to_file(tmp_path / "v2005.gpkg")
    out = tmp_path / "ev.csv"
    r = run_cli("events", "--vintage", f"2000={tmp_path / 'v2000.gpkg'}", "--vintage",
                f"2005={tmp_path / 'v2005.gpkg'}", "--id", "code", "--name", "name", "-o", out)
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype=str)
    assert got[["unit_id", "year", "event", "new_ids"]].values.tolist() == [
        ["990121", "2005", "county_to_district", "990102"]]


# ---------------------------------------------------------------------------------------
# the real code history (../shared/data)
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def history():
    from conftest import shared_path

    return read_code_history(shared_path("china_county_panel", "areacodes_result.csv"))


@pytest.mark.shared
@pytest.mark.parametrize("name,code,year,new,conversion", HAND_VERIFIED)
def test_hand_verified_conversions(history, name, code, year, new, conversion):
    row = history[(history["unit_id"] == code) & (history["event"] == "county_to_district")]
    assert len(row) == 1, row
    row = row.iloc[0]
    assert (row["name"], row["year"], row["new_ids"], row["conversion"]) == (
        name, year, new, conversion)


@pytest.mark.shared
def test_whole_conversions_per_year(history):
    counts = conversions_per_year(history, 2001, 2020)
    print("\nwhole county-to-district conversions per year (code history):")
    print(" ".join(f"{y}:{n}" for y, n in counts.items()), "total", int(counts.sum()))
    assert counts.to_dict() == WHOLE_PER_YEAR


@pytest.mark.shared
def test_cli_events_code_history(run_cli, tmp_path, shared):
    out = tmp_path / "ev.csv"
    r = run_cli("events", "--code-history",
                shared("china_county_panel", "areacodes_result.csv"),
                "--event", "county_to_district", "-o", out)
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, dtype={"unit_id": str, "new_ids": str})
    assert set(got["event"]) == {"county_to_district"}
    whole = got[(got["conversion"] == "whole") & got["year"].between(2001, 2020)]
    assert len(whole) == sum(WHOLE_PER_YEAR.values())


def test_lineage_from_events_follows_one_target_changes(mini):
    import warnings

    from gisfix.errors import DataWarning
    from gisfix.policy import lineage_from_events

    ids = ["990121", "990122", "990123", "990101"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lin = lineage_from_events(mini, ids, 2004, {"990102", "990101", "990103", "990104"})
    assert dict(zip(lin["old_id"], lin["new_id"])) == {
        "990121": "990102", "990122": "990101", "990101": "990101"}
    assert (lin["area_share"] == 1).all()
    assert any(issubclass(w.category, DataWarning) and "990123" in str(w.message)
               for w in caught)
