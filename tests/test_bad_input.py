"""Bad input on every verb (issue 11): one line on stderr, exit 1, no traceback, no output.

Fresh-clone suite: everything is built in a temporary folder from scratch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gisfix.cli.main import cli

CRS = "EPSG:3035"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import geopandas as gpd
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import LineString, box

    d = tmp_path_factory.mktemp("bad")
    x0, y0 = 4_000_000.0, 3_000_000.0
    squares = [box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 1000, y0, x0 + 2000, y0 + 1000),
               box(x0, y0 + 1000, x0 + 1000, y0 + 2000),
               box(x0 + 1000, y0 + 1000, x0 + 2000, y0 + 2000)]
    units = gpd.GeoDataFrame({"id": ["a", "b", "c", "d"], "value": [1.0, 2.0, 3.0, 4.0],
                              "pop": [10, 20, 30, 40]}, geometry=squares, crs=CRS)
    units.to_file(d / "units.gpkg", layer="units")
    rng = np.random.default_rng(0)
    years = rng.choice(np.array([1990, 2000, 2010, 65535], np.uint16), size=(20, 20))
    profile = {"driver": "GTiff", "width": 20, "height": 20, "count": 1, "dtype": "uint16",
               "nodata": 65535, "transform": from_origin(x0, y0 + 2000, 100, 100)}
    with rasterio.open(d / "raster.tif", "w", crs=CRS, **profile) as ds:
        ds.write(years, 1)
    with rasterio.open(d / "nocrs.tif", "w", **profile) as ds:
        ds.write(years, 1)
    raw = (d / "units.gpkg").read_bytes()
    (d / "truncated.gpkg").write_bytes(raw[: len(raw) // 3])
    tif = (d / "raster.tif").read_bytes()
    (d / "truncated.tif").write_bytes(tif[: len(tif) // 2])
    junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    for suffix in ("gpkg", "tif", "toml", "csv", "geojson"):
        (d / f"random.{suffix}").write_bytes(junk)
    mixed = gpd.GeoDataFrame({"id": ["a", "b", "line"], "value": [1.0, 2.0, 3.0]},
                             geometry=[squares[0], squares[1],
                                       LineString([(x0, y0), (x0 + 500, y0 + 500)])], crs=CRS)
    mixed.to_file(d / "mixed.geojson", driver="GeoJSON")
    # an id column of mixed types: 1 (a number) and "1" (text) are one id once read
    from shapely.geometry import mapping

    feats = [{"type": "Feature", "properties": {"id": v, "value": float(k)},
              "geometry": mapping(geom)}
             for k, (v, geom) in enumerate(zip([1, "1", "b", 2.5], units.to_crs(4326).geometry))]
    (d / "mixed_id.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                                    "features": feats}))
    table = units.drop(columns="geometry").assign(name=["Zürich", "Genève", "Köln", "Ærø"])
    (d / "latin1.csv").write_bytes(table.to_csv(index=False).encode("cp1252"))
    units.drop(columns="geometry").assign(value=np.nan).to_csv(d / "allnan.csv", index=False)
    (d / "unknown_op.toml").write_text(
        '[scenario]\nname = "x"\n[[edit]]\nop = "annex"\nunits = ["a", "b"]\n')
    (d / "noncontiguous.toml").write_text(
        '[scenario]\nname = "x"\n[[edit]]\nop = "merge"\nunits = ["a", "d"]\ninto = "a"\n')
    # did / events: a panel of the four units, 2000-2005, and events that treat one of them
    import pandas as pd

    panel = pd.DataFrame([(u, y, float(k + y - 2000)) for k, u in enumerate("abcd")
                          for y in range(2000, 2006)], columns=["id", "year", "y"])
    panel.to_csv(d / "panel.csv", index=False)
    events = pd.DataFrame({"unit_id": ["a", "b"], "year": [2003, 2003],
                           "event": ["county_to_district"] * 2, "new_ids": ["a", "b"]})
    events.to_csv(d / "events.csv", index=False)
    events.assign(event=["county_to_district", "annexation"]).to_csv(
        d / "events_unknown_kind.csv", index=False)
    pd.concat([events, events.iloc[[0]].assign(new_ids="a2")]).to_csv(
        d / "events_duplicate.csv", index=False)
    pd.concat([panel, panel.iloc[[0]]]).to_csv(d / "panel_duplicate.csv", index=False)
    panel.astype({"y": str}).assign(y=lambda t: t["y"].where(t.index != 3, "n/a")).to_csv(
        d / "panel_text.csv", index=False)
    (d / "panel_latin1.csv").write_bytes(
        panel.assign(id=["ä", "ö", "ü", "ß"] * 6).to_csv(index=False).encode("cp1252"))
    header = "代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n"
    row = "990121,测试省,甲市,北县,县级,弃用,1980,2005,990102\n"
    (d / "history_gbk.csv").write_bytes((header + row).encode("gbk"))
    (d / "history_years.csv").write_text(header + row.replace("1980", "early"),
                                         encoding="utf-8")
    return d


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(res, out, *needles):
    assert res.exit_code == 1, (res.exit_code, res.output)
    assert "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("gisfix: error:")]
    assert len(errors) == 1, res.stderr
    for n in needles:
        assert n.lower() in errors[0].lower(), errors[0]
    assert not out.exists(), f"{out} left behind"


def boundary_commands(w, units, out):
    """Every verb that reads a boundary file, with ``units`` in its place."""
    r = w / "raster.tif"
    return {
        "info": ("info", units, "--id", "id"),
        "builtup": ("builtup", units, r, "--id", "id", "-o", out),
        "agglomeration": ("agglomeration", units, r, "--id", "id", "--no-patches",
                          "--permutations", 0, "-o", out),
        "inequality": ("inequality", units, "--value", "value", "--id", "id", "-o", out),
        "edit": ("edit", units, w / "noncontiguous.toml", "--id", "id", "-o", out),
        "diff-old": ("diff", units, w / "units.gpkg", "--id", "id", "-o", out),
        "diff-new": ("diff", w / "units.gpkg", units, "--id", "id", "-o", out),
        "lei": ("lei", r, "--from", 1990, "--to", 2010, "--boundaries", units, "--id", "id",
                "-o", out),
        "run": ("run", units, r, "--id", "id", "--permutations", 0, "-o", out),
    }


def raster_commands(w, raster, out):
    """Every verb that reads a raster, with ``raster`` in its place."""
    u = w / "units.gpkg"
    return {
        "info": ("info", raster),
        "builtup": ("builtup", u, raster, "--id", "id", "-o", out),
        "agglomeration": ("agglomeration", u, raster, "--id", "id", "--no-patches",
                          "--permutations", 0, "-o", out),
        "lei": ("lei", raster, "--from", 1990, "--to", 2010, "-o", out),
        "run": ("run", u, raster, "--id", "id", "--permutations", 0, "-o", out),
        "edit": ("edit", u, w / "noncontiguous.toml", "--id", "id", "--raster", raster,
                 "-o", out),
    }


BOUNDARY_VERBS = ["info", "builtup", "agglomeration", "inequality", "edit", "diff-old",
                  "diff-new", "lei", "run", "run-project", "stages", "did", "events",
                  "fetch"]
RASTER_VERBS = ["info", "builtup", "agglomeration", "lei", "run", "edit", "run-project",
                "stages"]

#: A server that cannot be reached: port 9 (discard) on this machine, never the internet.
CLOSED = "http://127.0.0.1:9/ghsl"


def project_file(w, folder, boundaries=None, raster=None, extra="", scenario=""):
    """Write a project file of the world's units and raster (or of bad files in their place)."""
    text = (f'[region]\nname = "bad"\n\n[boundaries]\npath = "{boundaries or w / "units.gpkg"}"'
            f'\nid = "id"\n\n[builtup]\npath = "{raster or w / "raster.tif"}"\n'
            f'encoding = "year-built"\n{extra}\n[measures]\npermutations = 0\n{scenario}')
    path = folder / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def more_commands(w, units, raster, out):
    """The verbs added since this file was written, with ``units`` / ``raster`` in place."""
    return {
        "run-project": ("run", project_file(w, out.parent, units, raster), "-o", out),
        "stages": ("stages", raster, "--by", "units", "--boundaries", units, "--id", "id",
                   "--block", 1, "--min-area-km2", 0, "-o", out),
        "did": ("did", w / "panel.csv", "--unit", "id", "--time", "year", "--outcome", "y",
                "--events", w / "events.csv", "--exclude-neighbours", units, "--id", "id",
                "-o", out),
        "events": ("events", "--vintage", f"2000={units}", "--vintage",
                   f"2010={w / 'units.gpkg'}", "--id", "id", "-o", out),
        "fetch": ("data", "fetch", "ghsl", "--epochs", 2020, "--boundaries", units,
                  "--base-url", CLOSED, "--cache", out.parent / "cache", "--no-progress",
                  "-o", out),
    }


