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
                  "diff-new", "lei", "run"]
RASTER_VERBS = ["info", "builtup", "agglomeration", "lei", "run", "edit"]


def _out(tmp_path, verb):
    return tmp_path / {"run": "out", "inequality": "out.json", "diff-old": "out.toml",
                       "diff-new": "out.toml"}.get(verb, "out.gpkg")


@pytest.mark.parametrize("verb", BOUNDARY_VERBS)
@pytest.mark.parametrize("bad", ["truncated.gpkg", "random.gpkg", "random.geojson"])
def test_corrupt_boundary_file(world, tmp_path, verb, bad):
    out = _out(tmp_path, verb)
    res = run(*boundary_commands(world, world / bad, out)[verb])
    assert_one_line_error(res, out, bad)


@pytest.mark.parametrize("verb", BOUNDARY_VERBS)
def test_layer_mixing_polygons_and_lines(world, tmp_path, verb):
    out = _out(tmp_path, verb)
    args = boundary_commands(world, world / "mixed.geojson", out)[verb]
    if verb == "inequality":  # the geometry matters only for the spatial Gini
        args = (*args, "--spatial-gini", "--permutations", 0)
    res = run(*args)
    if verb == "info":  # info describes the file: it reports the geometry types
        assert res.exit_code == 0 and "LineString" in res.output
        return
    assert_one_line_error(res, out, "line")


@pytest.mark.parametrize("verb", BOUNDARY_VERBS)
def test_id_column_of_mixed_types(world, tmp_path, verb):
    """Ids are text once read (GDAL reads a mixed JSON column as text): 1 and "1" collide."""
    out = _out(tmp_path, verb)
    res = run(*boundary_commands(world, world / "mixed_id.geojson", out)[verb])
    if verb == "info":  # info describes the file: it counts the duplicates
        assert res.exit_code == 0 and "duplicate_ids: 2" in res.output
        return
    assert_one_line_error(res, out, "duplicated ids")


@pytest.mark.parametrize("verb", RASTER_VERBS)
@pytest.mark.parametrize("bad", ["truncated.tif", "random.tif", "nocrs.tif"])
def test_corrupt_raster_or_no_crs(world, tmp_path, verb, bad):
    out = _out(tmp_path, verb)
    res = run(*raster_commands(world, world / bad, out)[verb])
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


def test_usage_errors_exit_2_on_every_verb(world, tmp_path):
    from gisfix.cli.main import VERBS

    for verb in VERBS:
        res = run(verb, "--no-such-option")
        assert res.exit_code == 2, (verb, res.output)


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
