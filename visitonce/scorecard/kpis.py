"""Department KPIs as numerator / denominator counts, per application, period and group.

Every KPI is a sum over applications of a per-application numerator and denominator (and, for
means, the sum of squares), so that a department's value, a stratum's value (case mix), an
equity group's value, a quarter's value and the shrinkage all come from the same counts. The
formulas are in ``KPIS`` and in docs/methodology.md (section 2); the flow is

    applications + events + catalog + lagging_steps
      -> to_case_features     one row per application: dimensions + <kpi>__num/__den/__sq
      -> to_period_rows       one row per application x period it counts in (own period, or a
                              later period at whose end it is still open: backlog only)
      -> summarize_cells      sums by any keys (department, strata, equity groups)
      -> to_long              one row per keys x kpi

A KPI whose input is missing (no satisfaction ratings, no ``arrived_at``, no catalog flag, no
lagging_steps table) gets denominator 0 everywhere and is reported unavailable: never invented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.columns import OnTime
from visitonce.facts import PREV_DEPARTMENT

# --- column names of this package -------------------------------------------------------------
PERIOD = "period"
GRAIN = "grain"
PERIOD_START = "period_start"
PERIOD_END = "period_end"  # exclusive
OWN = "own_period"  # the application was applied for in this period
N_APPLICATIONS = "n_applications"
KPI = "kpi"
NUM, DEN, SQ = "numerator", "denominator", "sum_squares"
STEPS_BAND = "steps_band"
COMPLETED_DATE = "completed_date"
N_WAITS, N_WAITS_WITHIN, N_HANDOFFS = "n_waits", "n_waits_within", "n_handoffs"
REPEAT = "is_repeat_contact"
ITEM_LAGGING = "item_has_lagging_step"
# Equity dimensions: the group's column in the case features (channel = first channel).
EQUITY_DIMENSIONS: dict[str, str] = {
    "channel": C.FIRST_CHANNEL,
    "district": C.DISTRICT,
    "citizen_type": C.CITIZEN_TYPE,
    "age_band": C.AGE_BAND,
}
UNKNOWN = "unknown"  # the group of applications whose dimension value is missing: kept, shown
# Item characteristics of the case-mix strata (visitonce.scorecard.casemix).
STRATA: tuple[str, ...] = (C.COMPLEXITY, C.ONLINE_CAPABLE, STEPS_BAND, C.FIRST_CHANNEL)
NON_CONTACT_CHANNELS: tuple[str, ...] = ("online", "mobile")


@dataclass(frozen=True)
class Kpi:
    """One KPI: its kind (rate = share of a count, mean = mean of a value), direction and the
    pillar of the composite it belongs to."""

    name: str
    kind: str  # "rate" | "mean" | "quantile" (descriptive only: no counts, no composite)
    higher_is_better: bool
    pillar: str
    formula: str
    # Channel KPIs are not adjusted for the first channel: channel mix is what they measure.
    adjust_for_channel: bool = True


PILLARS: tuple[str, ...] = ("visit_once", "timeliness", "access", "experience", "process")
KPIS: tuple[Kpi, ...] = (
    Kpi("one_visit_rate", "rate", True, "visit_once",
        "completed applications with n_visits <= 1 / completed applications", False),
    Kpi("zero_visit_rate", "rate", True, "visit_once",
        "completed applications of online-capable items with n_visits = 0 / completed "
        "applications of online-capable items", False),
    Kpi("on_time_rate", "rate", True, "timeliness",
        "on_time / (on_time + late + open_overdue) among applications with a time limit"),
    Kpi("time_limit_compression", "mean", True, "timeliness",
        "mean over completed applications with a limit of (window_end - completed_at) / "
        "(window_end - applied_at), window_end = start of the local day after due_date, "
        "clipped to [-1, 1]: the share of the promised time left unused"),
    Kpi("overdue_backlog_share", "rate", False, "timeliness",
        "applications open and past due_date at the period's last day (capped at as_of) / "
        "applications open then with a due_date"),
    Kpi("wait_within_w_rate", "rate", True, "access",
        "contact steps with started_at - arrived_at <= W minutes / contact steps with both"),
    Kpi("wait_p90_minutes", "quantile", False, "access",
        "90th percentile of started_at - arrived_at (minutes) over contact steps"),
    Kpi("online_share", "rate", True, "access",
        "applications whose first channel is online or mobile / applications", False),
    Kpi("satisfaction_mean", "mean", True, "experience", "mean rating (1-5) of rated applications"),
    Kpi("good_review_rate", "rate", True, "experience",
        "rated applications with rating >= 4 / rated applications"),
    Kpi("bad_review_rate", "rate", False, "experience",
        "rated applications with rating <= 2 / rated applications"),
    Kpi("rating_coverage", "rate", True, "experience",
        "completed applications with a rating / completed applications"),
    Kpi("lagging_step_share", "rate", False, "process",
        "applications whose service item has a flagged lagging step / applications"),
    Kpi("repeat_contact_rate", "rate", False, "process",
        "applications of a known citizen who applied for the same item within repeat_days "
        "before / applications of known citizens"),
    Kpi("handoffs_per_case", "mean", False, "process",
        "mean number of department changes between consecutive steps (by started_at)"),
)  # fmt: skip
KPI_BY_NAME: dict[str, Kpi] = {k.name: k for k in KPIS}
COUNTED: tuple[Kpi, ...] = tuple(k for k in KPIS if k.kind != "quantile")


def col_num(kpi: str) -> str:
    return f"{kpi}__num"


def col_den(kpi: str) -> str:
    return f"{kpi}__den"


def col_sq(kpi: str) -> str:
    return f"{kpi}__sq"


def _d(cond: Column) -> Column:
    return F.when(cond, F.lit(1.0)).otherwise(F.lit(0.0))


def summarize_step_counts(events: DataFrame, *, wait_minutes: float) -> DataFrame:
    """Per application: contact-step waits (all, within W minutes) and hand-offs.

    A contact step is one with ``arrived_at`` (a queue ticket); its wait is
    ``started_at - arrived_at``. A hand-off is a change of ``department`` between consecutive
    steps in ``columns.CASE_ORDER``. Columns: application_id, n_waits, n_waits_within,
    n_handoffs.
    """
    if PREV_DEPARTMENT in events.columns:  # step facts
        prev = F.col(PREV_DEPARTMENT)
    else:  # hand-made events: their order, as the facts would give it
        order = Window.partitionBy(C.APPLICATION_ID).orderBy(*C.case_order(events.columns))
        prev = F.lag(C.DEPARTMENT).over(order)
    wait_s = F.unix_timestamp(C.STARTED_AT) - F.unix_timestamp(C.ARRIVED_AT)
    has_wait = F.col(C.ARRIVED_AT).isNotNull()
    return (
        events.select(
            C.APPLICATION_ID,
            _d(has_wait).alias("_w"),
            _d(has_wait & (wait_s <= F.lit(wait_minutes * 60.0))).alias("_ww"),
            _d(prev.isNotNull() & (prev != F.col(C.DEPARTMENT))).alias("_h"),
        )
        .groupBy(C.APPLICATION_ID)
        .agg(
            F.sum("_w").alias(N_WAITS),
            F.sum("_ww").alias(N_WAITS_WITHIN),
            F.sum("_h").alias(N_HANDOFFS),
        )
    )


def to_waits(events: DataFrame) -> DataFrame:
    """Contact-step waits in minutes (application_id, wait_minutes): input of wait_p90."""
    wait_s = F.unix_timestamp(C.STARTED_AT) - F.unix_timestamp(C.ARRIVED_AT)
    return events.where(F.col(C.ARRIVED_AT).isNotNull()).select(
        C.APPLICATION_ID, (wait_s / 60.0).alias("wait_minutes")
    )


def to_case_features(
    applications: DataFrame,
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    lagging_steps: DataFrame | None,
    wait_minutes: float,
    repeat_days: int,
    time_zone: str,
) -> DataFrame:
    """One row per application: department, dates, equity dimensions, case-mix strata, and the
    per-application ``<kpi>__num`` / ``__den`` (/ ``__sq`` for means) of every counted KPI
    except the backlog (added per period by ``to_period_rows``).

    Needs the applications and events contracts; ``catalog`` gives complexity and
    online_capable (null without it: the strata say ``unknown`` and zero_visit_rate is
    unavailable); ``lagging_steps`` (contract) gives the items with a flagged step (without it
    lagging_step_share is unavailable).
    """
    a = applications
    if C.DUE_AT not in a.columns:  # applications written before the column existed
        a = a.withColumn(C.DUE_AT, F.lit(None).cast("timestamp"))
    steps = summarize_step_counts(events, wait_minutes=wait_minutes)
    a = a.join(steps, C.APPLICATION_ID, "left")
    if catalog is not None:
        cat = catalog.select(
            F.col(C.SERVICE_ITEM).alias("_ci"),
            F.col(C.COMPLEXITY).cast("string").alias(C.COMPLEXITY),
            F.col(C.ONLINE_CAPABLE).alias("_online"),
        )
        a = a.join(F.broadcast(cat), a[C.SERVICE_ITEM] == cat["_ci"], "left").drop("_ci")
    else:
        a = a.withColumn(C.COMPLEXITY, F.lit(None).cast("string")).withColumn(
            "_online", F.lit(None).cast("boolean")
        )
    if lagging_steps is not None:
        flagged = (
            lagging_steps.where(F.col("flagged"))
            .select(F.col(C.SERVICE_ITEM).alias("_li"))
            .distinct()
            .withColumn(ITEM_LAGGING, F.lit(True))
        )
        a = a.join(F.broadcast(flagged), a[C.SERVICE_ITEM] == flagged["_li"], "left").drop("_li")
        a = a.withColumn(ITEM_LAGGING, F.coalesce(F.col(ITEM_LAGGING), F.lit(False)))
        lag_den = F.lit(1.0)
    else:
        a = a.withColumn(ITEM_LAGGING, F.lit(None).cast("boolean"))
        lag_den = F.lit(0.0)
    known = F.col(C.CITIZEN_ID).isNotNull() & (F.col(C.CITIZEN_ID) != "")
    prev = F.lag(C.APPLIED_AT).over(
        Window.partitionBy(C.CITIZEN_ID, C.SERVICE_ITEM).orderBy(C.APPLIED_AT, C.APPLICATION_ID)
    )
    a = a.withColumn(
        REPEAT,
        known
        & prev.isNotNull()
        & (F.unix_timestamp(C.APPLIED_AT) - F.unix_timestamp(prev) <= repeat_days * 86400),
    )
    a = a.withColumn(COMPLETED_DATE, F.to_date(F.from_utc_timestamp(C.COMPLETED_AT, time_zone)))
    # The steps band is the item's (its median number of steps, over its completed
    # applications, else all of them), not the application's own: a supplement trip or an extra
    # review is an outcome of the department's handling, and a case-mix variable must not be an
    # outcome of what is being assessed.
    designed = a.groupBy(F.col(C.SERVICE_ITEM).alias("_si")).agg(
        F.coalesce(
            F.percentile_approx(F.when(~F.col(C.IS_OPEN), F.col(C.N_STEPS)), 0.5),
            F.percentile_approx(F.col(C.N_STEPS), 0.5),
        ).alias("_item_steps")
    )
    a = a.join(F.broadcast(designed), a[C.SERVICE_ITEM].eqNullSafe(designed["_si"]), "left")
    a = a.drop("_si").withColumn(
        STEPS_BAND,
        F.when(F.col("_item_steps") <= 2, "1-2")
        .when(F.col("_item_steps") == 3, "3")
        .when(F.col("_item_steps") == 4, "4")
        .otherwise("5+"),
    )
    done = ~F.col(C.IS_OPEN)
    online = F.col("_online") == F.lit(True)
    status = F.col(C.ON_TIME_STATUS)
    judged = status.isin(OnTime.ON_TIME, OnTime.LATE, OnTime.OPEN_OVERDUE)
    # The promised window ends at the case's due_at, else at the start of the day after
    # due_date (local time).
    window_end = F.coalesce(
        F.col(C.DUE_AT),
        F.to_utc_timestamp(F.date_add(C.DUE_DATE, 1).cast("timestamp"), time_zone),
    )
    window_s = F.unix_timestamp(window_end) - F.unix_timestamp(C.APPLIED_AT)
    has_window = done & F.col(C.DUE_DATE).isNotNull() & (window_s > 0)
    compression = F.least(
        F.lit(1.0),
        F.greatest(
            F.lit(-1.0),
            F.try_divide(F.unix_timestamp(window_end) - F.unix_timestamp(C.COMPLETED_AT), window_s),
        ),
    )
    sat = F.col(C.SATISFACTION).cast("double")
    rated = sat.isNotNull()
    nz = lambda c: F.coalesce(F.col(c), F.lit(0.0))  # noqa: E731
    parts: dict[str, tuple[Column, Column, Column | None]] = {
        "one_visit_rate": (_d(done & (F.col(C.N_VISITS) <= 1)), _d(done), None),
        "zero_visit_rate": (_d(done & online & (F.col(C.N_VISITS) == 0)), _d(done & online), None),
        "on_time_rate": (_d(status == OnTime.ON_TIME), _d(judged), None),
        "time_limit_compression": (
            F.when(has_window, compression).otherwise(0.0),
            _d(has_window),
            F.when(has_window, compression * compression).otherwise(0.0),
        ),
        "wait_within_w_rate": (nz(N_WAITS_WITHIN), nz(N_WAITS), None),
        "online_share": (_d(F.col(C.FIRST_CHANNEL).isin(*NON_CONTACT_CHANNELS)), F.lit(1.0), None),
        "satisfaction_mean": (
            F.coalesce(sat, F.lit(0.0)),
            _d(rated),
            F.coalesce(sat * sat, F.lit(0.0)),
        ),
        "good_review_rate": (_d(rated & (sat >= 4)), _d(rated), None),
        "bad_review_rate": (_d(rated & (sat <= 2)), _d(rated), None),
        "rating_coverage": (_d(done & rated), _d(done), None),
        "lagging_step_share": (_d(F.col(ITEM_LAGGING) == F.lit(True)), lag_den, None),
        "repeat_contact_rate": (_d(F.col(REPEAT)), _d(known), None),
        "handoffs_per_case": (nz(N_HANDOFFS), F.lit(1.0), nz(N_HANDOFFS) * nz(N_HANDOFFS)),
    }
    cols: list[Column] = []
    for name, (num, den, sq) in parts.items():
        cols += [num.alias(col_num(name)), den.alias(col_den(name))]
        if sq is not None:
            cols.append(sq.alias(col_sq(name)))
    return a.select(
        C.APPLICATION_ID,
        C.DEPARTMENT,
        C.SERVICE_ITEM,
        C.APPLIED_DATE,
        COMPLETED_DATE,
        C.DUE_DATE,
        *[
            F.coalesce(F.col(c).cast("string"), F.lit(UNKNOWN)).alias(c)
            for c in (C.DISTRICT, C.CITIZEN_TYPE, C.AGE_BAND)
        ],
        F.coalesce(F.col(C.COMPLEXITY), F.lit(UNKNOWN)).alias(C.COMPLEXITY),
        F.coalesce(F.col("_online").cast("string"), F.lit(UNKNOWN)).alias(C.ONLINE_CAPABLE),
        STEPS_BAND,
        C.FIRST_CHANNEL,
        *cols,
    )


def with_period_start(df: DataFrame, *, grain: str, date_col: str = C.APPLIED_DATE) -> DataFrame:
    """Adds period, grain, period_start, period_end (exclusive) of ``date_col``'s period:
    month ``2026-03``, quarter ``2026-Q1``, year ``2026``."""
    unit = {"month": ("month", 1), "quarter": ("quarter", 3), "year": ("year", 12)}
    if grain not in unit:
        raise ValueError(f"unknown period grain {grain!r}: month, quarter or year")
    trunc, months = unit[grain]
    start = F.trunc(F.col(date_col), trunc)
    label = {
        "month": F.date_format(start, "yyyy-MM"),
        "quarter": F.concat(F.year(start).cast("string"), F.lit("-Q"), F.quarter(start)),
        "year": F.year(start).cast("string"),
    }[grain]
    return (
        df.withColumn(PERIOD_START, start)
        .withColumn(PERIOD_END, F.add_months(start, months))
        .withColumn(PERIOD, label)
        .withColumn(GRAIN, F.lit(grain))
    )


def to_period_rows(features: DataFrame, *, grains: Sequence[str], as_of: dt.date) -> DataFrame:
    """One row per application x period it counts in, for every grain, with the backlog KPI.

    An application counts fully in the period it was applied for (``own_period`` true) and,
    for the backlog only, in every later period of the data at whose last day (capped at
    ``as_of``, the run's local date) it is still open. Backlog at day D: applied_date <= D and
    not completed by D and with a due date (denominator); and D > due_date (numerator: overdue).
    """
    periods = None
    for g in grains:
        p = with_period_start(features.select(C.APPLIED_DATE), grain=g).select(
            PERIOD, GRAIN, PERIOD_START, PERIOD_END
        )
        periods = p if periods is None else periods.unionByName(p)
    assert periods is not None
    periods = periods.distinct()
    day = F.least(F.date_sub(F.col(PERIOD_END), 1), F.lit(as_of))
    rows = features.crossJoin(F.broadcast(periods)).where(F.col(C.APPLIED_DATE) < F.col(PERIOD_END))
    own = F.col(C.APPLIED_DATE) >= F.col(PERIOD_START)
    open_at_end = (F.col(C.APPLIED_DATE) <= day) & (
        F.col(COMPLETED_DATE).isNull() | (F.col(COMPLETED_DATE) > day)
    )
    rows = rows.where(own | open_at_end).withColumn(OWN, own)
    # Only cases with a due date can be overdue or not: without one a case is neither, and a
    # log with no due dates at all has no backlog figure (unavailable), not a backlog of 0.
    due_known = open_at_end & F.col(C.DUE_DATE).isNotNull()
    overdue = due_known & (day > F.col(C.DUE_DATE))
    rows = rows.withColumn(col_num("overdue_backlog_share"), _d(overdue)).withColumn(
        col_den("overdue_backlog_share"), _d(due_known)
    )
    for k in COUNTED:
        if k.name == "overdue_backlog_share":
            continue
        for c in (col_num(k.name), col_den(k.name), col_sq(k.name)):
            if c in rows.columns:
                rows = rows.withColumn(c, F.when(own, F.col(c)).otherwise(F.lit(0.0)))
    return rows.drop(PERIOD_START, PERIOD_END)


def count_columns() -> list[str]:
    """The additive columns of period rows (every KPI's numerator, denominator, squares)."""
    out = []
    for k in COUNTED:
        out += [col_num(k.name), col_den(k.name)]
        if k.kind == "mean":
            out.append(col_sq(k.name))
    return out


def summarize_cells(rows: DataFrame, *, keys: Sequence[str]) -> DataFrame:
    """Sums of every KPI count and of own-period applications by ``keys``."""
    return rows.groupBy(*keys).agg(
        F.sum(F.col(OWN).cast("long")).alias(N_APPLICATIONS),
        *[F.sum(c).alias(c) for c in count_columns()],
    )


def to_long(cells: DataFrame, *, keys: Sequence[str]) -> DataFrame:
    """One row per keys x counted KPI: kpi, numerator, denominator, sum_squares (0 for
    rates), n_applications."""
    entries = [
        F.struct(
            F.lit(k.name).alias(KPI),
            F.col(col_num(k.name)).alias(NUM),
            F.col(col_den(k.name)).alias(DEN),
            (F.col(col_sq(k.name)) if k.kind == "mean" else F.lit(0.0)).alias(SQ),
        )
        for k in COUNTED
    ]
    return cells.select(*keys, N_APPLICATIONS, F.explode(F.array(*entries)).alias("_e")).select(
        *keys, N_APPLICATIONS, "_e.*"
    )


def summarize_wait_p90(
    waits: DataFrame, rows: DataFrame, *, keys: Sequence[str], accuracy: int = 10000
) -> DataFrame:
    """90th percentile of contact-step waits (minutes) by ``keys`` of the own-period rows;
    a descriptive KPI (not additive, not in the composite). Columns: keys, wait_p90_minutes,
    n_waits."""
    own = rows.where(F.col(OWN)).select(C.APPLICATION_ID, *keys)
    return (
        waits.join(own, C.APPLICATION_ID)
        .groupBy(*keys)
        .agg(
            F.percentile_approx("wait_minutes", 0.9, accuracy)
            .cast("double")
            .alias("wait_p90_minutes"),
            F.count(F.lit(1)).alias(N_WAITS),
        )
    )
