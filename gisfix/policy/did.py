r"""Staggered difference-in-differences and event studies, through well-kept libraries.

gisfix implements no estimator: it prepares the panel (:mod:`gisfix.policy.panel`),
calls the libraries, and reports their numbers in one shape.

``twfe`` (pyfixest ``feols``)
    Two-way fixed effects with unit and year effects, standard errors clustered by unit.
    ``att`` is the coefficient :math:`\beta` of the static regression

    .. math:: y_{it} = \alpha_i + \lambda_t + \beta D_{it} + \varepsilon_{it},

    with :math:`D_{it} = 1` for treated units from their cohort year on; ``event_time``
    holds the :math:`\beta_k` of the dynamic specification
    :math:`y_{it} = \alpha_i + \lambda_t + \sum_{k \ne -1} \beta_k 1[t - g_i = k] +
    \varepsilon_{it}` (pyfixest ``i(rel_time, ref=-1)``; never-treated units sit in the
    reference category; with a window, relative times beyond it are binned into its end
    points).  Under heterogeneous effects TWFE is biased (Goodman-Bacon 2021, *J.
    Econometrics* 225(2), 254-277): use it as the familiar benchmark.
``sun-abraham`` (pyfixest ``event_study(estimator="saturated")``)
    The interaction-weighted estimator of Sun & Abraham (2021, *J. Econometrics* 225(2),
    175-199): cohort x relative-time interactions with never-treated units as the control
    cohort, averaged per relative time with the cohorts' shares
    (``SaturatedEventStudy.aggregate``).  ``att`` is the average of the post-treatment
    cohort x relative-time effects weighted by their numbers of treated observations
    (fixest's ``agg = "ATT"``), :math:`\hat\theta = \sum_{g,l \ge 0} w_{g,l}
    \hat\beta_{g,l}`, its standard error :math:`\sqrt{w' V w}` from pyfixest's
    cluster-robust covariance.
``callaway-santanna`` (``differences.ATTgt``)
    Group-time average treatment effects :math:`ATT(g, t)` of Callaway & Sant'Anna (2021,
    *J. Econometrics* 225(2), 200-230) with never-treated or not-yet-treated controls,
    the library's defaults otherwise (outcome regression, varying base period, analytic
    influence-function standard errors clustered by unit).  ``att`` is the ``simple``
    aggregate (the cohort-size-weighted average of post-treatment :math:`ATT(g,t)`),
    ``event_time`` the ``event`` aggregation.

Why ``differences`` rather than ``csdid``: both install on Python 3.11 with numpy 2 and
pandas 2-3 and give the same numbers on pyfixest's ``df_het`` (ATT 2.243005, SE 0.0495);
``differences`` returns its results as DataFrames (``csdid`` prints them and keeps them in
nested dicts), takes never- and not-yet-treated controls by name, and has a lean
dependency set, where ``csdid`` pulls ``twine`` and ``plotnine`` into a runtime install.

Pre-trends
----------
``pretrend`` is the joint Wald test that all pre-treatment event-time coefficients are
zero: :math:`W = \hat b' \hat V^{-1} \hat b \sim \chi^2_k` over the :math:`k` leads (the
leads other than the reference period -1 for ``twfe``; the interaction-weighted leads for
``sun-abraham``, with their covariance from pyfixest's).  ``differences`` exposes no
covariance between event times, so for ``callaway-santanna`` the test reports the
pointwise leads whose confidence interval excludes zero instead (``statistic`` is their
number, ``p_value`` is None).  A pre-trend test has low power (Roth 2022, *AER: Insights*
4(3), 305-322): a large p-value is no proof of parallel trends.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gisfix.errors import DataError, DataWarning
from gisfix.policy.panel import _show, check_panel

#: Estimators :func:`estimate_did` knows.
ESTIMATORS = ("twfe", "sun-abraham", "callaway-santanna")
#: Comparison groups.
CONTROLS = ("never", "not-yet")
#: Outcome transforms.
TRANSFORMS = (None, "log", "log1p")
#: Keys of the JSON result (plus ``provenance`` and the extras).
RESULT_KEYS = ("estimator", "control", "att", "se", "ci_low", "ci_high", "n_units",
               "n_treated", "n_cohorts", "event_time")
#: The default smallest cohort (units) that is estimated.
MIN_COHORT_SIZE = 2


@dataclass(frozen=True)
class DidResult:
    """One difference-in-differences estimate and its event study.

    Attributes
    ----------
    estimator, control : str
        As asked (``control`` is ``"never"`` for ``sun-abraham``; for ``twfe`` the
        comparisons are implicit: never- and not-yet-treated observations).
    att, se, ci_low, ci_high : float
        The overall effect and its standard error and confidence interval.
    n_units, n_treated, n_cohorts : int
        Units in the estimation sample, treated units, treatment cohorts.
    event_time : DataFrame
        ``rel_time, coef, se, ci_low, ci_high``.
    pretrend : dict
        ``test``, ``statistic``, ``df``, ``p_value`` (see the module notes).
    cohorts : dict
        Cohort year -> number of units.
    details : dict
        Outcome, transform, window, alpha, library versions.
    """

    estimator: str
    control: str
    att: float
    se: float
    ci_low: float
    ci_high: float
    n_units: int
    n_treated: int
    n_cohorts: int
    event_time: pd.DataFrame
    pretrend: dict = field(default_factory=dict)
    cohorts: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def to_dict(self, provenance=None) -> dict:
        """Return the JSON structure: :data:`RESULT_KEYS`, extras and ``provenance``."""
        et = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
               for k, v in row.items()} for row in self.event_time.to_dict("records")]
        for row in et:
            row["rel_time"] = int(row["rel_time"])
        out = {"estimator": self.estimator, "control": self.control, "att": self.att,
               "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high,
               "n_units": self.n_units, "n_treated": self.n_treated,
               "n_cohorts": self.n_cohorts, "event_time": et, "pretrend": self.pretrend,
               "cohorts": {str(k): v for k, v in self.cohorts.items()},
               "details": self.details}
        if provenance is not None:
            out["provenance"] = provenance
        return out


def parse_window(window) -> tuple[int, int] | None:
    """Parse an event window ``(lo, hi)`` or ``"-5,10"``; None stays None.

    Parameters
    ----------
    window : tuple of int, str or None
        The window in years relative to treatment.

    Returns
    -------
    tuple of int or None

    Raises
    ------
    DataError
        Unless ``lo < 0 <= hi``.
    """
    if window is None or window == "":
        return None
    if isinstance(window, str):
        try:
            lo, hi = (int(v) for v in window.split(","))
        except ValueError:
            raise DataError(f"an event window is two integers 'lo,hi' such as '-5,10'; got "
                            f"{window!r}") from None
    else:
        lo, hi = (int(v) for v in window)
    if not lo < 0 <= hi:
        raise DataError(f"the event window needs lo < 0 <= hi (e.g. -5,10); got {lo},{hi}")
    return lo, hi


def prepare_sample(panel: pd.DataFrame, outcome: str, *, id_col: str, time_col: str,
                   cohort_col: str = "cohort", transform: str | None = None,
                   exclude_neighbours: bool = False, min_cohort_size: int = MIN_COHORT_SIZE,
                   drop_small_cohorts: bool = False) -> pd.DataFrame:
    r"""Check the panel and return the estimation sample (columns ``unit, time, g, y``).

    Parameters
    ----------
    panel : DataFrame
        Long panel with the cohort column (:func:`gisfix.policy.panel.assign_treatment`).
    outcome : str
        The outcome column.
    id_col, time_col, cohort_col : str
        Unit, year and cohort (first treatment year; 0 or NA never) columns.
    transform : {None, "log", "log1p"}
        ``log``: :math:`\ln y` (non-positive values are an error); ``log1p``:
        :math:`\ln(1 + y)` (for outcomes with zeros, such as night light).
    exclude_neighbours : bool
        Drop comparison units flagged ``neighbour_of_treated``.
    min_cohort_size : int
        The smallest number of units a cohort needs.
    drop_small_cohorts : bool
        Drop smaller cohorts (with a :class:`~gisfix.errors.DataWarning`) instead of
        raising.

    Returns
    -------
    DataFrame
        ``unit`` (int codes), ``unit_id``, ``time``, ``g`` (0 never), ``y``, ``treat``.

    Raises
    ------
    DataError
        Non-numeric outcome, bad transform, too small cohorts, no treated or no
        comparison units.
    IdError
        Duplicate (unit, year) rows.
    """
    if transform not in TRANSFORMS:
        raise DataError(f"transform must be one of None, 'log', 'log1p'; got {transform!r}")
    df = check_panel(panel, id_col, time_col, outcome)
    if cohort_col not in df.columns:
        raise DataError(f"the panel has no cohort column {cohort_col!r}; add it with "
                        "gisfix.policy.assign_treatment (or name it with cohort_col=)")
    g = pd.to_numeric(df[cohort_col], errors="coerce").fillna(0)
    if (g != g.round()).any() or (g < 0).any():
        raise DataError(f"cohorts must be years (0 = never treated); got "
                        f"{_show(g[(g != g.round()) | (g < 0)].unique())}")
    df["g"] = g.astype("int64")
    if df.groupby(id_col)["g"].nunique().gt(1).any():
        bad = df.groupby(id_col)["g"].nunique()
        raise DataError(f"units with several cohorts: {_show(bad[bad > 1].index)}; a unit has "
                        "one first treatment year")
    if exclude_neighbours:
        if "neighbour_of_treated" not in df.columns:
            raise DataError("exclude_neighbours needs the neighbour_of_treated column "
                            "(assign_treatment with a graph or boundaries)")
        df = df[~df["neighbour_of_treated"].astype(bool)]
    y = df[outcome].astype(float)
    if y.isna().any():
        n = int(y.isna().sum())
        warnings.warn(f"{n} rows with a missing {outcome!r} are left out (units "
                      f"{_show(df.loc[y.isna(), id_col].unique())})", DataWarning,
                      stacklevel=3)
        df, y = df[y.notna()], y[y.notna()]
    if transform == "log":
        bad = df.loc[y <= 0, id_col]
        if len(bad):
            raise DataError(f"log of {outcome!r}: {len(bad)} values are <= 0 (units "
                            f"{_show(bad.unique())}); use transform='log1p' (--log1p)")
        y = np.log(y)
    elif transform == "log1p":
        if (y <= -1).any():
            raise DataError(f"log1p of {outcome!r}: values <= -1 (units "
                            f"{_show(df.loc[y <= -1, id_col].unique())})")
        y = np.log1p(y)
    lo, hi = int(df[time_col].min()), int(df[time_col].max())
    sizes = df[df["g"] > 0].groupby("g")[id_col].nunique()
    outside = sizes[(sizes.index <= lo) | (sizes.index > hi)]
    if len(outside):
        raise DataError(f"treatment years outside the panel's years {lo}-{hi}: cohorts "
                        f"{_show(outside.index)}; a cohort needs a pre-treatment year and a "
                        "treated year in the panel")
    small = sizes[sizes < min_cohort_size]
    if len(small):
        shown = [f"{g} ({n} unit{'s' if n > 1 else ''})" for g, n in small.items()]
        if not drop_small_cohorts:
            raise DataError(f"cohort(s) too small to estimate: {_show(shown)}; each needs at "
                            f"least {min_cohort_size} units: pass drop_small_cohorts=True "
                            "(--drop-small-cohorts) or a smaller min_cohort_size")
        warnings.warn(f"cohorts with fewer than {min_cohort_size} units are left out: "
                      f"{_show(shown)}", DataWarning, stacklevel=3)
        keep = ~df["g"].isin(small.index)
        df, y = df[keep], y[keep]
    if not (df["g"] > 0).any():
        raise DataError("no treated units in the panel: every cohort is 0")
    if not (df["g"] == 0).any():
        raise DataError("no never-treated units in the panel: the estimators need a "
                        "comparison group of units never treated in the panel")
    codes, uniques = pd.factorize(df[id_col], sort=True)
    out = pd.DataFrame({"unit": codes.astype("int64") + 1, "unit_id": df[id_col].to_numpy(),
                        "time": df[time_col].to_numpy(), "g": df["g"].to_numpy(),
                        "y": y.to_numpy()})
    out["treat"] = ((out["g"] > 0) & (out["time"] >= out["g"])).astype("int64")
    return out.sort_values(["unit", "time"]).reset_index(drop=True)


def estimate_did(panel: pd.DataFrame, outcome: str, *, id_col: str, time_col: str,
                 cohort_col: str = "cohort", estimator: str = "twfe", control: str = "never",
                 window=None, exclude_neighbours: bool = False, transform: str | None = None,
                 min_cohort_size: int = MIN_COHORT_SIZE, drop_small_cohorts: bool = False,
                 alpha: float = 0.05) -> DidResult:
    """Estimate a staggered difference-in-differences and its event study.

    Parameters
    ----------
    panel : DataFrame
        Long panel with a cohort column (0 or NA for never treated); see
        :func:`gisfix.policy.panel.assign_treatment`.
    outcome : str
        The outcome column.
    id_col, time_col, cohort_col : str
        Unit, year and cohort columns.
    estimator : {"twfe", "sun-abraham", "callaway-santanna"}
        See the module notes.
    control : {"never", "not-yet"}
        Comparison group of ``callaway-santanna``; ``sun-abraham`` takes ``never`` only;
        ``twfe`` compares implicitly with both (reported as ``implicit``).
    window : (int, int) or str, optional
        Event window ``lo, hi`` (``lo < 0 <= hi``): the event times reported; ``twfe``
        bins relative times beyond it into its end points.
    exclude_neighbours : bool
        Drop comparison units adjacent to treated units (spillovers).
    transform : {None, "log", "log1p"}
        Outcome transform.
    min_cohort_size : int
        Smallest cohort estimated; smaller ones raise unless ``drop_small_cohorts``.
    drop_small_cohorts : bool
        Drop too small cohorts with a warning.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DidResult

    Raises
    ------
    DataError, IdError
        On a bad panel (see :func:`prepare_sample`) or option.
    """
    if estimator not in ESTIMATORS:
        raise DataError(f"unknown estimator {estimator!r}; use one of {', '.join(ESTIMATORS)}")
    if control not in CONTROLS:
        raise DataError(f"unknown control {control!r}; use one of {', '.join(CONTROLS)}")
    if estimator == "sun-abraham" and control != "never":
        raise DataError("sun-abraham compares with the never-treated units; use control "
                        "'never' (or callaway-santanna for not-yet-treated controls)")
    win = parse_window(window)
    data = prepare_sample(panel, outcome, id_col=id_col, time_col=time_col,
                          cohort_col=cohort_col, transform=transform,
                          exclude_neighbours=exclude_neighbours,
                          min_cohort_size=min_cohort_size,
                          drop_small_cohorts=drop_small_cohorts)
    run = {"twfe": _twfe, "sun-abraham": _sun_abraham,
           "callaway-santanna": _callaway_santanna}[estimator]
    att, et, pretrend, versions = run(data, win, control, alpha)
    if win is not None:
        et = et[(et["rel_time"] >= win[0]) & (et["rel_time"] <= win[1])]
    et = et.sort_values("rel_time").reset_index(drop=True)
    units = data.drop_duplicates("unit")
    cohorts = units[units["g"] > 0].groupby("g").size()
    return DidResult(
        estimator=estimator,
        control={"twfe": "implicit", "sun-abraham": "never"}.get(estimator, control),
        att=float(att[0]), se=float(att[1]), ci_low=float(att[2]), ci_high=float(att[3]),
        n_units=int(len(units)), n_treated=int((units["g"] > 0).sum()),
        n_cohorts=int(len(cohorts)), event_time=et, pretrend=pretrend,
        cohorts={int(k): int(v) for k, v in cohorts.items()},
        details={"outcome": outcome, "transform": transform, "window": list(win) if win else None,
                 "alpha": alpha, "exclude_neighbours": exclude_neighbours,
                 "n_obs": int(len(data)), "years": [int(data["time"].min()),
                                                    int(data["time"].max())], **versions})


# --------------------------------------------------------------------------------------
# the libraries
# --------------------------------------------------------------------------------------

def _tidy_row(tidy: pd.DataFrame, name: str) -> tuple[float, float, float, float]:
    row = tidy.loc[name]
    return (float(row["Estimate"]), float(row["Std. Error"]), float(row["2.5%"]),
            float(row["97.5%"]))


def _wald(b: np.ndarray, v: np.ndarray, test: str) -> dict:
    from scipy import stats

    if len(b) == 0:
        return {"test": test, "statistic": None, "df": 0, "p_value": None}
    stat = float(b @ np.linalg.pinv(v) @ b)
    return {"test": test, "statistic": stat, "df": int(len(b)),
            "p_value": float(stats.chi2.sf(stat, len(b)))}


def _quiet():
    """Silence the libraries' own notices inside their calls.

    pyfixest's beta warning and collinear reference dummies, pandas deprecations in the
    libraries' code: not about the user's data.
    """
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")
    return ctx


def _twfe(data, win, control, alpha):
    import pyfixest as pf

    df = data.copy()
    rel = (df["time"] - df["g"]).where(df["g"] > 0, -1)
    if win is not None:
        rel = rel.clip(win[0], win[1])
    df["rel_time"] = rel.astype("int64")
    ctx = _quiet()
    try:
        static = pf.feols("y ~ treat | unit + time", data=df, vcov={"CRV1": "unit"})
        dyn = pf.feols("y ~ i(rel_time, ref=-1) | unit + time", data=df,
                       vcov={"CRV1": "unit"})
        st = static.tidy(alpha=alpha)
        dt = dyn.tidy(alpha=alpha)
    finally:
        ctx.__exit__(None, None, None)
    lo_col, hi_col = [c for c in st.columns if c.endswith("%")]
    st = st.rename(columns={lo_col: "2.5%", hi_col: "97.5%"})
    dt = dt.rename(columns={lo_col: "2.5%", hi_col: "97.5%"})
    att = _tidy_row(st, "treat")
    names = list(dt.index)
    k = [int(float(n.split("::")[1])) for n in names]
    et = pd.DataFrame({"rel_time": k, "coef": dt["Estimate"].to_numpy(float),
                       "se": dt["Std. Error"].to_numpy(float),
                       "ci_low": dt["2.5%"].to_numpy(float),
                       "ci_high": dt["97.5%"].to_numpy(float)})
    lead = [i for i, r in enumerate(k) if r < -1]
    coef = np.asarray(dyn.coef(), float)
    vcov = np.asarray(dyn._vcov, float)
    pre = _wald(coef[lead], vcov[np.ix_(lead, lead)], "joint Wald chi2: leads = 0 (twfe)")
    return att, et, pre, {"pyfixest": pf.__version__}


def _sun_abraham(data, win, control, alpha):
    import pyfixest as pf
    from scipy import stats

    ctx = _quiet()
    try:
        fit = pf.event_study(data[["unit", "time", "g", "y"]], yname="y", idname="unit",
                             tname="time", gname="g", estimator="saturated")
        agg = fit.aggregate()
    finally:
        ctx.__exit__(None, None, None)
    coefs = np.asarray(fit._beta_hat, float)
    vcov = np.asarray(fit._vcov, float)
    names = list(fit._coefnames)
    # cohort x relative-time cells of the regression: name "rel_time::l:first_treated_period::g"
    cells = []
    for i, n in enumerate(names):
        parts = n.split("::")
        cells.append((i, float(parts[1].split(":")[0]), int(float(parts[2]))))
    treated = data[data["treat"] == 1]
    n_cell = treated.assign(l=treated["time"] - treated["g"]).groupby(["g", "l"]).size()
    w = np.zeros(len(coefs))
    for i, lag, g in cells:
        if lag >= 0:
            w[i] = n_cell.get((g, int(lag)), 0)
    w /= w.sum()
    est = float(w @ coefs)
    se = float(np.sqrt(w @ vcov @ w))
    z = stats.norm.ppf(1 - alpha / 2)
    att = (est, se, est - z * se, est + z * se)
    et = pd.DataFrame({"rel_time": np.asarray(agg.index, float).astype(int),
                       "coef": agg["Estimate"].to_numpy(float),
                       "se": agg["Std. Error"].to_numpy(float)})
    et["ci_low"] = et["coef"] - z * et["se"]
    et["ci_high"] = et["coef"] + z * et["se"]
    # the interaction-weighted leads and their covariance, for the pre-trend test
    from pyfixest.did.saturated_twfe import compute_period_weights

    wdf = compute_period_weights(fit._data, cohort="g", period="rel_time",
                                 treatment="is_treated").set_index(
        ["g", "rel_time"])["weight"]
    leads = [r for r in et["rel_time"] if r < -1 and (win is None or r >= win[0])]
    rows = []
    for r in leads:
        vec = np.zeros(len(coefs))
        for i, lag, g in cells:
            if lag == r:
                vec[i] = wdf.get((g, r), 0.0)
        rows.append(vec)
    big_r = np.array(rows) if rows else np.zeros((0, len(coefs)))
    pre = _wald(big_r @ coefs, big_r @ vcov @ big_r.T,
                "joint Wald chi2: interaction-weighted leads = 0 (sun-abraham)")
    return att, et, pre, {"pyfixest": pf.__version__}


def _callaway_santanna(data, win, control, alpha):
    import differences

    group = {"never": "never_treated", "not-yet": "not_yet_treated"}[control]
    df = data.set_index(["unit", "time"])[["y", "g"]].copy()
    df["cohort"] = df["g"].where(df["g"] > 0)
    ctx = _quiet()
    try:
        att_gt = differences.ATTgt(data=df[["y", "cohort"]], cohort_column="cohort")
        att_gt.fit(formula="y", control_group=group, alpha=alpha, progress_bar=False)
        simple = att_gt.aggregate("simple", alpha=alpha)
        event = att_gt.aggregate("event", alpha=alpha)
    finally:
        ctx.__exit__(None, None, None)
    s = simple.iloc[0]
    att = _cs_row(s)
    et = pd.DataFrame([(int(k), *_cs_row(r)) for k, r in event.iterrows()],
                      columns=["rel_time", "coef", "se", "ci_low", "ci_high"])
    leads = et[et["rel_time"] < 0]
    if win is not None:
        leads = leads[leads["rel_time"] >= win[0]]
    excl = int(((leads["ci_low"] > 0) | (leads["ci_high"] < 0)).sum())
    pre = {"test": "pointwise: leads whose confidence interval excludes 0 "
                   "(differences exposes no joint covariance)",
           "statistic": excl, "df": int(len(leads)), "p_value": None}
    return att, et, pre, {"differences": differences.__version__}


def _cs_row(row) -> tuple[float, float, float, float]:
    """(ATT, se, lower, upper) of a row of a ``differences`` aggregation table."""
    flat = {c[-1] if isinstance(c, tuple) else c: v for c, v in row.items()}
    return (float(flat["ATT"]), float(flat["std_error"]), float(flat["lower"]),
            float(flat["upper"]))


def plot_event_study(results, ax=None, title: str | None = None):
    """Plot event-study coefficients with their confidence intervals.

    Parameters
    ----------
    results : DidResult or list of DidResult
        One or several estimates (drawn side by side, slightly offset).
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    title : str, optional
        The title (default: the outcome).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    results = [results] if isinstance(results, DidResult) else list(results)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    n = len(results)
    for i, res in enumerate(results):
        et = res.event_time
        off = (i - (n - 1) / 2) * 0.15
        x = et["rel_time"].to_numpy(float) + off
        ax.errorbar(x, et["coef"], yerr=[et["coef"] - et["ci_low"], et["ci_high"] - et["coef"]],
                    fmt="o", ms=4, capsize=2, label=f"{res.estimator} (ATT {res.att:.3g})")
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("years relative to treatment")
    ax.set_ylabel("effect on " + str(results[0].details.get("outcome", "outcome")))
    ax.set_title(title or "Event study")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


__all__ = [
    "CONTROLS",
    "ESTIMATORS",
    "RESULT_KEYS",
    "DidResult",
    "estimate_did",
    "parse_window",
    "plot_event_study",
    "prepare_sample",
]
