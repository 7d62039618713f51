"""spark-submit entry point of department scorecards over a warehouse.

    spark-submit jobs/scorecards.py --warehouse URI [--start ISO] [--end ISO] [--as-of ISO] \
        [--config FILE]

Reads ``applications/``, ``step_facts/``, ``catalog/`` and ``lagging_steps/`` (when present) under
the warehouse, keeps the applications applied for in [start, end) (local dates of the analysis
zone) and their steps, and writes ``scorecards/``, ``scorecard_kpis/``, ``scorecard_equity/``
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
    from visitonce import columns as C
    from visitonce.context import job_scope
    from visitonce.scorecard.stage import compute_scorecards, write_scorecards

    job = job_scope(args)
    config = job.config
    apps = job.in_interval(job.read(spark, "applications"), C.APPLIED_DATE)
    steps = job.read(spark, "step_facts").join(
        apps.select(C.APPLICATION_ID), C.APPLICATION_ID, "left_semi"
    )
    as_of = job.as_of(steps)
    result = compute_scorecards(
        apps, steps, catalog=job.read_optional(spark, "catalog"),
        lagging_steps=job.read_optional(spark, "lagging_steps"),
        config=config.scorecards, time_zone=job.time_zone, as_of=as_of,
        config_hash=config.hash(),
    )  # fmt: skip
    write_scorecards(spark, result, job.table, target_file_mb=config.output.target_file_mb)
    spark.catalog.clearCache()
    return result.manifest


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import run_job

    return run_job("scorecards", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
