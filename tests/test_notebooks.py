"""The notebooks run: every code cell of notebooks/*.ipynb executes in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# notebooks on ../shared/data carry metadata gisfix.runner: their own nbclient test runs them
NOTEBOOKS = [p for p in NOTEBOOKS if "runner" not in json.loads(
    p.read_text(encoding="utf-8")).get("metadata", {}).get("gisfix", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(path.parent)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    namespace: dict = {}
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)  # noqa: S102
