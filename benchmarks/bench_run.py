"""Benchmark: ``gisfix run`` with a three-county merger scenario vs the base run alone.

Workload: DC-Baltimore GHSL 1975-2030 (``../shared/data/ghsl_dc_baltimore``), 30 counties,
every measure family (LEI 1990 -> 2020, 99 permutations); the scenario merges 11001, 51013
and 51510 (DC, Arlington, Alexandria).  Aim (issue 10): the run with the scenario takes at
most 1.5x the base run alone (scenarios reuse the base pass: summed built-up areas, patch
metrics only for the changed unit, LEI summaries summed through the lineage).

Run: ``.venv/bin/python benchmarks/bench_run.py``.  Both runs, whole (outputs written),
alternate in one process after a warm-up; the best of ``REPEAT`` of each is compared.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd

from gisfix.workflows.run import run_project

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GISFIX_SHARED_DATA", ROOT.parent / "shared" / "data"))
REPEAT = 2
AIM = 1.5


def projects(folder: Path) -> tuple[Path, Path]:
    g = gpd.read_file(SHARED / "ghsl_dc_baltimore" / "counties_2017_census.gpkg",
                      layer="counties")
    g["state"] = g["fips"].astype(str).str[:2]
    g.to_file(folder / "counties_state.gpkg", layer="counties")
    text = (ROOT / "tests" / "data" / "dc_merger.toml").read_text().replace(
        "@SHARED@", str(SHARED))
    with_scenario = folder / "dc_merger.toml"
    with_scenario.write_text(text)
    base = folder / "dc_base.toml"
    base.write_text(text[:text.index("[[scenario]]")])
    return base, with_scenario


def timed(project: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run_project(project, out)
    return time.perf_counter() - t0


def main() -> int:
    if not (SHARED / "ghsl_dc_baltimore").exists():
        print(f"skipped: {SHARED / 'ghsl_dc_baltimore'} is absent")
        return 0
    logging.disable(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="gisfix-bench-run-"))
    try:
        base, scen = projects(folder)
        timed(base, folder / "warm")
        tb, ts = [], []
        for _ in range(REPEAT):
            tb.append(timed(base, folder / "base"))
            ts.append(timed(scen, folder / "scen"))
        b, s = min(tb), min(ts)
        print(f"gisfix run, DC 30 counties, 12 epochs: base alone {b:.2f} s, with the "
              f"three-county merger {s:.2f} s")
        print(f"ratio scenario run / base run: {s / b:.2f} (aim <= {AIM})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
