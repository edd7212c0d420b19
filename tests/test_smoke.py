from gisfix import datasets, read_boundaries


def test_embedded_swiss_reads():
    gdf = read_boundaries(datasets.get_path("swiss-2018"), id_col="id", layer="municipalities_2018")
    assert len(gdf) == 2225
    assert gdf.crs.to_epsg() == 2056
    assert gdf.index.is_unique


def test_cli_help(run_cli):
    r = run_cli("--help")
    assert r.exit_code == 0
    assert "info" in r.output
