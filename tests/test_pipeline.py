"""``gisfix run``: the whole per-region job on real data, through the CLI.

Oracles: each layer of results.gpkg equals the API function it comes from run directly
(the pipeline must compose, not recompute differently), the built-up totals equal the
stack's own whole-grid count where the units cover the grid, and QGIS opens the result."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

import gisfix


@pytest.fixture(scope="module")
def dc_run(tmp_path_factory):
    from click.testing import CliRunner
    from conftest import shared_path

    from gisfix.cli.main import cli

    folder = shared_path("ghsl_dc_baltimore")
    out = tmp_path_factory.mktemp("run") / "dc"
    args = ["run", str(folder / "counties_2017_census.gpkg"),
            str(folder / "ghsl_year_built_100m_mollweide.tif"), "--id", "fips",
            "--lei", "1990,2020", "-o", str(out)]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return folder, out


def test_layers_equal_the_api(dc_run):
    folder, out = dc_run
    units = gisfix.read_boundaries(folder / "counties_2017_census.gpkg", id="fips")
    stack = gisfix.open_builtup(folder / "ghsl_year_built_100m_mollweide.tif", "year-built")
    table = gisfix.builtup_by_unit(units, stack)
    got = pyogrio.read_dataframe(out / "results.gpkg", layer="builtup")
    pd.testing.assert_frame_equal(got[table.columns].reset_index(drop=True),
                                  table.reset_index(drop=True), check_dtype=False)
    stages = gisfix.city_stages(stack, table=table)
    got = pyogrio.read_dataframe(out / "results.gpkg", layer="stages")
    assert list(got["stage_name"]) == list(stages["stage_name"])
    patches = pyogrio.read_dataframe(out / "results.gpkg", layer="lei_patches")
    direct, _ = gisfix.lei_by_unit(units, stack, 1990, 2020, polygons=False)
    assert len(patches) == len(direct)
    np.testing.assert_allclose(np.sort(patches["lei"]), np.sort(direct["lei"]))


def test_units_layer_and_report(dc_run):
    _, out = dc_run
    units = gpd.read_file(out / "results.gpkg", layer="units")
    assert len(units) == 30 and "share_2030" in units and units.crs is not None
    report = (out / "REPORT.md").read_text()
    assert "Four-stage labels" in report and "share_map.png" in report
    for name in ("share_map.png", "builtup_chart.png"):
        assert (out / name).stat().st_size > 10_000


def test_refuses_to_overwrite(dc_run, run_cli):
    folder, out = dc_run
    r = run_cli("run", folder / "counties_2017_census.gpkg",
                folder / "ghsl_year_built_100m_mollweide.tif", "--id", "fips", "-o", out)
    assert r.exit_code == 1 and "pass --overwrite" in r.output


def test_opens_in_qgis(dc_run):
    from test_qgis import qgis_layers

    _, out = dc_run
    layers, proc = qgis_layers(out / "results.gpkg")
    assert layers["units"]["renderer"] == "graduatedSymbol"
    assert layers["lei_patches"]["renderer"] == "categorizedSymbol"


def test_geographic_raster_skips_lei_with_a_note(shared, run_cli, tmp_path):
    folder = shared("ghsl_ldsmt_bacau")
    out = tmp_path / "bacau"
    r = run_cli("run", folder / "bacau_municipality.shp",
                folder / "bacau_ghs_built_ldsmt_epochs.tif", "--id", "natcode",
                "--encoding", "ldsmt", "-o", out)
    assert r.exit_code == 0, r.output
    assert "LEI and stages skipped: the raster is geographic" in r.output
    assert "LEI and stages skipped" in (out / "REPORT.md").read_text()
