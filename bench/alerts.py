"""Alerts on generator variants (issue 25): detection of the planted spike and false alarms per
centre-week, thresholds calibrated on each month itself (monitor.false_alarms_per_centre_week).

    PYTHONPATH=$PWD python bench/alerts.py --events 50000 --out /tmp/alerts-bench

A false alarm is an alert outside the planted anomalies: the queue spike (its centre and date)
and the understaffed department on its dates (an alert whose departments include it). Remote
channels' alerts count as false alarms too; the rate divides by the five centres' weeks. Where
an item goes live mid-month, alerts naming its department in its first three days are a real
change of demand: counted apart as "launch", neither caught nor false.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from tests.city import read_city
from visitonce.config import MonitorConfig
from visitonce.generate import MonitorVariant, generate
from visitonce.monitor.stage import find_alerts_calibrated
from visitonce.spark import build_session

TZ = "Asia/Shanghai"
VARIANTS = {
    "quiet": MonitorVariant(spike_factor=1.0),
    "spike x1.5": MonitorVariant(spike_factor=1.5),
    "spike x2": MonitorVariant(spike_factor=2.0),
    "spike x3.5 (default)": MonitorVariant(),
    "spike x6": MonitorVariant(spike_factor=6.0),
    "holiday week + spike x3.5": MonitorVariant(holiday_week=True),
    # the city's busiest counter item goes live on day 14 (a launch surge, then a new level)
    "new item live + spike x3.5": MonitorVariant(new_item="PSB_ID_RENEW", new_item_day=14),
    # the same, with the spike after the launch (above it falls on day 4, before the item exists)
    "new item live + spike x3.5 on day 21": MonitorVariant(
        new_item="PSB_ID_RENEW", new_item_day=14, spike_day=21
    ),
}


def judge(truth: dict, al, days: int) -> dict:
    """Detection of the spike and false alarms of one month's alerts (pandas)."""
    spike = truth["queue_spike"]
    under = truth["understaffed"]
    under_days = {dt.date.fromisoformat(d) for d in under["dates"]}
    planted = al["departments"].map(lambda d: under["department"] in list(d)) & al[
        "alert_date"
    ].isin(under_days)
    caught = None
    new = truth.get("new_item")
    n_launch = 0
    if new:
        live = dt.date.fromisoformat(new["live_from"])
        first_days = {live + dt.timedelta(days=k) for k in range(3)}
        launch = al["departments"].map(lambda d: new["department"] in list(d)) & al[
            "alert_date"
        ].isin(first_days)
        planted |= launch
        n_launch = int(launch.sum())
    if spike:
        on_spike = (al["center"] == spike["center"]) & (
            al["alert_date"] == dt.date.fromisoformat(spike["date"])
        )
        caught = bool(on_spike.any())
        planted |= on_spike
    false = int((~planted).sum())
    centre_weeks = 5 * days / 7
    return {
        "alerts": len(al),
        "launch": n_launch,
        "caught": caught,
        "false": false,
        "per_centre_week": false / centre_weeks,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="/tmp/alerts-bench")
    ap.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    a = ap.parse_args()
    # the project's session (UTC, and Python workers that run this interpreter, with pandas)
    spark = build_session(
        master="local[2]", app_name="bench-alerts", conf={"spark.sql.shuffle.partitions": "8"}
    )
    names = [n for n in VARIANTS if not a.only or n in a.only.split(",")]
    rows = []
    print("| variant | valid events | candidate incidents | alerts | spike caught | false alarms "
          "| launch alerts | false per centre-week | time |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for i, name in enumerate(names):
        root = Path(a.out) / f"v{i}"
        truth = generate(
            root, n_events=a.events, seed=a.seed, days=a.days, fmt="parquet", dirty=False,
            variant=VARIANTS[name],
        )  # fmt: skip
        ev, cat, roster = read_city(spark, root)
        t0 = time.perf_counter()
        _, alerts, calib = find_alerts_calibrated(
            ev, catalog=cat, roster=roster, config=MonitorConfig(), time_zone=TZ
        )
        al = alerts.toPandas()
        cal = calib.toPandas()
        r = judge(truth, al, a.days) | {"variant": name, "seconds": time.perf_counter() - t0}
        r["candidates"] = int(cal["candidate_incidents"].sum())
        rows.append(r)
        print(
            f"| {name} | {truth['n_events_valid']} | "
            f"{r['candidates']} | {r['alerts']} | "
            f"{'-' if r['caught'] is None else ('yes' if r['caught'] else 'NO')} | "
            f"{r['false']} | {r['launch']} | {r['per_centre_week']:.2f} | {r['seconds']:.0f} s |",
            flush=True,
        )
    spark.stop()


if __name__ == "__main__":
    main()
