"""Equity views: every KPI by channel, district, citizen type and age band, per department.

A group's adjusted value uses the same case-mix standardization as the department's
(visitonce.scorecard.casemix): city stratum values of the period, the group's own mix. The gap
is the group's adjusted value minus its department's; a group whose denominator is below k is
flagged ``small_group``: it is shown, never dropped (missing values form the group
``unknown``). Suppression of small cells in published exports belongs to the reports.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.scorecard import casemix as CM
from visitonce.scorecard.kpis import (
    DEN,
    EQUITY_DIMENSIONS,
    GRAIN,
    KPI,
    N_APPLICATIONS,
    N_WAITS,
    NUM,
    PERIOD,
    summarize_wait_p90,
)

DIMENSION, GROUP = "dimension", "group"


def summarize_equity(
    long: DataFrame,
    departments: DataFrame,
    *,
    min_group: int,
    rows: DataFrame | None = None,
    waits: DataFrame | None = None,
) -> DataFrame:
    """Equity rows (scorecard_equity columns without config_hash / method_version).

    ``long`` is ``kpis.to_long`` of cells keyed by period, grain, department, the strata and
    the equity columns; ``departments`` is ``casemix.summarize_adjusted`` by period, grain,
    department (its ``adjusted`` is the reference of the gap). With ``rows`` (period rows) and
    ``waits`` (``kpis.to_waits``), the groups' wait_p90_minutes is added (observed only).
    """
    ref = departments.select(
        PERIOD, GRAIN, C.DEPARTMENT, KPI, F.col(CM.ADJUSTED).alias("department_adjusted")
    )
    parts = []
    for dim, column in EQUITY_DIMENSIONS.items():
        adj = CM.summarize_adjusted(long, keys=[PERIOD, GRAIN, C.DEPARTMENT, column])
        parts.append(
            adj.select(
                PERIOD,
                GRAIN,
                C.DEPARTMENT,
                F.lit(dim).alias(DIMENSION),
                F.col(column).alias(GROUP),
                KPI,
                N_APPLICATIONS,
                NUM,
                DEN,
                CM.OBSERVED,
                CM.EXPECTED,
                CM.ADJUSTED,
            )
        )
        if rows is not None and waits is not None:
            p90 = summarize_wait_p90(waits, rows, keys=[PERIOD, GRAIN, C.DEPARTMENT, column])
            parts.append(
                p90.select(
                    PERIOD,
                    GRAIN,
                    C.DEPARTMENT,
                    F.lit(dim).alias(DIMENSION),
                    F.col(column).alias(GROUP),
                    F.lit("wait_p90_minutes").alias(KPI),
                    F.lit(None).cast("long").alias(N_APPLICATIONS),
                    F.lit(None).cast("double").alias(NUM),
                    F.col(N_WAITS).cast("double").alias(DEN),
                    F.col("wait_p90_minutes").alias(CM.OBSERVED),
                    F.lit(None).cast("double").alias(CM.EXPECTED),
                    F.lit(None).cast("double").alias(CM.ADJUSTED),
                )
            )
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    out = out.join(ref, [PERIOD, GRAIN, C.DEPARTMENT, KPI], "left")
    return (
        out.withColumn("gap", F.col(CM.ADJUSTED) - F.col("department_adjusted"))
        .withColumn("small_group", F.coalesce(F.col(DEN), F.lit(0.0)) < F.lit(float(min_group)))
        .withColumn(N_APPLICATIONS, F.coalesce(F.col(N_APPLICATIONS), F.lit(0)).cast("long"))
    )
