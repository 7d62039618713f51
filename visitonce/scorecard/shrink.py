"""Empirical-Bayes shrinkage, intervals and funnel status of department KPIs (driver side).

Works on the small per (period, department, kpi) table collected from
``casemix.summarize_adjusted``: one row per department and KPI.

- Priors are estimated per (grain, kpi) across every department *and period* of the run, so
  that a period with one or two departments borrows the spread seen elsewhere instead of
  collapsing to a zero-width prior. The between-department variance of p_d - e_d is
  tau2 = max(mean((O_d - e_d)^2) - mean(noise_d), floor), the method of moments over all
  (period, department) units with data (floor: ``tau_floor`` x mean((O_d - e_d)^2)). With
  fewer than ``MIN_PRIOR_UNITS`` units the prior falls back to a wide one (rates: tau2 =
  e(1 - e) / 4, i.e. prior strength 3; means: the city variance).
- Rates (beta-binomial). The department's true rate p_d has prior Beta(m e_d, m (1 - e_d))
  centred on its case-mix expectation e_d; m_d = e_d (1 - e_d) / tau2 - 1 (at least 1). The
  posterior is Beta(num + m e, den - num + m (1 - e)); its mean is the shrunk observed rate.
- Means (normal-normal). se2_d = s2 / n_d with s2 the department's variance (the city's below
  2 observations); B = tau2 / (tau2 + se2); posterior N(e + B (O - e), B se2).

Shrunk and interval values are reported on the adjusted scale: city + (posterior - e), clipped
to [0, 1] for rates. ``prior_sd`` = sqrt(tau2) is kept: a department without data for a KPI
enters the composite at the city value with that spread (its prior).

Funnel status (Spiegelhalter 2005) compares O with e_d: raw z = (O - e) / sqrt(v / n_d),
v = e(1-e) for rates, the city variance for means. Real departments differ by more than
sampling noise (over-dispersion), so with thousands of cases raw limits flag nearly everyone.
Per (grain, kpi), over all (period, department) units, phi = mean of the squared z-scores
winsorised at their 10th and 90th percentiles; with ``additive`` (default) a random-effects
variance tau2_f = (I phi - (I - 1)) / (sum w - sum w^2 / sum w), w = n / v, widens every
limit to e +- z_a sqrt(v / n + tau2_f); with ``multiplicative`` to e +- z_a sqrt(phi v / n)
(only when phi > 1); ``none`` keeps the raw limits. Fewer than ``MIN_FUNNEL_UNITS`` units:
no adjustment. Status, by direction (``better`` = the good side for the KPI): ``much_better``
/ ``much_worse`` outside the 99.8% limits, ``better`` / ``worse`` outside the 95% limits,
``within`` inside; ``no_data`` when n_d = 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from visitonce.scorecard.kpis import KPI_BY_NAME

LEVEL = 0.90  # two-sided level of every interval of the scorecards
_Z = 1.6448536269514722  # normal quantile of 0.95
MAX_STRENGTH = 1e6
MIN_PRIOR_UNITS = 3  # (period, department) units with data below which the prior is wide
MIN_FUNNEL_UNITS = 5  # units below which the funnel limits are not adjusted
FUNNEL_LEVELS = (0.95, 0.998)  # two-sided levels of the inner and outer funnel limits
FUNNEL_METHODS = ("additive", "multiplicative", "none")
FUNNEL_STATUSES = ("much_better", "better", "within", "worse", "much_worse")


def _prior_tau2(resid: np.ndarray, noise: np.ndarray, tau_floor: float) -> float:
    ok = np.isfinite(resid) & np.isfinite(noise)
    if ok.sum() < MIN_PRIOR_UNITS:
        return np.nan
    ms = float(np.mean(resid[ok] ** 2))
    return max(ms - float(np.mean(noise[ok])), tau_floor * ms, 1e-12)


def _noise(g: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(sampling variance of O per unit, funnel variance v / n), NaN without data."""
    n = g["denominator"].to_numpy(float)
    has = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "rate":
            e = np.clip(g["expected"].to_numpy(float), 0.01, 0.99)
            v = e * (1 - e) / n
            return np.where(has, v, np.nan), np.where(has, v, np.nan)
        obs = g["observed"].to_numpy(float)
        var_d = g["sum_squares"].to_numpy(float) / n - obs**2
        cv = g["city_variance"].to_numpy(float)
        s2 = np.where(n >= 2, np.maximum(var_d * n / np.maximum(n - 1, 1), 0), cv)
        return np.where(has, np.maximum(s2, 1e-12) / n, np.nan), np.where(has, cv / n, np.nan)


