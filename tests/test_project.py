"""Project files: the schema is checked before any work, every error names file, key, line.

Oracles: the line numbers are those of the hand-written files below (counted by hand);
a bad project exits 1 with one line on stderr and leaves no output folder.  The reuse of
the base pass by scenarios is checked on a hand-made raster against a direct count.
"""

from __future__ import annotations

import textwrap

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from gisfix.errors import EditError, IdError, InputFileError, ProjectError, RasterError
from gisfix.project import key_line, load_project, open_inputs

GOOD = """\
[region]
name = "Swiss demo"

[boundaries]
dataset = "swiss-2018"
id = "id"
groups = ["KTNR"]

[builtup]
dataset = "degurba-switzerland-2025"

[measures]
permutations = 0

[[scenario]]
name = "m"
[[scenario.edit]]
op = "merge"
units = ["1", "2"]
into = "1"
"""


def write(tmp_path, text, name="p.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_key_line_finds_nested_tables():
    text = GOOD + '\n[[scenario]]\nname = "n"\n[[scenario.edit]]\nop = "recode"\nunit = "3"\n'
    assert key_line(text, "boundaries", "id") == 6
    assert key_line(text, "builtup") == 9
    assert key_line(text, "scenario", "name", 0) == 16
    assert key_line(text, "scenario", "name", 1) == 23
    assert key_line(text, "scenario", "units", 0, sub="edit", sub_index=0) == 19
    assert key_line(text, "scenario", "unit", 1, sub="edit", sub_index=0) == 26


def test_good_project_loads(tmp_path):
    p = load_project(write(tmp_path, GOOD))
    assert p.region == "Swiss demo" and p.builtup["encoding"] == "class=21,22,23,30"
    assert p.boundaries["groups"] == ["KTNR"] and p.measures["permutations"] == 0
    inputs = open_inputs(p)
    assert len(inputs.units) == 2225 and inputs.stack.epochs == (2025,)
    assert len(inputs.scenarios["m"].edits) == 1


#: (replace, by, error, key, line): each bad project, the error, the key and its line.
BAD = [
    ('groups = ["KTNR"]', 'groups = ["KTNR"]\ncolour = "red"', ProjectError, "colour", 8),
    ('dataset = "swiss-2018"', 'path = "nowhere.gpkg"', InputFileError, "path", 5),
    ('id = "id"', 'id = "BFS"', IdError, "id", 6),
    ('units = ["1", "2"]', 'units = ["1", "99999"]', IdError, "units", 19),
    ("[measures]", "[measures]\nlei_period = [2000, 2025]", RasterError, "lei_period", 13),
    ('dataset = "degurba-switzerland-2025"',
     'dataset = "degurba-switzerland-2025"\nepochs = [2020]', RasterError, "epochs", 11),
]


@pytest.mark.parametrize("old, new, error, key, line", BAD,
                         ids=["unknown key", "missing file", "absent id column",
                              "unknown id in scenario", "epoch not in raster (lei)",
                              "epoch not in raster"])
def test_bad_project_names_file_key_and_line(tmp_path, run_cli, old, new, error, key, line):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert path.read_text().splitlines()[line - 1].startswith(key)
    with pytest.raises(error) as exc:
        open_inputs(load_project(path))
    assert str(exc.value).startswith(f"p.toml:{line}: ") and f" {key}: " in str(exc.value)
    out = tmp_path / "out"
    r = run_cli("run", path, "-o", out)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.startswith("gisfix: error:")]
    assert len(lines) == 1 and f"p.toml:{line}:" in lines[0] and key in lines[0]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_shortcut_options_with_a_project_are_a_usage_error(tmp_path, run_cli):
    r = run_cli("run", write(tmp_path, GOOD), "--permutations", "9", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "--permutations" in r.output
    assert not (tmp_path / "o").exists()


def test_other_mistakes(tmp_path):
    with pytest.raises(ProjectError, match=r"p.toml:1: \[colours\]: unknown table"):
        load_project(write(tmp_path, "[colours]\nred = 1\n" + GOOD))
    with pytest.raises(ProjectError, match="exactly one source of edits"):
        load_project(write(tmp_path, GOOD.replace('name = "m"', 'name = "m"\nedits = "x"')))
    with pytest.raises(ProjectError, match="must be array or str"):
        load_project(write(tmp_path, GOOD.replace('groups = ["KTNR"]', "groups = 3")))
    with pytest.raises(ProjectError, match="missing table"):
        load_project(write(tmp_path, "[region]\nname = 'x'\n"))
    with pytest.raises(ProjectError, match=r"p.toml:13: \[measures\] graph: unknown graph"):
        load_project(write(tmp_path, GOOD.replace("[measures]", "[measures]\ngraph = 'hex'")))
    with pytest.raises(EditError, match=r"p.toml:18: \[\[scenario\]\] #1 "
                       r"\[\[scenario.edit\]\] #1 op: "):
        load_project(write(tmp_path, GOOD.replace('op = "merge"', 'op = "fuse"')))
    with pytest.raises(ProjectError, match="names output layers"):
        load_project(write(tmp_path, GOOD.replace('name = "m"', 'name = "a b"')))


# -- scenarios reuse the base pass: merged units summed, split pieces recounted ------------
def tiny_region(tmp_path):
    """Four 100 m x 100 m units on a 10 m binary raster with a known built-up pattern."""
    units = gpd.GeoDataFrame({"uid": ["a", "b", "c", "d"], "g": ["x", "x", "y", "y"],
                              "pop2000": [100.0, 200.0, 300.0, 400.0],
                              "pop2010": [150.0, 210.0, 330.0, 500.0]},
                             geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100),
                                       box(0, 100, 100, 200), box(100, 100, 200, 200)],
                             crs="EPSG:3035")
    units.to_file(tmp_path / "units.gpkg")
    rng = np.random.default_rng(3)
    for year, p in ((2000, 0.2), (2010, 0.4)):
        arr = (rng.random((20, 20)) < p).astype(np.uint8)
        with rasterio.open(tmp_path / f"built_{year}.tif", "w", driver="GTiff", width=20,
                           height=20, count=1, dtype="uint8", crs="EPSG:3035", nodata=255,
                           transform=from_origin(0, 200, 10, 10)) as ds:
            ds.write(arr, 1)
    return tmp_path


