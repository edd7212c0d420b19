"""The files people open, written for an output folder in one call.

:func:`write_deliverables` writes ``project.qgz`` (:mod:`gisfix.qgis_project`: every
GeoPackage of the folder with its layer styles, plus the rasters) and ``report.html``
(:mod:`gisfix.html_report`: maps, charts, tables and provenance) after a workflow has
written its GeoPackages. ``gisfix run`` and ``gisfix demo`` call it last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def write_deliverables(folder, *, title: str, crs=None, extent=None,
                       rasters: Sequence = (), provenance: Mapping | None = None,
                       images: bool = True, groups: Mapping[str, str] | None = None,
                       overwrite: bool = False) -> dict[str, Path]:
    """Write ``project.qgz`` and ``report.html`` into an output folder.

    Parameters
    ----------
    folder : path-like
        The output folder holding the workflow's GeoPackages (and PNG charts).
    title : str
        Title of the project and the report.
    crs : object, optional
        Project CRS: the data's CRS (default: the first vector layer's).
    extent : (xmin, ymin, xmax, ymax), optional
        The region, in ``crs`` (default: the first vector layer's extent).
    rasters : sequence of LayerSpec
        Raster layers of the project (:func:`gisfix.qgis_project.raster_layers`).
    provenance : mapping, optional
        The provenance record of the outputs (shown in the report).
    images : bool
        Embed the folder's PNG charts in the report too.
    groups : mapping, optional
        Layer name -> layer-tree group of the project (default: ``base``, one group per
        scenario GeoPackage or ``scenario_<name>__`` layer prefix, ``diffusion``; see
        :func:`gisfix.qgis_project.group_for`).
    overwrite : bool
        Replace existing files.

    Returns
    -------
    dict
        ``{"project": path, "report": path}``.
    """
    from gisfix.html_report import write_folder_report
    from gisfix.qgis_project import write_folder_project

    folder = Path(folder)
    project = write_folder_project(folder, crs=crs, extent=extent, rasters=rasters,
                                   title=title, groups=groups, overwrite=overwrite)
    report = write_folder_report(folder, title=title, provenance=provenance,
                                 images=images, overwrite=overwrite)
    return {"project": project, "report": report}


__all__ = ["write_deliverables"]
