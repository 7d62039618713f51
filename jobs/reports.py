"""spark-submit entry point of the reports: render reports/ for an existing warehouse.

    spark-submit jobs/reports.py --warehouse URI [--config FILE] [--lang en|zh-CN]

Reads the output tables present under the warehouse (bundles, lagging steps, alerts,
scorecards, ...) and its manifest.json, and writes ``reports/index.html``, the pages it links
and ``reports/exports/`` (replacing them). The requests export needs the pseudonymization key
(``VISITONCE_PSEUDONYM_KEY``); without it the export is skipped and the pages are still
written. An empty ``--config=`` (as a templated DAG may pass) means the defaults; ``--lang``
(empty: the config's ``reports.language``) sets the language of the pages.
"""

from __future__ import annotations

import argparse
import json
import sys

from pyspark.sql import SparkSession


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobs/reports.py", description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True, help="output root of a visitonce run")
    p.add_argument("--config", help="config YAML (empty: defaults)")
    p.add_argument("--lang", help="language of the pages: en | zh-CN (empty: the config's)")
    args = p.parse_args(argv)
    args.config = args.config or None
    args.lang = args.lang or None
    return args


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    import os

    from visitonce import io
    from visitonce.config import load_config, with_report_language
    from visitonce.context import check_language
    from visitonce.pipeline import with_stage_results
    from visitonce.pseudonym import KEY_ENV, key_from_env
    from visitonce.report.stage import write_reports

    config = with_report_language(load_config(args.config), check_language(args.lang))
    manifest_uri = io.join_uri(args.warehouse, "manifest.json")
    if not io.exists(spark, manifest_uri):
        raise io.InputError(
            f"no manifest.json at {args.warehouse}: pass the output root of a visitonce run"
        )
    manifest = with_stage_results(
        spark, args.warehouse, json.loads(io.read_text(spark, manifest_uri))
    )
    key = key_from_env() if os.environ.get(KEY_ENV) else None
    return write_reports(spark, args.warehouse, config=config, manifest=manifest, key=key)


def main(argv: list[str] | None = None) -> int:
    from visitonce.cli import run_job

    return run_job("reports", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
