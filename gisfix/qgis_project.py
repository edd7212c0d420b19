"""Write a QGIS project (``.qgz``) of gisfix outputs without QGIS installed.

A ``.qgz`` is a zip archive holding one ``.qgs`` XML document. :func:`write_project`
writes one with:

- every layer given as a :class:`LayerSpec` (vector layers of GeoPackages, rasters), each
  with its style: vector layers carry the default style stored in their GeoPackage (see
  :func:`gisfix.styles.style_for`), rasters a paletted or pseudocolour style chosen by the
  raster's encoding (:func:`raster_style`);
- layers grouped in the layer tree (``base``, one group per scenario, ``diffusion``...),
  tables without geometry in a collapsed ``tables`` subgroup of their group;
- relative paths (the project's ``Paths/Absolute`` property is false and data sources are
  written relative to the project file), so a folder holding the project and its data can
  be moved;
- the data's CRS as the project CRS and the region's extent as the default view.

Example::

    from gisfix.qgis_project import LayerSpec, layers_from_gpkg, write_project

    layers = layers_from_gpkg("out/results.gpkg", group="base")
    layers.append(LayerSpec("ghsl.tif", name="first epoch built", kind="raster",
                            encoding="year-built", epochs=(1975, 1990, 2000)))
    write_project("out/project.qgz", layers, crs=units.crs, extent=units.total_bounds)
"""

from __future__ import annotations

import os
import sqlite3
import uuid
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: QGIS version written into the project (the oldest we validate against).
QGIS_VERSION = "3.22.16-Białowieża"
#: Paletted colours of the first-epoch-built encoding: oldest dark red, newest pale yellow.
YEAR_BUILT_RAMP = ("128,0,38", "189,0,38", "227,26,28", "252,78,42", "253,141,60",
                   "254,178,76", "254,217,118", "255,237,160", "255,255,204")
#: GHS-BUILT LDSMT classes (value -> label, colour).
LDSMT_PALETTE = {1: ("water", "166,206,227"), 2: ("land, never built", "240,240,240"),
                 3: ("built 2000-2014", "254,178,76"), 4: ("built 1990-2000", "253,141,60"),
                 5: ("built 1975-1990", "227,26,28"), 6: ("built before 1975", "128,0,38")}
#: GHS-SMOD (Degree of Urbanisation level 2) classes with the GHSL's own colours.
SMOD_PALETTE = {10: ("water", "122,182,245"), 11: ("very low density rural", "205,245,122"),
                12: ("low density rural", "171,205,102"), 13: ("rural cluster", "55,86,35"),
                21: ("suburban or peri-urban", "255,255,0"),
                22: ("semi-dense urban cluster", "168,112,0"),
                23: ("dense urban cluster", "115,38,0"), 30: ("urban centre", "255,0,0")}
#: Pseudocolour ramp of continuous rasters (ColorBrewer YlOrRd).
CONTINUOUS_RAMP = ("255,255,178", "254,204,92", "253,141,60", "240,59,32", "189,0,38")


