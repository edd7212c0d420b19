"""``gisfix info PATH``: facts about a boundary file or a built-up raster."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gisfix.cli.options import epochs_option, layer_option

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".nc", ".jp2")


@click.command(short_help="Describe a boundary file or a built-up raster.")
@click.argument("path", type=click.Path())
@layer_option
@click.option("--id", "id_col", default=None, help="Id column to check for missing/duplicates.")
@click.option("--encoding", default=None,
              help="Raster encoding (default: guessed from dtype and values).")
@epochs_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(path, layer, id_col, encoding, epochs, as_json):
    """Describe PATH: a boundary file (CRS, units, extent, counts of invalid, empty and
    duplicate features) or a built-up raster (CRS, grid, dtype, nodata, encoding, epochs,
    built and valid area by epoch)."""
    from gisfix.errors import InputFileError

    p = Path(path)
    if not p.exists():
        raise InputFileError(f"no such file: {p}")
    if p.suffix.lower() in RASTER_SUFFIXES:
        facts = _raster_facts(p, encoding, epochs)
    else:
        from gisfix.boundaries import describe_boundaries

        facts = describe_boundaries(p, layer=layer, id_col=id_col)
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str, ensure_ascii=False))
        return
    for key, value in facts.items():
        if key == "by_epoch":
            click.echo("by epoch:")
            click.echo("  epoch  built_cells   builtup_km2   valid_km2")
            for row in value:
                click.echo(f"  {row['epoch']:>5}  {row['built_cells']:>11,.0f}  "
                           f"{row['builtup_km2']:>12.4f}  {row['valid_km2']:>10.4f}")
        else:
            click.echo(f"{key}: {value}")


def _raster_facts(p: Path, encoding, epochs):
    from gisfix.cli.options import parse_int_list
    from gisfix.errors import GisfixError
    from gisfix.stack import describe_raster, guess_encoding, open_builtup, warn_if_clipped

    guess = guess_encoding(p)
    facts = {"encoding_guess": guess}
    enc = encoding or guess.split(" ")[0].rstrip("?")
    if enc in ("unknown", "fraction"):
        enc = encoding or "fraction"
    try:
        stack = open_builtup([p], enc, epochs=parse_int_list(epochs))
    except GisfixError:
        if encoding:
            raise
        # not a built-up raster gisfix can read as guessed: describe the file only
        facts.update(describe_raster(p))
        return facts
    with stack:
        if stack.is_ordinal:
            facts["edge_nodata_runs"] = warn_if_clipped(stack)
        if not stack.epochs_known:
            stack.set_epochs(stack.scan_epochs(progress=True))
        facts.update(stack.describe())
        summary = stack.summary()
    facts["valid_km2"] = float(summary["valid_km2"].iloc[-1])
    facts["by_epoch"] = [{"epoch": int(e), **{k: float(v) for k, v in row.items()}}
                         for e, row in summary.iterrows()]
    return facts