def test_scenario_reuses_the_base_pass(tmp_path):
    import gisfix
    from gisfix.workflows.run import run_project

    folder = tiny_region(tmp_path)
    write(folder, """\
    [region]
    name = "tiny"
    [boundaries]
    path = "units.gpkg"
    id = "uid"
    groups = ["g"]
    population = {2000 = "pop2000", 2010 = "pop2010"}
    [builtup]
    paths = ["built_2000.tif", "built_2010.tif"]
    encoding = "binary"
    [measures]
    include = ["builtup", "intensity", "inequality", "expansion"]
    [[scenario]]
    name = "merge_and_split"
    reallocation = "dasymetric"
    [[scenario.edit]]
    op = "merge"
    units = ["a", "b"]
    into = "ab"
    [[scenario.edit]]
    op = "split"
    unit = "c"
    by = "LINESTRING (50 250, 50 50)"
    new_ids = ["c1", "c2"]
    """)
    res = run_project(folder / "p.toml", folder / "out")
    sc = res.scenarios["merge_and_split"]
    assert sorted(sc.recounted) == ["c1", "c2"]
    stack = gisfix.open_builtup([folder / "built_2000.tif", folder / "built_2010.tif"],
                                "binary")
    direct = gisfix.builtup_by_unit(sc.units, stack).set_index(["unit_id", "epoch"])
    got = sc.measures.table.set_index(["unit_id", "epoch"]).loc[direct.index]
    np.testing.assert_allclose(got["builtup_km2"], direct["builtup_km2"], rtol=1e-12)
    np.testing.assert_allclose(got["valid_km2"], direct["valid_km2"], rtol=1e-12)
    assert (folder / "out" / "project.toml").exists()
    # population per epoch: reallocated with totals conserved; Williamson's index of
    # built-up m² per capita appears (population-weighted), and only with a population
    from gisfix.inequality import williamson

    for col in ("pop2000", "pop2010"):
        assert sc.units[col].sum() == pytest.approx(res.units[col].sum(), rel=1e-12)
    for epoch, col in ((2000, "pop2000"), (2010, "pop2010")):
        t = direct.xs(epoch, level="epoch").loc[sc.units.index]
        pop = sc.units[col]
        want = williamson(t["builtup_km2"] * 1e6 / pop, pop)
        assert sc.measures.region.loc[epoch, "williamson"] == pytest.approx(want, rel=1e-9)
