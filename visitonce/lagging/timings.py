"""Step timings per application and step: waiting, processing, hand-off gap and response.

Every duration exists twice: calendar (wall-clock) seconds and working seconds on the
configured working calendar. A step still in progress is a *censored* observation: its
processing (and its application's response) runs to ``as_of`` and is marked censored, so it
enters statistics as a lower bound instead of being dropped.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.config import CalendarConfig
from visitonce.lagging.worktime import working_seconds

# Columns added by ``to_step_timings`` (the step_timings contract).
STEP_INDEX = "step_index"
PREV_DEPARTMENT = "prev_department"
WAITING_S = "waiting_s"
WAITING_WORK_S = "waiting_work_s"
PROCESSING_S = "processing_s"
PROCESSING_WORK_S = "processing_work_s"
PROCESSING_CENSORED = "processing_censored"
HANDOFF_S = "handoff_s"
HANDOFF_WORK_S = "handoff_work_s"
RESPONSE_S = "response_s"
RESPONSE_WORK_S = "response_work_s"
RESPONSE_CENSORED = "response_censored"
LOCAL_DATE = "local_date"
LOCAL_HOUR = "local_hour"
WEEKDAY = "weekday"  # ISO, Monday=1


def _seconds(a: Column, b: Column) -> Column:
    """b - a in seconds (double, microsecond precision); null if either is null."""
    return (F.unix_micros(b) - F.unix_micros(a)) / F.lit(1_000_000.0)


def to_step_timings(
    events: DataFrame,
    *,
    calendar: CalendarConfig,
    time_zone: str,
    as_of: dt.datetime,
    day_start: str = "08:30",
    day_end: str = "17:30",
) -> DataFrame:
    """One row per step with its durations.

    Needs the clean events' ``application_id, event_id, service_item, department, channel,
    center, step, physical_visit, arrived_at, started_at, ended_at`` (and ``source_file,
    source_row``, which order steps that start at the same instant as the log does). Keeps
    those and adds ``step_index`` (1-based, in ``columns.CASE_ORDER``), ``prev_department``,
    ``waiting_s/_work_s`` (arrived -> started; null without an arrival),
    ``processing_s/_work_s`` (started -> ended, or -> as_of when open) with
    ``processing_censored``, ``handoff_s/_work_s`` (previous step's end -> this start; null for
    a first step or when the previous step overlaps this one), ``response_s/_work_s``
    (application: first arrival or start -> last end, or -> as_of while open) with
    ``response_censored``, and the start's ``local_date``, ``local_hour``, ``weekday``.
    ``as_of`` (aware) must not be earlier than any timestamp.
    """
    as_of_ts = F.lit(as_of.astimezone(dt.timezone.utc).replace(tzinfo=None)).cast("timestamp")

    def work(a: Column, b: Column) -> Column:
        return working_seconds(
            a, b, calendar=calendar, time_zone=time_zone, day_start=day_start, day_end=day_end
        )

    keep = [
        C.APPLICATION_ID,
        C.EVENT_ID,
        C.SERVICE_ITEM,
        C.DEPARTMENT,
        C.CHANNEL,
        C.CENTER,
        C.STEP,
        C.PHYSICAL_VISIT,
        C.ARRIVED_AT,
        C.STARTED_AT,
        C.ENDED_AT,
    ]
    position = [c for c in (C.SOURCE_FILE, C.SOURCE_ROW) if c in events.columns]
    keep += position
    by_app = Window.partitionBy(C.APPLICATION_ID)
    ordered = by_app.orderBy(*C.case_order(keep))
    prev_end = F.lag(C.ENDED_AT).over(ordered)
    end_or_now = F.coalesce(F.col(C.ENDED_AT), as_of_ts)
    df = events.select(*keep).select(
        *keep,
        F.row_number().over(ordered).cast("int").alias(STEP_INDEX),
        F.lag(C.DEPARTMENT).over(ordered).alias(PREV_DEPARTMENT),
        prev_end.alias("_prev_end"),
        F.min(F.least(C.ARRIVED_AT, C.STARTED_AT)).over(by_app).alias("_applied"),
        F.max(C.ENDED_AT).over(by_app).alias("_last_end"),
        F.max(F.col(C.ENDED_AT).isNull().cast("int")).over(by_app).alias("_open"),
    )
    handoff_ok = F.col("_prev_end").isNotNull() & (F.col("_prev_end") <= F.col(C.STARTED_AT))
    resp_end = F.when(F.col("_open") == 1, as_of_ts).otherwise(F.col("_last_end"))
    local_start = F.from_utc_timestamp(C.STARTED_AT, time_zone)
    return (
        df.withColumn(WAITING_S, _seconds(F.col(C.ARRIVED_AT), F.col(C.STARTED_AT)))
        .withColumn(WAITING_WORK_S, work(F.col(C.ARRIVED_AT), F.col(C.STARTED_AT)))
        .withColumn(PROCESSING_S, _seconds(F.col(C.STARTED_AT), end_or_now))
        .withColumn(PROCESSING_WORK_S, work(F.col(C.STARTED_AT), end_or_now))
        .withColumn(PROCESSING_CENSORED, F.col(C.ENDED_AT).isNull())
        .withColumn(
            HANDOFF_S, F.when(handoff_ok, _seconds(F.col("_prev_end"), F.col(C.STARTED_AT)))
        )
        .withColumn(
            HANDOFF_WORK_S, F.when(handoff_ok, work(F.col("_prev_end"), F.col(C.STARTED_AT)))
        )
        .withColumn(RESPONSE_S, _seconds(F.col("_applied"), resp_end))
        .withColumn(RESPONSE_WORK_S, work(F.col("_applied"), resp_end))
        .withColumn(RESPONSE_CENSORED, F.col("_open") == 1)
        .withColumn(LOCAL_DATE, F.to_date(local_start))
        .withColumn(LOCAL_HOUR, F.hour(local_start))
        .withColumn(WEEKDAY, ((F.dayofweek(local_start) + 5) % 7) + 1)
        .drop("_prev_end", "_applied", "_last_end", "_open")
    )
