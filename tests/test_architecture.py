"""The architecture of CONTRIBUTING.md, enforced: layers, imports, docs, unit suffixes.

* the import graph of gisfix (every ``import``, also inside functions, read with ``ast``)
  has no cycle;
* click is imported only under ``gisfix/cli``;
* rasterio, pyogrio and fiona are imported only by the reader modules of
  :data:`READER_MODULES` (the array-only helpers of :data:`RASTER_COMPUTE` excepted);
* every public callable with parameters has a numpydoc ``Parameters`` section;
* every area or length column of every verb and public table-returning function carries a
  unit suffix (on the DC data).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import gisfix

ROOT = Path(gisfix.__file__).parent

#: The only modules that open files with rasterio, pyogrio or fiona (the readers layer).
READER_MODULES = {
    "gisfix.boundaries", "gisfix.stack", "gisfix.io", "gisfix.edits.scenario",
    "gisfix.project", "gisfix.datasets", "gisfix.fetch",
}
#: Submodules of rasterio that compute on arrays and never open a file; any layer may use them.
RASTER_COMPUTE = {"rasterio.features", "rasterio.windows", "rasterio.transform",
                  "rasterio.enums"}
#: Known violations being fixed on another branch (module: owner, issue); empty since
#: zonal reads through the stack and ``gisfix info`` through ``stack.describe_raster``.
PENDING: dict[str, str] = {}
#: Modules still being edited on another branch whose public callables lack a Parameters
#: section (module: owner); remove an entry once its module is documented.
PENDING_DOCS: dict = {}
FILE_LIBS = ("rasterio", "pyogrio", "fiona")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """Every module imported by ``name`` (absolute dotted names) with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            for a in node.names:  # ``from pkg import submodule``
                if f"{mod}.{a.name}" in MODULES:
                    out.append((f"{mod}.{a.name}", node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        own_ancestors = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
        deps = set()
        for mod, _ in _imports(name, path):
            if not mod.startswith("gisfix"):
                continue
            parts = mod.split(".")
            for k in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                target = ".".join(parts[:k])
                if target in MODULES and target not in own_ancestors and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _path_in(graph, comp):
    """One cycle inside a strongly connected component, for the message."""
    start = comp[0]
    seen = [start]
    v = start
    while True:
        nxt = sorted(w for w in graph[v] if w in comp)
        w = next((x for x in nxt if x == start), None) or next(
            (x for x in nxt if x not in seen), nxt[0])
        seen.append(w)
        if w == start or w in seen[:-1]:
            return " -> ".join(seen)
        v = w


def test_no_import_cycles():
    graph = _graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(_path_in(graph, c) for c in cycles)


def test_click_only_in_cli():
    bad = [f"{name}:{line}" for name, path in MODULES.items()
           if not name.startswith("gisfix.cli")
           for mod, line in _imports(name, path) if mod.split(".")[0] == "click"]
    assert not bad, f"click imported outside gisfix/cli: {bad}"


def test_file_libraries_only_in_readers():
    bad = []
    for name, path in MODULES.items():
        if name in READER_MODULES or name in PENDING:
            continue
        for mod, line in _imports(name, path):
            if mod.split(".")[0] in FILE_LIBS and mod not in RASTER_COMPUTE:
                bad.append(f"{name}:{line} imports {mod}")
    assert not bad, ("rasterio/pyogrio/fiona outside the reader modules (move the file "
                     "access into a reader):\n" + "\n".join(bad))


# -- docs -----------------------------------------------------------------------------------
def _public_callables():
    for name in sorted(MODULES):
        if name.startswith("gisfix.cli") or name.split(".")[-1].startswith("_"):
            continue
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n, v in vars(module).items() if not n.startswith("_")
                     and (inspect.isfunction(v) or inspect.isclass(v))
                     and getattr(v, "__module__", None) == name]
        for attr in names:
            obj = getattr(module, attr, None)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                    getattr(obj, "__module__", None) == name:
                yield f"{name}.{attr}", obj


def _has_parameters(obj) -> bool:
    target = obj
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return False
        target = obj.__init__
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return False
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    return bool(params)


_SECTION = re.compile(r"^\s*(Parameters|Attributes)\s*\n\s*-{3,}", re.MULTILINE)


def test_public_callables_document_parameters():
    missing = []
    for qual, obj in _public_callables():
        if qual.rsplit(".", 1)[0] in PENDING_DOCS or not _has_parameters(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        if inspect.isclass(obj):  # a dataclass documents its fields as Attributes
            ok = _SECTION.search(doc) is not None
        else:
            ok = re.search(r"^\s*Parameters\s*\n\s*-{3,}", doc, re.MULTILINE) is not None
        if not ok:
            missing.append(qual)
    assert not missing, (f"{len(missing)} public callables without a numpydoc Parameters "
                         "section:\n" + "\n".join(missing))


# -- unit suffixes ----------------------------------------------------------------------------
#: Unit suffixes of the convention (CONTRIBUTING.md).
UNIT_SUFFIXES = ("_km2", "_ha", "_m2", "_m", "_km", "_m_per_ha", "_per_km2",
                 "_m2_per_capita",
                 "_km2_per_capita", "_ha_per_capita", "_km2_per_year", "_ha_per_year",
                 "_m_per_year", "_per_100ha")
#: Qualifiers that may follow a unit (and an epoch): ``builtup_km2_2020_before``,
#: ``builtup_km2_total``; the unit is still explicit.
QUALIFIERS = ("before", "after", "change", "total", "mean", "median", "min", "max")
#: Stems that make a column an area or a length.
STEMS = ("area", "edge", "perimeter", "distance", "radius", "length", "km", "builtup",
         "width", "displacement", "axis", "density", "per_capita")
#: Columns with a stem that are unitless (shares, ratios, indices, counts, ids, labels).
UNITLESS = re.compile(r"(share|ratio|index|_rel$|^n_|count|_id$|^is_|_q\d+|cluster|kind|"
                      r"type|rank|quantile|iou|level|_ge_|_p$|p_sim|p_norm|z$|_z$|_class|"
                      r"angle|direction|^lei|class$|stage|label|source|note|epoch|gini|hhi|theil|_cv$)")


def offending_columns(columns) -> list[str]:
    """Return area/length column names without a unit suffix of the convention."""
    bad = []
    for c in map(str, columns):
        low = c.lower()
        # a qualifier and a wide table's epoch: builtup_km2_2020_before -> builtup_km2
        low = re.sub(rf"(_({'|'.join(QUALIFIERS)}))+$", "", low)
        low = re.sub(r"_\d{4}$", "", low)
        low = re.sub(rf"(_({'|'.join(QUALIFIERS)}))+$", "", low)
        if not any(s in low for s in STEMS) or UNITLESS.search(low):
            continue
        if not any(low.endswith(s) for s in UNIT_SUFFIXES):
            bad.append(c)
    return bad


def test_offending_columns_rule():
    assert offending_columns(["builtup_km2_2020", "speed_km2_per_year", "km2_outlying"]) == [
        "km2_outlying"]
    assert offending_columns(["builtup_km2", "valid_km2", "builtup_share", "area_ha",
                              "edge_density_m_per_ha", "unit_id", "n_patches"]) == []
    assert offending_columns(["total_area", "perimeter", "builtup"]) == [
        "total_area", "perimeter", "builtup"]
    assert offending_columns(["builtup_km2_2020_before", "builtup_km2_total",
                              "builtup_km2_gini", "patch_density_per_100ha"]) == []
    assert offending_columns(["builtup_2020_before", "area_total"]) == [
        "builtup_2020_before", "area_total"]


#: Unit-less area/length columns of other owners' modules, to rename (owner): remove an entry
#: when the module is fixed.  The test still fails on any other offending column.
PENDING_COLUMNS: dict = {}


@pytest.mark.shared
def test_every_table_has_unit_suffixes(shared, tmp_path, run_cli):
    """Every verb and public table-returning function on the DC data: units in the names."""
    import geopandas as gpd
    import pandas as pd

    import gisfix

    folder = shared("ghsl_dc_baltimore")
    vec = folder / "counties_2017_census.gpkg"
    tif = folder / "ghsl_year_built_100m_mollweide.tif"
    units = gisfix.read_boundaries(vec, "fips")
    stack = gisfix.open_builtup(tif, encoding="year-built")
    t0, t1 = 1990, 2020
    tables: dict[str, pd.DataFrame] = {}
    table = gisfix.builtup_by_unit(units, stack)
    tables["builtup_by_unit"] = table
    tables["to_wide"] = gisfix.to_wide(table)
    units["pop"] = 1000.0
    tables["intensity"] = gisfix.intensity(table, units, population="pop")
    tables["concentration"] = gisfix.concentration(table)
    tables["hierarchy"] = gisfix.hierarchy(table)
    tables["lorenz_by_epoch"] = gisfix.lorenz_by_epoch(table)
    tables["expansion"] = gisfix.expansion(table, t0, t1)
    tables["expansion_series"] = gisfix.expansion_series(table, [t0, t1])
    per_unit, summary = gisfix.agglomeration_measures(units, stack, table=table,
                                                      permutations=0)
    tables["agglomeration_measures.per_unit"] = per_unit
    tables["agglomeration_measures.summary"] = summary
    tables["patch_metrics"] = gisfix.patch_metrics(units, stack, epochs=[t1])
    share = table[table["epoch"] == t1].set_index("unit_id")["builtup_share"]
    graph = gisfix.make_graph(units.set_axis(units.index.map(str)), "queen")
    tables["local_moran"] = gisfix.local_moran(share, graph, permutations=0)
    tables["getis_ord"] = gisfix.getis_ord(share, graph, permutations=0)
    tables["urban_extents"] = gisfix.urban_extents(stack, t1)
    tables["builtup_centroids"] = gisfix.builtup_centroids(stack, [t0, t1])
    tables["standard_deviational_ellipse"] = gisfix.standard_deviational_ellipse(stack,
                                                                                 [t0, t1])
    tables["directional_growth"] = gisfix.directional_growth(stack, t0, t1)
    # verbs: every table they write
    out = tmp_path / "b.csv"
    r = run_cli("builtup", vec, tif, "--id", "fips", "-o", out)
    assert r.exit_code == 0, r.output
    tables["gisfix builtup"] = pd.read_csv(out)
    out = tmp_path / "a.gpkg"
    r = run_cli("agglomeration", vec, tif, "--id", "fips", "--epochs", "2020",
                "--permutations", "0", "-o", out)
    assert r.exit_code == 0, r.output
    for layer in ("units", "summary"):
        tables[f"gisfix agglomeration:{layer}"] = gpd.read_file(out, layer=layer)
    out = tmp_path / "l.gpkg"
    r = run_cli("lei", tif, "--from", "2015", "--to", "2020", "--boundaries", vec,
                "--id", "fips", "-o", out)
    assert r.exit_code == 0, r.output
    for layer in ("patches", "summary"):
        tables[f"gisfix lei:{layer}"] = gpd.read_file(out, layer=layer)
    scenario = tmp_path / "s.toml"
    a, b = list(units.index[:2])
    scenario.write_text(f'[scenario]\nname = "m"\n[[edit]]\nop = "merge"\n'
                        f'units = ["{a}", "{b}"]\ninto = "{a}"\n', encoding="utf-8")
    out = tmp_path / "e.gpkg"
    r = run_cli("edit", vec, scenario, "--id", "fips", "-o", out)
    assert r.exit_code == 0, r.output
    for layer in ("units", "lineage"):
        tables[f"gisfix edit:{layer}"] = gpd.read_file(out, layer=layer)
    bad = {k: offending_columns(v.columns) for k, v in tables.items()
           if k not in PENDING_COLUMNS}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"area/length columns without a unit suffix: {bad}"
    pending = {k: offending_columns(tables[k].columns) for k in PENDING_COLUMNS}
    print("pending renames:", pending)


#: The merger of the DC project (tests/data/dc_merger.toml), dated for the event table.
DC_MERGER = ["11001", "51013", "51510"]


def _dc_project(folder, tmp_path) -> Path:
    """A small DC project (two epochs, no permutations) with the merger as a scenario."""
    vec = folder / "counties_2017_census.gpkg"
    tif = folder / "ghsl_year_built_100m_mollweide.tif"
    units = ", ".join(f'"{u}"' for u in DC_MERGER)
    path = tmp_path / "dc.toml"
    path.write_text(
        f'[region]\nname = "DC"\n[boundaries]\npath = "{vec.as_posix()}"\n'
        f'layer = "counties"\nid = "fips"\n[builtup]\npath = "{tif.as_posix()}"\n'
        f'encoding = "year-built"\naoi = "{(folder / "aoi.geojson").as_posix()}"\n'
        f'epochs = [2015, 2020]\n[measures]\nlei_period = [2015, 2020]\npermutations = 0\n'
        f'[[scenario]]\nname = "dc_merger"\n[[scenario.edit]]\nop = "merge"\n'
        f'units = [{units}]\ninto = "11001"\n', encoding="utf-8")
    return path


@pytest.mark.shared
def test_newer_verbs_have_unit_suffixes(shared, tmp_path, run_cli):
    """The verbs added since (run, stages, events, did) on the DC data: units in the names."""
    import json

    import geopandas as gpd
    import pandas as pd
    import pyogrio

    folder = shared("ghsl_dc_baltimore")
    tif = folder / "ghsl_year_built_100m_mollweide.tif"
    tables: dict[str, pd.DataFrame] = {}
    out = tmp_path / "run"
    r = run_cli("run", _dc_project(folder, tmp_path), "-o", out)
    assert r.exit_code == 0, r.output
    for layer, _ in pyogrio.list_layers(out / "results.gpkg"):
        if layer not in ("provenance", "layer_styles"):
            tables[f"gisfix run:{layer}"] = gpd.read_file(out / "results.gpkg", layer=layer,
                                                          ignore_geometry=True)
    for name in ("measures.csv", "compare.csv"):
        tables[f"gisfix run:{name}"] = pd.read_csv(out / name)
    st = tmp_path / "st.gpkg"
    r = run_cli("stages", tif, "--encoding", "year-built", "--from", "2015", "--to", "2020",
                "-o", st)
    assert r.exit_code == 0, r.output
    for layer, _ in pyogrio.list_layers(st):
        if layer not in ("provenance", "layer_styles"):
            tables[f"gisfix stages:{layer}"] = gpd.read_file(st, layer=layer,
                                                             ignore_geometry=True)
    scenario = tmp_path / "s.toml"
    scenario.write_text('[scenario]\nname = "m"\n[[edit]]\nop = "merge"\nunits = ['
                        + ", ".join(f'"{u}"' for u in DC_MERGER)
                        + ']\ninto = "11001"\nyear = 2018\n', encoding="utf-8")
    ev = tmp_path / "ev.csv"
    r = run_cli("events", "--scenario", scenario, "-o", ev)
    assert r.exit_code == 0, r.output
    tables["gisfix events"] = pd.read_csv(ev)
    panel = tmp_path / "panel.csv"
    tables["gisfix run:units_long"][["unit_id", "epoch", "builtup_share"]].to_csv(
        panel, index=False)
    did = tmp_path / "did.json"
    r = run_cli("did", panel, "--unit", "unit_id", "--time", "epoch", "--outcome",
                "builtup_share", "--events", ev, "--event", "merge", "-o", did)
    assert r.exit_code == 0, r.output
    d = json.loads(did.read_text(encoding="utf-8"))
    tables["gisfix did"] = pd.DataFrame([{k: v for k, v in d.items()
                                          if not isinstance(v, dict | list)}])
    tables["gisfix did:event_time"] = pd.DataFrame(d["event_time"])
    bad = {k: offending_columns(v.columns) for k, v in tables.items()
           if k not in PENDING_COLUMNS}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"area/length columns without a unit suffix: {bad}"


def test_measures_take_data_not_paths(tmp_path):
    """extents refuses a population raster path (readers read; measures compute)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from gisfix.errors import DataError
    from gisfix.extents import urban_extents
    from gisfix.stack import open_builtup

    path = tmp_path / "b_2020.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8",
                       crs="EPSG:3857", transform=from_origin(0, 400, 100, 100)) as ds:
        ds.write(np.ones((1, 4, 4), dtype=np.uint8))
    st = open_builtup(path, encoding="binary")
    with pytest.raises(DataError, match="population must be a 2-D array"):
        urban_extents(st, population=str(tmp_path / "pop.tif"))
