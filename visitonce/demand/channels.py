"""Service hours and channels: which opening hours serve the most citizens per official, and
which online-capable items citizens still bring to the counter, by age band."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.demand.counter import HOUR, WEEKDAY

COUNTER_CHANNELS = ("counter", "self_service")
REMOTE_CHANNELS = ("online", "mobile")


def to_service_hours(plan: DataFrame, *, min_group: int) -> DataFrame:
    """Per ``center, weekday, hour`` of the staffing plan: ``citizens_per_official``
    (arrivals per hour over officials needed), its ``rank`` within the centre's day (1 = most),
    ``is_peak`` (one of the centre's two busiest hours over the week), ``edge`` (``opening`` /
    ``closing`` for the day's first and last hour with arrivals) and ``proposal``:

    - ``consider_extending``: an edge hour serving at least the day's median citizens per
      official (demand presses against the opening hours);
    - ``consider_closing``: an edge hour serving under half the median;
    - ``keep`` otherwise. Hours with fewer than ``min_group`` arrivals over the data are
      ``small_n`` and never proposed for closing on that evidence alone.
    """
    day = Window.partitionBy(C.CENTER, WEEKDAY)
    per = F.col("arrivals_per_hour") / F.greatest(F.col("officials_needed"), F.lit(1))
    weekly = plan.groupBy(C.CENTER, HOUR).agg(
        F.sum(F.col("arrivals_per_hour") * F.col("n_days")).alias("_week")
    )
    peak_rank = F.row_number().over(Window.partitionBy(C.CENTER).orderBy(F.desc("_week"), HOUR))
    peaks = weekly.withColumn("is_peak", peak_rank <= 2).drop("_week")
    big = F.when(~F.col("small_n"), F.col("citizens_per_official"))
    out = (
        plan.withColumn("citizens_per_official", per)
        .withColumn("n_arrivals", F.round(F.col("arrivals_per_hour") * F.col("n_days")))
        .withColumn("small_n", F.col("n_arrivals") < min_group)
        .withColumn("rank", F.rank().over(day.orderBy(F.desc("citizens_per_official"))))
        .withColumn("_median", F.median(big).over(day))
        .withColumn("_first", F.min(F.when(~F.col("small_n"), F.col(HOUR))).over(day))
        .withColumn("_last", F.max(F.when(~F.col("small_n"), F.col(HOUR))).over(day))
        .withColumn(
            "edge",
            F.when(F.col(HOUR) == F.col("_first"), "opening").when(
                F.col(HOUR) == F.col("_last"), "closing"
            ),
        )
        .join(peaks, [C.CENTER, HOUR], "left")
    )  # fmt: skip
    proposal = (
        F.when(F.col("edge").isNull() | F.col("small_n"), "keep")
        .when(F.col("citizens_per_official") >= F.col("_median"), "consider_extending")
        .when(F.col("citizens_per_official") < 0.5 * F.col("_median"), "consider_closing")
        .otherwise("keep")
    )
    return out.withColumn("proposal", proposal).drop("_median", "_first", "_last")


def to_digital_gap(contacts: DataFrame, catalog: DataFrame, *, min_group: int) -> DataFrame:
    """Per online-capable ``service_item`` x ``age_band`` (enterprises as ``enterprise``, no
    band as ``unknown``; ``all`` for the whole item): ``n_applications``, ``counter_share``
    (first contact at a counter or kiosk), ``remote_share`` (online or mobile),
    ``mostly_counter`` (counter share above one half: a take-up gap), ``relies_on_counter``
    (a band whose counter share is at least 1.5 times the item's: keep its counter while
    promoting the online route) and ``small_n``."""
    capable = catalog.where(F.col(C.ONLINE_CAPABLE)).select(C.SERVICE_ITEM)
    band = F.coalesce(
        F.col(C.AGE_BAND),
        F.when(F.col(C.CITIZEN_TYPE) == "enterprise", F.lit("enterprise")),
        F.lit("unknown"),
    )
    rows = contacts.join(capable, C.SERVICE_ITEM).withColumn(C.AGE_BAND, band)
    counter = F.col(C.CHANNEL).isin(*COUNTER_CHANNELS).cast("int")
    remote = F.col(C.CHANNEL).isin(*REMOTE_CHANNELS).cast("int")

    def shares(df: DataFrame) -> DataFrame:
        return df.agg(
            F.count(F.lit(1)).alias("n_applications"),
            F.avg(counter).alias("counter_share"),
            F.avg(remote).alias("remote_share"),
        )

    per_band = shares(rows.groupBy(C.SERVICE_ITEM, C.AGE_BAND))
    overall = shares(rows.groupBy(C.SERVICE_ITEM)).withColumn(C.AGE_BAND, F.lit("all"))
    item_share = overall.select(C.SERVICE_ITEM, F.col("counter_share").alias("_item"))
    out = per_band.unionByName(overall).join(item_share, C.SERVICE_ITEM)
    return (
        out.withColumn("mostly_counter", F.col("counter_share") > 0.5)
        .withColumn(
            "relies_on_counter",
            (F.col(C.AGE_BAND) != "all")
            & (F.col("counter_share") >= 1.5 * F.col("_item"))
            & (F.col("counter_share") > 0),
        )  # fmt: skip
        .withColumn("small_n", F.col("n_applications") < min_group)
        .drop("_item")
    )
