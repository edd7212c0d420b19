"""Reports: figures and Markdown of ``gisfix run`` and the demo, and their plumbing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def save_figure(fig, path: Path, overwrite: bool = False) -> None:
    """Save a matplotlib figure as PNG atomically (see :func:`gisfix.io.atomic_path`).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (saved at 110 dpi with a tight bounding box).
    path : pathlib.Path
        The PNG file.
    overwrite : bool
        Allow replacing an existing file.

    Raises
    ------
    OutputExistsError, OutputFormatError
        As :func:`gisfix.io.check_output`.
    """
    from gisfix.io import atomic_path

    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def markdown_table(df: pd.DataFrame, digits: int = 4) -> str:
    """Return ``df`` as a GitHub Markdown table (index first, floats to ``digits``).

    Parameters
    ----------
    df : DataFrame
        The table; its index becomes the first column (headed by the index name).
    digits : int
        Decimals of float cells.

    Returns
    -------
    str
        The Markdown lines joined with newlines.
    """
    cols = [df.index.name or ""] + [str(c) for c in df.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float | np.floating) else str(v)
                 for v in row.values]
        rows.append("| " + " | ".join([str(idx)] + cells) + " |")
    return "\n".join(rows)


def plot_backend() -> None:
    """Select matplotlib's file-only backend (no display on servers)."""
    import matplotlib

    matplotlib.use("Agg")


def run_charts(unit_layer, column: str, region: pd.DataFrame, d: Path) -> None:
    """Write the share map and the built-up chart of a run into folder ``d``.

    Writes ``share_map.png`` (the choropleth of ``column``) and ``builtup_chart.png`` (the
    region's built-up area by epoch), replacing earlier ones.

    Parameters
    ----------
    unit_layer : GeoDataFrame
        The units with the share column to map.
    column : str
        The share column to map, ``builtup_share_<epoch>`` (the legend shows its epoch).
    region : DataFrame
        The region table indexed by epoch, with a ``builtup_km2_total`` column.
    d : pathlib.Path
        The output folder.
    """
    plot_backend()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    unit_layer.plot(column=column, ax=ax, cmap="YlOrRd", legend=True, edgecolor="grey",
                    linewidth=0.2, missing_kwds={"color": "white", "hatch": "//"},
                    legend_kwds={"label": f"built-up share ({column[6:]})", "shrink": 0.6})
    ax.set_axis_off()
    ax.set_title("Land development intensity by unit")
    save_figure(fig, d / "share_map.png", True)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.plot(region.index, region["builtup_km2_total"], marker="o", color="#bd0026")
    ax.set_xlabel("epoch")
    ax.set_ylabel("built-up area (km²)")
    ax.set_title("Built-up area of the region")
    save_figure(fig, d / "builtup_chart.png", True)
    plt.close(fig)


#: Region-wide measures the report's before/after tables show, when present.
HEADLINE = ("n_units", "builtup_km2_total", "builtup_share_region", "n_units_share_ge_0.3",
            "builtup_km2_gini", "builtup_km2_hhi", "zipf_exponent", "primacy_2", "moran_I",
            "share_gini", "share_theil_t", "share_theil_t_between", "share_theil_t_within",
            "share_theil_l", "share_cv_land_weighted", "williamson", "share_spatial_gini")


def run_markdown(result, compare: pd.DataFrame) -> str:
    """Return the Markdown report of a run (the HTML report is built from the same result).

    Parameters
    ----------
    result : gisfix.workflows.run.RunResult
        What :func:`gisfix.workflows.run.run_project` computed.
    compare : DataFrame
        The before/after table (``compare.csv``).

    Returns
    -------
    str
        The Markdown text of ``REPORT.md``: the region's headline measures, then one section
        per scenario.
    """
    from gisfix._version import __version__

    gpkg = "results.gpkg"
    base, stack = result.base, result.stack
    eps = list(stack.epochs)
    lines = [f"# {result.project.region}: gisfix results (gisfix {__version__})", "",
             f"{len(result.units)} units, epochs {', '.join(map(str, eps))}, encoding "
             f"`{result.project.builtup['encoding']}`. Open `{gpkg}` in QGIS: `units` is "
             "styled by the last epoch's built-up share; every value is also in `measures.parquet` "
             "(tidy: scenario, unit_id, epoch, measure, value).", "",
             "![share](share_map.png)", "", "![built-up](builtup_chart.png)", "",
             "## The region, base units", ""]
    cols = [c for c in HEADLINE if c in base.region.columns]
    lines += [markdown_table(base.region[cols].T.rename(columns=int), 4), ""]
    for name, sc in result.scenarios.items():
        lines += [f"## Scenario `{name}`", "",
                  f"{len(sc.units)} units after {len(sc.report.get('edits', []))} edit(s) "
                  f"({', '.join(f'{k}: {v}' for k, v in sc.change['status'].value_counts().items())}). "  # noqa: E501
                  f"Built-up area of {len(sc.units) - len(sc.recounted)} units is the sum of "
                  f"their base parts; {len(sc.recounted)} new pieces were counted again over "
                  f"the raster. Per-unit change: layer `change_{name}`; lineage: "
                  f"`lineage_{name}`.", ""]
        part = compare[(compare["scenario"] == name) & compare["measure"].isin(HEADLINE)]
        if len(part):
            show = part[part["epoch"].isin(eps[-2:] if len(eps) > 1 else eps)]
            show = show.set_index("measure")[["epoch", "base", "value", "abs_change",
                                              "rel_change"]].astype({"epoch": int})
            lines += [markdown_table(show, 6), ""]
    if result.stages is not None and "stage_name" in result.stages:
        keep = [c for c in ("t0", "t1", "stage_name", "cagr", "core_share_new",
                            "share_outlying", "share_infilling") if c in result.stages]
        lines += ["## Four-stage labels of the region (gisfix.stages)", "",
                  "The stages describe the whole raster grid; boundary edits do not change "
                  "them.", "", markdown_table(result.stages[keep].set_index("t0").round(4)),
                  ""]
    if len(eps) < 2:
        lines += ["## Diffusion", "",
                  f"The raster holds one epoch ({eps[0]}), so diffusion (expansion rates, "
                  "the Landscape Expansion Index, the four stages) cannot be shown: they "
                  "compare epochs. To run the same job with diffusion on your own region, "
                  "point `[builtup]` at a multi-epoch built-up stack, e.g. the JRC GHSL "
                  "GHS-BUILT-S epochs 1975-2030 (one raster per epoch, `encoding = "
                  "\"fraction\"`, `fraction_units = \"m2\"`) or a year-built raster "
                  "(`encoding = \"year-built\"`):", "", "```toml", "[builtup]",
                  'paths = ["GHS_BUILT_S_E1990.tif", "GHS_BUILT_S_E2000.tif", '
                  '"GHS_BUILT_S_E2020.tif"]', 'encoding = "fraction"',
                  'fraction_units = "m2"', "```", "",
                  "then `gisfix run project.toml -o results`.", ""]
    for note in result.notes:
        lines += [f"Note: {note}.", ""]
    lines += ["Times of each step (s): " + ", ".join(f"{k}: {v}" for k, v in
                                                    result.timings.items()), ""]
    return "\n".join(lines) + "\n"
