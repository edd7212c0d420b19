"""``gisfix demo -o DIR``: the main job on the embedded data, offline."""

from __future__ import annotations

import click

from gisfix.cli.options import overwrite_option


@click.command(short_help="Run the offline demo on the embedded data.")
@click.option("-o", "--output", "output", default="demo-output", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the demo's files.")
@overwrite_option
def demo(output, overwrite):
    """Run the main job on embedded real data: the Swiss municipalities of 2018 on the
    GHS-WUP Degree of Urbanisation 2025, before and after the 2018 -> 2024 merger wave
    (gisfix run on a project file shipped in the package); then the Virginia reversions
    and regional inequality in Mexico 1940-2000. Writes results.gpkg (open it in QGIS),
    measures, compare.csv, run.json, a scenario, charts and REPORT.md."""
    from gisfix.workflows.demo import run_demo

    results = run_demo(output, overwrite=overwrite,
                       progress=lambda msg: click.echo(f"gisfix demo: {msg}", err=True))
    ba = results["swiss_main_job"]
    for m in ("share_gini", "share_theil_t", "moran_I", "n_units_share_ge_0.3"):
        if m in ba:
            click.echo(f"Swiss urban share 2025, {m}: {ba[m]['base']:.4f} (2018 units) -> "
                       f"{ba[m]['value']:.4f} (after the mergers)", err=True)
    sw = results["swiss"]
    click.echo(f"Swiss 2018 -> 2024: {sw['edits']}; rebuilt units match 2024 ids: "
               f"{sw['ids_match_2024']}; min IoU {sw['iou_min']:.4f}", err=True)
    click.echo(f"Virginia merged IoU vs 2017: {results['virginia']['merged_iou_vs_2017']}",
               err=True)
    click.echo(f"wrote {output}/REPORT.md and the files it links", err=True)
