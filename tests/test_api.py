"""The public API: every re-exported name resolves, and importing gisfix stays light."""

from __future__ import annotations

import subprocess
import sys

import gisfix


def test_every_export_resolves():
    missing = [name for name in gisfix.__all__ if getattr(gisfix, name, None) is None]
    assert missing == []


def test_diff_is_the_function():
    assert callable(gisfix.diff) and gisfix.diff.__module__ == "gisfix.edits.diff"


def test_cli_import_does_not_load_the_geo_stack():
    code = ("import sys, gisfix.cli.main; "
            "print(sorted(m for m in ('geopandas', 'rasterio', 'esda', 'libpysal', 'numba') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_submodule_shadows_an_export():
    # importing a submodule sets it as an attribute of the package; an exported function of
    # the same name would then be hidden (gisfix.spatial_gini once was)
    import importlib
    import pkgutil
    import types

    for info in pkgutil.walk_packages(gisfix.__path__, "gisfix."):
        importlib.import_module(info.name)
    shadowed = [name for name in gisfix._EXPORTS
                if name != "datasets" and isinstance(getattr(gisfix, name), types.ModuleType)]
    assert shadowed == []
