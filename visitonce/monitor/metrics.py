"""Windowed live metrics per centre x channel x department (built-in Spark functions only)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.facts import STEP_INDEX

WINDOW_START = "window_start"
WINDOW_END = "window_end"
LOCAL_DATE = "local_date"
SLOT = "slot"  # minutes after local midnight of the window start
DAYTYPE = "daytype"  # 0 weekday, 1 Saturday, 2 Sunday (of the local date)
METRIC = "metric"
VALUE = "value"
N = "n"
# Context columns kept with each window (not judged themselves).
ONLINE_CAPABLE_ARRIVALS = "online_capable_arrivals"
PROCESSING_MEAN = "processing_mean_min"
OFFICIALS = "officials_on_duty"
ARRIVALS_EXPECTED = "arrivals_expected"  # the slot's median arrivals (added by the stage)
SERIES = [C.CENTER, C.CHANNEL, C.DEPARTMENT]
METRICS = (
    "arrivals",
    "waiting_p50_min",
    "waiting_p90_min",
    "queue_estimate",
    "processing_p50_min",
    "satisfaction_mean",
)


def to_window_metrics(
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    time_zone: str,
    window_minutes: int,
    first_step: str | None = None,
) -> DataFrame:
    """One row per (window, centre, channel, department) with arrivals.

    Needs step facts (``visitonce.facts``; clean events also do). An arrival is a contact step (at
    its ``arrived_at``, else start) or the first step of a remote application (at its start).
    Columns: ``window_start, window_end`` (UTC instants), ``local_date, slot, daytype``, the series
    keys, the ``METRICS`` (waits, processing in minutes; ``queue_estimate`` by Little's law =
    arrivals x mean wait / window; waiting metrics only where ``n_waits`` > 0), ``n_waits``,
    ``n_rated``, ``processing_mean_min``, ``online_capable_arrivals`` and ``officials_on_duty``
    (roster desk of the department at the centre that day; null without one). ``first_step``: a
    boolean column saying which rows are their application's first step, for events that may not
    hold every step of an application (the watcher's recent events); else the first in case order.
    """
    w = window_minutes * 60
    desk = F.coalesce(F.col(C.PHYSICAL_VISIT), F.lit(False))
    if first_step:
        is_first = F.col(first_step)
    elif STEP_INDEX in events.columns:  # step facts
        is_first = F.col(STEP_INDEX) == 1
    else:  # hand-made events: their order, as the facts would give it
        is_first = (
            F.row_number().over(
                Window.partitionBy(C.APPLICATION_ID).orderBy(*C.case_order(events.columns))
            )
            == 1
        )
    df = events.withColumn("_first", is_first).where(desk | F.col("_first"))
    at = F.coalesce(F.col(C.ARRIVED_AT), F.col(C.STARTED_AT))
    local_s = F.unix_seconds(F.from_utc_timestamp(at, time_zone))
    start_local_s = F.floor(local_s / w) * w
    df = df.withColumn("_wl", start_local_s)
    wait_min = (F.unix_micros(C.STARTED_AT) - F.unix_micros(C.ARRIVED_AT)) / 60e6
    proc_min = F.when(desk, (F.unix_micros(C.ENDED_AT) - F.unix_micros(C.STARTED_AT)) / 60e6)
    if catalog is not None:
        cat = catalog.select(
            F.col(C.SERVICE_ITEM).alias("_item"), F.col(C.ONLINE_CAPABLE).alias("_online")
        )
        df = df.join(F.broadcast(cat), F.col(C.SERVICE_ITEM) == F.col("_item"), "left")
    else:
        df = df.withColumn("_online", F.lit(None).cast("boolean"))
    g = df.groupBy("_wl", *SERIES).agg(
        F.count(F.lit(1)).cast("double").alias("arrivals"),
        F.count(wait_min).alias("n_waits"),
        F.percentile_approx(wait_min, 0.5, 10_000).alias("waiting_p50_min"),
        F.percentile_approx(wait_min, 0.9, 10_000).alias("waiting_p90_min"),
        F.avg(wait_min).alias("_wait_mean"),
        F.percentile_approx(proc_min, 0.5, 10_000).alias("processing_p50_min"),
        F.avg(proc_min).alias(PROCESSING_MEAN),
        F.avg(C.SATISFACTION).alias("satisfaction_mean"),
        F.count(C.SATISFACTION).alias("n_rated"),
        F.sum(F.coalesce(F.col("_online"), F.lit(False)).cast("long")).alias(
            ONLINE_CAPABLE_ARRIVALS
        ),
    )
    local_start = F.timestamp_seconds(F.col("_wl"))
    g = (
        g.withColumn(WINDOW_START, F.to_utc_timestamp(local_start, time_zone))
        .withColumn(
            WINDOW_END, F.to_utc_timestamp(F.timestamp_seconds(F.col("_wl") + w), time_zone)
        )
        .withColumn(LOCAL_DATE, F.to_date(local_start))
        .withColumn(SLOT, ((F.col("_wl") % 86_400) / 60).cast("int"))
        .withColumn(
            DAYTYPE,
            F.when(F.dayofweek(LOCAL_DATE) == 7, 1)
            .when(F.dayofweek(LOCAL_DATE) == 1, 2)
            .otherwise(0),
        )
        .withColumn(
            "queue_estimate",
            F.when(F.col("n_waits") > 0, F.col("arrivals") * F.col("_wait_mean") / window_minutes),
        )
        .drop("_wl", "_wait_mean")
    )
    if roster is not None:
        r = roster.where(F.col(C.CENTER).isNotNull()).select(
            F.col(C.DATE).alias("_d"),
            F.col(C.DEPARTMENT).alias("_dep"),
            F.col(C.CENTER).alias("_c"),
            F.col(C.OFFICIALS_ON_DUTY).cast("double").alias(OFFICIALS),
        )
        on = (
            (F.col(LOCAL_DATE) == F.col("_d"))
            & (F.col(C.DEPARTMENT) == F.col("_dep"))
            & (F.col(C.CENTER) == F.col("_c"))
        )
        g = g.join(F.broadcast(r), on, "left").drop("_d", "_dep", "_c")
    else:
        g = g.withColumn(OFFICIALS, F.lit(None).cast("double"))
    return g


def to_metric_series(windows: DataFrame, *, time_zone: str, window_minutes: int) -> DataFrame:
    """Long format for detection: one row per (window, series, metric) with ``value`` and ``n``
    (observations behind it), plus the window's context columns; only windows with arrivals.

    The windows without arrivals are not rows here: ``detect.flag_anomalies`` fills arrivals
    with 0 in every window of a slot the series is active in on that day type, on every date of
    that day type, so an outage shows as a drop. Filled here, a sparse history of years was a
    grid of every slot on every date (four years of 50k events: 1.7M arrivals rows, 1.68M of
    them zeros, against 17k windows)."""
    keys = [LOCAL_DATE, SLOT, DAYTYPE, *SERIES]
    context = [ONLINE_CAPABLE_ARRIVALS, PROCESSING_MEAN, OFFICIALS, "arrivals"]
    n_of = {
        "waiting_p50_min": F.col("n_waits"),
        "waiting_p90_min": F.col("n_waits"),
        "queue_estimate": F.col("n_waits"),
        "processing_p50_min": F.col("arrivals"),
        "satisfaction_mean": F.col("n_rated"),
    }
    stacked = F.explode(
        F.array(
            *[
                F.struct(
                    F.lit(m).alias(METRIC),
                    F.col(m).cast("double").alias(VALUE),
                    n.cast("long").alias(N),
                )
                for m, n in n_of.items()
            ]
        )
    )
    long = windows.select(*keys, *context, stacked.alias("_s")).select(*keys, *context, "_s.*")
    long = long.where(F.col(VALUE).isNotNull())
    arrivals = windows.select(
        *keys,
        *context,
        F.lit("arrivals").alias(METRIC),
        F.col("arrivals").alias(VALUE),
        F.col("arrivals").cast("long").alias(N),
    )
    return with_window_bounds(
        long.unionByName(arrivals.select(*long.columns)),
        time_zone=time_zone,
        window_minutes=window_minutes,
    )


def with_window_bounds(df: DataFrame, *, time_zone: str, window_minutes: int) -> DataFrame:
    """Sets ``window_start, window_end`` (UTC) from ``local_date`` and ``slot`` where they are
    null (or absent)."""
    local_start = F.timestamp_seconds(
        F.unix_seconds(F.col(LOCAL_DATE).cast("timestamp")) + F.col(SLOT) * 60
    )
    start = F.to_utc_timestamp(local_start, time_zone)
    end = F.to_utc_timestamp(local_start + F.make_interval(mins=F.lit(window_minutes)), time_zone)
    if WINDOW_START in df.columns:
        start, end = F.coalesce(F.col(WINDOW_START), start), F.coalesce(F.col(WINDOW_END), end)
    return df.withColumn(WINDOW_START, start).withColumn(WINDOW_END, end)