def _out(tmp_path, verb):
    return tmp_path / {"run": "out", "run-project": "out", "fetch": "out",
                       "inequality": "out.json", "did": "out.json", "events": "out.csv",
                       "diff-old": "out.toml", "diff-new": "out.toml"}.get(verb, "out.gpkg")


def _command(kind, w, bad, out, verb):
    if verb in ("run-project", "stages", "did", "events", "fetch"):
        units = bad if kind == "boundary" else w / "units.gpkg"
        raster = bad if kind == "raster" else w / "raster.tif"
        return more_commands(w, units, raster, out)[verb]
    table = boundary_commands if kind == "boundary" else raster_commands
    return table(w, bad, out)[verb]


@pytest.mark.parametrize("verb", BOUNDARY_VERBS)
@pytest.mark.parametrize("bad", ["truncated.gpkg", "random.gpkg", "random.geojson"])
def test_corrupt_boundary_file(world, tmp_path, verb, bad):
    out = _out(tmp_path, verb)
    res = run(*_command("boundary", world, world / bad, out, verb))
    assert_one_line_error(res, out, bad)


@pytest.mark.parametrize("verb", BOUNDARY_VERBS)
def test_layer_mixing_polygons_and_lines(world, tmp_path, verb):
    out = _out(tmp_path, verb)
    args = _command("boundary", world, world / "mixed.geojson", out, verb)
    if verb == "inequality":  # the geometry matters only for the spatial Gini
        args = (*args, "--spatial-gini", "--permutations", 0)
    res = run(*args)
    if verb == "info":  # info describes the file: it reports the geometry types
        assert res.exit_code == 0 and "LineString" in res.output
        return
    assert_one_line_error(res, out, "LineString")


