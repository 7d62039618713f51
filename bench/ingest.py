"""Benchmark: ingest (+ applications) on N generated events; prints time and peak memory.

    .venv/bin/python bench/ingest.py --events 1000000 [--work /tmp/visitonce-bench]

Peak memory is sampled (every 0.2 s): the Spark driver JVM (which runs the local executors
too), this Python process, and the whole process tree. Generation is not timed
into the ingest figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import threading
import time
from pathlib import Path

import psutil


class PeakRss:
    """Peak resident memory of this process tree, sampled in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self.peak_jvm = 0
        self.peak_python = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                procs = [me, *me.children(recursive=True)]
                rss = {p.pid: p.memory_info().rss for p in procs}
                # The largest JVM only: Hadoop forks short-lived helpers from the JVM whose
                # copy-on-write pages would otherwise be counted twice.
                jvm = max((rss[p.pid] for p in procs if "java" in p.name()), default=0)
            except psutil.Error:
                continue
            self.peak = max(self.peak, rss[me.pid] + jvm)
            self.peak_jvm = max(self.peak_jvm, jvm)
            self.peak_python = max(self.peak_python, rss[me.pid])
            time.sleep(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--work", default="/tmp/visitonce-bench")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    from visitonce.generate import generate
    from visitonce.mapping import load_mapping
    from visitonce.pipeline import RunRequest, Timer, run_ingest
    from visitonce.spark import build_session
    from visitonce.stages import run_applications

    work = Path(args.work)
    landing = work / f"landing-{args.events}-{args.seed}"
    if not (landing / "truth.json").exists():
        t0 = time.perf_counter()
        generate(landing, n_events=args.events, seed=args.seed)
        print(f"generated {args.events:,} events in {time.perf_counter() - t0:.1f}s")
    truth = json.loads((landing / "truth.json").read_text())
    out = work / "out"
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
    with PeakRss() as mem:
        spark = build_session()
        timer = Timer()
        t0 = time.perf_counter()
        counts = run_ingest(spark, req, timer=timer)
        n_apps = run_applications(spark, req, timer=timer)["applications"]
        wall = time.perf_counter() - t0
    figures = {
        "events_valid": truth["n_events_valid"],
        "rows_in": counts["rows_in"],
        "rows_clean": counts["rows_clean"],
        "rows_quarantined": counts["rows_quarantined"],
        "rows_duplicate": counts["rows_duplicate"],
        "applications": n_apps,
        "stages_s": timer.stages,
        "wall_s": round(wall, 1),
        "rows_per_s": round(counts["rows_in"] / timer.stages["ingest"]),
        "peak_rss_total_mib": round(mem.peak / 2**20),
        "peak_rss_jvm_mib": round(mem.peak_jvm / 2**20),
        "peak_rss_python_mib": round(mem.peak_python / 2**20),
        "driver_memory": spark.conf.get("spark.driver.memory", "default"),
        "machine": f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"{platform.machine()}, Python {platform.python_version()}, "
        f"Spark {spark.version}",
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
