"""Change tracking on hand-built runs: new, dropped, strengthened, weakened, steady."""

from __future__ import annotations

import datetime as dt

from visitonce.bundles.changes import to_bundle_changes

SCHEMA = (
    "bundle_id string, scope string, segment string, items array<string>, "
    "n_transactions long, support double, lift double, period_end date"
)
MAR, APR = dt.date(2026, 3, 31), dt.date(2026, 4, 30)


def test_changes_between_two_periods(spark) -> None:
    before = spark.createDataFrame(
        [
            ("h", "citizen", None, ["A", "B"], 100, 0.10, 5.0, MAR),  # steady: 0.10 -> 0.11
            ("n", "citizen", None, ["C", "D"], 50, 0.05, 4.0, MAR),  # strengthened: -> 0.08
            ("w", "citizen", "age_band=75+", ["E", "F"], 40, 0.20, 9.0, MAR),  # weakened
            ("x", "place", None, ["P", "Q"], 12, 0.01, 3.0, MAR),  # dropped
            ("s", "citizen", "district=D01", ["A", "B"], 30, 0.3, 3.0, MAR),  # other segment
        ],
        SCHEMA,
    )
    now = spark.createDataFrame(
        [
            ("h", "citizen", None, ["A", "B"], 110, 0.11, 5.1, APR),
            ("n", "citizen", None, ["C", "D"], 80, 0.08, 4.2, APR),
            ("w", "citizen", "age_band=75+", ["E", "F"], 30, 0.15, 8.0, APR),
            ("y", "place", None, ["R", "S"], 15, 0.02, 4.0, APR),  # new
            ("s2", "citizen", "district=D02", ["A", "B"], 30, 0.3, 3.0, APR),  # new segment
        ],
        SCHEMA,
    )
    got = {
        r["bundle_id"]: (r["change"], r["period_end"], r["period_end_before"], r["n_before"])
        for r in to_bundle_changes(now, before, tolerance=0.2, period_end=APR).collect()
    }
    assert got == {
        "h": ("steady", APR, MAR, 100),
        "n": ("strengthened", APR, MAR, 50),
        "w": ("weakened", APR, MAR, 40),
        "x": ("dropped", APR, MAR, 12),
        "s": ("dropped", APR, MAR, 30),
        "y": ("new", APR, None, None),
        "s2": ("new", APR, None, None),
    }


def test_no_previous_period_makes_everything_new(spark) -> None:
    now = spark.createDataFrame([("h", "citizen", None, ["A", "B"], 1, 0.1, 2.0, APR)], SCHEMA)
    rows = to_bundle_changes(now, now.limit(0), tolerance=0.2, period_end=APR).collect()
    assert [(r["change"], r["support_now"], r["support_before"]) for r in rows] == [
        ("new", 0.1, None)
    ]


def test_a_period_without_bundles_drops_every_earlier_one_in_its_own_period(spark) -> None:
    before = spark.createDataFrame([("h", "citizen", None, ["A", "B"], 9, 0.1, 2.0, MAR)], SCHEMA)
    rows = to_bundle_changes(before.limit(0), before, tolerance=0.2, period_end=APR).collect()
    assert [(r["bundle_id"], r["change"], r["period_end"]) for r in rows] == [("h", "dropped", APR)]
