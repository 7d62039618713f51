"""Workload covariates and the within-item-step workload adjustment.

``to_observations`` turns step timings into one row per (step, kind) observation with its log
duration and workload covariates; ``with_adjusted_durations`` estimates workload effects
*within* item-steps (item fixed effects, pooled over the items of one step name and kind) and
removes them, so an item's own slowness cannot be learned as a workload effect. Method:
docs/methodology-lagging.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visitonce import columns as C
from visitonce import facts as TM
from visitonce.config import CalendarConfig
from visitonce.worktime import working_seconds

KIND = "kind"
BASIS = "basis"  # "working" (working seconds on the calendar) or "calendar" (wall clock)
Y = "y"  # log of the duration in seconds (durations below 1 s count as 1 s), in ``basis``
Y_WORK = "y_work"  # log working seconds (wall clock where work does not follow the calendar)
Y_CAL = "y_cal"  # log calendar seconds
OFF_HOURS = "off_hours"  # the step starts or ends outside working time
PLACE = "place"  # the centre of a desk step (null in back offices)
END_MINUTE = "end_minute"  # local minute of the day a processing step ended (null elsewhere)
BATCH = "batch_stamped"  # the item-step's ends are stamped at one minute of the day (a batch)
BATCH_MIN_ENDS = 10  # fewer ended steps than this: too few to call an item-step batch-stamped
Y_ADJ = "y_adj"
CENSORED = "censored"
LOG_LOAD = "log_load"
LOG_HOUR_VOLUME = "log_hour_volume"
LOG_N_STEPS = "log_n_steps"
PHYSICAL = "physical"
CROSS_DEPT = "cross_dept"
SAME_DAY = "same_day"
BETA_LOAD = "beta_load"
SETTING = "setting"  # "desk" (in person, at a centre) or "back_office"
KINDS = ("processing", "waiting", "handoff")
DELIVERY_STEPS = ("deliver",)
GROUP_KEYS = [C.SERVICE_ITEM, C.STEP, C.DEPARTMENT, KIND, SETTING]
# Workload covariates are adjusted to the step's city-wide mean ("at typical workload");
# structural ones (the item's own mix of step counts and cross-department hand-offs) only to the
# item-step's own mean: between items they are the peer model's business, and extrapolating a
# within-item slope across items would move whole items.
WORKLOAD_COVARIATES = [LOG_LOAD, LOG_HOUR_VOLUME]
STRUCTURAL_COVARIATES = [LOG_N_STEPS, CROSS_DEPT]
COVARIATES = WORKLOAD_COVARIATES + STRUCTURAL_COVARIATES
_N_STRUCTURAL = len(STRUCTURAL_COVARIATES)


def _workload(timings: DataFrame, roster: DataFrame | None) -> DataFrame:
    """Adds ``log_load``: the step's unit volume that day per official on duty (log).

    A contact step's unit is its department's desk at its centre, a back-office step's the
    department's back office (roster rows without a centre). Without a roster (or a row for that
    date) the unit's median staffing is used, and without any roster the volume alone.
    """
    desk = F.coalesce(F.col(C.PHYSICAL_VISIT), F.lit(False))
    unit_center = F.when(desk, F.col(C.CENTER))
    df = timings.withColumn("_unit_center", unit_center)
    unit = [C.DEPARTMENT, "_unit_center", TM.LOCAL_DATE]
    df = df.withColumn(
        "_volume", F.count(F.lit(1)).over(Window.partitionBy(*[F.col(c) for c in unit]))
    )
    if roster is None:
        return df.withColumn(LOG_LOAD, F.log(F.col("_volume").cast("double"))).drop("_volume")
    r = roster.select(
        F.col(C.DEPARTMENT).alias("_r_dept"),
        F.col(C.CENTER).alias("_r_center"),
        F.col(C.DATE).alias("_r_date"),
        F.col(C.OFFICIALS_ON_DUTY).cast("double").alias("_officials"),
    ).where(F.col("_officials") > 0)
    typical = r.groupBy("_r_dept", "_r_center").agg(F.median("_officials").alias("_typical"))
    on_day = (
        (F.col(C.DEPARTMENT) == F.col("_r_dept"))
        & F.col("_unit_center").eqNullSafe(F.col("_r_center"))
        & (F.col(TM.LOCAL_DATE) == F.col("_r_date"))
    )
    df = df.join(F.broadcast(r), on_day, "left").drop("_r_dept", "_r_center", "_r_date")
    on_unit = (F.col(C.DEPARTMENT) == F.col("_r_dept")) & F.col("_unit_center").eqNullSafe(
        F.col("_r_center")
    )
    df = df.join(F.broadcast(typical), on_unit, "left").drop("_r_dept", "_r_center")
    officials = F.coalesce(F.col("_officials"), F.col("_typical"), F.lit(1.0))
    return df.withColumn(LOG_LOAD, F.log(F.col("_volume") / officials)).drop(
        "_volume", "_officials", "_typical"
    )


def to_observations(
    timings: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    calendar: CalendarConfig | None = None,
    time_zone: str = "UTC",
    day_start: str = "08:30",
    day_end: str = "17:30",
) -> DataFrame:
    """One row per observed duration: keys ``service_item, step, department, kind, setting``
    (desk or back_office), ``basis``, ``y`` (log seconds in that basis), ``y_work``, ``y_cal``,
    ``off_hours``, ``censored``, covariates ``log_load, log_hour_volume, log_n_steps,
    physical, cross_dept, weekday, local_hour``, the catalog's ``complexity, same_day,
    time_limit_days``, and ``local_date``, ``place``.

    Needs step facts (``visitonce.facts``) at the run's as_of (``facts.at_as_of``). Kinds:
    ``processing`` (working time for back-office steps, wall clock at desks), ``waiting`` (wall
    clock, steps with an arrival), ``handoff`` (working time, back-office steps after another step).
    ``basis`` here is the default per row; ``with_basis`` decides it per item-step. ``off_hours``
    needs ``calendar`` (else false).
    """
    df = _workload(timings, roster)
    if calendar is not None:

        def outside(ts: str) -> F.Column:
            a = F.col(ts) - F.expr("INTERVAL 1 SECOND")
            b = F.col(ts) + F.expr("INTERVAL 1 SECOND")
            w = working_seconds(
                a, b, calendar=calendar, time_zone=time_zone, day_start=day_start, day_end=day_end
            )
            return F.coalesce(w <= 0, F.lit(False))

        df = df.withColumn("_off_start", outside(C.STARTED_AT)).withColumn(
            "_off_end", outside(C.ENDED_AT)
        )
    else:
        df = df.withColumn("_off_start", F.lit(False)).withColumn("_off_end", F.lit(False))
    desk = F.coalesce(F.col(C.PHYSICAL_VISIT), F.lit(False))
    hour_unit = Window.partitionBy(F.col("_unit_center"), TM.LOCAL_DATE, TM.LOCAL_HOUR)
    df = df.withColumn(
        LOG_HOUR_VOLUME,
        F.when(desk, F.log(F.count(F.lit(1)).over(hour_unit).cast("double"))).otherwise(0.0),
    )
    df = (
        # The number of steps is known only once the application is closed: an open one has not
        # had its later steps yet, and it is open because it is slow (null here, the item-step's
        # mean in the fit).
        df.withColumn(
            LOG_N_STEPS,
            F.when(
                ~F.col(TM.RESPONSE_CENSORED),
                F.log(F.count(F.lit(1)).over(Window.partitionBy(C.APPLICATION_ID)).cast("double")),
            ),
        )
        .withColumn(PHYSICAL, desk.cast("double"))
        .withColumn(
            CROSS_DEPT,
            F.coalesce(F.col(TM.PREV_DEPARTMENT) != F.col(C.DEPARTMENT), F.lit(False)).cast(
                "double"
            ),
        )
    )
    if catalog is not None:
        cat = catalog.select(
            F.col(C.SERVICE_ITEM).alias("_item"),
            F.col(C.COMPLEXITY).cast("double").alias(C.COMPLEXITY),
            (F.col(C.TIME_LIMIT_DAYS) == 0).alias(SAME_DAY),
            F.col(C.TIME_LIMIT_DAYS).cast("double").alias(C.TIME_LIMIT_DAYS),
        )
        df = df.join(F.broadcast(cat), F.col(C.SERVICE_ITEM) == F.col("_item"), "left").drop(
            "_item"
        )
    else:
        df = (
            df.withColumn(C.COMPLEXITY, F.lit(None).cast("double"))
            .withColumn(SAME_DAY, F.lit(None).cast("boolean"))
            .withColumn(C.TIME_LIMIT_DAYS, F.lit(None).cast("double"))
        )
    # A delivery by post: its "processing" is the courier's transit, a setting of its own.
    courier = (F.col(C.CHANNEL) == "mail") & F.col(C.STEP).isin(*DELIVERY_STEPS)
    common = [
        C.SERVICE_ITEM,
        C.STEP,
        C.DEPARTMENT,
        LOG_LOAD,
        LOG_HOUR_VOLUME,
        PHYSICAL,
        CROSS_DEPT,
        C.COMPLEXITY,
        SAME_DAY,
        F.when(desk, F.lit("desk"))
        .when(courier, F.lit("mail"))
        .otherwise(F.lit("back_office"))
        .alias(SETTING),
        LOG_N_STEPS,
        C.TIME_LIMIT_DAYS,
        TM.LOCAL_DATE,
        F.when(desk, F.col(C.CENTER)).alias(PLACE),
    ]

    def log_s(c: str) -> F.Column:
        return F.log(F.greatest(F.col(c), F.lit(1.0)))

    def clock(begins: F.Column) -> list[F.Column]:
        """Weekday and hour where the duration begins, local. Not at the step's start: that is
        where a wait or a hand-off *ends*, so its hour would partly measure the duration (a long
        hand-off from a nightly stamp starts the next step late in the day)."""
        return TM.local_clock(F.from_utc_timestamp(begins, time_zone))

    # Wall clock where work does not follow the office calendar: desks (the citizen is there),
    # couriers, and same-day items (done while the citizen waits, or automated).
    wall = desk | courier | F.coalesce(F.col(SAME_DAY), F.lit(False))
    proc_work = F.when(wall, log_s(TM.PROCESSING_S)).otherwise(log_s(TM.PROCESSING_WORK_S))
    local_end = F.from_utc_timestamp(C.ENDED_AT, time_zone)
    processing = df.select(
        *common,
        F.col(TM.WEEKDAY),
        F.col(TM.LOCAL_HOUR),
        (F.hour(local_end) * 60 + F.minute(local_end)).alias(END_MINUTE),
        F.lit("processing").alias(KIND),
        F.when(wall, F.lit("calendar")).otherwise(F.lit("working")).alias(BASIS),
        proc_work.alias(Y),
        proc_work.alias(Y_WORK),
        log_s(TM.PROCESSING_S).alias(Y_CAL),
        (~wall & (F.col("_off_start") | F.col("_off_end"))).alias(OFF_HOURS),
        F.col(TM.PROCESSING_CENSORED).alias(CENSORED),
    )
    waiting = df.where(F.col(TM.WAITING_S).isNotNull()).select(
        *common,
        *clock(F.col(C.ARRIVED_AT)),
        F.lit(None).cast("int").alias(END_MINUTE),
        F.lit("waiting").alias(KIND),
        F.lit("calendar").alias(BASIS),
        log_s(TM.WAITING_S).alias(Y),
        log_s(TM.WAITING_S).alias(Y_WORK),
        log_s(TM.WAITING_S).alias(Y_CAL),
        F.lit(False).alias(OFF_HOURS),
        F.lit(False).alias(CENSORED),
    )
    same_day = F.coalesce(F.col(SAME_DAY), F.lit(False))
    hand_work = F.when(same_day, log_s(TM.HANDOFF_S)).otherwise(log_s(TM.HANDOFF_WORK_S))
    handoff = df.where(F.col(TM.HANDOFF_WORK_S).isNotNull() & ~desk).select(
        *common,
        *clock(F.timestamp_seconds(F.unix_micros(C.STARTED_AT) / 1e6 - F.col(TM.HANDOFF_S))),
        F.lit(None).cast("int").alias(END_MINUTE),
        F.lit("handoff").alias(KIND),
        F.when(same_day, F.lit("calendar")).otherwise(F.lit("working")).alias(BASIS),
        hand_work.alias(Y),
        hand_work.alias(Y_WORK),
        log_s(TM.HANDOFF_S).alias(Y_CAL),
        (~same_day & F.col("_off_start")).alias(OFF_HOURS),
        F.lit(False).alias(CENSORED),
    )
    return processing.unionByName(waiting).unionByName(handoff)


def with_basis(
    observations: DataFrame, *, off_hours_share: float, min_s: float, batch_share: float
) -> DataFrame:
    """Chooses the measurement basis per item-step and sets ``y`` to it.

    A working-time item-step is measured in calendar time instead when more than
    ``off_hours_share`` of its steps start or end outside working hours (work done round the
    clock, or stamped by a nightly batch), or when its working-time median is under ``min_s``
    while its calendar median is an hour or more (the working clock has collapsed). Adds
    ``basis_fallback`` (true where the calendar replaced the working clock) and
    ``batch_stamped``: more than ``batch_share`` of the item-step's processing ends (at least
    ``BATCH_MIN_ENDS`` of them) fall on one minute of the day (a system that records its steps
    in a nightly batch, or dates without a time), so its durations are known to the day only.
    """
    ends = observations.where(F.col(END_MINUTE).isNotNull())
    batch = (
        ends.groupBy(*GROUP_KEYS, END_MINUTE)
        .count()
        .groupBy(*GROUP_KEYS)
        .agg(
            (
                (F.sum("count") >= BATCH_MIN_ENDS) & (F.max("count") / F.sum("count") > batch_share)
            ).alias(BATCH)
        )
    )
    g = observations.groupBy(*GROUP_KEYS).agg(
        F.avg(F.col(OFF_HOURS).cast("double")).alias("_off_share"),
        F.median(Y_WORK).alias("_med_work"),
        F.median(Y_CAL).alias("_med_cal"),
    )
    g = g.join(batch, GROUP_KEYS, "left").fillna(False, subset=[BATCH])
    collapsed = (F.col("_med_work") < math.log(max(min_s, 1.0))) & (
        F.col("_med_cal") >= math.log(3600.0)
    )
    fallback = (F.col(BASIS) == "working") & ((F.col("_off_share") > off_hours_share) | collapsed)
    return (
        observations.join(g, GROUP_KEYS)
        .withColumn("basis_fallback", fallback)
        .withColumn(Y, F.when(F.col("basis_fallback"), F.col(Y_CAL)).otherwise(F.col(Y)))
        .withColumn(
            BASIS, F.when(F.col("basis_fallback"), F.lit("calendar")).otherwise(F.col(BASIS))
        )
        .drop("_off_share", "_med_work", "_med_cal", END_MINUTE)
    )


ADJUSTED_SCHEMA = T.StructType(
    [
        T.StructField(C.SERVICE_ITEM, T.StringType()),
        T.StructField(C.STEP, T.StringType()),
        T.StructField(C.DEPARTMENT, T.StringType()),
        T.StructField(KIND, T.StringType()),
        T.StructField(SETTING, T.StringType()),
        T.StructField(BASIS, T.StringType()),
        T.StructField(Y, T.DoubleType()),
        T.StructField(Y_ADJ, T.DoubleType()),
        T.StructField(CENSORED, T.BooleanType()),
        T.StructField(C.COMPLEXITY, T.DoubleType()),
        T.StructField(SAME_DAY, T.BooleanType()),
        T.StructField(CROSS_DEPT, T.DoubleType()),
        T.StructField(LOG_N_STEPS, T.DoubleType()),
        T.StructField(LOG_LOAD, T.DoubleType()),
        T.StructField(BETA_LOAD, T.DoubleType()),
        T.StructField(Y_CAL, T.DoubleType()),
        T.StructField(C.TIME_LIMIT_DAYS, T.DoubleType()),
        T.StructField(TM.LOCAL_DATE, T.DateType()),
        T.StructField(PLACE, T.StringType()),
        T.StructField("basis_fallback", T.BooleanType()),
        T.StructField(BATCH, T.BooleanType()),
    ]
)


def design_matrix(pdf: pd.DataFrame) -> np.ndarray:
    """Covariates of the within model: workload, steps, setting, weekday and hour-band dummies."""
    # Structural covariates first, then workload and time (weekday, hour band). An unknown
    # number of steps (open application) is the item-step's mean: it adds nothing to the fit.
    steps = pdf[LOG_N_STEPS].astype(float)
    steps = steps.fillna(steps.groupby(_item_step(pdf)).transform("mean")).fillna(0.0)
    x = [
        (steps if c == LOG_N_STEPS else pdf[c].astype(float).fillna(0.0)).to_numpy()
        for c in STRUCTURAL_COVARIATES + WORKLOAD_COVARIATES
    ]
    weekday = pdf[TM.WEEKDAY].fillna(1).astype(int).to_numpy()
    x += [(weekday == d).astype(float) for d in range(2, 8)]  # Monday is the reference
    hour = pdf[TM.LOCAL_HOUR].fillna(12).astype(int).to_numpy()
    bands = np.digitize(hour, [8, 10, 12, 14, 16, 18])
    x += [(bands == b).astype(float) for b in range(0, 7) if b != 3]  # 12-14 is the reference
    return np.column_stack(x)


def fit_within(pdf: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Within (fixed-effects) least squares on one step name and kind.

    Returns (beta, X): beta from regressing ``y`` on the covariates after removing each
    item-step's mean from both (uncensored rows only), so item-level slowness is absorbed by
    the item's own intercept and can never enter beta. The workload slopes are kept at 0 or
    above (a negative one is dropped and the others refitted).
    """
    x = design_matrix(pdf)
    y = pdf[Y].to_numpy(dtype=float)
    ok = ~pdf[CENSORED].to_numpy(dtype=bool)
    groups = _item_step(pdf)
    beta = np.zeros(x.shape[1])
    if ok.sum() > x.shape[1] + 10:
        xo = pd.DataFrame(x[ok])
        yo = pd.Series(y[ok])
        key = groups[ok].to_numpy()
        xd = (xo - xo.groupby(key).transform("mean")).to_numpy()
        yd = (yo - yo.groupby(key).transform("mean")).to_numpy()
        keep = xd.std(axis=0) > 1e-9  # covariates constant within every item-step: not identified
        # Workload never makes work faster: a negative workload slope (in a log's quiet tail the
        # steps that still happen are those that waited longest) is dropped and the rest refitted.
        load = np.zeros(len(keep), dtype=bool)
        load[_N_STRUCTURAL : _N_STRUCTURAL + len(WORKLOAD_COVARIATES)] = True
        while keep.any():
            beta[:] = 0.0
            sol, *_ = np.linalg.lstsq(xd[:, keep], yd, rcond=None)
            beta[keep] = sol
            negative = load & keep & (beta < 0)
            if not negative.any():
                break
            keep &= ~negative
            beta[negative] = 0.0
    return beta, x


