"""QGIS layer styles (QML) so that every vector layer gisfix writes opens styled in QGIS.

:func:`style_for` picks a default style from a layer's name and columns, and
:func:`gisfix.io.write_layers` applies it to every vector layer it writes (stored in the
GeoPackage's ``layer_styles`` table, which QGIS reads as the layer's default style, and as a
``.qml`` file beside the GeoPackage). The rules, in order:

1. **reference layers** (boundary vintages such as ``municipalities_2018`` or
   ``counties_pre1995``, lineage geometries, anything named ``reference``/``vintage``/
   ``before``/``original``) get a neutral outline (:func:`outline`), never a random fill;
2. **categorised layers** get their conventional colours (:func:`categorized`): growth types
   of the Landscape Expansion Index, unit status after edits, city stages, LISA clusters
   (GeoDa's colours: HH red, LL blue, LH light blue, HL pink, not significant grey) and Gi*
   hot and cold spots;
3. **layers of measures** get graduated classes (:func:`graduated`) on the most telling
   column (the last epoch's built-up share, else the first float column), with class breaks
   from :mod:`mapclassify` (Fisher-Jenks by default; scheme and number of classes
   configurable);
4. anything else gets the neutral outline.

Labels come from the name column where there is one (``name``, ``NAME``, ``GMDNAME``...),
shown only when zoomed in (scale 1:500,000 or closer) so national maps stay legible.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

import numpy as np

#: A sequential palette (ColorBrewer YlOrRd, 5 classes).
SEQUENTIAL = ("255,255,178", "254,204,92", "253,141,60", "240,59,32", "189,0,38")
#: A diverging palette for changes (ColorBrewer RdBu reversed: losses blue, gains red).
DIVERGING = ("33,102,172", "103,169,207", "247,247,247", "239,138,98", "178,24,43")
#: A qualitative palette (ColorBrewer Set2).
QUALITATIVE = ("102,194,165", "252,141,98", "141,160,203", "231,138,195", "166,216,84",
               "255,217,47", "229,196,148", "179,179,179")

#: Growth types of the Landscape Expansion Index (Liu et al. 2010).
GROWTH_TYPE_COLORS = {"infilling": "44,162,95", "edge-expansion": "254,178,76",
                      "outlying": "240,59,32"}
#: LISA quadrants, GeoDa's conventional colours (Anselin 1995).
LISA_COLORS = {"HH": "255,0,0", "LL": "0,0,255", "LH": "167,173,249", "HL": "244,173,168",
               "ns": "238,238,238"}
#: Getis-Ord Gi* hot and cold spots.
HOTSPOT_COLORS = {"hot": "215,48,39", "cold": "69,117,180", "ns": "238,238,238"}
#: The four stages of a city (gisfix.stages.STAGES), light to dark as the city matures.
STAGE_COLORS = {"agglomeration": "254,224,139", "optimal agglomeration": "253,174,97",
                "turn to diffusion": "215,48,39", "stable regional system": "69,117,180"}
#: Unit status after boundary edits (the same colours as gisfix.edits.lineage.STATUS_COLORS).
STATUS_COLORS = {"unchanged": "220,220,220", "merged": "240,59,32",
                 "boundary changed": "49,130,189", "recoded": "116,196,118"}

#: Categorical column -> colours, in the order :func:`style_for` looks for them.
CATEGORICAL = {
    "growth_type": GROWTH_TYPE_COLORS,
    "status": STATUS_COLORS,
    "stage_name": STAGE_COLORS,
    "lisa_cluster": LISA_COLORS,
    "cluster": LISA_COLORS,
    "hotspot": HOTSPOT_COLORS,
}
#: Columns that sort after the preferred measure of a layer (a units layer is graduated by
#: built-up share even when it also carries LISA clusters and Gi* hot spots).
SECONDARY_CATEGORICAL = ("lisa_cluster", "cluster", "hotspot")

#: Layer names that are reference geometry (neutral outline).
REFERENCE_PATTERN = re.compile(
    r"(lineage|vintage|reference|original|before|_pre\d{4}$|_\d{4}(-\d{2})?$|^aoi$|region)",
    re.IGNORECASE)
#: Preferred measure columns, most telling first (``{last}`` is the newest epoch).
PREFERRED_MEASURES = ("share_{last}", "share_{last}_change", "builtup_share", "lei",
                      "share_change", "change",
                      "builtup_km2_{last}", "density", "intensity")
#: Name columns used for labels, first match wins (case-insensitive).
NAME_COLUMNS = ("name", "gmdname", "namelsad", "name_en", "city", "unit_name")
#: Labels show at this scale denominator and closer.
LABEL_MAX_SCALE = 500_000
#: Graduated-class defaults.
DEFAULT_SCHEME = "fisher_jenks"
DEFAULT_CLASSES = 5
#: Above this many values, class breaks are computed on this many evenly spaced quantiles (a
#: deterministic sample): mapclassify's Fisher-Jenks is O(k n^2) in pure Python without numba.
SAMPLE_SIZE = 300
#: mapclassify classifiers by scheme name.
SCHEMES = {"fisher_jenks": "FisherJenks", "natural_breaks": "NaturalBreaks",
           "quantiles": "Quantiles", "equal_interval": "EqualInterval",
           "jenks_caspall": "JenksCaspall", "head_tail_breaks": "HeadTailBreaks",
           "std_mean": "StdMean", "maximum_breaks": "MaximumBreaks"}
#: QGIS's own classification method of each scheme (used when a user reclassifies in QGIS).
QGIS_METHODS = {"fisher_jenks": "Jenks", "natural_breaks": "Jenks", "jenks_caspall": "Jenks",
                "quantiles": "Quantile", "equal_interval": "EqualInterval",
                "std_mean": "StdDev", "head_tail_breaks": "Jenks", "maximum_breaks": "Jenks"}

_SYMBOL_TYPES = {"polygon": "fill", "line": "line", "point": "marker"}


def _symbol(name: str, color: str, geometry: str = "polygon", fill: bool = True) -> str:
    """Return one QML ``<symbol>`` of ``color`` ("r,g,b") for a geometry kind."""
    kind = _SYMBOL_TYPES[geometry]
    head = f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
    if geometry == "point":
        body = ('<layer class="SimpleMarker" enabled="1" pass="0" locked="0">'
                f'<prop k="color" v="{color},255"/><prop k="size" v="2"/>'
                '<prop k="outline_color" v="35,35,35,255"/></layer>')
    elif geometry == "line":
        body = ('<layer class="SimpleLine" enabled="1" pass="0" locked="0">'
                f'<prop k="line_color" v="{color},255"/><prop k="line_width" v="0.4"/>'
                '<prop k="line_width_unit" v="MM"/></layer>')
    else:
        style = "solid" if fill else "no"
        outline = "60,60,60" if fill else color
        width = "0.1" if fill else "0.3"
        body = ('<layer class="SimpleFill" enabled="1" pass="0" locked="0">'
                f'<prop k="color" v="{color},255"/><prop k="style" v="{style}"/>'
                f'<prop k="outline_color" v="{outline},255"/>'
                f'<prop k="outline_width" v="{width}"/>'
                '<prop k="outline_width_unit" v="MM"/></layer>')
    return head + body + "</symbol>"


def _labeling(label: str | None) -> str:
    if not label:
        return ""
    return ('<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(label)} isExpression="0" fontSize="8" '
            'fontSizeUnit="Point" textColor="40,40,40,255" fontFamily="Sans Serif" '
            'textOpacity="1" namedStyle="Regular" fontWeight="50" fontItalic="0">'
            '<text-buffer bufferDraw="1" bufferSize="0.7" bufferSizeUnits="MM" '
            'bufferColor="255,255,255,255" bufferOpacity="0.8"/></text-style>'
            '<placement placement="0" placementFlags="10" centroidInside="1"/>'
            '<rendering scaleVisibility="1" scaleMin="1" '
            f'scaleMax="{LABEL_MAX_SCALE}" obstacle="1" drawLabels="1" '
            'displayAll="0" limitNumLabels="0"/></settings></labeling>')


def _wrap(renderer: str, label: str | None = None) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.22.0" styleCategories="Symbology|Labeling" '
            f'labelsEnabled="{1 if label else 0}">' + renderer + _labeling(label) + "</qgis>")


def class_breaks(values, scheme: str = DEFAULT_SCHEME, classes: int = DEFAULT_CLASSES
                 ) -> np.ndarray:
    """Return the class breaks (``k + 1`` edges, min first) of ``values`` by ``scheme``.

    Parameters
    ----------
    values : array-like
        Numbers to classify; NaN and infinite values are ignored.
    scheme : str
        A key of :data:`SCHEMES` (mapclassify's classifiers; Fisher-Jenks by default:
        Fisher 1958, Jenks 1977).
    classes : int
        Number of classes (fewer when there are fewer distinct values).

    Returns
    -------
    numpy.ndarray
        Increasing class edges; the first is the minimum and the last the maximum.

    Raises
    ------
    GisfixError
        For an unknown ``scheme``.
    """
    from gisfix.errors import GisfixError

    if scheme not in SCHEMES:
        raise GisfixError(f"unknown classification scheme {scheme!r}; use one of "
                          + ", ".join(SCHEMES))
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(v.min()), float(v.max())
    distinct = np.unique(v)
    if distinct.size == 1:
        return np.array([lo, lo + max(abs(lo) * 1e-9, 1e-9)])
    if distinct.size <= classes:
        return distinct
    if v.size > SAMPLE_SIZE:  # deterministic sample: evenly spaced quantiles
        v = np.quantile(v, np.linspace(0, 1, SAMPLE_SIZE))
        if np.unique(v).size <= classes:  # heavy ties: the sample's values are the classes
            return np.unique(np.concatenate([[lo], np.unique(v), [hi]]))
    import mapclassify

    cls = getattr(mapclassify, SCHEMES[scheme])
    kwargs = {} if scheme in ("head_tail_breaks", "std_mean") else {"k": classes}
    with warnings.catch_warnings():  # "Numba not installed": the sample keeps it fast
        warnings.simplefilter("ignore")
        bins = np.asarray(cls(v, **kwargs).bins, dtype=float)
    edges = np.unique(np.concatenate([[lo], bins[bins > lo], [hi]]))
    return edges if edges.size >= 2 else np.array([lo, lo + 1e-9])


def graduated(values, column: str, classes: int = DEFAULT_CLASSES, geometry: str = "polygon",
              palette: Sequence[str] = SEQUENTIAL, scheme: str = DEFAULT_SCHEME,
              label: str | None = None) -> str:
    """Return a QML graduated style on ``column`` with class breaks of ``values``.

    Parameters
    ----------
    values : array-like
        The column's values (the breaks are computed from them).
    column : str
        Attribute the renderer classifies.
    classes : int
        Number of classes.
    geometry : {"polygon", "line", "point"}
        Geometry kind of the layer.
    palette : sequence of str
        "r,g,b" colours, light to dark; interpolated to the number of classes.
    scheme : str
        Classification scheme (see :func:`class_breaks`).
    label : str, optional
        Column to label features with.

    Returns
    -------
    str
        A QGIS style document (QML) with a ``graduatedSymbol`` renderer over the class breaks
        of ``values`` (:func:`class_breaks`).
    """
    breaks = class_breaks(values, scheme, classes)
    n = breaks.size - 1
    cols = [palette[int(round(i * (len(palette) - 1) / max(n - 1, 1)))] for i in range(n)]
    ranges = "".join(
        f'<range lower="{breaks[i]:.10g}" upper="{breaks[i + 1]:.10g}" symbol="{i}" '
        f'label="{breaks[i]:.4g} - {breaks[i + 1]:.4g}" render="true"/>' for i in range(n))
    symbols = "".join(_symbol(str(i), cols[i], geometry) for i in range(n))
    return _wrap(f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(column)} '
                 f'graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" '
                 f'enableorderby="0"><ranges>{ranges}</ranges><symbols>{symbols}</symbols>'
                 f'<classificationMethod id="{QGIS_METHODS.get(scheme, "Jenks")}"/></renderer-v2>',
                 label)


def categorized(categories, column: str, geometry: str = "polygon",
                palette: Sequence[str] = QUALITATIVE, colors: dict | None = None,
                label: str | None = None) -> str:
    """Return a QML categorised style on ``column`` for the given category values.

    Parameters
    ----------
    categories : iterable
        Category values, in legend order (duplicates ignored).
    column : str
        Attribute the renderer categorises.
    geometry : {"polygon", "line", "point"}
        Geometry kind of the layer.
    palette : sequence of str
        "r,g,b" colours for categories without a colour in ``colors``.
    colors : dict, optional
        Category -> "r,g,b" (conventional colours).
    label : str, optional
        Column to label features with.

    Returns
    -------
    str
        A QGIS style document (QML) with a ``categorizedSymbol`` renderer.
    """
    cats = list(dict.fromkeys(str(c) for c in categories))
    colors = colors or {}
    items = "".join(
        f'<category value={quoteattr(c)} symbol="{i}" label={quoteattr(c)} render="true"/>'
        for i, c in enumerate(cats))
    symbols = "".join(_symbol(str(i), colors.get(c, palette[i % len(palette)]), geometry)
                      for i, c in enumerate(cats))
    return _wrap(f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(column)} '
                 f'symbollevels="0" forceraster="0" enableorderby="0"><categories>{items}'
                 f'</categories><symbols>{symbols}</symbols></renderer-v2>', label)


def outline(geometry: str = "polygon", color: str = "90,90,90", label: str | None = None
            ) -> str:
    """Return the neutral reference style: outlines only (no fill), dark grey.

    Parameters
    ----------
    geometry : {"polygon", "line", "point"}
        Geometry kind of the layer.
    color : str
        Outline colour "r,g,b".
    label : str, optional
        Column to label features with.

    Returns
    -------
    str
        A QGIS style document (QML) with a ``singleSymbol`` renderer: an unfilled outline.
    """
    return _wrap('<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" '
                 f'enableorderby="0"><symbols>{_symbol("0", color, geometry, fill=False)}'
                 '</symbols></renderer-v2>', label)


def geometry_kind(frame) -> str:
    """Return "polygon", "line" or "point" for a GeoDataFrame's geometries."""
    types = set(frame.geom_type.dropna().unique()) if len(frame) else {"Polygon"}
    if types and all("Point" in t for t in types):
        return "point"
    if types and all("LineString" in t for t in types):
        return "line"
    return "polygon"


