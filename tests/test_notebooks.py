"""The notebooks run top to bottom in a real Jupyter kernel (nbclient), as a reader runs them.

A notebook that needs ``../shared/data`` says so in its metadata
(``"gisfix": {"needs_shared_data": true}``) and is skipped, with the reason, when that folder
is absent. Notebooks are stored with their outputs stripped (checked here too).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import SHARED

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
#: seconds a single cell may take before the notebook counts as broken
CELL_TIMEOUT_S = 600


def _needs_shared(path: Path) -> bool:
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return bool(meta.get("gisfix", {}).get("needs_shared_data", False))


def _own_runner(path: Path) -> bool:
    """Notebooks with metadata ``gisfix.runner`` are executed by their own test module."""
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return "runner" in meta.get("gisfix", {})


def _params(run: bool = False):
    for path in NOTEBOOKS:
        if run and _own_runner(path):
            continue
        marks = [pytest.mark.shared] if _needs_shared(path) else []
        yield pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("path", list(_params()))
def test_notebook_stored_without_outputs(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


@pytest.mark.parametrize("path", list(_params(run=True)))
def test_notebook_runs(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if _needs_shared(path) and not SHARED.exists():
        pytest.skip(f"{path.name} needs the shared real data ({SHARED} is absent; "
                    "set GISFIX_SHARED_DATA)")
    nb = nbformat.read(path, as_version=4)
    env = {"MPLBACKEND": "Agg", "GISFIX_SHARED_DATA": str(SHARED),
           "GISFIX_NOTEBOOK_OUTPUT": str(tmp_path)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
