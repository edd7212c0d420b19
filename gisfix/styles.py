"""QGIS layer styles (QML) stored in GeoPackages so outputs open styled in QGIS.

:func:`graduated` colours polygons by a numeric column in quantile classes;
:func:`categorized` colours them by a text column.  Pass the result to
:func:`gisfix.io.write_layers` as ``styles={layer: qml}``: QGIS picks a layer's default style
from the GeoPackage's ``layer_styles`` table.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

#: A sequential palette (ColorBrewer YlOrRd, 5 classes).
SEQUENTIAL = ("255,255,178", "254,204,92", "253,141,60", "240,59,32", "189,0,38")
#: A qualitative palette (ColorBrewer Set2).
QUALITATIVE = ("102,194,165", "252,141,98", "141,160,203", "231,138,195", "166,216,84",
               "255,217,47", "229,196,148", "179,179,179")


def _fill_symbol(name: str, color: str, geometry: str = "polygon") -> str:
    if geometry == "point":
        return (f'<symbol type="marker" name="{name}" alpha="1" clip_to_extent="1" '
                f'force_rhr="0"><layer class="SimpleMarker" enabled="1" pass="0" locked="0">'
                f'<prop k="color" v="{color},255"/><prop k="size" v="2"/>'
                f'<prop k="outline_color" v="35,35,35,255"/></layer></symbol>')
    return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" pass="0" locked="0">'
            f'<prop k="color" v="{color},255"/><prop k="style" v="solid"/>'
            f'<prop k="outline_color" v="60,60,60,255"/><prop k="outline_width" v="0.1"/>'
            f'<prop k="outline_width_unit" v="MM"/></layer></symbol>')


def _wrap(renderer: str) -> str:
    return ('<!DOCTYPE qgis PUBLIC \'http://mrcc.com/qgis.dtd\' \'SYSTEM\'>\n'
            '<qgis version="3.22.0" styleCategories="Symbology">' + renderer + '</qgis>')


def graduated(values, column: str, classes: int = 5, geometry: str = "polygon",
              palette=SEQUENTIAL) -> str:
    """Return a QML graduated style on ``column`` with quantile class breaks of ``values``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        breaks = np.array([0.0, 1.0])
    else:
        breaks = np.unique(np.quantile(v, np.linspace(0, 1, classes + 1)))
        if breaks.size < 2:
            breaks = np.array([breaks[0], breaks[0] + 1e-9])
    n = breaks.size - 1
    cols = [palette[int(round(i * (len(palette) - 1) / max(n - 1, 1)))] for i in range(n)]
    ranges = "".join(
        f'<range lower="{breaks[i]:.10g}" upper="{breaks[i + 1]:.10g}" symbol="{i}" '
        f'label="{breaks[i]:.4g} - {breaks[i + 1]:.4g}" render="true"/>' for i in range(n))
    symbols = "".join(_fill_symbol(str(i), cols[i], geometry) for i in range(n))
    return _wrap(f'<renderer-v2 type="graduatedSymbol" attr="{escape(column)}" '
                 f'graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" '
                 f'enableorderby="0"><ranges>{ranges}</ranges><symbols>{symbols}</symbols>'
                 f'</renderer-v2>')


def categorized(categories, column: str, geometry: str = "polygon",
                palette=QUALITATIVE, colors: dict | None = None) -> str:
    """Return a QML categorized style on ``column`` for the given category values."""
    cats = list(dict.fromkeys(str(c) for c in categories))
    colors = colors or {}
    items = "".join(
        f'<category value="{escape(c)}" symbol="{i}" label="{escape(c)}" render="true"/>'
        for i, c in enumerate(cats))
    symbols = "".join(_fill_symbol(str(i), colors.get(c, palette[i % len(palette)]), geometry)
                      for i, c in enumerate(cats))
    return _wrap(f'<renderer-v2 type="categorizedSymbol" attr="{escape(column)}" '
                 f'symbollevels="0" forceraster="0" enableorderby="0"><categories>{items}'
                 f'</categories><symbols>{symbols}</symbols></renderer-v2>')
