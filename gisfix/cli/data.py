"""``gisfix data list|path NAME``: the embedded datasets."""

from __future__ import annotations

import click


@click.group(short_help="List, locate or download datasets.")
def data():
    """The real datasets shipped in gisfix/data/ (see its README.md for sources), and
    downloads of data for your own region (`gisfix data fetch ghsl`)."""


@data.command("list")
def list_():
    """List the embedded datasets."""
    from gisfix import datasets

    for name in datasets.names():
        d = datasets.get(name)
        click.echo(f"{name:18} {d.description}  [{d.path.name}:{d.layer}, id={d.id}]")


@data.command("path")
@click.argument("name")
def path(name):
    """Print the file path of dataset NAME (its layer follows a colon)."""
    from gisfix import datasets

    d = datasets.get(name)
    click.echo(f"{datasets.get_path(name)}:{d.layer}")


@data.group(short_help="Download data for your own region (GHSL).")
def fetch():
    """Download data for a region of your own."""


@fetch.command("ghsl", short_help="GHSL R2023A tiles for a region: verify, mosaic, clip.")
@click.option("--product", type=click.Choice(["built-s", "smod", "pop"]), default="built-s",
              show_default=True, help="GHS-BUILT-S (m² built per cell), GHS-SMOD, GHS-POP.")
@click.option("--epochs", required=True,
              help="Comma-separated epochs, 1975-2030 every 5 years, e.g. 1975,1990,2020.")
@click.option("--bbox", default=None, help="The region as lon/lat W,S,E,N.")
@click.option("--boundaries", default=None, type=click.Path(dir_okay=False),
              help="The region as polygons (any vector file); cells outside become nodata.")
@click.option("--year-built", is_flag=True,
              help="Also write ghsl_year_built.tif: the first epoch whose built-up surface "
                   "reaches --threshold (built-s only).")
@click.option("--threshold", "threshold_m2", default=1000.0, show_default=True, type=float,
              help="Built-up surface (m² per 100 m cell) from which a cell counts as built.")
@click.option("--base-url", default=None,
              help="Server folder with the JRC layout (default $GISFIX_GHSL_URL or the JRC "
                   "open-data server).")
@click.option("--cache", default=None, type=click.Path(file_okay=False),
              help="Tile cache (default $GISFIX_CACHE/ghsl or the user cache folder).")
@click.option("--registry", default=None, type=click.Path(dir_okay=False),
              help="SHA-256 registry of the tiles (default CACHE/registry.txt).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="Folder for the clipped GeoTIFFs.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
def ghsl(product, epochs, bbox, boundaries, year_built, threshold_m2, base_url, cache,
         registry, no_progress, output, overwrite):
    """Download the GHSL R2023A tiles (World Mollweide) of PRODUCT covering the region,
    verify each against its SHA-256 (recorded on first download), mosaic them (a VRT) and
    clip them to the region; with --year-built, convert GHS-BUILT-S to the first epoch
    built (open it with --encoding year-built). Interrupted downloads resume."""
    from gisfix.cli.options import parse_float_list, parse_int_list
    from gisfix.fetch import EPOCHS, fetch_ghsl

    if (bbox is None) == (boundaries is None):
        raise click.UsageError("give the region as exactly one of --bbox W,S,E,N and "
                               "--boundaries FILE")
    box = parse_float_list(bbox, "--bbox") if bbox is not None else None
    if box is not None and len(box) != 4:
        raise click.BadParameter(f"give four numbers W,S,E,N, got {bbox!r}",
                                 param_hint="--bbox")
    if box is not None and not (-180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90):
        raise click.BadParameter(f"W,S,E,N in degrees with W < E and S < N, got {bbox!r}",
                                 param_hint="--bbox")
    years = parse_int_list(epochs, "--epochs") or []
    bad = [e for e in years if e not in EPOCHS]
    if not years or bad:
        raise click.BadParameter(f"epochs are {EPOCHS[0]}-{EPOCHS[-1]} every 5 years, got "
                                 f"{epochs!r}", param_hint="--epochs")
    if year_built and product != "built-s":
        raise click.UsageError("--year-built converts GHS-BUILT-S only; use --product built-s")
    result = fetch_ghsl(product, years, output, bbox=box,
                        boundaries=boundaries, base_url=base_url, cache=cache,
                        registry=registry, year_built=year_built, threshold_m2=threshold_m2,
                        progress=not no_progress, overwrite=overwrite,
                        say=lambda m: click.echo(f"gisfix data fetch: {m}", err=True))
    click.echo(f"wrote {len(result.rasters)} raster(s) to {output}"
               + (f" and {result.year_built.name}" if result.year_built else ""), err=True)