def name_column(frame) -> str | None:
    """Return the column to label features with (a text column called like a name).

    Parameters
    ----------
    frame : DataFrame
        The layer.

    Returns
    -------
    str or None
        The first text column whose lower-case name is one of :data:`NAME_COLUMNS`, or None.
    """
    from pandas.api.types import is_object_dtype, is_string_dtype

    lower = {str(c).lower(): c for c in frame.columns
             if is_string_dtype(frame[c].dtype) or is_object_dtype(frame[c].dtype)}
    for cand in NAME_COLUMNS:
        if cand in lower:
            return lower[cand]
    return None


def _last_epoch(columns) -> str | None:
    years = [m.group(1) for c in columns
             if (m := re.fullmatch(r"share_(\d{4})(_change|_after|_before)?", str(c)))]
    return max(years) if years else None


def measure_column(frame) -> str | None:
    """Return the most telling numeric column of a layer of measures, or None.

    The first of :data:`PREFERRED_MEASURES` present and numeric (``{last}`` standing for the
    last epoch found in the column names) wins; otherwise the first float column with a value.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer.

    Returns
    -------
    str or None
        The column to colour the layer by, or None when it has no numeric measure.
    """
    from pandas.api.types import is_bool_dtype, is_float_dtype, is_numeric_dtype

    last = _last_epoch(frame.columns)
    for pattern in PREFERRED_MEASURES:
        if "{last}" in pattern and last is None:
            continue
        col = pattern.format(last=last)
        if col in frame.columns and is_numeric_dtype(frame[col].dtype) and \
                not is_bool_dtype(frame[col].dtype):
            return col
    geom = frame.geometry.name
    for col in frame.columns:  # float columns only: integers are usually codes
        if col != geom and is_float_dtype(frame[col].dtype) and \
                frame[col].notna().any():
            return col
    return None


