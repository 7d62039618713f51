"""Step facts: every clean event with its place in the application and its durations.

One shuffle by application (a window in ``columns.CASE_ORDER``) gives each step its index, the
previous step's department, and its waiting, processing, hand-off and response durations, in
calendar seconds and in working seconds on the configured calendar. Every analytic stage reads
these facts; none rebuilds the per-application step order (DESIGN.md section 2).

The facts do not depend on the run's ``as_of``: a step still in progress has
``processing_censored`` and a null processing time, an open application ``response_censored``
and a null response time. ``at_as_of`` fills those in as lower bounds (to ``as_of``) for the
statistics that use them, so the same facts serve any later run.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from zoneinfo import ZoneInfo

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.config import CalendarConfig
from visitonce.worktime import working_seconds

# Columns added by ``to_step_facts`` (the step_facts contract, beside the events columns).
STEP_INDEX = "step_index"
PREV_DEPARTMENT = "prev_department"
PREV_STEP = "prev_step"
APPLIED_AT = C.APPLIED_AT  # the application's first arrival or start (response starts there)
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

ADDED = (
    STEP_INDEX,
    PREV_DEPARTMENT,
    PREV_STEP,
    APPLIED_AT,
    WAITING_S,
    WAITING_WORK_S,
    PROCESSING_S,
    PROCESSING_WORK_S,
    PROCESSING_CENSORED,
    HANDOFF_S,
    HANDOFF_WORK_S,
    RESPONSE_S,
    RESPONSE_WORK_S,
    RESPONSE_CENSORED,
    LOCAL_DATE,
    LOCAL_HOUR,
    WEEKDAY,
)


def _seconds(a: Column, b: Column) -> Column:
    """b - a in seconds (double, microsecond precision); null if either is null."""
    return (F.unix_micros(b) - F.unix_micros(a)) / F.lit(1_000_000.0)


def _as_of_ts(as_of: dt.datetime) -> Column:
    return F.lit(as_of.astimezone(dt.timezone.utc).replace(tzinfo=None)).cast("timestamp")


def _working_time(
    calendar: CalendarConfig, time_zone: str, day_start: str, day_end: str
) -> Callable[[Column, Column], Column]:
    """``working_seconds`` between two columns on this calendar and working day."""
    return functools.partial(
        working_seconds,
        calendar=calendar,
        time_zone=time_zone,
        day_start=day_start,
        day_end=day_end,
    )


def to_step_facts(
    events: DataFrame,
    *,
    calendar: CalendarConfig,
    time_zone: str,
    day_start: str = "08:30",
    day_end: str = "17:30",
) -> DataFrame:
    """One row per step: the clean events' columns and the step's place and durations.

    Needs the events' ``application_id, department, arrived_at, started_at, ended_at`` (the events
    contract; ``source_file, source_row`` order steps that start at the same instant as the log
    does). Keeps every input column and adds ``step_index`` (1-based, in ``columns.CASE_ORDER``),
    ``prev_department``, ``prev_step``, ``applied_at`` (the application's first arrival or start),
    ``waiting_s/_work_s`` (arrived -> started; null without an arrival), ``processing_s/_work_s``
    (started -> ended; null while the step is open, which ``processing_censored`` says),
    ``handoff_s/_work_s`` (previous step's end -> this start; null for a first step or when the
    previous step overlaps this one), ``response_s/_work_s`` (application: applied -> last end; null
    while any step is open, ``response_censored``), and the start's ``local_date``, ``local_hour``,
    ``weekday``. Working seconds count the ``day_start``-``day_end`` hours of the calendar's working
    days.
    """

    work = _working_time(calendar, time_zone, day_start, day_end)
    cols = [c for c in events.columns if c not in ADDED]
    by_app = Window.partitionBy(C.APPLICATION_ID)
    ordered = by_app.orderBy(*C.case_order(cols))
    df = events.select(
        *cols,
        F.row_number().over(ordered).cast("int").alias(STEP_INDEX),
        F.lag(C.DEPARTMENT).over(ordered).alias(PREV_DEPARTMENT),
        F.lag(C.STEP).over(ordered).alias(PREV_STEP),
        F.lag(C.ENDED_AT).over(ordered).alias("_prev_end"),
        F.min(F.least(C.ARRIVED_AT, C.STARTED_AT)).over(by_app).alias(APPLIED_AT),
        F.max(C.ENDED_AT).over(by_app).alias("_last_end"),
        F.max(F.col(C.ENDED_AT).isNull().cast("int")).over(by_app).alias("_open"),
    )
    handoff_ok = F.col("_prev_end").isNotNull() & (F.col("_prev_end") <= F.col(C.STARTED_AT))
    app_open = F.col("_open") == 1
    resp_end = F.when(~app_open, F.col("_last_end"))
    local_start = F.from_utc_timestamp(C.STARTED_AT, time_zone)
    return df.select(
        *cols,
        STEP_INDEX,
        PREV_DEPARTMENT,
        PREV_STEP,
        APPLIED_AT,
        _seconds(F.col(C.ARRIVED_AT), F.col(C.STARTED_AT)).alias(WAITING_S),
        work(F.col(C.ARRIVED_AT), F.col(C.STARTED_AT)).alias(WAITING_WORK_S),
        _seconds(F.col(C.STARTED_AT), F.col(C.ENDED_AT)).alias(PROCESSING_S),
        work(F.col(C.STARTED_AT), F.col(C.ENDED_AT)).alias(PROCESSING_WORK_S),
        F.col(C.ENDED_AT).isNull().alias(PROCESSING_CENSORED),
        F.when(handoff_ok, _seconds(F.col("_prev_end"), F.col(C.STARTED_AT))).alias(HANDOFF_S),
        F.when(handoff_ok, work(F.col("_prev_end"), F.col(C.STARTED_AT))).alias(HANDOFF_WORK_S),
        _seconds(F.col(APPLIED_AT), resp_end).alias(RESPONSE_S),
        work(F.col(APPLIED_AT), resp_end).alias(RESPONSE_WORK_S),
        app_open.alias(RESPONSE_CENSORED),
        F.to_date(local_start).alias(LOCAL_DATE),
        *local_clock(local_start),
    )


def local_clock(local: Column) -> list[Column]:
    """ISO weekday (Monday = 1) and hour of a local timestamp, as ``weekday`` and
    ``local_hour``: the one definition of the clock covariates (step facts, lagging)."""
    return [F.hour(local).alias(LOCAL_HOUR), (((F.dayofweek(local) + 5) % 7) + 1).alias(WEEKDAY)]


def at_as_of(
    facts: DataFrame,
    *,
    as_of: dt.datetime,
    calendar: CalendarConfig,
    time_zone: str,
    day_start: str = "08:30",
    day_end: str = "17:30",
) -> DataFrame:
    """The facts with open steps' processing and open applications' response run to ``as_of``
    (aware): lower bounds, still marked censored. ``as_of`` must not be earlier than any
    timestamp. Closed steps keep their values."""
    now = _as_of_ts(as_of)
    work = _working_time(calendar, time_zone, day_start, day_end)

    started, applied = F.col(C.STARTED_AT), F.col(APPLIED_AT)
    fill = {
        PROCESSING_S: (PROCESSING_CENSORED, _seconds(started, now)),
        PROCESSING_WORK_S: (PROCESSING_CENSORED, work(started, now)),
        RESPONSE_S: (RESPONSE_CENSORED, _seconds(applied, now)),
        RESPONSE_WORK_S: (RESPONSE_CENSORED, work(applied, now)),
    }
    return facts.withColumns(
        {c: F.when(F.col(flag), value).otherwise(F.col(c)) for c, (flag, value) in fill.items()}
    )


def alive_since(facts: DataFrame, day: dt.date, *, time_zone: str) -> DataFrame:
    """The facts of the applications still alive at local midnight of ``day`` (open, or ended
    then or later): every application with a step on ``day`` or after, whole (so its number of
    steps, and every unit's volume on those days, are as in all the facts), and the few that only
    overlap it. A row-level filter: no shuffle."""
    since = dt.datetime.combine(day, dt.time(), ZoneInfo(time_zone))
    last_end_us = F.unix_micros(F.col(APPLIED_AT)) + (F.col(RESPONSE_S) * 1_000_000).cast("long")
    alive = F.col(RESPONSE_CENSORED) | (last_end_us >= F.unix_micros(_as_of_ts(since)))
    return facts.where(F.coalesce(alive, F.lit(True)))
