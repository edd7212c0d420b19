"""Outputs open in real QGIS 3.22 (PyQGIS from Debian's /usr/bin/python3): every layer valid
with its default style, measure layers graduated / categorised / rule-based, reference layers
neutral; project.qgz opens with every layer valid, the raster included, from a moved folder.
Skipped, with the reason, where Debian's QGIS is not installed (``make test`` installs it
where it runs as root with apt)."""

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
#: Renderers that style a layer of measures by its values.
MEASURE_RENDERERS = {"graduatedSymbol", "categorizedSymbol", "RuleRenderer"}


def qgis_rows(*paths):
    if not shutil.which("qgis_process.bin") or not Path(QGIS_PYTHON).exists():
        pytest.skip("QGIS is not installed (apt-get install qgis python3-qgis; `make test` "
                    "does it where it runs as root)")
    p = subprocess.run([QGIS_PYTHON, str(CHECK), *map(str, paths)], capture_output=True,
                       text=True, timeout=300)
    if "No module named 'qgis'" in p.stderr:
        pytest.skip("PyQGIS is not installed for /usr/bin/python3 (apt-get install python3-qgis)")
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return rows, p


def qgis_layers(*paths):
    rows, p = qgis_rows(*paths)
    return {r["layer"]: r for r in rows if "layer" in r}, p


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


def test_automatic_styles_and_labels(tmp_path):
    g = gpd.GeoDataFrame(
        {"name": ["Zürich", "Bern", "A & <B>"], "lisa_cluster": ["HH", "ns", "LL"],
         "lei": [10.0, 55.0, 80.0], "growth_type": ["outlying", "infilling", "edge-expansion"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=2056)
    out = tmp_path / "auto.gpkg"
    write_layers(out, {"hotspots": g[["name", "lisa_cluster", "geometry"]],
                       "lei_patches": g, "measure": g[["name", "lei", "geometry"]],
                       "municipalities_2018": g[["name", "geometry"]]},
                 provenance({}, {}, "test"))
    layers, proc = qgis_layers(out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert layers["hotspots"]["renderer"] == "categorizedSymbol"
    assert layers["lei_patches"]["renderer"] == "categorizedSymbol"
    assert layers["measure"]["renderer"] == "graduatedSymbol"
    ref = layers["municipalities_2018"]
    assert ref["renderer"] == "singleSymbol" and ref["fill"] == "no"
    assert all(r["label_field"] == "name" for r in layers.values() if r["geometry"])
    for name in ("hotspots", "lei_patches", "measure", "municipalities_2018"):
        assert (tmp_path / f"auto.{name}.qml").exists()


def _check_vectors(rows, expected):
    vectors = [r for r in rows if r.get("geometry")]
    assert vectors
    for r in vectors:
        assert r["valid"], r
        styled = r["renderer"] in MEASURE_RENDERERS or (
            r["renderer"] == "singleSymbol" and r["fill"] == "no")
        assert styled, f"{r['layer']}: QGIS default style instead of gisfix's ({r})"
    for layer, renderer in expected.items():
        got = {r["layer"]: r for r in vectors}[layer]
        if renderer == "neutral":
            assert (got["renderer"], got["fill"]) == ("singleSymbol", "no"), got
        else:
            assert got["renderer"] == renderer, got


@pytest.mark.shared
def test_dc_run_layers_and_project_in_qgis(dc_run_output, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(dc_run_output, moved)  # relative paths: the folder can be moved
    rows, proc = qgis_rows(moved / "results.gpkg", moved / "project.qgz")
    assert proc.returncode == 0, proc.stderr[-3000:]
    gpkg = [r for r in rows if r.get("file", "").endswith(".gpkg")]
    _check_vectors(gpkg, {"units": "graduatedSymbol", "patches": "categorizedSymbol"})
    units_row = next(r for r in gpkg if r["layer"] == "units")
    assert {"lisa_cluster", "hotspot"} <= set(units_row["db_styles"])  # alternative styles
    project = next(r for r in rows if r.get("project"))
    assert project["read"] and project["crs"] == "ESRI:54009"
    assert project["absolute_paths"] is False
    assert {"base", "diffusion"} <= set(project["groups"])
    xmin, ymin, xmax, ymax = project["extent"]
    units = gpd.read_file(moved / "results.gpkg", layer="units")
    assert [xmin, ymin, xmax, ymax] == pytest.approx(list(units.total_bounds), abs=1)
    layers = [r for r in rows if r.get("file", "").endswith(".qgz") and "layer" in r]
    assert layers and all(r["valid"] for r in layers), [r for r in layers if not r["valid"]]
    raster = [r for r in layers if r["kind"] == "raster"]
    assert len(raster) == 1 and raster[0]["renderer"] == "paletted"
    assert raster[0]["width"] == 1407
    _check_vectors([r for r in layers if r["kind"] == "vector"],
                   {"units": "graduatedSymbol", "patches": "categorizedSymbol"})
    assert all(r["source"].startswith(str(moved)) for r in layers)  # all inside the folder


def test_demo_layers_and_project_in_qgis(demo_output, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(demo_output, moved)
    gpkgs = sorted(moved.glob("*.gpkg"))
    rows, proc = qgis_rows(*gpkgs, moved / "project.qgz")
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = {"municipalities_edited": "categorizedSymbol",
                "municipalities_2018": "neutral", "municipalities_2024": "neutral",
                "counties_pre1995": "neutral"}
    _check_vectors([r for r in rows if r.get("file", "").endswith(".gpkg")], expected)
    project = next(r for r in rows if r.get("project"))
    assert project["read"] and project["crs"] == "EPSG:2056"
    assert project["absolute_paths"] is False and "base" in project["groups"]
    layers = [r for r in rows if r.get("file", "").endswith(".qgz") and "layer" in r]
    n_gpkg_layers = sum(1 for r in rows if r.get("file", "").endswith(".gpkg")
                        and r["layer"] not in ("layer_styles", "provenance"))
    raster = [r for r in layers if r["kind"] == "raster"]
    # every GeoPackage layer, and the DEGURBA raster the main job measured
    assert len(raster) == 1 and raster[0]["renderer"] == "paletted"
    assert len(layers) == n_gpkg_layers + 1 and all(r["valid"] for r in layers)
    _check_vectors([r for r in layers if r["kind"] == "vector"], expected)
