"""Scale through the CLI: ``--scheduler`` on every raster verb, and the streamed LEI layer.

Oracles
- the in-process (no scheduler) run of the same verb: with ``--scheduler threads`` and
  ``processes`` every layer read back is identical (attributes exact, geometries equal);
- the non-streamed LEI (``landscape_expansion_index`` / ``lei_by_unit`` returning one
  GeoDataFrame, written by ``write_layers`` as before): the streamed batches, and the
  ``gisfix lei`` GeoPackage written batch by batch, hold the same features (same fids,
  ids, attributes exactly, geometries byte for byte), the same field types, layer
  geometry type and styles; on the DC raster with strips of 3-7 rows (thousands of
  patches cross strip edges) and on hypothesis rasters;
- a whole-grid ``scipy.ndimage.label`` in the test: the streamed patches have the cells of
  the whole-grid components;
- a bad ``--scheduler`` is one line on stderr with exit 2, before any work, and nothing is
  written; a failure in the middle of a streamed run leaves no output and no scratch file.
"""

from __future__ import annotations

import json
import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import box

from gisfix.lei import GROWTH_TYPES, landscape_expansion_index, lei_by_unit
from gisfix.stack import open_builtup

DC_RASTER = ("ghsl_dc_baltimore", "ghsl_year_built_100m_mollweide.tif")
DC_COUNTIES = ("ghsl_dc_baltimore", "counties_2017_census.gpkg")


def _write_year_built(path, years):
    with rasterio.open(path, "w", driver="GTiff", width=years.shape[1], height=years.shape[0],
                       count=1, dtype="uint16", crs="EPSG:3035", nodata=65535,
                       transform=from_origin(4_000_000, 3_000_000, 100, 100)) as ds:
        ds.write(years, 1)


def _random_years(seed, shape, p=(0.3, 0.25, 0.05)):
    rng = np.random.default_rng(seed)
    u = rng.random(shape)
    years = np.full(shape, 2030, np.uint16)
    years[u < p[0] + p[1]] = 2020
    years[u < p[0]] = 2000
    years[rng.random(shape) < p[2]] = 65535
    return years


def _same_features(got: gpd.GeoDataFrame, ref: gpd.GeoDataFrame) -> None:
    """Identical rows (exact attributes, index) and byte-identical geometries."""
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(ref.drop(columns="geometry")), check_exact=True)
    assert got.crs == ref.crs
    assert (got.geometry.to_wkb() == ref.geometry.to_wkb()).all()


class _Batches(list):
    """A sink recording the batches it receives."""

    def append(self, frame):
        assert isinstance(frame, gpd.GeoDataFrame)
        super().append(frame)

    def frame(self):
        out = pd.concat(list(self))
        assert out.index.is_unique  # every patch delivered once
        return out.sort_index()


# -- the streamed LEI equals the returned layer -------------------------------------------
@pytest.mark.shared
@pytest.mark.parametrize("rows", [3, 7])
def test_streamed_lei_equals_layer_dc(shared, rows):
    stack = open_builtup(shared(*DC_RASTER), "year-built")
    counties = gpd.read_file(shared(*DC_COUNTIES), layer="counties").set_index("fips")
    ref, ref_summary = lei_by_unit(counties, stack, 2000, 2020, block_rows=rows)
    batches = _Batches()
    table, summary = lei_by_unit(counties, stack, 2000, 2020, block_rows=rows, sink=batches)
    assert len(batches) > 50  # streamed strip by strip, not at the end
    _same_features(batches.frame(), ref)
    pd.testing.assert_frame_equal(table, pd.DataFrame(ref.drop(columns="geometry")))
    pd.testing.assert_frame_equal(summary, ref_summary)
    # the patches are the components of one whole-grid labelling (independent oracle)
    codes = stack.read_ordinal()
    j0, j1 = stack.epoch_index(2000), stack.epoch_index(2020)
    labels, n = ndimage.label((codes <= j1) & (codes > j0) & (codes != 255),
                              structure=np.ones((3, 3), bool))
    assert n == len(table)
    np.testing.assert_array_equal(table["n_cells"].to_numpy(),
                                  np.bincount(labels.ravel(), minlength=n + 1)[1:])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), shape=st.tuples(st.integers(1, 25), st.integers(1, 17)),
       rows=st.integers(1, 6), buffer_m=st.sampled_from([None, 160.0, 230.0]),
       conn=st.sampled_from([4, 8]))
