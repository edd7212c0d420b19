"""gisfix: spatial measures of agglomeration, diffusion and inequality on real boundaries.

Real boundaries and built-up rasters go in; measures come out; administrative-division
adjustments are reproducible boundary edits.

The public API is re-exported here::

    import gisfix
    units = gisfix.read_boundaries("counties.gpkg", id="fips")
    stack = gisfix.open_builtup("ghsl_year_built.tif", encoding="year-built")
"""

from gisfix._version import __version__
from gisfix.boundaries import read_boundaries
from gisfix.errors import (
    CRSError,
    DataError,
    EditError,
    GeometryError,
    GisfixError,
    IdError,
    InputFileError,
    OutputExistsError,
    RasterError,
)
from gisfix.stack import BuiltupStack, open_builtup

__all__ = [
    "BuiltupStack",
    "CRSError",
    "DataError",
    "EditError",
    "GeometryError",
    "GisfixError",
    "IdError",
    "InputFileError",
    "OutputExistsError",
    "RasterError",
    "__version__",
    "open_builtup",
    "read_boundaries",
]
