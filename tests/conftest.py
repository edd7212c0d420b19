"""Shared fixtures: the real data in ../shared/data (skipped when absent) and the CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GISFIX_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Return a path under the shared data folder, or skip the test with the reason."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs the shared real data ({p} is absent; set GISFIX_SHARED_DATA)")
    return p


@pytest.fixture
def shared():
    """The shared-data path helper: ``shared('ghsl_dc_baltimore', 'aoi.geojson')``."""
    return shared_path


@pytest.fixture
def run_cli():
    """Run the real ``gisfix`` entry point in-process; return the click Result."""
    from click.testing import CliRunner

    from gisfix.cli.main import cli

    def _run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return _run
