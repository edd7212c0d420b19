"""Shared fixtures: the real data in ../shared/data (skipped when absent) and the CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GISFIX_SHARED_DATA", ROOT.parent / "shared" / "data"))


#: The test being set up or run (set by pytest_runtest_setup): shared_path() checks its mark.
_CURRENT: list = [None]


def _require_shared_mark() -> None:
    item = _CURRENT[0]
    if item is not None and item.get_closest_marker("shared") is None:
        pytest.fail(
            f"{item.nodeid} reads ../shared/data but is not marked: add "
            "@pytest.mark.shared (or module-level pytestmark = pytest.mark.shared), so that "
            "-m 'not shared' is exactly the fresh-clone suite", pytrace=False)


def shared_path(*parts: str) -> Path:
    """Return a path under the shared data folder, or skip the test with the reason.

    Fails a test that is not marked ``shared`` (the mark is what ``-m "not shared"``
    selects on), whether or not the data are present.
    """
    _require_shared_mark()
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs the shared real data ({p} is absent; set GISFIX_SHARED_DATA)")
    return p


@pytest.fixture
def shared():
    """The shared-data path helper: ``shared('ghsl_dc_baltimore', 'aoi.geojson')``."""
    _require_shared_mark()
    return shared_path


def pytest_collection_modifyitems(config, items):
    """A test that asks for the ``shared`` fixture without the mark is an error."""
    bad = [it.nodeid for it in items
           if "shared" in getattr(it, "fixturenames", ()) and not it.get_closest_marker("shared")]
    if bad:
        raise pytest.UsageError(
            "tests use the `shared` fixture without @pytest.mark.shared: " + ", ".join(bad))


def pytest_runtest_setup(item):
    _CURRENT[0] = item


def pytest_runtest_teardown(item, nextitem):
    _CURRENT[0] = None


@pytest.fixture
def run_cli():
    """Run the real ``gisfix`` entry point in-process; return the click Result."""
    from click.testing import CliRunner

    from gisfix.cli.main import cli

    def _run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return _run


# -- outputs that several test modules open in real clients (QGIS, Chromium): made once ----
@pytest.fixture(scope="session")
def demo_output(tmp_path_factory):
    """A ``gisfix demo -o OUT`` folder (through the real CLI), shared by the client tests."""
    from click.testing import CliRunner

    from gisfix.cli.main import cli

    out = tmp_path_factory.mktemp("demo_clients") / "demo-output"
    r = CliRunner().invoke(cli, ["demo", "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="session")
def dc_run_output(tmp_path_factory):
    """A ``gisfix run`` folder on the shared DC data, shared by the client tests."""
    from click.testing import CliRunner

    from gisfix.cli.main import cli

    folder = shared_path("ghsl_dc_baltimore")
    out = tmp_path_factory.mktemp("run_clients") / "dc"
    r = CliRunner().invoke(cli, [
        "run", str(folder / "counties_2017_census.gpkg"),
        str(folder / "ghsl_year_built_100m_mollweide.tif"), "--id", "fips",
        "--lei", "1990,2020", "--permutations", "99", "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="session")
def dask_client():
    """A ``distributed.LocalCluster`` of 2 single-threaded worker processes, and its Client.

    One for the whole session: starting a cluster costs seconds, and every dask test asks
    the same of it (identical answers to the in-process run).
    """
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client
