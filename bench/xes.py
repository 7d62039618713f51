"""XES parser throughput and peak memory on BPI Challenge 2012 (262,200 events).

    .venv/bin/python bench/xes.py [PATH] [--parquet]

Streams the log through ``visitonce.xes.iter_rows`` (and, with --parquet, writes the Parquet
chunks ingest reads) and prints events, rows, seconds, events/s and the process's peak RSS.
No Spark: the parser runs on the driver and its memory is what this measures.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from visitonce import xes

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "eventlogs" / "bpic2012.xes.gz"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path", nargs="?", default=str(DEFAULT))
    p.add_argument("--parquet", action="store_true")
    args = p.parse_args()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if args.parquet:
        with tempfile.TemporaryDirectory() as d:
            stats = xes.to_parquet([args.path], d)
    else:
        stats = xes.XesStats()
        for _ in xes.iter_rows(args.path, stats=stats):
            pass
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.path}: {stats.traces:,} traces, {stats.events:,} events -> {stats.rows:,} rows "
        f"({stats.paired:,} start/schedule paired, {stats.open_starts} open), largest case "
        f"{stats.max_case_events} events; {secs:.1f} s, {stats.events / secs:,.0f} events/s; "
        f"peak RSS {rss:.1f} MiB (at start {rss0:.1f} MiB); transitions {stats.transitions}"
    )


if __name__ == "__main__":
    main()
