"""report.html: self-contained, escaped, printable, and loaded by real headless Chromium with
no console errors and a non-blank screenshot (skipped, with the reason, where Debian's
chromium is not installed; ``make test`` installs it where it runs as root with apt)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gisfix.html_report import Section, table, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: A screenshot is non-blank when its grey levels vary this much (a white page: 0).
MIN_PIXEL_STD = 8.0


def chromium_load(html: Path, tmp: Path):
    """Load ``html`` in headless Chromium; return (console lines, screenshot grey array)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; `make test` does it "
                    "where it runs as root)")
    from PIL import Image

    shot = tmp / f"{html.stem}.png"
    profile = tmp / f"profile-{html.stem}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--window-size=1200,2400",
           f"--screenshot={shot}", html.resolve().as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert shot.exists(), p.stderr[-2000:]
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    grey = np.asarray(Image.open(shot).convert("L"), dtype=float)
    return console, grey


def test_chromium_harness_sees_console_errors(tmp_path):
    # the negative control: the harness must catch what it is meant to catch
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><p>x</p><script>console.error('boom'); nope();</script>"
                   "</body></html>")
    console, _ = chromium_load(bad, tmp_path)
    assert any("boom" in c for c in console) and any("nope" in c for c in console)


def test_user_text_is_escaped_and_report_is_self_contained(tmp_path):
    evil = "<script>alert('x')</script> & <b>bold</b>"
    df = pd.DataFrame({"name": [evil, "Zürich"], "share": [0.5, 0.25]}).set_index("name")
    out = write_report(tmp_path / "r.html", title=evil,
                       sections=[Section(evil, paragraphs=[evil], tables=[table(df, evil)],
                                         notes=[evil])],
                       provenance={"inputs": {"boundaries": evil}, "parameters": {"k": 5}})
    html = out.read_text(encoding="utf-8")
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "Zürich" in html and "@media print" in html
    console, grey = chromium_load(out, tmp_path)
    assert console == []
    assert grey.std() > MIN_PIXEL_STD


