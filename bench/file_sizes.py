"""Benchmark: files sized to the data, and a long history against one month (issue 22).

    .venv/bin/python bench/file_sizes.py [--events 50000] [--years 4] [--repeat 1] [--work DIR]
        [--all-stages]

Generates the same number of events twice (seed 7, CSV; not timed): within one month (31
days) and spread over ``--years`` years. Then, in one Spark session and back to back so both
see the same machine load (alternating, ``--repeat`` times), times ingest and applications on
each, and counts the written files: per ``events/`` partition (a day), per quarantine batch,
and per unpartitioned table. Prints one JSON object per run and the ratio long history ÷ one
month per stage (the target: ingest at most 2x). ``--all-stages`` runs the whole pipeline
(every analytic stage, with the catalog and roster) instead of ingest and applications, and adds
the total (the target: at most 2x). ``docs/benchmarks.md`` records the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

from machine import context


def file_counts(out: Path) -> dict[str, object]:
    """Parquet files per events partition, per quarantine batch and per other table."""
    import pyarrow.parquet as pq

    days = [len(list(d.glob("*.parquet"))) for d in out.glob("events/event_date=*")]
    rows = [pq.ParquetFile(f).metadata.num_rows for f in out.glob("events/*/*.parquet")]
    batches = [len(list(b.glob("*.parquet"))) for b in out.glob("quarantine/table=*/batch=*")]
    tables = {
        t.name: len(list(t.glob("*.parquet")))
        for t in sorted(out.iterdir())
        if t.is_dir() and list(t.glob("*.parquet"))
    }
    return {
        "event_dates": len(days),
        "files_per_day_max": max(days, default=0),
        "events_rows_per_file_mean": round(sum(rows) / max(len(rows), 1)),
        "files_per_quarantine_batch_max": max(batches, default=0),
        "files_per_unpartitioned_table": tables,
    }


def run_once(spark, landing: Path, out: Path, *, all_stages: bool = False) -> dict[str, object]:
    from visitonce.mapping import load_mapping
    from visitonce.pipeline import RunRequest, Timer, run_ingest, run_pipeline
    from visitonce.stages import run_applications

    truth = json.loads((landing / "truth.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    req = RunRequest(
        events=str(landing / "events"),
        out=str(out),
        mapping=load_mapping("canonical"),
        key=os.urandom(32),
        as_of=dt.datetime.fromisoformat(truth["period_end"]),
        catalog=str(landing / "catalog.csv"),
        roster=str(landing / "roster.csv"),
    )
    if all_stages:
        manifest = run_pipeline(spark, req)
        stages = dict(manifest["stages"])
        stages["total"] = round(sum(stages.values()), 3)
        return {
            "rows_in": manifest["rows_in"],
            "rows_clean": manifest["rows_clean"],
            "status": manifest["status"],
            "stages_s": stages,
            **file_counts(out),
        }
    timer = Timer()
    counts = run_ingest(spark, req, timer=timer)
    n_apps = run_applications(spark, req, timer=timer)["applications"]
    return {
        "rows_in": counts["rows_in"],
        "rows_clean": counts["rows_clean"],
        "applications": n_apps,
        "stages_s": timer.stages,
        **file_counts(out),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--years", type=int, default=4)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--work", default="/tmp/visitonce-bench-files")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--all-stages", action="store_true", help="the whole pipeline, not ingest")
    args = p.parse_args()

    from visitonce.generate import generate
    from visitonce.spark import build_session

    work = Path(args.work)
    spans = {"month": 31, f"{args.years}_years": round(365.25 * args.years)}
    landings = {}
    for name, days in spans.items():
        landing = work / f"landing-{args.events}-{days}d-{args.seed}"
        if not (landing / "truth.json").exists():
            generate(landing, n_events=args.events, seed=args.seed, days=days)
        landings[name] = landing

    spark = build_session()
    every = args.all_stages
    run_once(spark, landings["month"], work / "warm-up", all_stages=every)  # start-up, untimed
    results: dict[str, list[dict[str, object]]] = {name: [] for name in spans}
    for i in range(args.repeat):
        for name in spans:
            t0 = time.perf_counter()
            r = run_once(spark, landings[name], work / f"out-{name}", all_stages=every)
            r = {"span": name, "days": spans[name], "run": i + 1, **r}
            r["wall_s"] = round(time.perf_counter() - t0, 1)
            results[name].append(r)
            print(json.dumps(r))
    long, month = list(spans)[1], "month"
    best = {n: {s: min(r["stages_s"][s] for r in rs) for s in rs[0]["stages_s"]}  # type: ignore[index]
            for n, rs in results.items()}  # fmt: skip
    ratios = {s: round(best[long][s] / best[month][s], 2) for s in best[month]}
    print(
        json.dumps(
            {
                f"best_s_{month}": best[month],
                f"best_s_{long}": best[long],
                f"ratio_{long}_over_{month}": ratios,
                **context(spark),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
