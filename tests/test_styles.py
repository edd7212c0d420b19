"""Default layer styles and the .qgz writer, without QGIS (tests/test_qgis.py opens them in
QGIS). Oracle for the class breaks: mapclassify's FisherJenks run here on the same values;
conventional colours are written out by hand (GeoDa's LISA colours, Anselin 1995)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from gisfix import styles
from gisfix.qgis_project import LayerSpec, layers_from_gpkg, write_project


def _frame(**cols):
    n = len(next(iter(cols.values())))
    return gpd.GeoDataFrame(cols, geometry=[box(i, 0, i + 1, 1) for i in range(n)],
                            crs="EPSG:3035")


def _renderer(qml):
    return ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2")


def test_fisher_jenks_breaks_equal_mapclassify():
    import mapclassify

    v = np.random.default_rng(3).lognormal(size=120)
    got = styles.class_breaks(v, "fisher_jenks", 5)
    want = mapclassify.FisherJenks(v, k=5).bins
    assert got[0] == v.min() and got[1:] == pytest.approx(want)
    q = styles.class_breaks(v, "quantiles", 4)
    assert q[1:] == pytest.approx(np.quantile(v, [0.25, 0.5, 0.75, 1.0]))
    with pytest.raises(Exception, match="unknown classification scheme"):
        styles.class_breaks(v, "nope")


def test_large_layers_are_classified_fast_and_deterministically():
    v = np.random.default_rng(4).lognormal(size=50_000)
    a, b = styles.class_breaks(v), styles.class_breaks(v)
    assert np.array_equal(a, b) and a[0] == v.min() and a[-1] == v.max() and len(a) == 6


def test_style_rules():
    units = _frame(name=["a", "b", "c"], share_1990=[0.1, 0.2, 0.3],
                   share_2020=[0.2, 0.5, 0.9], lisa_cluster=["HH", "ns", "LL"])
    r = _renderer(styles.style_for("units", units))
    assert r.get("type") == "graduatedSymbol" and r.get("attr") == "share_2020"
    lisa = _renderer(styles.style_for("units", units, column="lisa_cluster"))
    assert lisa.get("type") == "categorizedSymbol"
    cats = [c.get("value") for c in lisa.find("categories")]
    assert cats == ["HH", "LL", "ns"]  # conventional order, only the present ones
    hh = lisa.find("symbols")[0].find("layer/prop[@k='color']").get("v")
    assert hh == "255,0,0,255"  # GeoDa's HH red
    ref = _renderer(styles.style_for("municipalities_2018", units))
    assert ref.get("type") == "singleSymbol"
    assert ref.find("symbols/symbol/layer/prop[@k='style']").get("v") == "no"
    assert styles.style_for("table", units.drop(columns="geometry")) is None
    status = _renderer(styles.style_for("edited", _frame(status=["merged", "unchanged"])))
    assert status.get("attr") == "status"
    qml = styles.style_for("units", units)
    assert 'fieldName="name"' in qml and 'labelsEnabled="1"' in qml


def test_qgz_is_zipped_xml_with_relative_paths(tmp_path):
    from gisfix.io import provenance, write_layers

    data = tmp_path / "data"
    data.mkdir()
    units = _frame(name=["a", "b"], share_2020=[0.1, 0.7])
    write_layers(data / "results.gpkg", {"units": units, "table": units.drop(
        columns="geometry")}, provenance({}, {}, "t"))
    layers = layers_from_gpkg(data / "results.gpkg")
    layers.append(LayerSpec(tmp_path / "data" / "built.tif", name="built", kind="raster",
                            encoding="year-built", epochs=(1990, 2000, 2020)))
    p = write_project(data / "project.qgz",
                      layers, crs="EPSG:3035", extent=units.total_bounds, title="t & <x>")
    with zipfile.ZipFile(p) as z:
        assert z.namelist() == ["project.qgs"]
        root = ET.fromstring(z.read("project.qgs").decode().split("\n", 1)[1])
    assert root.find("properties/Paths/Absolute").text == "false"
    sources = [m.find("datasource").text for m in root.iter("maplayer")]
    assert sources == ["./results.gpkg|layername=units", "./results.gpkg|layername=table",
                       "./built.tif"]
    assert root.find("projectCrs/spatialrefsys/authid").text == "EPSG:3035"
    assert root.get("projectname") == "t & <x>"
    pal = [e.get("value") for e in root.iter("paletteEntry")]
    assert pal == ["1990", "2000", "2020"]
    units_layer = next(m for m in root.iter("maplayer") if m.find("layername").text == "units")
    assert units_layer.find("renderer-v2").get("type") == "graduatedSymbol"


def test_project_groups_and_folder_rasters(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    from gisfix.io import provenance, write_layers
    from gisfix.qgis_project import group_for, write_folder_project

    assert group_for("scenario_merge_A_B__units", "base") == "merge A B"
    assert group_for("lei_patches", "base") == "diffusion"
    assert group_for("counties_pre1995", "x") == "base"
    units = _frame(name=["a", "b"], share_2020=[0.1, 0.7])
    write_layers(tmp_path / "results.gpkg", {"units": units, "lei_patches": units,
                                             "scenario_s1__units": units},
                 provenance({}, {}, "t"))
    with rasterio.open(tmp_path / "degurba_smod.tif", "w", driver="GTiff", width=2, height=2,
                       count=1, dtype="uint8", crs="EPSG:3035",
                       transform=from_origin(0, 1, 1, 1)) as dst:
        dst.write(np.array([[11, 30], [21, 10]], dtype="uint8"), 1)
    p = write_folder_project(tmp_path, groups={"units": "my base"})
    with zipfile.ZipFile(p) as z:
        root = ET.fromstring(z.read("project.qgs").decode().split("\n", 1)[1])
    tree = {g.get("name"): [n.get("name") for n in g.iter("layer-tree-layer")]
            for g in root.find("layer-tree-group").findall("layer-tree-group")}
    assert tree == {"my base": ["units"], "diffusion": ["lei_patches"],
                    "s1": ["scenario_s1__units"], "base": ["degurba_smod"]}
    raster = next(m for m in root.iter("maplayer") if m.get("type") == "raster")
    assert raster.find("pipe/rasterrenderer").get("type") == "paletted"
    assert "30" in [e.get("value") for e in raster.iter("paletteEntry")]


def test_scheme_and_classes_from_the_environment(monkeypatch):
    units = _frame(share_2020=list(np.linspace(0, 1, 40)))
    monkeypatch.setenv("GISFIX_STYLE_SCHEME", "quantiles")
    monkeypatch.setenv("GISFIX_STYLE_CLASSES", "4")
    r = _renderer(styles.style_for("units", units))
    uppers = [float(x.get("upper")) for x in r.find("ranges")]
    assert uppers == pytest.approx(list(np.quantile(np.linspace(0, 1, 40), [.25, .5, .75, 1])))
    assert r.find("classificationMethod").get("id") == "Quantile"  # QGIS's id


def test_heavily_tied_values_still_classify():
    v = np.concatenate([np.zeros(5000), [1, 2, 3, 4, 5, 6, 7, 8]])
    b = styles.class_breaks(v)
    assert b[0] == 0 and b[-1] == 8 and np.all(np.diff(b) > 0)