def _check_report(html: Path, tmp: Path, must: list[str]):
    text = html.read_text(encoding="utf-8")
    # self-contained: every image is a data URI, nothing is fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', text)
    srcs = re.findall(r'<img src="([^"]{0,30})', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    for heading in must:
        assert heading in text, heading
    console, grey = chromium_load(html, tmp)
    assert console == [], console
    assert grey.std() > MIN_PIXEL_STD
    assert (grey < 200).mean() > 0.02  # more than a few dark pixels: the maps and charts


@pytest.mark.shared
def test_dc_run_report_in_chromium(dc_run_output, tmp_path):
    _check_report(dc_run_output / "report.html", tmp_path, [
        "Built-up share 2030", "Growth 1975–2030", "Built-up area over time",
        "Lorenz curves", "Rank-size", "Inequality of built-up share over time",
        "LISA clusters", "Gi* hot and cold spots", "Landscape Expansion Index growth types",
        "Stage of the region by period", "Four-stage labels", "Inputs, parameters and versions",
        "counties_2017_census.gpkg", "Land per person and spatial justice",
        "a population"])


def test_demo_report_in_chromium(demo_output, tmp_path):
    _check_report(demo_output / "report.html", tmp_path, [
        "municipalities_edited: status", "comparison: before and after", "mexico theil",
        "Inputs, parameters and versions"])


def test_run_folder_with_a_scenario(tmp_path):
    """The layer names of ``gisfix run`` with scenarios (units_<s>, change_<s>, lineage_<s>,
    compare.csv) give a scenario section and a project group per scenario."""
    import xml.etree.ElementTree as ET
    import zipfile

    import geopandas as gpd
    from shapely.geometry import box

    from gisfix.deliverables import write_deliverables
    from gisfix.io import provenance, write_layers

    geoms = [box(i, 0, i + 1, 1) for i in range(4)]
    units = gpd.GeoDataFrame({"unit_id": list("abcd"), "share_2000": [.1, .2, .3, .4],
                              "share_2020": [.2, .3, .5, .9]}, geometry=geoms, crs=3035)
    long = pd.DataFrame({"unit_id": list("abcdabcd"), "epoch": [2000] * 4 + [2020] * 4,
                         "builtup_km2": [1., 2, 3, 4, 2, 3, 5, 9],
                         "valid_km2": [10.] * 8})
    edited = units.iloc[1:].assign(status=["merged", "unchanged", "unchanged"])
    change = edited[["unit_id", "status", "geometry"]].assign(share_2020_change=[.05, 0, 0])
    write_layers(tmp_path / "results.gpkg",
                 {"units": units, "units_long": long, "units_s1": edited,
                  "change_s1": change, "lineage_s1": pd.DataFrame(
                      {"old_id": list("abcd"), "new_id": list("bbcd")})},
                 provenance({}, {}, "t"))
    pd.DataFrame({"scenario": ["s1", "s1"], "measure": ["gini", "n_units"],
                  "epoch": [2020, 2020], "base": [.3, 4], "value": [.25, 3]}
                 ).to_csv(tmp_path / "compare.csv", index=False)
    out = write_deliverables(tmp_path, title="t", images=False)
    html = out["report"].read_text(encoding="utf-8")
    for text in ("Scenario s1", "s1: unit status", "s1: share_2020_change",
                 "s1: region-wide, before and after", "Lorenz curves"):
        assert text in html, text
    with zipfile.ZipFile(out["project"]) as z:
        root = ET.fromstring(z.read("project.qgs").decode().split("\n", 1)[1])
    groups = {g.get("name"): [n.get("name") for n in g.iter("layer-tree-layer")]
              for g in root.find("layer-tree-group").findall("layer-tree-group")}
    assert groups["s1"] == ["units_s1", "change_s1", "lineage_s1"]
    assert groups["base"][0] == "units"


def _justice_layers(with_population: bool) -> dict:
    import geopandas as gpd
    from shapely.geometry import box

    units = gpd.GeoDataFrame({"unit_id": list("abc"), "share_2020": [.2, .3, .5]},
                             geometry=[box(i, 0, i + 1, 1) for i in range(3)], crs=3035)
    long = pd.DataFrame({"unit_id": list("abc"), "epoch": 2020, "builtup_km2": [1., 2, 4],
                         "valid_km2": [10.] * 3})
    if not with_population:
        note = pd.DataFrame({"note": ["a population column is needed: [boundaries] "
                                      "population = \"pop\""]})
        return {"units": units, "units_long": long, "justice": note, "justice_lorenz": note}
    import gisfix

    x = pd.Series([100., 300., 900.], index=list("abc"))
    pop = pd.Series([5000., 2000., 1000.], index=list("abc"))
    area = pd.Series([10., 10., 10.], index=list("abc"))
    j = gisfix.justice_inequality(x, pop, area=area).assign(epoch=2020, scenario="base")
    lz = gisfix.justice_lorenz(x, pop, area=area).assign(epoch=2020)
    summ = pd.DataFrame({"epoch": [2020], "population_total": [8000.],
                         "builtup_m2_per_capita_region": [875.], "share_gini": [0.2]})
    return {"units": units, "units_long": long, "justice": j, "justice_lorenz": lz,
            "summary": summ}


def test_justice_section_with_and_without_population():
    """The run report's "Land per person and spatial justice" section: a Lorenz curve with
    population shares and a table naming each weighting; without a population, the hint."""
    from gisfix.html_report import render, run_sections

    secs = {s.title: s for s in run_sections(_justice_layers(True))}
    s = secs["Land per person and spatial justice"]
    assert [f.title for f in s.figures] == ["Lorenz curve of built-up m² per capita, 2020"]
    assert s.figures[0].data_uri.startswith("data:image/png;base64,")
    t = s.tables[0]
    assert {"person-weighted", "land-weighted", "unit-weighted"} <= set(t.columns)
    assert any("person-weighted" in p for p in s.paragraphs)
    html = render(title="t", sections=list(secs.values()))
    assert "Land per person and spatial justice" in html
    secs = {s.title: s for s in run_sections(_justice_layers(False))}
    s = secs["Land per person and spatial justice"]
    assert not s.figures and not s.tables
    assert "Not computed" in s.paragraphs[0] and "population" in s.paragraphs[0]
