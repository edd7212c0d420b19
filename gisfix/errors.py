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


class IdMismatchError(IdError, DataError):
    """Ids of two inputs that should describe the same units do not match (values vs graph)."""


class EditError(GisfixError, ValueError):
    """A boundary edit that cannot be applied as given; the input is left untouched."""


class InputFileError(GisfixError, FileNotFoundError):
    """An input file that does not exist or cannot be opened."""


class OutputExistsError(GisfixError, FileExistsError):
    """An output file that exists already (pass ``overwrite=True`` / ``--overwrite``)."""


class ProjectError(GisfixError, ValueError):
    """A project file (``gisfix run PROJECT.toml``) with a bad table, key or value."""


def show_ids(ids, limit: int = 8) -> str:
    """Return up to ``limit`` ids as text for an error message (``"a, b and 3 more"``).

    The one helper gisfix's messages use to name offending units.

    Parameters
    ----------
    ids : iterable
        The ids (any values; shown with ``str``).
    limit : int
        How many to show.

    Returns
    -------
    str
    """
    shown = [str(i) for i in ids]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


class OutputFormatError(GisfixError, ValueError):
    """An output path gisfix cannot write: an unknown format or a missing folder."""


class UsageError(GisfixError, ValueError):
    """A parameter given in a form gisfix does not accept (the CLI exits with status 2)."""


class ExtentError(RasterError):
    """Boundaries or a study area missing the raster entirely (the message gives both extents)."""


# -- warnings: data problems a user can act on --------------------------------------------
class GisfixWarning(UserWarning):
    """Root of every warning gisfix issues; the CLI prints each as one line on stderr."""


class DataWarning(GisfixWarning):
    """A data problem gisfix worked around (dropped empty geometries, isolated units...)."""


class NoValidCellsWarning(GisfixWarning):
    """Units that cover no observed raster cell (outside the raster, the study area or data)."""


class LowCoverageWarning(GisfixWarning):
    """Units whose observed area is below the coverage threshold (``min_coverage``)."""


class PartialOverlapWarning(GisfixWarning):
    """Boundaries that extend beyond the raster or the study area."""


class ClipWarning(GisfixWarning):
    """Nodata along a raster's edge in long runs: the raster was clipped to a study area."""


def warn_data(message: str, *args, category: type[Warning] | None = None,
              stacklevel: int = 3) -> None:
    """Issue a data warning (``message % args``) of a gisfix warning class.

    Parameters
    ----------
    message : str
        The message, %-formatted with ``args`` (as logging does).
    *args
        Values for the message.
    category : Warning subclass, optional
        Default :class:`DataWarning`.
    stacklevel : int
        Passed to :func:`warnings.warn` (3: the caller of the function that warns).
    """
    import warnings

    warnings.warn(message % args if args else message, category or DataWarning,
                  stacklevel=stacklevel)


class DownloadError(GisfixError, ConnectionError):
    """A download that failed: server unreachable (offline), missing file, HTTP error."""


class ChecksumError(GisfixError, ValueError):
    """A downloaded file whose SHA-256 does not match the registry; it was discarded."""


__all__ = [
    "CRSError",
    "ChecksumError",
    "ClipWarning",
    "DownloadError",
    "DataError",
    "DataWarning",
    "EditError",
    "ExtentError",
    "GeometryError",
    "GisfixError",
    "GisfixWarning",
    "IdError",
    "IdMismatchError",
    "InputFileError",
    "LowCoverageWarning",
    "NoValidCellsWarning",
    "OutputExistsError",
    "OutputFormatError",
    "PartialOverlapWarning",
    "ProjectError",
    "RasterError",
    "UsageError",
    "show_ids",
    "warn_data",
]
