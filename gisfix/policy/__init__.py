"""Policy evaluation of administrative-division adjustments.

Events (:mod:`gisfix.events`) give who was treated and when; :mod:`gisfix.policy.panel`
puts an outcome panel on one geography with treatment cohorts and spillover flags;
:mod:`gisfix.policy.did` estimates staggered difference-in-differences and event studies
through pyfixest and ``differences`` (gisfix implements no estimator itself).
"""

from gisfix.policy.did import (
    CONTROLS,
    ESTIMATORS,
    DidResult,
    estimate_did,
    parse_window,
    plot_event_study,
)
from gisfix.policy.panel import (
    assign_treatment,
    check_panel,
    cohorts_from_events,
    harmonize_panel,
    lineage_from_events,
    neighbours_of,
)

__all__ = [
    "CONTROLS",
    "ESTIMATORS",
    "DidResult",
    "assign_treatment",
    "check_panel",
    "cohorts_from_events",
    "estimate_did",
    "harmonize_panel",
    "lineage_from_events",
    "neighbours_of",
    "parse_window",
    "plot_event_study",
]
