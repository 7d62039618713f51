"""Case-mix adjustment by indirect standardization over item characteristics.

Each department handles its own items, so adjusting by item identity would compare every
department with itself and erase the differences being measured. The strata are therefore
item *characteristics*: catalog complexity (1-5), online capability, the item's median number
of steps (1-2, 3, 4, 5+; never the case's own, an outcome of its handling) and first channel.
Channel KPIs (one_visit_rate, zero_visit_rate, online_share) are not adjusted for the first
channel: moving applicants online is what they measure.

For a KPI and a period, the city value of stratum s is r_s = sum(num_s) / sum(den_s) over all
departments. A unit (department, or department x equity group) with denominators den_us is
expected to reach E = sum_s den_us * r_s / sum_s den_us; its observed value is
O = sum(num_u) / sum(den_u). The adjusted value puts the unit's excess over its own expectation
on the city scale: adjusted = city + (O - E) (clipped to [0, 1] for rates), and
oe_ratio = O / E is reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.scorecard.kpis import (
    DEN,
    GRAIN,
    KPI,
    KPIS,
    N_APPLICATIONS,
    NUM,
    PERIOD,
    SQ,
    STEPS_BAND,
)

STRATUM = "stratum"
OBSERVED, EXPECTED, CITY, ADJUSTED, OE_RATIO = (
    "observed",
    "expected",
    "city",
    "adjusted",
    "oe_ratio",
)
CITY_VARIANCE = "city_variance"
_NO_CHANNEL = [k.name for k in KPIS if not k.adjust_for_channel]
_RATES = [k.name for k in KPIS if k.kind == "rate"]


def with_stratum(long: DataFrame) -> DataFrame:
    """Adds ``stratum``: complexity|online_capable|steps_band|first_channel (``*`` in place of
    the channel for channel KPIs). Needs the strata columns of the case features."""
    channel = F.when(F.col(KPI).isin(*_NO_CHANNEL), F.lit("*")).otherwise(F.col(C.FIRST_CHANNEL))
    return long.withColumn(
        STRATUM,
        F.concat_ws("|", F.col(C.COMPLEXITY), F.col(C.ONLINE_CAPABLE), F.col(STEPS_BAND), channel),
    )


def summarize_adjusted(long: DataFrame, *, keys: Sequence[str]) -> DataFrame:
    """Observed, expected (from the unit's case mix), city and adjusted values per keys x kpi.

    ``long`` is ``kpis.to_long`` of cells that carry the strata columns; ``keys`` must include
    period and grain. Stratum rates and the city value are computed over every row of the
    period (all departments), whatever ``keys`` groups by. A unit with denominator 0 has null
    observed / expected / adjusted.
    """
    s = with_stratum(long)
    rates = s.groupBy(PERIOD, GRAIN, KPI, STRATUM).agg(
        F.try_divide(F.sum(NUM), F.sum(DEN)).alias("_rate"),
    )
    city = s.groupBy(PERIOD, GRAIN, KPI).agg(
        F.sum(NUM).alias("_cn"), F.sum(DEN).alias("_cd"), F.sum(SQ).alias("_cs")
    )
    city = city.select(
        PERIOD,
        GRAIN,
        KPI,
        F.when(F.col("_cd") > 0, F.try_divide(F.col("_cn"), F.col("_cd"))).alias(CITY),
        F.when(
            F.col("_cd") > 1,
            F.try_divide(F.col("_cs"), F.col("_cd"))
            - F.pow(F.try_divide(F.col("_cn"), F.col("_cd")), 2),
        ).alias(CITY_VARIANCE),
    )
    j = s.join(rates, [PERIOD, GRAIN, KPI, STRATUM], "left").withColumn(
        "_exp", F.col(DEN) * F.coalesce(F.col("_rate"), F.lit(0.0))
    )
    out = j.groupBy(*keys, KPI).agg(
        F.sum(N_APPLICATIONS).alias(N_APPLICATIONS),
        F.sum(NUM).alias(NUM),
        F.sum(DEN).alias(DEN),
        F.sum(SQ).alias(SQ),
        F.sum("_exp").alias("_exp"),
    )
    has = F.col(DEN) > 0
    out = (
        out.join(city, [PERIOD, GRAIN, KPI], "left")
        .withColumn(OBSERVED, F.when(has, F.try_divide(F.col(NUM), F.col(DEN))))
        .withColumn(EXPECTED, F.when(has, F.try_divide(F.col("_exp"), F.col(DEN))))
    )
    adjusted = F.col(CITY) + F.col(OBSERVED) - F.col(EXPECTED)
    rate = F.col(KPI).isin(*_RATES)
    return (
        out.withColumn(
            ADJUSTED,
            # greatest/least skip nulls: without the guard a unit with no data would read 0.
            F.when(F.col(OBSERVED).isNull(), F.lit(None).cast("double"))
            .when(rate, F.least(F.lit(1.0), F.greatest(F.lit(0.0), adjusted)))
            .otherwise(adjusted),
        )
        .withColumn(
            OE_RATIO, F.when(F.col(EXPECTED) > 0, F.try_divide(F.col(OBSERVED), F.col(EXPECTED)))
        )
        .drop("_exp")
    )
