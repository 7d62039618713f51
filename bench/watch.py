"""Real-time monitoring (issue 20): latency from a file landing to the notification, and false
alarms over a quiet generated week.

    PYTHONPATH=$PWD python bench/watch.py --events 60000 --out /tmp/watch-bench

Latency: a generated month's history (every day but the queue-spike day) goes through `visitonce
run --stages monitor`; `visitonce watch --trigger-seconds 10` then runs as its own process with
a loopback webhook, while the spike day's events land as hourly files, one every --interval
seconds (the morning in one go). Each notification's latency is its arrival at the webhook minus
the landing of the latest file before it. The peer in the same run is the time the watcher's
micro-batch itself took (from its log line), so the rest is the trigger wait.

Quiet week: a month without a spike (MonitorVariant(spike_factor=1)); history = its first 21
days, live = the last 7, landed in 6-hour files, judged with --once after each. Every alert is
a false alarm; the rate divides by the centres' weeks (5 centres x 1 week).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.monitor.test_watch import Receiver, _land, _split_hourly  # noqa: E402
from visitonce.generate import MonitorVariant, generate  # noqa: E402

TZ = "Asia/Shanghai"


def _history(root: Path, events: pd.DataFrame, keep: pd.Series) -> Path:
    """Run ingest + monitor on the kept rows; returns the warehouse."""
    from visitonce.pipeline import make_request, run_pipeline
    from visitonce.spark import build_session

    (root / "history").mkdir(parents=True)
    events[keep].to_csv(root / "history" / "events.csv", index=False)
    spark = build_session(master="local[2]")
    req = make_request(
        events=str(root / "history"), out=str(root / "wh"),
        catalog=str(root / "city" / "catalog.csv"), roster=str(root / "city" / "roster.csv"),
        as_of="2026-12-01",
    )  # fmt: skip
    t0 = time.perf_counter()
    run_pipeline(spark, req, stages=["monitor"])
    print(f"  history run (ingest + monitor): {time.perf_counter() - t0:.0f} s")
    return root / "wh"


def _read(root: Path) -> tuple[pd.DataFrame, pd.Series]:
    events = pd.concat(
        [pd.read_csv(f, dtype=str) for f in sorted((root / "city" / "events").glob("*.csv"))]
    )
    arrived = pd.to_datetime(
        events["arrived_at"].fillna(events["started_at"]), utc=True, format="ISO8601"
    ).dt.tz_convert(TZ)
    return events, arrived


def latency(out: Path, *, n_events: int, interval: float, trigger: float) -> None:
    root = out / "latency"
    truth = generate(root / "city", n_events=n_events, days=28, fmt="csv", dirty=False)
    spike = truth["queue_spike"]
    events, arrived = _read(root)
    wh = _history(root, events, arrived.dt.strftime("%Y-%m-%d") != spike["date"])
    hourly = _split_hourly(events, spike["date"], root / "hourly")
    day = spike["date"].replace("-", "")
    today = [f for f in hourly if f.stem.split("-")[1] == day]
    first = min(spike["hours"])
    morning = [f for f in today if int(f.stem[-2:]) < first - 2]
    rest = [f for f in today if f not in morning and int(f.stem[-2:]) <= max(spike["hours"]) + 3]
    receiver = Receiver()
    landing = root / "landing"
    landing.mkdir()
    _land(morning, landing)
    cmd = [
        sys.executable, "-m", "visitonce", "watch", "--events", str(landing),
        "--warehouse", str(wh), "--webhook", receiver.url, "--trigger-seconds", str(trigger),
        "--master", "local[2]",
    ]  # fmt: skip
    log = open(root / "watch.log", "w")  # noqa: SIM115 - the process writes it
    proc = subprocess.Popen(cmd, stderr=log, stdout=log, env={**os.environ})
    try:
        while "watching" not in (root / "watch.log").read_text():
            time.sleep(1)
        time.sleep(2 * trigger)  # the morning batch
        landed: list[tuple[float, str]] = []
        for f in rest:
            _land([f], landing)
            landed.append((time.time(), f.stem[-2:]))
            time.sleep(interval)
        time.sleep(2 * trigger)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        receiver.close()
    text = (root / "watch.log").read_text()
    batch_s = [float(x) for x in re.findall(r"took (\d+\.\d) s", text)]
    print(f"  files landed every {interval:g} s, trigger {trigger:g} s; spike at {spike['center']} "
          f"{spike['date']} from {first}:00")  # fmt: skip
    rows = []
    for g in receiver.got:
        before = [t for t in landed if t[0] <= g["at"]]
        if not before:
            continue
        t_land, hour = before[-1]
        rows.append((g["doc"]["center"], g["doc"]["metric"], g["doc"]["window_local"], hour,
                     g["at"] - t_land))  # fmt: skip
    print("  | alert (centre, metric, window) | last file landed (hour) | latency |")
    print("  |---|---|---|")
    for c, m, w, h, lat in rows:
        print(f"  | {c} {m} {w} | {h}:00 | {lat:.1f} s |")
    if batch_s:
        print(f"  micro-batch time: median {pd.Series(batch_s).median():.1f} s, "
              f"max {max(batch_s):.1f} s over {len(batch_s)} batches")  # fmt: skip


def quiet_week(out: Path, *, n_events: int) -> None:
    from visitonce.monitor import live as L

    root = out / "quiet"
    generate(root / "city", n_events=n_events, days=28, fmt="csv", dirty=False,
             variant=MonitorVariant(spike_factor=1.0))  # fmt: skip
    events, arrived = _read(root)
    days = sorted(arrived.dt.strftime("%Y-%m-%d").unique())
    live_days = days[-7:]
    wh = _history(root, events, ~arrived.dt.strftime("%Y-%m-%d").isin(live_days))
    known = pd.to_datetime(
        events["ended_at"].fillna(events["started_at"]), utc=True, format="ISO8601"
    ).dt.tz_convert(TZ)
    live = arrived.dt.strftime("%Y-%m-%d").isin(live_days)
    block = known[live].dt.strftime("%Y%m%d-") + (known[live].dt.hour // 6).astype(str)
    landing = root / "landing"
    landing.mkdir()
    receiver = Receiver()
    from visitonce.spark import build_session

    spark = build_session(master="local[2]")
    req = L.make_watch_request(events=str(landing), warehouse=str(wh), webhook=receiver.url,
                               once=True)  # fmt: skip
    t0 = time.perf_counter()
    staged = root / "staged"
    staged.mkdir()
    for b in sorted(block.unique()):
        f = staged / f"events-{b}.csv"
        events[live][block == b].to_csv(f, index=False)
        _land([f], landing)
        L.start(spark, req)
    receiver.close()
    alerts = spark.read.parquet(str(wh / "alerts_live")).toPandas() if (
        wh / "alerts_live").exists() else pd.DataFrame()  # fmt: skip
    n = len(alerts)
    print(f"  quiet week ({live_days[0]} to {live_days[-1]}), {len(block.unique())} files, "
          f"{time.perf_counter() - t0:.0f} s: {n} alerts ({len(receiver.got)} notifications), "
          f"{n / 5:.2f} per centre-week (5 centres)")  # fmt: skip
    if n:
        print(alerts[["monitor_unit", "metric", "window_local", "score", "threshold"]].to_string())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/watch-bench"))
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--trigger", type=float, default=10.0)
    ap.add_argument("--only", choices=["latency", "quiet"], default=None)
    args = ap.parse_args()
    os.environ.setdefault("VISITONCE_PSEUDONYM_KEY", "bench-key-0123456789abcdef")
    shutil.rmtree(args.out, ignore_errors=True)
    print(f"watch bench: {args.events:,} events over 28 days")
    if args.only in (None, "latency"):
        latency(args.out, n_events=args.events, interval=args.interval, trigger=args.trigger)
    if args.only in (None, "quiet"):
        quiet_week(args.out, n_events=args.events)


if __name__ == "__main__":
    main()
