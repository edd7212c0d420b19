"""``gisfix run PROJECT.toml``: the main job on DC-Baltimore GHSL 1975-2030, with a merger.

Oracles: the scenario's values equal a direct API computation on the edited units made by
``apply_scenario`` and counted by ``builtup_by_unit`` over the raster (the run itself sums
the base parts through the lineage, a different path); the base layers equal the API
functions they come from; region totals are conserved by a merger.

Project file: tests/data/dc_merger.toml (``@SHARED@`` replaced by the shared data folder;
the counties get a ``state`` column, the first two digits of ``fips``, in a tmp folder).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

import gisfix

pytestmark = pytest.mark.shared

HERE = Path(__file__).resolve().parent
#: Relative tolerance of sums of parts against a direct count (issue 10).
REL = 1e-9
MERGED = ["11001", "51013", "51510"]
SCENARIO = "dc_merger"


def dc_project(folder: Path, shared_dir: Path, aoi: bool = True) -> Path:
    """Write the DC project and its boundaries (with `state`) into ``folder``."""
    g = gpd.read_file(shared_dir / "ghsl_dc_baltimore" / "counties_2017_census.gpkg",
                      layer="counties")
    g["state"] = g["fips"].astype(str).str[:2]
    g.to_file(folder / "counties_state.gpkg", layer="counties")
    text = (HERE / "data" / "dc_merger.toml").read_text().replace("@SHARED@", str(shared_dir))
    if aoi and "aoi" in inspect.signature(gisfix.open_builtup).parameters:
        text = text.replace('encoding = "year-built"', 'encoding = "year-built"\naoi = '
                            f'"{shared_dir}/ghsl_dc_baltimore/aoi.geojson"')
    path = folder / "dc.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def dc_run(tmp_path_factory):
    from click.testing import CliRunner
    from conftest import SHARED, shared_path

    from gisfix.cli.main import cli

    shared_path("ghsl_dc_baltimore")
    folder = tmp_path_factory.mktemp("run")
    project = dc_project(folder, SHARED)
    out = folder / "out"
    r = CliRunner().invoke(cli, ["run", str(project), "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return folder, out


@pytest.fixture(scope="module")
def direct(dc_run):
    """The scenario computed directly with the API (no reuse of the base pass)."""
    from gisfix.edits import apply_scenario, load_scenario
    from gisfix.project import load_project

    folder, _ = dc_run
    p = load_project(folder / "dc.toml")
    units = gisfix.read_boundaries(p.boundaries["path"], "fips", layer="counties")
    stack = gisfix.open_builtup(p.builtup["paths"], "year-built",
                                **({"aoi": p.builtup["aoi"]} if "aoi" in p.builtup else {}))
    sc = load_scenario({"scenario": {"name": SCENARIO}, "edit": p.scenarios[0].inline})
    edited = apply_scenario(units, sc).units
    return {"units": units, "stack": stack, "edited": edited,
            "base_table": gisfix.builtup_by_unit(units, stack),
            "table": gisfix.builtup_by_unit(edited, stack)}


def test_every_output_listed_in_the_issue(dc_run):
    _, out = dc_run
    layers = set(pyogrio.list_layers(out / "results.gpkg")[:, 0])
    assert {"units", "units_long", "patches", "summary", "inequality", "stages",
            f"units_{SCENARIO}", f"lineage_{SCENARIO}", f"change_{SCENARIO}"} <= layers
    tidy = pd.read_parquet(out / "measures.parquet")
    assert list(tidy.columns) == ["scenario", "unit_id", "epoch", "measure", "value"]
    assert set(tidy["scenario"]) == {"base", SCENARIO}
    assert len(pd.read_csv(out / "measures.csv")) == len(tidy)
    comp = pd.read_csv(out / "compare.csv")
    assert list(comp.columns) == ["scenario", "measure", "epoch", "base", "value",
                                  "abs_change", "rel_change"]
    # the land-weighted CV is not Williamson's index, which needs a population (issue 11)
    assert "share_cv_land_weighted" in set(comp["measure"])
    assert "williamson" not in set(comp["measure"])
    run = json.loads((out / "run.json").read_text())
    rasters = run["inputs"]["rasters"]
    assert len(rasters[0]["sha256"]) == 64 and rasters[0]["bytes"] > 0
    assert run["versions"]["gisfix"] == gisfix.__version__ and run["versions"]["numpy"]
    assert {"built-up area by unit and epoch (base)",
            f"scenario {SCENARIO}: edits and measures"} <= set(run["seconds"])
    assert "Scenario `dc_merger`" in (out / "REPORT.md").read_text()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.gisfix-")]


def test_merged_builtup_is_the_sum_of_its_parts(dc_run, direct):
    _, out = dc_run
    tidy = pd.read_parquet(out / "measures.parquet")
    base = direct["base_table"]
    parts = base[base["unit_id"].isin(MERGED)].groupby("epoch")["builtup_km2"].sum()
    got = tidy[(tidy["scenario"] == SCENARIO) & (tidy["unit_id"] == "11001")
               & (tidy["measure"] == "builtup_km2")].set_index("epoch")["value"]
    assert len(got) == 12
    np.testing.assert_allclose(got.loc[parts.index], parts, rtol=REL)
    # and the direct count of the merged polygon over the raster agrees
    t = direct["table"]
    np.testing.assert_allclose(got.to_numpy(), t[t["unit_id"] == "11001"]["builtup_km2"],
                               rtol=REL)
    comp = pd.read_csv(out / "compare.csv")
    for m in ("builtup_km2_total", "valid_km2_total", "builtup_share_region"):
        rows = comp[comp["measure"] == m]
        assert len(rows) == 12
        np.testing.assert_allclose(rows["value"], rows["base"], rtol=1e-12)


def test_scenario_theil_and_moran_equal_the_api(dc_run, direct):
    from gisfix.inequality import theil_decomposition

    _, out = dc_run
    comp = pd.read_csv(out / "compare.csv").set_index(["measure", "epoch"])
    edited, t = direct["edited"], direct["table"]
    graph = gisfix.make_graph(edited)
    for epoch in (1975, 2000, 2030):
        part = t[t["epoch"] == epoch].set_index("unit_id").loc[edited.index]
        # units outside the study area have no share: the measures are of the observed ones
        part = part[part["builtup_share"].notna() & (part["valid_km2"] > 0)]
        d = theil_decomposition(part["builtup_share"], edited.loc[part.index, "state"],
                                part["valid_km2"], allow_singletons=True)
        assert comp.loc[("share_theil_t_between", epoch), "value"] == pytest.approx(
            d.between, rel=REL)
        assert comp.loc[("share_theil_t_within", epoch), "value"] == pytest.approx(
            d.within, rel=REL)
        m = gisfix.moran(part["builtup_share"], graph.subgraph(part.index), permutations=0)
        assert comp.loc[("moran_I", epoch), "value"] == pytest.approx(m.I, rel=REL)
        assert comp.loc[("n_units", epoch), "value"] == 28


def test_base_layers_equal_the_api(dc_run, direct):
    _, out = dc_run
    table = direct["base_table"]
    got = pyogrio.read_dataframe(out / "results.gpkg", layer="units_long")
    pd.testing.assert_frame_equal(got[table.columns].reset_index(drop=True),
                                  table.reset_index(drop=True), check_dtype=False)
    stages = gisfix.city_stages(direct["stack"], table=table)
    got = pyogrio.read_dataframe(out / "results.gpkg", layer="stages")
    assert list(got["stage_name"]) == list(stages["stage_name"])
    patches = pyogrio.read_dataframe(out / "results.gpkg", layer="patches")
    d, _ = gisfix.lei_by_unit(direct["units"], direct["stack"], 1990, 2020, polygons=False)
    assert len(patches) == len(d)
    np.testing.assert_allclose(np.sort(patches["lei"]), np.sort(d["lei"]))


def test_change_layer_keyed_by_lineage(dc_run):
    _, out = dc_run
    ch = gpd.read_file(out / "results.gpkg", layer=f"change_{SCENARIO}").set_index("unit_id")
    row = ch.loc["11001"]
    assert row["status"] == "merged" and set(row["old_ids"].split(",")) == set(MERGED)
    assert row["builtup_km2_2030_after"] == pytest.approx(row["builtup_km2_2030_before"],
                                                          rel=REL)
    assert (ch.drop(index="11001")["status"] == "unchanged").all()


@pytest.mark.shared
def test_refuses_to_overwrite(dc_run, run_cli):
    folder, out = dc_run
    before = (out / "REPORT.md").stat().st_mtime_ns
    r = run_cli("run", folder / "dc.toml", "-o", out)
    assert r.exit_code == 1 and "pass --overwrite" in r.output
    assert (out / "REPORT.md").stat().st_mtime_ns == before


@pytest.mark.shared
def test_opens_in_qgis(dc_run):
    from test_qgis import qgis_layers

    _, out = dc_run
    layers, proc = qgis_layers(out / "results.gpkg")
    assert layers["units"]["renderer"] == "graduatedSymbol"
    assert layers["patches"]["renderer"] == "categorizedSymbol"
    assert layers[f"change_{SCENARIO}"]["renderer"] == "categorizedSymbol"


def test_shortcut_writes_an_equivalent_project(shared, run_cli, tmp_path):
    folder = shared("ghsl_ldsmt_bacau")
    out = tmp_path / "bacau"
    r = run_cli("run", folder / "bacau_municipality.shp",
                folder / "bacau_ghs_built_ldsmt_epochs.tif", "--id", "natcode",
                "--encoding", "ldsmt", "--permutations", "0", "-o", out)
    assert r.exit_code == 0, r.output
    assert "lei not computed" in r.output and "geographic" in r.output
    assert "lei not computed" in (out / "REPORT.md").read_text()
    again = tmp_path / "again"
    r = run_cli("run", out / "project.toml", "-o", again)
    assert r.exit_code == 0, r.output
    a = pd.read_parquet(out / "measures.parquet")
    b = pd.read_parquet(again / "measures.parquet")
    pd.testing.assert_frame_equal(a, b)


# -- land per person and spatial justice (issue 16 items 3 and 4) ---------------------------
POP_EPOCHS = (2000, 2020)


def population_project(folder: Path, shared_dir: Path) -> Path:
    """Write a DC project with one population column per epoch into ``folder``.

    ``pop2020``: the WorldPop 2020 population of the shared urban clusters
    (``urban_clusters_worldpop2020.geojson``, column ``Pop``) allocated to the counties by
    the area share of each cluster inside each county (real data, aggregated).
    ``pop2000``: a synthetic test input, ``pop2020 * (0.75 + 0.01 k)`` for the k-th county
    (not data: the shared data hold no earlier population).  The oracle of the tests is
    not these numbers but the API functions called directly on the same inputs.
    """
    d = shared_dir / "ghsl_dc_baltimore"
    g = gpd.read_file(d / "counties_2017_census.gpkg", layer="counties")
    cl = gpd.read_file(d / "urban_clusters_worldpop2020.geojson").to_crs(g.crs)
    cl["cluster_m2"] = cl.area
    ov = gpd.overlay(cl[["Pop", "cluster_m2", "geometry"]], g[["fips", "geometry"]],
                     how="intersection")
    pop = (ov["Pop"] * ov.area / ov["cluster_m2"]).groupby(ov["fips"]).sum()
    g["state"] = g["fips"].astype(str).str[:2]
    g["pop2020"] = g["fips"].map(pop).fillna(0.0)
    g["pop2000"] = g["pop2020"] * (0.75 + 0.01 * np.arange(len(g)))
    g.to_file(folder / "counties_pop.gpkg", layer="counties")
    (folder / "pop.toml").write_text(f"""[region]
