"""An installable package: the wheel carries the embedded data and templates, installs into a
fresh virtual environment and runs ``gisfix demo`` from an empty folder.

The wheel is built from a copy of the source with ``uv build --wheel`` (its build backend,
setuptools, and the fresh venv's dependencies come from the package index through uv's
cache). Skipped, with the reason, where uv is not available."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Files the demo and the report need at run time, inside the wheel.
PACKAGE_DATA = ("gisfix/data/swiss_municipalities.gpkg", "gisfix/data/virginia_counties.gpkg",
                "gisfix/data/scenarios/virginia_reversions.toml", "gisfix/data/README.md",
                "gisfix/templates/report.html", "gisfix/templates/report.css",
                "gisfix/py.typed")


def _uv():
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        pytest.skip("uv is not installed (make install puts it in .venv/bin)")
    return uv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "gisfix", src / "gisfix",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path_factory.mktemp("dist")
    p = subprocess.run([_uv(), "build", "-q", "--wheel", "--out-dir", str(dist), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    (whl,) = dist.glob("gisfix-*.whl")
    return whl


def test_wheel_carries_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in PACKAGE_DATA if n not in names]
    assert not missing, missing
    assert not any(n.startswith(("tests/", "data/")) for n in names)


def test_fresh_venv_runs_the_demo_from_an_empty_folder(wheel, tmp_path):
    uv = _uv()
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    p = subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    py = venv / "bin" / "python"
    p = subprocess.run([uv, "pip", "install", "-q", "--python", str(py), str(wheel)],
                       capture_output=True, text=True, env=env, timeout=600)
    if p.returncode != 0 and ("network" in p.stderr.lower() or "dns" in p.stderr.lower()):
        pytest.skip(f"the package index is unreachable: {p.stderr.strip()[-300:]}")
    assert p.returncode == 0, p.stderr[-3000:]
    empty = tmp_path / "empty"
    empty.mkdir()
    gisfix = venv / "bin" / "gisfix"
    p = subprocess.run([str(gisfix), "data", "path", "swiss-2018"], cwd=empty,
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert str(venv) in p.stdout and str(ROOT) not in p.stdout  # read from the install
    p = subprocess.run([str(gisfix), "demo", "-o", "OUT"], cwd=empty, capture_output=True,
                       text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    out = empty / "OUT"
    for name in ("swiss_2018_2024.gpkg", "virginia.gpkg", "report.html", "project.qgz",
                 "REPORT.md", "summary.json"):
        assert (out / name).stat().st_size > 0, name
