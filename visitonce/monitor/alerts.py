"""From anomalous windows to incidents worth acting on, each with proposals computed from data.

Candidates: windows that are anomalous (``detect``: score over the ``z_threshold`` floor or CUSUM
over ``cusum_h``) and material (``detect.MATERIAL``). Incidents: candidate windows of one centre
(every channel, department and metric of it: a crowded hall is one incident), or of one remote
channel, within ``merge_gap_windows`` of each other, across hours and midnight, form one incident;
its peak is its highest window score. Calibration (``calibrate``): per centre, the incident peaks
of the history are ranked and the threshold is set just above the (m+1)-th highest, m =
floor(``false_alarms_per_centre_week`` x weeks of history), so that at most the budget of
incidents per centre-week is raised on the history; never below the floor. The calibration is a
table (``monitor_baselines/``) that a later run (or a streaming watcher) can pass back in instead
of calibrating again. One alert per incident, named after its top-scoring window, with
``first_seen``, ``updates`` (later windows that re-raised it) and every metric, department and
channel involved. At most ``max_alerts_per_day`` alerts per local day, highest scores first.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visitonce import columns as C
from visitonce import messages as MSG
from visitonce.config import MonitorConfig
from visitonce.monitor import detect as D
from visitonce.monitor import metrics as M
from visitonce.monitor.erlang import servers_needed

KEY = "monitor_unit"  # centre, or "remote:<channel>" for series without a centre

ALERT_SCHEMA = T.StructType(
    [
        T.StructField("alert_id", T.StringType()),
        T.StructField("alert_date", T.DateType()),
        T.StructField(M.WINDOW_START, T.TimestampType()),
        T.StructField(M.WINDOW_END, T.TimestampType()),
        T.StructField(C.CENTER, T.StringType()),
        T.StructField(C.CHANNEL, T.StringType()),
        T.StructField(C.DEPARTMENT, T.StringType()),
        T.StructField("metric", T.StringType()),
        T.StructField("value", T.DoubleType()),
        T.StructField("expected", T.DoubleType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("direction", T.StringType()),
        T.StructField("n_windows", T.IntegerType()),
        T.StructField("metrics", T.ArrayType(T.StringType())),
        T.StructField("departments", T.ArrayType(T.StringType())),
        T.StructField(M.OFFICIALS, T.DoubleType()),
        T.StructField("incident_id", T.StringType()),
        T.StructField("first_seen", T.TimestampType()),
        T.StructField("peak_at", T.TimestampType()),
        T.StructField("updates", T.IntegerType()),
        T.StructField("channels", T.ArrayType(T.StringType())),
        T.StructField("threshold", T.DoubleType()),
    ]
)

CALIBRATION_SCHEMA = T.StructType(
    [
        T.StructField(KEY, T.StringType()),
        T.StructField("threshold", T.DoubleType()),
        T.StructField("floor", T.DoubleType()),
        T.StructField("budget_per_week", T.DoubleType()),
        T.StructField("history_weeks", T.DoubleType()),
        T.StructField("allowed_incidents", T.IntegerType()),
        T.StructField("candidate_incidents", T.IntegerType()),
        T.StructField("incidents_over_threshold", T.IntegerType()),
        T.StructField("top_peaks", T.ArrayType(T.DoubleType())),
    ]
)


def _incidents(pdf: pd.DataFrame, gap: pd.Timedelta) -> pd.Series:
    """Incident number of each candidate window (sorted by window_start)."""
    cluster = (pdf[M.WINDOW_START] - pdf[M.WINDOW_END].cummax().shift()) > gap
    return cluster.cumsum()


def threshold_for(peaks: np.ndarray, *, allowed: int, floor: float) -> float:
    """Smallest threshold (peak >= threshold alerts) that lets at most ``allowed`` of the
    history's incident peaks through, and never below ``floor``."""
    top = np.sort(np.asarray(peaks, dtype=float))[::-1]
    if len(top) <= allowed:
        return float(floor)
    return float(max(floor, np.nextafter(top[allowed], np.inf)))