def test_property_streamed_lei_equals_layer(tmp_path_factory, seed, shape, rows, buffer_m,
                                            conn):
    years = _random_years(seed, shape)
    path = tmp_path_factory.mktemp("s") / "yb.tif"
    _write_year_built(path, years)
    stack = open_builtup(path, "year-built", epochs=[2000, 2020, 2030])
    kw = {"buffer_m": buffer_m, "connectivity": conn, "block_rows": rows, "max_pairs": 50}
    ref = landscape_expansion_index(stack, 2000, 2020, **kw)
    batches = _Batches()
    table = landscape_expansion_index(stack, 2000, 2020, sink=batches, **kw)
    assert len(batches) >= 1  # at least one (maybe empty) batch: the layer's columns
    _same_features(batches.frame(), ref)
    pd.testing.assert_frame_equal(table, pd.DataFrame(ref.drop(columns="geometry")))
    structure = np.ones((3, 3), bool) if conn == 8 else ndimage.generate_binary_structure(2, 1)
    new = (years == 2020) & (years != 65535)
    labels, n = ndimage.label(new, structure=structure)
    assert len(table) == n
    np.testing.assert_array_equal(table["n_cells"].to_numpy(),
                                  np.bincount(labels.ravel(), minlength=n + 1)[1:])


def test_sink_needs_polygons(tmp_path):
    from gisfix.errors import DataError

    path = tmp_path / "yb.tif"
    _write_year_built(path, _random_years(1, (6, 5)))
    stack = open_builtup(path, "year-built", epochs=[2000, 2020, 2030])
    with pytest.raises(DataError, match="polygons=True"):
        landscape_expansion_index(stack, 2000, 2020, polygons=False, sink=[].append)


# -- gisfix lei writes the same GeoPackage, incrementally ---------------------------------
def _gpkg_facts(path, layer):
    info = pyogrio.read_info(path, layer=layer)
    con = sqlite3.connect(path)
    try:
        styles = con.execute("SELECT f_table_name, f_geometry_column, styleName, styleQML, "
                             "useAsDefault FROM layer_styles ORDER BY id").fetchall()
        tables = con.execute("SELECT table_name, data_type FROM gpkg_contents "
                             "ORDER BY table_name").fetchall()
    finally:
        con.close()
    return (info["geometry_type"], list(info["fields"]), [str(d) for d in info["dtypes"]],
            info["features"], styles, tables)


@pytest.mark.shared
def test_cli_lei_streams_the_same_geopackage(shared, run_cli, tmp_path):
    from gisfix.boundaries import read_boundaries
    from gisfix.cli.lei import TYPE_COLOURS
    from gisfix.io import provenance, write_layers
    from gisfix.styles import categorized

    raster, counties = shared(*DC_RASTER), shared(*DC_COUNTIES)
    out = tmp_path / "lei.gpkg"
    r = run_cli("lei", raster, "--from", 2000, "--to", 2020, "--block-rows", 5,
                "--boundaries", counties, "--id", "fips", "-o", out)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lei.gpkg", "lei.patches.qml"]
    # the layer as it was written before streaming: one GeoDataFrame through write_layers
    stack = open_builtup(raster, "year-built")
    patches, summary = lei_by_unit(read_boundaries(counties, "fips"), stack, 2000, 2020,
                                   block_rows=5)
    ref = tmp_path / "ref" / "lei.gpkg"
    ref.parent.mkdir()
    write_layers(ref, {"patches": patches.reset_index(), "summary": summary.reset_index()},
                 provenance({}, {}), styles={"patches": categorized(
                     GROWTH_TYPES, "growth_type", colors=TYPE_COLOURS)})
    for layer in ("patches", "summary"):
        assert _gpkg_facts(out, layer) == _gpkg_facts(ref, layer)
        got = pyogrio.read_dataframe(out, layer=layer, fid_as_index=True)
        exp = pyogrio.read_dataframe(ref, layer=layer, fid_as_index=True)
        if layer == "patches":
            _same_features(got, exp)
            assert (got.index == got["patch_id"]).all()  # fid = patch_id, as before
        else:
            pd.testing.assert_frame_equal(got, exp, check_exact=True)
    assert pyogrio.read_info(out, layer="patches")["geometry_type"] == "MultiPolygon"


