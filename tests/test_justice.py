"""Person-weighted inequality: each person holds their unit's per-capita outcome.

Oracle: PySAL ``inequality`` 1.1.2 (Gini, Theil, TheilD) run on the vector of *persons*
(each unit's value repeated once per inhabitant; integer populations), and Theil L written
out by hand on that vector.  Population weighting must equal this expansion exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gisfix.errors import DataError
from gisfix.justice import builtup_justice, justice_inequality, justice_lorenz

#: Weighted and expanded forms agree to float round-off.
ATOL = 1e-12

IDS = ["a", "b", "c", "d", "e"]
M2 = pd.Series([250.0, 80.0, 120.0, 400.0, 60.0], index=IDS)      # built-up m2 per capita
POP = pd.Series([3, 10, 6, 1, 8], index=IDS)                      # inhabitants
REGION = pd.Series(["N", "N", "S", "S", "S"], index=IDS)
AREA = pd.Series([50.0, 5.0, 10.0, 80.0, 2.0], index=IDS)


def _persons(values, pop):
    return np.repeat(values.to_numpy(), pop.to_numpy())


def test_person_weighted_equals_expanded_persons():
    from inequality.gini import Gini
    from inequality.theil import Theil, TheilD

    out = justice_inequality(M2, POP, REGION).set_index(["measure", "weighting"])
    x = _persons(M2, POP)
    reg = np.repeat(REGION.to_numpy(), POP.to_numpy())
    assert out.loc[("gini", "person"), "value"] == pytest.approx(Gini(x).g, abs=ATOL)
    assert out.loc[("theil_t", "person"), "value"] == pytest.approx(Theil(x).T, abs=ATOL)
    td = TheilD(x, reg)
    assert out.loc[("theil_t", "person"), "between"] == pytest.approx(float(td.bg[0]),
                                                                      abs=ATOL)
    assert out.loc[("theil_t", "person"), "within"] == pytest.approx(float(td.wg[0]), abs=ATOL)
    mu = x.mean()
    assert out.loc[("theil_l", "person"), "value"] == pytest.approx(np.mean(np.log(mu / x)),
                                                                    abs=ATOL)
    # Theil L between part by hand: population shares times log of mean ratios
    between_l = sum((reg == g).mean() * np.log(mu / x[reg == g].mean()) for g in ("N", "S"))
    assert out.loc[("theil_l", "person"), "between"] == pytest.approx(between_l, abs=ATOL)
    # unit-weighted rows: one unit one vote
    assert out.loc[("gini", "unit"), "value"] == pytest.approx(Gini(M2.to_numpy()).g, abs=ATOL)
    assert set(out.index.get_level_values("weighting")) == {"person", "unit"}
    assert np.isnan(out.loc[("gini", "person"), "between"])


def test_land_weighted_rows_and_person_theil_is_land_vs_people_shares():
    out = justice_inequality(M2, POP, area=AREA).set_index(["measure", "weighting"])
    assert {"person", "land", "unit"} == set(out.index.get_level_values("weighting"))
    # person-weighted Theil T of land per capita = sum lambda ln(lambda / pi)
    land = M2 * POP
    lam, pi = land / land.sum(), POP / POP.sum()
    assert out.loc[("theil_t", "person"), "value"] == pytest.approx(
        float((lam * np.log(lam / pi)).sum()), abs=ATOL)
    # land-weighted: each km2 of the unit's area holds the unit's value
    from inequality.gini import Gini

    x = np.repeat(M2.to_numpy(), (AREA * 10).astype(int).to_numpy())
    assert out.loc[("gini", "land"), "value"] == pytest.approx(Gini(x).g, abs=ATOL)


def test_lorenz_population_shares():
    c = justice_lorenz(M2, POP)
    assert list(c.columns) == ["weighting", "unit_id", "value", "weight_share", "value_share"]
    person = c[c.weighting == "person"]
    # sorted by m2 per capita: e (8 people, 480 m2), b (10, 800), c (6, 720), a (3, 750),
    # d (1, 400); total 28 people, 3150 m2
    np.testing.assert_allclose(person["weight_share"], np.cumsum([0, 8, 10, 6, 3, 1]) / 28)
    np.testing.assert_allclose(person["value_share"],
                               np.cumsum([0, 480, 800, 720, 750, 400]) / 3150)
    assert person["unit_id"].tolist()[1:] == ["e", "b", "c", "a", "d"]
    both = justice_lorenz(M2, POP, area=AREA)
    assert set(both.weighting) == {"person", "land"}


def test_builtup_justice_per_epoch():
    t = pd.DataFrame({"unit_id": IDS * 2, "epoch": [2000] * 5 + [2020] * 5,
                      "population": list(POP) * 2,
                      "builtup_m2_per_capita": list(M2) + list(M2 * 1.5)})
    out = builtup_justice(t, groups=REGION)
    assert list(out.columns[:3]) == ["epoch", "outcome", "measure"]
    g = out.set_index(["epoch", "measure", "weighting"])["value"]
    # scale invariance: inequality does not change when everyone gets 50 % more
    assert g[(2000, "gini", "person")] == pytest.approx(g[(2020, "gini", "person")], abs=ATOL)
    with pytest.raises(DataError, match="no column"):
        builtup_justice(t.drop(columns="population"))


def test_bad_input():
    with pytest.raises(DataError, match="no population"):
        justice_inequality(M2, POP.drop("a"))
    with pytest.raises(DataError, match="unknown measure"):
        justice_inequality(M2, POP, measures=["atkinson"])
    with pytest.raises(DataError, match=">= 0"):
        justice_inequality(M2, -POP)
    with pytest.raises(DataError, match="needs the population"):
        justice_inequality(M2, None)
