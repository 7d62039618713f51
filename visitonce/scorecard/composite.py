"""Composite score, Monte Carlo intervals, ranks, bands, gates and weight sensitivity (driver).

Per-department data are small (departments x KPIs per period), so this runs in numpy on the
driver, seeded and therefore reproducible. For one (period, grain):

1. Each KPI's adjusted value x is normalized between its floor (0) and target (1):
   u = clip((x - floor) / (target - floor), 0, 1) (floor > target where lower is better).
2. Pillar score = weighted mean of the normalized KPIs (weights within the pillar from config).
   A KPI unavailable in the input is left out and the others re-weighted; a KPI the department
   has no data for (denominator 0) enters at its prior: the city value, drawn with the
   between-department spread, so that a department with little data is uncertain, not lucky.
3. Score = 100 x weighted mean of the pillar scores (pillar weights from config, pillars with
   no KPI left out and the others re-weighted).
4. Monte Carlo: ``mc_draws`` joint draws from the KPI posteriors (visitonce.scorecard.shrink:
   Beta for rates, normal for means), each scored as above. ``score`` is the score of the
   posterior means; ``score_lo``/``score_hi`` the 5th/95th percentiles of the draws; ``rank``
   (1 = best) of ``score``, ``rank_lo``/``rank_hi`` the 5th/95th percentiles of the per-draw
   ranks.
5. Band: A-E by the score thresholds of config ``bands``; a gate (kpi above/below a threshold,
   on the shrunk *observed* value, not case-mix adjusted: a backlog is a backlog) caps the band.
   ``band_probability`` = share of draws (each with its own gates) that land in ``band``.
   A department-period with fewer than ``min_applications`` applications, or fewer than
   ``min_kpis_for_band`` KPIs with data, gets no score, rank or band (the ``gate`` column
   says why: "too few cases"); it is left out of the others' ranks.
6. Weight sensitivity: ``sensitivity_draws`` pillar-weight vectors ~ Dirichlet(c x w) around
   the configured weights w; ``band_weight_stability`` = share of them that keep the
   department's band; the manifest reports the mean share of departments whose band changes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from visitonce.config import BANDS, ScorecardsConfig
from visitonce.scorecard.kpis import COUNTED, KPI_BY_NAME, PILLARS

SCORED: tuple[str, ...] = tuple(k.name for k in COUNTED)


@dataclass
class PeriodScores:
    """Scores of one (period, grain): the table rows, and the score draws (for trends)."""

    table: pd.DataFrame
    departments: list[str]
    draws: np.ndarray  # (departments, mc_draws)
    band_change_share: float | None  # mean share of departments whose band changes
    extra: dict = field(default_factory=dict)


def normalize(x: np.ndarray, floor: float | np.ndarray, target: float | np.ndarray) -> np.ndarray:
    """Between floor (0) and target (1), clipped; NaN stays NaN."""
    return np.clip((x - floor) / (target - floor), 0.0, 1.0)


def _kpi_weights(config: ScorecardsConfig) -> tuple[np.ndarray, np.ndarray]:
    """(weight within pillar per KPI, pillar index per KPI) for SCORED."""
    w = np.array([config.kpis[k]["weight"] for k in SCORED], dtype=float)
    pill = np.array([PILLARS.index(KPI_BY_NAME[k].pillar) for k in SCORED])
    return w, pill


def pillar_scores(u: np.ndarray, config: ScorecardsConfig) -> tuple[np.ndarray, np.ndarray]:
    """(pillar scores 0-1, pillar has a KPI) from normalized KPIs ``u`` (departments, KPIs,
    ...draws), each (departments, pillars, ...draws); step 2 of the module docstring."""
    w, pill = _kpi_weights(config)
    shape = (1, len(SCORED)) + (1,) * (u.ndim - 2)
    wk = np.broadcast_to(w.reshape(shape), u.shape)
    has = np.isfinite(u) & (wk > 0)
    uu = np.where(has, u, 0.0)
    wu = np.where(has, wk, 0.0)
    out = np.zeros(u.shape[:1] + (len(PILLARS),) + u.shape[2:])
    present = np.zeros(out.shape, dtype=bool)
    for p in range(len(PILLARS)):
        sel = pill == p
        if not sel.any():
            continue
        ws = wu[:, sel].sum(axis=1)
        ps = (wu[:, sel] * uu[:, sel]).sum(axis=1)
        present[:, p] = ws > 0
        out[:, p] = np.where(ws > 0, ps / np.where(ws > 0, ws, 1.0), 0.0)
    return out, present


def score_matrix(
    u: np.ndarray, config: ScorecardsConfig, pillar_weights: np.ndarray | None = None
) -> np.ndarray:
    """Composite scores 0-100 from normalized KPIs ``u`` (departments, KPIs, ...draws), NaN
    for a KPI the department lacks; see steps 2-3 of the module docstring."""
    pw = (
        np.array([config.pillars[p] for p in PILLARS], dtype=float)
        if pillar_weights is None
        else pillar_weights
    )
    scores, present = pillar_scores(u, config)
    return weighted_scores(scores, present, pw[None, :])[..., 0]


def weighted_scores(scores: np.ndarray, present: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Step 3 for several pillar-weight vectors at once: ``scores``/``present`` (departments,
    pillars, ...draws) from ``pillar_scores``, ``weights`` (vectors, pillars); returns
    (departments, ...draws, vectors). A pillar with weight 0 or without a KPI is left out."""
    wts = np.where(weights > 0, weights, 0.0)  # (v, P)
    on = np.moveaxis(present, 1, -1).astype(float)  # (d, ...draws, P)
    val = np.moveaxis(np.where(present, scores, 0.0), 1, -1)
    total = val @ wts.T
    wsum = on @ wts.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wsum > 0, 100.0 * total / np.where(wsum > 0, wsum, 1.0), np.nan)