def _item_step(pdf: pd.DataFrame) -> pd.Series:
    """The fixed-effect group of each row: its item and department (the cell is one step name,
    kind and setting)."""
    return pdf[C.SERVICE_ITEM].astype(str) + "|" + pdf[C.DEPARTMENT].astype(str)


def _adjust_cell(pdf: pd.DataFrame) -> pd.DataFrame:
    beta, x = fit_within(pdf)
    key = _item_step(pdf).to_numpy()
    ref = np.tile(x.mean(axis=0), (len(pdf), 1))  # workload and time: the step's mean
    s = _N_STRUCTURAL
    ref[:, :s] = pd.DataFrame(x[:, :s]).groupby(key).transform("mean").to_numpy()
    y_adj = pdf[Y].to_numpy(dtype=float) - (x - ref) @ beta
    out = pdf[[f.name for f in ADJUSTED_SCHEMA.fields if f.name not in (Y_ADJ, BETA_LOAD)]].copy()
    out[Y_ADJ] = y_adj
    out[BETA_LOAD] = float(beta[s])
    return out[[f.name for f in ADJUSTED_SCHEMA.fields]]


def with_adjusted_durations(observations: DataFrame) -> DataFrame:
    """Workload-adjusted log durations ``y_adj`` (and the cell's load elasticity ``beta_load``).

    Needs ``to_observations`` output. One pandas group per (step, kind, setting): all items'
    rows of that step name in that setting, fitted with item-step fixed effects (see
    ``fit_within``). Desk and back-office rows are never fitted together: an item whose accept
    step is done at a desk in minutes by some applicants and in a back office in hours for
    others would otherwise have one intercept for both, and the covariates that differ between
    the two settings (the unit's load, the hour) would learn the setting as a workload effect.
    On the generated month that made two desk steps "15-25x faster than they should be at
    their workload" (``workload_ratio`` 0.04-0.07) and flagged them.
    """
    return observations.groupBy(C.STEP, KIND, SETTING).applyInPandas(_adjust_cell, ADJUSTED_SCHEMA)