@dataclass
class LayerSpec:
    """One layer of a project.

    Parameters
    ----------
    path : path-like
        The data file (GeoPackage, GeoTIFF, any GDAL/OGR source).
    layer : str, optional
        Layer name inside a multi-layer file (GeoPackage).
    name : str, optional
        Name shown in QGIS (default ``layer`` or the file stem).
    group : str
        Layer-tree group (created in order of first use).
    kind : {"vector", "raster"}
        Data kind.
    geometry : str, optional
        Vector geometry kind ("polygon", "line", "point") or None for a table.
    crs : object, optional
        The layer's CRS (anything :class:`pyproj.CRS` accepts); default the project CRS.
    style : str, optional
        A QML document for a vector layer (default: the one stored in the GeoPackage).
    encoding : str, optional
        Raster encoding (``year-built``, ``ldsmt``, ``binary``, ``fraction``, ``smod``,
        ``class=...``, ``continuous``) choosing the raster style.
    epochs : sequence of int
        The epochs (values) of a ``year-built`` raster.
    value_range : (float, float), optional
        Minimum and maximum of a continuous raster.
    visible : bool
        Checked in the layer tree.
    bounds : (float, float, float, float), optional
        The layer's extent in its CRS (read from the GeoPackage by
        :func:`layers_from_gpkg`).
    """

    path: str | os.PathLike
    layer: str | None = None
    name: str | None = None
    group: str = "base"
    kind: str = "vector"
    geometry: str | None = "polygon"
    crs: object = None
    style: str | None = None
    encoding: str | None = None
    epochs: Sequence[int] = field(default_factory=tuple)
    value_range: tuple[float, float] | None = None
    visible: bool = True
    bounds: tuple[float, float, float, float] | None = None

    @property
    def title(self) -> str:
        """The name shown in QGIS."""
        return self.name or self.layer or Path(self.path).stem


#: Layers that belong in the ``diffusion`` group (by name prefix).
DIFFUSION_PREFIXES = ("lei", "patches", "stage", "expansion", "extent", "diffusion",
                      "ellipse", "centroid")


def group_for(layer: str, default: str) -> str:
    """Return the layer-tree group of a layer.

    ``scenario_<name>__<layer>`` goes to the group ``<name>`` (one group per scenario; so
    do ``units_<name>``, ``change_<name>`` and ``lineage_<name>`` of ``gisfix run``, see
    :func:`layers_from_gpkg`),
    ``diffusion`` for diffusion layers (LEI patches, stages, expansion, extents), ``base``
    for reference layers (vintages, lineage), else ``default``.

    Parameters
    ----------
    layer : str
        Layer name.
    default : str
        Group of every other layer.

    Returns
    -------
    str
        ``<scenario name>`` for a ``scenario_<name>__...`` layer, ``"diffusion"`` or
        ``"base"`` for the layers that belong there, else ``default``.
    """
    from gisfix.styles import is_reference

    if layer.lower().startswith("scenario_"):
        return layer[len("scenario_"):].split("__")[0].replace("_", " ")
    if layer.lower().startswith(DIFFUSION_PREFIXES):
        return "diffusion"
    if is_reference(layer):
        return "base"
    return default


def layers_from_gpkg(path, group: str = "base", tables: bool = True,
                     visible: Sequence[str] | None = None,
                     groups: Mapping[str, str] | None = None) -> list[LayerSpec]:
    """Return a :class:`LayerSpec` for every layer of a gisfix GeoPackage, with its style.

    Parameters
    ----------
    path : path-like
        A GeoPackage written by :func:`gisfix.io.write_layers`.
    group : str
        Group of the layers that are neither diffusion nor reference layers (see
        :func:`group_for`).
    tables : bool
        Include tables without geometry (in a ``tables`` subgroup).
    visible : sequence of str, optional
        Layers checked in the layer tree (default: all vector layers).
    groups : mapping, optional
        Layer name -> group, overriding :func:`group_for`.

    Returns
    -------
    list of LayerSpec
        One per layer of the GeoPackage (tables hidden, or left out without ``tables``).
    """
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        contents = con.execute(
            "SELECT c.table_name, c.data_type, g.geometry_type_name, s.organization, "
            "s.organization_coordsys_id, s.definition, c.min_x, c.min_y, c.max_x, c.max_y "
            "FROM gpkg_contents c "
            "LEFT JOIN gpkg_geometry_columns g ON g.table_name = c.table_name "
            "LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id").fetchall()
        try:
            styles = dict(con.execute(
                "SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault "
                "ORDER BY update_time"))
        except sqlite3.OperationalError:
            styles = {}
    finally:
        con.close()
    specs = []
    names = [row[0] for row in contents]
    # gisfix run writes units_<scenario>, change_<scenario>, lineage_<scenario> per scenario
    scenarios = [n[len("units_"):] for n in names if n.startswith("units_")
                 and n != "units_long"]
    by_scenario = {f"{k}_{s}": s.replace("_", " ") for s in scenarios
                   for k in ("units", "change", "lineage", "patches", "measures")}
    for name, data_type, gtype, org, code, definition, *bounds in contents:
        if name in ("layer_styles", "provenance"):
            continue
        grp = ((groups or {}).get(name) or by_scenario.get(name)
               or group_for(name, group))
        if data_type == "features":
            g = (gtype or "").upper()
            geometry = "point" if "POINT" in g else "line" if "LINE" in g else "polygon"
            crs = f"{org}:{code}" if org and code and org.upper() != "NONE" else definition
            specs.append(LayerSpec(path, layer=name, group=grp, geometry=geometry, crs=crs,
                                   style=styles.get(name),
                                   visible=visible is None or name in visible,
                                   bounds=tuple(bounds) if None not in bounds else None))
        elif tables:
            specs.append(LayerSpec(path, layer=name, group=grp, geometry=None,
                                   visible=False))
    return specs


