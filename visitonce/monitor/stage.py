"""The monitoring stage: windowed metrics -> anomalies -> merged alerts with proposals."""

from __future__ import annotations

import dataclasses
from functools import reduce
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
    windows, flagged = detect_windows(
        events, catalog=catalog, roster=roster, config=config, time_zone=time_zone
    )
    if calibration is None:
        calibration = calibrate_history(windows, flagged, config=config)
    alerts = to_alerts(windows, flagged, calibration, config=config, time_zone=time_zone)
    return windows, alerts, calibration


def to_alerts(
    windows: DataFrame,
    flagged: DataFrame,
    calibration: DataFrame,
    *,
    config: MonitorConfig,
    time_zone: str,
) -> DataFrame:
    """The ``alerts`` rows: incidents over their unit's calibrated threshold, with proposals."""
    merged = AL.to_merged_alerts(flagged, config=config, calibration=calibration)
    return AL.with_proposals(merged, windows, config=config, time_zone=time_zone)


def detect_windows(
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    config: MonitorConfig,
    time_zone: str,
) -> tuple[DataFrame, DataFrame]:
    """(window metrics with each slot's median arrivals, persisted; judged metric series) of
    clean events, at ``config.window_minutes``."""
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
    return windows, detect.flag_anomalies(series, config=config, time_zone=time_zone)


def calibrate_history(
    windows: DataFrame, flagged: DataFrame, *, config: MonitorConfig
) -> DataFrame:
    """The thresholds holding the false-alarm budget on this history (``alerts.calibrate``)."""
    days = windows.select(F.countDistinct(metrics.LOCAL_DATE)).first()[0] or 0
    return AL.calibrate(flagged, config=config, history_weeks=days / 7.0)


def to_slot_baselines(
    flagged: DataFrame, calibration: DataFrame, *, window_minutes: int, through: Any
) -> DataFrame:
    """The ``monitor_slots`` rows of one window length: each series' seasonal slot baseline
    (median, robust scale, windows of history) with its unit's calibrated threshold, for
    ``visitonce watch`` to judge live windows with."""
    keys = [*metrics.SERIES, metrics.METRIC, metrics.DAYTYPE, metrics.SLOT]
    slots = flagged.groupBy(*keys).agg(
        F.first(F.when(~F.isnan(detect.EXPECTED), F.col(detect.EXPECTED)), True).alias("expected"),
        F.first(detect.SCALE, True).alias("scale"),
        F.max(detect.N_HISTORY).alias("n_history"),
    )
    return (
        slots.withColumn(AL.KEY, AL.unit_key())
        .join(F.broadcast(calibration.select(AL.KEY, "threshold")), AL.KEY, "left")
        .select(
            F.lit(window_minutes).alias("window_minutes"),
            AL.KEY,
            *keys,
            "expected",
            "scale",
            "n_history",
            "threshold",
            F.lit(through).cast("date").alias("history_through"),
        )
    )


def live_baselines(
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    config: MonitorConfig,
    time_zone: str,
    reuse: tuple[DataFrame, DataFrame, DataFrame] | None = None,
) -> DataFrame:
    """``monitor_slots``: slot baselines and thresholds at every ``live_window_minutes``;
    ``reuse`` = (windows, flagged, calibration) already computed at ``config.window_minutes``."""
    frames = []
    for minutes in config.live_window_minutes:
        if reuse is not None and minutes == config.window_minutes:
            windows, flagged, calibration = reuse
        else:
            cfg = dataclasses.replace(config, window_minutes=minutes)
            windows, flagged = detect_windows(
                events, catalog=catalog, roster=roster, config=cfg, time_zone=time_zone
            )
            calibration = calibrate_history(windows, flagged, config=cfg)
        through = windows.agg(F.max(metrics.LOCAL_DATE)).first()[0]
        frames.append(
            to_slot_baselines(flagged, calibration, window_minutes=minutes, through=through)
        )
    return reduce(DataFrame.unionByName, frames)


def monitor_stage(ctx: Any) -> dict[str, Any]:
    """Pipeline stage: reads step_facts, catalog, roster; writes alerts/ and
    monitor_baselines/ (the calibrated thresholds)."""
    from visitonce import io, schemas

    spark, req = ctx.spark, ctx.req
    with ctx.timer.stage("monitor"):
        ctx.say("computing live metrics and alerts")
        events = spark.read.parquet(req.table("step_facts"))
        catalog = spark.read.parquet(req.table("catalog")) if req.catalog else None
        roster = spark.read.parquet(req.table("roster")) if req.roster else None
        config, tz = req.config.monitor, req.config.ingest.time_zone
        windows, flagged = detect_windows(
            events, catalog=catalog, roster=roster, config=config, time_zone=tz
        )
        flagged = flagged.persist(StorageLevel.MEMORY_AND_DISK)
        calibration = calibrate_history(windows, flagged, config=config).localCheckpoint()
        alerts = to_alerts(windows, flagged, calibration, config=config, time_zone=tz)
        mb = req.config.output.target_file_mb
        io.write_table(
            calibration,
            req.table("monitor_baselines"),
            schemas.load("monitor_baselines"),
            target_file_mb=mb,
        )
        io.write_table(alerts, req.table("alerts"), schemas.load("alerts"), target_file_mb=mb)
        if config.live_window_minutes:
            ctx.say("storing slot baselines for visitonce watch")
            slots = live_baselines(
                events, catalog=catalog, roster=roster, config=config, time_zone=tz,
                reuse=(windows, flagged, calibration),
            )  # fmt: skip
            io.write_table(
                slots, req.table("monitor_slots"), schemas.load("monitor_slots"), target_file_mb=mb
            )
            ctx.outputs["monitor_slots"] = req.table("monitor_slots")
        n_windows = windows.count()
        windows.unpersist()
        flagged.unpersist()
        written = spark.read.parquet(req.table("alerts"))
        ctx.outputs["alerts"] = req.table("alerts")
        return {
            "windows": n_windows,
            "alerts": written.count(),
            "days_with_alerts": written.select(F.countDistinct("alert_date")).first()[0],
            "false_alarms_per_centre_week": req.config.monitor.false_alarms_per_centre_week,
        }
