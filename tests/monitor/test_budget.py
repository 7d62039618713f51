"""False-alarm budget, materiality and one alert per incident (issue 25), on hand-made windows:
the pandas group functions of the alerts step are called directly (no Spark)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from visitonce.config import ConfigError, MonitorConfig, load_config
from visitonce.monitor import alerts as AL
from visitonce.monitor import detect as D
from visitonce.monitor import metrics as M


def test_threshold_lets_through_at_most_the_allowed_peaks() -> None:
    peaks = np.array([7.0, 30.0, 9.0, 12.0, 6.5, 8.0])
    # 4 weeks x 1 a week: the 4 highest (30, 12, 9, 8) pass, the 5th (7.0) must not
    t = AL.threshold_for(peaks, allowed=4, floor=6.0)
    assert 7.0 < t <= 8.0 and (peaks >= t).sum() == 4
    # fewer incidents than allowed: the floor rules
    assert AL.threshold_for(peaks, allowed=10, floor=6.0) == 6.0
    # never below the floor, even when the budget cuts below it
    assert AL.threshold_for(np.array([5.0, 5.5]), allowed=0, floor=6.0) == 6.0
    assert AL.threshold_for(np.array([]), allowed=0, floor=6.0) == 6.0


def _windows(rows: list[tuple[int, str, str, str, float]]) -> pd.DataFrame:
    """Candidate windows of centre C01 on 2026-03-04 (hour, channel, department, metric, score)."""
    base = pd.Timestamp("2026-03-04 00:00")
    out = []
    for hour, channel, dept, metric, score in rows:
        start = base + pd.Timedelta(hours=hour)
        out.append(
            {
                AL.KEY: "C01",
                M.WINDOW_START: start,
                M.WINDOW_END: start + pd.Timedelta(hours=1),
                M.LOCAL_DATE: dt.date(2026, 3, 4),
                "center": "C01",
                "channel": channel,
                "department": dept,
                M.METRIC: metric,
                M.VALUE: 40.0,
                D.EXPECTED: 10.0,
                D.SCORE: score,
                D.DIRECTION_COL: "high",
                M.OFFICIALS: 3.0,
                "threshold": 8.0,
            }
        )
    return pd.DataFrame(out)


def test_adjacent_windows_across_channels_and_metrics_are_one_incident() -> None:
    pdf = _windows(
        [
            (1, "counter", "D1", "arrivals", 7.0),
            (2, "counter", "D2", "queue_estimate", 12.0),
            (4, "self_service", "D1", "waiting_p90_min", 9.0),  # gap of 1 window: same incident
            (9, "counter", "D3", "arrivals", 7.5),  # 4 windows later, peak under the threshold
            (14, "counter", "D3", "arrivals", 8.5),  # a second incident over it
        ]
    )
    out = AL._merge(MonitorConfig())(pdf).sort_values("first_seen")
    assert len(out) == 2
    first = out.iloc[0]
    assert first["metric"] == "queue_estimate" and first["department"] == "D2"
    assert first["n_windows"] == 3 and first["updates"] == 2
    assert first["metrics"] == ["arrivals", "queue_estimate", "waiting_p90_min"]
    assert first["channels"] == ["counter", "self_service"]
    assert first["first_seen"] == pd.Timestamp("2026-03-04 01:00")
    assert first["peak_at"] == pd.Timestamp("2026-03-04 02:00")
    assert first[M.WINDOW_END] == pd.Timestamp("2026-03-04 05:00")
    assert out.iloc[1]["score"] == 8.5 and out.iloc[1]["updates"] == 0


def test_calibration_counts_incidents_not_windows() -> None:
    # 3 incidents (peaks 12, 7.5, 8.5) in 2 weeks with a budget of 1 a week: 2 may pass.
    pdf = _windows(
        [
            (1, "counter", "D1", "arrivals", 7.0),
            (2, "counter", "D2", "queue_estimate", 12.0),
            (9, "counter", "D3", "arrivals", 7.5),
            (14, "counter", "D3", "arrivals", 8.5),
        ]
    ).drop(columns=["threshold"])
    row = AL._calibrator(MonitorConfig(), history_weeks=2.0)(pdf).iloc[0]
    assert row["candidate_incidents"] == 3 and row["allowed_incidents"] == 2
    assert 7.5 < row["threshold"] <= 8.5 and row["incidents_over_threshold"] == 2
    assert list(row["top_peaks"]) == [12.0, 8.5, 7.5]
    half = MonitorConfig(false_alarms_per_centre_week=0.5)
    assert AL._calibrator(half, history_weeks=2.0)(pdf).iloc[0]["incidents_over_threshold"] == 1


def test_materiality_per_metric() -> None:
    cfg = MonitorConfig()  # wait target 15 min, clear within 1 window, ratio 1.5, drop to half
    pdf = pd.DataFrame(
        {
            M.OFFICIALS: [2.0, 2.0, np.nan, 2.0],
            M.PROCESSING_MEAN: [10.0, 10.0, 10.0, 10.0],
        }
    )
    z = np.array([8.0, 8.0, 8.0, -8.0])
    med = np.array([4.0, 4.0, 4.0, 20.0])
    # 2 officials x 60 min / 10 min = 12 citizens cleared per window
    queue = D._material(pdf, "queue_estimate", np.array([13.0, 11.0, 6.0, 0.0]), med, z, cfg)
    assert list(queue[:3]) == [True, False, True]  # 6 >= 1.5 x 4 without a roster
    arr = D._material(pdf, "arrivals", np.array([13.0, 11.0, 5.0, 10.0]), med, z, cfg)
    assert list(arr) == [True, False, False, True]  # drop to 10 of 20 expected is material
    wait = D._material(pdf, "waiting_p90_min", np.array([15.0, 14.9, 30.0, 1.0]), med, z, cfg)
    assert list(wait) == [True, False, True, False]
    sat = D._material(pdf, "satisfaction_mean", np.array([4.0, 4.6, 4.5, 1.0]), med + 0.6, z, cfg)
    assert list(sat) == [True, False, False, True]  # drops 0.6, 0, 0.1, 19.6 points


def test_budget_must_be_positive(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("monitor:\n  false_alarms_per_centre_week: 0\n")
    with pytest.raises(ConfigError, match="false_alarms_per_centre_week must be > 0"):
        load_config(p)


def _score(values: list[float]) -> pd.DataFrame:
    """``detect.score`` of one series whose every window has baseline 10, scale 2 and enough
    history and cases."""
    n = len(values)
    pdf = pd.DataFrame(
        {M.VALUE: values, M.N: [50] * n, M.OFFICIALS: [2.0] * n, M.PROCESSING_MEAN: [10.0] * n}
    )
    ones = np.ones(n)
    return D.score(
        pdf,
        metric="waiting_p90_min",
        med=10 * ones,
        scale=2 * ones,
        count=10 * ones,
        config=MonitorConfig(),
    )


def test_cusum_restarts_after_a_signal_so_a_long_shift_ends_with_it() -> None:
    # z = 3 for 12 windows (a sustained shift), then back to the baseline (z = 0) for 6.
    # k = 1, h = 8: S = 2, 4, 6, 8 (signal, restart), 2, 4, 6, 8 (signal), ..., then 0 at once.
    out = _score([16.0] * 12 + [10.0] * 6)
    assert list(out[D.CUSUM]) == [2, 4, 6, 8] * 3 + [0] * 6
    assert list(out[D.ANOMALOUS]) == ([False] * 3 + [True]) * 3 + [False] * 6
    # a signal scores z_threshold x S / h = 6 x 8 / 8: a shift of any length scores the same,
    # and the shift's end is the end of its signals (without the restart S would have reached
    # 24 and flagged 18 more windows after the shift, at scores up to 18)
    assert set(out.loc[out[D.ANOMALOUS], D.SCORE]) == {6.0}
    # a short spike (z = 31) outranks it
    assert _score([10.0, 72.0, 10.0])[D.SCORE].max() == 31.0


def test_quiet_windows_are_filled_in_the_detector_and_only_candidates_kept() -> None:
    """A series active at 09:00 on weekdays, with arrivals on 5 of 6 weekday dates: the
    detector fills the missing date with 0 (an outage is a drop), judges it against the slot's
    baseline of all 6 windows, and returns it because it is an alert candidate; a slot whose
    quiet windows are not anomalous returns only its windows with arrivals."""
    days = [dt.date(2026, 3, d) for d in (2, 3, 4, 5, 6, 9)]  # weekdays
    dates = pd.DataFrame({M.LOCAL_DATE: days, M.DAYTYPE: 0})
    seen = [d for d in days if d != dt.date(2026, 3, 6)]

    def rows(slot: int, values: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                M.LOCAL_DATE: seen, M.SLOT: slot, M.DAYTYPE: 0, "center": "C1",
                "channel": "counter", "department": "D1", M.METRIC: "arrivals",
                M.VALUE: values, M.N: [int(v) for v in values], "arrivals": values,
                M.ONLINE_CAPABLE_ARRIVALS: 0, M.PROCESSING_MEAN: 5.0, M.OFFICIALS: 2.0,
                M.WINDOW_START: pd.NaT, M.WINDOW_END: pd.NaT,
            }
        )  # fmt: skip

    busy = D.with_zero_windows(rows(540, [40.0, 42.0, 38.0, 41.0, 39.0]), dates)
    assert list(busy[M.LOCAL_DATE]) == days  # in date order, the quiet date filled
    quiet = busy[busy[M.LOCAL_DATE] == dt.date(2026, 3, 6)].iloc[0]
    assert quiet[M.VALUE] == 0 and quiet[M.N] == 0 and np.isnan(quiet[M.PROCESSING_MEAN])
    run = D._detector(MonitorConfig(), dates)
    out = run(rows(540, [40.0, 42.0, 38.0, 41.0, 39.0]))
    assert len(out) == 6 and (out[D.N_HISTORY] == 6).all()  # the drop is a candidate: kept
    assert out[(out[M.VALUE] == 0)][[D.ANOMALOUS, D.MATERIAL]].all(axis=None)
    assert (out[D.EXPECTED] == 39.5).all()  # median of 40, 42, 38, 41, 39 and the 0
    sparse = run(rows(600, [1.0, 1.0, 2.0, 1.0, 1.0]))
    assert len(sparse) == 5 and (sparse[D.N_HISTORY] == 6).all()  # the quiet 0 is no drop