def raster_layers(stack, group: str = "base", copy_to=None, bounds=None,
                  overwrite: bool = False) -> list[LayerSpec]:
    """Return a :class:`LayerSpec` per file of a built-up stack, styled by its encoding.

    Parameters
    ----------
    stack : BuiltupStack
        From :func:`gisfix.open_builtup` (its ``paths``, ``encoding``, ``epochs``, ``crs``).
    group : str
        Group of the rasters.
    copy_to : path-like, optional
        Output folder: the cells of each raster covering ``bounds`` are copied there
        (``builtup_<name>.tif``, :func:`gisfix.io.copy_raster_window`), so the folder holds
        everything its project shows and can be moved; otherwise the project points to the
        input files (by a relative path).
    bounds : (xmin, ymin, xmax, ymax), optional
        The region in the stack's CRS (default the whole raster).
    overwrite : bool
        Replace earlier copies.

    Returns
    -------
    list of LayerSpec
        One per raster file of the stack (or per copied window with ``copy_to``).
    """
    from gisfix.io import copy_raster_window

    paths = list(stack.paths)
    out = []
    for i, p in enumerate(paths):
        single = len(paths) == 1
        if single:
            name = ("built-up: first epoch built" if stack.encoding == "year-built"
                    else f"built-up ({stack.encoding})")
        else:
            name = f"built-up {stack.epochs[i]}"
        # a product named in the file (DEGURBA / SMOD classes) styles better than the
        # encoding gisfix reads it with (e.g. class=21,22,23,30)
        hint = next((enc for h, enc in ENCODING_HINTS if h in Path(p).stem.lower()), None)
        encoding = hint if hint in ("smod", "ldsmt") else stack.encoding
        if copy_to is not None:
            p = copy_raster_window(p, Path(copy_to) / f"builtup_{Path(p).stem}.tif",
                                   bounds, overwrite=overwrite)
        out.append(LayerSpec(p, name=name, group=group, kind="raster", crs=stack.crs,
                             encoding=encoding, epochs=tuple(stack.epochs)))
    return out


#: File-name hints of a raster's encoding (lower case), for rasters found in a folder.
ENCODING_HINTS = (("year_built", "year-built"), ("year-built", "year-built"),
                  ("smod", "smod"), ("degurba", "smod"), ("ldsmt", "ldsmt"),
                  ("binary", "binary"))


