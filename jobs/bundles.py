"""spark-submit entry point of the bundles stage: re-mine a warehouse's applications.

    spark-submit jobs/bundles.py --warehouse URI [--out URI] [--config FILE] \
        [--start ISO] [--end ISO] [--min-count N] [--window-days D] [--segment COL ...]

Reads ``<warehouse>/applications`` applied for in [start, end) (local dates; with ``--end``
alone, the config's ``bundles.lookback_days`` before it; with neither, all of them) and writes
``bundles/``, ``item_associations/`` and ``bundle_changes/`` under ``--out`` (default: the
warehouse) in the partition of the period's last date: a rerun of a period replaces it, also
when it now finds nothing. An empty ``--config=`` means the defaults.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobs/bundles.py", description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True, help="warehouse root with applications/")
    p.add_argument("--out", help="where to write (default: the warehouse)")
    p.add_argument("--config", help="config YAML (its bundles section; empty: defaults)")
    p.add_argument("--start", help="first local date / time of the applications (inclusive)")
    p.add_argument("--end", help="end of the applications mined (exclusive)")
    p.add_argument("--min-count", type=int, help="minimum baskets per bundle (citizen scope)")
    p.add_argument("--window-days", type=int, help="citizen basket window (days)")
    p.add_argument("--segment", action="append", help="segment column (repeatable)")
    args = p.parse_args(argv)
    args.config = args.config or None  # Airflow templates an absent file as --config=
    return args


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    from visitonce.bundles.stage import bundles_config, run_bundles
    from visitonce.context import job_scope

    job = job_scope(args)
    config = bundles_config(
        args.config, min_count=args.min_count, window_days=args.window_days, segments=args.segment
    )
    return run_bundles(
        spark, warehouse=args.warehouse, out=args.out, config=config, say=print,
        start=job.start_date, end=job.end_date,
        target_file_mb=job.config.output.target_file_mb,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import run_job

    keys = ("bundles", "by_scope", "period", "changes")
    return run_job("bundles", parse_args(argv), run, summary=lambda r: {k: r.get(k) for k in keys})


if __name__ == "__main__":
    sys.exit(main())
