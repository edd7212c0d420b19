"""The county-to-district notebook runs top to bottom through nbclient on ../shared/data.

It asserts its own numbers against independent sources inside (pyfixest called directly
for TWFE; hand-checked conversions); here it must execute without error within the time
budget, and be stored with its outputs stripped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_county_to_district_did.ipynb"
#: wall-clock budget of one execution (seconds)
TIMEOUT_S = 600


def test_notebook_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None


@pytest.mark.shared
def test_notebook_executes(shared, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("pyfixest")
    pytest.importorskip("differences")
    data = shared("china_county_panel", "areacodes_result.csv").parent.parent
    shared("china_counties_2020", "china_counties_2020.gpkg")
    monkeypatch.setenv("GISFIX_SHARED_DATA", str(data))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "units x 22 years" in text