def folder_raster(path, group: str = "base") -> LayerSpec:
    """Return a :class:`LayerSpec` for a GeoTIFF found in an output folder.

    The encoding is guessed from the file name (:data:`ENCODING_HINTS`); a year-built
    raster is paletted over the GHSL epochs 1975-2030; anything else gets a pseudocolour
    ramp over its value range (read by :func:`gisfix.io.raster_summary`).

    Parameters
    ----------
    path : path-like
        The GeoTIFF.
    group : str
        Group of the layer.
    """
    from gisfix.io import raster_summary

    name = Path(path).stem.lower()
    encoding = next((enc for hint, enc in ENCODING_HINTS if hint in name), None)
    info = raster_summary(path)
    epochs = tuple(range(1975, 2031, 5)) if encoding == "year-built" else ()
    return LayerSpec(path, name=Path(path).stem, group=group, kind="raster",
                     crs=info["crs"], encoding=encoding, epochs=epochs,
                     value_range=info["range"])


def write_folder_project(folder, *, crs=None, extent=None, rasters: Sequence[LayerSpec] = (),
                         title: str = "gisfix", base: Sequence[str] = ("results",),
                         groups: Mapping[str, str] | None = None,
                         overwrite: bool = False, filename: str = "project.qgz") -> Path:
    """Write ``project.qgz`` for an output folder: its GeoPackages and rasters.

    GeoTIFFs in the folder that are not among ``rasters`` are added too, styled by
    :func:`folder_raster`.

    Layers of a GeoPackage named in ``base`` (``results.gpkg`` of ``gisfix run``) go to the
    ``base`` group; those of any other GeoPackage to a group named after it (one per
    scenario); diffusion and reference layers to ``diffusion`` and ``base`` (see
    :func:`group_for`).

    Parameters
    ----------
    folder : path-like
        The output folder.
    crs : object, optional
        Project CRS (default the CRS of the first vector layer).
    extent : (xmin, ymin, xmax, ymax), optional
        The region (default the extent of the first vector layer).
    rasters : sequence of LayerSpec
        Raster layers (see :func:`raster_layers`).
    title : str
        Project title.
    base : sequence of str
        GeoPackage stems whose layers form the ``base`` group.
    groups : mapping, optional
        Layer name -> group, overriding the rules above.
    overwrite : bool
        Replace an existing project.
    filename : str
        Name of the project in ``folder``.

    Returns
    -------
    pathlib.Path
        The written project (``folder / filename``).
    """
    folder = Path(folder)
    layers: list[LayerSpec] = []
    for gpkg in sorted(folder.glob("*.gpkg"), key=lambda p: (p.stem not in base, p.name)):
        layers += layers_from_gpkg(gpkg, group="base" if gpkg.stem in base
                                   else gpkg.stem.replace("_", " "), groups=groups)
    layers += list(rasters)
    given = {Path(r.path).resolve() for r in rasters}
    for tif in sorted(folder.glob("*.tif")):  # rasters other steps wrote into the folder
        if tif.resolve() not in given:
            layers.append(folder_raster(tif))
    first = next((s for s in layers if s.kind == "vector" and s.geometry and s.crs), None)
    if crs is None:
        crs = first.crs if first is not None else "EPSG:4326"
    if extent is None:
        extent = first.bounds if first is not None and first.bounds else (-180, -90, 180, 90)
    return write_project(folder / filename, layers, crs=crs, extent=extent, title=title,
                         groups=["base"], overwrite=overwrite)


