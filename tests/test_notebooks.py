"""The notebooks run: every code cell of notebooks/*.ipynb executes in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# notebooks on ../shared/data carry metadata gisfix.runner: their own nbclient test runs them
NOTEBOOKS = [p for p in NOTEBOOKS if "runner" not in json.loads(
    p.read_text(encoding="utf-8")).get("metadata", {}).get("gisfix", {})]


def _needs_shared(path: Path) -> bool:
    """A notebook that needs ../shared/data says so: metadata gisfix.needs_shared_data."""
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return bool(meta.get("gisfix", {}).get("needs_shared_data", False))


def _params():
    for path in NOTEBOOKS:
        marks = [pytest.mark.shared] if _needs_shared(path) else []
        yield pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("path", list(_params()))
def test_notebook_stored_without_outputs(path):
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


@pytest.mark.parametrize("path", list(_params()))
def test_notebook_runs(path, monkeypatch):
    import matplotlib

    if _needs_shared(path) and not SHARED.exists():
        pytest.skip(f"{path.name} needs the shared real data ({SHARED} is absent; "
                    "set GISFIX_SHARED_DATA)")
    matplotlib.use("Agg")
    monkeypatch.chdir(path.parent)
    monkeypatch.setenv("GISFIX_SHARED_DATA", str(SHARED))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    namespace: dict = {}
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)  # noqa: S102
