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


def to_step_transitions(steps: DataFrame) -> DataFrame:
    """Where each item's elapsed time goes: one row per service item and pair of consecutive
    steps ``(from_step, to_step)`` (``from_step`` null for the first step), as the
    step_transitions contract.

    Needs step facts at the run's as_of (``visitonce.facts.at_as_of``). A transition's duration
    is the time it adds to the case: the hand-off gap before ``to_step`` plus its processing
    (for completion-only logs, whose steps start when the previous one ended, this is exactly
    pm4py's directly-follows duration). Open steps count with their time so far and are
    counted in ``n_censored``. ``share_of_item`` is the transition's share of the total time of
    all the item's transitions: the slowest links of one process, even when no other item
    exists to compare it with.
    """
    added = F.coalesce(F.col("handoff_s"), F.lit(0.0)) + F.col("processing_s")
    added_work = F.coalesce(F.col("handoff_work_s"), F.lit(0.0)) + F.col("processing_work_s")
    pairs = steps.select(
        "service_item",
        F.col("prev_step").alias("from_step"),
        F.col("step").alias("to_step"),
        F.col("department"),
        added.alias("_d"),
        added_work.alias("_w"),
        F.col("processing_censored").alias("_open"),
    )
    out = pairs.groupBy("service_item", "from_step", "to_step").agg(
        F.count(F.lit(1)).alias("n"),
        F.array_sort(F.collect_set("department")).alias("departments"),
        F.sum(F.col("_open").cast("long")).alias("n_censored"),
        F.median("_d").alias("median_s"),
        F.percentile("_d", 0.9).alias("p90_s"),
        F.avg("_d").alias("mean_s"),
        F.sum("_d").alias("total_s"),
        F.median("_w").alias("median_work_s"),
        F.sum("_w").alias("total_work_s"),
    )
    item = Window.partitionBy("service_item")
    return out.withColumn(
        "share_of_item",
        F.when(F.sum("total_s").over(item) > 0, F.col("total_s") / F.sum("total_s").over(item)),
    ).withColumn(
        "rank_in_item",
        F.row_number().over(item.orderBy(F.desc("total_s"), "from_step", "to_step")).cast("int"),
    )