def raster_style(encoding: str | None, epochs: Sequence[int] = (),
                 value_range: tuple[float, float] | None = None) -> ET.Element:
    """Return the ``<rasterrenderer>`` element fitting a raster's encoding.

    Parameters
    ----------
    encoding : str or None
        ``year-built`` (paletted, one colour per epoch), ``ldsmt`` and ``smod`` (paletted,
        the products' classes), ``binary`` and ``class=V,...`` (paletted), ``fraction`` or
        anything else (single-band pseudocolour over ``value_range``, default 0-1).
    epochs : sequence of int
        Epochs of a ``year-built`` raster.
    value_range : (float, float), optional
        Minimum and maximum of a continuous raster.

    Returns
    -------
    xml.etree.ElementTree.Element
        A paletted renderer for year-built, LDSMT, SMOD, binary and class encodings; a
        pseudo-colour ramp over the value range otherwise.
    """
    enc = (encoding or "").lower()
    if enc in ("year-built", "year_built") and epochs:
        n = len(epochs)
        ramp = YEAR_BUILT_RAMP
        entries = [(e, f"built by {e}",
                    ramp[int(round(i * (len(ramp) - 1) / max(n - 1, 1)))])
                   for i, e in enumerate(sorted(epochs))]
        return _paletted(entries)
    if enc == "ldsmt":
        return _paletted([(v, lab, c) for v, (lab, c) in LDSMT_PALETTE.items()])
    if enc in ("smod", "degurba"):
        return _paletted([(v, lab, c) for v, (lab, c) in SMOD_PALETTE.items()])
    if enc == "binary":
        return _paletted([(0, "not built", "240,240,240"), (1, "built", "189,0,38")])
    if enc.startswith("class="):
        values = [float(v) for v in enc[6:].split(",") if v.strip()]
        return _paletted([(v if v != int(v) else int(v), f"built (class {v:g})", "189,0,38")
                          for v in values])
    lo, hi = value_range or (0.0, 1.0)
    return _pseudocolor(float(lo), float(hi))


def _paletted(entries) -> ET.Element:
    r = ET.Element("rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1",
                   nodataColor="")
    ET.SubElement(r, "rasterTransparency")
    pal = ET.SubElement(r, "colorPalette")
    for value, label, color in entries:
        ET.SubElement(pal, "paletteEntry", value=str(value), color=_hex(color), alpha="255",
                      label=str(label))
    return r


def _pseudocolor(lo: float, hi: float) -> ET.Element:
    r = ET.Element("rasterrenderer", type="singlebandpseudocolor", band="1", opacity="1",
                   alphaBand="-1", nodataColor="", classificationMin=f"{lo:g}",
                   classificationMax=f"{hi:g}")
    ET.SubElement(r, "rasterTransparency")
    shader = ET.SubElement(ET.SubElement(r, "rastershader"), "colorrampshader",
                           colorRampType="INTERPOLATED", classificationMode="1", clip="0",
                           minimumValue=f"{lo:g}", maximumValue=f"{hi:g}")
    n = len(CONTINUOUS_RAMP)
    for i, color in enumerate(CONTINUOUS_RAMP):
        v = lo + (hi - lo) * i / (n - 1)
        ET.SubElement(shader, "item", value=f"{v:g}", color=_hex(color), alpha="255",
                      label=f"{v:.3g}")
    return r


def _hex(rgb: str) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb.split(",")[:3])


def _srs(crs) -> ET.Element:
    """Return a ``<spatialrefsys>`` element for anything pyproj understands."""
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    srs = ET.Element("spatialrefsys")
    ET.SubElement(srs, "wkt").text = c.to_wkt("WKT2_2019")
    with warnings.catch_warnings():  # "you will likely lose information": WKT comes first
        warnings.simplefilter("ignore")
        ET.SubElement(srs, "proj4").text = c.to_proj4() or ""
    auth = c.to_authority(min_confidence=90)
    ET.SubElement(srs, "authid").text = f"{auth[0]}:{auth[1]}" if auth else ""
    ET.SubElement(srs, "description").text = c.name
    ET.SubElement(srs, "projectionacronym").text = ""
    ET.SubElement(srs, "ellipsoidacronym").text = ""
    ET.SubElement(srs, "geographicflag").text = "true" if c.is_geographic else "false"
    return srs


def _source(spec: LayerSpec, home: Path) -> str:
    rel = os.path.relpath(Path(spec.path).resolve(), home.resolve())
    rel = rel.replace(os.sep, "/")
    if not rel.startswith("."):
        rel = "./" + rel
    return f"{rel}|layername={spec.layer}" if spec.layer else rel


