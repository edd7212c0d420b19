"""Self-contained HTML reports: maps, charts, tables and provenance in one file.

:func:`write_report` renders a list of :class:`Section` objects through the jinja2 template
``gisfix/templates/report.html`` (package data) with autoescaping on, so every text that
comes from the user's data (unit names, column values, file names) is escaped. Figures are
embedded as PNG data URIs, the stylesheet is inlined and has print rules: the report is one
file that opens offline and prints on A4.

Adding a section is one object::

    Section("My measure", paragraphs=["What it shows."],
            figures=[figure(fig, "Title")], tables=[table(df, "Numbers")])

:func:`sections_from_gpkg` builds the sections of any gisfix GeoPackage from what it holds
(the units of ``gisfix run`` give the built-up share and growth maps, the LISA and Gi*
maps, the built-up, Lorenz, rank-size and inequality charts; ``lei_patches`` the growth-type
map; ``stages`` the stage timeline; a table with ``before``/``after`` columns the
before/after bars of a scenario; any other styled vector layer a map), so new outputs
appear in the report without new code. :func:`write_folder_report` writes the report of an
output folder (used by ``gisfix run`` and ``gisfix demo``).
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Packages whose versions the report records.
VERSIONED_PACKAGES = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "rasterio",
                      "pyogrio", "libpysal", "mapclassify", "matplotlib", "jinja2")
#: Figure resolution (dots per inch) of embedded PNGs.
DPI = 100


@dataclass
class Figure:
    """An embedded figure: a PNG data URI or an inline SVG document.

    Attributes
    ----------
    title, caption : str
        Heading and caption.
    data_uri : str or None
        The PNG as a ``data:`` URI.
    svg : str or None
        An inline SVG document instead.
    """

    title: str
    caption: str = ""
    data_uri: str | None = None
    svg: str | None = None


@dataclass
class Table:
    """A table: column names and rows of already formatted cells.

    Attributes
    ----------
    title : str
        Heading.
    columns : list of str
        Column names.
    rows : list of list of str
        Formatted cells.
    caption : str
        Text below the table.
    """

    title: str
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Section:
    """A report section: paragraphs, notes, figures and tables, in that order.

    Attributes
    ----------
    title : str
        Heading (its anchor is derived from it).
    paragraphs, notes : list of str
        Text before the figures, and notes after them.
    figures : list of Figure
        Figures.
    tables : list of Table
        Tables.
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """HTML id of the section."""
        return "s-" + (re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "x")


# -- building blocks -------------------------------------------------------------------------
def figure(fig, title: str, caption: str = "") -> Figure:
    """Return a :class:`Figure` of a matplotlib figure (PNG data URI) and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    title : str
        Heading above the figure.
    caption : str
        Text below it.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return Figure(title, caption, data_uri=_data_uri(buf.getvalue()))


def image(path, title: str, caption: str = "") -> Figure:
    """Return a :class:`Figure` embedding a PNG file.

    Parameters
    ----------
    path : path-like
        The PNG file.
    title, caption : str
        Heading and caption.
    """
    return Figure(title, caption, data_uri=_data_uri(Path(path).read_bytes()))


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cell(v, digits: int) -> str:
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return "" if np.isnan(v) else str(v)
        return f"{v:.{digits}f}" if abs(v) < 1e6 else f"{v:.{digits}g}"
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


def table(df: pd.DataFrame, title: str, caption: str = "", digits: int = 4,
          index: bool = True, max_rows: int = 60) -> Table:
    """Return a :class:`Table` of a DataFrame (floats to ``digits`` decimals).

    Parameters
    ----------
    df : DataFrame
        The data.
    title, caption : str
        Heading and caption.
    digits : int
        Decimals of floats.
    index : bool
        Show the index as the first column.
    max_rows : int
        Rows shown; the caption says when more were left out.
    """
    d = df.reset_index() if index and (df.index.name or not isinstance(
        df.index, pd.RangeIndex)) else df
    more = len(d) - max_rows
    d = d.head(max_rows)
    rows = [[_cell(v, digits) for v in r] for r in d.itertuples(index=False)]
    if more > 0:
        caption = (caption + " " if caption else "") + f"({more} more rows in the data files.)"
    return Table(title, [str(c) for c in d.columns], rows, caption)


def versions() -> dict[str, str]:
    """Return the installed versions of gisfix's main dependencies."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _provenance_items(prov: Mapping | None) -> list[tuple[str, str]]:
    import platform

    from gisfix._version import __version__

    items = [("gisfix", __version__), ("Python", platform.python_version())]
    items += [(k, v) for k, v in versions().items()]
    for key, value in (prov or {}).items():
        if key in ("inputs", "parameters") and isinstance(value, Mapping):
            for k, v in value.items():
                items.append((f"{key[:-1]} {k}", _short(v)))
        elif key != "gisfix_version":
            items.append((key, _short(value)))
    return items


