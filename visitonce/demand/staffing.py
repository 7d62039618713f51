"""Staffing plan: officials needed per centre x weekday x hour by Erlang-C, against the roster.

Each centre is one M/M/c queue of counter arrivals (the reform's "one window": any desk accepts
any item). Its arrival rate and mean service time per weekday x hour are observed; Erlang-C
gives the fewest servers that meet the service-level target (e.g. 80% within 15 minutes).

Rostered officials are not pure servers: they also prepare files, do back-office work at the
desk, rest and hand over, so each counter arrival takes k times its desk service time of
rostered official time. ``official_time_factor`` k is configured (1.0: the roster counts pure
counter servers) or calibrated from the data: per centre, the k at which Erlang-C with service
time x k needs exactly the officials it rostered; the median over centres is the city's
standard (the median, so one badly staffed centre cannot set it). A centre is then short or
idle against what the city's own typical staffing would give its demand, hour by hour, with
the queueing economies of scale and the service-level target that Erlang-C brings. The plain
Erlang-C count (k = 1) is reported beside it.
"""

from __future__ import annotations

import math
import re

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import messages as MSG
from visitonce.demand.counter import HOUR, LOCAL_DATE, WEEKDAY
from visitonce.monitor.erlang import servers_for_service_level
from visitonce.monitor.erlang import service_level as erlang_service_level

SHORT, IDLE, BALANCED = "short", "idle", "balanced"


def summarize_roster(roster: DataFrame) -> DataFrame:
    """Per ``center, weekday``: ``rostered_officials``, the mean over the roster's dates of
    that weekday of the officials on duty at the centre's desks (summed over departments)."""
    from visitonce.applications import iso_weekday

    desks = roster.where(F.col(C.CENTER).isNotNull()).groupBy(C.CENTER, C.DATE)
    per_day = desks.agg(F.sum(C.OFFICIALS_ON_DUTY).alias("officials"))
    return (
        per_day.where(F.col("officials") > 0)
        .withColumn(WEEKDAY, iso_weekday(F.col(C.DATE)))
        .groupBy(C.CENTER, WEEKDAY)
        .agg(F.avg("officials").cast("double").alias("rostered_officials"))
    )


def to_staffing_cells(hours: DataFrame, days: DataFrame, roster: DataFrame | None) -> DataFrame:
    """Per ``center, weekday, hour`` with arrivals: ``n_days``, ``arrivals_per_hour``,
    ``mean_service_min``, ``mean_wait_min``, ``observed_within_target`` and
    ``rostered_officials`` (null without a roster).

    ``hours`` is ``counter.summarize_hours``, ``days`` is ``counter.open_days``.
    """
    cells = (
        hours.groupBy(C.CENTER, WEEKDAY, HOUR)
        .agg(
            F.sum("arrivals").alias("_arrivals"),
            F.sum("service_s_sum").alias("_service"),
            F.sum("n_service").alias("_n_service"),
            F.sum("wait_s_sum").alias("_wait"),
            F.sum("n_within_target").alias("_within"),
        )
        .join(days, [C.CENTER, WEEKDAY])
        .select(
            C.CENTER,
            WEEKDAY,
            HOUR,
            "n_days",
            (F.col("_arrivals") / F.col("n_days")).alias("arrivals_per_hour"),
            (F.col("_service") / F.col("_n_service") / 60.0).alias("mean_service_min"),
            (F.col("_wait") / F.col("_arrivals") / 60.0).alias("mean_wait_min"),
            (F.col("_within") / F.col("_arrivals")).alias("observed_within_target"),
        )
    )
    if roster is None:
        return cells.withColumn("rostered_officials", F.lit(None).cast("double"))
    return cells.join(summarize_roster(roster), [C.CENTER, WEEKDAY], "left")


def _needed(lam: float, s: float, factor: float, t: float, level: float, cap: int) -> int:
    return servers_for_service_level(lam, s * factor, t, level, max_servers=cap)


def _calibrate(
    lam: list[float], s: list[float], rostered: list[float], t: float, level: float, cap: int
) -> float | None:
    """The official-time factor k at which the Erlang-C need (service time s x k) summed over
    the cells equals the rostered officials summed over them (log bisection; need grows
    with k)."""
    total = sum(rostered)
    if total <= 0 or not any(a > 0 for a in lam):
        return None
    lo, hi = 0.05, 1000.0
    for _ in range(40):
        mid = (lo * hi) ** 0.5
        need = sum(_needed(a, b, mid, t, level, cap) for a, b in zip(lam, s, strict=True))
        lo, hi = (mid, hi) if need < total else (lo, mid)
    return (lo * hi) ** 0.5


def summarize_calibration(
    cells: DataFrame, *, target_wait_min: float, service_level: float, max_servers: int
) -> DataFrame:
    """One row: ``official_time_factor``, the median over centres of the factor k at which
    Erlang-C with service time x k needs exactly the centre's rostered officials (summed over
    its cells with a roster): rostered official minutes per minute of counter service."""

    def per_center(pdf: pd.DataFrame) -> pd.DataFrame:
        k = _calibrate(
            list(pdf["arrivals_per_hour"].astype(float) / 60.0),
            list(pdf["mean_service_min"].astype(float).fillna(0.0)),
            list(pdf["rostered_officials"].astype(float)),
            target_wait_min,
            service_level,
            max_servers,
        )
        return pd.DataFrame({C.CENTER: [pdf[C.CENTER].iloc[0]], "factor": [k]})

    ok = cells.where(F.col("rostered_officials").isNotNull())
    factors = ok.groupBy(C.CENTER).applyInPandas(per_center, schema="center string, factor double")
    return factors.agg(F.median("factor").alias("official_time_factor"))


