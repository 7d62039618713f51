"""Benchmark: bundles over a long lookback at province scale (issue 17): a generated city of
``--events`` events over ``--days`` days (default 4M over the weekly DAG's 91-day lookback),
mined with the default configuration.

    PYTHONPATH=. .venv/bin/python bench/bundles_scale.py [--events 4000000] [--days 91]
        [--seed 7] [--work /tmp/visitonce-bench-bundles-scale]

Events are generated as Parquet (not timed) and read without ingest; applications are built
as the pipeline builds them and written once. Printed, as JSON: the citizen scope's baskets,
the guard-rail's bound for one pass over every segment at ``min_count`` against
``max_itemsets`` (the pass the stage tried before this issue: refused when the bound is over
the cap), then the stage's mining (``mine_bundles``: itemsets, scoring, bundles) with its time,
the floors of the segments it mined one by one, the bundles reported and whether every
planted bundle is among them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

from pyspark import StorageLevel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.city import read_city, with_ingest_columns  # noqa: E402
from visitonce.applications import to_applications  # noqa: E402
from visitonce.bundles.baskets import SCOPE_CITIZEN, to_baskets, with_mining_items  # noqa: E402
from visitonce.bundles.guard import ItemsetExplosionError  # noqa: E402
from visitonce.bundles.stage import mine_bundles  # noqa: E402
from visitonce.config import BundlesConfig, CalendarConfig  # noqa: E402
from visitonce.generate import generate  # noqa: E402
from visitonce.spark import build_session  # noqa: E402

TZ = "Asia/Shanghai"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=4_000_000)
    ap.add_argument("--days", type=int, default=91)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", default="/tmp/visitonce-bench-bundles-scale")
    a = ap.parse_args(argv)
    root = Path(a.work) / f"city-{a.events}-{a.days}d-{a.seed}"
    t0 = time.perf_counter()
    if not (root / "truth.json").exists():
        generate(root, n_events=a.events, seed=a.seed, days=a.days, fmt="parquet", dirty=False)
    truth = json.loads((root / "truth.json").read_text())
    gen_s = time.perf_counter() - t0
    spark = build_session(app_name="bench-bundles-scale")
    apps_uri = str(root / "applications")
    t0 = time.perf_counter()
    if not (root / "applications" / "_SUCCESS").exists():
        ev, cat, _ = read_city(spark, root)
        ev = with_ingest_columns(ev, TZ)
        as_of = dt.datetime.fromisoformat(truth["period_end"])
        to_applications(
            ev, catalog=cat, calendar=CalendarConfig(), time_zone=TZ, as_of=as_of
        ).write.mode("overwrite").parquet(apps_uri)
    apps_s = time.perf_counter() - t0
    apps = spark.read.parquet(apps_uri)
    config = BundlesConfig()
    # The single pass the stage tries first: its guard-rail alone (no mining when refused).
    baskets = with_mining_items(
        to_baskets(apps, scope=SCOPE_CITIZEN, window_days=config.window_days,
                   segments=config.segments, strata=config.strata)
    ).persist(StorageLevel.MEMORY_AND_DISK)  # fmt: skip
    n = baskets.count()
    from visitonce.bundles.fpgrowth import mine_frequent_itemsets

    t0 = time.perf_counter()
    try:
        est, _ = mine_frequent_itemsets(
            baskets, min_count=config.min_count, n_baskets=n, cap=config.max_itemsets,
            items_col="mining_items", engine=config.engine, what="citizen bundles",
        )  # fmt: skip
        single = {"refused": False, "bound": est.bound}
    except ItemsetExplosionError as e:
        single = {"refused": True, "message": str(e)}
    single["seconds"] = round(time.perf_counter() - t0, 1)
    baskets.unpersist()
    t0 = time.perf_counter()
    mined = mine_bundles(apps, config=config)
    reported = mined.bundles.select("scope", "segment", "items").collect()
    stage_s = time.perf_counter() - t0
    citizen = {frozenset(r["items"]) for r in reported if r["scope"] == "citizen"}
    planted = [b["name"] for b in truth["bundles"] if frozenset(b["items"]) not in citizen]
    print(json.dumps({
        "events": a.events, "days": a.days, "applications": apps.count(),
        "citizen_baskets": n, "max_itemsets": config.max_itemsets,
        "single_pass": single,
        "stage": {"seconds": round(stage_s, 1), "scopes": mined.summary["scopes"],
                  "candidates": mined.summary["candidates"], "bundles": len(reported)},
        "planted_bundles": len(truth["bundles"]), "planted_missing": planted,
        "generate_s": round(gen_s, 1), "applications_s": round(apps_s, 1),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"Spark {spark.version}",
        "load_average": os.getloadavg(), "date": dt.date.today().isoformat(),
    }, indent=2, default=str))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
