"""Explanations of each department's score (driver side): drivers, next band, trend.

Rows of ``scorecard_explanations`` (one ``kind`` each):

- ``driver_up`` / ``driver_down``: the KPIs that most raise / lower the score against the
  city-average department (every KPI at the city value): contribution = 100 x w_k x
  (u_k(department) - u_k(city)), with w_k the KPI's effective weight in the department's score
  and u the floor-target normalization. The contributions of all KPIs add up to score minus
  the city-average department's score (with the same weights).
- ``lagging_step``: the department's flagged lagging steps (lagging_steps table), by excess
  ratio: the item and step behind a slow timeliness pillar.
- ``next_band``: the smallest single-KPI change (in normalized units) that lifts the score to
  the next band's threshold, others unchanged; when a gate caps the band, the change of the
  gate's KPI that lifts the gate. A department already in A gets none.
- ``trend``: score minus the previous period's score of the same grain, with a 90% interval
  from the two periods' independent Monte Carlo draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from visitonce import messages as MSG
from visitonce.config import BANDS, ScorecardsConfig
from visitonce.scorecard.composite import SCORED, PeriodScores, effective_weights, normalize

TOP = 3


def previous_period(period: str, grain: str) -> str:
    """The period before ``period`` of the same grain (2026-03 -> 2026-02, 2026-Q1 -> 2025-Q4,
    2026 -> 2025)."""
    if grain == "year":
        return str(int(period) - 1)
    year, rest = period.split("-")
    y, n = int(year), int(rest.lstrip("Q"))
    if grain == "quarter":
        return f"{y - 1}-Q4" if n == 1 else f"{y}-Q{n - 1}"
    return f"{y - 1}-12" if n == 1 else f"{y}-{n - 1:02d}"


def _row(kind: str, order: int, subject: str | None, *, say: tuple[str, dict], **kw) -> dict:
    """One explanation row; ``say`` is its message (code, params), stored as English ``text``
    and as ``message`` (visitonce.messages)."""
    base = {"kind": kind, "order": order, "subject": subject, "value": None, "reference": None,
            "contribution": None, "delta": None, "lo": None, "hi": None}  # fmt: skip
    base.update(kw)
    base["text"], base["message"] = MSG.compose(say[0], **say[1])
    return base


def explain_period(
    scores: PeriodScores,
    city: dict[str, float],
    *,
    config: ScorecardsConfig,
    previous: PeriodScores | None = None,
    lagging: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Explanation rows of one (period, grain): department + the columns of ``_row``.
    ``city`` maps KPI -> city value of the period; ``lagging`` is the lagging_steps table
    (pandas, flagged rows are used) or None."""
    floors = np.array([config.kpis[k]["floor"] for k in SCORED])
    targets = np.array([config.kpis[k]["target"] for k in SCORED])
    city_x = np.array([city.get(k, np.nan) for k in SCORED], dtype=float)
    u_city = normalize(city_x, floors, targets)
    u, x = scores.extra["u_point"], scores.extra["point"]
    out: list[dict] = []
    tab = scores.table.set_index("department")
    cuts = {b: config.bands[b] for b in BANDS[:-1]}
    for i, dept in enumerate(scores.departments):
        if not np.isfinite(scores.table.loc[i, "score"]):
            continue  # too few cases: no score, nothing to explain
        has = np.isfinite(u[i]) & np.isfinite(u_city)
        w = effective_weights(has, config)
        contrib = np.where(has, 100.0 * w * (np.nan_to_num(u[i]) - np.nan_to_num(u_city)), 0.0)
        order = np.argsort(-contrib)
        ups = [k for k in order if contrib[k] > 1e-9][:TOP]
        downs = [k for k in order[::-1] if contrib[k] < -1e-9][:TOP]
        for kind, ks in (("driver_up", ups), ("driver_down", downs)):
            for j, k in enumerate(ks):
                out.append({"department": dept, **_row(
                    kind, j + 1, SCORED[k], value=x[i, k], reference=city_x[k],
                    contribution=contrib[k],
                    say=(f"explain.{kind}", dict(
                        kpi=SCORED[k], value=f"{x[i, k]:.3g}", city=f"{city_x[k]:.3g}",
                        points=f"{abs(contrib[k]):.1f}")))})  # fmt: skip
        if lagging is not None and len(lagging):
            mine = lagging[(lagging["department"] == dept) & lagging["flagged"]]
            mine = mine.sort_values("excess_ratio", ascending=False).head(TOP)
            for j, r in enumerate(mine.itertuples(index=False)):
                out.append({"department": dept, **_row(
                    "lagging_step", j + 1, f"{r.service_item}/{r.step} ({r.kind})",
                    value=r.excess_ratio, reference=1.0,
                    say=("explain.lagging_step", dict(
                        step=r.step, service_item=r.service_item, ratio=f"{r.excess_ratio:.1f}",
                        kind=r.kind)))})  # fmt: skip
        band = tab.loc[dept, "band"]
        score = tab.loc[dept, "score"]
        if band is not None and band != "A" and np.isfinite(score):
            nxt = BANDS[BANDS.index(band) - 1]
            gate = tab.loc[dept, "gate"]
            by_score = BANDS[int((score < np.array(list(cuts.values()))).sum())]
            if gate and BANDS.index(by_score) < BANDS.index(band):
                g = next(
                    g for g in config.gates
                    if BANDS.index(g["cap"]) >= BANDS.index(band) and g["kpi"] in gate
                )  # fmt: skip
                thr = g.get("above", g.get("below"))
                out.append({"department": dept, **_row(
                    "next_band", 1, g["kpi"], reference=thr,
                    say=("explain.gate_below" if "above" in g else "explain.gate_above", dict(
                        kpi=g["kpi"], threshold=thr, cap=g["cap"])))})  # fmt: skip
            else:
                need = cuts[nxt] - score
                best = None
                for k in range(len(SCORED)):
                    if not has[k] or w[k] <= 0:
                        continue
                    du = need / (100.0 * w[k])
                    if u[i, k] + du <= 1.0 + 1e-12 and (best is None or du < best[1]):
                        best = (k, du)
                if best is None:
                    out.append({"department": dept, **_row(
                        "next_band", 1, None, reference=cuts[nxt],
                        say=("explain.no_single_kpi", dict(band=nxt)))})  # fmt: skip
                else:
                    k, du = best
                    new_x = floors[k] + (u[i, k] + du) * (targets[k] - floors[k])
                    out.append({"department": dept, **_row(
                        "next_band", 1, SCORED[k], value=x[i, k], reference=new_x,
                        delta=new_x - x[i, k],
                        say=("explain.next_band", dict(
                            kpi=SCORED[k], value=f"{x[i, k]:.3g}", target=f"{new_x:.3g}",
                            score=f"{score:.1f}", cut=f"{cuts[nxt]:.0f}", band=nxt)))})  # fmt: skip
        if previous is not None and dept in previous.departments:
            j = previous.departments.index(dept)
            prev_score = previous.table.set_index("department").loc[dept, "score"]
            if np.isfinite(score) and np.isfinite(prev_score):
                diff = scores.draws[i] - previous.draws[j]
                lo, hi = np.nanpercentile(diff, [5, 95])
                out.append({"department": dept, **_row(
                    "trend", 1, "score", value=score, reference=prev_score,
                    delta=score - prev_score, lo=lo, hi=hi,
                    say=("explain.trend", dict(
                        delta=f"{score - prev_score:+.1f}", lo=f"{lo:+.1f}",
                        hi=f"{hi:+.1f}")))})  # fmt: skip
    return pd.DataFrame(out)
