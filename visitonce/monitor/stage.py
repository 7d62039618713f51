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
) -> tuple[DataFrame, DataFrame]:
    """(window metrics, alerts) from clean events: the whole history is the training data of
    each slot's robust baseline (a median: a single bad day cannot move it)."""
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
    merged = AL.to_merged_alerts(flagged, config=config)
    return windows, AL.with_proposals(merged, windows, config=config, time_zone=time_zone)


def monitor_stage(ctx: Any) -> dict[str, Any]:
    """Pipeline stage: reads events, catalog, roster; writes alerts/."""
    from visitonce import io, schemas

    spark, req = ctx.spark, ctx.req
    with ctx.timer.stage("monitor"):
        ctx.say("computing live metrics and alerts")
        events = spark.read.parquet(req.table("events"))
        catalog = spark.read.parquet(req.table("catalog")) if req.catalog else None
        roster = spark.read.parquet(req.table("roster")) if req.roster else None
        windows, alerts = find_alerts(
            events,
            catalog=catalog,
            roster=roster,
            config=req.config.monitor,
            time_zone=req.config.ingest.time_zone,
        )
        io.write_table(alerts, req.table("alerts"), schemas.load("alerts"))
        n_windows = windows.count()
        windows.unpersist()
        written = spark.read.parquet(req.table("alerts"))
        ctx.outputs["alerts"] = req.table("alerts")
        return {
            "windows": n_windows,
            "alerts": written.count(),
            "days_with_alerts": written.select(F.countDistinct("alert_date")).first()[0],
        }
