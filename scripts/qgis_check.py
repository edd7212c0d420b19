"""Open GeoPackages and QGIS projects in headless QGIS; report every layer as JSON lines.

Run with Debian's Python, which has PyQGIS (not the project's venv):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/qgis_check.py out.gpkg project.qgz ...

For a GeoPackage, every table of ``gpkg_contents`` is opened as a vector layer with its
default style (QGIS reads it from ``layer_styles``); one line per layer:
{"file", "layer", "valid", "features", "geometry", "renderer", "fill", "labels",
"label_field", "crs", "db_styles"}.

For a ``.qgz``/``.qgs`` project, the project is read and one line is printed for the project
({"file", "project": true, "read", "crs", "extent", "absolute_paths", "groups"}) and one per
layer ({"file", "layer", "kind", "valid", "renderer", "group", "source", "crs"}).

Exit status 1 if any layer fails to load or a project cannot be read.
"""

import json
import os
import sqlite3
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
runtime = tempfile.mkdtemp()
os.chmod(runtime, 0o700)
os.environ.setdefault("XDG_RUNTIME_DIR", runtime)

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsMapLayerType,
    QgsProject,
    QgsVectorLayer,
)


def _vector_row(layer):
    valid = layer.isValid()
    renderer = layer.renderer().type() if valid and layer.renderer() else None
    label_field = None
    if valid and layer.labelsEnabled() and layer.labeling() is not None:
        try:
            label_field = layer.labeling().settings().fieldName
        except Exception:  # rule-based labeling has no single settings object
            label_field = "?"
    fill = None
    if renderer == "singleSymbol":  # the neutral reference style has no fill ("no" brush)
        fill = layer.renderer().symbol().symbolLayer(0).properties().get("style")
    geometry = None
    if valid and layer.isSpatial():
        geometry = ["point", "line", "polygon", "unknown", "null"][int(layer.geometryType())]
    return {"valid": valid, "features": layer.featureCount() if valid else None,
            "geometry": geometry, "renderer": renderer, "fill": fill, "labels": bool(label_field),
            "label_field": label_field, "crs": layer.crs().authid() or layer.crs().toWkt()[:60]}


def check_gpkg(path):
    con = sqlite3.connect(path)
    names = [r[0] for r in con.execute("select table_name from gpkg_contents")]
    con.close()
    ok = True
    for name in names:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        row = {"file": path, "layer": name, **_vector_row(layer)}
        if layer.isValid() and layer.isSpatial():
            row["db_styles"] = list(layer.listStylesInDatabase()[2])
        print(json.dumps(row))
        ok &= row["valid"]
        del layer
    return ok


def check_project(path):
    project = QgsProject.instance()
    read = project.read(path)
    ext = project.viewSettings().defaultViewExtent() if hasattr(project, "viewSettings") \
        else None
    root = project.layerTreeRoot()
    groups = [g.name() for g in root.findGroups()]
    print(json.dumps({
        "file": path, "project": True, "read": bool(read),
        "crs": project.crs().authid() or project.crs().toWkt()[:60],
        "extent": [ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()]
        if ext is not None and not ext.isEmpty() else None,
        "absolute_paths": project.readBoolEntry("Paths", "/Absolute", True)[0],
        "groups": groups}))
    ok = bool(read)
    for layer_id, layer in project.mapLayers().items():
        node = root.findLayer(layer_id)
        group = node.parent().name() if node is not None and node.parent() is not None \
            else None
        row = {"file": path, "layer": layer.name(), "group": group,
               "source": layer.source()}
        if layer.type() == QgsMapLayerType.VectorLayer:
            row.update(kind="vector", **_vector_row(layer))
        else:
            valid = layer.isValid()
            row.update(kind="raster", valid=valid,
                       renderer=layer.renderer().type() if valid and layer.renderer()
                       else None, crs=layer.crs().authid() or layer.crs().toWkt()[:60],
                       width=layer.width() if valid else None)
        print(json.dumps(row))
        ok &= row["valid"]
    project.clear()
    return ok


app = QgsApplication([], False)
app.initQgis()
ok = True
for arg in sys.argv[1:]:
    if arg.lower().endswith((".qgz", ".qgs")):
        ok &= check_project(arg)
    else:
        ok &= check_gpkg(arg)
app.exitQgis()
sys.exit(0 if ok else 1)
