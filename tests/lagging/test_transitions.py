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