def _calibrator(config: MonitorConfig, history_weeks: float):  # noqa: ANN202 - pandas group fn
    gap = pd.Timedelta(minutes=config.window_minutes * config.merge_gap_windows)
    budget = config.false_alarms_per_centre_week
    allowed = int(math.floor(budget * history_weeks + 1e-9))

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        pdf = pdf.sort_values(M.WINDOW_START).reset_index(drop=True)
        peaks = pdf.groupby(_incidents(pdf, gap))[D.SCORE].max().to_numpy()
        t = threshold_for(peaks, allowed=allowed, floor=config.z_threshold)
        row = {
            KEY: pdf[KEY].iloc[0],
            "threshold": t,
            "floor": float(config.z_threshold),
            "budget_per_week": float(budget),
            "history_weeks": float(history_weeks),
            "allowed_incidents": allowed,
            "candidate_incidents": len(peaks),
            "incidents_over_threshold": int((peaks >= t).sum()),
            "top_peaks": [float(x) for x in np.sort(peaks)[::-1][: allowed + 3]],
        }
        return pd.DataFrame([row], columns=[f.name for f in CALIBRATION_SCHEMA.fields])

    return run


def _merge(config: MonitorConfig):  # noqa: ANN202 - a pandas group function
    gap = pd.Timedelta(minutes=config.window_minutes * config.merge_gap_windows)

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        pdf = pdf.sort_values(M.WINDOW_START).reset_index(drop=True)
        pdf["_cluster"] = _incidents(pdf, gap)
        threshold = pdf["threshold"].iloc[0]
        if threshold is None or (isinstance(threshold, float) and math.isnan(threshold)):
            threshold = float(config.z_threshold)  # a unit the calibration has not seen
        rows = []
        for _, g in pdf.groupby("_cluster"):
            top = g.loc[g[D.SCORE].idxmax()]
            if top[D.SCORE] < threshold:
                continue
            first = g.iloc[0]
            key = "|".join(str(first[c]) for c in (KEY, M.WINDOW_START))
            ident = hashlib.sha256(key.encode()).hexdigest()[:16]
            rows.append(
                {
                    "alert_id": ident,
                    "alert_date": first[M.LOCAL_DATE],
                    M.WINDOW_START: g[M.WINDOW_START].min(),
                    M.WINDOW_END: g[M.WINDOW_END].max(),
                    C.CENTER: top[C.CENTER],
                    C.CHANNEL: top[C.CHANNEL],
                    C.DEPARTMENT: top[C.DEPARTMENT],
                    "metric": top[M.METRIC],
                    "value": float(top[M.VALUE]),
                    "expected": float(top[D.EXPECTED]),
                    "score": float(top[D.SCORE]),
                    "direction": top[D.DIRECTION_COL],
                    "n_windows": int(g[M.WINDOW_START].nunique()),
                    "metrics": sorted(set(g[M.METRIC])),
                    "departments": sorted(set(g[C.DEPARTMENT].dropna())),
                    M.OFFICIALS: top[M.OFFICIALS],
                    "incident_id": ident,
                    "first_seen": first[M.WINDOW_START],
                    "peak_at": top[M.WINDOW_START],
                    "updates": int(g[M.WINDOW_START].nunique()) - 1,
                    "channels": sorted(set(g[C.CHANNEL].dropna())),
                    "threshold": float(threshold),
                }
            )
        return pd.DataFrame(rows, columns=[f.name for f in ALERT_SCHEMA.fields])

    return run


def unit_key() -> Column:
    """The monitor unit of a row: its centre, or ``remote:<channel>`` without one."""
    return F.coalesce(F.col(C.CENTER), F.concat(F.lit("remote:"), F.col(C.CHANNEL)))


def candidates(anomalies: DataFrame) -> DataFrame:
    """Anomalous and material windows of ``detect.flag_anomalies`` output, with their unit."""
    return anomalies.where(F.col(D.ANOMALOUS) & F.col(D.MATERIAL)).withColumn(KEY, unit_key())


def calibrate(anomalies: DataFrame, *, config: MonitorConfig, history_weeks: float) -> DataFrame:
    """The calibration table (``CALIBRATION_SCHEMA``, one row per centre or remote channel with
    candidates) of the history's ``detect.flag_anomalies`` output."""
    return (
        candidates(anomalies)
        .groupBy(KEY)
        .applyInPandas(_calibrator(config, history_weeks), CALIBRATION_SCHEMA)
    )


