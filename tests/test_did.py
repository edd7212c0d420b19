"""Difference-in-differences through pyfixest and differences: oracles and bad input.

Oracles
- pyfixest's shipped staggered panel ``pyfixest/did/data/df_het.csv``: gisfix's TWFE,
  Sun-Abraham and Callaway-Sant'Anna numbers equal pyfixest's ``feols`` /
  ``event_study(estimator="saturated")`` and ``differences.ATTgt`` called directly here,
  to ``ORACLE_TOL``.
- A hand-built panel with a constant effect and no noise: every estimator returns exactly
  that effect (to ``EXACT_TOL``).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest

from gisfix.errors import DataError, DataWarning, GisfixError, IdError

pf = pytest.importorskip("pyfixest")
differences = pytest.importorskip("differences")

from gisfix.policy import assign_treatment, estimate_did, plot_event_study  # noqa: E402

#: the libraries' own pandas deprecations, raised inside their code when called directly here
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

ORACLE_TOL = 1e-9
EXACT_TOL = 1e-9
TRUE_EFFECT = 2.5


@pytest.fixture(scope="module")
def df_het():
    path = os.path.join(os.path.dirname(pf.__file__), "did", "data", "df_het.csv")
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def results(df_het):
    return {est: estimate_did(df_het, "dep_var", id_col="unit", time_col="year",
                              cohort_col="g", estimator=est)
            for est in ("twfe", "sun-abraham", "callaway-santanna")}


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_twfe_equals_pyfixest(df_het, results):
    res = results["twfe"]
    d = df_het.assign(post=((df_het["year"] >= df_het["g"]) & (df_het["g"] > 0)).astype(int))
    static = _quiet(pf.feols, "dep_var ~ post | unit + year", d, vcov={"CRV1": "unit"})
    t = static.tidy().loc["post"]
    assert res.att == pytest.approx(t["Estimate"], abs=ORACLE_TOL)
    assert res.se == pytest.approx(t["Std. Error"], abs=ORACLE_TOL)
    assert res.ci_low == pytest.approx(t["2.5%"], abs=ORACLE_TOL)
    assert res.ci_high == pytest.approx(t["97.5%"], abs=ORACLE_TOL)
    # dynamic: the shipped rel_year (never treated = -inf, dropped as collinear)
    dyn = _quiet(pf.feols, "dep_var ~ i(rel_year, ref=-1.0) | unit + year", df_het,
                 vcov={"CRV1": "unit"}).tidy()
    dyn.index = [float(n.split("::")[1]) for n in dyn.index]
    et = res.event_time.set_index("rel_time")
    assert len(et) == len(dyn) == 40
    for k, row in et.iterrows():
        assert row["coef"] == pytest.approx(dyn.loc[float(k), "Estimate"], abs=ORACLE_TOL)
        assert row["se"] == pytest.approx(dyn.loc[float(k), "Std. Error"], abs=ORACLE_TOL)
    assert (res.n_units, res.n_treated, res.n_cohorts) == (1500, 974, 2)


def test_sun_abraham_equals_pyfixest(df_het, results):
    res = results["sun-abraham"]
    fit = _quiet(pf.event_study, df_het, yname="dep_var", idname="unit", tname="year",
                 gname="g", estimator="saturated")
    agg = _quiet(fit.aggregate)
    et = res.event_time.set_index("rel_time")
    assert sorted(et.index) == sorted(int(float(k)) for k in agg.index)
    for k, row in agg.iterrows():
        assert et.loc[int(float(k)), "coef"] == pytest.approx(float(row["Estimate"]),
                                                              abs=ORACLE_TOL)
        assert et.loc[int(float(k)), "se"] == pytest.approx(float(row["Std. Error"]),
                                                            abs=ORACLE_TOL)
    # overall ATT: post cells weighted by their treated observations (fixest's agg="ATT")
    tidy = fit.tidy()
    num = den = 0.0
    treated = df_het[(df_het["g"] > 0) & (df_het["year"] >= df_het["g"])]
    counts = treated.groupby(["g", treated["year"] - treated["g"]]).size()
    for name, est in tidy["Estimate"].items():
        lag = float(name.split("::")[1].split(":")[0])
        g = int(name.split("::")[2])
        if lag >= 0:
            num += counts[(g, int(lag))] * est
            den += counts[(g, int(lag))]
    assert res.att == pytest.approx(num / den, abs=ORACLE_TOL)


@pytest.mark.parametrize("control", ["never", "not-yet"])
def test_callaway_santanna_equals_differences(df_het, results, control):
    res = results["callaway-santanna"] if control == "never" else estimate_did(
        df_het, "dep_var", id_col="unit", time_col="year", cohort_col="g",
        estimator="callaway-santanna", control="not-yet")
    d = df_het.set_index(["unit", "year"])[["dep_var", "g"]].copy()
    d["cohort"] = d["g"].where(d["g"] > 0)
    att = differences.ATTgt(data=d[["dep_var", "cohort"]], cohort_column="cohort")
    _quiet(att.fit, formula="dep_var", progress_bar=False,
           control_group={"never": "never_treated", "not-yet": "not_yet_treated"}[control])
    simple = _quiet(att.aggregate, "simple").iloc[0]
    event = _quiet(att.aggregate, "event")
    flat = {c[-1]: v for c, v in simple.items()}
    assert res.att == pytest.approx(flat["ATT"], abs=ORACLE_TOL)
    assert res.se == pytest.approx(flat["std_error"], abs=ORACLE_TOL)
    et = res.event_time.set_index("rel_time")
    assert len(et) == len(event)
    for k, row in event.iterrows():
        r = {c[-1]: v for c, v in row.items()}
        assert et.loc[int(k), "coef"] == pytest.approx(r["ATT"], abs=ORACLE_TOL)
        assert et.loc[int(k), "se"] == pytest.approx(r["std_error"], abs=ORACLE_TOL)
    assert res.control == control


def test_true_effects_inside_the_intervals(df_het, results):
    """df_het carries its true effects: the heterogeneity-robust ATTs cover their mean."""
    treated = df_het[(df_het["g"] > 0) & (df_het["year"] >= df_het["g"])]
    truth = treated["te"].mean() + treated["te_dynamic"].mean()
    for est in ("sun-abraham", "callaway-santanna"):
        assert results[est].ci_low < truth < results[est].ci_high, (est, truth)


def _constant_effect_panel():
    rng = np.random.default_rng(3)
    rows = []
    cohorts = [2004] * 5 + [2007] * 6 + [0] * 19
    unit_fe = rng.normal(size=len(cohorts)) * 10
    year_fe = {y: rng.normal() * 3 for y in range(2000, 2011)}
    for u, g in enumerate(cohorts):
        for y in range(2000, 2011):
            treated = g > 0 and y >= g
            rows.append({"id": f"u{u:02d}", "year": y, "cohort": g,
                         "y": unit_fe[u] + year_fe[y] + (TRUE_EFFECT if treated else 0.0)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("estimator", ["twfe", "sun-abraham", "callaway-santanna"])
def test_constant_effect_recovered_exactly(estimator):
    panel = _constant_effect_panel()
    res = _quiet(estimate_did, panel, "y", id_col="id", time_col="year", estimator=estimator)
    assert res.att == pytest.approx(TRUE_EFFECT, abs=EXACT_TOL)
    et = res.event_time.set_index("rel_time")["coef"]
    assert np.allclose(et[et.index >= 0], TRUE_EFFECT, atol=1e-8)
    assert np.allclose(et[et.index < 0], 0.0, atol=1e-8)
    assert (res.n_units, res.n_treated, res.n_cohorts) == (30, 11, 2)


def test_window_bins_and_trims():
    panel = _constant_effect_panel()
    res = _quiet(estimate_did, panel, "y", id_col="id", time_col="year", window="-2,3")
    assert res.event_time["rel_time"].tolist() == [-2, 0, 1, 2, 3]
    assert res.details["window"] == [-2, 3]


def test_result_json_keys_and_plot(tmp_path, results):
    d = results["twfe"].to_dict({"gisfix_version": "x"})
    for key in ("estimator", "control", "att", "se", "ci_low", "ci_high", "n_units",
                "n_treated", "n_cohorts", "event_time", "provenance"):
        assert key in d
    assert set(d["event_time"][0]) == {"rel_time", "coef", "se", "ci_low", "ci_high"}
    json.dumps(d)
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_event_study(list(results.values()))
    assert len(fig.axes[0].lines) >= 3
    fig.savefig(tmp_path / "es.png")


def test_neighbour_exclusion_and_log():
    import geopandas as gpd
    from shapely.geometry import box

    panel = _constant_effect_panel()
    units = panel["id"].unique()
    grid = gpd.GeoDataFrame(geometry=[box(i % 6, i // 6, i % 6 + 1, i // 6 + 1)
                                      for i in range(len(units))], index=units, crs=3857)
    cohorts = panel.groupby("id")["cohort"].first()
    p = assign_treatment(panel.drop(columns="cohort"), cohorts, id_col="id", time_col="year",
                         units=grid)
    flagged = set(p.loc[p["neighbour_of_treated"], "id"])
    assert flagged and not flagged & set(cohorts[cohorts > 0].index)
    res = _quiet(estimate_did, p, "y", id_col="id", time_col="year", exclude_neighbours=True)
    assert res.n_units == 30 - len(flagged)
    assert res.att == pytest.approx(TRUE_EFFECT, abs=EXACT_TOL)
    pos = p.assign(y=np.exp(p["y"] / 10))
    res = _quiet(estimate_did, pos, "y", id_col="id", time_col="year", transform="log")
    assert res.att == pytest.approx(TRUE_EFFECT / 10, abs=EXACT_TOL)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------

def _events_for(panel):
    g = panel.groupby("id")["cohort"].first()
    g = g[g > 0]
    return pd.DataFrame({"unit_id": g.index, "year": g.to_numpy(),
                         "event": "county_to_district", "new_ids": g.index})


def test_bad_duplicate_rows():
    panel = _constant_effect_panel()
    bad = pd.concat([panel, panel.iloc[[3]]])
    with pytest.raises(IdError, match=r"duplicate \(id, year\) rows: \(u00, 2003\)"):
        estimate_did(bad, "y", id_col="id", time_col="year")


def test_bad_treatment_years_outside_panel():
    panel = _constant_effect_panel()
    bad = panel.assign(cohort=panel["cohort"].replace(2007, 2015))
    with pytest.raises(DataError, match="treatment years outside the panel's years 2000-2010"):
        estimate_did(bad, "y", id_col="id", time_col="year")
    from gisfix.policy import cohorts_from_events

    ev = _events_for(bad)
    tr = cohorts_from_events(ev, panel["id"].unique())
    with pytest.raises(DataError, match=r"u05 \(2015\)"):
        assign_treatment(panel, tr, id_col="id", time_col="year")


def test_bad_event_units_missing_from_panel():
    from gisfix.policy import cohorts_from_events

    panel = _constant_effect_panel()
    ev = pd.concat([_events_for(panel), pd.DataFrame(
        {"unit_id": ["nowhere"], "year": [2005], "event": ["county_to_district"],
         "new_ids": ["nowhere2"]})])
    with pytest.raises(IdError, match="missing from the panel \\(nowhere\\)"):
        cohorts_from_events(ev, panel["id"].unique())


def test_bad_small_cohort():
    panel = _constant_effect_panel()
    bad = panel.assign(cohort=panel["cohort"].where(panel["id"] != "u00", 2009))
    with pytest.raises(DataError, match=r"too small to estimate: 2009 \(1 unit\)"):
        estimate_did(bad, "y", id_col="id", time_col="year")
    with pytest.warns(DataWarning, match="2009 \\(1 unit\\)"):
        res = estimate_did(bad, "y", id_col="id", time_col="year", drop_small_cohorts=True)
    assert res.n_cohorts == 2


def test_bad_non_numeric_outcome():
    panel = _constant_effect_panel()
    bad = panel.assign(y=panel["y"].astype(str))
    bad.loc[7, "y"] = "n/a"
    with pytest.raises(DataError, match="outcome 'y' must be numeric.*n/a.*u00"):
        estimate_did(bad, "y", id_col="id", time_col="year")


def test_errors_are_gisfix_errors():
    for cls in (DataError, IdError):
        assert issubclass(cls, GisfixError)


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------

@pytest.fixture
def cli_files(tmp_path):
    panel = _constant_effect_panel()
    p = tmp_path / "panel.csv"
    panel.drop(columns="cohort").to_csv(p, index=False)
    e = tmp_path / "events.csv"
    _events_for(panel).to_csv(e, index=False)
    return panel, p, e


def test_cli_did_writes_json_and_plot(run_cli, cli_files, tmp_path):
    _, p, e = cli_files
    out, png = tmp_path / "did.json", tmp_path / "did.png"
    r = run_cli("did", p, "--unit", "id", "--time", "year", "--outcome", "y", "--events", e,
                "--estimator", "callaway-santanna", "--window", "-3,3", "-o", out,
                "--plot", png)
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["estimator"] == "callaway-santanna" and d["control"] == "never"
    assert d["att"] == pytest.approx(TRUE_EFFECT, abs=EXACT_TOL)
    assert [row["rel_time"] for row in d["event_time"]] == [-3, -2, -1, 0, 1, 2, 3]
    assert d["provenance"]["command"] == "gisfix did"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_did_exclude_neighbours(run_cli, cli_files, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    panel, p, e = cli_files
    ids = sorted(panel["id"].unique())
    grid = gpd.GeoDataFrame({"code": ids}, geometry=[box(i % 6, i // 6, i % 6 + 1, i // 6 + 1)
                                                     for i in range(len(ids))], crs=3857)
    gpkg = tmp_path / "units.gpkg"
    grid.to_file(gpkg, layer="units")
    out = tmp_path / "nb.json"
    r = run_cli("did", p, "--unit", "id", "--time", "year", "--outcome", "y", "--events", e,
                "--exclude-neighbours", gpkg, "--id", "code", "-o", out)
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    treated = set(panel.loc[panel["cohort"] > 0, "id"])
    near = {ids[j] for i, u in enumerate(ids) if u in treated for j in range(len(ids))
            if ids[j] not in treated and max(abs(i % 6 - j % 6), abs(i // 6 - j // 6)) == 1}
    assert d["n_units"] == 30 - len(near) and d["details"]["exclude_neighbours"] is True
    assert d["att"] == pytest.approx(TRUE_EFFECT, abs=EXACT_TOL)


@pytest.mark.parametrize("case,message", [
    ("duplicate", "duplicate (id, year) rows"),
    ("outside", "treatment years outside the panel's years"),
    ("missing", "missing from the panel (ghost)"),
    ("small", "too small to estimate: 2004 (1 unit)"),
    ("text", "outcome 'y' must be numeric"),
])
def test_cli_bad_input_one_line_exit_1(run_cli, cli_files, tmp_path, case, message):
    panel, p, e = cli_files
    df, ev = panel.drop(columns="cohort"), _events_for(panel)
    if case == "duplicate":
        df = pd.concat([df, df.iloc[[0]]])
    elif case == "outside":
        ev.loc[ev.index[0], "year"] = 1990
    elif case == "missing":
        ev = pd.concat([ev, pd.DataFrame({"unit_id": ["ghost"], "year": [2005],
                                          "event": ["county_to_district"],
                                          "new_ids": ["ghost"]})])
    elif case == "small":
        ev = ev[(ev["year"] != 2004) | (ev["unit_id"] == ev["unit_id"].iloc[0])]
    elif case == "text":
        df["y"] = df["y"].astype(str)
        df.loc[df.index[2], "y"] = "x"
    df.to_csv(p, index=False)
    ev.to_csv(e, index=False)
    out = tmp_path / "o.json"
    r = run_cli("did", p, "--unit", "id", "--time", "year", "--outcome", "y", "--events", e,
                "-o", out, "--plot", tmp_path / "o.png")
    assert r.exit_code == 1, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("gisfix: error:")]
    assert len(errors) == 1 and message in errors[0], r.output
    assert "Traceback" not in r.output
    assert not out.exists() and not (tmp_path / "o.png").exists()
    assert not list(tmp_path.glob(".o.*"))


# ---------------------------------------------------------------------------------------
# the real case: China's county-to-district conversions and urban night light
# ---------------------------------------------------------------------------------------

@pytest.mark.shared
@pytest.mark.filterwarnings("ignore::gisfix.errors.DataWarning")  # 340222 absent; 2004, 2009
def test_real_case_cli_code_history(run_cli, shared, tmp_path):
    """2002-2020 whole conversions vs counties never converted, ln(1 + urban light)."""
    panel = shared("china_county_panel", "county_ntl_viirslike_2001_2022.csv")
    codes = shared("china_county_panel", "areacodes_result.csv")
    out = tmp_path / "cs.json"
    r = run_cli("did", panel, "--unit", "countyCode", "--time", "year", "--outcome",
                "urban_sol", "--code-history", codes, "--to", "2020", "--missing", "drop",
                "--drop-small-cohorts", "--estimator", "callaway-santanna", "--window",
                "-5,10", "--log1p", "-o", out)
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    print(f"\nreal case callaway-santanna: ATT {d['att']:.4f} (se {d['se']:.4f}) "
          f"[{d['ci_low']:.4f}, {d['ci_high']:.4f}], {d['n_treated']} treated of "
          f"{d['n_units']} units, {d['n_cohorts']} cohorts")
    # 154 whole conversions 2002-2020 reach the panel; cohorts 2004 and 2009 have one unit
    assert d["n_treated"] == 152 and d["n_cohorts"] == 13 and d["n_units"] == 1936
    assert d["cohorts"]["2016"] == 29 and "2004" not in d["cohorts"]
    assert [row["rel_time"] for row in d["event_time"]] == list(range(-5, 11))
    assert d["att"] == pytest.approx(REAL_ATT["callaway-santanna"], abs=REAL_TOL)


#: ATTs on the real case (ln(1 + urban_sol), window -5..10), quoted in the README
REAL_ATT = {"twfe": 0.2350, "sun-abraham": 0.1537, "callaway-santanna": 0.1537}
REAL_TOL = 5e-4


@pytest.mark.shared
def test_real_case_twfe_and_sun_abraham(shared):
    from gisfix.events import read_code_history, read_panel
    from gisfix.policy import cohorts_from_events

    panel = read_panel(shared("china_county_panel", "county_ntl_viirslike_2001_2022.csv"),
                       "countyCode")
    events = read_code_history(shared("china_county_panel", "areacodes_result.csv"))
    treatment = _quiet(cohorts_from_events, events, panel["countyCode"].unique(), t0=2002,
                       t1=2020, comparison=("county", "city"), missing="drop")
    data = assign_treatment(panel, treatment, id_col="countyCode", time_col="year")
    for est in ("twfe", "sun-abraham"):
        res = _quiet(estimate_did, data, "urban_sol", id_col="countyCode", time_col="year",
                     estimator=est, transform="log1p", window=(-5, 10),
                     drop_small_cohorts=True)
        print(f"\nreal case {est}: ATT {res.att:.4f} (se {res.se:.4f}) "
              f"[{res.ci_low:.4f}, {res.ci_high:.4f}], pre-trend p {res.pretrend['p_value']:.3f}")
        assert res.att == pytest.approx(REAL_ATT[est], abs=REAL_TOL)
        assert res.n_treated == 152 and res.pretrend["df"] == 4
