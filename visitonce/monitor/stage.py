"""The monitoring stage: windowed metrics -> anomalies -> merged alerts with proposals."""

from __future__ import annotations

from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from visitonce.config import MonitorConfig
from visitonce.monitor import alerts as AL
from visitonce.monitor import detect, metrics


def find_alerts(
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    config: MonitorConfig,
    time_zone: str,
    calibration: DataFrame | None = None,
) -> tuple[DataFrame, DataFrame]:
    """(window metrics, alerts) from clean events (``find_alerts_calibrated`` without its
    calibration table)."""
    windows, alerts, _ = find_alerts_calibrated(
        events,
        catalog=catalog,
        roster=roster,
        config=config,
        time_zone=time_zone,
        calibration=calibration,
    )
    return windows, alerts


def find_alerts_calibrated(
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    config: MonitorConfig,
    time_zone: str,
    calibration: DataFrame | None = None,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(window metrics, alerts, calibration) from clean events: the whole history is the
    training data of each slot's robust baseline (a median: a single bad day cannot move it)
    and, unless a stored ``calibration`` (``monitor_baselines/``) is given, of the thresholds
    that hold the false-alarm budget (``alerts.calibrate``)."""
    windows = metrics.to_window_metrics(
        events,
        catalog=catalog,
        roster=roster,
        time_zone=time_zone,
        window_minutes=config.window_minutes,
    )
    slot = Window.partitionBy(*metrics.SERIES, metrics.DAYTYPE, metrics.SLOT)
    windows = windows.withColumn(
        metrics.ARRIVALS_EXPECTED, F.median("arrivals").over(slot)
    ).persist(StorageLevel.MEMORY_AND_DISK)
    series = metrics.to_metric_series(
        windows, time_zone=time_zone, window_minutes=config.window_minutes
    )
    flagged = detect.flag_anomalies(series, config=config)
    if calibration is None:
        days = windows.select(F.countDistinct(metrics.LOCAL_DATE)).first()[0] or 0
        calibration = AL.calibrate(flagged, config=config, history_weeks=days / 7.0)
    merged = AL.to_merged_alerts(flagged, config=config, calibration=calibration)
    alerts = AL.with_proposals(merged, windows, config=config, time_zone=time_zone)
    return windows, alerts, calibration


def monitor_stage(ctx: Any) -> dict[str, Any]:
    """Pipeline stage: reads events, catalog, roster; writes alerts/ and monitor_baselines/
    (the calibrated thresholds)."""
    from visitonce import io, schemas

    spark, req = ctx.spark, ctx.req
    with ctx.timer.stage("monitor"):
        ctx.say("computing live metrics and alerts")
        events = spark.read.parquet(req.table("events"))
        catalog = spark.read.parquet(req.table("catalog")) if req.catalog else None
        roster = spark.read.parquet(req.table("roster")) if req.roster else None
        windows, alerts, calibration = find_alerts_calibrated(
            events,
            catalog=catalog,
            roster=roster,
            config=req.config.monitor,
            time_zone=req.config.ingest.time_zone,
        )
        mb = req.config.output.target_file_mb
        io.write_table(
            calibration,
            req.table("monitor_baselines"),
            schemas.load("monitor_baselines"),
            target_file_mb=mb,
        )
        io.write_table(alerts, req.table("alerts"), schemas.load("alerts"), target_file_mb=mb)
        n_windows = windows.count()
        windows.unpersist()
        written = spark.read.parquet(req.table("alerts"))
        ctx.outputs["alerts"] = req.table("alerts")
        return {
            "windows": n_windows,
            "alerts": written.count(),
            "days_with_alerts": written.select(F.countDistinct("alert_date")).first()[0],
            "false_alarms_per_centre_week": req.config.monitor.false_alarms_per_centre_week,
        }
