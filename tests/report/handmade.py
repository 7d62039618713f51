"""Hand-made report tables: a few rows of every table the pages draw from, with values chosen
so each page has something to show (a flagged step, an insufficient one, a suppressed
scorecard, a small equity group). Scorecard tables follow the column names agreed for issue 5
(built in parallel), with KPI columns of our own.

Sentences the stages store (proposals, explanations, notes, references) come both ways: as
written before messages existed (English text only: shown as stored) and as the stages write
them now (text plus its message, ``visitonce.messages``: rendered in the page's language)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from visitonce import messages as MSG

D = dt.date(2026, 3, 31)

# sentences as the stages compose them now: (English text, message JSON)
ADD = MSG.compose(
    "alert.add_officials_roster", extra=2, department="D1", center="C1", when="09:00-11:00",
    arrivals="30", usual="12", service="6.0", needed=5, target="15", needed_usual=3, roster="3",
)  # fmt: skip
SAID = [
    ("driver_down", MSG.compose(
        "explain.driver_down", kpi="on_time_rate", value="0.61", city="0.82", points="4.2")),
    ("lagging_step", MSG.compose(
        "explain.lagging_step", step="review", service_item="I01", ratio="3.0",
        kind="processing")),
]  # fmt: skip
SHORT = MSG.compose("staffing.short_move", short="3.0", center="C2", idle="4.0")
IDLE = MSG.compose("staffing.idle_move", idle="4.0", center="C1", short="3.0")


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
            "comparison": ["places", "places", "peers", None],
            "place": ["C2", "C1", None, None],
            "reference": ["the other 4 centres", "the other 2 centres", "x", None],
            "reference_message": [
                MSG.compose("reference.places", others=4)[1],
                MSG.compose("reference.places", others=2)[1],
                None,
                None,
            ],
            "excess_s": [172800.0, 60.0, 1200.0, None],
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
            "proposals": [["open 2 more desks (Erlang C: wait under 15 min)", ADD[0]], []],
            "proposal_messages": [[None, ADD[1]], None],
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
            # D3 (6 applications) is below the evidence minimum: listed, no score
            "score": [70.0, 74.5, 61.25, None],
            "score_lo": [65.0, 70.0, 55.0, None],
            "score_hi": [75.0, 79.0, 67.5, None],
            "band": ["B", "B", "C", None],
            "band_probability": [0.7, 0.81, 0.55, None],
            "rank": [1, 1, 2, None],
            "rank_lo": [1, 1, 1, None],
            "rank_hi": [2, 2, 2, None],
            "config_hash": ["h"] * 4,
            "method_version": ["1"] * 4,
            "on_time_rate": [0.9, 0.92, 0.8, 0.5],
            "n_kpis_scored": np.array([3, 3, 2, 2], dtype="int64"),
            "unavailable_kpis": [
                ["rating_coverage"],
                ["rating_coverage", "wait_within_w_rate"],
                ["rating_coverage", "wait_within_w_rate"],
                ["rating_coverage", "wait_within_w_rate"],
            ],
            "gate": [
                None,
                None,
                None,
                "too few cases: 6 applications (fewer than min_applications 20): no score",
            ],
        }
    )


def scorecard_kpis() -> pd.DataFrame:
    rows = [
        ("D1", "on_time_rate", 386.0, 420.0, 0.919, 0.9, 0.921, 0.92, 0.89, 0.95, "within", True),
        ("D1", "visits_per_case", 520.0, 420.0, 1.238, 1.1, 1.2, 1.19, 1.1, 1.3, "worse", True),
        ("D2", "on_time_rate", 248.0, 310.0, 0.8, 0.9, 0.81, 0.82, 0.77, 0.86, "much_worse", True),
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
            "period": ["2026-03"] * 4,
            "department": ["D1"] * 4,
            "kind": ["driver_up", "next_band"] + [k for k, _ in SAID],
            "text": ["on-time rate above expected", "2.5 points from band A"]
            + [t for _, (t, _) in SAID],
            "message": [None, None] + [m for _, (_, m) in SAID],
            "value": [3.2, 2.5, 0.61, 2.5],
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


# --- demand tables (contracts schemas/<name>.v1.yaml; written with the contract's types) -------

P0, P1 = dt.date(2026, 3, 4), D  # the demand stage's current period: 28 local dates


def demand() -> pd.DataFrame:
    """By item: I01 40 now / 30 before; I02 5 / 0 (no trend); I09 3 / 4. By channel: counter
    38 / 24, online 10 / 10."""
    return pd.DataFrame(
        {
            "service_item": ["I01", "I01", "I02", "I09"],
            "center": ["C1", None, "C2", "C1"],
            "channel": ["counter", "online", "counter", "counter"],
            "district": ["330101", "330102", None, "330101"],
            "weekday": [1, 3, 1, 2],
            "hour": [9, 20, 9, 10],
            "volume": [30, 10, 5, 3],
            "previous_volume": [20, 10, 0, 4],
            "trend": [0.5, 0.0, None, -0.25],
            "period_start": [P0] * 4,
            "period_end": [P1] * 4,
            "small_n": [False, True, True, True],
        }
    )


def demand_forecast() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "center": ["C1", "C1", "C2"],
            "forecast_date": [dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 1)],
            "weekday": [3, 4, 3],
            "hour": [9, 9, 9],
            "forecast": [20.5, 19.5, 5.25],
            "seasonal_baseline": [20.0, 20.0, 5.25],
            "naive_last_week": [22.0, 19.0, 6.0],
            "method": ["model", "model", "seasonal_baseline"],
        }
    )


def staffing_plan() -> pd.DataFrame:
    """C1 Mon 09 short by 3, C1 Mon 10 balanced, C2 Mon 09 idle by 4, C2 Tue 09 no roster."""
    return pd.DataFrame(
        {
            "center": ["C1", "C1", "C2", "C2"],
            "weekday": [1, 1, 1, 2],
            "hour": [9, 10, 9, 9],
            "n_days": [4, 4, 4, 4],
            "arrivals_per_hour": [20.0, 10.0, 5.0, 4.0],
            "mean_service_min": [6.0, 6.0, 5.0, 5.0],
            "mean_wait_min": [25.0, 8.0, 2.0, 3.0],
            "observed_within_target": [0.55, 0.85, 0.98, 0.9],
            "rostered_officials": [3.0, 4.5, 6.0, None],
            "offered_load": [2.0, 1.0, 0.4167, 0.3333],
            "servers_needed": [4, 2, 1, 1],
            "official_time_factor": [1.5] * 4,
            "officials_needed": [6, 4, 2, 2],
            "rostered_service_level": [0.3, 0.82, 0.99, None],
            "gap": [-3.0, 0.5, 4.0, None],
            "status": ["short", "balanced", "idle", None],
            "note": [SHORT[0], None, IDLE[0], None],
            "note_message": [SHORT[1], None, IDLE[1], None],
        }
    )


def service_hours() -> pd.DataFrame:
    """Peaks C1 09 and 10, C2 09; C1 Mon 09 extend, C2 Mon 18 close, C1 Mon 17 a small edge."""
    return pd.DataFrame(
        {
            "center": ["C1", "C1", "C1", "C2", "C2"],
            "weekday": [1, 1, 1, 1, 1],
            "hour": [9, 10, 17, 9, 18],
            "arrivals_per_hour": [20.0, 10.0, 1.0, 5.0, 0.5],
            "n_arrivals": [80.0, 40.0, 4.0, 20.0, 25.0],
            "officials_needed": [6, 4, 1, 2, 1],
            "rostered_officials": [3.0, 4.5, 2.0, 6.0, 2.0],
            "citizens_per_official": [3.3333, 2.5, 1.0, 2.5, 0.5],
            "rank": [1, 2, 3, 1, 2],
            "is_peak": [True, True, False, True, False],
            "edge": ["opening", None, "closing", "opening", "closing"],
            "proposal": ["consider_extending", "keep", "keep", "keep", "consider_closing"],
            "small_n": [False, False, True, False, False],
        }
    )


def digital_gap() -> pd.DataFrame:
    """I05 mostly online, but its 75+ band (a small group) relies on the counter; I06 mostly at
    counters."""
    return pd.DataFrame(
        {
            "service_item": ["I05", "I05", "I05", "I06", "I06"],
            "age_band": ["18-59", "75+", "all", "18-59", "all"],
            "n_applications": [100, 12, 112, 50, 50],
            "counter_share": [0.3, 0.9167, 0.3661, 0.6, 0.6],
            "remote_share": [0.7, 0.0833, 0.6339, 0.4, 0.4],
            "mostly_counter": [False, True, False, True, True],
            "relies_on_counter": [False, True, False, False, False],
            "small_n": [False, True, False, False, False],
        }
    )


def reform_priorities() -> pd.DataFrame:
    """I01 first by volume x burden; I09 small but the heaviest burden."""
    return pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "service_item": ["I01", "I02", "I09"],
            "department": ["D1", "D2", "D4"],
            "n_applications": [400, 300, 12],
            "n_citizens": [350, 280, 10],
            "share_of_citizens": [0.35, 0.28, 0.01],
            "most_affected_group": ["18-59", "60-74", "75+"],
            "group_share": [0.05, 0.04, 0.125],
            "visits_per_application": [1.5, 1.0, 3.0],
            "mean_wait_min": [12.0, 8.0, 30.0],
            "mean_elapsed_days": [3.0, 2.0, 10.0],
            "mean_satisfaction": [4.0, 4.5, 2.5],
            "n_lagging_steps": [1, 0, 0],
            "visits_ratio": [1.2, 0.8, 2.4],
            "wait_ratio": [1.1, 0.7, 2.7],
            "elapsed_ratio": [1.0, 0.7, 3.3],
            "dissatisfaction_ratio": [1.1, 0.6, 2.7],
            "lagging_ratio": [1.85, 0.95, 0.95],
            "burden": [1.25, 0.9, 2.5],
            "priority_score": [500.0, 270.0, 30.0],
            "burden_rank": [2, 3, 1],
            "small_n": [False, False, True],
        }
    )


DEMAND_TABLES = {
    "demand": demand,
    "demand_forecast": demand_forecast,
    "staffing_plan": staffing_plan,
    "service_hours": service_hours,
    "digital_gap": digital_gap,
    "reform_priorities": reform_priorities,
}

# The demand stage's manifest section (stage_results.demand), as the stage writes it.
DEMAND_SECTION = {
    "demand": {"period_start": "2026-03-04", "period_end": "2026-03-31",
               "previous_period_days_with_data": 10},
    "forecast": {
        "history_days": 56,
        "holdout_days": 28,
        "holdout_start": "2026-03-04",
        "errors": {
            "naive_last_week": {"mae": 0.83, "rmse": 1.899, "wape": 0.553},
            "seasonal_baseline": {"mae": 0.636, "rmse": 1.462, "wape": 0.424},
            "model": {"mae": 0.62, "rmse": 1.406, "wape": 0.413},
        },
        "errors_by_center": {
            "C1": {"naive_last_week": 0.5, "seasonal_baseline": 0.4, "model": 0.38},
            "C2": {"naive_last_week": 0.7, "seasonal_baseline": 0.45, "model": 0.47},
        },
        "methods": {"C1": "model", "C2": "seasonal_baseline"},
    },
    "staffing": {
        "official_time_factor": 1.5,
        "calibrated": True,
        "target": "80% within 15 minutes",
        "target_message": {"code": "staffing.target", "params": {"level": "80%", "minutes": "15"}},
        "weekday_gap_by_center": {"C1": -1.25, "C2": 4.0},
        "short_centers": ["C1"],
    },
    "peak_hours": {"C1": [9, 10], "C2": [9]},
}  # fmt: skip
