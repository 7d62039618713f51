"""Benchmark: per-transition step statistics against pm4py on BPI Challenge 2012.

    .venv/bin/python bench/steps.py [path.xes.gz] [--master local[2]]

Both engines get the same events (all lifecycle events of the log, as pm4py reads them) and
compute the performance directly-follows graph (count, mean, median, min, max, sum, stdev of
the time between directly following activities of a case): pm4py 2.7
``discover_performance_dfg`` on its dataframe, and visitonce's
``lagging.transitions.summarize_transitions`` on Spark over the same rows written to Parquet.
The results are checked to be identical (same pairs, same counts, statistics within 1e-6)
before the times count. Reading the XES is timed separately for each: pm4py's ``read_xes``
and visitonce's streaming parser (``visitonce.xes.iter_rows``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "eventlogs" / "bpic2012.xes.gz"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path", nargs="?", default=str(DEFAULT))
    p.add_argument("--master", default="local[2]")
    args = p.parse_args()
    os.environ.setdefault("VISITONCE_SPARK_LOG_LEVEL", "ERROR")
    os.environ.setdefault("TQDM_DISABLE", "1")  # pm4py's progress bars
    import pandas as pd
    import pm4py

    from visitonce.lagging.transitions import summarize_transitions
    from visitonce.spark import build_session
    from visitonce.xes import iter_rows

    t0 = time.perf_counter()
    log = pm4py.read_xes(args.path)
    pm4py_read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_stream = sum(1 for _ in iter_rows(args.path))
    stream_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    dfg, _, _ = pm4py.discover_performance_dfg(log)
    pm4py_s = time.perf_counter() - t0

    frame = pd.DataFrame(
        {
            "case": log["case:concept:name"].astype(str),
            "activity": log["concept:name"].astype(str),
            "ts": pd.to_datetime(log["time:timestamp"], utc=True),
            "row": range(len(log)),
        }
    )
    spark = build_session(master=args.master, app_name="visitonce-bench-steps")
    with tempfile.TemporaryDirectory() as tmp:
        frame.to_parquet(f"{tmp}/events.parquet", index=False, coerce_timestamps="us")
        spark.read.parquet(f"{tmp}/events.parquet").count()  # warm-up, file cached by the OS
        t0 = time.perf_counter()
        got = summarize_transitions(
            spark.read.parquet(f"{tmp}/events.parquet"),
            case_col="case",
            activity_col="activity",
            timestamp_col="ts",
            order_col="row",
        ).collect()
        spark_s = time.perf_counter() - t0
    ours = {(r["source"], r["target"]): r for r in got}
    assert set(ours) == set(dfg), "different transitions"
    for pair, stats in dfg.items():
        for key in ("mean", "median", "min", "max", "sum"):
            assert math.isclose(ours[pair][key], stats[key], rel_tol=1e-6, abs_tol=1e-6), (
                pair,
                key,
            )
    print(
        json.dumps(
            {
                "log": Path(args.path).name,
                "events": len(log),
                "transitions": len(dfg),
                "identical": True,
                "pm4py_read_xes_s": round(pm4py_read_s, 1),
                "visitonce_stream_xes_s": round(stream_s, 1),
                "visitonce_stream_rows": n_stream,
                "pm4py_performance_dfg_s": round(pm4py_s, 2),
                "visitonce_spark_transitions_s": round(spark_s, 2),
                "ratio_visitonce_to_pm4py": round(spark_s / pm4py_s, 2),
                "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                f"Python {platform.python_version()}, Spark {spark.version}, "
                f"master {spark.sparkContext.master}",
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
