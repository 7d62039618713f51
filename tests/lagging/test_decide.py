"""``flags.decide`` on hand-made comparison rows: when a raw slowdown is called ``workload``."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from visitonce import columns as C
from visitonce.config import LaggingConfig
from visitonce.lagging import adjust as A
from visitonce.lagging.flags import COMPARISON, decide


def _row(name: str, *, n: int, above_raw: int, raw_s: float, adjusted_s: float) -> dict:
    """A back-office processing row judged against its own history of 1 hour (working time):
    ``n`` cases, ``above_raw`` of them above the expectation on their raw durations, medians
    ``raw_s`` (raw) and ``adjusted_s`` (workload-adjusted, half of them above)."""
    return {
        C.SERVICE_ITEM: name, C.STEP: "review", C.DEPARTMENT: "D1", A.KIND: "processing",
        A.SETTING: "back_office", A.PLACE: None, COMPARISON: "history", A.BASIS: "working",
        "n": n, "n_censored": 0, "med": math.log(adjusted_s), "raw_med": math.log(raw_s),
        "med_cal": math.log(raw_s), "q25": math.log(adjusted_s) - 0.3,
        "q75": math.log(adjusted_s) + 0.3, "expected_log": math.log(3600.0),
        "n_above": n // 2, "n_above_raw": above_raw, "n_reference": 200,
        "reference": "own history", "reference_message": None, C.COMPLEXITY: 2,
        C.TIME_LIMIT_DAYS: 5, A.BATCH: False,
    }  # fmt: skip


def test_a_raw_slowdown_is_workload_only_when_the_raw_sign_test_holds() -> None:
    # Both raw medians are 3x the expectation and 2 working hours above it (big and material);
    # the adjusted medians equal it. 22 of 23 above: p = 24 / 2^23 (significant); 15 of 23
    # above: p = 0.105 (the help desk's "Take in charge ticket"), not shown either way.
    rows = pd.DataFrame(
        [
            _row("SHOWN", n=23, above_raw=22, raw_s=3 * 3600.0, adjusted_s=3600.0),
            _row("CHANCE", n=23, above_raw=15, raw_s=3 * 3600.0, adjusted_s=3600.0),
        ]
    )
    out = decide(rows, LaggingConfig()).set_index(C.SERVICE_ITEM)
    assert out.loc["SHOWN", "status"] == "workload"
    assert out.loc["CHANCE", "status"] == "normal"
    assert not out["flagged"].any()
    assert out.loc["CHANCE", "raw_excess_ratio"] == pytest.approx(
        3.0
    )  # still reported beside the status