name = "Washington-Baltimore with population"
[boundaries]
path = "counties_pop.gpkg"
layer = "counties"
id = "fips"
groups = ["state"]
population = {{2000 = "pop2000", 2020 = "pop2020"}}
[builtup]
path = "{d}/ghsl_year_built_100m_mollweide.tif"
encoding = "year-built"
[measures]
include = ["builtup", "inequality"]
permutations = 0
[[scenario]]
name = "{SCENARIO}"
[[scenario.edit]]
op = "merge"
units = {MERGED}
into = "11001"
""")
    return folder / "pop.toml"


@pytest.fixture(scope="module")
def pop_run(tmp_path_factory):
    from conftest import SHARED, shared_path

    from gisfix.workflows.run import run_project

    shared_path("ghsl_dc_baltimore")
    folder = tmp_path_factory.mktemp("poprun")
    project = population_project(folder, SHARED)
    out = folder / "out"
    with pytest.warns(UserWarning):  # counties without population: NaN per capita, said
        res = run_project(project, out)
    return project, out, res


def _direct_population(units, table):
    """The API on the same inputs: per-capita values, weights, groups, land, LCRPGR."""
    pop = gisfix.population_from_columns(units, {e: f"pop{e}" for e in POP_EPOCHS})
    with pytest.warns(UserWarning):
        eff = gisfix.land_use_efficiency(table[["unit_id", "epoch", "builtup_km2"]], pop)
    out = {"efficiency": eff.set_index("unit_id")}
    for e in POP_EPOCHS:
        t = table[table["epoch"] == e].set_index("unit_id")
        p = pop[pop["epoch"] == e].set_index("unit_id")["population"].reindex(t.index)
        ok = p > 0
        x = t.loc[ok, "builtup_km2"] * 1e6 / p[ok]
        groups = units["state"].set_axis(units.index.astype(str)).loc[x.index]
        out[e] = gisfix.justice_inequality(x, p[ok], groups, area=t.loc[ok, "valid_km2"],
                                           measures=("gini", "theil_t"))
    return out


def _check_justice(region, direct, rel):
    for e in POP_EPOCHS:
        for r in direct[e].itertuples():
            name = f"percapita_{r.measure}_{r.weighting}_weighted"
            assert region.loc[e, name] == pytest.approx(r.value, rel=rel, abs=rel), name
            if r.measure == "theil_t":
                assert region.loc[e, f"{name}_between"] == pytest.approx(r.between, rel=rel,
                                                                          abs=rel)
                assert region.loc[e, f"{name}_within"] == pytest.approx(r.within, rel=rel,
                                                                         abs=rel)


def test_population_measures_equal_the_api(pop_run):
    """Person-, land- and unit-weighted inequality and LCRPGR of the run equal the API."""
    project, out, res = pop_run
    from gisfix.project import load_project

    p = load_project(project)
    units = gisfix.read_boundaries(p.boundaries["path"], "fips", layer="counties")
    stack = gisfix.open_builtup(p.builtup["paths"], "year-built")
    with pytest.warns(UserWarning):
        table = gisfix.builtup_by_unit(units, stack)
    table["unit_id"] = table["unit_id"].astype(str)
    direct = _direct_population(units, table)
    _check_justice(res.base.region, direct, 1e-12)
    # per unit: LCR, PGR, LCRPGR at the period's end epoch, and wide in `units`
    eff = direct["efficiency"]
    long = res.base.per_unit[res.base.per_unit["epoch"] == POP_EPOCHS[1]].set_index("unit_id")
    for c in ("lcr_per_year", "pgr_per_year", "lcrpgr"):
        np.testing.assert_allclose(long.loc[eff.index, c], eff[c], rtol=1e-12, atol=1e-12)
    layer = gpd.read_file(out / "results.gpkg", layer="units").set_index("fips")
    np.testing.assert_allclose(layer.loc[eff.index, "lcrpgr_2000_2020"], eff["lcrpgr"],
                               rtol=1e-12, atol=1e-12)
    pc = layer["builtup_m2_per_capita_2020"].dropna()
    np.testing.assert_allclose(pc, table[table["epoch"] == 2020].set_index("unit_id").loc[
        pc.index, "builtup_km2"] * 1e6 / layer.loc[pc.index, "pop2020"], rtol=1e-12)
    # the scenario: edited units made by apply_scenario (population summed), counted directly
    from gisfix.edits import apply_scenario, load_scenario

    sc = load_scenario({"scenario": {"name": SCENARIO}, "edit": p.scenarios[0].inline})
    edited = apply_scenario(units, sc, extensive=["pop2000", "pop2020"]).units
    with pytest.warns(UserWarning):
        sc_table = gisfix.builtup_by_unit(edited, stack)
    sc_table["unit_id"] = sc_table["unit_id"].astype(str)
    _check_justice(res.scenarios[SCENARIO].measures.region,
                   _direct_population(edited, sc_table), REL)


def test_population_measures_in_every_output(pop_run):
    _, out, res = pop_run
    layers = set(pyogrio.list_layers(out / "results.gpkg")[:, 0])
    assert {"justice", "justice_lorenz"} <= layers
    j = pyogrio.read_dataframe(out / "results.gpkg", layer="justice")
    assert set(j["weighting"]) == {"person", "land", "unit"}
    assert set(j["scenario"]) == {"base", SCENARIO}
    lz = pyogrio.read_dataframe(out / "results.gpkg", layer="justice_lorenz")
    last = lz[(lz["epoch"] == 2020) & (lz["weighting"] == "person")]
    assert last["weight_share"].iloc[-1] == pytest.approx(1.0)
    long = pyogrio.read_dataframe(out / "results.gpkg", layer="units_long")
    assert {"population", "builtup_m2_per_capita", "lcrpgr"} <= set(long.columns)
    tidy = pd.read_parquet(out / "measures.parquet")
    names = set(tidy["measure"])
    assert {"percapita_gini_person_weighted", "percapita_gini_land_weighted",
            "percapita_theil_t_person_weighted_between", "builtup_m2_per_capita", "lcrpgr",
            "lcrpgr_region", "land_population_elasticity", "share_gini"} <= names
    comp = pd.read_csv(out / "compare.csv")
    row = comp[(comp["measure"] == "percapita_gini_person_weighted") & (comp["epoch"] == 2020)]
    assert len(row) == 1 and np.isfinite(row["abs_change"]).all()
    assert row["abs_change"].iloc[0] != 0  # the merger moves people and land together
    report = (out / "REPORT.md").read_text()
    assert "## Land per person and spatial justice" in report
    assert "Person-weighted" in report and "Land-weighted" in report
    html = (out / "report.html").read_text(encoding="utf-8")
    for text in ("Land per person and spatial justice", "Lorenz curve of built-up m² per "
                 "capita, 2020", "person-weighted", "land-weighted",
                 "Inequality of built-up m² per capita across units"):
        assert text in html, text


def test_run_without_population_has_no_population_measures(dc_run):
    _, out = dc_run
    tidy = pd.read_parquet(out / "measures.parquet")
    assert not [m for m in set(tidy["measure"]) if m.startswith("percapita_")
                or "lcrpgr" in m or "per_capita" in m]
    j = pyogrio.read_dataframe(out / "results.gpkg", layer="justice")
    assert list(j.columns) == ["note"] and "population" in j["note"].iloc[0]
    report = (out / "REPORT.md").read_text()
    section = report.split("## Land per person and spatial justice", 1)[1]
    assert "Not computed" in section and "[boundaries] population" in section
    assert "Land per person and spatial justice" in (out / "report.html").read_text(
        encoding="utf-8")