@pytest.mark.parametrize("verb", [v for v in BOUNDARY_VERBS if v != "fetch"])  # fetch: no ids
def test_id_column_of_mixed_types(world, tmp_path, verb):
    """Ids are text once read (GDAL reads a mixed JSON column as text): 1 and "1" collide."""
    out = _out(tmp_path, verb)
    res = run(*_command("boundary", world, world / "mixed_id.geojson", out, verb))
    if verb == "info":  # info describes the file: it counts the duplicates
        assert res.exit_code == 0 and "duplicate_ids: 2" in res.output
        return
    assert_one_line_error(res, out, "duplicated ids")


@pytest.mark.parametrize("verb", RASTER_VERBS)
@pytest.mark.parametrize("bad", ["truncated.tif", "random.tif", "nocrs.tif"])
def test_corrupt_raster_or_no_crs(world, tmp_path, verb, bad):
    out = _out(tmp_path, verb)
    res = run(*_command("raster", world, world / bad, out, verb))
    assert_one_line_error(res, out, bad)


def test_non_utf8_table_without_encoding(world, tmp_path):
    out = tmp_path / "out.json"
    res = run("inequality", world / "latin1.csv", "--value", "value", "-o", out)
    assert_one_line_error(res, out, "latin1.csv", "utf-8")


def test_empty_selection_after_dropna(world, tmp_path):
    out = tmp_path / "out.json"
    res = run("inequality", world / "allnan.csv", "--value", "value", "--dropna", "-o", out)
    assert_one_line_error(res, out, "got 0")


@pytest.mark.parametrize("bad, needle", [("unknown_op.toml", "unknown or missing op 'annex'"),
                                         ("random.toml", "random.toml")])
