"""``gisfix data list|path NAME``: the embedded datasets."""

from __future__ import annotations

import click


@click.group(short_help="List or locate the embedded datasets.")
def data():
    """The real datasets shipped in data/ (see data/README.md for sources)."""


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
