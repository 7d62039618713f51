"""spark-submit entry point of lagging steps and live-monitoring alerts over a warehouse.

    spark-submit jobs/lagging.py --warehouse URI [--start ISO] [--end ISO] [--as-of ISO] \
        [--config FILE]

Reads ``events/``, ``catalog/`` and ``roster/`` (when present) under the warehouse, keeps the
events that started in [start, end) (local dates of the analysis zone), and writes
``step_timings/``, ``lagging_steps/`` and ``alerts/`` there (replacing them: the same input
gives the same tables). Open steps are censored at ``--as-of`` (default: ``--end``, else the
latest timestamp in the data).
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobs/lagging.py", description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True, help="output root of an ingest run")
    p.add_argument("--start", help="first local date / time of the events judged (inclusive)")
    p.add_argument("--end", help="end of the events judged (exclusive)")
    p.add_argument("--as-of", dest="as_of", help="observation time for open steps (ISO)")
    p.add_argument("--config", help="config YAML")
    return p.parse_args(argv)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    import datetime as dt

    from pyspark.sql import functions as F

    from visitonce import columns as C
    from visitonce import io, schemas
    from visitonce.config import load_config
    from visitonce.lagging.stage import find_lagging_steps
    from visitonce.monitor.stage import find_alerts
    from visitonce.pipeline import parse_time

    config = load_config(args.config)
    tz = config.ingest.time_zone
    start = parse_time(args.start, flag="--start", time_zone=tz)
    end = parse_time(args.end, flag="--end", time_zone=tz)
    table = lambda name: io.join_uri(args.warehouse, name)  # noqa: E731
    events = spark.read.parquet(table("events"))
    if start:
        events = events.where(F.col(C.STARTED_AT) >= F.lit(start.astimezone(dt.timezone.utc)))
    if end:
        events = events.where(F.col(C.STARTED_AT) < F.lit(end.astimezone(dt.timezone.utc)))
    as_of = parse_time(args.as_of, flag="--as-of", time_zone=tz) or end
    if as_of is None:
        latest = events.select(F.max(F.greatest(C.STARTED_AT, C.ENDED_AT))).first()[0]
        as_of = latest.replace(tzinfo=dt.timezone.utc)
    catalog = spark.read.parquet(table("catalog")) if io.exists(spark, table("catalog")) else None
    roster = spark.read.parquet(table("roster")) if io.exists(spark, table("roster")) else None
    steps, lagging = find_lagging_steps(
        events, catalog=catalog, roster=roster, calendar=config.calendar,
        config=config.lagging, time_zone=tz, as_of=as_of,
    )  # fmt: skip
    mb = config.output.target_file_mb
    io.write_table(steps, table("step_timings"), schemas.load("step_timings"), target_file_mb=mb)
    io.write_table(
        lagging, table("lagging_steps"), schemas.load("lagging_steps"), target_file_mb=mb
    )
    spark.catalog.clearCache()
    _, alerts = find_alerts(
        events, catalog=catalog, roster=roster, config=config.monitor, time_zone=tz
    )
    io.write_table(alerts, table("alerts"), schemas.load("alerts"), target_file_mb=mb)
    spark.catalog.clearCache()
    written = spark.read.parquet(table("lagging_steps"))
    return {
        "item_steps": written.count(),
        "flagged": written.where(F.col("flagged")).count(),
        "alerts": spark.read.parquet(table("alerts")).count(),
    }


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import run_job

    return run_job("lagging", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
