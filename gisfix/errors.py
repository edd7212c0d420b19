"""The gisfix exception hierarchy.

Every error gisfix raises on bad input derives from :class:`GisfixError` and from the
built-in exception a caller would expect (``ValueError``, ``KeyError``, ``FileNotFoundError``),
so ``except ValueError`` keeps working.  Messages say what was received, what is allowed and
how to fix it; the CLI prints them as one line and exits with status 1.
"""

from __future__ import annotations


class GisfixError(Exception):
    """Root of every error gisfix raises on purpose."""


class CRSError(GisfixError, ValueError):
    """A missing, unresolvable or mismatched coordinate reference system."""


class GeometryError(GisfixError, ValueError):
    """Invalid, empty or non-polygon geometries."""


class IdError(GisfixError, KeyError):
    """A missing id column, null ids, duplicate ids or unknown ids."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class RasterError(GisfixError, ValueError):
    """A raster that cannot be read as asked: bad encoding, misaligned grids, no epochs."""


class DataError(GisfixError, ValueError):
    """Values a measure cannot use: NaN, non-positive values, too few units, bad weights."""


class EditError(GisfixError, ValueError):
    """A boundary edit that cannot be applied as given; the input is left untouched."""


class InputFileError(GisfixError, FileNotFoundError):
    """An input file that does not exist or cannot be opened."""


class OutputExistsError(GisfixError, FileExistsError):
    """An output file that exists already (pass ``overwrite=True`` / ``--overwrite``)."""


class ProjectError(GisfixError, ValueError):
    """A project file (``gisfix run PROJECT.toml``) with a bad table, key or value."""


class GisfixWarning(UserWarning):
    """Root of every warning gisfix issues about data a user can act on."""


class DataWarning(GisfixWarning):
    """Data that gisfix used, but not as given: units dropped, values ignored."""


__all__ = [
    "CRSError",
    "DataError",
    "DataWarning",
    "EditError",
    "GeometryError",
    "GisfixError",
    "GisfixWarning",
    "IdError",
    "InputFileError",
    "OutputExistsError",
    "ProjectError",
    "RasterError",
]
