r"""Administrative-division events: who changed, when, and into what.

An *event table* has one row per change of one unit, with the columns

``unit_id``
    the unit that changed (its id before the change);
``year``
    the year the change took effect (int);
``event``
    one of :data:`EVENT_KINDS`: ``county_to_district`` (撤县设区 / 撤市设区),
    ``county_to_city`` (撤县设市), ``merge`` (the unit joins another one), ``split`` (the
    unit is divided among several), ``transfer`` (part of the unit moves to another one,
    the unit persists) or ``recode`` (a new code or name, same territory);
``new_ids``
    the ids the unit's area went to, ``;``-separated (a CSV-friendly list);
``date``
    the ISO date where known (empty otherwise);

plus, where the source tells: ``name``, ``new_names``, ``conversion`` (for
``county_to_district``: ``whole``, ``merged`` or ``split``, see below),
``prefecture_reorg`` and ``source``.

It is built from any of three sources:

* :func:`events_from_vintages`: a sequence of boundary vintages with their years; each
  consecutive pair is diffed with :func:`gisfix.edits.diff.diff` and every detected edit
  becomes events dated by the later vintage's year;
* :func:`events_from_scenario`: the ``year`` fields of a scenario's edits;
* :func:`read_code_history`: a Chinese code-history table in the format of the
  ``areacodes`` project (yescallop/areacodes, CC0): one row per code and period of use,
  with ``代码`` (code), ``一级行政区`` / ``二级行政区`` (province / prefecture), ``名称``
  (name), ``级别`` (level), ``状态`` (在用 in use, 弃用 abolished, 变更 changed),
  ``启用时间`` (first year in use), ``变更/弃用时间`` (the year of the change: each year's
  list is as of 31 December, so a code abolished in year *Y* was last listed on 31
  December *Y* - 1) and ``新代码`` (where the area went, ``;``-separated; a ``[YYYY]``
  suffix marks an earlier partial transfer in year YYYY, not the change itself).

Kinds of units (GB/T 2260)
--------------------------
A county-level unit is a *district* (区), a *county* (县, or a banner 旗 in Inner Mongolia)
or a *county-level city* (市).  :func:`unit_kind` reads the name suffix first (区 / 县 /
旗 / 市; 自治县 and 自治旗 end in 县 and 旗) and falls back on the code when the name is
missing or ends otherwise: the last two digits 01-20 mean a district, 21-80 a county or
banner, 81-99 a county-level city.  The suffix wins because the code rule has documented
exceptions: the province-administered units under ``XX90`` (e.g. 429004 仙桃市, a city
with digits 04) and 林区 / 特区.

Classification rules of the code history
----------------------------------------
For every county-level record whose code was abolished or changed in year *Y*, the
unsuffixed entries of ``新代码`` are its *targets* (the records in use in year *Y* under
those codes); ``[YYYY]`` entries become ``transfer`` events in year YYYY.

1. A record marked 变更 whose only target is its own code is a ``recode`` (a new name).
2. A county or county-level city whose targets are all districts is a
   ``county_to_district`` conversion, classified as

   * ``whole``: one target, a code first used in year *Y*, and no other unit's area went
     wholly to that code in year *Y* (the county became a district on the same
     territory: 蓟县 120225 -> 蓟州区 120119 in 2016);
   * ``merged``: one target that existed before *Y* or that also took in other units
     (江浦县 320122 -> 浦口区 320111 in 2002);
   * ``split``: several targets (the county was divided among districts).

3. A county whose one target is a county-level city is ``county_to_city``.
4. Otherwise several targets make a ``split``; one target that is a new code taking in
   only this unit makes a ``recode``; one target taking in others, or existing before,
   makes a ``merge``.

``prefecture_reorg`` is True when the change coincides with a reorganisation of the
prefecture: the target lies in another prefecture (``二级行政区`` differs), or the
prefecture-level record of the unit (code ``XXXX00``) was itself abolished or changed in
year *Y* (e.g. a prefecture 地区 becoming a prefecture-level city 市).

On ``china_county_panel/areacodes_result.csv`` the whole conversions per year 2001-2020
are those printed by ``tests/test_events.py`` and listed in the README.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gisfix.errors import DataError, IdError, InputFileError

#: Kinds of event, in the ``event`` column.
EVENT_KINDS = ("county_to_district", "county_to_city", "merge", "split", "transfer", "recode")
#: Columns every event table has, in order.
EVENT_COLUMNS = ["unit_id", "year", "event", "new_ids", "date"]
#: Optional columns an event table may have (the code history fills them all).
EXTRA_COLUMNS = ["name", "new_names", "conversion", "prefecture_reorg", "source"]
#: Kinds of county-to-district conversion (``conversion`` column).
CONVERSION_KINDS = ("whole", "merged", "split")
#: Columns of a code-history table (areacodes format).
HISTORY_COLUMNS = ["代码", "一级行政区", "二级行政区", "名称", "级别", "状态", "启用时间",
                   "变更/弃用时间", "新代码"]
#: Name suffix -> kind of county-level unit.
NAME_SUFFIXES = {"区": "district", "县": "county", "旗": "county", "市": "city"}

_TARGET = re.compile(r"^\s*(\d{6})\s*(?:\[(\d{4})\])?\s*$")


def unit_kind(code, name=None) -> str | None:
    """Return the kind of a county-level unit: ``district``, ``county`` or ``city``.

    Parameters
    ----------
    code : str or int
        A six-digit GB/T 2260 code.
    name : str, optional
        The unit's name; its suffix (区 / 县 / 旗 / 市) decides when present.

    Returns
    -------
    str or None
        None for a code that is not a six-digit county-level code (``XXXX00``).

    Examples
    --------
    >>> unit_kind("120225", "蓟县"), unit_kind("120119"), unit_kind("330183", "富阳市")
    ('county', 'district', 'city')
    >>> unit_kind("429004", "仙桃市")
    'city'
    """
    if isinstance(name, str) and name.strip():
        kind = NAME_SUFFIXES.get(name.strip()[-1])
        if kind is not None:
            return kind
    text = str(code).strip()
    if not re.fullmatch(r"\d{6}", text) or text.endswith("00"):
        return None
    last = int(text[-2:])
    return "district" if last <= 20 else "county" if last <= 80 else "city"


def classify_change(old_kind: str | None, new_kinds: list) -> str:
    """Return the event kind of a unit of ``old_kind`` whose whole area went to ``new_kinds``.

    Parameters
    ----------
    old_kind : str or None
        :func:`unit_kind` of the unit before.
    new_kinds : list of str or None
        :func:`unit_kind` of each target.

    Returns
    -------
    str
        ``county_to_district`` (a county or county-level city whose targets are all
        districts), ``county_to_city`` (a county going to one city), ``split`` (several
        targets otherwise) or ``recode`` (one target otherwise; the caller turns it into
        ``merge`` when the target takes in other units too).
    """
    if old_kind in ("county", "city") and new_kinds and all(k == "district" for k in new_kinds):
        return "county_to_district"
    if len(new_kinds) > 1:
        return "split"
    if old_kind == "county" and new_kinds == ["city"]:
        return "county_to_city"
    return "recode"


def empty_events() -> pd.DataFrame:
    """Return an empty event table with the standard columns."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "year" else "str")
                         for c in EVENT_COLUMNS})


