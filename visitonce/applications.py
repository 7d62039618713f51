"""Applications: one row per case, derived from the clean events.

Physical visits are counted as trips: distinct local dates on which the case had an in-person
step (two counter steps on the same morning are one trip). A case's own due date (events
``due_at``, the earliest of its steps) takes precedence; otherwise the promised time limit is
working days of the configured calendar, counted from the day after the application.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.columns import OnTime
from visitonce.config import CalendarConfig


def iso_weekday(date: Column) -> Column:
    """ISO weekday of a date column: Monday=1 ... Sunday=7 (Spark's dayofweek is Sunday=1)."""
    return ((F.dayofweek(date) + 5) % 7) + 1


def is_working_day(date: Column, calendar: CalendarConfig) -> Column:
    """True on working days: not a weekend day unless a make-up day, and not a holiday."""
    weekend = (
        iso_weekday(date).isin(*calendar.weekend_days) if calendar.weekend_days else F.lit(False)
    )
    makeup = date.isin(*calendar.makeup_workdays) if calendar.makeup_workdays else F.lit(False)
    holiday = date.isin(*calendar.holidays) if calendar.holidays else F.lit(False)
    return (~weekend | makeup) & ~holiday


def add_working_days(start: Column, days: Column, calendar: CalendarConfig) -> Column:
    """The date ``days`` working days after ``start`` (``start`` itself for 0; null for null).

    Candidate dates are generated with a margin for long holiday runs, then the n-th working
    day is taken: built-in array functions only, so it runs in the JVM.
    """
    span = days * 2 + 40
    candidates = F.sequence(F.date_add(start, 1), F.date_add(start, span))
    working = F.filter(candidates, lambda d: is_working_day(d, calendar))
    return (
        F.when(days.isNull(), F.lit(None).cast("date"))
        .when(days <= 0, start)
        .otherwise(F.try_element_at(working, days))
    )


def to_applications(
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    calendar: CalendarConfig,
    time_zone: str,
    as_of: dt.datetime,
) -> DataFrame:
    """One row per application, as the applications contract.

    Needs clean events (contract columns). ``catalog`` (contract columns) gives the owning
    department and the promised time limit; without it the first step's department is used and
    on-time status is ``no_limit`` unless the events carry ``due_at``. ``as_of`` (aware
    datetime) decides whether an open case is already overdue.
    """
    if C.DUE_AT not in events.columns:  # events written before the column existed
        events = events.withColumn(C.DUE_AT, F.lit(None).cast("timestamp"))
    order = F.struct(*C.case_order(events.columns))
    local_date = F.to_date(F.from_utc_timestamp(C.STARTED_AT, time_zone))
    sat_order = F.when(F.col(C.SATISFACTION).isNotNull(), order)
    apps = events.groupBy(C.APPLICATION_ID).agg(
        F.min(C.CITIZEN_ID).alias(C.CITIZEN_ID),
        F.min(C.CITIZEN_TYPE).alias(C.CITIZEN_TYPE),
        F.min_by(C.SERVICE_ITEM, order).alias(C.SERVICE_ITEM),
        F.min_by(C.DEPARTMENT, order).alias("_first_department"),
        F.min(C.DISTRICT).alias(C.DISTRICT),
        F.min(C.AGE_BAND).alias(C.AGE_BAND),
        F.min(C.LOCATION).alias(C.LOCATION),
        F.min(F.least(C.ARRIVED_AT, C.STARTED_AT)).alias(C.APPLIED_AT),
        F.max(C.ENDED_AT).alias("_last_end"),
        F.min(C.DUE_AT).alias(C.DUE_AT),
        F.sum(F.col(C.ENDED_AT).isNull().cast("int")).alias("_open_steps"),
        F.count(F.lit(1)).cast("int").alias(C.N_STEPS),
        F.count_distinct(F.when(F.col(C.PHYSICAL_VISIT), local_date)).cast("int").alias(C.N_VISITS),
        F.array_sort(F.collect_set(C.CHANNEL)).alias(C.CHANNELS_USED),
        F.min_by(C.CHANNEL, order).alias(C.FIRST_CHANNEL),
        F.max_by(C.SATISFACTION, sat_order).alias(C.SATISFACTION),
    )
    apps = apps.withColumn(C.IS_OPEN, F.col("_open_steps") > 0).withColumn(
        C.COMPLETED_AT, F.when(~F.col(C.IS_OPEN), F.col("_last_end"))
    )
    apps = apps.withColumn(C.APPLIED_DATE, F.to_date(F.from_utc_timestamp(C.APPLIED_AT, time_zone)))
    if catalog is not None:
        cat = catalog.select(
            F.col(C.SERVICE_ITEM).alias("_item"),
            F.col(C.DEPARTMENT).alias("_cat_department"),
            F.col(C.TIME_LIMIT_DAYS).alias(C.TIME_LIMIT_DAYS),
        )
        apps = apps.join(F.broadcast(cat), apps[C.SERVICE_ITEM] == cat["_item"], "left").drop(
            "_item"
        )
    else:
        apps = apps.withColumn("_cat_department", F.lit(None).cast("string")).withColumn(
            C.TIME_LIMIT_DAYS, F.lit(None).cast("int")
        )
    apps = apps.withColumn(C.DEPARTMENT, F.coalesce("_cat_department", "_first_department"))
    due = F.col(C.DUE_AT)
    apps = apps.withColumn(
        C.DUE_DATE,
        F.when(due.isNotNull(), F.to_date(F.from_utc_timestamp(due, time_zone))).otherwise(
            add_working_days(F.col(C.APPLIED_DATE), F.col(C.TIME_LIMIT_DAYS), calendar)
        ),
    )
    as_of_ts = F.lit(as_of.astimezone(dt.timezone.utc).replace(tzinfo=None)).cast("timestamp")
    as_of_local = F.to_date(F.from_utc_timestamp(as_of_ts, time_zone))
    completed_local = F.to_date(F.from_utc_timestamp(C.COMPLETED_AT, time_zone))
    # A per-case due instant is compared as an instant; a catalog limit as a local date.
    done_in_time = F.when(due.isNotNull(), F.col(C.COMPLETED_AT) <= due).otherwise(
        completed_local <= F.col(C.DUE_DATE)
    )
    open_in_time = F.when(due.isNotNull(), as_of_ts <= due).otherwise(
        as_of_local <= F.col(C.DUE_DATE)
    )
    status = (
        F.when(F.col(C.DUE_DATE).isNull(), F.lit(OnTime.NO_LIMIT))
        .when(~F.col(C.IS_OPEN) & done_in_time, F.lit(OnTime.ON_TIME))
        .when(~F.col(C.IS_OPEN), F.lit(OnTime.LATE))
        .when(open_in_time, F.lit(OnTime.OPEN_WITHIN_LIMIT))
        .otherwise(F.lit(OnTime.OPEN_OVERDUE))
    )
    return apps.withColumn(C.ON_TIME_STATUS, status).drop(
        "_first_department", "_cat_department", "_last_end", "_open_steps"
    )
