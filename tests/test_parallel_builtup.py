"""The built-up engine on dask (issue 14): identical results to the in-process path."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from gisfix.errors import GisfixWarning, UsageError
from gisfix.parallel import compute, resolve_scheduler


def test_resolve_scheduler_choices():
    assert resolve_scheduler(None) is None
    assert resolve_scheduler("threads") == "threads"
    assert resolve_scheduler("processes") == "processes"
    with pytest.raises(UsageError, match="scheduler must be"):
        resolve_scheduler("fast")
    with pytest.raises(UsageError, match="scheduler must be"):
        resolve_scheduler(3)


def test_compute_in_process_runs_callables_in_order():
    assert compute([lambda: 1, lambda: 2]) == [1, 2]


def _dc(shared):
    from gisfix import open_builtup, read_boundaries

    folder = shared("ghsl_dc_baltimore")
    units = read_boundaries(folder / "counties_2017_census.gpkg", "fips")
    stack = open_builtup(folder / "ghsl_year_built_100m_mollweide.tif", "year-built",
                         aoi=folder / "aoi.geojson")
    return units, stack


def _run(units, stack, **kw):
    from gisfix import builtup_by_unit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GisfixWarning)
        return builtup_by_unit(units, stack, max_cells=1407 * 64, **kw)


@pytest.mark.shared
def test_local_cluster_two_processes_identical_to_single_process(shared):
    distributed = pytest.importorskip("distributed")
    units, stack = _dc(shared)
    # fresh stacks: epochs found in the counting pass of each run
    ref = _run(units, stack, threads=1)
    units, stack2 = _dc(shared)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = _run(units, stack2, scheduler=client)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert len(ref["epoch"].unique()) == 12


@pytest.mark.shared
@pytest.mark.parametrize("scheduler", ["threads"])
def test_local_schedulers_identical(shared, scheduler):
    units, stack = _dc(shared)
    ref = _run(units, stack, threads=2)
    got = _run(units, _dc(shared)[1], scheduler=scheduler)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert np.isfinite(ref["valid_km2"]).all()


@pytest.mark.shared
def test_cli_scheduler_option(shared, run_cli, tmp_path):
    folder = shared("ghsl_dc_baltimore")
    out1, out2 = tmp_path / "a.csv", tmp_path / "b.csv"
    args = [folder / "counties_2017_census.gpkg", folder / "ghsl_year_built_100m_mollweide.tif",
            "--id", "fips", "--max-cells", 1407 * 64]
    r1 = run_cli("builtup", *args, "-o", out1)
    r2 = run_cli("builtup", *args, "--scheduler", "threads", "-o", out2)
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    a, b = pd.read_csv(out1), pd.read_csv(out2)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    bad = run_cli("builtup", *args, "--scheduler", "fast", "-o", tmp_path / "c.csv")
    assert bad.exit_code == 2 and "scheduler must be" in bad.output
    assert not (tmp_path / "c.csv").exists()
