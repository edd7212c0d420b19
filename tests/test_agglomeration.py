"""Agglomeration measures: PySAL as oracle, published values, hand cases, the CLI.

Moran, LISA and Gi* are tested in tests/test_spatial_autocorrelation.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gisfix.agglomeration import (
    concentration,
    hhi,
    hierarchy,
    intensity,
    location_quotient,
    lorenz_by_epoch,
    primacy,
    rank_size,
    top_share,
)
from gisfix.errors import DataError

#: Agreement with esda on the analytical statistics.
ESDA_RTOL = 1e-12
DC = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
DC_COUNTIES = ("ghsl_dc_baltimore", "counties_2017_census.gpkg")



def _table(built, valid, epoch=2000):
    return pd.DataFrame({"unit_id": [str(i) for i in range(len(built))], "epoch": epoch,
                         "builtup_km2": built, "valid_km2": valid,
                         "builtup_share": np.asarray(built) / np.asarray(valid)})


# -- per unit ------------------------------------------------------------------------------
def test_intensity_hand_case():
    t = _table([3.0, 1.0, 0.0], [10.0, 2.0, 5.0])
    units = pd.DataFrame({"pop": [1500.0, 100.0, 0.0]}, index=["0", "1", "2"])
    out = intensity(t, units, population="pop", thresholds=[0.3, 0.5])
    assert out["builtup_share"].tolist() == [0.3, 0.5, 0.0]
    assert out["intensity_level"].tolist() == [1, 2, 0]
    assert out["share_ge_0.3"].tolist() == [True, True, False]
    assert out["builtup_m2_per_capita"].iloc[0] == pytest.approx(2000.0)   # 3 km2 / 1500
    assert math.isnan(out["builtup_m2_per_capita"].iloc[2])                # no population
    assert out["population_per_km2"].tolist() == [150.0, 50.0, 0.0]
    with pytest.raises(DataError, match="shares, not percent"):
        intensity(t, thresholds=[30])
    with pytest.raises(DataError, match="not found"):
        intensity(t, units, population="popu")
    with pytest.raises(DataError, match="lacks column"):
        intensity(t.drop(columns="valid_km2"))


def test_location_quotient_hand_case():
    t = _table([3.0, 1.0, 0.0], [10.0, 2.0, 8.0])            # region share 4/20 = 0.2
    assert location_quotient(t).tolist() == pytest.approx([1.5, 2.5, 0.0])


# -- concentration -------------------------------------------------------------------------
def test_hhi_and_top_share_hand_cases():
    assert hhi([1, 1, 2]) == 0.375
    assert hhi([5, 5, 5, 5]) == 0.25 and hhi([5, 5, 5, 5], normalized=True) == 0.0
    assert hhi([0, 0, 7], normalized=True) == 1.0
    assert top_share([5, 3, 2], 2) == 0.8
    with pytest.raises(DataError, match="NaN"):
        hhi([1, np.nan])
    with pytest.raises(DataError, match="negative"):
        top_share([1, -1])


def test_concentration_gini_matches_pysal():
    from inequality.gini import Gini

    rng = np.random.default_rng(3)
    t = pd.concat([_table(rng.lognormal(0, 1, 40), np.full(40, 100.0), e) for e in (1990, 2000)])
    out = concentration(t, top_k=(1, 3))
    for e, grp in t.groupby("epoch"):
        x = grp["builtup_km2"].to_numpy()
        assert out.loc[e, "gini"] == pytest.approx(Gini(x).g, rel=1e-12)
        assert out.loc[e, "hhi"] == pytest.approx(((x / x.sum()) ** 2).sum(), rel=1e-12)
        assert out.loc[e, "top3_share"] == pytest.approx(np.sort(x)[-3:].sum() / x.sum())
    zero = concentration(_table([0.0, 0.0], [1.0, 1.0], 1980))
    assert zero.loc[1980, "total"] == 0 and math.isnan(zero.loc[1980, "gini"])
    lz = lorenz_by_epoch(t)
    assert set(lz["epoch"]) == {1990, 2000}
    assert lz.groupby("epoch")["value_share"].max().tolist() == pytest.approx([1.0, 1.0])


# -- hierarchy -----------------------------------------------------------------------------
@pytest.mark.parametrize("b", [1.0, 0.8, 1.7])
def test_rank_size_exact_power_law(b):
    """Sizes S_r = (r - 1/2)^(-1/b) lie exactly on the GI regression line: slope -b."""
    n = 50
    sizes = 1e6 * (np.arange(1, n + 1) - 0.5) ** (-1.0 / b)
    rng = np.random.default_rng(0)
    res = rank_size(rng.permutation(sizes))
    assert res.exponent == pytest.approx(b, rel=1e-12)
    assert res.se == pytest.approx(b * math.sqrt(2 / n), rel=1e-12)   # GI (2011) standard error
    assert res.r2 == pytest.approx(1.0)
    assert res.intercept == pytest.approx(b * math.log(1e6), rel=1e-12)
    assert rank_size(sizes, top=10).n == 10


def test_rank_size_bad_input():
    with pytest.raises(DataError, match="at least 3"):
        rank_size([3.0, 1.0])
    with pytest.raises(DataError, match="> 0"):
        rank_size([3.0, 1.0, 0.0])


def test_primacy_hand_cases():
    assert primacy([10, 5, 3, 2, 1]) == {"primacy_2": 2.0, "primacy_4": 1.0}
    assert primacy([4, 8, 2]) == {"primacy_2": 2.0, "primacy_4": pytest.approx(math.nan,
                                                                                nan_ok=True)}
    t = _table([10.0, 5.0, 3.0, 2.0, 0.0], np.full(5, 20.0))
    h = hierarchy(t).loc[2000]
    assert h["primacy_2"] == 2.0 and h["primacy_4"] == 1.0 and h["zipf_n"] == 4


# -- spatial autocorrelation ---------------------------------------------------------------
@pytest.mark.shared
def test_cli_dc_counties(run_cli, shared, tmp_path):
    import geopandas as gpd

    out = tmp_path / "agg.gpkg"
    r = run_cli("agglomeration", shared(*DC_COUNTIES), shared(*DC), "--id", "fips",
                "--layer", "counties", "--epochs", "1990,2020", "--method", "centre",
                "--permutations", "99", "-o", out)
    assert r.exit_code == 0, r.output
    units = gpd.read_file(out, layer="units")
    summary = gpd.read_file(out, layer="summary")
    assert len(units) == 60 and sorted(summary["epoch"]) == [1990, 2020]
    # centre-rule built-up area and the patch metrics' class area count the same cells
    np.testing.assert_allclose(units["builtup_km2"] * 100, units["total_area_ha"], rtol=1e-6,
                               atol=1e-6)
    assert set(units["lisa_cluster"]) <= {"HH", "LH", "LL", "HL", "ns"}
    assert summary["moran_I"].between(-1, 1).all()
    r2 = run_cli("agglomeration", shared(*DC_COUNTIES), shared(*DC), "--id", "fips",
                 "--epochs", "2020", "-o", out)
    assert r2.exit_code == 1 and "exists" in r2.output
    csv = tmp_path / "agg.csv"
    r3 = run_cli("agglomeration", shared(*DC_COUNTIES), shared(*DC), "--id", "fips",
                 "--epochs", "2020", "--no-patches", "--permutations", "0", "--threshold",
                 "0.3,0.5", "-o", csv)
    assert r3.exit_code == 0, r3.output
    table = pd.read_csv(csv, dtype={"unit_id": str})
    assert {"share_ge_0.3", "share_ge_0.5", "hotspot"} <= set(table.columns)
    assert "total_area_ha" not in table.columns
    assert (tmp_path / "agg_summary.csv").exists()
    assert (tmp_path / "agg.csv.provenance.json").exists()


@pytest.mark.shared
@pytest.mark.parametrize("kind", ["rook", "knn=4"])
def test_cli_graph_kinds(run_cli, shared, tmp_path, kind):
    """--graph: Moran's I of the written shares under libpysal's graph of the same kind."""
    import geopandas as gpd
    from libpysal.graph import Graph

    csv = tmp_path / "agg.csv"
    r = run_cli("agglomeration", shared(*DC_COUNTIES), shared(*DC), "--id", "fips",
                "--epochs", "2020", "--no-patches", "--permutations", "0", "--graph", kind,
                "-o", csv)
    assert r.exit_code == 0, r.output
    table = pd.read_csv(csv, dtype={"unit_id": str}).set_index("unit_id")
    summary = pd.read_csv(tmp_path / "agg_summary.csv")
    units = gpd.read_file(shared(*DC_COUNTIES), layer="counties").set_index("fips")
    peer = (Graph.build_contiguity(units, rook=True) if kind == "rook"
            else Graph.build_knn(units.centroid, k=4)).transform("r")
    z = table["builtup_share"].reindex(peer.unique_ids.astype(str)).to_numpy()
    z = z - z.mean()
    w = peer.sparse.toarray()
    expect = len(z) / w.sum() * (z @ w @ z) / (z @ z)  # Moran (1950)
    assert summary["moran_I"].iloc[0] == pytest.approx(expect, rel=ESDA_RTOL * 100)
    r = run_cli("agglomeration", "b.gpkg", "r.tif", "--id", "x", "--graph", "bishop",
                "-o", tmp_path / "o.csv")
    assert r.exit_code == 1 and "unknown graph kind 'bishop'" in r.output


def test_cli_bad_input(run_cli, tmp_path):
    r = run_cli("agglomeration", tmp_path / "none.gpkg", tmp_path / "r.tif", "--id", "x",
                "-o", tmp_path / "o.csv")
    assert r.exit_code == 1 and "gisfix: error:" in r.output and "none.gpkg" in r.output
    r = run_cli("agglomeration", "b.gpkg", "r.tif", "--id", "x", "--threshold", "abc",
                "-o", tmp_path / "o.csv")
    assert r.exit_code == 2 and "--threshold" in r.output
    r = run_cli("agglomeration", "b.gpkg", "r.tif", "--id", "x", "-o", tmp_path / "o.txt")
    assert r.exit_code == 1 and "unknown output format" in r.output


@pytest.mark.shared
def test_cli_bad_population_and_threshold(run_cli, shared, tmp_path):
    r = run_cli("agglomeration", shared(*DC_COUNTIES), shared(*DC), "--id", "fips",
                "--population", "POP", "-o", tmp_path / "o.csv")
    assert r.exit_code == 1 and "population column 'POP'" in r.output
    r = run_cli("agglomeration", shared(*DC_COUNTIES), shared(*DC), "--id", "fips",
                "--threshold", "30", "--no-patches", "--epochs", "2020", "-o", tmp_path / "o.csv")
    assert r.exit_code == 1 and "shares, not percent" in r.output


@pytest.mark.shared
def test_cli_geographic_raster_needs_no_patches(run_cli, shared, tmp_path):
    d = "ghsl_ldsmt_bacau"
    tif = next(shared(d).glob("*.tif"))
    shp = shared(d, "bacau_municipality.shp")
    r = run_cli("agglomeration", shp, tif, "--id", "pop2015", "--encoding", "ldsmt",
                "-o", tmp_path / "o.csv")
    assert r.exit_code == 1 and "--no-patches" in r.output
