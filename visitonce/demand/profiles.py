"""Demand profiles: applications per item, centre, channel, district, weekday and hour, this
period against the previous one.

An application counts once, where and when the citizen first came: the earliest step (by
``arrived_at``, else ``started_at``) gives its channel, centre (null for remote channels),
local weekday and hour. The current period is the last ``period_days`` local dates up to
``last``; the previous period the ``period_days`` before it.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.demand.counter import HOUR, LOCAL_DATE, WEEKDAY, local_parts

DIMENSIONS = (C.SERVICE_ITEM, C.CENTER, C.CHANNEL, C.DISTRICT, WEEKDAY, HOUR)


def to_first_contacts(events: DataFrame, *, time_zone: str) -> DataFrame:
    """One row per application: its first step's ``service_item, center, channel, district``,
    ``citizen_id, citizen_type, age_band`` and ``local_date, weekday, hour``."""
    at = F.coalesce(F.col(C.ARRIVED_AT), F.col(C.STARTED_AT))
    keep = (C.SERVICE_ITEM, C.CENTER, C.CHANNEL, C.DISTRICT, C.CITIZEN_ID, C.CITIZEN_TYPE)
    first = events.groupBy(C.APPLICATION_ID).agg(
        F.min_by(F.struct(*keep, C.AGE_BAND, at.alias("_at")), at).alias("_f")
    )
    rows = first.select(C.APPLICATION_ID, "_f.*")
    parts = local_parts(F.col("_at"), time_zone)
    return rows.select(
        *[c for c in rows.columns if c != "_at"], *[v.alias(k) for k, v in parts.items()]
    )


def to_demand(contacts: DataFrame, *, last: dt.date, period_days: int, min_group: int) -> DataFrame:
    """Per ``service_item, center, channel, district, weekday, hour`` seen in either period:
    ``volume`` (current period), ``previous_volume``, ``trend`` ((volume - previous) /
    previous; null without a previous volume), ``period_start``, ``period_end`` and ``small_n``
    (fewer than ``min_group`` applications in the two periods together: read with care)."""
    start = last - dt.timedelta(days=period_days - 1)
    prev_start = start - dt.timedelta(days=period_days)
    d = F.col(LOCAL_DATE)
    tagged = contacts.where((d >= F.lit(prev_start)) & (d <= F.lit(last)))
    current = F.when(d >= F.lit(start), 1).otherwise(0)
    out = tagged.groupBy(*DIMENSIONS).agg(
        F.sum(current).alias("volume"), F.sum(1 - current).alias("previous_volume")
    )
    return (
        out.withColumn(
            "trend",
            F.when(
                F.col("previous_volume") > 0,
                (F.col("volume") - F.col("previous_volume")) / F.col("previous_volume"),
            ),
        )
        .withColumn("period_start", F.lit(start))
        .withColumn("period_end", F.lit(last))
        .withColumn("small_n", (F.col("volume") + F.col("previous_volume")) < min_group)
    )
