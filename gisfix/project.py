r"""Project files: one TOML file describes a region, its data, its measures and its scenarios.

:func:`load_project` reads and checks a project file; :func:`open_inputs` opens what it names
(boundaries, built-up rasters, scenarios) and checks the data against it, so that every
mistake is found before any measure runs.  ``gisfix run PROJECT.toml -o DIR`` does both, then
:func:`gisfix.workflows.run.run_project`.  Every error names the file, the key and its line::

    gisfix: error: dc.toml:7: [boundaries] id: no column 'FIPS' in counties.gpkg; columns: fips, ...

Schema (paths are relative to the project file; ``dataset = "name"`` may replace ``path``
with an embedded dataset of :mod:`gisfix.datasets`)::

    [region]
    name = "Washington-Baltimore"          # required

    [boundaries]
    path = "counties.gpkg"                 # or dataset = "swiss-2018"
    layer = "counties"                     # optional: layer of a multi-layer file
    id = "fips"                            # required: the unit id column
    name = "NAME"                          # optional: a name column, carried to the outputs
    groups = ["state"]                     # optional: group columns, outermost first
    crs = "EPSG:4326"                      # optional: CRS to assign when the file has none
    make_valid = false                     # optional: repair invalid polygons
    population = "pop"                     # optional: one column, or one per epoch:
    # population = {2000 = "pop2000", 2020 = "pop2020"}

    [builtup]
    paths = ["year_built.tif"]             # or path = "..." or dataset = "..."
    encoding = "year-built"                # required: see gisfix.open_builtup
    epochs = [1990, 2000, 2020]            # optional: default every epoch of the raster
    fraction_units = "unit"                # optional, for encoding = "fraction"
    aoi = "aoi.geojson"                    # optional: study-area polygon (valid area)

    [measures]
    include = ["builtup", "inequality"]    # optional: default every family that applies
    thresholds = [0.3]                     # built-up share warning thresholds (0-1)
    top_k = 3                              # concentration: share of the k largest units
    lei_period = [1990, 2020]              # optional: default first and last epoch
    graph = "queen"                        # neighbours: queen, rook, knn=K, distance=D
    permutations = 999                     # of every permutation-based p-value
    seed = 0

    [dask]                                 # optional: compute raster blocks with dask
    scheduler = "processes"                # "threads", "processes" or tcp://host:8786

    [[scenario]]
    name = "merger"                        # required, unique; names output layers
    edits = "merger.toml"                  # a scenario file (gisfix.edits.load_scenario), or
    # vintage = "counties_2020.gpkg"       # a later vintage whose edits diff finds, with
    # vintage_id = "fips"                  #   its id column (default: the boundaries' id),
    # vintage_layer = "counties"           #   and its layer (vintage_dataset = "name": an
    #                                      #   embedded dataset); or inline edits:
    # [[scenario.edit]]
    # op = "merge"
    # units = ["11001", "51013", "51510"]
    # into = "DC-metro"
    reallocation = "area"                  # extensive columns: "area" or "dasymetric"

Measure families (``include``): :data:`FAMILIES`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gisfix.errors import (
    EditError,
    GisfixError,
    IdError,
    InputFileError,
    ProjectError,
    RasterError,
)

#: Measure families a project may ``include`` (default: all that apply to the data).
FAMILIES = ("builtup", "intensity", "concentration", "hierarchy", "autocorrelation",
            "inequality", "spatial_gini", "expansion", "lei", "patches", "stages")

#: table -> {key: (allowed types, required)}.
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "region": {"name": ((str,), True)},
    "boundaries": {"path": ((str,), False), "dataset": ((str,), False),
                   "layer": ((str,), False), "id": ((str,), True), "name": ((str,), False),
                   "groups": ((list, str), False), "crs": ((str,), False),
                   "make_valid": ((bool,), False), "population": ((str, dict), False)},
    "builtup": {"paths": ((list, str), False), "path": ((str,), False),
                "dataset": ((str,), False), "encoding": ((str,), False),
                "epochs": ((list,), False), "fraction_units": ((str,), False),
                "aoi": ((str,), False)},
    "measures": {"include": ((list,), False), "thresholds": ((list, float, int), False),
                 "top_k": ((int,), False), "lei_period": ((list,), False),
                 "graph": ((str,), False), "permutations": ((int,), False),
                 "seed": ((int,), False)},
    "dask": {"scheduler": ((str,), False)},
    "scenario": {"name": ((str,), True), "edits": ((str,), False), "vintage": ((str,), False),
                 "vintage_dataset": ((str,), False), "vintage_id": ((str,), False),
                 "vintage_layer": ((str,), False),
                 "edit": ((list,), False), "reallocation": ((str,), False),
                 "note": ((str,), False)},
}
TABLES = ("region", "boundaries", "builtup", "measures", "dask", "scenario")
REALLOCATION = ("area", "dasymetric")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_GRAPH = re.compile(r"^(queen|rook|knn\s*=\s*\d+|distance\s*=\s*[0-9.eE+]+)$")


@dataclass
class ScenarioSpec:
    """One ``[[scenario]]`` of a project: its name and where its edits come from.

    Attributes
    ----------
    name : str
        The scenario name (also the output folder and the ``scenario`` column).
    source : str
        ``"edits"`` (a scenario TOML file), ``"vintage"`` (a later boundary file) or
        ``"inline"`` (``[[scenario.edit]]`` tables in the project).
    edits : pathlib.Path or None
        The scenario file when ``source == "edits"``.
    vintage : pathlib.Path or None
        The later boundary file when ``source == "vintage"``.
    vintage_id, vintage_layer : str or None
        The id column and layer of ``vintage``.
    inline : list of dict
        The inline edits when ``source == "inline"``.
    reallocation : str
        How unit attributes follow the edits (``"area"`` shares, or a weight).
    index : int
        The 0-based position of the table in the file, to locate error messages.
    """

    name: str
    source: str  # "edits", "vintage" or "inline"
    edits: Path | None = None
    vintage: Path | None = None
    vintage_id: str | None = None
    vintage_layer: str | None = None
    inline: list = field(default_factory=list)
    reallocation: str = "area"
    index: int = 0


@dataclass
class Project:
    """A checked project file (:func:`load_project`).

    Attributes
    ----------
    path : Path
        The project file (``None`` when built from a dict).
    text : str
        Its text (for line numbers in errors).
    doc : dict
        The parsed TOML.
    region : str
        The region's name.
    boundaries, builtup, measures : dict
        The tables, with paths resolved and defaults filled in.
    scenarios : list of ScenarioSpec
    dask : dict
        The ``[dask]`` table: ``scheduler`` (None: compute in this process).
    """

    path: Path | None
    text: str
    doc: dict
    region: str
    boundaries: dict
    builtup: dict
    measures: dict
    scenarios: list[ScenarioSpec]
    dask: dict = field(default_factory=dict)

    def where(self, table: str, key: str | None = None, index: int | None = None,
              sub: str | None = None, sub_index: int | None = None) -> str:
        """Return ``file:line: [table] key`` for messages."""
        line = key_line(self.text, table, key, index, sub, sub_index)
        name = self.path.name if self.path else "project"
        head = f"[[{table}]] #{index + 1}" if index is not None else f"[{table}]"
        if sub:
            head += f" [[{table}.{sub}]] #{(sub_index or 0) + 1}"
        return f"{name}:{line}: {head}" + (f" {key}" if key else "")

    def error(self, exc_type, message: str, table: str, key: str | None = None,
              index: int | None = None, **kw):
        """Return ``exc_type`` with the located message."""
        return exc_type(f"{self.where(table, key, index, **kw)}: {message}")


def key_line(text: str, table: str, key: str | None = None, index: int | None = None,
             sub: str | None = None, sub_index: int | None = None) -> int:
    """Return the 1-based line of ``key`` in ``[table]`` (or of the table header).

    ``index`` picks the n-th ``[[table]]`` of an array of tables; ``sub`` / ``sub_index``
    a nested ``[[table.sub]]`` inside it.  Falls back to the table header, then to line 1.

    Parameters
    ----------
    text : str
        The TOML text of the project.
    table : str
        The table name (``"builtup"``, ``"scenario"``...).
    key : str, optional
        The key inside the table; the header line when None.
    index : int, optional
        The 0-based position of the table in an array of tables.
    sub : str, optional
        A nested array of tables (``"edit"`` for ``[[scenario.edit]]``).
    sub_index : int, optional
        The 0-based position of the nested table.

    Returns
    -------
    int
        The line number for an error message.
    """
    header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
    keyre = re.compile(rf"^\s*{re.escape(key)}\s*=") if key else None
    current, seen, sub_seen = None, -1, -1
    table_line = None
    for no, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            current = m.group(1).replace(" ", "")
            if current == table:
                seen += 1
                sub_seen = -1
            elif sub and current == f"{table}.{sub}":
                sub_seen += 1
            if _here(current, table, seen, index, sub, sub_seen, sub_index):
                table_line = table_line or no
            continue
        if current is None:
            continue
        if _here(current, table, seen, index, sub, sub_seen, sub_index):
            if keyre is not None and keyre.match(line):
                return no
    return table_line or 1


def _here(current, table, seen, index, sub, sub_seen, sub_index) -> bool:
    target = f"{table}.{sub}" if sub else table
    if current != target:
        return False
    if index is not None and seen != index:
        return False
    return not (sub and sub_index is not None and sub_seen != sub_index)


def _check_table(p: Project, table: str, body, index: int | None = None) -> None:
    if not isinstance(body, Mapping):
        raise p.error(ProjectError, f"must be a table, got {type(body).__name__}", table,
                      index=index)
    allowed = SCHEMA[table]
    for key, value in body.items():
        if key not in allowed:
            raise p.error(ProjectError, f"unknown key {key!r}; allowed keys: "
                          f"{', '.join(allowed)} (see gisfix.project for the schema)",
                          table, key, index)
        types, _ = allowed[key]
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            want = " or ".join("array" if t is list else "table" if t is dict else t.__name__
                               for t in types)
            raise p.error(ProjectError, f"must be {want}, got {value!r}", table, key, index)
    for key, (_, required) in allowed.items():
        if required and key not in body:
            raise p.error(ProjectError, f"missing required key {key!r}", table, None, index)


def _file(p: Project, value: str, table: str, key: str, index: int | None = None) -> Path:
    base = p.path.parent if p.path else Path.cwd()
    path = Path(os.path.expanduser(value))
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise p.error(InputFileError, f"no such file: {path}", table, key, index)
    return path


def _dataset(p: Project, name: str, table: str, kind: str, key: str = "dataset",
             index: int | None = None):
    from gisfix import datasets

    try:
        d = datasets.get(name)
        path = datasets.get_path(name)
    except GisfixError as exc:
        raise p.error(InputFileError, str(exc), table, key, index) from None
    if getattr(d, "kind", "boundaries") != kind:
        raise p.error(ProjectError, f"dataset {name!r} is a {d.kind} dataset; this key needs "
                      f"{kind}", table, key, index)
    return d, path


def load_project(source) -> Project:
    """Read a project file and check its structure and files (no data is read yet).

    Parameters
    ----------
    source : path-like or mapping
        A ``.toml`` project file, or its parsed structure (paths then relative to the
        current folder).

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        Unknown tables or keys, wrong types, missing required keys, bad values.
    InputFileError
        A file the project names does not exist.

    Examples
    --------
    >>> p = load_project({"region": {"name": "demo"},
    ...                   "boundaries": {"dataset": "swiss-2018", "id": "id"},
    ...                   "builtup": {"dataset": "degurba-switzerland-2025"}})
    >>> p.region, p.builtup["encoding"]
    ('demo', 'class=21,22,23,30')
    """
    if isinstance(source, Mapping):
        import tomli_w

        doc, path = dict(source), None
        text = tomli_w.dumps(doc)
    else:
        path = Path(source)
        if not path.exists():
            raise InputFileError(f"no such project file: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"{path.name}: a project file is UTF-8 text; this is not "
                               f"({exc.reason} at byte {exc.start})") from exc
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError(f"{path.name}: not valid TOML: {exc}") from None
    p = Project(path, text, doc, "", {}, {}, {}, [])
    for table in doc:
        if table not in TABLES:
            raise p.error(ProjectError, f"unknown table; a project has "
                          f"{', '.join(f'[{t}]' for t in TABLES[:-1])} and [[scenario]]",
                          table)
    for table in ("region", "boundaries", "builtup"):
        if table not in doc:
            raise ProjectError(f"{path.name if path else 'project'}: missing table [{table}]")
    for table in ("region", "boundaries", "builtup", "measures", "dask"):
        _check_table(p, table, doc.get(table, {}))
    p.region = doc["region"]["name"]
    p.boundaries = _boundaries(p, dict(doc["boundaries"]))
    p.builtup = _builtup(p, dict(doc["builtup"]))
    p.measures = _measures(p, dict(doc.get("measures", {})))
    p.dask = _dask(p, dict(doc.get("dask", {})))
    scenarios = doc.get("scenario", [])
    if not isinstance(scenarios, list):
        raise p.error(ProjectError, "must be an array of tables: write [[scenario]]",
                      "scenario")
    names: set[str] = set()
    for i, sc in enumerate(scenarios):
        _check_table(p, "scenario", sc, i)
        spec = _scenario(p, sc, i)
        if spec.name in names:
            raise p.error(ProjectError, f"duplicate scenario name {spec.name!r}", "scenario",
                          "name", i)
        names.add(spec.name)
        p.scenarios.append(spec)
    return p


def _boundaries(p: Project, b: dict) -> dict:
    if ("path" in b) == ("dataset" in b):
        raise p.error(ProjectError, "give exactly one of path = \"...\" or dataset = \"...\"",
                      "boundaries", "path" if "path" in b else None)
    if "dataset" in b:
        d, path = _dataset(p, b["dataset"], "boundaries", "boundaries")
        b["path"] = path
        b.setdefault("layer", d.layer)
    else:
        b["path"] = _file(p, b["path"], "boundaries", "path")
    groups = b.get("groups", [])
    b["groups"] = [groups] if isinstance(groups, str) else list(groups)
    for g in b["groups"]:
        if not isinstance(g, str):
            raise p.error(ProjectError, f"group columns must be strings, got {g!r}",
                          "boundaries", "groups")
    pop = b.get("population")
    if isinstance(pop, dict):
        try:
            b["population"] = {int(k): str(v) for k, v in pop.items()}
        except ValueError:
            raise p.error(ProjectError, "population by epoch must map years to columns, e.g. "
                          "{2000 = \"pop2000\"}", "boundaries", "population") from None
    b.setdefault("make_valid", False)
    return b


def _builtup(p: Project, r: dict) -> dict:
    given = [k for k in ("paths", "path", "dataset") if k in r]
    if len(given) != 1:
        raise p.error(ProjectError, "give exactly one of paths = [...], path = \"...\" or "
                      "dataset = \"...\"", "builtup", given[1] if len(given) > 1 else None)
    if "dataset" in r:
        d, path = _dataset(p, r["dataset"], "builtup", "raster")
        r["paths"] = [path]
        r.setdefault("encoding", d.layer)
    else:
        raw = r.pop("path", None) or r["paths"]
        raw = [raw] if isinstance(raw, str) else raw
        if not raw:
            raise p.error(ProjectError, "lists no raster", "builtup", given[0])
        r["paths"] = [_file(p, x, "builtup", given[0]) for x in raw]
    if "encoding" not in r:
        raise p.error(ProjectError, "missing required key 'encoding' (year-built, ldsmt, "
                      "binary, fraction or class=V[,V])", "builtup")
    if "aoi" in r:
        r["aoi"] = _file(p, r["aoi"], "builtup", "aoi")
    if "epochs" in r and not r["epochs"]:
        raise p.error(ProjectError, "epochs is empty; list epochs of the raster or leave the "
                      "key out (every epoch)", "builtup", "epochs")
    if "epochs" in r and not all(isinstance(e, int) for e in r["epochs"]):
        raise p.error(ProjectError, f"epochs must be integers, got {r['epochs']}", "builtup",
                      "epochs")
    return r


def _measures(p: Project, m: dict) -> dict:
    include = m.get("include")
    if include is not None:
        bad = [f for f in include if f not in FAMILIES]
        if bad:
            raise p.error(ProjectError, f"unknown measure famil(ies) {bad}; choose from "
                          f"{', '.join(FAMILIES)}", "measures", "include")
    th = m.get("thresholds", [0.3])
    th = [th] if isinstance(th, int | float) else th
    if not all(isinstance(t, int | float) and 0 < t < 1 for t in th):
        raise p.error(ProjectError, f"thresholds are shares between 0 and 1, got {th}",
                      "measures", "thresholds")
    lp = m.get("lei_period")
    if lp is not None and (len(lp) != 2 or not all(isinstance(e, int) for e in lp)):
        raise p.error(ProjectError, f"lei_period is two epochs [t0, t1], got {lp}",
                      "measures", "lei_period")
    graph = m.get("graph", "queen")
    if not _GRAPH.match(graph):
        raise p.error(ProjectError, f"unknown graph {graph!r}; write queen, rook, knn=K or "
                      "distance=D", "measures", "graph")
    if m.get("permutations", 0) < 0:
        raise p.error(ProjectError, "permutations must be >= 0", "measures", "permutations")
    if m.get("top_k", 1) < 1:
        raise p.error(ProjectError, "top_k must be >= 1", "measures", "top_k")
    return {"include": list(include) if include is not None else list(FAMILIES),
            "include_given": include is not None, "thresholds": [float(t) for t in th],
            "top_k": int(m.get("top_k", 3)), "lei_period": tuple(lp) if lp else None,
            "graph": m.get("graph", "queen"), "permutations": int(m.get("permutations", 999)),
            "seed": int(m.get("seed", 0))}


def _dask(p: Project, d: dict) -> dict:
    from gisfix.parallel import LOCAL_SCHEDULERS

    sched = d.get("scheduler")
    if sched is not None and sched not in LOCAL_SCHEDULERS and ":" not in sched:
        raise p.error(ProjectError, f"unknown scheduler {sched!r}; write one of "
                      f"{', '.join(LOCAL_SCHEDULERS)} or a dask.distributed address such as "
                      "'tcp://host:8786'", "dask", "scheduler")
    return {"scheduler": sched}


def _scenario(p: Project, sc: Mapping, i: int) -> ScenarioSpec:
    name = sc["name"]
    if not _NAME.match(name):
        raise p.error(ProjectError, f"name {name!r} names output layers: use letters, digits, "
                      "'_' and '-' only", "scenario", "name", i)
    sources = [k for k in ("edits", "vintage", "vintage_dataset", "edit") if k in sc]
    if len(sources) != 1:
        raise p.error(ProjectError, "give exactly one source of edits: edits = \"file.toml\", "
                      "vintage = \"path\" or [[scenario.edit]] tables", "scenario",
                      sources[1] if len(sources) > 1 else "name", i)
    realloc = sc.get("reallocation", "area")
    if realloc not in REALLOCATION:
        raise p.error(ProjectError, f"reallocation must be one of {', '.join(REALLOCATION)}, "
                      f"got {realloc!r}", "scenario", "reallocation", i)
    source = {"edit": "inline", "vintage_dataset": "vintage"}.get(sources[0], sources[0])
    spec = ScenarioSpec(name=name, source=source,
                        reallocation=realloc, index=i)
    if "edits" in sc:
        spec.edits = _file(p, sc["edits"], "scenario", "edits", i)
    elif "vintage" in sc or "vintage_dataset" in sc:
        if "vintage_dataset" in sc:
            d, spec.vintage = _dataset(p, sc["vintage_dataset"], "scenario", "boundaries",
                                       key="vintage_dataset", index=i)
            spec.vintage_id = sc.get("vintage_id", d.id)
            spec.vintage_layer = sc.get("vintage_layer", d.layer)
        else:
            spec.vintage = _file(p, sc["vintage"], "scenario", "vintage", i)
            spec.vintage_id = sc.get("vintage_id", p.boundaries["id"])
            spec.vintage_layer = sc.get("vintage_layer")
    else:
        from gisfix.edits.scenario import validate_edit

        spec.inline = [dict(e) for e in sc["edit"]]
        for k, e in enumerate(spec.inline):
            try:
                validate_edit(k + 1, e)
            except EditError as exc:
                raise p.error(EditError, _id_error(exc), "scenario", "op", i, sub="edit",
                              sub_index=k) from exc
    return spec


@dataclass
class Inputs:
    """The opened inputs of a project (:func:`open_inputs`).

    Attributes
    ----------
    units : GeoDataFrame
        The boundaries, indexed by the project's id column.
    stack : BuiltupStack
        The opened built-up rasters.
    scenarios : dict of str to Scenario
        The loaded scenarios by name.
    population : dict of int to str
        The population column of every epoch, or empty without population.
    files : dict of str to str
        Every input file by role, for the provenance record.
    vintages : dict of str to GeoDataFrame
        The later boundary vintage of each ``source = "vintage"`` scenario.
    """

    units: object
    stack: object
    scenarios: dict  # name -> Scenario
    population: dict  # epoch -> column (every epoch) or {}
    files: dict  # name -> path, for the provenance record
    vintages: dict = field(default_factory=dict)  # scenario name -> later vintage (units)


def _id_error(exc: Exception) -> str:
    return str(exc.args[0]) if exc.args else str(exc)


def open_inputs(project: Project, progress=None) -> Inputs:
    """Read the boundaries, open the rasters and load the scenarios; check them all.

    Parameters
    ----------
    project : Project
        A checked project (:func:`load_project`).
    progress : callable, optional
        Called with one short message per step (the CLI's ``--verbose``).

    Returns
    -------
    Inputs

    Raises
    ------
    IdError
        The id column, a group, name or population column is absent, or a scenario names
        an id the boundaries do not hold.
    RasterError
        An epoch (``[builtup] epochs``, ``[measures] lei_period``) the raster does not hold.
    EditError
        A malformed scenario.
    """
    from gisfix.boundaries import read_boundaries
    from gisfix.edits.scenario import load_scenario
    from gisfix.stack import open_builtup

    say = progress or (lambda msg: None)
    p, b, r = project, project.boundaries, project.builtup
    say("reading the boundaries")
    try:
        units = read_boundaries(b["path"], b["id"], layer=b.get("layer"), crs=b.get("crs"),
                                make_valid=b["make_valid"])
    except IdError as exc:
        raise p.error(IdError, _id_error(exc), "boundaries", "id") from exc
    except GisfixError as exc:
        raise p.error(type(exc), _id_error(exc), "boundaries", "path") from exc
    cols = [c for c in units.columns if c != units.geometry.name]
    for key in ("name",):
        if b.get(key) and b[key] not in units.columns:
            raise p.error(IdError, f"no column {b[key]!r} in {Path(b['path']).name}; columns: "
                          f"{', '.join(cols)}", "boundaries", key)
    for g in b["groups"]:
        if g not in units.columns:
            raise p.error(IdError, f"no group column {g!r} in {Path(b['path']).name}; "
                          f"columns: {', '.join(cols)}", "boundaries", "groups")
    say("opening the built-up rasters")
    kw = {}
    if "aoi" in r:
        import inspect

        if "aoi" not in inspect.signature(open_builtup).parameters:  # pragma: no cover
            raise p.error(ProjectError, "this gisfix cannot use a study area yet",
                          "builtup", "aoi")
        kw["aoi"] = r["aoi"]
    try:
        stack = open_builtup(r["paths"], r["encoding"], fraction_units=r.get("fraction_units",
                                                                             "unit"), **kw)
    except GisfixError as exc:
        raise p.error(type(exc), _id_error(exc), "builtup",
                      "encoding" if "encoding" in str(exc) else "paths") from exc
    if "epochs" in r:
        for e in r["epochs"]:
            if e not in stack.epochs:
                raise p.error(RasterError, f"the raster holds no epoch {e}; its epochs: "
                              f"{', '.join(map(str, stack.epochs))}", "builtup", "epochs")
        stack = open_builtup(r["paths"], r["encoding"], epochs=r["epochs"],
                             fraction_units=r.get("fraction_units", "unit"), **kw)
    lp = p.measures["lei_period"]
    if lp is not None:
        for e in lp:
            if e not in stack.epochs:
                raise p.error(RasterError, f"the raster holds no epoch {e}; its epochs: "
                              f"{', '.join(map(str, stack.epochs))}", "measures", "lei_period")
        if lp[1] <= lp[0]:
            raise p.error(ProjectError, f"lei_period must go forward in time, got {list(lp)}",
                          "measures", "lei_period")
    population = _population(p, units, stack)
    scenarios, vintages = {}, {}
    for spec in p.scenarios:
        say(f"loading scenario {spec.name}")
        got = _load_edits(p, spec, units, load_scenario)
        (vintages if spec.source == "vintage" else scenarios)[spec.name] = got
    files = {"project": p.path, "boundaries": b["path"], "rasters": list(r["paths"])}
    if "aoi" in r:
        files["aoi"] = r["aoi"]
    for spec in p.scenarios:
        if spec.edits or spec.vintage:
            files[f"scenario:{spec.name}"] = spec.edits or spec.vintage
    return Inputs(units, stack, scenarios, population, files, vintages)


def _population(p: Project, units, stack) -> dict:
    pop = p.boundaries.get("population")
    if pop is None:
        return {}
    cols = [c for c in units.columns if c != units.geometry.name]
    by_epoch = pop if isinstance(pop, dict) else dict.fromkeys(stack.epochs, pop)
    for e, col in by_epoch.items():
        if col not in units.columns:
            raise p.error(IdError, f"no population column {col!r}; columns: "
                          f"{', '.join(cols)}", "boundaries", "population")
        if e not in stack.epochs:
            raise p.error(RasterError, f"population for epoch {e}, which the raster does not "
                          f"hold; its epochs: {', '.join(map(str, stack.epochs))}",
                          "boundaries", "population")
    return by_epoch


def _load_edits(p: Project, spec: ScenarioSpec, units, load_scenario):
    """Return the scenario of ``spec`` (checked against the units), or its vintage's units.

    The edits of a vintage are found by the workflow (:func:`gisfix.edits.diff.diff`,
    then :func:`check_scenario_ids`): a reader does not run edits.
    """
    i = spec.index
    if spec.source == "edits":
        try:
            sc = load_scenario(spec.edits)
        except GisfixError as exc:
            raise p.error(type(exc), _id_error(exc), "scenario", "edits", i) from exc
        where = {"key": "edits"}
    elif spec.source == "vintage":
        from gisfix.boundaries import read_boundaries

        try:
            return read_boundaries(spec.vintage, spec.vintage_id, layer=spec.vintage_layer,
                                   crs=units.crs, make_valid=p.boundaries["make_valid"])
        except IdError as exc:
            raise p.error(IdError, _id_error(exc), "scenario", "vintage_id", i) from exc
        except GisfixError as exc:
            raise p.error(type(exc), _id_error(exc), "scenario", "vintage", i) from exc
    else:
        sc = load_scenario({"scenario": {"name": spec.name}, "edit": spec.inline})
        where = None
    check_scenario_ids(p, spec, sc, units, where)
    return sc


#: edit keys naming ids that must exist before the edit, by operation.
_NEEDS = {"merge": ("units",), "split": ("unit",), "transfer": ("from", "to"),
          "recode": ("unit",)}


def check_scenario_ids(p: Project, spec: ScenarioSpec, sc, units, where=None) -> None:
    """Walk the edits in order and raise on the first id that does not exist then.

    Merges, splits and recodes change the set of ids as the walk goes, so an edit may name
    a unit created by an earlier one; a ``dissolve`` ends the check.

    Parameters
    ----------
    p : Project
        The project, to locate the message.
    spec : ScenarioSpec
        The scenario's table in the project.
    sc : Scenario
        The loaded scenario (its ``edits``, in order).
    units : GeoDataFrame
        The boundaries the scenario applies to, indexed by id.
    where : dict, optional
        ``{"key": ...}`` to point the error at a key of the ``[[scenario]]`` table (a
        scenario file) instead of the inline edit.

    Raises
    ------
    IdError
        When an edit names an id that the boundaries do not hold at that point.
    """
    ids = set(map(str, units.index))
    for k, edit in enumerate(sc.edits):
        op = edit["op"]
        for key in _NEEDS.get(op, ()):
            vals = edit[key] if isinstance(edit[key], list) else [edit[key]]
            for v in vals:
                if str(v) not in ids:
                    msg = (f"edit {k + 1} ({op}) names unit {v!r}, which the boundaries do "
                           f"not hold (at that point of the scenario); check the id column "
                           f"{p.boundaries['id']!r}")
                    if where is None:
                        raise p.error(IdError, msg, "scenario", key, spec.index, sub="edit",
                                      sub_index=k)
                    raise p.error(IdError, msg, "scenario", where["key"], spec.index)
        if op == "merge":
            ids -= set(map(str, edit["units"]))
            ids.add(str(edit["into"]))
        elif op == "split":
            ids.discard(str(edit["unit"]))
            ids |= set(map(str, edit["new_ids"]))
        elif op == "recode" and edit.get("new_id"):
            ids.discard(str(edit["unit"]))
            ids.add(str(edit["new_id"]))
        elif op == "dissolve":
            return


def write_project(doc: Mapping, path, overwrite: bool = False) -> Path:
    """Write a project structure as TOML, atomically (``gisfix run`` records its inputs).

    Parameters
    ----------
    doc : Mapping
        The project tables; None values are left out, paths become strings.
    path : str or os.PathLike
        The TOML file to write.
    overwrite : bool
        Allow replacing an existing file.

    Returns
    -------
    pathlib.Path
        ``Path(path)``.

    Raises
    ------
    OutputExistsError, OutputFormatError
        As :func:`gisfix.io.check_output`.
    """
    import tomli_w

    from gisfix.io import _jsonable, atomic_path

    def plain(obj):
        if isinstance(obj, Mapping):
            return {str(k): plain(v) for k, v in obj.items() if v is not None}
        if isinstance(obj, list | tuple):
            return [plain(v) for v in obj]
        if isinstance(obj, os.PathLike):
            return str(obj)
        return _jsonable(obj)

    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(tomli_w.dumps(plain(doc)), encoding="utf-8")
    return Path(path)


__all__ = ["FAMILIES", "Inputs", "Project", "ScenarioSpec", "check_scenario_ids", "key_line",
           "load_project", "open_inputs", "write_project"]
