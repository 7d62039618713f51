"""The null model's inputs on hand-built applications: baskets of distinct items (repeat
reports count once), item probabilities from basket presence, place strata by bands of
reports and of distinct items; and the expectation computed from them by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from visitonce.bundles.baskets import (
    EVERYONE,
    STRATUM_PREFIX,
    size_band,
    summarize_segments,
    to_baskets,
)
from visitonce.bundles.metrics import with_null_expectation
from visitonce.config import BundlesConfig, ConfigError

T0 = dt.datetime(2026, 3, 2, 9, 0)
SCHEMA = (
    "application_id string, citizen_id string, location string, service_item string, "
    "applied_at timestamp, n_visits int, channels array<string>, department string"
)


def _apps(spark, rows):
    """rows: (location, item, hour offset)."""
    data = [
        (f"A{i}", None, loc, item, T0 + dt.timedelta(hours=h), 0, ["hotline"], "d")
        for i, (loc, item, h) in enumerate(rows)
    ]
    return spark.createDataFrame(data, SCHEMA)


# L1: a building with 6 reports of H and one of P (one basket {H, P}, 7 reports);
# L2: H, P once each; L3: H and Q; L4: P alone, twice; L5: Q alone.
ROWS = [("L1", "H", h) for h in range(6)] + [
    ("L1", "P", 7),
    ("L2", "H", 0),
    ("L2", "P", 1),
    ("L3", "H", 0),
    ("L3", "Q", 2),
    ("L4", "P", 0),
    ("L4", "P", 3),
    ("L5", "Q", 0),
]


def test_size_band_labels(spark) -> None:
    df = spark.createDataFrame([(n,) for n in (1, 2, 3, 4, 5, 9, 10, 250)], "n int")
    got = [r[0] for r in df.select(size_band(F.col("n"), (1, 2, 3, 5, 10))).collect()]
    assert got == ["1", "2", "3-4", "3-4", "5-9", "5-9", "10+", "10+"]


def test_repeat_reports_are_one_presence_and_keep_the_distinct_size(spark) -> None:
    baskets = to_baskets(_apps(spark, ROWS), scope="place", window_days=3)
    got = {r["basket_id"].split(":")[1]: (r["n_apps"], r["n_items"]) for r in baskets.collect()}
    assert got == {"L1": (7, 2), "L2": (2, 2), "L3": (2, 2), "L4": (2, 1), "L5": (1, 1)}
    (seg,) = summarize_segments(baskets).collect()
    # slots = distinct items summed = 2 + 2 + 2 + 1 + 1; H is present in 3 baskets, P in 3, Q 2
    assert seg["n_baskets"] == 5 and seg["n_slots"] == 8
    assert dict(seg["item_p"]) == pytest.approx({"H": 3 / 8, "P": 3 / 8, "Q": 2 / 8})
    assert sorted((s["s"], s["h"]) for s in seg["sizes"]) == [(1, 2), (2, 3)]
    # By hand: E[{H,P}] = 3 baskets of 2 distinct items * P(both in 2 draws)
    #   = 3 * (1 - 2 (1 - 3/8)^2 + (1 - 6/8)^2) = 3 * 0.28125; per application (the old null)
    #   the 7-report building alone would have made {H, P} almost certain.
    cand = spark.createDataFrame([("place", "", ["H", "P"], 2)], "scope string, segment string, "
                                 "itemset array<string>, freq long")  # fmt: skip
    segs = summarize_segments(baskets).withColumn("segment", F.lit(EVERYONE))
    (r,) = with_null_expectation(
        cand, segments=segs, keys=["scope", "segment"], max_len=2
    ).collect()
    assert r["expected"] == pytest.approx(3 * (1 - 2 * (5 / 8) ** 2 + (2 / 8) ** 2))


def test_place_strata_are_bands_of_reports_and_of_distinct_items(spark) -> None:
    baskets = to_baskets(
        _apps(spark, ROWS), scope="place", window_days=3, size_bands=(1, 2, 5), item_bands=(1, 2)
    )
    got = {r["basket_id"].split(":")[1]: r["stratum"] for r in baskets.collect()}
    p = STRATUM_PREFIX
    assert got == {
        "L1": f"{p}reports=5+|items=2+",
        "L2": f"{p}reports=2-4|items=2+",
        "L3": f"{p}reports=2-4|items=2+",
        "L4": f"{p}reports=2-4|items=1",
        "L5": f"{p}reports=1|items=1",
    }
    strata = {r["stratum"]: r for r in summarize_segments(baskets).collect()}
    mid = strata[f"{p}reports=2-4|items=2+"]
    assert mid["n_baskets"] == 2 and dict(mid["item_p"]) == pytest.approx(
        {"H": 2 / 4, "P": 1 / 4, "Q": 1 / 4}
    )
    # the citizen scope keeps its own strata: no bands there
    cit = to_baskets(
        _apps(spark, ROWS).withColumn("citizen_id", F.col("location")),
        scope="citizen", window_days=3, size_bands=(1, 2), item_bands=(1, 2),
    )  # fmt: skip
    assert {r["stratum"] for r in cit.collect()} == {EVERYONE}


def test_band_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="place_size_bands"):
        BundlesConfig(place_size_bands=(2, 5))
    with pytest.raises(ConfigError, match="place_item_bands"):
        BundlesConfig(place_item_bands=(1, 3, 2))
    assert BundlesConfig(place_size_bands=(), place_item_bands=()).place_size_bands == ()