def band_index(score: np.ndarray, config: ScorecardsConfig) -> np.ndarray:
    """0 (A) .. 4 (E) by the band thresholds; NaN scores get E."""
    cuts = np.array([config.bands[b] for b in BANDS[:-1]])
    s = np.where(np.isfinite(score), score, -np.inf)
    return (s[..., None] < cuts).sum(axis=-1)


def gate_cap(gate_values: np.ndarray, config: ScorecardsConfig) -> np.ndarray:
    """Worst band index allowed per department (and draw): 0 when no gate fires. gate_values
    are shrunk observed values (departments, KPIs, ...draws)."""
    cap = np.zeros(gate_values.shape[:1] + gate_values.shape[2:], dtype=int)
    for g in config.gates:
        k = SCORED.index(g["kpi"]) if g["kpi"] in SCORED else None
        if k is None:
            continue
        v = gate_values[:, k]
        with np.errstate(invalid="ignore"):
            fired = v > g["above"] if "above" in g else v < g["below"]
        cap = np.where(fired & np.isfinite(v), np.maximum(cap, BANDS.index(g["cap"])), cap)
    return cap


def _gated_bands(score: np.ndarray, gates: np.ndarray, config: ScorecardsConfig) -> np.ndarray:
    return np.maximum(band_index(score, config), gates)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1 = best along axis 0 (ties share the better rank); NaN last. ``scores`` (departments,)
    or (departments, draws): each draw ranked on its own."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    if s.ndim == 1:
        return (s[None, :] > s[:, None]).sum(axis=1) + 1
    step = max(1, 50_000_000 // max(1, s.shape[0] ** 2))  # draws per chunk (bounded memory)
    return np.concatenate(
        [
            (s[None, :, i : i + step] > s[:, None, i : i + step]).sum(axis=1) + 1
            for i in range(0, s.shape[1], step)
        ],
        axis=1,
    )


def score_period(
    kpis: pd.DataFrame, *, config: ScorecardsConfig, rng: np.random.Generator
) -> PeriodScores:
    """Score one (period, grain) from its shrunk per-department KPI rows (visitonce.scorecard
    .shrink output: department, kpi, shrunk, post_mean, post_sd, post_a, post_b, expected,
    city, denominator)."""
    depts = sorted(kpis["department"].unique())
    d_ix = {d: i for i, d in enumerate(depts)}
    n_d, n_k, n_s = len(depts), len(SCORED), config.mc_draws
    point = np.full((n_d, n_k), np.nan)
    gate_point = np.full((n_d, n_k), np.nan)
    draws = np.full((n_d, n_k, n_s), np.nan)
    gate_draws = np.full((n_d, n_k, n_s), np.nan)
    with_data = np.zeros((n_d, n_k), dtype=bool)
    rows = kpis[kpis["kpi"].isin(SCORED)].sort_values(["kpi", "department"])
    for r in rows.itertuples(index=False):
        i, k = d_ix[r.department], SCORED.index(r.kpi)
        if not r.available:
            continue
        if not (r.denominator > 0) or not np.isfinite(r.shrunk):
            # No data for this department: its prior (city value, between-department spread).
            if np.isfinite(r.city) and np.isfinite(r.prior_sd):
                point[i, k] = r.city
                draws[i, k] = r.city + rng.normal(0.0, r.prior_sd, n_s)
                if KPI_BY_NAME[r.kpi].kind == "rate":
                    draws[i, k] = np.clip(draws[i, k], 0.0, 1.0)
            continue
        point[i, k] = r.shrunk
        with_data[i, k] = True
        gate_point[i, k] = r.post_mean
        if KPI_BY_NAME[r.kpi].kind == "rate":
            p = rng.beta(r.post_a, r.post_b, n_s)
        else:
            p = rng.normal(r.post_mean, r.post_sd if r.post_sd > 0 else 0.0, n_s)
        gate_draws[i, k] = p
        draws[i, k] = r.city + p - r.expected
        if KPI_BY_NAME[r.kpi].kind == "rate":
            draws[i, k] = np.clip(draws[i, k], 0.0, 1.0)
    floors = np.array([config.kpis[k]["floor"] for k in SCORED])
    targets = np.array([config.kpis[k]["target"] for k in SCORED])
    u_point = normalize(point, floors, targets)
    u_draws = normalize(draws, floors[None, :, None], targets[None, :, None])
    n_scored = with_data.sum(axis=1)
    n_apps = (
        kpis.groupby("department")["n_applications"].max().reindex(depts).fillna(0).to_numpy()
        if "n_applications" in kpis.columns
        else np.full(n_d, np.inf)
    )
    few_cases = n_apps < config.min_applications
    few = few_cases | (n_scored < config.min_kpis_for_band)
    score = np.where(few, np.nan, score_matrix(u_point, config))
    score_d = np.where(few[:, None], np.nan, score_matrix(u_draws, config))
    cap_point = gate_cap(gate_point, config)
    band = _gated_bands(score, cap_point, config)
    band_d = _gated_bands(score_d, gate_cap(gate_draws, config), config)
    rank = _ranks(score)
    rank_d = _ranks(score_d)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unscored rows: all-NaN draws
        lo, hi = np.nanpercentile(score_d, [5, 95], axis=1) if n_d else (score, score)
    # Weight sensitivity around the configured pillar weights.
    base_w = np.array([config.pillars[p] for p in PILLARS], dtype=float)
    stability = np.full(n_d, np.nan)
    change_share = None
    if config.sensitivity_draws > 0 and n_d:
        alpha = np.maximum(config.sensitivity_concentration * base_w / base_w.sum(), 1e-3)
        alpha = np.where(base_w > 0, alpha, 1e-3)
        weights = np.stack([rng.dirichlet(alpha) for _ in range(config.sensitivity_draws)])
        pillars, present = pillar_scores(u_point, config)
        b = _gated_bands(weighted_scores(pillars, present, weights), cap_point[:, None], config)
        stability = (b == band[:, None]).mean(axis=1)
        change_share = float(np.mean(1.0 - stability))
    gate_names = []
    for i in range(n_d):
        fired = []
        for g in config.gates:
            j = SCORED.index(g["kpi"]) if g["kpi"] in SCORED else None
            v = gate_point[i, j] if j is not None else np.nan
            if np.isfinite(v) and (v > g["above"] if "above" in g else v < g["below"]):
                op, thr = (">", g["above"]) if "above" in g else ("<", g["below"])
                fired.append(f"{g['kpi']} {op} {thr}: band at best {g['cap']}")
        gate_names.append("; ".join(fired) or None)
    finite = np.isfinite(score)
    for i in np.nonzero(few)[0]:
        if few_cases[i]:
            note = (
                f"too few cases: {int(n_apps[i])} application{'' if n_apps[i] == 1 else 's'} "
                f"(fewer than min_applications "
                f"{config.min_applications}): no score"
            )
        else:
            note = (
                f"too few cases: {n_scored[i]} KPIs with data (fewer than min_kpis_for_band "
                f"{config.min_kpis_for_band}): no score"
            )
        gate_names[i] = note  # no band, so no gate applies
    rated = finite & ~few
    stability = np.where(few, np.nan, stability)
    if change_share is not None:
        kept = stability[rated]
        change_share = float(np.mean(1.0 - kept)) if kept.size else None
    table = pd.DataFrame(
        {
            "department": depts,
            "score": np.where(finite, score, np.nan),
            "score_lo": np.where(finite, lo, np.nan),
            "score_hi": np.where(finite, hi, np.nan),
            "rank": np.where(finite, rank, np.nan),
            "rank_lo": np.where(finite, np.floor(np.percentile(rank_d, 5, axis=1)), np.nan),
            "rank_hi": np.where(finite, np.ceil(np.percentile(rank_d, 95, axis=1)), np.nan),
            "band": [BANDS[b] if f else None for b, f in zip(band, rated, strict=True)],
            "band_probability": np.where(rated, (band_d == band[:, None]).mean(axis=1), np.nan),
            "band_weight_stability": stability,
            "gate": gate_names,
            "n_kpis_scored": n_scored,
        }
    )
    return PeriodScores(
        table=table,
        departments=depts,
        draws=score_d,
        band_change_share=change_share,
        extra={"u_point": u_point, "point": point, "score_point": score},
    )


def effective_weights(has: np.ndarray, config: ScorecardsConfig) -> np.ndarray:
    """Weight of each KPI in a department's score (sums to 1 over its scored KPIs): the share
    of 100 points a full move from floor to target of that KPI is worth. ``has`` (KPIs,)."""
    w, pill = _kpi_weights(config)
    pw = np.array([config.pillars[p] for p in PILLARS], dtype=float)
    ok = has & (w > 0)
    out = np.zeros(len(SCORED))
    live = [p for p in range(len(PILLARS)) if pw[p] > 0 and (ok & (pill == p)).any()]
    total = sum(pw[p] for p in live)
    for p in live:
        sel = ok & (pill == p)
        out[sel] = pw[p] / total * w[sel] / w[sel].sum()
    return out
