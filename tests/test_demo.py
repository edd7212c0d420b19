"""The offline demo, run once through the real CLI: every file written, QGIS-ready, and its
headline numbers checked against independent facts (the 2024 vintage, the 2017 vintage,
PySAL's Theil on the same data, and the Swiss before/after table against a direct API
computation on the 2018 units and on the edited units counted over the raster)."""

from __future__ import annotations

import json

import pytest

from gisfix.workflows.demo import OUTPUTS

#: IoU thresholds of issue 5: same generalisation (Swiss), different producers (Virginia).
SWISS_IOU = 0.99
VIRGINIA_IOU = 0.94


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from click.testing import CliRunner

    from gisfix.cli.main import cli

    out = tmp_path_factory.mktemp("demo") / "demo-output"
    r = CliRunner().invoke(cli, ["demo", "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


def test_every_output_written(demo_dir):
    for name in OUTPUTS:
        assert (demo_dir / name).stat().st_size > 0, name
    assert not [p for p in demo_dir.iterdir() if ".tmp" in p.name]


#: Tolerance of the demo's before/after values against the direct API computation.
REL = 1e-9


def test_raster_layers_in_results(demo_dir):
    import pyogrio

    layers = set(pyogrio.list_layers(demo_dir / "results.gpkg")[:, 0])
    assert {"units", "units_long", "patches", "summary", "inequality", "stages",
            "units_mergers_2018_2024", "lineage_mergers_2018_2024",
            "change_mergers_2018_2024"} <= layers
    patches = pyogrio.read_dataframe(demo_dir / "results.gpkg", layer="patches")
    assert len(patches) > 100 and patches["area_km2"].sum() > 1000  # urban km² in 2025
    report = (demo_dir / "REPORT.md").read_text()
    assert "cannot be shown" in report and "GHS-BUILT-S" in report
    assert "Virginia" in report and "Mexico" in report


def test_swiss_before_after_equals_the_api(demo_dir):
    """Gini, Theil T (between/within by canton), Moran's I and the count of units with
    urban share >= 0.3, for 2025, on the 2018 units and on the edited units."""
    from gisfix import builtup_by_unit, datasets, make_graph, moran
    from gisfix.edits import apply_scenario, load_scenario
    from gisfix.inequality import gini, theil_decomposition

    got = json.loads((demo_dir / "summary.json").read_text())["swiss_main_job"]
    units = datasets.load("swiss-2018")
    stack = datasets.load("degurba-switzerland-2025")
    edited = apply_scenario(units, load_scenario(
        demo_dir / "swiss_2018_2024_scenario.toml")).units
    for which, u in (("base", units), ("value", edited)):
        t = builtup_by_unit(u, stack).set_index("unit_id").loc[u.index]
        s, w = t["builtup_share"], t["valid_km2"]
        d = theil_decomposition(s, u["KTNR"], w, allow_singletons=True)
        direct = {"share_gini": gini(s, w), "share_theil_t": d.total,
                  "share_theil_t_between": d.between, "share_theil_t_within": d.within,
                  "moran_I": moran(s, make_graph(u), permutations=0).I,
                  "n_units_share_ge_0.3": int((s >= 0.3).sum()), "n_units": len(u)}
        for m, v in direct.items():
            assert got[m][which] == pytest.approx(v, rel=REL), (m, which)
    assert got["n_units"]["base"] == 2225 and got["n_units"]["value"] == 2134


def test_swiss_rebuilt_matches_2024(demo_dir):
    sw = json.loads((demo_dir / "summary.json").read_text())["swiss"]
    assert sw["ids_match_2024"] and sw["units_edited"] == 2134
    assert sw["iou_min"] >= SWISS_IOU
    assert sw["edits"]["merge"] == 55


def test_virginia_merged_iou(demo_dir):
    va = json.loads((demo_dir / "summary.json").read_text())["virginia"]
    assert va["units_after"] == 133
    assert min(va["merged_iou_vs_2017"].values()) >= VIRGINIA_IOU


def test_mexico_theil_matches_pysal(demo_dir):
    import libpysal
    import pandas as pd
    from inequality.theil import Theil

    mx = json.loads((demo_dir / "mexico_inequality.json").read_text())
    df = pd.read_csv(libpysal.examples.get_path("mexico.csv"))
    for row in mx["by_decade"]:
        assert row["theil_t"] == pytest.approx(Theil(df[f"pcgdp{row['year']}"]).T, abs=1e-6)
    assert mx["provenance"]["parameters"]["seed"] == 2010


def test_demo_refuses_to_overwrite(demo_dir, run_cli):
    before = (demo_dir / "REPORT.md").stat().st_mtime_ns
    r = run_cli("demo", "-o", demo_dir)
    assert r.exit_code == 1 and "pass --overwrite" in r.output
    assert (demo_dir / "REPORT.md").stat().st_mtime_ns == before


def test_demo_geopackages_open_in_qgis(demo_dir):
    from test_qgis import qgis_layers

    layers, proc = qgis_layers(demo_dir / "swiss_2018_2024.gpkg")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert layers["municipalities_edited"]["renderer"] == "categorizedSymbol"
    assert layers["municipalities_edited"]["features"] == 2134
