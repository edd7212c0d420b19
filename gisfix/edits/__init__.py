"""Administrative-division adjustments as polygon-boundary edits.

Operations (:func:`merge`, :func:`split`, :func:`transfer`, :func:`recode`,
:func:`dissolve`), declarative scenarios (:func:`load_scenario`, :class:`Scenario`) applied
by :func:`apply_scenario` with a valid coverage guaranteed, attributes reallocated with
totals conserved and a lineage crosswalk (:func:`harmonise` carries panels through it);
the before/after comparison of measures is :func:`gisfix.compare`.  The vintage diff that
writes scenarios from two real vintages is :func:`gisfix.edits.diff.diff`.
"""

from gisfix.edits.apply import EditResult, apply_scenario
from gisfix.edits.lineage import LINEAGE_COLUMNS, harmonise
from gisfix.edits.ops import dissolve, merge, recode, split, transfer
from gisfix.edits.scenario import OPS, Scenario, load_scenario
from gisfix.edits.topology import DEFAULT_SNAP_TOLERANCE_M, check_coverage

__all__ = [
    "DEFAULT_SNAP_TOLERANCE_M",
    "LINEAGE_COLUMNS",
    "OPS",
    "EditResult",
    "Scenario",
    "apply_scenario",
    "check_coverage",
    "dissolve",
    "harmonise",
    "load_scenario",
    "merge",
    "recode",
    "split",
    "transfer",
]
