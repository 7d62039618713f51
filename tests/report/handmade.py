"""Hand-made report tables: a few rows of every table the pages draw from, with values chosen
so each page has something to show (a flagged step, an insufficient one, a suppressed
scorecard, a small equity group). Scorecard tables follow the column names agreed for issue 5
(built in parallel), with KPI columns of our own."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

D = dt.date(2026, 3, 31)


def bundles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bundle_id": ["b1", "b2", "b3"],
            "scope": ["citizen", "citizen", "place"],
            "segment": [None, "citizen_type=enterprise", None],
            "items": [["I01", "I02"], ["I03", "I04", "I05"], ["P01", "P02"]],
            "departments": [["D1", "D2"], ["D3"], ["D9"]],
            "n_transactions": [120, 45, 30],
            "support": [0.0123, 0.2, 0.015],
            "lift": [8.5, 31.25, 4.0],
            "confidence": [0.6, 0.8, 0.5],
            "q_value": [1.5e-9, 0.0004, 0.004],
            "visits_saved": [118, 90, 12],
            "typical_order": ["I01 > I02", "I03 > I04 > I05", None],
            "median_span_days": [2.5, 4.0, None],
            "cross_department": [True, False, False],
            "period_start": [dt.date(2026, 3, 1)] * 3,
            "period_end": [D] * 3,
        }
    )


def bundle_changes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bundle_id": ["b1", "b2", "bx"],
            "scope": ["citizen", "citizen", "citizen"],
            "segment": [None, "citizen_type=enterprise", None],
            "items": [["I01", "I02"], ["I03", "I04", "I05"], ["I07", "I08"]],
            "change": ["strengthened", "new", "dropped"],
            "n_before": [80, None, 25],
            "n_now": [120, 45, None],
            "support_before": [0.008, None, 0.002],
            "support_now": [0.0123, 0.2, None],
            "lift_before": [7.0, None, 3.0],
            "lift_now": [8.5, 31.25, None],
            "period_end_before": [dt.date(2026, 2, 28)] * 3,
            "period_end": [D] * 3,
        }
    )


def item_associations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "scope": ["citizen"] * 3,
            "segment": [None] * 3,
            "item_a": ["I01", "I01", "I02"],
            "item_b": ["I02", "I03", "I03"],
            "n_a": [200, 200, 180],
            "n_b": [180, 90, 90],
            "n_ab": [120, 25, 21],
            "n_baskets": [9750] * 3,
            "support": [0.0123, 0.0026, 0.0022],
            "expected": [14.1, 12.0, 10.5],
            "lift": [8.5, 2.08, 2.0],
            "q_value": [1e-9, 0.2, 0.3],
            "significant": [True, False, False],
            "period_end": [D] * 3,
        }
    )


def lagging_steps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "service_item": ["I01", "I01", "I02", "I09"],
            "step": ["review", "accept", "approve", "review"],
            "department": ["D1", "D1", "D2", "D4"],
            "n": [250, 250, 180, 7],
            "observed_s": [259200.0, 600.0, 7200.0, 3000.0],
            "expected_s": [86400.0, 540.0, 6000.0, None],
            "excess_ratio": [3.0, 1.111, 1.2, None],
            "flagged": [True, False, False, False],
            "kind": ["processing", "waiting", "processing", "processing"],
            "setting": ["back_office", "desk", "back_office", "back_office"],
            "status": ["lagging", "normal", "workload", "insufficient_data"],
            "basis": ["working", "calendar", "working", "working"],
            "n_censored": [3, 0, 0, 0],
            "observed_lo_s": [230000.0, 500.0, 6000.0, None],
            "observed_hi_s": [280000.0, 700.0, 8000.0, None],
            "raw_observed_s": [300000.0, 650.0, 9000.0, 3000.0],
            "q_value": [1e-6, 0.5, 0.2, None],
            "n_peers": [8, 9, 8, 0],
        }
    )


def step_transitions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "service_item": ["I01", "I01"],
            "from_step": [None, "accept"],
            "to_step": ["accept", "review"],
            "n": [250, 248],
            "median_s": [600.0, 259200.0],
            "p90_s": [900.0, 400000.0],
            "share_of_item": [0.01, 0.95],
            "rank_in_item": [2, 1],
        }
    )


def alerts() -> pd.DataFrame:
    t = pd.Timestamp("2026-03-10 01:00:00")  # UTC; 09:00 in Asia/Shanghai
    return pd.DataFrame(
        {
            "window_start": [t, t + pd.Timedelta(days=3)],
            "window_end": [t + pd.Timedelta(hours=2), t + pd.Timedelta(days=3, hours=1)],
            "center": ["C1", "C2"],
            "channel": ["counter", "counter"],
            "department": ["D1", "D2"],
            "metric": ["wait_minutes", "arrivals"],
            "value": [48.25, 3.0],
            "expected": [12.0, 20.0],
            "score": [9.5, 6.2],
            "proposals": [["open 2 more desks (Erlang C: wait under 15 min)"], []],
            "alert_id": ["a1", "a2"],
            "alert_date": [dt.date(2026, 3, 10), dt.date(2026, 3, 13)],
            "direction": ["high", "low"],
            "n_windows": [2, 1],
            "metrics": [["wait_minutes"], ["arrivals"]],
            "officials_on_duty": [3.0, None],
            "departments": [["D1"], ["D2"]],
        }
    )


def scorecards() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": ["2026-02", "2026-03", "2026-03", "2026-03"],
            "department": ["D1", "D1", "D2", "D3"],
            "n_applications": np.array([400, 420, 310, 6], dtype="int64"),
            "score": [70.0, 74.5, 61.25, 50.0],
            "score_lo": [65.0, 70.0, 55.0, 20.0],
            "score_hi": [75.0, 79.0, 67.5, 80.0],
            "band": ["B", "B", "C", "C"],
            "band_probability": [0.7, 0.81, 0.55, 0.3],
            "rank": [1, 1, 2, 3],
            "rank_lo": [1, 1, 1, 1],
            "rank_hi": [2, 2, 3, 3],
            "config_hash": ["h"] * 4,
            "method_version": ["1"] * 4,
            "on_time_rate": [0.9, 0.92, 0.8, 0.5],
        }
    )


def scorecard_kpis() -> pd.DataFrame:
    rows = [
        ("D1", "on_time_rate", 386.0, 420.0, 0.919, 0.9, 0.921, 0.92, 0.89, 0.95, "within", True),
        ("D1", "visits_per_case", 520.0, 420.0, 1.238, 1.1, 1.2, 1.19, 1.1, 1.3, "alert", True),
        ("D2", "on_time_rate", 248.0, 310.0, 0.8, 0.9, 0.81, 0.82, 0.77, 0.86, "alarm", True),
        ("D2", "satisfaction", None, None, None, None, None, None, None, None, None, False),
    ]
    cols = ["department", "kpi", "numerator", "denominator", "observed", "expected",
            "adjusted", "shrunk", "lo", "hi", "funnel_status", "available"]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    df.insert(0, "period", "2026-03")
    return df


def scorecard_equity() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": ["2026-03"] * 2,
            "department": ["D1", "D1"],
            "kpi": ["on_time_rate"] * 2,
            "dimension": ["age_band", "age_band"],
            "group": ["18-59", "80+"],
            "n": [400, 4],
            "value": [0.93, 0.5],
            "gap": [0.01, -0.42],
            "small_group": [False, True],
        }
    )


def scorecard_explanations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": ["2026-03"] * 2,
            "department": ["D1", "D1"],
            "kind": ["driver_up", "next_band"],
            "text": ["on-time rate above expected", "2.5 points from band A"],
            "value": [3.2, 2.5],
        }
    )


TABLES = {
    "bundles": bundles,
    "bundle_changes": bundle_changes,
    "item_associations": item_associations,
    "lagging_steps": lagging_steps,
    "step_transitions": step_transitions,
    "alerts": alerts,
    "scorecards": scorecards,
    "scorecard_kpis": scorecard_kpis,
    "scorecard_equity": scorecard_equity,
    "scorecard_explanations": scorecard_explanations,
}