def test_cli_lei_empty_layer_as_before(run_cli, tmp_path):
    years = np.full((8, 6), 2000, np.uint16)  # nothing new between 2000 and 2020
    years[0, 0] = 2030
    path = tmp_path / "yb.tif"
    _write_year_built(path, years)
    out = tmp_path / "o.gpkg"
    r = run_cli("lei", path, "--epochs", "2000,2020,2030", "--from", 2000, "--to", 2020,
                "-o", out)
    assert r.exit_code == 0, r.output
    p = gpd.read_file(out, layer="patches")
    assert len(p) == 0 and "growth_type" in p.columns and "lei" in p.columns


def test_failure_while_streaming_leaves_nothing(run_cli, tmp_path, monkeypatch):
    import gisfix.lei as lei_module

    years = _random_years(5, (60, 40))
    path = tmp_path / "yb.tif"
    _write_year_built(path, years)
    folder = tmp_path / "out"
    folder.mkdir()
    real = lei_module._lei_pass_b
    seen = {"calls": 0, "scratch": []}

    def failing(job):
        seen["calls"] += 1
        if seen["calls"] == 12:  # after patches of earlier strips went to the scratch file
            seen["scratch"] = sorted(p.name for p in folder.iterdir())
            raise OSError("disk full (simulated)")
        return real(job)

    monkeypatch.setattr(lei_module, "_lei_pass_b", failing)
    monkeypatch.setattr("gisfix.io.LayerStream.__init__.__defaults__", ("patch_id", True, 5))
    out = folder / "lei.gpkg"
    r = run_cli("lei", path, "--epochs", "2000,2020,2030", "--from", 2000, "--to", 2020,
                "--block-rows", 3, "-o", out)
    assert r.exit_code == 1
    assert [ln for ln in r.output.splitlines() if ln.strip()] == [
        ln for ln in r.output.splitlines() if "disk full" in ln]
    assert any(name.endswith(".part.gpkg") for name in seen["scratch"])  # it was streaming
    assert list(folder.iterdir()) == []  # no output, no scratch, no style file


# -- --scheduler on the raster verbs -------------------------------------------------------
def _layers(path):
    return {name: pyogrio.read_dataframe(path, layer=name, fid_as_index=True)
            for name, _ in pyogrio.list_layers(path)
            if name not in ("provenance", "layer_styles")}


def _same_layers(a, b):
    la, lb = _layers(a), _layers(b)
    assert la.keys() == lb.keys()
    for name in la:
        x, y = la[name], lb[name]
        if isinstance(x, gpd.GeoDataFrame) and "geometry" in x:
            pd.testing.assert_frame_equal(pd.DataFrame(x.drop(columns="geometry")),
                                          pd.DataFrame(y.drop(columns="geometry")),
                                          check_exact=True)
            assert x.geometry.geom_equals(y.geometry).all(), name
        else:
            pd.testing.assert_frame_equal(x, y, check_exact=True)


def _prov(path):
    from gisfix.io import read_provenance

    return read_provenance(path)["parameters"]