def to_merged_alerts(
    anomalies: DataFrame, *, config: MonitorConfig, calibration: DataFrame
) -> DataFrame:
    """One alert (without proposals) per incident whose peak reaches its unit's calibrated
    threshold, bounded per day."""
    cand = candidates(anomalies).join(
        F.broadcast(calibration.select(KEY, "threshold")), KEY, "left"
    )
    merged = cand.groupBy(KEY).applyInPandas(_merge(config), ALERT_SCHEMA)
    rank = F.row_number().over(
        Window.partitionBy("alert_date").orderBy(F.col("score").desc(), "alert_id")
    )
    return (
        merged.withColumn("_rank", rank)
        .where(F.col("_rank") <= config.max_alerts_per_day)
        .drop("_rank")
    )


def _hours(ts: pd.Timestamp, tz: str) -> str:
    return (
        ts.tz_localize("UTC").tz_convert(tz).strftime("%H:%M")
        if ts.tzinfo is None
        else (ts.tz_convert(tz).strftime("%H:%M"))
    )


def desk_proposals(
    alert: pd.Series, windows: pd.DataFrame, *, config: MonitorConfig, time_zone: str
) -> list[str]:
    """Remedies for one alert from the centre's windows that day (pandas; a few hundred rows),
    as messages (``visitonce.messages``; ``MSG.english`` gives the stored English text).

    ``windows``: ``metrics.to_window_metrics`` rows of the alert's centre and local date.
    """
    out: list[dict] = []
    target = config.wait_target_minutes
    per_hour = 60.0 / config.window_minutes
    span = windows[
        (windows[M.WINDOW_START] >= alert[M.WINDOW_START])
        & (windows[M.WINDOW_START] < alert[M.WINDOW_END])
    ]
    counters = span[span[C.CHANNEL] == "counter"]
    when = f"{_hours(alert[M.WINDOW_START], time_zone)}-{_hours(alert[M.WINDOW_END], time_zone)}"
    centre = alert[C.CENTER]
    if alert["direction"] == "low" and alert["metric"] == "arrivals":
        return [
            MSG.message(
                "alert.volume_drop", value=f"{alert['value']:.0f}", channel=alert[C.CHANNEL],
                department=alert[C.DEPARTMENT], expected=f"{alert['expected']:.0f}", when=when,
            )
        ]  # fmt: skip
    if alert["metric"] == "satisfaction_mean":
        out.append(
            MSG.message(
                "alert.satisfaction", value=f"{alert['value']:.1f}",
                expected=f"{alert['expected']:.1f}", department=alert[C.DEPARTMENT],
                where=centre or alert[C.CHANNEL],
            )
        )  # fmt: skip
    if counters.empty or centre is None:
        return out
    day_service = windows.groupby(C.DEPARTMENT)[M.PROCESSING_MEAN].median()
    need: dict[str, tuple[int, float]] = {}
    for dept, g in counters.groupby(C.DEPARTMENT):
        worst = g.loc[g["arrivals"].idxmax()]
        svc = worst[M.PROCESSING_MEAN]
        if not svc or math.isnan(svc):
            svc = day_service.get(dept, np.nan)
        if svc is None or math.isnan(svc) or svc <= 0:
            continue
        lam = float(worst["arrivals"]) * per_hour / 60.0  # per minute
        usual = worst.get(M.ARRIVALS_EXPECTED, np.nan)
        usual = float(usual) * per_hour / 60.0 if usual is not None else np.nan
        c = servers_needed(lam, float(svc), target)
        c_usual = servers_needed(usual, float(svc), target) if not math.isnan(usual) else 0
        c0 = worst[M.OFFICIALS]
        c0 = None if c0 is None or math.isnan(c0) else float(c0)
        # Officials beyond what this hour usually gets (Erlang C at the usual and the observed
        # arrival rate), and beyond the roster when it is short even for the surge.
        extra = max(c - c_usual, c - (c0 if c0 is not None else c))
        if extra >= 1:
            need[dept] = (int(extra), c0 or 0.0)
            params = dict(
                extra=int(extra), department=dept, center=centre, when=when,
                arrivals=f"{lam * 60:.0f}", usual=f"{usual * 60:.0f}", service=f"{svc:.1f}",
                needed=c, target=f"{target:.0f}", needed_usual=c_usual,
            )  # fmt: skip
            if c0 is not None:
                out.append(MSG.message("alert.add_officials_roster", roster=f"{c0:.0f}", **params))
            else:
                out.append(MSG.message("alert.add_officials", **params))
    if need:
        # Desks at the same centre and hours with officials to spare (Erlang C at the target).
        others = span[(span[C.CHANNEL] == "counter") & ~span[C.DEPARTMENT].isin(list(need))]
        spare_rows = []
        for dept, g in others.groupby(C.DEPARTMENT):
            c0 = g[M.OFFICIALS].min()
            svc = g[M.PROCESSING_MEAN].median()
            if c0 is None or math.isnan(c0) or svc is None or math.isnan(svc):
                continue
            lam = float(g["arrivals"].max()) * per_hour / 60.0
            spare = int(c0 - max(servers_needed(lam, float(svc), target), 1))
            if spare >= 1:
                spare_rows.append((spare, dept, lam * svc / c0))
        for spare, dept, rho in sorted(spare_rows, reverse=True)[:2]:
            out.append(
                MSG.message(
                    "alert.move_idle", spare=spare, department=dept, center=centre,
                    utilisation=f"{rho:.0%}", when=when,
                )
            )  # fmt: skip
        last_open = windows[windows[C.CHANNEL] == "counter"][M.WINDOW_END].max()
        if alert[M.WINDOW_END] >= last_open:
            queue = counters["queue_estimate"].fillna(0).sum()
            out.append(
                MSG.message(
                    "alert.extend_hours", center=centre, date=alert["alert_date"],
                    queue=f"{queue:.0f}",
                )
            )  # fmt: skip
    online = counters["online_capable_arrivals"].sum()
    total = counters["arrivals"].sum()
    if total > 0 and online / total >= 0.2:
        out.append(
            MSG.message(
                "alert.steer_online", online=f"{online:.0f}", total=f"{total:.0f}",
                share=f"{online / total:.0%}", center=centre, when=when,
            )
        )  # fmt: skip
    return out


