"""A generated city's files (``visitonce.generate``, Parquet) read with the contract's types,
without ingest: for tests of the analytics that start from clean events."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


def read_city(spark: SparkSession, root: Path) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(events, catalog, roster) of a city generated with ``fmt="parquet"`` under ``root``."""
    ev = spark.read.parquet(str(root / "events"))
    for c in ("arrived_at", "started_at", "ended_at", "due_at"):
        ev = ev.withColumn(c, F.to_timestamp(c))
    ev = ev.withColumn("physical_visit", F.col("physical_visit") == "true").withColumn(
        "satisfaction", F.col("satisfaction").cast("int")
    )
    catalog = (
        spark.read.option("header", True)
        .csv(str(root / "catalog.csv"))
        .withColumn("complexity", F.col("complexity").cast("int"))
        .withColumn("time_limit_days", F.col("time_limit_days").cast("int"))
        .withColumn("online_capable", F.col("online_capable") == "true")
    )
    roster = (
        spark.read.option("header", True)
        .csv(str(root / "roster.csv"))
        .withColumn("date", F.to_date("date"))
        .withColumn("officials_on_duty", F.col("officials_on_duty").cast("int"))
    )
    return ev, catalog, roster


def with_ingest_columns(events: DataFrame, time_zone: str) -> DataFrame:
    """The columns ingest adds to a generated city's events (source, source_file, source_row,
    event_date in ``time_zone``), for analytics run on them without ingest."""
    return (
        events.withColumn("source", F.lit("generated"))
        .withColumn("source_file", F.lit("generated"))
        .withColumn("source_row", F.lit(None).cast("long"))
        .withColumn("event_date", F.to_date(F.from_utc_timestamp("started_at", time_zone)))
    )


def step_facts(events: DataFrame, time_zone: str = "Asia/Shanghai") -> DataFrame:
    """The step facts of clean events under the default calendar and working day, as the
    applications stage writes them (``visitonce.facts``)."""
    from visitonce.config import CalendarConfig, LaggingConfig
    from visitonce.facts import to_step_facts

    lag = LaggingConfig()
    return to_step_facts(
        events,
        calendar=CalendarConfig(),
        time_zone=time_zone,
        day_start=lag.work_day_start,
        day_end=lag.work_day_end,
    )