def _finish(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_events()
    df = pd.DataFrame(rows)
    for col in EVENT_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    extra = [c for c in EXTRA_COLUMNS if c in df.columns]
    df = df[EVENT_COLUMNS + extra]
    df["year"] = df["year"].astype("int64")
    df["date"] = df["date"].fillna("").astype(str)
    return df.sort_values(["year", "unit_id", "event"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# code history
# --------------------------------------------------------------------------------------

def read_history_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a code-history CSV (areacodes format, UTF-8 with or without BOM) as text.

    Parameters
    ----------
    path : path-like
        The CSV file.

    Returns
    -------
    DataFrame
        The columns of :data:`HISTORY_COLUMNS`, all strings (empty cells as NA); the
        years as nullable integers.

    Raises
    ------
    InputFileError
        If the file is missing.
    DataError
        If a column is missing.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"code history {p} does not exist; give the areacodes "
                             "result CSV (e.g. areacodes_result.csv)")
    from gisfix.boundaries import read_table

    table = read_table(p, all_text=True, what="code history")
    missing = [c for c in HISTORY_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{p.name} is not an areacodes code history: missing column(s) "
                        f"{', '.join(missing)}; found {', '.join(map(str, table.columns))}")
    table = table.replace("", pd.NA)
    for col in ("启用时间", "变更/弃用时间"):
        try:
            table[col] = pd.to_numeric(table[col]).astype("Int64")
        except (ValueError, TypeError) as err:
            raise DataError(f"{p.name}: column {col} must hold years; {err}") from err
    return table


def _parse_targets(text) -> tuple[list[str], list[tuple[str, int]]]:
    """Split ``新代码`` into the targets of the change and the earlier partial transfers."""
    targets, partial = [], []
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return targets, partial
    for part in str(text).split(";"):
        if not part.strip():
            continue
        m = _TARGET.match(part)
        if m is None:
            raise DataError(f"cannot read the new-code entry {part!r} (in {text!r}); expected "
                            "a six-digit code with an optional [YYYY] suffix")
        if m.group(2):
            partial.append((m.group(1), int(m.group(2))))
        else:
            targets.append(m.group(1))
    return targets, partial


def code_history_events(table: pd.DataFrame) -> pd.DataFrame:
    """Classify the changes of a code-history table into events (rules: module notes).

    Parameters
    ----------
    table : DataFrame
        As :func:`read_history_table` returns it.

    Returns
    -------
    DataFrame
        The event table with ``name``, ``new_names``, ``conversion``, ``prefecture_reorg``
        and ``source = "code_history"``; ``date`` is empty (the table has years only).
    """
    table = table[HISTORY_COLUMNS]
    county = table[table["级别"] == "县级"]
    prefecture_end = {}
    for rec in table[table["级别"] == "地级"].itertuples(index=False):
        end = rec[7]
        if end is not pd.NA:
            prefecture_end.setdefault(rec[0], set()).add(int(end))
    by_code: dict[str, list] = {}
    for rec in county.itertuples(index=False):
        by_code.setdefault(rec[0], []).append(rec)

    def record_at(code: str, year: int):
        """The record of ``code`` in use during ``year`` (None if none)."""
        for rec in by_code.get(code, []):
            start, end = rec[6], rec[7]
            if (start is pd.NA or start <= year) and (end is pd.NA or end > year):
                return rec
        return None

    changes = []  # (rec, year, targets)
    sources: dict[tuple[str, int], set[str]] = {}
    rows: list[dict] = []
    for rec in county.itertuples(index=False):
        code, prov, pref, name, _lvl, status, _start, end, new = rec
        targets, partial = _parse_targets(new)
        for to, year in partial:
            to_rec = record_at(to, year)
            rows.append({"unit_id": code, "year": year, "event": "transfer", "new_ids": to,
                         "name": name, "new_names": to_rec[3] if to_rec else "",
                         "prefecture_reorg": False, "source": "code_history"})
        if end is pd.NA or status == "在用" or not targets:
            continue
        year = int(end)
        changes.append((rec, year, targets))
        for to in targets:
            sources.setdefault((to, year), set()).add(code)
    for rec, year, targets in changes:
        code, _prov, pref, name, _lvl, status, _start, _end, _new = rec
        to_recs = [record_at(t, year) for t in targets]
        new_names = [r[3] if r is not None else "" for r in to_recs]
        if status == "变更" and targets == [code]:
            event, conversion = "recode", ""
        else:
            old_kind = unit_kind(code, name)
            new_kinds = [unit_kind(t, n or None) for t, n in zip(targets, new_names)]
            event = classify_change(old_kind, new_kinds)
            conversion = ""
            if len(targets) == 1:
                t, t_rec = targets[0], to_recs[0]
                new_code = t_rec is not None and t_rec[6] is not pd.NA and int(t_rec[6]) == year
                alone = sources.get((t, year), set()) <= {code}
                if event == "county_to_district":
                    conversion = "whole" if (new_code and alone) else "merged"
                elif event == "recode" and not (new_code and alone) and t != code:
                    event = "merge"
            elif event == "county_to_district":
                conversion = "split"
        reorg = any(r is not None and r[2] != pref for r in to_recs) or (
            year in prefecture_end.get(code[:4] + "00", set()))
        rows.append({"unit_id": code, "year": year, "event": event,
                     "new_ids": ";".join(targets), "name": name,
                     "new_names": ";".join(new_names), "conversion": conversion,
                     "prefecture_reorg": bool(reorg), "source": "code_history"})
    out = _finish(rows)
    out["prefecture_reorg"] = out["prefecture_reorg"].astype(bool)
    out["conversion"] = out["conversion"].fillna("")
    return out


def read_code_history(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Chinese code-history table and return its event table.

    Parameters
    ----------
    path : path-like
        A CSV in the areacodes format (e.g. ``china_county_panel/areacodes_result.csv``,
        UTF-8 with BOM); see the module notes for the columns and the classification rules.

    Returns
    -------
    DataFrame
        The event table (:data:`EVENT_COLUMNS` plus ``name``, ``new_names``,
        ``conversion``, ``prefecture_reorg``, ``source``), one row per change of a
        county-level code, sorted by year.

    Examples
    --------
    >>> ev = read_code_history("areacodes_result.csv")  # doctest: +SKIP
    >>> ev.query("event == 'county_to_district' and conversion == 'whole'")  # doctest: +SKIP
    """
    return code_history_events(read_history_table(path))


def conversions_per_year(events: pd.DataFrame, t0: int, t1: int,
                         conversion: str = "whole") -> pd.Series:
    """Count the county-to-district conversions of one kind per year ``t0..t1``.

    Parameters
    ----------
    events : DataFrame
        An event table with a ``conversion`` column (:func:`read_code_history`).
    t0, t1 : int
        First and last year (inclusive).
    conversion : str
        ``whole``, ``merged`` or ``split``.

    Returns
    -------
    Series
        Indexed by year (every year of the range, zeros included).
    """
    sel = events[(events["event"] == "county_to_district")
                 & (events.get("conversion", "") == conversion)]
    return (sel.groupby("year").size().reindex(range(t0, t1 + 1), fill_value=0)
            .rename(f"{conversion}_conversions"))


def follow_ids(events: pd.DataFrame, ids, year, target_ids) -> pd.Series:
    """Follow units through later whole-territory changes until they reach ``target_ids``.

    A county converted in 2014 whose new district was renamed under a new code in 2016 is
    found in a 2020 panel under the 2016 code: starting from each id (as of ``year``), the
    later one-target events (``recode``, whole ``county_to_district``,
    ``county_to_city``) are followed in order.

    Parameters
    ----------
    events : DataFrame
        An event table.
    ids : sequence of str
        Ids as of the years in ``year``.
    year : int or sequence of int
        The year each id starts from (changes in later years are followed).
    target_ids : collection of str
        The ids of the target geography (e.g. a panel's units).

    Returns
    -------
    Series
        Indexed like ``ids``: the id in ``target_ids`` (NA where the chain ends elsewhere).
    """
    target = set(map(str, target_ids))
    ids = [str(i) for i in ids]
    years = list(year) if np.ndim(year) else [int(year)] * len(ids)
    one = events[~events["new_ids"].astype(str).str.contains(";")
                 & events["event"].isin(["recode", "county_to_district", "county_to_city"])]
    if "conversion" in one.columns:
        one = one[(one["event"] != "county_to_district") | (one["conversion"] == "whole")]
    steps = {}
    for rec in one.sort_values("year").itertuples(index=False):
        steps.setdefault(str(rec.unit_id), []).append((int(rec.year), str(rec.new_ids)))
    out = []
    for uid, y in zip(ids, years):
        cur, yr, seen = uid, int(y), set()
        while cur not in target and cur not in seen:
            seen.add(cur)
            nxt = [(sy, n) for sy, n in steps.get(cur, []) if sy > yr]
            if not nxt:
                break
            yr, cur = nxt[0]
        out.append(cur if cur in target else pd.NA)
    return pd.Series(out, index=pd.Index(ids, name="unit_id"), dtype="object")


# --------------------------------------------------------------------------------------
# scenarios and vintages
# --------------------------------------------------------------------------------------

def edit_events(edit: Mapping, year: int, names_old: Mapping | None = None,
                names_new: Mapping | None = None) -> list[dict]:
    """Turn one boundary edit (scenario syntax) into events of year ``year``.

    Recodes, and merges into a unit with another code, are classified by
    :func:`classify_change` from the codes and, where given, the names.

    Parameters
    ----------
    edit : mapping
        A validated edit (:func:`gisfix.edits.scenario.validate_edit`).
    year : int
        The year of the change.
    names_old, names_new : mapping, optional
        Unit names before and after, by id.

    Returns
    -------
    list of dict
        Event rows.
    """
    names_old = names_old or {}
    names_new = names_new or {}
    op = edit["op"]

    def kind_of(uid, names):
        return unit_kind(uid, names.get(uid))

    rows = []
    if op == "merge":
        into = edit["into"]
        new_name = edit.get("name") or names_new.get(into)
        for uid in edit["units"]:
            if uid == into:
                continue
            ev = classify_change(kind_of(uid, names_old), [unit_kind(into, new_name)])
            rows.append({"unit_id": uid, "year": year, "new_ids": into,
                         "event": "merge" if ev == "recode" else ev,
                         "new_names": new_name or ""})
    elif op == "recode":
        new = edit.get("new_id", edit["unit"])
        new_name = edit.get("name") or names_new.get(new)
        ev = classify_change(kind_of(edit["unit"], names_old), [unit_kind(new, new_name)])
        rows.append({"unit_id": edit["unit"], "year": year, "event": ev, "new_ids": new,
                     "new_names": new_name or ""})
    elif op == "split":
        rows.append({"unit_id": edit["unit"], "year": year, "event": "split",
                     "new_ids": ";".join(edit["new_ids"])})
    elif op == "transfer":
        rows.append({"unit_id": edit["from"], "year": year, "event": "transfer",
                     "new_ids": edit["to"]})
    else:  # dissolve: no unit-level detail without the data
        raise DataError(f"a {op!r} edit has no unit-level events; list its merges instead")
    for row in rows:
        row["name"] = names_old.get(row["unit_id"], "")
    return rows


def events_from_scenario(scenario, year: int | None = None) -> pd.DataFrame:
    """Return the event table of a scenario, dated by the ``year`` of each edit.

    Parameters
    ----------
    scenario : Scenario, mapping or path
        See :func:`gisfix.edits.load_scenario`.
    year : int, optional
        The year of edits that carry none; without it such an edit is an error.

    Returns
    -------
    DataFrame
        The event table (``source = "scenario"``).

    Raises
    ------
    DataError
        For an edit without a year when ``year`` is not given.
    """
    from gisfix.edits.scenario import load_scenario

    sc = load_scenario(scenario)
    rows = []
    for i, edit in enumerate(sc.edits, start=1):
        y = edit.get("year", year)
        if y is None:
            raise DataError(f"edit {i} ({edit['op']}) of scenario {sc.name!r} has no 'year'; "
                            "add year = YYYY to the edit or pass year=")
        for row in edit_events(edit, int(y)):
            row["source"] = "scenario"
            rows.append(row)
    return _finish(rows)


def events_from_vintages(vintages: Mapping, *, name_col: str | None = None,
                         tolerance_m: float | None = None) -> pd.DataFrame:
    """Diff consecutive boundary vintages and return their edits as events.

    Parameters
    ----------
    vintages : mapping of int -> GeoDataFrame
        Each vintage's year and its units, indexed by id (as
        :func:`gisfix.read_boundaries` returns them).
    name_col : str, optional
        A name column present in every vintage: names then classify recodes by suffix.
    tolerance_m : float, optional
        Passed to :func:`gisfix.edits.diff.diff` (default: estimated per pair).

    Returns
    -------
    DataFrame
        The event table; every change between vintages *a* < *b* is dated *b*
        (``source = "vintages"``).

    Raises
    ------
    DataError
        With fewer than two vintages.
    """
    from gisfix.edits.diff import diff

    years = sorted(int(y) for y in vintages)
    if len(years) < 2:
        raise DataError(f"events_from_vintages needs at least two vintages; got {years}")
    frames = {int(y): v for y, v in vintages.items()}
    rows = []
    for a, b in zip(years[:-1], years[1:]):
        old, new = frames[a], frames[b]
        res = diff(old, new, tolerance_m=tolerance_m, name=name_col)
        names_old = old[name_col].astype(str).to_dict() if name_col else {}
        names_new = new[name_col].astype(str).to_dict() if name_col else {}
        for edit in res.edits:
            if edit["op"] == "recode" and "new_id" not in edit:
                edit = {**edit, "new_id": edit["unit"]}
            for row in edit_events(edit, b, names_old, names_new):
                row["source"] = "vintages"
                rows.append(row)
    ev = _finish(rows)
    # temporary ids of the diff (``<id>*``, ``<old>><new>``) are not units
    return ev[~ev["unit_id"].str.contains(r"[*>]") & ~ev["new_ids"].str.contains(r"[*>]")
              ].reset_index(drop=True)


# --------------------------------------------------------------------------------------
# reading and checking event tables and panels
# --------------------------------------------------------------------------------------

def check_events(events: pd.DataFrame) -> pd.DataFrame:
    """Check an event table's columns and values; return it with ids and years normalized.

    Parameters
    ----------
    events : DataFrame
        An event table (``unit_id, year, event, new_ids``, optionally ``date``...).

    Returns
    -------
    DataFrame
        The same rows, ids as text and years as ints.

    Raises
    ------
    DataError
        For a missing column, a non-integer year or an unknown event kind.
    """
    missing = [c for c in ("unit_id", "year", "event") if c not in events.columns]
    if missing:
        raise DataError(f"an event table needs columns {', '.join(EVENT_COLUMNS)}; missing "
                        f"{', '.join(missing)} (found {', '.join(map(str, events.columns))})")
    ev = events.copy()
    if ev["unit_id"].isna().any():
        raise IdError("the event table has empty unit_id values; give every event a unit id")
    ev["unit_id"] = ev["unit_id"].astype(str).str.strip()
    years = pd.to_numeric(ev["year"], errors="coerce")
    bad = ev.loc[years.isna() | (years != years.round()), "year"]
    if len(bad):
        raise DataError(f"event years must be integers; got {list(bad.astype(str)[:5])} "
                        f"(units {', '.join(ev.loc[bad.index, 'unit_id'][:5])})")
    ev["year"] = years.astype("int64")
    unknown = sorted(set(ev["event"].astype(str)) - set(EVENT_KINDS))
    if unknown:
        raise DataError(f"unknown event kind(s) {', '.join(unknown)}; use one of "
                        f"{', '.join(EVENT_KINDS)}")
    for col in ("new_ids", "date"):
        if col not in ev.columns:
            ev[col] = ""
        ev[col] = ev[col].fillna("").astype(str)
    return ev


def read_events(path: str | os.PathLike) -> pd.DataFrame:
    """Read an event table from CSV or Parquet (ids as text) and check it.

    Parameters
    ----------
    path : path-like
        A file written by :func:`gisfix.io.write_table` or by hand with the columns
        ``unit_id, year, event`` (``new_ids``, ``date`` optional).

    Returns
    -------
    DataFrame
        The checked event table (:func:`check_events`).
    """
    return check_events(read_panel(path, text_cols=("unit_id", "new_ids", "date")))


def read_panel(path: str | os.PathLike, id_col: str | None = None,
               text_cols=()) -> pd.DataFrame:
    """Read a unit x year table from CSV or Parquet, keeping ids as text.

    Parameters
    ----------
    path : path-like
        ``.csv`` or ``.parquet``.
    id_col : str, optional
        The id column, read as text (codes such as ``"012345"`` keep their zeros).
    text_cols : sequence of str
        More columns to read as text.

    Returns
    -------
    DataFrame

    Raises
    ------
    InputFileError
        If the file is missing or its suffix is not .csv/.parquet.
    """
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputFileError(f"cannot read {p.name}: tables are .csv or .parquet; got "
                             f"{p.suffix.lower() or '(no suffix)'!r}")
    from gisfix.boundaries import read_table

    return read_table(p, text_cols=[c for c in (id_col, *text_cols) if c])


__all__ = [
    "CONVERSION_KINDS",
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "check_events",
    "classify_change",
    "code_history_events",
    "conversions_per_year",
    "edit_events",
    "empty_events",
    "events_from_scenario",
    "events_from_vintages",
    "follow_ids",
    "read_code_history",
    "read_events",
    "read_history_table",
    "read_panel",
]
