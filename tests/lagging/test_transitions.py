"""Parity with pm4py: per-transition duration statistics on the BPI receipt log."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from visitonce.lagging.transitions import summarize_transitions

RECEIPT = Path(__file__).resolve().parents[3] / "shared" / "data" / "eventlogs" / "receipt.csv"


@pytest.mark.skipif(not RECEIPT.is_file(), reason=f"{RECEIPT} absent (shared real-data folder)")
def test_transition_statistics_match_pm4py_on_receipt(spark) -> None:
    pd = pytest.importorskip("pandas")
    pm4py = pytest.importorskip("pm4py")
    raw = pd.read_csv(RECEIPT)
    log = pm4py.format_dataframe(
        raw.copy(),
        case_id="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    dfg, _, _ = pm4py.discover_performance_dfg(log)

    frame = pd.DataFrame(
        {
            "case": raw["case:concept:name"],
            "activity": raw["concept:name"],
            "ts": pd.to_datetime(raw["time:timestamp"], utc=True, format="ISO8601"),
            "row": range(len(raw)),
        }
    )
    got = summarize_transitions(
        spark.createDataFrame(frame),
        case_col="case",
        activity_col="activity",
        timestamp_col="ts",
        order_col="row",
    ).collect()
    ours = {(r["source"], r["target"]): r for r in got}
    assert set(ours) == set(dfg)
    assert len(dfg) > 50
    for pair, stats in dfg.items():
        r = ours[pair]
        for ours_key, theirs_key in [
            ("mean", "mean"),
            ("median", "median"),
            ("min", "min"),
            ("max", "max"),
            ("sum", "sum"),
            ("stdev", "stdev"),
        ]:
            theirs = float(stats[theirs_key])
            mine = r[ours_key]
            if math.isnan(theirs):  # pandas' std of one value
                assert mine is None, (pair, ours_key)
            else:
                # Same pairs, same durations; sums may differ in the last bits (summation order).
                assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-6), (pair, ours_key)


def test_step_transitions_by_hand(spark) -> None:
    from pyspark.sql import types as T

    from visitonce.lagging.transitions import to_step_transitions

    schema = T.StructType(
        [
            T.StructField("application_id", T.StringType()),
            T.StructField("service_item", T.StringType()),
            T.StructField("department", T.StringType()),
            T.StructField("step", T.StringType()),
            T.StructField("prev_step", T.StringType()),
            T.StructField("step_index", T.IntegerType()),
            T.StructField("handoff_s", T.DoubleType()),
            T.StructField("processing_s", T.DoubleType()),
            T.StructField("handoff_work_s", T.DoubleType()),
            T.StructField("processing_work_s", T.DoubleType()),
            T.StructField("processing_censored", T.BooleanType()),
        ]
    )
    rows = [  # (app, step, index, handoff, processing, open); working time = half of wall time
        ("A1", "accept", 1, None, 100.0, False),
        ("A1", "review", 2, 50.0, 200.0, False),
        ("A1", "approve", 3, 0.0, 1000.0, False),
        ("A2", "accept", 1, None, 300.0, False),
        ("A2", "review", 2, 150.0, 400.0, True),
        ("B1", "accept", 1, None, 60.0, False),
    ]
    # the step facts' previous step within the application (step_index order)
    previous_steps = [
        rows[k - 1][1] if k and rows[k - 1][0] == r[0] else None for k, r in enumerate(rows)
    ]
    df = spark.createDataFrame(
        [
            (
                a,
                "B" if a == "B1" else "X",
                "D",
                s,
                prev,
                i,
                h,
                p,
                None if h is None else h / 2,
                p / 2,
                o,
            )
            for (a, s, i, h, p, o), prev in zip(rows, previous_steps, strict=True)
        ],
        schema,
    )
    got = {
        (r["service_item"], r["from_step"], r["to_step"]): r.asDict()
        for r in to_step_transitions(df).collect()
    }
    assert set(got) == {
        ("X", None, "accept"),
        ("X", "accept", "review"),
        ("X", "review", "approve"),
        ("B", None, "accept"),
    }
    first, review, approve = (
        got[("X", None, "accept")],
        got[("X", "accept", "review")],
        got[("X", "review", "approve")],
    )
    # accept: 100 and 300; review: 50 + 200 = 250 and 150 + 400 = 550 (open); approve: 1000.
    assert (first["n"], first["median_s"], first["total_s"]) == (2, 200.0, 400.0)
    assert (review["n"], review["n_censored"], review["total_s"]) == (2, 1, 800.0)
    assert review["median_s"] == 400.0 and review["p90_s"] == pytest.approx(250 + 0.9 * 300)
    assert review["median_work_s"] == 200.0 and review["total_work_s"] == 400.0
    assert approve["total_s"] == 1000.0 and approve["departments"] == ["D"]
    # shares of the item's 2,200 s, ranked by total time
    assert [approve["share_of_item"], review["share_of_item"], first["share_of_item"]] == [
        pytest.approx(1000 / 2200),
        pytest.approx(800 / 2200),
        pytest.approx(400 / 2200),
    ]
    assert (approve["rank_in_item"], review["rank_in_item"], first["rank_in_item"]) == (1, 2, 3)
    assert got[("B", None, "accept")]["share_of_item"] == 1.0