def test_bad_scenario(world, tmp_path, bad, needle):
    out = tmp_path / "out.gpkg"
    res = run("edit", world / "units.gpkg", world / bad, "--id", "id", "-o", out)
    assert_one_line_error(res, out, needle)


def test_random_bytes_table(world, tmp_path):
    out = tmp_path / "out.json"
    res = run("inequality", world / "random.csv", "--value", "value", "-o", out)
    assert_one_line_error(res, out, "random.csv")


def test_merge_of_non_contiguous_units_is_allowed_with_a_warning(world, tmp_path):
    """Decision (documented in the README): a merge of units that do not touch is allowed
    (exclaves are real) and makes a multi-part unit; a DataWarning names it."""
    out = tmp_path / "out.gpkg"
    res = run("edit", world / "units.gpkg", world / "noncontiguous.toml", "--id", "id",
              "-o", out)
    assert res.exit_code == 0, res.output
    warns = [ln for ln in res.stderr.splitlines() if "not contiguous" in ln]
    assert len(warns) == 1 and "DataWarning" in warns[0] and "'a'" in warns[0]
    assert out.exists()


def _command_paths():
    """Every verb of gisfix.cli.main.VERBS, and every subcommand of a verb that is a group."""
    import importlib

    import click

    from gisfix.cli.main import VERBS

    paths = []

    def walk(cmd, path):
        paths.append(path)
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                walk(sub, (*path, name))

    for verb, (module, attr, _) in sorted(VERBS.items()):
        walk(getattr(importlib.import_module(module), attr), (verb,))
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_unknown_option_exits_2(path):
    res = run(*path, "--bogus-option")
    assert res.exit_code == 2, (path, res.output)
    assert "Traceback" not in res.output
    assert "--bogus-option" in res.stderr


def test_scenario_toml_fuzz_only_raises_gisfix_errors(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from gisfix.edits.scenario import load_scenario
    from gisfix.errors import GisfixError

    d = tmp_path_factory.mktemp("fuzz")
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                        st.text(max_size=8))
    values = st.recursive(scalars, lambda c: st.lists(c, max_size=3)
                          | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=6)
    ops = st.sampled_from(["merge", "split", "transfer", "recode", "dissolve", "annex", ""])
    keys = st.sampled_from(["units", "into", "unit", "by", "new_ids", "names", "from", "to",
                            "part", "new_id", "name", "year", "note", "op", "x"])
    edit = st.dictionaries(keys, values, max_size=5).flatmap(
        lambda e: ops.map(lambda op: {**e, "op": op} if "op" not in e else e))
    doc = st.fixed_dictionaries({"scenario": st.one_of(values, st.fixed_dictionaries(
        {"name": values})), "edit": st.one_of(st.lists(edit, max_size=3), values)})

    def check(source):
        try:
            load_scenario(source)
        except GisfixError:
            pass

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(doc=doc, text=st.text(max_size=60), blob=st.binary(max_size=60))
    def fuzz(doc, text, blob):
        import tomli_w

        check(doc)
        try:
            toml = tomli_w.dumps(_drop_none(doc))
        except (TypeError, ValueError):
            toml = None
        if toml is not None:
            (d / "s.toml").write_text(toml)
            check(d / "s.toml")
        (d / "t.toml").write_text(text)
        check(d / "t.toml")
        (d / "b.toml").write_bytes(blob)
        check(d / "b.toml")

    fuzz()


def _drop_none(obj):
    if isinstance(obj, dict):
        return {str(k): _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj if v is not None]
    return obj


def test_geojson_world_is_valid_json(world):
    json.loads((world / "mixed.geojson").read_text())


# -- the verbs added since: each one's own bad inputs ------------------------------------------
def _project_case(w, folder, case):
    """A project file with one mistake (those of tests/test_project.py are not repeated)."""
    if case == "random bytes":
        return w / "random.toml"
    if case == "not UTF-8":
        path = project_file(w, folder)
        path.write_bytes(path.read_text().replace('"bad"', '"Zürich"').encode("cp1252"))
        return path
    if case == "empty epochs":
        return project_file(w, folder, extra="epochs = []")
    if case == "random aoi":
        return project_file(w, folder, extra=f'aoi = "{w / "random.geojson"}"')
    edits = {"unknown op": "unknown_op.toml", "random scenario": "random.toml"}[case]
    return project_file(w, folder, scenario=f'[[scenario]]\nname = "s"\nedits = "{w / edits}"\n')


