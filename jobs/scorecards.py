"""spark-submit entry point of department scorecards over a warehouse.

    spark-submit jobs/scorecards.py --warehouse URI [--start ISO] [--end ISO] [--as-of ISO] \
        [--config FILE]

Reads ``applications/``, ``events/``, ``catalog/`` and ``lagging_steps/`` (when present) under
the warehouse, keeps the applications applied for in [start, end) (local dates of the analysis
zone) and their events, and writes ``scorecards/``, ``scorecard_kpis/``, ``scorecard_equity/``
and ``scorecard_explanations/`` there (replacing them: the same input gives the same tables).
Open cases are judged at ``--as-of`` (default: ``--end``, else the latest timestamp in the data).
An empty ``--config=`` means the defaults.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobs/scorecards.py", description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True, help="output root of an ingest run")
    p.add_argument("--start", help="first local date / time of the applications (inclusive)")
    p.add_argument("--end", help="end of the applications scored (exclusive)")
    p.add_argument("--as-of", dest="as_of", help="observation time for open cases (ISO)")
    p.add_argument("--config", help="config YAML (empty: defaults)")
    args = p.parse_args(argv)
    args.config = args.config or None  # Airflow templates an absent file as --config=
    return args


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    import datetime as dt

    from pyspark.sql import functions as F

    from visitonce import columns as C
    from visitonce import io
    from visitonce.config import load_config
    from visitonce.pipeline import local_date, parse_time
    from visitonce.scorecard.stage import compute_scorecards, write_scorecards

    config = load_config(args.config)
    tz = config.ingest.time_zone
    start = parse_time(args.start, flag="--start", time_zone=tz)
    end = parse_time(args.end, flag="--end", time_zone=tz)
    table = lambda name: io.join_uri(args.warehouse, name)  # noqa: E731
    if not io.exists(spark, table("applications")):
        raise io.InputError(f"no applications table under {args.warehouse}: run ingest first")
    apps = spark.read.parquet(table("applications"))
    if start:
        apps = apps.where(F.col(C.APPLIED_DATE) >= F.lit(local_date(start, time_zone=tz)))
    if end:
        apps = apps.where(F.col(C.APPLIED_DATE) < F.lit(local_date(end, time_zone=tz)))
    events = spark.read.parquet(table("events")).join(
        apps.select(C.APPLICATION_ID), C.APPLICATION_ID, "left_semi"
    )
    as_of = parse_time(args.as_of, flag="--as-of", time_zone=tz) or end
    if as_of is None:
        row = events.select(F.max(F.greatest(C.STARTED_AT, C.ENDED_AT))).first()
        if row is None or row[0] is None:
            raise io.InputError(f"no applications to score under {args.warehouse}")
        as_of = row[0].replace(tzinfo=dt.timezone.utc)
    opt = lambda name: spark.read.parquet(table(name)) if io.exists(spark, table(name)) else None  # noqa: E731
    result = compute_scorecards(
        apps, events, catalog=opt("catalog"), lagging_steps=opt("lagging_steps"),
        config=config.scorecards, time_zone=tz, as_of=as_of, config_hash=config.hash(),
    )  # fmt: skip
    write_scorecards(spark, result, table, target_file_mb=config.output.target_file_mb)
    spark.catalog.clearCache()
    return result.manifest


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import run_job

    return run_job("scorecards", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
