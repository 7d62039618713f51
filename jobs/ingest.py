"""spark-submit entry point: ingest, then the analytic stages; writes manifest.json.

    spark-submit jobs/ingest.py --events URI --catalog URI [--roster URI] --out URI \
        [--source NAME|PATH] [--config FILE] [--as-of ISO] [--start ISO --end ISO]

The master comes from spark-submit (``--master``), so the same file runs in local mode and on
a cluster. Needs ``VISITONCE_PSEUDONYM_KEY`` in the driver's environment.
"""

from __future__ import annotations

import argparse
import json
import sys

from pyspark.sql import SparkSession


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobs/ingest.py", description=__doc__.splitlines()[0])
    p.add_argument("--events", required=True, help="events file, folder or glob")
    p.add_argument("--catalog", required=True, help="catalog file")
    p.add_argument("--roster", help="roster file")
    p.add_argument("--out", required=True, help="output root")
    p.add_argument("--source", default="canonical", help="source mapping name or YAML path")
    p.add_argument("--config", help="config YAML")
    p.add_argument("--as-of", help="when the data were observed (ISO); default now")
    p.add_argument("--start", help="data interval start (ISO)")
    p.add_argument("--end", help="data interval end (ISO)")
    p.add_argument(
        "--stages",
        help="analytic stages after ingest, comma-separated "
        "(default: all; applications always runs)",
    )
    return p.parse_args(argv)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    from visitonce.pipeline import make_request, run_pipeline

    req = make_request(
        events=args.events,
        out=args.out,
        catalog=args.catalog,
        roster=args.roster,
        source=args.source,
        config_file=args.config,
        as_of=args.as_of,
        start=args.start,
        end=args.end,
    )
    stages = [s for s in args.stages.split(",") if s] if args.stages is not None else None
    return run_pipeline(spark, req, progress=print, stages=stages)


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import _user_errors
    from visitonce.pipeline import StagesFailed
    from visitonce.spark import build_session

    args = parse_args(argv)
    failed = None
    try:
        result = run(build_session(app_name="visitonce-ingest"), args)
    except _user_errors() as e:
        print(f"ingest: error: {e}", file=sys.stderr)
        return 2
    except StagesFailed as e:  # the others' tables and the manifest are written; fail the task
        result, failed = e.manifest, e
    for alert in result.get("file_alerts", []):
        print(f"ingest: WARNING: {alert['message']}", file=sys.stderr)
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "rows_in",
                    "rows_clean",
                    "rows_quarantined",
                    "rows_duplicate",
                    "applications",
                    "stages",
                    "event_dates",
                    "landing",
                )
            }
        )
    )
    if failed is not None:
        print(f"ingest: error: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