@pytest.mark.shared
@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_cli_scheduler_identical_dc(shared, run_cli, tmp_path, scheduler):
    raster, counties = shared(*DC_RASTER), shared(*DC_COUNTIES)
    # dask's local process pool starts (and imports gisfix) for every computation: a few
    # seconds each on a loaded machine, so "processes" runs the LEI only (two passes)
    verbs = {"lei": ("lei", raster, "--from", 2015, "--to", 2020, "--block-rows", 128)}
    if scheduler == "threads":
        verbs["lei"] = verbs["lei"][:-1] + (48,)
        verbs["agglomeration"] = ("agglomeration", counties, raster, "--id", "fips", "--layer",
                                  "counties", "--epochs", "2000,2020", "--permutations", 9)
        verbs["stages"] = ("stages", raster, "--from", 2015, "--to", 2020)
    for verb, args in verbs.items():
        plain, dask_out = tmp_path / f"{verb}_plain.gpkg", tmp_path / f"{verb}_dask.gpkg"
        r = run_cli(*args, "-o", plain)
        assert r.exit_code == 0, r.output
        r = run_cli(*args, "--scheduler", scheduler, "-o", dask_out)
        assert r.exit_code == 0, r.output
        _same_layers(plain, dask_out)
        assert _prov(plain)["scheduler"] is None
        assert _prov(dask_out)["scheduler"] == scheduler


@pytest.mark.parametrize("verb", ["agglomeration", "stages", "lei"])
def test_bad_scheduler_is_one_line_exit_2(run_cli, tmp_path, verb):
    years = _random_years(2, (30, 20))
    path = tmp_path / "yb.tif"
    _write_year_built(path, years)
    units = tmp_path / "u.gpkg"
    gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[box(4_000_000, 2_997_000, 4_001_000,
                                                        3_000_000),
                                                    box(4_001_000, 2_997_000, 4_002_000,
                                                        3_000_000)],
                     crs="EPSG:3035").to_file(units)
    ep = ("--epochs", "2000,2020,2030")
    args = {"agglomeration": ("agglomeration", units, path, "--id", "id", *ep),
            "stages": ("stages", path, *ep, "--by", "units", "--boundaries", units, "--id",
                       "id"),
            "lei": ("lei", path, *ep, "--from", 2000, "--to", 2020)}[verb]
    out = tmp_path / "o.gpkg"
    r = run_cli(*args, "--scheduler", "fastest", "-o", out)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown scheduler 'fastest'" in lines[0], r.output
    assert "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.gpkg", "yb.tif"]


# -- scheduler= on the population engines -----------------------------------------------
def _population_stack(tmp_path):
    rng = np.random.default_rng(11)
    paths = []
    for e in (2000, 2020):
        arr = (rng.random((37, 29)) * 900).astype("float32")
        arr[5:9, 3:12] = -1  # not observed
        p = tmp_path / f"pop_{e}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=29, height=37, count=1,
                           dtype="float32", crs="EPSG:3035", nodata=-1,
                           transform=from_origin(4_000_000, 3_000_000, 1000, 1000)) as ds:
            ds.write(arr, 1)
        paths.append(p)
    x0, y1 = 4_000_000, 3_000_000
    units = gpd.GeoDataFrame(
        {"geometry": [box(x0 + 1300, y1 - 20_700, x0 + 15_500, y1 - 300),
                      box(x0 + 9_100, y1 - 36_600, x0 + 28_800, y1 - 10_100),
                      box(x0 - 5_000, y1 - 9_000, x0 + 4_400, y1 + 2_000)]},
        index=pd.Index(["a", "b", "c"], name="id"), crs="EPSG:3035")
    return open_builtup(paths, "population"), units


def test_population_engines_identical_with_threads(tmp_path):
    """Threads here; worker processes (pickled tasks) in :func:`test_local_cluster_identical`."""
    from gisfix.degurba import degurba_units
    from gisfix.efficiency import population_by_unit

    scheduler = "threads"
    stack, units = _population_stack(tmp_path)
    ref = population_by_unit(units, stack, max_cells=60)
    got = population_by_unit(units, stack, max_cells=60, scheduler=scheduler)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert ref["population"].sum() > 1e5
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not 1 km² cells: DEGURBA warns, the same for both
        ref_d, grid = degurba_units(units, stack)
        got_d, grid2 = degurba_units(units, stack, scheduler=scheduler)
    pd.testing.assert_frame_equal(got_d, ref_d, check_exact=True)
    np.testing.assert_array_equal(grid, grid2)


