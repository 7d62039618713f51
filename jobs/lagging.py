"""spark-submit entry point of lagging steps and live-monitoring alerts over a warehouse.

    spark-submit jobs/lagging.py --warehouse URI [--start ISO] [--end ISO] [--as-of ISO] \
        [--config FILE]

Reads ``step_facts/``, ``catalog/`` and ``roster/`` (when present) under the warehouse, keeps
the steps that started in [start, end) (their place in the application, previous step and
hand-off come from the whole application, as the applications stage recorded them), and writes
``lagging_steps/`` and ``alerts/`` there (replacing them: the same input gives the same
tables). Open steps are censored at ``--as-of`` (default: ``--end``, else the
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
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from visitonce import columns as C
    from visitonce import io, schemas
    from visitonce.context import job_scope
    from visitonce.lagging.stage import find_lagging_steps
    from visitonce.monitor.stage import find_alerts

    job = job_scope(args)
    config, tz = job.config, job.time_zone
    steps = job.in_interval(job.read(spark, "step_facts"), C.STARTED_AT)
    as_of = job.as_of(steps)
    catalog, roster = job.read_optional(spark, "catalog"), job.read_optional(spark, "roster")
    _, lagging = find_lagging_steps(
        steps, catalog=catalog, roster=roster, calendar=config.calendar,
        config=config.lagging, time_zone=tz, as_of=as_of,
    )  # fmt: skip
    mb = config.output.target_file_mb
    seen, alerted = Observation("lagging"), Observation("alerts")
    counted = lagging.observe(
        seen, F.count(F.lit(1)).alias("n"), F.sum(F.col("flagged").cast("long")).alias("flagged")
    )
    io.write_table(
        counted, job.table("lagging_steps"), schemas.load("lagging_steps"), target_file_mb=mb
    )
    spark.catalog.clearCache()
    _, alerts = find_alerts(steps, catalog=catalog, roster=roster, config=config.monitor,
                            time_zone=tz)  # fmt: skip
    io.write_table(
        alerts.observe(alerted, F.count(F.lit(1)).alias("n")),
        job.table("alerts"), schemas.load("alerts"), target_file_mb=mb,
    )  # fmt: skip
    spark.catalog.clearCache()
    return {
        "item_steps": int(seen.get["n"]),
        "flagged": int(seen.get["flagged"] or 0),
        "alerts": int(alerted.get["n"]),
    }


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import run_job

    return run_job("lagging", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
