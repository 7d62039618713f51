"""Unsupervised detection on history: seasonal robust baselines, robust z-scores and CUSUM.

For each series (centre, channel, department, metric) and seasonal slot (day type x time of
day), the baseline is the median of that slot's history and its scale 1.4826 x MAD (with a
floor per metric, so a flat history does not make every wobble an anomaly). A window's robust
z-score is (value - median) / scale, signed so that positive is bad; a one-sided CUSUM
S_t = max(0, S_{t-1} + min(z_t, z_threshold) - k) over the series' windows in time order
accumulates sustained moderate excess, and restarts at 0 after each signal (S >= cusum_h).
Without the restart a shift of a week left S in the hundreds, and S fell by at most k a window
once the shift ended: the series kept signalling for days afterwards, at scores (z_threshold x
S / cusum_h) no short spike could reach. A window is anomalous when z >= z_threshold or
S >= cusum_h (a floor: the alerts step raises it per centre to the false-alarm budget, see
``alerts``).

Materiality (``material``): an anomalous window only becomes an alert candidate when it matters
operationally: waits at or beyond ``material_wait_minutes``; a queue (or, at a rostered desk, an
arrivals surge) longer than the desks can clear in ``material_clear_windows`` windows (officials x
window / mean processing time), or without a roster ``material_ratio`` x expected; processing at
``material_ratio`` x expected; arrivals down to ``material_drop_share`` of expected; satisfaction
``material_satisfaction_drop`` points below expected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from visitonce.config import MonitorConfig
from visitonce.monitor import metrics as M

# +1: high is bad; -1: low is bad. Arrivals are judged both ways (surge and drop).
DIRECTION = {
    "arrivals": 0,
    "waiting_p50_min": 1,
    "waiting_p90_min": 1,
    "queue_estimate": 1,
    "processing_p50_min": 1,
    "satisfaction_mean": -1,
}
# Minimum scale per metric (in the metric's unit) and as a share of the baseline.
FLOOR = {
    "arrivals": (2.0, 0.15),
    "waiting_p50_min": (2.0, 0.15),
    "waiting_p90_min": (3.0, 0.15),
    "queue_estimate": (1.0, 0.15),
    "processing_p50_min": (1.0, 0.15),
    "satisfaction_mean": (0.3, 0.0),
}
MIN_HISTORY = 4  # windows in a slot before it has a baseline

EXPECTED = "expected"
SCORE = "score"
DIRECTION_COL = "direction"
ANOMALOUS = "anomalous"
CUSUM = "cusum"
MATERIAL = "material"
SCALE = "scale"  # the slot's robust scale (1.4826 x MAD, floored)
N_HISTORY = "n_history"  # windows of history in the slot (the baseline's count)


def _schema(columns: T.StructType) -> T.StructType:
    return T.StructType(
        list(columns.fields)
        + [
            T.StructField(EXPECTED, T.DoubleType()),
            T.StructField(SCORE, T.DoubleType()),
            T.StructField(CUSUM, T.DoubleType()),
            T.StructField(DIRECTION_COL, T.StringType()),
            T.StructField(ANOMALOUS, T.BooleanType()),
            T.StructField(MATERIAL, T.BooleanType()),
            T.StructField(SCALE, T.DoubleType()),
            T.StructField(N_HISTORY, T.LongType()),
        ]
    )


def _material(
    pdf: pd.DataFrame,
    metric: str,
    v: np.ndarray,
    med: np.ndarray,
    z: np.ndarray,
    config: MonitorConfig,
) -> np.ndarray:
    """Operational effect of each window (module docstring); NaN comparisons are False."""
    with np.errstate(invalid="ignore", divide="ignore"):
        officials = pdf[M.OFFICIALS].to_numpy(dtype=float)
        proc = pdf[M.PROCESSING_MEAN].to_numpy(dtype=float)
        clear = officials * config.window_minutes / proc * config.material_clear_windows
        clear = np.where((officials > 0) & (proc > 0), clear, np.nan)
        by_ratio = v >= config.material_ratio * np.maximum(med, 1.0)
        if metric in ("waiting_p50_min", "waiting_p90_min"):
            wait = config.material_wait_minutes
            return v >= (config.wait_target_minutes if wait is None else wait)
        if metric == "queue_estimate":
            return np.where(np.isnan(clear), by_ratio, v > clear)
        if metric == "arrivals":
            high = np.where(np.isnan(clear), by_ratio, v > clear)
            low = v <= config.material_drop_share * med
            return np.where(z < 0, low, high)
        if metric == "processing_p50_min":
            return by_ratio
        if metric == "satisfaction_mean":
            return med - v >= config.material_satisfaction_drop
    return np.ones(len(v), dtype=bool)


def score(
    pdf: pd.DataFrame,
    *,
    metric: str,
    med: np.ndarray,
    scale: np.ndarray,
    count: np.ndarray,
    config: MonitorConfig,
) -> pd.DataFrame:
    """Judge one series' windows (``pdf``, in time order) against their slots' baselines
    (``med``, ``scale``, ``count`` = windows of history in the slot): adds ``expected, score,
    cusum, direction, anomalous, material``. The batch stage passes baselines of the history
    itself; ``visitonce watch`` those the batch stage stored (``monitor_slots/``)."""
    v = pdf[M.VALUE].to_numpy(dtype=float)
    z = (v - med) / scale
    direction = DIRECTION[metric]
    enough = count >= MIN_HISTORY
    if metric != "arrivals":
        enough &= pdf[M.N].to_numpy() >= config.min_window_cases
    if direction == 0:
        drop_ok = med >= config.min_expected_volume
        bad = np.where((z < 0) & drop_ok, -z, np.maximum(z, 0.0))
        label = np.where(z < 0, "low", "high")
    else:
        bad = np.maximum(direction * z, 0.0)
        label = np.full(len(v), "high" if direction > 0 else "low")
    bad = np.where(enough, np.nan_to_num(bad), 0.0)
    s = np.zeros(len(v))
    acc = 0.0
    for i, b in enumerate(bad):
        acc = max(0.0, acc + min(b, config.z_threshold) - config.cusum_k)
        s[i] = acc
        if acc >= config.cusum_h:
            acc = 0.0  # restart after a signal: a shift that goes on signals again
    pdf[EXPECTED] = np.where(count >= MIN_HISTORY, med, np.nan)
    pdf[SCORE] = np.maximum(bad, s / config.cusum_h * config.z_threshold * (s >= config.cusum_h))
    pdf[CUSUM] = s
    pdf[DIRECTION_COL] = label
    pdf[ANOMALOUS] = enough & ((bad >= config.z_threshold) | (s >= config.cusum_h))
    pdf[MATERIAL] = _material(pdf, metric, v, med, z, config)
    pdf[SCALE] = scale
    pdf[N_HISTORY] = np.asarray(count, dtype="int64")
    return pdf


def slot_baselines(values: np.ndarray, slots: np.ndarray, metric: str) -> tuple[np.ndarray, ...]:
    """(median, scale, count) of each value's seasonal slot: the robust baseline (module
    docstring), the scale floored per metric."""
    grp = pd.Series(values).groupby(slots)
    med = grp.transform("median").to_numpy()
    mad = pd.Series(np.abs(values - med)).groupby(slots).transform("median").to_numpy()
    count = grp.transform("count").to_numpy()
    floor_abs, floor_rel = FLOOR[metric]
    scale = np.maximum(1.4826 * mad, np.maximum(floor_abs, floor_rel * np.abs(med)))
    return med, scale, count


def with_zero_windows(pdf: pd.DataFrame, dates: pd.DataFrame) -> pd.DataFrame:
    """One series' arrivals rows (its windows with arrivals) with a 0 row in every window of a
    slot the series is active in on that day type, on every date of that day type (``dates``:
    ``local_date, daytype``), so an outage shows as a drop; the filled rows have no context
    and no window bounds (``metrics.with_window_bounds`` sets them)."""
    keys = [M.LOCAL_DATE, M.SLOT, M.DAYTYPE]
    grid = pdf[[M.DAYTYPE, M.SLOT]].drop_duplicates().merge(dates, on=M.DAYTYPE)
    full = grid.merge(pdf, on=keys, how="left")
    for c in [*M.SERIES, M.METRIC]:
        full[c] = pdf[c].iloc[0]
    full[M.VALUE] = full[M.VALUE].fillna(0.0)
    full["arrivals"] = full["arrivals"].fillna(0.0)
    full[M.N] = full[M.N].fillna(0).astype("int64")
    return full.sort_values([M.LOCAL_DATE, M.SLOT]).reset_index(drop=True)


def _detector(config: MonitorConfig, dates: pd.DataFrame):  # noqa: ANN202 - a pandas group fn
    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        metric = pdf[M.METRIC].iloc[0]
        if metric == "arrivals":
            pdf = with_zero_windows(pdf, dates)
        else:
            pdf = pdf.sort_values(M.WINDOW_START).reset_index(drop=True)
        v = pdf[M.VALUE].to_numpy(dtype=float)
        slot = (pdf[M.DAYTYPE].astype(str) + "|" + pdf[M.SLOT].astype(str)).to_numpy()
        med, scale, count = slot_baselines(v, slot, metric)
        out = score(pdf, metric=metric, med=med, scale=scale, count=count, config=config)
        if metric == "arrivals":  # the filled windows that matter: candidates of an alert
            out = out[(out[M.VALUE] > 0) | (out[ANOMALOUS] & out[MATERIAL])]
        return out

    return run


def flag_anomalies(series: DataFrame, *, config: MonitorConfig, time_zone: str) -> DataFrame:
    """Adds ``expected`` (slot median), ``score`` (robust z, or scaled CUSUM), ``cusum``,
    ``direction`` (high/low), ``anomalous``, ``material``, ``scale`` and ``n_history`` to
    ``metrics.to_metric_series`` output; one pandas group per series and metric (a month of
    hourly windows is a few hundred rows).

    Arrivals are judged on every window of their active slots (``with_zero_windows``), but of
    the windows without arrivals only the anomalous and material ones are returned: the others
    are needed by nothing downstream (alerts and calibration take candidates; slot baselines
    take ``expected``, ``scale`` and ``n_history``, the same on every row of a slot)."""
    dates = series.select(M.LOCAL_DATE, M.DAYTYPE).distinct().toPandas()
    flagged = series.groupBy(*M.SERIES, M.METRIC).applyInPandas(
        _detector(config, dates), _schema(series.schema)
    )
    return M.with_window_bounds(flagged, time_zone=time_zone, window_minutes=config.window_minutes)
