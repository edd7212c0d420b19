"""Output plumbing: atomic writes leave nothing behind on failure; provenance is recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from gisfix import OutputExistsError, __version__
from gisfix.io import atomic_path, provenance, read_provenance, write_table


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".gpkg", ".json"])
def test_write_table_records_provenance(tmp_path, suffix):
    df = pd.DataFrame({"unit_id": ["a", "b"], "x": [1.0, 2.0]})
    out = tmp_path / f"t{suffix}"
    write_table(df, out, provenance({"table": str(out)}, {"alpha": 0.5}, "test"))
    prov = read_provenance(out)
    assert prov["gisfix_version"] == __version__
    assert prov["parameters"] == {"alpha": 0.5}
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        write_table(df, out, {})


def test_failed_write_leaves_no_file(tmp_path):
    out = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_file(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(out, overwrite=True) as tmp:
            tmp.write_text("new")
            raise RuntimeError("boom")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_unknown_suffix(tmp_path):
    from gisfix import GisfixError

    with pytest.raises(GisfixError, match="unknown output format '.xlsx'"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx", {})