def _maplayer(spec: LayerSpec, layer_id: str, home: Path, project_crs) -> ET.Element:
    crs = spec.crs if spec.crs is not None else project_crs
    if spec.kind == "raster":
        ml = ET.Element("maplayer", type="raster", autoRefreshEnabled="0",
                        refreshOnNotifyEnabled="0", styleCategories="AllStyleCategories")
    else:
        attrs = {"type": "vector", "autoRefreshEnabled": "0", "refreshOnNotifyEnabled": "0",
                 "styleCategories": "AllStyleCategories", "labelsEnabled": "0"}
        attrs["geometry"] = {"polygon": "Polygon", "line": "Line", "point": "Point",
                             None: "No geometry"}[spec.geometry]
        ml = ET.Element("maplayer", attrs)
    ET.SubElement(ml, "id").text = layer_id
    ET.SubElement(ml, "datasource").text = _source(spec, home)
    ET.SubElement(ml, "layername").text = spec.title
    if spec.kind == "raster" or spec.geometry is not None:
        ET.SubElement(ml, "srs").append(_srs(crs))
    provider = ET.SubElement(ml, "provider", encoding="UTF-8" if spec.kind != "raster" else "")
    provider.text = "gdal" if spec.kind == "raster" else "ogr"
    if spec.kind == "raster":
        pipe = ET.SubElement(ml, "pipe")
        pipe.append(raster_style(spec.encoding, spec.epochs, spec.value_range))
        ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
        ET.SubElement(pipe, "huesaturation", saturation="0", colorizeOn="0",
                      grayscaleMode="0", colorizeStrength="100")
        ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
        ET.SubElement(ml, "blendMode").text = "0"
    elif spec.geometry is not None and spec.style:
        qml = ET.fromstring(spec.style.split("\n", 1)[1] if spec.style.startswith("<!DOCTYPE")
                            else spec.style)
        for child in qml:
            ml.append(child)
        ml.set("labelsEnabled", qml.get("labelsEnabled", "0"))
    return ml


def _extent_element(tag: str, extent) -> ET.Element:
    e = ET.Element(tag)
    for key, value in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
        ET.SubElement(e, key).text = repr(float(value))
    return e