def with_officials_needed(
    cells: DataFrame,
    *,
    official_time_factor: float,
    target_wait_min: float,
    service_level: float,
    max_servers: int,
) -> DataFrame:
    """Adds ``offered_load`` (Erlangs), ``servers_needed`` (plain Erlang-C on the observed
    service time), ``officials_needed`` (Erlang-C on service time x official_time_factor) and
    ``rostered_service_level`` (share served within the target with the rostered officials,
    same model), one centre per task."""
    k, t, level, cap = float(official_time_factor), target_wait_min, service_level, max_servers

    def per_center(pdf: pd.DataFrame) -> pd.DataFrame:
        lam = list(pdf["arrivals_per_hour"].astype(float) / 60.0)  # per minute
        s = list(pdf["mean_service_min"].astype(float).fillna(0.0))
        pairs = list(zip(lam, s, strict=True))
        pdf["offered_load"] = [a * b for a, b in pairs]
        pdf["servers_needed"] = [_needed(a, b, 1.0, t, level, cap) for a, b in pairs]
        pdf["official_time_factor"] = k
        pdf["officials_needed"] = [_needed(a, b, k, t, level, cap) for a, b in pairs]
        pdf["rostered_service_level"] = [
            None
            if r is None or pd.isna(r) or b <= 0
            else erlang_service_level(int(math.floor(r)), a, b * k, t)
            for r, (a, b) in zip(pdf["rostered_officials"], pairs, strict=True)
        ]
        return pdf

    schema = cells.schema.simpleString()[len("struct<") : -1]
    extra = (
        "offered_load double, servers_needed int, official_time_factor double, "
        "officials_needed int, rostered_service_level double"
    )
    return cells.groupBy(C.CENTER).applyInPandas(per_center, schema=f"{schema},{extra}")


def to_staffing_plan(cells: DataFrame) -> DataFrame:
    """From ``with_officials_needed`` cells: adds ``gap`` (rostered - needed:
    negative short, positive idle), ``status`` (short / idle beyond one official, else
    balanced) and ``note``: where the officials could come from or go to at that hour."""
    gap = F.col("rostered_officials") - F.col("officials_needed")
    plan = cells.withColumn("gap", gap).withColumn(
        "status",
        F.when(F.col("gap").isNull(), F.lit(None))
        .when(F.col("gap") <= -1.0, SHORT)
        .when(F.col("gap") >= 1.0, IDLE)
        .otherwise(BALANCED),
    )
    slot = Window.partitionBy(WEEKDAY, HOUR)
    idle = F.when(F.col("status") == IDLE, F.struct(F.col("gap"), F.col(C.CENTER)))
    short = F.when(F.col("status") == SHORT, F.struct(-F.col("gap"), F.col(C.CENTER)))
    plan = plan.withColumn("_idle", F.max(idle).over(slot)).withColumn(
        "_short", F.max(short).over(slot)
    )
    fmt = lambda c: F.format_number(c, 1)  # noqa: E731

    def say(code: str, **params: Column) -> Column:
        """The note as a message (visitonce.messages): its JSON and its English text."""
        args = F.struct(*[v.alias(k) for k, v in params.items()])
        msg = F.to_json(F.struct(F.lit(code).alias("code"), args.alias("params")))
        template = MSG.TEMPLATES[code]
        parts = re.split(r"%\((\w+)\)s", template)
        text = F.concat(*[F.lit(x) if n % 2 == 0 else params[x] for n, x in enumerate(parts) if x])
        return F.struct(text.alias("text"), msg.alias("message"))

    note = (
        F.when(
            (F.col("status") == SHORT) & F.col("_idle").isNotNull(),
            say(
                "staffing.short_move",
                short=fmt(-F.col("gap")),
                center=F.col("_idle.center"),
                idle=fmt(F.col("_idle.gap")),
            ),
        )  # fmt: skip
        .when(F.col("status") == SHORT, say("staffing.short_none", short=fmt(-F.col("gap"))))
        .when(
            (F.col("status") == IDLE) & F.col("_short").isNotNull(),
            say(
                "staffing.idle_move",
                idle=fmt(F.col("gap")),
                center=F.col("_short.center"),
                short=fmt(F.col("_short.col1")),
            ),
        )  # fmt: skip
        .when(F.col("status") == IDLE, say("staffing.idle_none", idle=fmt(F.col("gap"))))
    )
    return (
        plan.withColumn("_note", note)
        .withColumn("note", F.col("_note.text"))
        .withColumn("note_message", F.col("_note.message"))
        .drop("_idle", "_short", "_note")
    )


def summarize_gaps(plan: DataFrame, *, weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)) -> DataFrame:
    """Per centre: ``mean_gap`` over its open hours of ``weekdays`` (negative: officials short
    on a normal working day), ``rostered`` and ``needed`` means, and ``short_hours``."""
    return (
        plan.where(F.col(WEEKDAY).isin(*weekdays) & F.col("gap").isNotNull())
        .groupBy(C.CENTER)
        .agg(
            F.avg("gap").alias("mean_gap"),
            F.avg("rostered_officials").alias("rostered"),
            F.avg("officials_needed").alias("needed"),
            F.sum(F.when(F.col("status") == SHORT, 1).otherwise(0)).alias("short_hours"),
        )
        .orderBy(C.CENTER)
    )


__all__ = [
    "LOCAL_DATE",
    "summarize_calibration",
    "summarize_gaps",
    "summarize_roster",
    "to_staffing_cells",
    "to_staffing_plan",
    "with_officials_needed",
]
