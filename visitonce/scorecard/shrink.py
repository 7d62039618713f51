"""Empirical-Bayes shrinkage, intervals and funnel status of department KPIs (driver side).

Works on the small per (period, department, kpi) table collected from
``casemix.summarize_adjusted``: one row per department and KPI. Within each (period, kpi):

- Rates (beta-binomial). The department's true rate p_d has prior Beta(m e_d, m (1 - e_d))
  centred on its case-mix expectation e_d. The between-department variance of p_d - e_d is
  tau2 = max(mean((O_d - e_d)^2) - mean(e_d (1 - e_d) / n_d), floor), the method of moments
  (floor: ``tau_floor`` x mean((O_d - e_d)^2), so that a prior of zero width never erases real
  differences when departments are few); m_d = e_d (1 - e_d) / tau2 - 1 (at least 1). The
  posterior is Beta(num + m e, den - num + m (1 - e)); its mean is the shrunk observed rate.
- Means (normal-normal). se2_d = s2 / n_d with s2 the department's variance (the city's below
  2 observations); tau2 as above with se2 for e(1-e)/n; B = tau2 / (tau2 + se2); posterior
  N(e + B (O - e), B se2).

Shrunk and interval values are reported on the adjusted scale: city + (posterior - e), clipped
to [0, 1] for rates. ``prior_sd`` = sqrt(tau2) is kept: a department without data for a KPI
enters the composite at the city value with that spread (its prior).
Funnel status compares O with e_d (the city's value for the department's mix) with control
limits e_d +- z sqrt(v / n_d), v = e(1-e) for rates, the city variance for means:
``within`` (|z| < 2), ``alert`` (2 <= |z| < 3), ``alarm`` (|z| >= 3); ``no_data`` when n_d = 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from visitonce.scorecard.kpis import KPI_BY_NAME

LEVEL = 0.90  # two-sided level of every interval of the scorecards
_Z = 1.6448536269514722  # normal quantile of 0.95
MAX_STRENGTH = 1e6


def _prior_tau2(resid: np.ndarray, noise: np.ndarray, tau_floor: float) -> float:
    ok = np.isfinite(resid) & np.isfinite(noise)
    if not ok.any():
        return np.nan
    ms = float(np.mean(resid[ok] ** 2))
    return max(ms - float(np.mean(noise[ok])), tau_floor * ms, 1e-12)


def shrink_group(g: pd.DataFrame, *, tau_floor: float, rng: np.random.Generator) -> pd.DataFrame:
    """Shrink one (period, kpi) group of departments; see the module docstring. Needs numerator,
    denominator, sum_squares, observed, expected, city, city_variance; adds post_a, post_b
    (rates), post_mean, post_sd (observed scale), shrunk, lo, hi (adjusted scale), funnel_z,
    funnel_status."""
    g = g.copy()
    kind = KPI_BY_NAME[g["kpi"].iloc[0]].kind
    n = g["denominator"].to_numpy(float)
    num = g["numerator"].to_numpy(float)
    obs = g["observed"].to_numpy(float)
    exp_ = g["expected"].to_numpy(float)
    city = g["city"].to_numpy(float)
    has = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "rate":
            e = np.clip(exp_, 0.01, 0.99)
            v0 = e * (1 - e)
            noise = np.where(has, v0 / n, np.nan)
            tau2 = _prior_tau2(np.where(has, obs - exp_, np.nan), noise, tau_floor)
            m = np.clip(v0 / tau2 - 1.0, 1.0, MAX_STRENGTH) if np.isfinite(tau2) else np.nan
            a = num + m * e
            b = n - num + m * (1 - e)
            mean = a / (a + b)
            sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
            draws = rng.beta(
                np.where(has, a, 1.0)[:, None], np.where(has, b, 1.0)[:, None], (len(g), 4000)
            )
            qlo, qhi = np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=1)
            g["post_a"], g["post_b"] = np.where(has, a, np.nan), np.where(has, b, np.nan)
        else:
            var_d = g["sum_squares"].to_numpy(float) / n - obs**2
            cv = g["city_variance"].to_numpy(float)
            s2 = np.where(n >= 2, np.maximum(var_d * n / np.maximum(n - 1, 1), 0), cv)
            v0 = cv
            noise = np.where(has, np.maximum(s2, 1e-12) / n, np.nan)
            tau2 = _prior_tau2(np.where(has, obs - exp_, np.nan), noise, tau_floor)
            shrink = tau2 / (tau2 + noise)
            mean = exp_ + shrink * (obs - exp_)
            sd = np.sqrt(shrink * noise)
            qlo, qhi = mean - _Z * sd, mean + _Z * sd
            g["post_a"], g["post_b"] = np.nan, np.nan
        g["post_mean"] = np.where(has, mean, np.nan)
        g["post_sd"] = np.where(has, sd, np.nan)
        lim = (0.0, 1.0) if kind == "rate" else (-np.inf, np.inf)
        g["shrunk"] = np.where(has, np.clip(city + mean - exp_, *lim), np.nan)
        g["lo"] = np.where(has, np.clip(city + qlo - exp_, *lim), np.nan)
        g["hi"] = np.where(has, np.clip(city + qhi - exp_, *lim), np.nan)
        g["prior_sd"] = np.sqrt(tau2) if np.isfinite(tau2) else np.nan
        z = (obs - exp_) / np.sqrt(v0 / n)
    z = np.where(has & np.isfinite(z), z, np.nan)
    g["funnel_z"] = z
    az = np.abs(z)
    g["funnel_status"] = np.select(
        [~has, ~np.isfinite(az), az >= 3, az >= 2],
        ["no_data", "within", "alarm", "alert"],
        "within",
    )
    return g


def shrink_kpis(df: pd.DataFrame, *, tau_floor: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """``shrink_group`` over every (period, grain, kpi) of a per-department KPI table (rows
    of quantile KPIs pass through with null shrinkage); seeded, so reproducible."""
    rng = np.random.default_rng(seed)
    parts = []
    for _, g in df.sort_values(["period", "grain", "kpi", "department"]).groupby(
        ["period", "grain", "kpi"], sort=True
    ):
        if KPI_BY_NAME[g["kpi"].iloc[0]].kind == "quantile":
            parts.append(g)
        else:
            parts.append(shrink_group(g, tau_floor=tau_floor, rng=rng))
    return pd.concat(parts, ignore_index=True) if parts else df
