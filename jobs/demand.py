"""spark-submit entry point of demand and resource planning over a warehouse.

    spark-submit jobs/demand.py --warehouse URI [--end ISO] [--config FILE]

Reads ``step_facts/``, ``applications/`` and, when present, ``catalog/``, ``roster/`` and
``lagging_steps/`` under the warehouse (with ``--end``, only the events and applications of the
local dates before it, so a backfilled month plans from what was known then; the forecast
starts at the end), and writes ``demand/``, ``demand_forecast/``,
``staffing_plan/``, ``service_hours/``, ``digital_gap/`` (with a catalog) and
``reform_priorities/`` there (replacing them: the same input gives the same tables). Prints
the stage's figures (forecast errors, staffing gaps, peak hours) as JSON and keeps them in
``stage_results/demand.json``, where ``jobs/reports.py`` finds them.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobs/demand.py", description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True, help="output root of a visitonce run")
    p.add_argument("--end", help="end of the history used (exclusive; default: all of it)")
    p.add_argument("--config", help="config YAML (empty: defaults)")
    args = p.parse_args(argv)
    args.config = args.config or None  # Airflow templates an absent file as --config=
    return args


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    from visitonce import columns as C
    from visitonce import io, schemas
    from visitonce.context import job_scope
    from visitonce.demand.stage import TABLES, plan_demand
    from visitonce.pipeline import record_stage_result

    job = job_scope(args)
    config = job.config
    steps = job.in_interval(job.read(spark, "step_facts"), C.EVENT_DATE)
    applications = job.in_interval(job.read(spark, "applications"), C.APPLIED_DATE)
    tables, section = plan_demand(
        spark, steps, applications=applications,
        catalog=job.read_optional(spark, "catalog"), roster=job.read_optional(spark, "roster"),
        lagging_steps=job.read_optional(spark, "lagging_steps"), config=config.demand,
        time_zone=job.time_zone,
    )  # fmt: skip
    for name in TABLES:
        if name in tables:
            io.write_table(
                tables[name], job.table(name), schemas.load(name),
                target_file_mb=config.output.target_file_mb,
            )  # fmt: skip
    spark.catalog.clearCache()
    # the reports show the forecast's held-out errors and the staffing figures from this
    record_stage_result(spark, args.warehouse, "demand", section)
    return section


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import run_job

    return run_job("demand", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