@pytest.mark.parametrize("case, needle", [
    ("random bytes", "random.toml"), ("not UTF-8", "UTF-8"), ("empty epochs", "epochs"),
    ("random aoi", "random.geojson"), ("unknown op", "'annex'"),
    ("random scenario", "random.toml")])
def test_bad_project_file(world, tmp_path, case, needle):
    out = tmp_path / "out"
    res = run("run", _project_case(world, tmp_path, case), "-o", out)
    assert_one_line_error(res, out, needle)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_run_without_a_project_or_shortcut_is_a_usage_error(world, tmp_path):
    res = run("run", world / "random.csv", "-o", tmp_path / "out")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, needle", [
    (("--epochs", 1990), "at least two epochs"),
    (("--from", 1980, "--to", 2010), "epoch 1980 is not in this stack")])
def test_stages_empty_selection(world, tmp_path, args, needle):
    out = tmp_path / "out.gpkg"
    res = run("stages", world / "raster.tif", *args, "-o", out)
    assert_one_line_error(res, out, needle)


def did_args(w, panel="panel.csv", events=("--events", "events.csv"), unit="id", outcome="y"):
    return ("did", w / panel, "--unit", unit, "--time", "year", "--outcome", outcome,
            events[0], w / events[1])


#: did's own bad inputs (duplicate (unit, year) rows and a non-numeric outcome are in
#: tests/test_did.py::test_cli_bad_input_one_line_exit_1).
DID_CASES = {
    "panel random bytes": ({"panel": "random.csv"}, "random.csv"),
    "panel not UTF-8": ({"panel": "panel_latin1.csv"}, "UTF-8"),
    "panel random parquet": ({"panel": "random.parquet"}, "random.parquet"),
    "unit column absent": ({"unit": "code"}, "'code'"),
    "outcome column absent": ({"outcome": "gdp"}, "'gdp'"),
    "events random bytes": ({"events": ("--events", "random.csv")}, "random.csv"),
    "unknown event kind": ({"events": ("--events", "events_unknown_kind.csv")}, "annexation"),
    "events not a table": ({"events": ("--events", "units.gpkg")}, "units.gpkg"),
    "history random bytes": ({"events": ("--code-history", "random.csv")}, "random.csv"),
    "history not UTF-8": ({"events": ("--code-history", "history_gbk.csv")}, "UTF-8"),
    "history of a panel": ({"events": ("--code-history", "panel.csv")},
                           "not an areacodes code history"),
    "history years": ({"events": ("--code-history", "history_years.csv")}, "must hold years"),
}


@pytest.mark.parametrize("case", list(DID_CASES))
def test_did_bad_input(world, tmp_path, case):
    if not (world / "random.parquet").exists():
        (world / "random.parquet").write_bytes((world / "random.csv").read_bytes())
    kw, needle = DID_CASES[case]
    out = tmp_path / "out.json"
    res = run(*did_args(world, **kw), "-o", out, "--plot", tmp_path / "out.png")
    assert_one_line_error(res, out, needle)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("extra, needle", [
    (("--event", "annexation"), "--event"),  # the treatment's kind must be a known kind
    (("--window", "x"), "--window")])
def test_did_usage_errors(world, tmp_path, extra, needle):
    out = tmp_path / "out.json"
    res = run(*did_args(world), *extra, "-o", out)
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_did_empty_selection(world, tmp_path):
    out = tmp_path / "out.json"
    res = run(*did_args(world), "--from", 2010, "--to", 2012, "-o", out)
    assert_one_line_error(res, out, "no treated units")


