"""Report plumbing shared by the demo and the pipeline: figures and Markdown tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def save_figure(fig, path: Path, overwrite: bool = False) -> None:
    """Save a matplotlib figure as PNG atomically (see :func:`gisfix.io.atomic_path`)."""
    from gisfix.io import atomic_path

    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def markdown_table(df: pd.DataFrame, digits: int = 4) -> str:
    """Return ``df`` as a GitHub Markdown table (index first, floats to ``digits``)."""
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