def prior_tau2(g: pd.DataFrame, *, tau_floor: float) -> float:
    """Between-department variance of one (grain, kpi) over all its (period, department)
    units; the wide fallback when too few units have data."""
    kind = KPI_BY_NAME[g["kpi"].iloc[0]].kind
    noise, _ = _noise(g, kind)
    resid = (g["observed"] - g["expected"]).to_numpy(float)
    tau2 = _prior_tau2(np.where(np.isfinite(noise), resid, np.nan), noise, tau_floor)
    if np.isfinite(tau2):
        return tau2
    if kind == "rate":
        ex = g["expected"].to_numpy(float)
        ex = ex[np.isfinite(ex)]
        e = float(np.clip(ex.mean(), 0.01, 0.99)) if ex.size else 0.5
        return e * (1 - e) / 4.0
    cv = np.nanmax(g["city_variance"].to_numpy(float)) if g["city_variance"].notna().any() else 1
    return float(max(cv, 1e-12))


def overdispersion(z: np.ndarray, v: np.ndarray, method: str) -> tuple[float, float]:
    """(phi, tau2_f) of Spiegelhalter (2005) from raw z-scores and funnel variances v / n of
    one (grain, kpi); (1, 0) for ``none`` or too few units."""
    ok = np.isfinite(z) & np.isfinite(v) & (v > 0)
    if method == "none" or ok.sum() < MIN_FUNNEL_UNITS:
        return 1.0, 0.0
    zz = z[ok]
    lo, hi = np.percentile(zz, [10, 90])
    phi = float(np.mean(np.clip(zz, lo, hi) ** 2))
    if method == "multiplicative":
        return phi, 0.0
    w = 1.0 / v[ok]
    i = ok.sum()
    tau2 = (i * phi - (i - 1)) / (w.sum() - (w**2).sum() / w.sum())
    return phi, float(max(tau2, 0.0))


