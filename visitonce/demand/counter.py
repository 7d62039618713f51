"""Counter arrivals in local time: the raw material of staffing, service hours and forecasts.

A counter arrival is a contact step served by an official: ``physical_visit`` true, ``center``
set, channel ``counter`` and a queue ticket (``arrived_at``). Kiosk steps (``self_service``)
have no official and are left out: they do not need desks.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.applications import iso_weekday

LOCAL_DATE = "local_date"
WEEKDAY = "weekday"  # ISO: Monday=1 ... Sunday=7
HOUR = "hour"


def local_parts(at: Column, time_zone: str) -> dict[str, Column]:
    """Local date, ISO weekday and hour of a UTC instant, in ``time_zone``."""
    local = F.from_utc_timestamp(at, time_zone)
    date = F.to_date(local)
    return {LOCAL_DATE: date, WEEKDAY: iso_weekday(date), HOUR: F.hour(local)}


def to_counter_arrivals(events: DataFrame, *, time_zone: str) -> DataFrame:
    """One row per counter arrival: ``center, local_date, weekday, hour`` (of ``arrived_at``),
    ``wait_s`` (started - arrived) and ``service_s`` (ended - started; null while open)."""
    rows = events.where(
        F.col(C.PHYSICAL_VISIT)
        & F.col(C.CENTER).isNotNull()
        & (F.col(C.CHANNEL) == "counter")
        & F.col(C.ARRIVED_AT).isNotNull()
        & F.col(C.STARTED_AT).isNotNull()
    )
    parts = local_parts(F.col(C.ARRIVED_AT), time_zone)
    return rows.select(
        C.CENTER,
        *[v.alias(k) for k, v in parts.items()],
        (F.unix_seconds(C.STARTED_AT) - F.unix_seconds(C.ARRIVED_AT))
        .cast("double")
        .alias("wait_s"),
        (F.unix_seconds(C.ENDED_AT) - F.unix_seconds(C.STARTED_AT))
        .cast("double")
        .alias("service_s"),
    )


def summarize_hours(arrivals: DataFrame, *, target_wait_s: float) -> DataFrame:
    """Per ``center, local_date, weekday, hour``: ``arrivals``, ``service_s_sum``,
    ``n_service``, ``wait_s_sum``, ``n_within_target`` (waits of at most ``target_wait_s``)."""
    return arrivals.groupBy(C.CENTER, LOCAL_DATE, WEEKDAY, HOUR).agg(
        F.count(F.lit(1)).alias("arrivals"),
        F.sum("service_s").alias("service_s_sum"),
        F.count("service_s").alias("n_service"),
        F.sum("wait_s").alias("wait_s_sum"),
        F.sum(F.when(F.col("wait_s") <= target_wait_s, 1).otherwise(0)).alias("n_within_target"),
    )


def open_days(hours: DataFrame) -> DataFrame:
    """Per ``center, weekday``: ``n_days``, the dates on which the centre had any counter
    arrival (an hour without arrivals on such a date counts as zero demand, not as closed)."""
    return hours.groupBy(C.CENTER, WEEKDAY).agg(F.countDistinct(LOCAL_DATE).alias("n_days"))
