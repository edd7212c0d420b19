"""Open every layer of GeoPackages in headless QGIS and report validity, count and style.

Run with Debian's Python, which has PyQGIS (not the project's venv):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/qgis_check.py out.gpkg [...]

Prints one JSON line per layer: {"file", "layer", "valid", "features", "renderer", "crs"}.
Exit status 1 if any layer fails to load.
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

from qgis.core import QgsApplication, QgsVectorLayer  # noqa: E402

app = QgsApplication([], False)
app.initQgis()
ok = True
for path in sys.argv[1:]:
    con = sqlite3.connect(path)
    names = [r[0] for r in con.execute("select table_name from gpkg_contents")]
    con.close()
    for name in names:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        renderer = layer.renderer().type() if layer.isValid() and layer.renderer() else None
        print(json.dumps({"file": path, "layer": name, "valid": layer.isValid(),
                          "features": layer.featureCount(), "renderer": renderer,
                          "crs": layer.crs().authid()}))
        ok &= layer.isValid()
        del layer
app.exitQgis()
sys.exit(0 if ok else 1)