EVENTS_CASES = {
    "history random bytes": (("--code-history", "random.csv"), "random.csv"),
    "history not UTF-8": (("--code-history", "history_gbk.csv"), "UTF-8"),
    "history of a panel": (("--code-history", "panel.csv"), "not an areacodes code history"),
    "history a GeoPackage": (("--code-history", "units.gpkg"), "units.gpkg"),
    "history years": (("--code-history", "history_years.csv"), "must hold years"),
    "scenario random bytes": (("--scenario", "random.toml"), "random.toml"),
    "scenario not UTF-8": (("--scenario", "latin1.csv"), "UTF-8"),
    "scenario unknown op": (("--scenario", "unknown_op.toml"), "'annex'"),
    "scenario without years": (("--scenario", "noncontiguous.toml"), "has no 'year'"),
}


@pytest.mark.parametrize("case", list(EVENTS_CASES))
def test_events_bad_input(world, tmp_path, case):
    (option, name), needle = EVENTS_CASES[case]
    out = tmp_path / "out.csv"
    res = run("events", option, world / name, "-o", out)
    assert_one_line_error(res, out, needle)


def test_events_empty_selection(world, tmp_path):
    out = tmp_path / "out.csv"
    units = world / "units.gpkg"
    res = run("events", "--vintage", f"2000={units}", "--vintage", f"2010={units}", "--id", "id",
              "--event", "merge", "-o", out)
    assert_one_line_error(res, out, "no merge events")


@pytest.mark.parametrize("args", [
    ("--event", "annexation"), ("--vintage", "2000"), ()], ids=["kind", "vintage", "none"])
def test_events_usage_errors(world, tmp_path, args):
    out = tmp_path / "out.csv"
    res = run("events", *args, "--id", "id", "-o", out)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert not out.exists()


def fetch_args(tmp_path, *args, url=CLOSED):
    return ("data", "fetch", "ghsl", "--base-url", url, "--cache", tmp_path / "cache",
            "--registry", tmp_path / "registry.txt", "--no-progress", *args,
            "-o", tmp_path / "out")


@pytest.mark.parametrize("args, needle", [
    (("--epochs", 2020, "--bbox", "1,40,5"), "--bbox"),
    (("--epochs", 2020, "--bbox", "w,s,e,n"), "--bbox"),
    (("--epochs", 2020, "--bbox", "5,40,1,50"), "--bbox"),
    (("--epochs", 2020, "--bbox", "1,40,5,95"), "--bbox"),
    (("--epochs", 1993, "--bbox", "1,40,5,50"), "--epochs"),
    (("--epochs", 2020), "exactly one of --bbox"),
    (("--epochs", 2020, "--bbox", "1,40,5,50", "--boundaries", "x.gpkg"), "exactly one of"),
    (("--epochs", 2020, "--bbox", "1,40,5,50", "--product", "nightlights"), "--product"),
    (("--epochs", 2020, "--bbox", "1,40,5,50", "--product", "pop", "--year-built"),
     "--year-built")],
    ids=["three numbers", "not numbers", "west east of east", "latitude 95", "epoch 1993",
         "no region", "two regions", "unknown product", "year built of pop"])
def test_fetch_usage_errors(tmp_path, args, needle):
    res = run(*fetch_args(tmp_path, *args))
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_fetch_unreachable_server(tmp_path):
    res = run(*fetch_args(tmp_path, "--epochs", 2020, "--bbox", "-77.1,38.8,-76.9,39.0"))
    assert_one_line_error(res, tmp_path / "out", "127.0.0.1:9", "offline")


def test_fetch_server_sending_random_bytes(tmp_path):
    """A server that answers every tile with random bytes: one line, no output folder, and
    neither the bytes nor their checksum stay in the cache and the registry."""
    import functools
    import http.server
    import threading

    junk = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()

    class Junk(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(junk)))
            self.end_headers()
            self.wfile.write(junk)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Junk))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/ghsl"
        res = run(*fetch_args(tmp_path, "--epochs", 2020, "--bbox", "-77.1,38.8,-76.9,39.0",
                              url=url))
    finally:
        httpd.shutdown()
    assert_one_line_error(res, tmp_path / "out", "not a readable zip archive")
    assert not list((tmp_path / "cache").glob("*.zip"))
    registry = tmp_path / "registry.txt"
    assert not registry.exists() or ".zip" not in registry.read_text()
