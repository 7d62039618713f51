"""Reform priorities: service items ranked by volume x burden, with the citizens they affect.

Burden is the mean of the item's burden ratios to the city's per-application average, each
1.0 when the item is typical: physical visits per application, counter waiting per
application, elapsed days of completed applications, dissatisfaction (5 - mean rating) and
lagging steps flagged (1 + flagged, against the city's per-application average of the same).
A missing component (no ratings, no completed case) is left out of the mean, not counted as
typical. ``priority_score = n_applications x burden``. Small items are kept and ranked too
(``burden_rank`` surfaces a heavy item whatever its volume), and every item names the group
of citizens (age band, or enterprises) it reaches most.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.window import WindowSpec

from visitonce import columns as C

COMPONENTS = ("visits", "wait", "elapsed", "dissatisfaction", "lagging")


def _group() -> Column:
    return F.coalesce(
        F.col(C.AGE_BAND), F.when(F.col(C.CITIZEN_TYPE) == "enterprise", F.lit("enterprise"))
    )


def to_reform_priorities(
    applications: DataFrame,
    events: DataFrame,
    lagging_steps: DataFrame | None,
    *,
    min_group: int,
) -> DataFrame:
    """Per ``service_item``: volume, burden components and ratios, ``burden``,
    ``priority_score``, ``rank``, ``burden_rank``, ``share_of_citizens``,
    ``most_affected_group`` and ``group_share`` (share of that group's citizens who applied),
    ``small_n``. ``applications`` follows the applications contract; ``events`` gives the
    counter waits (started - arrived) of each application."""
    waits = (
        events.where(F.col(C.ARRIVED_AT).isNotNull() & F.col(C.STARTED_AT).isNotNull())
        .groupBy(C.APPLICATION_ID)
        .agg(F.sum(F.unix_seconds(C.STARTED_AT) - F.unix_seconds(C.ARRIVED_AT)).alias("_wait"))
    )
    apps = applications.join(waits, C.APPLICATION_ID, "left").withColumn(
        "_wait", F.coalesce(F.col("_wait"), F.lit(0)) / 60.0
    )
    elapsed = (F.unix_seconds(C.COMPLETED_AT) - F.unix_seconds(C.APPLIED_AT)) / 86_400.0
    if lagging_steps is not None:
        # lagging_steps v2 has a row per comparison (and per centre): count flagged steps once
        lag = (
            lagging_steps.where(F.col("flagged"))
            .select(C.SERVICE_ITEM, C.STEP, "kind")
            .distinct()
            .groupBy(C.SERVICE_ITEM)
            .agg(F.count(F.lit(1)).alias("n_lagging_steps"))
        )
    else:
        lag = None
    items = apps.groupBy(C.SERVICE_ITEM).agg(
        F.first(C.DEPARTMENT).alias(C.DEPARTMENT),
        F.count(F.lit(1)).alias("n_applications"),
        F.countDistinct(C.CITIZEN_ID).alias("n_citizens"),
        F.avg(C.N_VISITS).alias("visits_per_application"),
        F.avg("_wait").alias("mean_wait_min"),
        F.avg(F.when(~F.col(C.IS_OPEN), elapsed)).alias("mean_elapsed_days"),
        F.avg(C.SATISFACTION).alias("mean_satisfaction"),
    )
    if lag is not None:
        items = items.join(lag, C.SERVICE_ITEM, "left")
    else:
        items = items.withColumn("n_lagging_steps", F.lit(None).cast("long"))
    items = items.withColumn("n_lagging_steps", F.coalesce("n_lagging_steps", F.lit(0)))

    w = F.col("n_applications")
    city = Window.partitionBy()  # one small row per item: the city averages over applications

    def ratio(value: Column, name: str) -> Column:
        avg = F.try_divide(
            F.sum(value * w).over(city), F.sum(F.when(value.isNotNull(), w)).over(city)
        )
        return F.when(avg > 0, value / avg).alias(f"{name}_ratio")

    comps = {
        "visits": F.col("visits_per_application"),
        "wait": F.col("mean_wait_min"),
        "elapsed": F.col("mean_elapsed_days"),
        "dissatisfaction": 5.0 - F.col("mean_satisfaction"),
        "lagging": 1.0 + F.col("n_lagging_steps"),
    }
    items = items.select("*", *[ratio(v, k) for k, v in comps.items()])
    cols = [F.col(f"{k}_ratio") for k in COMPONENTS]
    present = sum(F.when(c.isNotNull(), 1).otherwise(0) for c in cols)
    total = sum(F.coalesce(c, F.lit(0.0)) for c in cols)
    # an item with no burden component measured has no burden (null), not a division by zero
    items = items.withColumn("burden", F.try_divide(total, present)).withColumn(
        "priority_score", F.col("n_applications") * F.col("burden")
    )

    # who the item reaches: share of all citizens, and of the group it reaches most
    cit = apps.where(F.col(C.CITIZEN_ID).isNotNull()).withColumn("_g", _group())
    n_all = cit.agg(F.countDistinct(C.CITIZEN_ID).alias("_all"))
    per_group = (
        cit.where(F.col("_g").isNotNull())
        .groupBy("_g")
        .agg(F.countDistinct(C.CITIZEN_ID).alias("_n_g"))
    )
    reach = (
        cit.where(F.col("_g").isNotNull())
        .groupBy(C.SERVICE_ITEM, "_g")
        .agg(F.countDistinct(C.CITIZEN_ID).alias("_n"))
        .join(per_group, "_g")
        .withColumn("_share", F.col("_n") / F.col("_n_g"))
        .groupBy(C.SERVICE_ITEM)
        .agg(F.max_by(F.struct("_g", "_share"), "_share").alias("_top"))
        .select(
            C.SERVICE_ITEM,
            F.col("_top._g").alias("most_affected_group"),
            F.col("_top._share").alias("group_share"),
        )
    )
    return (
        items.crossJoin(n_all)
        # anonymous logs (most 311 data) have no citizen IDs: the share is unknown, not 1/0
        .withColumn("share_of_citizens", F.try_divide(F.col("n_citizens"), F.col("_all")))
        .drop("_all")
        .join(reach, C.SERVICE_ITEM, "left")
        .withColumn("rank", _rank(city, "priority_score"))
        .withColumn("burden_rank", _rank(city, "burden"))
        .withColumn("small_n", F.col("n_applications") < min_group)
    )


def _rank(window: WindowSpec, by: str) -> Column:
    """1 for the highest ``by``; ties broken by the item code, so ranks are reproducible."""
    return F.row_number().over(window.orderBy(F.desc_nulls_last(by), C.SERVICE_ITEM))
