"""Benchmark: what a daily run costs on a warehouse that already holds history (issue 17, item 2).

    .venv/bin/python bench/daily_increment.py [--events-per-day 2000] [--days 30] [--repeat 1]
        [--stages applications,lagging,monitor] [--work DIR]

Generates ``--days`` + 1 days (seed 7, clean CSV; not timed) and lays the landing out by day
(``events/date=YYYY-MM-DD/``, by the local date of ``started_at``, as README describes), so a
run with an interval reads only its own day folders. Then, in one Spark session:

- the history: one run over the first ``--days`` days into a warehouse (timed, reported);
- the last day into that warehouse (``daily on history``) and into an empty warehouse
  (``daily on empty``), alternating ``--repeat`` times, so both see the same machine load.

Both daily runs read the same landing folders and write the same day; what differs is the
history the warehouse holds. The stages are the daily DAG's (``applications,lagging,monitor``).
Prints one JSON object per run and the ratio daily on history ÷ daily on empty per stage (the
issue's target: at most 1.5 with 30 days of history). ``docs/benchmarks.md`` records the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from pathlib import Path

from machine import context

KEY = b"bench-daily-key-0123456789"


def lay_out_by_day(landing: Path, time_zone: str) -> list[dt.date]:
    """Move the generated ``events/part-*.csv`` rows into ``events/date=YYYY-MM-DD/`` folders by
    the local date of ``started_at`` (rows without one go to the first day); return the days."""
    import pandas as pd

    flat = sorted((landing / "events").glob("part-*.csv"))
    if not flat:  # already laid out
        return sorted(
            dt.date.fromisoformat(p.name.split("=", 1)[1])
            for p in (landing / "events").glob("date=*")
        )
    rows = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in flat])
    started = pd.to_datetime(rows["started_at"], errors="coerce", utc=True)
    local = started.dt.tz_convert(time_zone).dt.date
    local = local.fillna(local.dropna().min())
    for day, part in rows.groupby(local.to_numpy()):
        folder = landing / "events" / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        part.to_csv(folder / "part-00000.csv", index=False)
    for f in flat:
        f.unlink()
    return sorted(set(local))


def run(spark, landing: Path, out: Path, start: dt.date, end: dt.date, stages, tz) -> dict:
    """One run of [start, end) (local dates) into ``out``; its stage times and counts."""
    from zoneinfo import ZoneInfo

    from visitonce.mapping import load_mapping
    from visitonce.pipeline import RunRequest, run_pipeline

    zone = ZoneInfo(tz)
    as_of = dt.datetime.combine(end, dt.time(), zone)
    req = RunRequest(
        events=str(landing / "events"),
        out=str(out),
        mapping=load_mapping("canonical"),
        key=KEY,
        as_of=as_of,
        catalog=str(landing / "catalog.csv"),
        roster=str(landing / "roster.csv"),
        start=dt.datetime.combine(start, dt.time(), zone),
        end=as_of,
    )
    t0 = time.perf_counter()
    m = run_pipeline(spark, req, stages=stages)
    return {
        "wall_s": round(time.perf_counter() - t0, 1),
        "stages_s": m["stages"],
        "rows_read": m["rows_read"],
        "rows_clean": m["rows_clean"],
        "landing": m.get("landing"),
        "applications": m["stage_results"]["applications"]["rows"],
        # full, or incremental: only the applications the day touched (and the open ones)
        "applications_mode": m["stage_results"]["applications"].get("mode"),
        "applications_recomputed": m["stage_results"]["applications"].get(
            "applications_recomputed"
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events-per-day", type=int, default=2_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--stages", default="applications,lagging,monitor")
    p.add_argument("--work", default="/tmp/visitonce-bench-daily")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    from visitonce.config import IngestConfig
    from visitonce.generate import generate
    from visitonce.spark import build_session

    tz = IngestConfig().time_zone
    stages = [s for s in args.stages.split(",") if s]
    work = Path(args.work)
    landing = work / f"landing-{args.events_per_day}x{args.days + 1}d-{args.seed}"
    if not (landing / "truth.json").exists():
        n = args.events_per_day * (args.days + 1)
        generate(landing, n_events=n, seed=args.seed, days=args.days + 1, fmt="csv", dirty=False)
    days = lay_out_by_day(landing, tz)
    first, last = days[0], days[args.days] if len(days) > args.days else days[-1]
    end = last + dt.timedelta(days=1)

    spark = build_session()
    for name in ("history", "empty", "warm-up"):
        shutil.rmtree(work / name, ignore_errors=True)
    run(spark, landing, work / "warm-up", last, end, stages, tz)  # JVM start-up, untimed
    history = run(spark, landing, work / "history", first, last, stages, tz)
    print(json.dumps({"run": f"history: {first} .. {last} (exclusive)", **history}))
    results: dict[str, list[dict]] = {"daily on history": [], "daily on empty": []}
    for i in range(args.repeat):
        for name, out in (("daily on history", "history"), ("daily on empty", "empty")):
            if name == "daily on empty":
                shutil.rmtree(work / "empty", ignore_errors=True)
            r = run(spark, landing, work / out, last, end, stages, tz)
            results[name].append(r)
            print(json.dumps({"run": f"{name} #{i + 1}: {last}", **r}))
    best = {n: {s: min(r["stages_s"][s] for r in rs) for s in rs[0]["stages_s"]}
            for n, rs in results.items()}  # fmt: skip
    ratio = {
        s: round(best["daily on history"][s] / best["daily on empty"][s], 2)
        for s in best["daily on empty"]
    }
    total = {n: round(sum(b.values()), 1) for n, b in best.items()}
    print(
        json.dumps(
            {
                "best_s": best,
                "total_s": total,
                "ratio_history_over_empty": ratio,
                "ratio_total": round(total["daily on history"] / total["daily on empty"], 2),
                "history_days": args.days,
                "events_per_day": args.events_per_day,
                **context(spark),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