@pytest.mark.shared
def test_local_cluster_identical(shared, run_cli, tmp_path, dask_client):
    """A 2-worker LocalCluster named by its address on the command line, and as a Client."""
    raster = shared(*DC_RASTER)
    outs = {}
    for name, extra in {"plain": (), "cluster": ("--scheduler",
                                                 dask_client.scheduler.address)}.items():
        outs[name] = tmp_path / f"{name}.gpkg"
        r = run_cli("lei", raster, "--from", 2010, "--to", 2020, "--block-rows", 24, *extra,
                    "-o", outs[name])
        assert r.exit_code == 0, r.output
    a, b = (pyogrio.read_dataframe(outs[k], layer="patches", fid_as_index=True)
            for k in ("plain", "cluster"))
    _same_features(b, a)  # streamed from the cluster, byte for byte the same
    stack, units = _population_stack(tmp_path)
    from gisfix.efficiency import population_by_unit

    pd.testing.assert_frame_equal(
        population_by_unit(units, stack, max_cells=60, scheduler=dask_client),
        population_by_unit(units, stack, max_cells=60), check_exact=True)


# -- [dask] scheduler in project files ------------------------------------------------------
def _tiny_project(tmp_path, dask_table=""):
    years = _random_years(3, (20, 20), p=(0.3, 0.3, 0.0))
    _write_year_built(tmp_path / "yb.tif", years)
    x0, y1 = 4_000_000, 3_000_000
    gpd.GeoDataFrame({"uid": ["a", "b", "c", "d"]},
                     geometry=[box(x0, y1 - 1000, x0 + 1000, y1),
                               box(x0 + 1000, y1 - 1000, x0 + 2000, y1),
                               box(x0, y1 - 2000, x0 + 1000, y1 - 1000),
                               box(x0 + 1000, y1 - 2000, x0 + 2000, y1 - 1000)],
                     crs="EPSG:3035").to_file(tmp_path / "units.gpkg")
    text = ('[region]\nname = "tiny"\n\n[boundaries]\npath = "units.gpkg"\nid = "uid"\n\n'
            '[builtup]\npath = "yb.tif"\nencoding = "year-built"\n'
            'epochs = [2000, 2020, 2030]\n\n[measures]\n'
            'include = ["builtup", "patches", "lei"]\npermutations = 0\n' + dask_table)
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_project_dask_scheduler(tmp_path):
    from gisfix.errors import ProjectError
    from gisfix.project import load_project
    from gisfix.workflows.run import project_document, run_project

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = run_project(_tiny_project(tmp_path / "a"), None, write=False)
    p = load_project(_tiny_project(tmp_path / "b", '\n[dask]\nscheduler = "threads"\n'))
    assert p.dask == {"scheduler": "threads"}
    assert project_document(p)["dask"] == {"scheduler": "threads"}
    threaded = run_project(p, None, write=False)
    assert threaded.parameters["scheduler"] == "threads"
    assert "scheduler" not in plain.parameters
    pd.testing.assert_frame_equal(threaded.base.table, plain.base.table, check_exact=True)
    _same_features(threaded.lei_patches, plain.lei_patches)
    bad = _tiny_project(tmp_path / "b", '\n[dask]\nscheduler = "fastest"\n')
    line = bad.read_text().splitlines().index('scheduler = "fastest"') + 1
    with pytest.raises(ProjectError, match=rf"p.toml:{line}: \[dask\] scheduler: unknown "
                                           r"scheduler 'fastest'"):
        load_project(bad)
    json.dumps(project_document(p))  # still a plain structure
