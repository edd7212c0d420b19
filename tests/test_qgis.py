"""Outputs open in QGIS: every layer valid, the default style applied (needs QGIS; skipped
when Debian's QGIS is not installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from gisfix import styles
from gisfix.io import provenance, write_layers

QGIS_PYTHON = "/usr/bin/python3"
CHECK = Path(__file__).resolve().parent.parent / "scripts" / "qgis_check.py"


def qgis_layers(*paths):
    if not shutil.which("qgis_process.bin"):
        pytest.skip("QGIS is not installed (apt-get install qgis python3-qgis)")
    p = subprocess.run([QGIS_PYTHON, str(CHECK), *map(str, paths)], capture_output=True,
                       text=True, timeout=180)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return {r["layer"]: r for r in rows}, p


def test_styled_geopackage_opens_in_qgis(tmp_path):
    g = gpd.GeoDataFrame({"id": ["a", "b", "c"], "share": [0.1, 0.5, 0.9],
                          "type": ["x", "y", "x"]},
                         geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=3035)
    out = tmp_path / "styled.gpkg"
    write_layers(out, {"units": g, "cats": g, "table": g.drop(columns="geometry")},
                 provenance({}, {}, "test"),
                 styles={"units": styles.graduated(g["share"], "share"),
                         "cats": styles.categorized(g["type"], "type")})
    layers, proc = qgis_layers(out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert layers["units"]["valid"] and layers["units"]["features"] == 3
    assert layers["units"]["renderer"] == "graduatedSymbol"
    assert layers["cats"]["renderer"] == "categorizedSymbol"
    assert layers["units"]["crs"] == "EPSG:3035"
    assert layers["table"]["valid"] and layers["provenance"]["features"] == 1
    assert "may only be partially supported" not in proc.stderr  # GeoPackage 1.2