def with_proposals(
    alerts: DataFrame, windows: DataFrame, *, config: MonitorConfig, time_zone: str
) -> DataFrame:
    """Adds ``proposals`` (array of English text) and ``proposal_messages`` (the same, as
    ``visitonce.messages`` JSON, for the report's languages) to merged alerts: cogrouped with
    the windows of the same centre and local date, so only that day's hall comes to pandas."""
    schema = T.StructType(
        list(ALERT_SCHEMA.fields)
        + [
            T.StructField("proposals", T.ArrayType(T.StringType())),
            T.StructField("proposal_messages", T.ArrayType(T.StringType())),
        ]
    )

    def run(a: pd.DataFrame, w: pd.DataFrame) -> pd.DataFrame:
        if a.empty:
            return pd.DataFrame(columns=[f.name for f in schema.fields])
        a = a.drop(columns=["_center_key"]).copy()
        msgs = [
            desk_proposals(row, w, config=config, time_zone=time_zone) for _, row in a.iterrows()
        ]
        a["proposals"] = [[MSG.english(m) for m in ms] for ms in msgs]
        a["proposal_messages"] = [[MSG.encode(m) for m in ms] for ms in msgs]
        return a[[f.name for f in schema.fields]]

    a = alerts.withColumn("_center_key", F.coalesce(F.col(C.CENTER), F.lit("")))
    # Only the halls and days with an alert: a group of windows alone is a pandas call that
    # returns nothing (four years of a sparse log: 6,000 centre-days, 50 s for no alert).
    days = a.select("_center_key", F.col("alert_date").alias(M.LOCAL_DATE)).distinct()
    w = windows.withColumn("_center_key", F.coalesce(F.col(C.CENTER), F.lit(""))).join(
        F.broadcast(days), ["_center_key", M.LOCAL_DATE], "left_semi"
    )
    return (
        a.groupBy("_center_key", "alert_date")
        .cogroup(
            w.withColumnRenamed(M.LOCAL_DATE, "alert_date").groupBy("_center_key", "alert_date")
        )
        .applyInPandas(run, schema)
    )