def is_reference(name: str) -> bool:
    """Whether a layer named ``name`` is reference geometry (neutral outline).

    Parameters
    ----------
    name : str
        The layer name (``municipalities_2024``, ``boundaries``...).

    Returns
    -------
    bool
        True when the name matches :data:`REFERENCE_PATTERN` (input boundaries or a vintage
        drawn as a plain outline rather than a measure).
    """
    return bool(REFERENCE_PATTERN.search(name))


def style_for(name: str, frame, *, column: str | None = None, scheme: str | None = None,
              classes: int | None = None) -> str | None:
    """Return the default QML style of a layer, or None for a table without geometry.

    Parameters
    ----------
    name : str
        Layer name (reference layers are recognised by name, see :data:`REFERENCE_PATTERN`).
    frame : GeoDataFrame or DataFrame
        The layer's data.
    column : str, optional
        Force the column to style by (categorised if it has a conventional palette or is
        text, graduated if numeric).
    scheme : str, optional
        Classification scheme of graduated styles (see :func:`class_breaks`); default
        ``$GISFIX_STYLE_SCHEME`` or Fisher-Jenks.
    classes : int, optional
        Number of graduated classes; default ``$GISFIX_STYLE_CLASSES`` or 5.

    Returns
    -------
    str or None
        A QML document.
    """
    import os

    scheme = scheme or os.environ.get("GISFIX_STYLE_SCHEME") or DEFAULT_SCHEME
    classes = int(classes or os.environ.get("GISFIX_STYLE_CLASSES") or DEFAULT_CLASSES)
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        return None
    geometry = geometry_kind(frame)
    label = name_column(frame)
    if column is None and is_reference(name):
        return outline(geometry, label=label)
    col = column
    if col is None:
        present = [c for c in CATEGORICAL if c in frame.columns]
        primary = [c for c in present if c not in SECONDARY_CATEGORICAL]
        col = primary[0] if primary else (measure_column(frame) or
                                          (present[0] if present else None))
    if col is None:
        return outline(geometry, label=label)
    from pandas.api.types import is_numeric_dtype

    values = frame[col]
    if col in CATEGORICAL or not is_numeric_dtype(values.dtype) or values.dtype == bool:
        colors = CATEGORICAL.get(col, {})
        seen = [str(v) for v in values.dropna().unique()]
        cats = [c for c in colors if c in seen] + sorted(c for c in seen if c not in colors)
        return categorized(cats, col, geometry, colors=colors, label=label)
    palette = DIVERGING if str(col).endswith("change") else SEQUENTIAL
    return graduated(values, col, classes=classes, geometry=geometry, scheme=scheme,
                     label=label, palette=palette)


def alternative_styles(name: str, frame) -> dict[str, str]:
    """Return named styles for every categorical column of a layer (LISA, Gi*, status...).

    The default style (:func:`style_for`) shows one column; a units layer of ``gisfix run``
    also holds LISA clusters and Gi* hot spots, offered as alternatives in QGIS.

    Parameters
    ----------
    name : str
        Layer name.
    frame : GeoDataFrame
        The layer's data.

    Returns
    -------
    dict
        Style name (the column) -> QML document; empty for tables and reference layers.
    """
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame or \
            is_reference(name):
        return {}
    default = style_for(name, frame) or ""
    return {col: style_for(name, frame, column=col) for col in CATEGORICAL
            if col in frame.columns and f'attr="{col}"' not in default}


__all__ = ["CATEGORICAL", "GROWTH_TYPE_COLORS", "HOTSPOT_COLORS", "LISA_COLORS",
           "STAGE_COLORS", "STATUS_COLORS", "alternative_styles", "categorized",
           "class_breaks", "graduated", "is_reference", "measure_column", "name_column",
           "outline", "style_for"]
