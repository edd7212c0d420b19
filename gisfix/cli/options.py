"""Options shared by every verb, and small parsing helpers: defined once, used everywhere."""

from __future__ import annotations

import click

output_option = click.option(
    "-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
    help="Output file; the format follows the suffix.")
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace the output file if it exists.")
id_option = click.option("--id", "id_col", required=True, help="Column holding the unit id.")
layer_option = click.option("--layer", default=None, help="Layer of a multi-layer vector file.")
crs_option = click.option("--crs", default=None,
                          help="CRS to assign when the boundary file has none (e.g. EPSG:4326).")
make_valid_option = click.option("--make-valid", is_flag=True,
                                 help="Repair invalid polygons (the area change is reported).")
encoding_option = click.option(
    "--encoding", "encoding", default="year-built", show_default=True,
    help="Built-up encoding: year-built, ldsmt, binary, fraction or class=V[,V].")
fraction_units_option = click.option(
    "--fraction-units", type=click.Choice(["unit", "percent", "m2"]), default="unit",
    show_default=True, help="Scale of fraction rasters: 0-1, 0-100 or m2 per cell.")
epochs_option = click.option(
    "--epochs", default=None, help="Comma-separated epochs (years), e.g. 1990,2000,2014.")

#: Where --aoi keeps its value for :func:`open_stack_from_options` (``ctx.meta``).
AOI_KEY = "gisfix.aoi"


def _remember_aoi(ctx, param, value):
    ctx.meta[AOI_KEY] = value
    return value


#: --aoi PATH: the study area; every verb that reads a raster takes it.  Its value reaches
#: :func:`open_stack_from_options` through the click context, so verbs need no parameter.
aoi_option = click.option(
    "--aoi", type=click.Path(dir_okay=False), default=None, expose_value=False,
    callback=_remember_aoi, is_eager=True,
    help="Study-area polygon file: cells outside it are not observed, and inside it "
         "year-built nodata means never built. Give it whenever the raster was clipped.")


def _check_scheduler(ctx, param, value):
    """Refuse an unknown --scheduler before any work (a usage error: one line, exit 2)."""
    if value is not None and ":" not in value:
        from gisfix.parallel import LOCAL_SCHEDULERS, resolve_scheduler

        if value not in LOCAL_SCHEDULERS:
            resolve_scheduler(value)  # raises gisfix's UsageError naming what is allowed
    return value


scheduler_option = click.option(
    "--scheduler", default=None, metavar="processes|threads|ADDRESS",
    callback=_check_scheduler,
    help="Count raster blocks with dask: local processes or threads, or a dask.distributed "
         "scheduler address (tcp://host:8786); needs gisfix[dask]. Same results.")


def _stack(*options):
    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


#: --id, --layer, --crs, --make-valid: how to read a boundary file.
boundary_options = _stack(id_option, layer_option, crs_option, make_valid_option)
#: --encoding, --fraction-units, --epochs, --aoi: how to read built-up rasters.
raster_options = _stack(encoding_option, fraction_units_option, epochs_option, aoi_option)


def parse_int_list(value: str | None, name: str = "--epochs") -> list[int] | None:
    """Parse ``"1990,2000"`` into ``[1990, 2000]`` or raise a usage error naming the option."""
    if value is None or value == "":
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}",
                                 param_hint=name) from None


graph_option = click.option(
    "--graph", "graph_kind", default="queen", show_default=True,
    help="Spatial neighbours: queen, rook, knn=K or distance=D (knn/distance need a "
         "projected CRS).")


def parse_float_list(value: str | None, name: str) -> list[float]:
    """Parse ``"0.3,0.5"`` into ``[0.3, 0.5]``; a usage error naming the option otherwise."""
    try:
        out = [float(v) for v in (value or "").split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}",
                                 param_hint=name) from None
    if not out:
        raise click.BadParameter("give at least one number", param_hint=name)
    return out


def parse_str_list(value: str | None) -> list[str]:
    """Parse ``"a,b"`` into ``["a", "b"]``; None or empty gives ``[]``."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def read_boundaries_from_options(path, id_col, layer=None, crs=None, make_valid=False, **kw):
    """Call :func:`gisfix.read_boundaries` with the shared CLI options."""
    from gisfix.boundaries import read_boundaries

    return read_boundaries(path, id_col, layer=layer, crs=crs, make_valid=make_valid, **kw)


_FROM_CONTEXT = object()


def open_stack_from_options(rasters, encoding, epochs, fraction_units="unit", aoi=_FROM_CONTEXT):
    """Call :func:`gisfix.open_builtup` with the shared CLI options (``--aoi`` included)."""
    from gisfix.stack import open_builtup

    if aoi is _FROM_CONTEXT:
        ctx = click.get_current_context(silent=True)
        aoi = ctx.meta.get(AOI_KEY) if ctx is not None else None
    return open_builtup(list(rasters), encoding=encoding, epochs=parse_int_list(epochs),
                        fraction_units=fraction_units, aoi=aoi)
