"""Per-transition duration statistics: the performance directly-follows graph of pm4py.

For each pair of directly following activities (a, b) within a case, ordered by timestamp,
the duration is b's timestamp minus a's; the statistics are pm4py's ``mean, median, max, min,
sum, stdev`` (sample standard deviation; null for a single observation) in seconds.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SOURCE = "source"
TARGET = "target"


def summarize_transitions(
    events: DataFrame,
    *,
    case_col: str,
    activity_col: str,
    timestamp_col: str,
    order_col: str | None = None,
) -> DataFrame:
    """One row per transition: ``source, target, count, mean, median, min, max, sum, stdev``.

    Needs the case, activity and timestamp columns; ``order_col`` breaks ties between equal
    timestamps (pm4py keeps the log's order for them: pass the row number).
    """
    order = [F.col(timestamp_col)] + ([F.col(order_col)] if order_col else [])
    w = Window.partitionBy(case_col).orderBy(*order)
    pairs = events.select(
        F.col(activity_col).alias(SOURCE),
        F.lead(activity_col).over(w).alias(TARGET),
        (
            (F.unix_micros(F.lead(timestamp_col).over(w)) - F.unix_micros(F.col(timestamp_col)))
            / F.lit(1_000_000.0)
        ).alias("_d"),
    ).where(F.col(TARGET).isNotNull())
    return pairs.groupBy(SOURCE, TARGET).agg(
        F.count(F.lit(1)).alias("count"),
        F.avg("_d").alias("mean"),
        F.median("_d").alias("median"),
        F.min("_d").alias("min"),
        F.max("_d").alias("max"),
        F.sum("_d").alias("sum"),
        F.stddev_samp("_d").alias("stdev"),
    )
