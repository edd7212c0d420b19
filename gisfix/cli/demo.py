"""``gisfix demo -o DIR``: the main job on the embedded data, offline."""

from __future__ import annotations

from pathlib import Path

import click

from gisfix.cli.options import overwrite_option


@click.command(short_help="Run the offline demo on the embedded data.")
@click.option("-o", "--output", "output", default="demo-output", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the demo's files.")
@overwrite_option
def demo(output, overwrite):
    """Read the embedded Swiss and Virginia boundary vintages and write QGIS-ready files
    to the output folder."""
    from gisfix import datasets
    from gisfix.io import provenance, write_layers

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    layers = {}
    for name in datasets.names():
        gdf = datasets.load(name, make_valid=True, drop_empty=True)
        d = datasets.get(name)
        click.echo(f"{name}: {len(gdf)} units, CRS {gdf.crs.to_string()}, id {d.id}", err=True)
        layers[name.replace("-", "_")] = gdf.reset_index()
    target = out / "boundaries.gpkg"
    write_layers(target, layers, provenance({n: str(datasets.get_path(n)) for n in
                                             datasets.names()}, {}, "gisfix demo"),
                 overwrite=overwrite)
    click.echo(f"wrote {target}", err=True)