def project_xml(path, layers: Sequence[LayerSpec], *, crs, extent, title: str = "gisfix",
                groups: Sequence[str] | None = None) -> str:
    """Return the ``.qgs`` XML of a project (see :func:`write_project`).

    Parameters
    ----------
    path : path-like
        Where the project will be written; data sources are made relative to its folder.
    layers : sequence of LayerSpec
        The layers, in drawing order within each group (first on top; rasters are drawn below
        vectors, attribute-only tables are listed last).
    crs : object
        Project CRS (anything :class:`pyproj.CRS` accepts).
    extent : (xmin, ymin, xmax, ymax)
        Default view, in ``crs``.
    title : str
        Project title.
    groups : sequence of str, optional
        Order of the layer-tree groups (others follow in order of first use).

    Returns
    -------
    str
        The XML document of a QGIS project file.
    """
    from pyproj import CRS

    home = Path(path).resolve().parent
    pcrs = CRS.from_user_input(crs)
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    ET.SubElement(ET.SubElement(root, "projectCrs"), "spatialrefsys").extend(list(_srs(pcrs)))
    order = list(dict.fromkeys(list(groups or []) + [s.group for s in layers]))
    ids = [f"{_safe(s.title)}_{uuid.uuid5(uuid.NAMESPACE_URL, _source(s, home)).hex}"
           for s in layers]
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    for gname in order:
        members = [(s, i) for s, i in zip(layers, ids, strict=True) if s.group == gname]
        if not members:
            continue
        g = ET.SubElement(tree, "layer-tree-group", name=gname, checked="Qt::Checked",
                          expanded="1")
        ET.SubElement(g, "customproperties")
        spatial = [(s, i) for s, i in members if s.kind == "raster" or s.geometry]
        tables = [(s, i) for s, i in members if not (s.kind == "raster" or s.geometry)]
        # rasters below vectors: QGIS draws the first layer of the tree on top
        spatial.sort(key=lambda si: si[0].kind == "raster")
        for s, i in spatial:
            _tree_layer(g, s, i, home)
        if tables:
            t = ET.SubElement(g, "layer-tree-group", name="tables", checked="Qt::Checked",
                              expanded="0")
            ET.SubElement(t, "customproperties")
            for s, i in tables:
                _tree_layer(t, s, i, home)
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "degrees" if pcrs.is_geographic else "meters"
    canvas.append(_extent_element("extent", extent))
    ET.SubElement(canvas, "rotation").text = "0"
    ET.SubElement(canvas, "destinationsrs").append(_srs(pcrs))
    ET.SubElement(canvas, "rendermaptile").text = "0"
    ET.SubElement(canvas, "expressionContextScope")
    pl = ET.SubElement(root, "projectlayers")
    for s, i in zip(layers, ids, strict=True):
        pl.append(_maplayer(s, i, home, pcrs))
    view = ET.SubElement(root, "ProjectViewSettings", UseProjectScales="0")
    ET.SubElement(view, "Scales")
    dve = ET.SubElement(view, "DefaultViewExtent", **{
        k: repr(float(v)) for k, v in zip(("xmin", "ymin", "xmax", "ymax"), extent,
                                           strict=True)})
    dve.append(_srs(pcrs))
    props = ET.SubElement(root, "properties")
    paths = ET.SubElement(props, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    ET.SubElement(ET.SubElement(props, "SpatialRefSys"), "ProjectionsEnabled",
                  type="int").text = "1"
    ET.indent(root)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode"))


def _tree_layer(parent, spec: LayerSpec, layer_id: str, home: Path) -> None:
    node = ET.SubElement(parent, "layer-tree-layer", id=layer_id, name=spec.title,
                         source=_source(spec, home),
                         providerKey="gdal" if spec.kind == "raster" else "ogr",
                         checked="Qt::Checked" if spec.visible else "Qt::Unchecked",
                         expanded="0", legend_exp="")
    ET.SubElement(node, "customproperties")


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def write_project(path, layers: Sequence[LayerSpec], *, crs, extent, title: str = "gisfix",
                  groups: Sequence[str] | None = None, overwrite: bool = False) -> Path:
    """Write a ``.qgz`` QGIS project of ``layers``, atomically.

    Parameters
    ----------
    path : path-like
        The ``.qgz`` file; data sources are stored relative to its folder.
    layers : sequence of LayerSpec
        The layers, in drawing order within each group (first on top).
    crs : object
        Project CRS (the data's CRS; anything :class:`pyproj.CRS` accepts).
    extent : (xmin, ymin, xmax, ymax)
        Default view: the region, in ``crs``.
    title : str
        Project title.
    groups : sequence of str, optional
        Order of the layer-tree groups (others follow in order of first use).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written project.

    Raises
    ------
    GisfixError
        When ``path`` does not end in ``.qgz``.
    OutputExistsError
        When it exists and ``overwrite`` is False.
    """
    from gisfix.errors import GisfixError
    from gisfix.io import atomic_path

    p = Path(path)
    if p.suffix.lower() != ".qgz":
        raise GisfixError(f"a QGIS project file ends in .qgz; got {p.name!r}")
    xml = project_xml(p, layers, crs=crs, extent=extent, title=title, groups=groups)
    with atomic_path(p, overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(p.with_suffix(".qgs").name, xml)
    return p


#: The name exported at the package level (``gisfix.write_qgis_project``): the project
#: TOML reader has a ``write_project`` of its own.
write_qgis_project = write_project

__all__ = ["LayerSpec", "group_for", "layers_from_gpkg", "project_xml", "raster_layers",
           "raster_style", "write_folder_project", "write_project", "write_qgis_project"]
