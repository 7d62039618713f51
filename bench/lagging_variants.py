"""Lagging steps on the test cities of ``visitonce/generate_lagging.py`` (issue 18): precision and
recall of the planted lags per variant, and what was flagged or missed.

    PYTHONPATH=. .venv/bin/python bench/lagging_variants.py [--only v4,v5] [--work DIR]

The six variants of the table in docs/methodology-lagging.md (v0-v3 are the grid that
tests/lagging/test_variants.py asserts; v4 and v5 stamp back-office steps in nightly batches),
generated with ``prefix=f"v{k}_"``, ``seed=k+1`` and judged in one ``find_lagging_steps`` call
with the default configuration. The whole table is left in ``<work>/lagging_steps.parquet``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

VARIANTS = {
    "v0": {"time_model": "office", "heterogeneity": 1.0},
    "v1": {"time_model": "continuous", "heterogeneity": 1.0},
    "v2": {"time_model": "office", "heterogeneity": 100.0},
    "v3": {"time_model": "continuous", "heterogeneity": 100.0, "handoff_hours": 6.0},
    "v4": {"time_model": "office", "heterogeneity": 10.0, "nightly_batch": True},
    "v5": {
        "time_model": "continuous",
        "heterogeneity": 10.0,
        "handoff_hours": 0.5,
        "nightly_batch": True,
    },
}
SHOW = ["service_item", "step", "kind", "comparison", "place", "status", "basis", "n"]
SHOW += ["observed_s", "expected_s", "excess_ratio", "workload_ratio", "q_value"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    ap.add_argument("--work", default="/tmp/visitonce-bench-lagging-variants")
    a = ap.parse_args(argv)
    names = [n for n in a.only.split(",") if n] or list(VARIANTS)

    import pandas as pd

    from tests.city import read_city, step_facts
    from visitonce.config import CalendarConfig, LaggingConfig
    from visitonce.generate_lagging import generate_lagging_variant, recoverable
    from visitonce.lagging.stage import find_lagging_steps
    from visitonce.spark import build_session

    spark = build_session(app_name="bench-lagging-variants")
    truths, frames = {}, []
    for name in names:
        k = int(name[1:])
        root = Path(a.work) / name
        truths[name] = generate_lagging_variant(
            root, seed=k + 1, prefix=f"{name}_", **VARIANTS[name]
        )
        frames.append(read_city(spark, root))
    ev, cat, ro = frames[0]
    for e, c, r in frames[1:]:
        ev, cat, ro = ev.unionByName(e), cat.unionByName(c), ro.unionByName(r)
    t0 = time.perf_counter()
    _, lagging = find_lagging_steps(
        step_facts(ev), catalog=cat, roster=ro, calendar=CalendarConfig(),
        config=LaggingConfig(), time_zone="Asia/Shanghai",
        as_of=dt.datetime.fromisoformat(next(iter(truths.values()))["period_end"]),
    )  # fmt: skip
    lag = lagging.toPandas()
    seconds = time.perf_counter() - t0
    lag.to_parquet(Path(a.work) / "lagging_steps.parquet")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    cfg = LaggingConfig()
    material = {"waiting": cfg.material_waiting_s, "handoff": cfg.material_handoff_s,
                "processing": cfg.material_back_office_s}  # fmt: skip
    table = []
    for name, truth in truths.items():
        mine = lag[lag["service_item"].str.startswith(f"{name}_")]
        planted = {(p["service_item"], p["step"], p["kind"]) for p in truth["lagging_steps"]}
        flagged = {(r.service_item, r.step, r.kind) for r in mine[mine["flagged"]].itertuples()}
        found = planted & flagged
        in_data = {
            (p["service_item"], p["step"], p["kind"])
            for p in truth["lagging_steps"]
            if recoverable(p, min_effect=cfg.min_effect, material_s=material)
        }
        under = truth["understaffed"]["department"]
        under_flagged = int(mine[mine["department"] == under]["flagged"].sum())
        table.append(
            f"| {name} | {VARIANTS[name]} | {len(found) / max(len(flagged), 1):.2f} "
            f"| {len(found) / len(planted):.2f} | {len(found & in_data) / len(in_data):.2f} "
            f"({len(in_data)} of {len(planted)}) | {under_flagged} of "
            f"{int((mine['department'] == under).sum())} |"
        )
        print(f"\n## {name} {VARIANTS[name]}")
        for p in truth["lagging_steps"]:
            wall = f"{p['recorded_factor']:.2f}x, {p['recorded_excess_s']:.0f} s"
            work = f"{p['recorded_work_factor']:.2f}x, {p['recorded_work_excess_s']:.0f} s"
            print(f"planted {p['service_item']} {p['step']} {p['kind']}: recorded {wall}; "
                  f"in working time {work}")  # fmt: skip
        key = list(zip(mine["service_item"], mine["step"], mine["kind"], strict=True))
        keep = [k in planted or k in flagged for k in key]
        print(mine[keep][SHOW].sort_values(SHOW[:4]).to_string(index=False))
    print(f"\nlagging stage: {seconds:.1f} s")
    print("| variant | knobs | precision | recall | recall of the lags in the data "
          "| understaffed rows flagged |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
