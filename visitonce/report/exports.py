"""Exports for downstream tools: scorecards (CSV / JSON) with small-cell suppression, and
applications as Open311 GeoReport v2 service requests, pseudonymous only.

Suppression rule (k = ``reports.k_suppress``): a scorecard row of fewer than k applications
keeps only its period and department; every figure (including the count itself) is blanked
and ``suppressed`` is true. In the requests export an area code (``zipcode``) shared by fewer
than k requests is blanked, and nothing that could point at a person is written: the request
id is a keyed pseudonym of the application id, and there is no address, place key,
coordinate, applicant or free text.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.pseudonym import pseudonym

# Columns of a scorecard row that identify it and are never blanked.
KEEP = ("period", "department", "config_hash", "method_version")
OPEN311_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
)  # fmt: skip


def suppress_scorecards(df: pd.DataFrame, *, k: int) -> pd.DataFrame:
    """Scorecards for publication: rows with fewer than ``k`` applications (or an unknown
    count) blanked except their keys; adds ``suppressed`` (bool)."""
    out = df.copy()
    n = pd.to_numeric(out["n_applications"], errors="coerce")
    small = n.isna() | (n < k)
    blank = [c for c in out.columns if c not in KEEP]
    out[blank] = out[blank].astype(object)
    out.loc[small, blank] = None
    out["suppressed"] = small.to_numpy()
    return out.sort_values(["period", "department"], kind="mergesort").reset_index(drop=True)


def scorecard_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN as null, numpy scalars as Python numbers."""
    rows = []
    for r in df.to_dict("records"):
        clean = {}
        for key, v in r.items():
            if isinstance(v, np.ndarray):  # array columns (e.g. unavailable_kpis)
                v = v.tolist()
            elif hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float) and math.isnan(v):
                v = None
            clean[key] = v
        rows.append(clean)
    return rows


def _iso(c: Any) -> Any:
    # session time zone is UTC (visitonce.spark): XXX renders it as Z
    return F.date_format(c, "yyyy-MM-dd'T'HH:mm:ssXXX")


def to_open311_requests(
    applications: DataFrame,
    *,
    key: bytes,
    k: int,
    time_zone: str,
    catalog: DataFrame | None = None,
) -> DataFrame:
    """Applications (contract columns) as Open311 GeoReport v2 requests, one row each, sorted
    by request time. Needs application_id, service_item, department, applied_at,
    completed_at, is_open, due_date, district, first_channel, n_visits, on_time_status.

    ``status`` is open/closed; ``expected_datetime`` is the end of the promised due date in
    ``time_zone``; ``extended_attributes`` holds channel, visits and on-time status.
    """
    apps = applications
    if catalog is not None and "item_name" in catalog.columns:
        names = catalog.select(C.SERVICE_ITEM, F.col("item_name")).dropDuplicates([C.SERVICE_ITEM])
        apps = apps.join(F.broadcast(names), C.SERVICE_ITEM, "left")
    else:
        apps = apps.withColumn("item_name", F.lit(None).cast("string"))
    area = F.count(F.lit(1)).over(Window.partitionBy(C.DISTRICT))
    due_end = F.to_utc_timestamp(
        F.to_timestamp(F.concat(F.date_format("due_date", "yyyy-MM-dd"), F.lit(" 23:59:59"))),
        time_zone,
    )
    null = F.lit(None).cast("string")
    return (
        apps.withColumn("_area_n", area)
        .select(
            pseudonym(F.col(C.APPLICATION_ID), key=key, domain="request").alias(
                "service_request_id"
            ),
            F.when(F.col("is_open"), F.lit("open")).otherwise(F.lit("closed")).alias("status"),
            F.col("on_time_status").alias("status_notes"),
            F.coalesce(F.col("item_name"), F.col(C.SERVICE_ITEM)).alias("service_name"),
            F.col(C.SERVICE_ITEM).alias("service_code"),
            null.alias("description"),
            F.col(C.DEPARTMENT).alias("agency_responsible"),
            null.alias("service_notice"),
            _iso(F.col("applied_at")).alias("requested_datetime"),
            _iso(F.col("completed_at")).alias("updated_datetime"),
            _iso(due_end).alias("expected_datetime"),
            null.alias("address"),
            null.alias("address_id"),
            F.when(F.col("_area_n") >= k, F.col(C.DISTRICT)).alias("zipcode"),
            F.lit(None).cast("double").alias("lat"),
            F.lit(None).cast("double").alias("long"),
            null.alias("media_url"),
            F.struct(
                F.col("first_channel").alias("channel"),
                F.col("n_visits").alias("visits"),
                F.col("on_time_status").alias("on_time_status"),
            ).alias("extended_attributes"),
        )
        .orderBy("requested_datetime", "service_request_id")
    )


def to_json_lines(df: DataFrame, *, prefix: str = "") -> DataFrame:
    """One JSON object per row (nulls kept, as Open311 clients expect every field), as a
    single string column ``value``, each starting with ``prefix``."""
    obj = F.to_json(F.struct(*df.columns), {"ignoreNullFields": "false"})
    return df.select(F.concat(F.lit(prefix), obj).alias("value"))
