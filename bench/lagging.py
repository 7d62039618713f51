"""Benchmark: lagging steps and live monitoring on generated events.

    .venv/bin/python bench/lagging.py [--events 1000000] [--work DIR]

Generates the city once (seed 7, 31 days, Parquet, no dirty rows), reads it with contract types,
and times find_lagging_steps (written to a noop sink through write_table's conform) and
find_alerts separately, each in a fresh cache.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--work", default="/tmp/visitonce-bench-lagging")
    args = p.parse_args()

    from pyspark.sql import functions as F

    from visitonce import schemas
    from visitonce.config import CalendarConfig, LaggingConfig, MonitorConfig
    from visitonce.facts import to_step_facts
    from visitonce.generate import generate
    from visitonce.lagging.stage import find_lagging_steps
    from visitonce.monitor.stage import find_alerts
    from visitonce.spark import build_session

    root = Path(args.work) / f"e{args.events}"
    if not (root / "truth.json").exists():
        generate(root, n_events=args.events, seed=7, days=31, fmt="parquet", dirty=False)
    truth = json.loads((root / "truth.json").read_text())
    spark = build_session(app_name="bench-lagging")
    ev = spark.read.parquet(str(root / "events"))
    for c in ("arrived_at", "started_at", "ended_at"):
        ev = ev.withColumn(c, F.to_timestamp(c))
    ev = ev.withColumn("physical_visit", F.col("physical_visit") == "true").withColumn(
        "satisfaction", F.col("satisfaction").cast("int")
    )
    ev.write.mode("overwrite").parquet(str(root / "typed"))
    ev = spark.read.parquet(str(root / "typed"))
    cat = (
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
    n = ev.count()
    as_of = dt.datetime.fromisoformat(truth["period_end"])
    t0 = time.perf_counter()
    steps, lagging = find_lagging_steps(
        to_step_facts(ev, calendar=CalendarConfig(), time_zone="Asia/Shanghai"),
        catalog=cat, roster=roster, calendar=CalendarConfig(), config=LaggingConfig(),
        time_zone="Asia/Shanghai", as_of=as_of,
    )  # fmt: skip
    steps.write.mode("overwrite").parquet(str(root / "out_step_facts"))
    t1 = time.perf_counter()
    rows = schemas.conform(lagging, schemas.load("lagging_steps")).collect()
    t2 = time.perf_counter()
    spark.catalog.clearCache()
    windows, alerts = find_alerts(
        ev, catalog=cat, roster=roster, config=MonitorConfig(), time_zone="Asia/Shanghai"
    )
    al = alerts.collect()
    t3 = time.perf_counter()
    planted = {(p["service_item"], p["step"], p["kind"]) for p in truth["lagging_steps"]}
    flagged = {(r["service_item"], r["step"], r["kind"]) for r in rows if r["flagged"]}
    print(
        json.dumps(
            {
                "events": n,
                "step_facts_s": round(t1 - t0, 1),
                "lagging_steps_s": round(t2 - t1, 1),
                "alerts_s": round(t3 - t2, 1),
                "item_steps": len(rows),
                "flagged": sorted(flagged),
                "recall": len(planted & flagged) / len(planted),
                "precision": len(planted & flagged) / max(len(flagged), 1),
                "alerts": len(al),
            }
        )
    )


if __name__ == "__main__":
    main()
