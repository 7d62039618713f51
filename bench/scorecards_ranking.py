"""Ranking check: Spearman correlation of the department scores with the planted quality order
of generated cities, on each ``quality_via`` variant of the generator (quality acting on
durations, on satisfaction only, or on return trips) and several seeds.

    PYTHONPATH=. .venv/bin/python bench/scorecards_ranking.py [--events 40000] [--days 45]
        [--seeds 11 12] [--variants time experience visits] [--out /tmp/scorecards-rank]

Events are read as generated (clean, Parquet), applications built as the pipeline does, the
planted lagging steps stand in for the detector's (tests/lagging checks the detector), and
the scorecards are computed with the default configuration. Printed per variant, seed and
period: departments scored, Spearman(score, -quality) and that of the rank interval midpoints,
the share of department pairs the 90% rank intervals separate and how many of those agree with
the planted order, and the share of funnel cells flagged (with and without the over-dispersion
adjustment). Each city's directory keeps the inputs of bench/scorecards_alternatives.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.city import read_city, with_ingest_columns  # noqa: E402
from visitonce import columns as C  # noqa: E402
from visitonce.applications import to_applications  # noqa: E402
from visitonce.config import CalendarConfig, ScorecardsConfig  # noqa: E402
from visitonce.context import local_date  # noqa: E402
from visitonce.generate import generate  # noqa: E402
from visitonce.scorecard import kpis  # noqa: E402
from visitonce.scorecard.stage import compute_scorecards  # noqa: E402
from visitonce.spark import build_session  # noqa: E402

TZ = "Asia/Shanghai"


def one(spark, root: Path, *, variant: str, seed: int, events: int, days: int) -> pd.DataFrame:
    truth = generate(root, n_events=events, seed=seed, days=days, fmt="parquet", dirty=False,
                     quality_via=variant)  # fmt: skip
    ev, cat, _ = read_city(spark, root)
    ev = with_ingest_columns(ev, TZ).cache()
    as_of = dt.datetime.fromisoformat(truth["period_end"])
    apps = to_applications(ev, catalog=cat, calendar=CalendarConfig(), time_zone=TZ, as_of=as_of)
    apps = apps.cache()
    lag = spark.createDataFrame(
        [(p["service_item"], p["step"], p["department"], p["kind"], float(p["factor"]), True)
         for p in truth["lagging_steps"]],
        "service_item string, step string, department string, kind string, "
        "excess_ratio double, flagged boolean",
    )  # fmt: skip
    res = compute_scorecards(apps, ev, catalog=cat, lagging_steps=lag,
                             config=ScorecardsConfig(mc_draws=500), time_zone=TZ, as_of=as_of,
                             config_hash="bench")  # fmt: skip
    # The driver-side inputs, to re-score without Spark (stage.score_departments), and the
    # month cells by department x item x strata (bench/scorecards_alternatives.py).
    res.departments.to_pickle(root / "departments.pkl")
    res.wait_p90.to_pickle(root / "wait_p90.pkl")
    month_cells(apps, ev, cat, lag, as_of).to_pickle(root / "cells.pkl")
    spark.catalog.clearCache()
    q = pd.Series(truth["department_quality"])
    out = []
    for (period, grain), g in res.scorecards.groupby(["period", "grain"]):
        g = g.dropna(subset=["score"]).set_index("department")
        mid = (g["rank_lo"] + g["rank_hi"]) / 2
        out.append({"variant": variant, "seed": seed, "period": period, "grain": grain,
                    "departments": len(g),
                    "spearman_score": g["score"].corr(-q.reindex(g.index), method="spearman"),
                    "spearman_rank_mid": (-mid).corr(-q.reindex(g.index), method="spearman"),
                    **confident_calls(g, q),
                    "funnel_flagged": res.manifest["funnel"]["flagged_share"],
                    "funnel_flagged_unadjusted":
                        res.manifest["funnel"]["flagged_share_unadjusted"]})  # fmt: skip
    return pd.DataFrame(out)


def confident_calls(card: pd.DataFrame, quality: pd.Series) -> dict[str, float]:
    """Pairs of departments of different planted quality whose 90% rank intervals do not
    overlap (the scorecards call one ahead), as a share of all such pairs, and the share of
    those calls that agree with the planted order."""
    q = quality.reindex(card.index)
    calls = right = pairs = 0
    for i in card.index:
        for j in card.index:
            if i >= j or q[i] == q[j]:
                continue
            pairs += 1
            ahead = card.at[i, "rank_hi"] < card.at[j, "rank_lo"]
            behind = card.at[j, "rank_hi"] < card.at[i, "rank_lo"]
            if ahead or behind:
                calls += 1
                right += ahead == (q[i] < q[j])
    return {"confident_pairs": calls / pairs if pairs else float("nan"),
            "confident_right": right / calls if calls else float("nan")}  # fmt: skip


def month_cells(apps, ev, cat, lag, as_of: dt.datetime) -> pd.DataFrame:
    """KPI counts per month x department x item (with its time limit) x case-mix stratum."""
    cfg = ScorecardsConfig()
    feats = kpis.to_case_features(apps, ev, catalog=cat, lagging_steps=lag,
                                  wait_minutes=cfg.wait_minutes, repeat_days=cfg.repeat_days,
                                  time_zone=TZ)  # fmt: skip
    feats = feats.join(cat.select(C.SERVICE_ITEM, C.TIME_LIMIT_DAYS), C.SERVICE_ITEM, "left")
    rows = kpis.to_period_rows(feats, grains=["month"], as_of=local_date(as_of, time_zone=TZ))
    keys = [kpis.PERIOD, kpis.GRAIN, C.DEPARTMENT, C.SERVICE_ITEM, C.TIME_LIMIT_DAYS,
            *kpis.STRATA]  # fmt: skip
    return kpis.to_long(kpis.summarize_cells(rows, keys=keys), keys=keys).toPandas()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--days", type=int, default=45)
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    ap.add_argument("--variants", nargs="+", default=["time", "experience", "visits"])
    ap.add_argument("--out", default="/tmp/scorecards-rank")
    a = ap.parse_args(argv)
    spark = build_session(
        master="local[2]",
        app_name="scorecards-ranking",
        conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"},
    )
    rows = []
    for variant in a.variants:
        for seed in a.seeds:
            root = Path(a.out) / f"{variant}-{seed}"
            rows.append(one(spark, root, variant=variant, seed=seed, events=a.events,
                            days=a.days))  # fmt: skip
            print(rows[-1].to_string(index=False), flush=True)
    allr = pd.concat(rows, ignore_index=True)
    cols = ["spearman_score", "spearman_rank_mid", "confident_pairs", "confident_right",
            "funnel_flagged", "funnel_flagged_unadjusted"]  # fmt: skip
    print(allr.groupby(["variant", "grain"])[cols].mean().round(3).to_string())
    print(allr.groupby(["variant", "grain"])["spearman_score"].min().round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