def _short(v) -> str:
    if isinstance(v, Mapping) and "path" in v:
        return f"{v['path']} ({v.get('bytes', '?')} bytes, modified {v.get('modified', '?')})"
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, default=str)


def render(*, title: str, sections: Sequence[Section], provenance: Mapping | None = None,
           subtitle: str | None = None) -> str:
    """Return the report's HTML (see :func:`write_report`).

    Parameters
    ----------
    title : str
        Report title.
    sections : sequence of Section
        The sections, in order.
    provenance : mapping, optional
        A provenance record, shown with package versions.
    subtitle : str, optional
        Line under the title.

    Returns
    -------
    str
    """
    import jinja2

    from gisfix._version import __version__

    env = jinja2.Environment(loader=jinja2.PackageLoader("gisfix", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("report.html").render(
        title=title, subtitle=subtitle, sections=list(sections), version=__version__,
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        provenance=_provenance_items(provenance))


def write_report(path, *, title: str, sections: Sequence[Section],
                 provenance: Mapping | None = None, subtitle: str | None = None,
                 overwrite: bool = False) -> Path:
    """Write a self-contained HTML report, atomically.

    Parameters
    ----------
    path : path-like
        The ``.html`` file.
    title : str
        Report title.
    sections : sequence of Section
        The sections, in order.
    provenance : mapping, optional
        A provenance record (:func:`gisfix.io.provenance`); shown with package versions.
    subtitle : str, optional
        Line under the title.
    overwrite : bool
        Replace an existing file.
    """
    from gisfix.io import atomic_path

    html = render(title=title, sections=sections, provenance=provenance, subtitle=subtitle)
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return Path(path)


# -- maps and charts -------------------------------------------------------------------------
def _plt():
    from gisfix.report import plot_backend

    plot_backend()
    import matplotlib.pyplot as plt

    return plt


def map_figure(frame, column: str | None, title: str, caption: str = "",
               outline=None) -> Figure:
    """Return a map of ``frame`` coloured like its QGIS style (see :mod:`gisfix.styles`).

    Categorical columns with conventional colours (growth types, LISA, Gi*, stages, unit
    status) use those colours; numeric columns use the graduated classes of
    :func:`gisfix.styles.class_breaks`; ``column=None`` draws outlines.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer.
    column : str or None
        Column to colour by.
    title, caption : str
        Heading and caption.
    outline : GeoDataFrame, optional
        Boundaries drawn on top as thin grey lines (e.g. units over patches).
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    from gisfix import styles

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    if column is None:
        frame.boundary.plot(ax=ax, color="#555555", linewidth=0.3)
    elif column in styles.CATEGORICAL or not pd.api.types.is_numeric_dtype(frame[column]):
        colors = styles.CATEGORICAL.get(column, {})
        values = frame[column].astype(str)
        seen = list(values.dropna().unique())
        cats = [c for c in colors if c in seen] + sorted(c for c in seen if c not in colors)
        handles = []
        for i, cat in enumerate(cats):
            rgb = colors.get(cat, styles.QUALITATIVE[i % len(styles.QUALITATIVE)])
            color = tuple(int(x) / 255 for x in rgb.split(","))
            part = frame[values == cat]
            part.plot(ax=ax, color=color, edgecolor="#666666", linewidth=0.1)
            handles.append(Patch(facecolor=color, edgecolor="#666666",
                                 label=f"{cat} ({len(part)})"))
        ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=True)
    else:
        breaks = styles.class_breaks(frame[column])
        n = len(breaks) - 1
        ramp = styles.DIVERGING if str(column).endswith("change") else styles.SEQUENTIAL
        pal = [ramp[int(round(i * (len(ramp) - 1) / max(n - 1, 1)))] for i in range(n)]
        cmap = ListedColormap([tuple(int(x) / 255 for x in c.split(",")) for c in pal])
        frame.plot(ax=ax, column=column, cmap=cmap, norm=BoundaryNorm(breaks, n),
                   edgecolor="#666666", linewidth=0.15,
                   missing_kwds={"color": "white", "hatch": "//", "edgecolor": "#999999"})
        handles = [Patch(facecolor=cmap(i), edgecolor="#666666",
                         label=f"{breaks[i]:.3g} – {breaks[i + 1]:.3g}") for i in range(n)]
        ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=True,
                  title=column, title_fontsize=7)
    if outline is not None:
        outline.boundary.plot(ax=ax, color="#444444", linewidth=0.25)
    ax.set_axis_off()
    return figure(fig, title, caption)


def line_chart(df: pd.DataFrame, title: str, ylabel: str, caption: str = "",
               xlabel: str = "epoch") -> Figure:
    """Return a line chart of every column of ``df`` against its index.

    Parameters
    ----------
    df : DataFrame
        One line per column, x from the index.
    title, ylabel, caption, xlabel : str
        Heading, axis labels and caption.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    for col in df.columns:
        ax.plot(df.index, df[col], marker="o", ms=3, label=str(col))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(df.columns) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return figure(fig, title, caption)


def lorenz_figure(values: Mapping[object, Sequence[float]], title: str,
                  caption: str = "") -> Figure:
    r"""Return Lorenz curves: cumulative share of units against cumulative share of value.

    .. math:: L(i/n) = \sum_{j \le i} x_{(j)} / \sum_j x_j

    Parameters
    ----------
    values : mapping
        Label (e.g. epoch) -> values across units.
    title, caption : str
        Heading and caption.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--", label="equality")
    for label, v in values.items():
        x = np.sort(np.asarray(v, dtype=float)[np.isfinite(v)])
        if x.size == 0 or x.sum() <= 0:
            continue
        cum = np.concatenate([[0], np.cumsum(x) / x.sum()])
        ax.plot(np.linspace(0, 1, cum.size), cum, label=str(label))
    ax.set_xlabel("cumulative share of units")
    ax.set_ylabel("cumulative share of built-up area")
    ax.legend(fontsize=8)
    ax.set_aspect("equal")
    return figure(fig, title, caption)


def rank_size_figure(values: Mapping[object, Sequence[float]], title: str,
                     caption: str = "") -> Figure:
    """Return rank-size plots (log rank against log size), one series per label.

    Parameters
    ----------
    values : mapping
        Label (e.g. epoch) -> sizes across units.
    title, caption : str
        Heading and caption.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    for label, v in values.items():
        x = np.sort(np.asarray(v, dtype=float))[::-1]
        x = x[np.isfinite(x) & (x > 0)]
        ax.plot(np.arange(1, x.size + 1), x, marker="o", ms=3, lw=0.8, label=str(label))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rank")
    ax.set_ylabel("built-up area (km²)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return figure(fig, title, caption)


def before_after_figure(df: pd.DataFrame, title: str, caption: str = "") -> Figure:
    """Return grouped bars of the ``before`` and ``after`` column of each measure (row).

    Parameters
    ----------
    df : DataFrame
        One row per measure, with ``before`` and ``after`` columns.
    title, caption : str
        Heading and caption.
    """
    plt = _plt()
    d = df[["before", "after"]].astype(float)
    ncols = min(4, len(d))
    nrows = -(-len(d) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols + 0.6, 2.3 * nrows),
                             squeeze=False)
    for ax in axes.flat[len(d):]:
        ax.set_axis_off()
    for ax, (name, row) in zip(axes.flat, d.iterrows(), strict=False):
        ax.bar([0, 1], [row["before"], row["after"]], color=["#9e9ac8", "#54278f"])
        ax.set_xticks([0, 1], ["before", "after"], fontsize=7)
        ax.set_title(str(name), fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        lo = min(row.min(), 0)
        ax.set_ylim(lo, max(row.max(), 0) * 1.08 or 1)
    fig.tight_layout()
    return figure(fig, title, caption)


def stage_timeline(stages: pd.DataFrame, title: str, caption: str = "") -> Figure:
    """Return a timeline of stage labels per period (``t0``, ``t1``, ``stage_name``).

    Parameters
    ----------
    stages : DataFrame
        ``t0``, ``t1``, ``stage_name`` per period.
    title, caption : str
        Heading and caption.
    """
    from matplotlib.patches import Patch

    from gisfix.styles import STAGE_COLORS

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 1.6))
    for _, r in stages.iterrows():
        rgb = STAGE_COLORS.get(str(r["stage_name"]), "200,200,200")
        ax.barh(0, r["t1"] - r["t0"], left=r["t0"],
                color=tuple(int(x) / 255 for x in rgb.split(",")), edgecolor="white")
    ax.set_yticks([])
    ax.set_xlabel("epoch")
    names = list(dict.fromkeys(str(s) for s in stages["stage_name"].dropna()))
    ax.legend(handles=[Patch(color=tuple(int(x) / 255 for x in STAGE_COLORS.get(
        n, "200,200,200").split(",")), label=n) for n in names],
        loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=4, fontsize=7, frameon=False)
    return figure(fig, title, caption)


# -- sections from output files --------------------------------------------------------------
def _epochs(columns, prefix: str) -> list[int]:
    return sorted(int(m.group(1)) for c in columns
                  if (m := re.fullmatch(prefix + r"(\d{4})", str(c))))


def run_sections(layers: Mapping[str, pd.DataFrame]) -> list[Section]:
    """Sections for the layers of a ``gisfix run`` GeoPackage (name -> frame).

    Parameters
    ----------
    layers : mapping
        Layer name -> frame, as :func:`gisfix.io.read_layers` returns them.

    Returns
    -------
    list of Section
        Built-up land, concentration and inequality, hot spots, land per person and
        spatial justice, diffusion (those the layers allow).
    """
    secs: list[Section] = []
    units = layers.get("units")
    builtup = layers.get("builtup", layers.get("units_long"))
    if units is not None:
        shares = _epochs(units.columns, "share_")
        kms = _epochs(units.columns, "builtup_km2_")
        s = Section("Built-up land", paragraphs=[
            f"{len(units)} units. Built-up share is built-up area over observed land "
            "(land development intensity); growth is the built-up area added between the "
            "first and the last epoch."])
        if shares:
            s.figures.append(map_figure(units, f"share_{shares[-1]}",
                                        f"Built-up share {shares[-1]}",
                                        "Fisher-Jenks classes, as in the QGIS style."))
        if len(kms) >= 2:
            g = units.assign(growth_km2=units[f"builtup_km2_{kms[-1]}"]
                             - units[f"builtup_km2_{kms[0]}"])
            s.figures.append(map_figure(g, "growth_km2",
                                        f"Growth {kms[0]}–{kms[-1]} (km²)"))
        if builtup is not None and {"epoch", "builtup_km2"} <= set(builtup.columns):
            tot = builtup.groupby("epoch")[["builtup_km2", "valid_km2"]].sum()
            tot["builtup_share"] = tot["builtup_km2"] / tot["valid_km2"]
            s.figures.append(line_chart(tot[["builtup_km2"]], "Built-up area over time",
                                        "built-up area (km²)"))
            s.tables.append(table(tot, "Built-up land of the region by epoch"))
        secs.append(s)
    if builtup is not None and {"epoch", "builtup_km2", "unit_id"} <= set(builtup.columns):
        ep = sorted(builtup["epoch"].unique())
        pick = list(dict.fromkeys([ep[0], ep[len(ep) // 2], ep[-1]]))
        by = {int(e): builtup.loc[builtup["epoch"] == e, "builtup_km2"].to_numpy()
              for e in pick}
        s = Section("Concentration and inequality across units")
        s.figures += [lorenz_figure(by, "Lorenz curves of built-up area"),
                      rank_size_figure(by, "Rank-size of built-up area")]
        ineq = layers.get("inequality")
        if ineq is not None and "epoch" in ineq:
            cols = [c for c in ineq.columns if c not in ("epoch", "n", "n_units")
                    and pd.api.types.is_numeric_dtype(ineq[c])]
            d = ineq.set_index("epoch")[cols].astype(float)
            s.figures.append(line_chart(d, "Inequality of built-up share over time",
                                        "index", "Weighted by observed land area."))
            s.tables.append(table(d, "Inequality of built-up share across units"))
        summ = layers.get("summary")
        if summ is not None and "epoch" in summ:
            keep = [c for c in ("gini", "hhi", "top5_share", "primacy_2", "zipf_exponent",
                                "moran_I", "moran_p_sim") if c in summ]
            s.tables.append(table(summ.set_index("epoch")[keep],
                                  "Concentration, hierarchy and Moran's I of built-up area"))
        secs.append(s)
    if units is not None and "justice" in layers:
        secs.append(justice_section(layers))
    if units is not None and ({"lisa_cluster", "hotspot"} & set(units.columns)):
        s = Section("Hot spots", paragraphs=[
            "Local Moran (LISA) clusters and Getis-Ord Gi* hot and cold spots of built-up "
            "share in the last epoch; 'ns' is not significant."])
        if "lisa_cluster" in units:
            s.figures.append(map_figure(units, "lisa_cluster", "LISA clusters"))
        if "hotspot" in units:
            s.figures.append(map_figure(units, "hotspot", "Gi* hot and cold spots"))
        secs.append(s)
    patches = layers.get("lei_patches", layers.get("patches"))
    stages = layers.get("stages")
    if patches is not None or stages is not None:
        s = Section("Diffusion: growth types and stages")
        if patches is not None and "growth_type" in patches and "area_km2" in patches:
            s.figures.append(map_figure(patches, "growth_type",
                                        "Landscape Expansion Index growth types",
                                        "New built-up patches between the LEI epochs.",
                                        outline=units))
            km2 = patches.groupby("growth_type")["area_km2"].agg(["count", "sum"])
            s.tables.append(table(km2.rename(columns={"count": "patches",
                                                      "sum": "area_km2"}),
                                  "New built-up land by growth type"))
        if stages is not None and {"t0", "t1", "stage_name"} <= set(stages.columns):
            s.figures.append(stage_timeline(stages, "Stage of the region by period"))
            keep = [c for c in ("t0", "t1", "stage_name", "cagr", "core_share_new",
                                "share_outlying", "share_infilling") if c in stages]
            s.tables.append(table(stages[keep], "Four-stage labels and their evidence",
                                  index=False))
        if s.figures or s.tables:
            secs.append(s)
    return secs


def population_lorenz_figure(curves: pd.DataFrame, title: str, caption: str = "") -> Figure:
    """Return Lorenz curves with population (or land) shares on the x axis.

    Parameters
    ----------
    curves : DataFrame
        ``epoch``, ``weighting`` (``person`` or ``land``), ``weight_share`` (cumulative
        population or land share) and ``value_share`` (cumulative share of the outcome),
        as the ``justice_lorenz`` layer of ``gisfix run`` holds them
        (:func:`gisfix.justice.justice_lorenz`).
    title, caption : str
        Heading and caption.

    Returns
    -------
    Figure
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--", label="equality")
    styles_ = {"person": "-", "land": ":"}
    for (epoch, weighting), c in curves.groupby(["epoch", "weighting"], sort=True):
        ax.plot(c["weight_share"].astype(float), c["value_share"].astype(float),
                ls=styles_.get(str(weighting), "-."), drawstyle="default",
                label=f"{int(epoch)}, {weighting}-weighted")
    ax.set_xlabel("cumulative share of population (person) or of land (land)")
    ax.set_ylabel("cumulative share of built-up m² per capita, weighted")
    ax.legend(fontsize=7)
    ax.set_aspect("equal")
    return figure(fig, title, caption)


def justice_section(layers: Mapping[str, pd.DataFrame]) -> Section:
    """The "Land per person and spatial justice" section of a ``gisfix run`` report.

    Parameters
    ----------
    layers : mapping
        Layers of the GeoPackage: ``justice`` (``epoch, measure, weighting, value,
        between, within``, or one ``note`` row without a population), ``justice_lorenz``
        and ``summary`` (region-wide measures by epoch).

    Returns
    -------
    Section
        A Lorenz curve with population shares and a table saying which numbers are
        person-weighted and which land-weighted; without a population, what is needed.
    """
    s = Section("Land per person and spatial justice")
    j = layers.get("justice")
    if j is None or "note" in j.columns or "weighting" not in j.columns:
        note = (str(j["note"].iloc[0]) if j is not None and "note" in j.columns and len(j)
                else "built-up land per person and the person-weighted inequality need a "
                     "population column")
        s.paragraphs.append(f"Not computed: {note}.")
        return s
    s.paragraphs += [
        "Built-up m² per capita of each unit, and how unequally it is held. Person-weighted "
        "numbers count every inhabitant once: they say how unequally people possess "
        "built-up space (spatial justice per person). Land-weighted numbers count every km² "
        "of observed land once (like the inequality of the built-up share above); "
        "unit-weighted ones count every unit once.",
        "The Lorenz curve puts the cumulative share of population (person-weighted) or of "
        "land (land-weighted) on the x axis, units sorted by built-up m² per capita."]
    lz = layers.get("justice_lorenz")
    if lz is not None and {"epoch", "weighting", "weight_share", "value_share"} <= set(lz):
        last = lz["epoch"].max()
        s.figures.append(population_lorenz_figure(
            lz[lz["epoch"] == last], f"Lorenz curve of built-up m² per capita, {int(last)}",
            "Solid: population shares (person-weighted; the y axis is then the share of "
            "the built-up land held by the poorest-housed share of people); dotted: land "
            "shares (land-weighted)."))
    base = j[j["scenario"] == "base"] if "scenario" in j else j
    d = base.assign(weighting=base["weighting"].astype(str) + "-weighted").pivot_table(
        index=["epoch", "measure"], columns="weighting", values="value", aggfunc="first")
    s.tables.append(table(d, "Inequality of built-up m² per capita across units",
                          "person-weighted: population weights; land-weighted: observed "
                          "land weights; unit-weighted: none."))
    summ = layers.get("summary")
    keep = ["population_total", "builtup_m2_per_capita_region", "lcr_per_year_region",
            "pgr_per_year_region", "lcrpgr_region", "land_population_elasticity",
            "share_gini"]
    if summ is not None and "epoch" in summ:
        cols = [c for c in keep if c in summ]
        eps = sorted(base["epoch"].unique())
        t = summ.set_index("epoch").loc[eps, cols].rename(
            columns={"share_gini": "share_gini (land-weighted, built-up share)"})
        s.tables.append(table(t, "Land per person and SDG 11.3.1 (LCRPGR) of the region",
                              "LCRPGR: land consumption rate over population growth rate, "
                              "at the end epoch of each period; > 1: land is consumed faster "
                              "than the population grows."))
    return s


def scenario_names(names) -> list[str]:
    """Scenario names of a ``gisfix run`` GeoPackage: its ``units_<name>`` layers.

    Parameters
    ----------
    names : iterable of str
        Layer names of the GeoPackage.
    """
    return [n[len("units_"):] for n in names
            if n.startswith("units_") and n != "units_long"]


def scenario_sections(layers: Mapping[str, pd.DataFrame],
                      compare: pd.DataFrame | None = None) -> list[Section]:
    """One section per scenario: what changed for each unit, and region-wide before/after.

    Parameters
    ----------
    layers : mapping
        Layers of the GeoPackage: ``units_<name>`` (edited units), ``change_<name>``
        (per-unit status and ``share_<epoch>_change``), ``lineage_<name>``.
    compare : DataFrame, optional
        Region-wide measures per scenario (``scenario, measure, epoch, base, value``).
    """
    from gisfix import styles

    secs = []
    for name in scenario_names(layers):
        s = Section(f"Scenario {name}")
        change = layers.get(f"change_{name}")
        edited = layers.get(f"units_{name}")
        frame = change if change is not None and hasattr(change, "geometry") else edited
        if frame is not None and "status" in frame:
            counts = frame["status"].value_counts().to_dict()
            s.paragraphs.append("Units after the edits: " + ", ".join(
                f"{k}: {v}" for k, v in counts.items()) + ".")
            s.figures.append(map_figure(frame, "status", f"{name}: unit status"))
        if change is not None and hasattr(change, "geometry"):
            col = styles.measure_column(change)
            if col is not None and col.endswith("change"):
                s.figures.append(map_figure(change, col, f"{name}: {col}",
                                            "Change of each edited unit against the units "
                                            "it came from."))
        if compare is not None and {"scenario", "measure", "base", "value"} <= set(compare):
            part = compare[compare["scenario"] == name]
            if "epoch" in part and part["epoch"].notna().any():
                part = part[part["epoch"] == part["epoch"].max()]
            part = part.dropna(subset=["base", "value"]).drop_duplicates("measure")
            if len(part):
                d = part.set_index("measure")[["base", "value"]].rename(
                    columns={"base": "before", "value": "after"})
                s.figures.append(before_after_figure(d.head(12),
                                                     f"{name}: region-wide, before and after"))
                s.tables.append(table(part.set_index("measure").drop(columns="scenario"),
                                      f"{name}: region-wide measures, base and scenario"))
        if s.figures or s.tables:
            secs.append(s)
    return secs


def layer_sections(layers: Mapping[str, pd.DataFrame], title: str,
                   skip: Sequence[str] = ()) -> list[Section]:
    """A section of maps and before/after bars for any gisfix GeoPackage's layers.

    Vector layers are mapped by their default style's column (reference layers are left
    out); tables with ``before`` and ``after`` columns get bars and a table.

    Parameters
    ----------
    layers : mapping
        Layer name -> frame.
    title : str
        Heading of the section.
    skip : sequence of str
        Layers to leave out (already shown elsewhere).
    """
    import geopandas as gpd

    from gisfix import styles

    s = Section(title)
    for name, frame in layers.items():
        if name in skip:
            continue
        if isinstance(frame, gpd.GeoDataFrame):
            if styles.is_reference(name) or styles.style_for(name, frame) is None:
                continue
            present = [c for c in styles.CATEGORICAL if c in frame.columns]
            col = present[0] if present else styles.measure_column(frame)
            if col is not None:
                s.figures.append(map_figure(frame, col, f"{name}: {col}"))
        elif {"before", "after"} <= set(frame.columns):
            d = frame.set_index(frame.columns[0]) if frame.columns[0] not in (
                "before", "after") else frame
            s.figures.append(before_after_figure(d, f"{name}: before and after"))
            s.tables.append(table(d, f"{name}"))
    return [s] if s.figures or s.tables else []


def sections_from_gpkg(path, title: str | None = None) -> list[Section]:
    """Return the report sections of a gisfix GeoPackage (see the module docstring).

    Parameters
    ----------
    path : path-like
        The GeoPackage; a ``compare.csv`` beside it adds the before/after of scenarios.
    title : str, optional
        Heading of its generic section; default the file name.
    """
    from gisfix.io import read_layers

    layers = read_layers(path)
    title = title or Path(path).stem
    if "units" in layers and ("builtup" in layers or "units_long" in layers):
        compare = None
        csv = Path(path).with_name("compare.csv")
        if csv.exists():
            compare = pd.read_csv(csv)
        scen = scenario_names(layers)
        done = {"units", "builtup", "units_long", "lei_patches", "patches", "stages",
                "measures", "justice", "justice_lorenz",
                *[f"{k}_{n}" for n in scen for k in ("units", "change", "lineage")]}
        return run_sections(layers) + scenario_sections(layers, compare) + layer_sections(
            layers, f"Other layers of {Path(path).name}", skip=tuple(done))
    return layer_sections(layers, title)


def write_folder_report(folder, *, title: str, provenance: Mapping | None = None,
                        images: bool = True, overwrite: bool = False,
                        filename: str = "report.html") -> Path:
    """Write ``report.html`` for an output folder: every GeoPackage, then the PNG charts.

    Parameters
    ----------
    folder : path-like
        The output folder of ``gisfix run`` or ``gisfix demo``.
    title : str
        Report title.
    provenance : mapping, optional
        Provenance record shown at the end.
    images : bool
        Also embed the folder's PNG files (charts other steps drew).
    overwrite : bool
        Replace an existing report.
    filename : str
        Name of the report in ``folder``.
    """
    folder = Path(folder)
    sections: list[Section] = []
    for gpkg in sorted(folder.glob("*.gpkg")):
        sections += sections_from_gpkg(gpkg, title=gpkg.stem.replace("_", " "))
    if images:
        pngs = sorted(folder.glob("*.png"))
        if pngs:
            sections.append(Section("Charts", figures=[
                image(p, p.stem.replace("_", " ")) for p in pngs]))
    return write_report(folder / filename, title=title, sections=sections,
                        provenance=provenance, overwrite=overwrite)


__all__ = ["Figure", "Section", "Table", "before_after_figure", "figure", "image",
           "justice_section", "layer_sections", "line_chart", "lorenz_figure", "map_figure",
           "population_lorenz_figure", "rank_size_figure",
           "render", "run_sections", "scenario_names", "scenario_sections",
           "sections_from_gpkg", "stage_timeline", "table", "write_folder_report",
           "write_report"]
