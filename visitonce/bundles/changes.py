"""Change tracking: this period's bundles against the previous period's."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

NEW, DROPPED, STRENGTHENED, WEAKENED, STEADY = (
    "new",
    "dropped",
    "strengthened",
    "weakened",
    "steady",
)
CHANGES = (NEW, DROPPED, STRENGTHENED, WEAKENED, STEADY)


def to_bundle_changes(
    current: DataFrame, previous: DataFrame, *, tolerance: float, period_end: dt.date
) -> DataFrame:
    """One row per bundle in either period: ``bundle_id, scope, segment, items, change,
    n_before, n_now, support_before, support_now, lift_before, lift_now, period_end_before,
    period_end``.

    Needs bundles-table columns (``bundle_id, scope, segment, items, n_transactions, support,
    lift, period_end``) in both. A bundle is the same bundle when scope, segment and items are
    equal. ``change``: ``new`` / ``dropped`` when only in one period; ``strengthened`` /
    ``weakened`` when its support moved by at least ``tolerance`` (relative) up / down;
    ``steady`` otherwise. ``period_end``: the current period's last date, on every row (also
    when the current period has no bundles and every row is ``dropped``).
    """
    cols = ["bundle_id", "scope", "segment", "items", "n_transactions", "support", "lift"]
    now = current.select(*cols, "period_end").alias("now")
    before = previous.select(*cols, F.col("period_end").alias("period_end_before")).alias("b")
    on = (
        (F.col("now.scope") == F.col("b.scope"))
        & F.col("now.segment").eqNullSafe(F.col("b.segment"))
        & (F.col("now.items") == F.col("b.items"))
    )
    joined = now.join(before, on, "full_outer")
    s_now, s_before = F.col("now.support"), F.col("b.support")
    change = (
        F.when(F.col("b.bundle_id").isNull(), F.lit(NEW))
        .when(F.col("now.bundle_id").isNull(), F.lit(DROPPED))
        .when(s_now >= s_before * (1 + tolerance), F.lit(STRENGTHENED))
        .when(s_now <= s_before * (1 - tolerance), F.lit(WEAKENED))
        .otherwise(F.lit(STEADY))
    )
    return joined.select(
        F.coalesce("now.bundle_id", "b.bundle_id").alias("bundle_id"),
        F.coalesce("now.scope", "b.scope").alias("scope"),
        F.coalesce("now.segment", "b.segment").alias("segment"),
        F.coalesce("now.items", "b.items").alias("items"),
        change.alias("change"),
        F.col("b.n_transactions").alias("n_before"),
        F.col("now.n_transactions").alias("n_now"),
        s_before.alias("support_before"),
        s_now.alias("support_now"),
        F.col("b.lift").alias("lift_before"),
        F.col("now.lift").alias("lift_now"),
        F.col("period_end_before"),
        F.lit(period_end).alias("period_end"),
    )
