"""``gisfix demo -o DIR``: the main job on the embedded data, offline."""

from __future__ import annotations

import click

from gisfix.cli.options import overwrite_option


@click.command(short_help="Run the offline demo on the embedded data.")
@click.option("-o", "--output", "output", default="demo-output", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the demo's files.")
@overwrite_option
def demo(output, overwrite):
    """Detect and apply the Swiss municipal edits 2018 -> 2024, apply the Virginia
    reversions, and measure regional inequality in Mexico 1940-2000; write GeoPackages
    (open them in QGIS), a scenario, JSON, charts and REPORT.md to the output folder."""
    from gisfix.demo import run_demo

    results = run_demo(output, overwrite=overwrite,
                       progress=lambda msg: click.echo(f"gisfix demo: {msg}", err=True))
    sw = results["swiss"]
    click.echo(f"Swiss 2018 -> 2024: {sw['edits']}; rebuilt units match 2024 ids: "
               f"{sw['ids_match_2024']}; min IoU {sw['iou_min']:.4f}", err=True)
    click.echo(f"Virginia merged IoU vs 2017: {results['virginia']['merged_iou_vs_2017']}",
               err=True)
    click.echo(f"wrote {output}/REPORT.md and the files it links", err=True)