def funnel_status(z: np.ndarray, has: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """much_better / better / within / worse / much_worse by the (adjusted) z and the KPI's
    direction; no_data without data."""
    inner, outer = (stats.norm.ppf(0.5 + lv / 2) for lv in FUNNEL_LEVELS)
    good = z if higher_is_better else -z
    with np.errstate(invalid="ignore"):
        return np.select(
            [~has, ~np.isfinite(good), good >= outer, good >= inner, good <= -outer,
             good <= -inner],
            ["no_data", "within", "much_better", "better", "much_worse", "worse"],
            "within",
        )  # fmt: skip


def shrink_group(
    g: pd.DataFrame, *, tau2: float, phi: float = 1.0, tau2_funnel: float = 0.0,
    method: str = "none",
) -> pd.DataFrame:  # fmt: skip
    """Shrink the department rows of one KPI (of one grain; any number of periods: each row is
    shrunk on its own) with the prior variance ``tau2`` (see the module docstring). Needs
    numerator, denominator, sum_squares, observed, expected, city, city_variance; adds post_a,
    post_b (rates), post_mean, post_sd (observed scale), shrunk, lo, hi (adjusted scale),
    prior_sd, funnel_z_raw, funnel_z, funnel_se, funnel_status (over-dispersion ``phi`` /
    ``tau2_funnel`` of ``method``)."""
    cols: dict[str, Any] = {}  # the added columns, set at once (a column at a time is slow)
    k = KPI_BY_NAME[g["kpi"].iloc[0]]
    kind = k.kind
    n = g["denominator"].to_numpy(float)
    num = g["numerator"].to_numpy(float)
    obs = g["observed"].to_numpy(float)
    exp_ = g["expected"].to_numpy(float)
    city = g["city"].to_numpy(float)
    has = n > 0
    noise, fv = _noise(g, kind)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "rate":
            e = np.clip(exp_, 0.01, 0.99)
            m = np.clip(e * (1 - e) / tau2 - 1.0, 1.0, MAX_STRENGTH)
            a = num + m * e
            b = n - num + m * (1 - e)
            mean = a / (a + b)
            sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
            # The posterior's exact quantiles (scipy), not Monte Carlo ones.
            a1, b1 = np.where(has, a, 1.0), np.where(has, b, 1.0)
            qlo = stats.beta.ppf((1 - LEVEL) / 2, a1, b1)
            qhi = stats.beta.ppf((1 + LEVEL) / 2, a1, b1)
            cols["post_a"], cols["post_b"] = np.where(has, a, np.nan), np.where(has, b, np.nan)
        else:
            shrink = tau2 / (tau2 + noise)
            mean = exp_ + shrink * (obs - exp_)
            sd = np.sqrt(shrink * noise)
            qlo, qhi = mean - _Z * sd, mean + _Z * sd
            cols["post_a"], cols["post_b"] = np.nan, np.nan
        cols["post_mean"] = np.where(has, mean, np.nan)
        cols["post_sd"] = np.where(has, sd, np.nan)
        lim = (0.0, 1.0) if kind == "rate" else (-np.inf, np.inf)
        cols["shrunk"] = np.where(has, np.clip(city + mean - exp_, *lim), np.nan)
        cols["lo"] = np.where(has, np.clip(city + qlo - exp_, *lim), np.nan)
        cols["hi"] = np.where(has, np.clip(city + qhi - exp_, *lim), np.nan)
        cols["prior_sd"] = np.sqrt(tau2) if np.isfinite(tau2) else np.nan
        z_raw = (obs - exp_) / np.sqrt(fv)
        se = np.sqrt(fv * (phi if method == "multiplicative" and phi > 1 else 1.0) + tau2_funnel)
        z = (obs - exp_) / se
    ok = has & np.isfinite(z_raw)
    cols["funnel_z_raw"] = np.where(ok, z_raw, np.nan)
    cols["funnel_z"] = np.where(ok, z, np.nan)
    cols["funnel_se"] = np.where(ok, se, np.nan)
    cols["funnel_status"] = funnel_status(np.where(ok, z, np.nan), has, k.higher_is_better)
    new = pd.DataFrame(cols, index=g.index)
    return pd.concat([g.drop(columns=[c for c in cols if c in g.columns]), new], axis=1)


def shrink_kpis(
    df: pd.DataFrame, *, tau_floor: float = 0.1, funnel_method: str = "additive"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``shrink_group`` over every (grain, kpi) of a per-department KPI table, all periods at
    once (rows of quantile KPIs pass through with null shrinkage); rows in (period, grain, kpi,
    department) order. Priors and over-dispersion are estimated per (grain, kpi) over all
    periods. Returns the table and the per (grain, kpi) estimates: grain, kpi, prior_sd,
    units, phi, tau_funnel, method."""
    parts, est = [], []
    df = df.sort_values(["period", "grain", "kpi", "department"]).reset_index(drop=True)
    use = df[df["available"].astype(bool)] if "available" in df.columns else df
    for (grain, kpi), pool in use.groupby(["grain", "kpi"], sort=True):
        k = KPI_BY_NAME[kpi]
        if k.kind == "quantile":
            continue
        tau2 = prior_tau2(pool, tau_floor=tau_floor)
        _, fv = _noise(pool, k.kind)
        with np.errstate(invalid="ignore", divide="ignore"):  # no variance: no z (NaN)
            z = ((pool["observed"] - pool["expected"]).to_numpy(float)) / np.sqrt(fv)
        phi, tau2_f = overdispersion(z, fv, funnel_method)
        est.append({"grain": grain, "kpi": kpi, "prior_sd": float(np.sqrt(tau2)),
                    "units": int(np.isfinite(fv).sum()), "phi": phi,
                    "tau_funnel": float(np.sqrt(tau2_f)), "method": funnel_method})  # fmt: skip
    est_df = pd.DataFrame(
        est, columns=["grain", "kpi", "prior_sd", "units", "phi", "tau_funnel", "method"]
    )
    by = {(r.grain, r.kpi): r for r in est_df.itertuples(index=False)}
    for (grain, kpi), g in df.groupby(["grain", "kpi"], sort=True):
        if KPI_BY_NAME[kpi].kind == "quantile":
            parts.append(g)
            continue
        e = by.get((grain, kpi))
        if e is None:  # the KPI is unavailable in every period: each period's own prior
            for _, gp in g.groupby("period", sort=True):
                parts.append(shrink_group(gp, tau2=prior_tau2(gp, tau_floor=tau_floor)))
            continue
        parts.append(
            shrink_group(
                g,
                tau2=e.prior_sd**2,
                phi=e.phi,
                tau2_funnel=e.tau_funnel**2,
                method=funnel_method,
            )  # fmt: skip
        )
    out = pd.concat(parts).sort_index().reset_index(drop=True) if parts else df
    return out, est_df
