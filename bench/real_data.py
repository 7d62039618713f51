"""Run the pipeline on every public dataset in ../shared/data and print what it found.

    .venv/bin/python bench/real_data.py [--out /tmp/visitonce-real] [--stages lagging ...]
        [--only DATASET ...] [--config FILE]

One Spark session for all datasets; each goes through its built-in source mapping with no
catalog or roster (derived catalog). Prints one JSON object per dataset: the manifest's
counts, quarantine reasons, duplicates and the top items / departments among clean events.
The figures in docs/real-data.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {
    "nyc311-2013-12-25": ("nyc311", "nyc311/2013-12-25.csv"),
    "nyc311-dohmh-animals": ("nyc311", "nyc311/dohmh-illegal-animals-2010-2025.csv"),
    "boston311": ("boston311", "boston311/2025-open-cases.csv"),
    "ottawa311-2014": ("ottawa311", "ottawa311-2014"),
    "receipt-csv": ("eventlog-csv", "eventlogs/receipt.csv"),
    "receipt-xes": ("xes", "eventlogs/08_receipt.xes.gz"),
    "helpdesk-xes": ("xes", "eventlogs/helpdesk.xes.gz"),
    "bpic2020-permits-xes": ("xes", "eventlogs/15_bpic2020_permit_log_1t_per_variant.xes.gz"),
    "roadtraffic-xes": ("xes", "eventlogs/roadtraffic100traces.xes"),
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="/tmp/visitonce-real")
    p.add_argument("--stages", nargs="*", default=[])
    p.add_argument("--only", nargs="*")
    p.add_argument("--as-of", default="2025-12-01T00:00:00+00:00")
    # e.g. the log's own analysis zone (ingest.time_zone): the default is Asia/Shanghai.
    p.add_argument("--config", help="config YAML for every dataset (default: built-in)")
    args = p.parse_args()
    os.environ.setdefault("VISITONCE_PSEUDONYM_KEY", "real-data-doc-key-0123456789")
    from pyspark.sql import functions as F

    from visitonce import columns as C
    from visitonce.pipeline import make_request, run_pipeline
    from visitonce.spark import build_session

    spark = build_session(
        master="local[2]",
        app_name="visitonce-real-data",
        conf={"spark.sql.shuffle.partitions": "4"},
    )
    for name, (source, rel) in DATASETS.items():
        if args.only and name not in args.only:
            continue
        out = f"{args.out}/{name}"
        req = make_request(
            events=str(DATA / rel),
            out=out,
            catalog=None,
            roster=None,
            source=source,
            config_file=args.config,
            as_of=args.as_of,
        )
        m = run_pipeline(spark, req, stages=args.stages)
        ev = spark.read.parquet(f"{out}/events")
        apps = spark.read.parquet(f"{out}/applications")
        top = {
            c: [
                (r[0], r[1])
                for r in ev.groupBy(c).count().orderBy(F.desc("count"), c).limit(5).collect()
            ]
            for c in (C.SERVICE_ITEM, C.DEPARTMENT, C.CHANNEL)
        }
        print(
            json.dumps(
                {
                    "dataset": name,
                    "source": source,
                    "events": rel,
                    "rows_in": m["rows_in"],
                    "rows_clean": m["rows_clean"],
                    "rows_quarantined": m["rows_quarantined"],
                    "rows_duplicate": m["rows_duplicate"],
                    "duplicates": m["duplicates"],
                    "quarantine_reasons": m["quarantine_reasons"],
                    "applications": m["applications"],
                    "open_steps": ev.where(F.col(C.ENDED_AT).isNull()).count(),
                    "open_applications": apps.where(F.col(C.IS_OPEN)).count(),
                    "catalog_items": m["reference"]["catalog"]["rows_clean"],
                    "top": top,
                    "stages": m["stages"],
                    "stage_results": m["stage_results"],
                },
                default=str,
            ),
            flush=True,
        )
    spark.stop()


if __name__ == "__main__":
    main()
