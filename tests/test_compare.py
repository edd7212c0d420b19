"""``gisfix.compare``: any measure as a callable over (units, built-up table); errors propagate.

Oracles: hand-solved values on the embedded Virginia counties (unit counts, summed areas)
and PySAL's Gini on the same values.
"""

from __future__ import annotations

import numpy as np
import pytest

import gisfix
from gisfix import datasets
from gisfix.errors import DataError, EditError

SCENARIO = {"scenario": {"name": "1995"},
            "edit": [{"op": "merge", "units": ["51780", "51083"], "into": "51083"}]}


@pytest.fixture(scope="module")
def va():
    g = datasets.load("virginia-pre1995")
    g["pop"] = np.arange(1, len(g) + 1, dtype=float) * 1000
    return g


def test_callable_measures(va):
    from inequality.gini import Gini

    def n_units(units, table):
        return len(units)

    t = gisfix.compare(va, SCENARIO, measures={
        "n": n_units,
        "pop": lambda units, table: {"total": units["pop"].sum(), "max": units["pop"].max()},
        "gini_pop": lambda units, table: Gini(units["pop"].to_numpy()).g}, extensive=["pop"])
    assert t.loc["n"].tolist() == [136, 135, -1]
    assert t.loc["pop.total", "change"] == pytest.approx(0.0, abs=1e-6)
    merged = va.loc["51780", "pop"] + va.loc["51083", "pop"]
    assert t.loc["pop.max", "after"] == max(merged, va["pop"].max())
    after = va["pop"].drop(["51780", "51083"]).tolist() + [merged]
    assert t.loc["gini_pop", "after"] == pytest.approx(Gini(np.array(after)).g)
    # a bare callable in a list takes its __name__; names and callables mix
    t2 = gisfix.compare(va, SCENARIO, value="pop", measures=["gini", n_units])
    assert list(t2.index) == ["gini", "n_units"]


def test_errors_propagate_never_an_empty_result(va):
    def broken(units, table):
        raise DataError("this measure needs a population column")

    with pytest.raises(DataError, match="needs a population"):
        gisfix.compare(va, SCENARIO, measures={"broken": broken})
    with pytest.raises(EditError, match="returned str"):
        gisfix.compare(va, SCENARIO, measures={"bad": lambda u, t: "high"})
    two = va.loc[["51780", "51083"]]
    # one unit left after the merger: inequality is not defined, and compare says so
    with pytest.raises(DataError, match="at least 2 units"):
        gisfix.compare(two, SCENARIO, value="pop")
