"""Benchmark: the whole pipeline against one plain Spark pass over the same input, per size.

    .venv/bin/python bench/pipeline.py --events 100000 1000000 [10000000] [--work DIR]

For each size it generates the input once (seed 7, 31 days, CSV; not timed), then, in one
Spark session and back to back so both see the same machine load:

1. the *plain pass*, the floor the pipeline is measured against: read the CSV files, parse the
   timestamps, drop duplicate event IDs, aggregate per application, write Parquet partitioned
   by date;
2. ``run_pipeline`` with every stage (ingest with validation, pseudonyms and reconciliation,
   applications, bundles, lagging, monitor and whatever stages exist), timed per stage from its
   manifest.

Prints one JSON object per size (events/s, stage breakdown, peak resident memory of the driver
JVM, which in local mode runs the executors too, and of the Python driver), then the ratios
pipeline ÷ plain pass and the scaling slope between consecutive sizes (time ratio over size
ratio: 1.0 is linear). ``docs/benchmarks.md`` records the latest figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import PeakRss  # noqa: E402  (bench/ingest.py, same folder)


def plain_pass(spark, events: str, out: str) -> float:
    """Read, parse timestamps, dedupe, aggregate per application, write by date: seconds."""
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    df = spark.read.option("header", True).csv(events)
    for c in ("arrived_at", "started_at", "ended_at"):
        df = df.withColumn(c, F.try_to_timestamp(F.col(c)))
    df = df.where(F.col("started_at").isNotNull()).dropDuplicates(["event_id"])
    apps = df.groupBy("application_id").agg(
        F.first("service_item").alias("service_item"),
        F.first("department").alias("department"),
        F.min(F.coalesce("arrived_at", "started_at")).alias("applied_at"),
        F.max("ended_at").alias("completed_at"),
        F.count(F.lit(1)).alias("n_steps"),
        F.sum(F.when(F.col("physical_visit") == "true", 1).otherwise(0)).alias("n_visits"),
        F.avg(F.col("satisfaction").try_cast("int")).alias("satisfaction"),
    )
    apps.withColumn("applied_date", F.to_date("applied_at")).write.mode("overwrite").partitionBy(
        "applied_date"
    ).parquet(out)
    return time.perf_counter() - t0


def run_size(spark, n_events: int, work: Path, seed: int) -> dict:
    from visitonce.config import Config
    from visitonce.generate import generate
    from visitonce.mapping import load_mapping
    from visitonce.pipeline import RunRequest, run_pipeline

    landing = work / f"landing-{n_events}-{seed}"
    if not (landing / "truth.json").exists():
        t0 = time.perf_counter()
        generate(landing, n_events=n_events, seed=seed)
        print(f"generated {n_events:,} events in {time.perf_counter() - t0:.1f}s", flush=True)
    truth = json.loads((landing / "truth.json").read_text())
    out = work / f"out-{n_events}"
    shutil.rmtree(out, ignore_errors=True)
    with PeakRss() as plain_mem:
        plain_s = plain_pass(spark, str(landing / "events"), str(work / f"plain-{n_events}"))
    req = RunRequest(
        events=str(landing / "events"),
        out=str(out),
        mapping=load_mapping("canonical"),
        key=os.urandom(32),
        as_of=dt.datetime.fromisoformat(truth["period_end"]),
        catalog=str(landing / "catalog.csv"),
        roster=str(landing / "roster.csv"),
        config=Config(),
    )
    with PeakRss() as mem:
        t0 = time.perf_counter()
        manifest = run_pipeline(spark, req)
        wall = time.perf_counter() - t0
    spark.catalog.clearCache()
    return {
        "events": n_events,
        "rows_in": manifest["rows_in"],
        "applications": manifest["applications"],
        "plain_pass_s": round(plain_s, 1),
        "pipeline_s": round(wall, 1),
        "ratio_pipeline_to_plain": round(wall / plain_s, 2),
        "events_per_s": round(manifest["rows_in"] / wall),
        "stages_s": manifest["stages"],
        "peak_rss_jvm_mib": round(mem.peak_jvm / 2**20),
        "peak_rss_python_mib": round(mem.peak_python / 2**20),
        "plain_peak_rss_jvm_mib": round(plain_mem.peak_jvm / 2**20),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--work", default="/tmp/visitonce-bench-pipeline")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--master", default=None, help="default: local[*]")
    args = p.parse_args()
    os.environ.setdefault("VISITONCE_SPARK_LOG_LEVEL", "ERROR")
    from visitonce.spark import build_session

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    spark = build_session(master=args.master, app_name="visitonce-bench-pipeline")
    from pyspark.sql import functions as F

    spark.range(1000).groupBy((F.col("id") % 7).alias("k")).count().collect()  # warm-up
    results = []
    for n in sorted(args.events):
        r = run_size(spark, n, work, args.seed)
        results.append(r)
        print(json.dumps(r), flush=True)
    slopes = [
        {
            "from": a["events"],
            "to": b["events"],
            "time_ratio": round(b["pipeline_s"] / a["pipeline_s"], 2),
            "size_ratio": round(b["rows_in"] / a["rows_in"], 2),
            "slope": round(
                math.log(b["pipeline_s"] / a["pipeline_s"]) / math.log(b["rows_in"] / a["rows_in"]),
                2,
            ),
        }
        for a, b in zip(results, results[1:], strict=False)
    ]
    print(
        json.dumps(
            {
                "scaling": slopes,
                "machine": f"{os.cpu_count()} cores, "
                f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.machine()}, "
                f"Python {platform.python_version()}, Spark {spark.version}, "
                f"master {spark.sparkContext.master}, "
                f"driver memory {spark.conf.get('spark.driver.memory', 'default')}",
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
