"""The scorecards stage: KPIs -> case mix -> shrinkage -> composite -> explanations, equity.

Spark does the event- and application-level work (visitonce.scorecard.kpis, casemix, equity);
the per-department aggregates (departments x KPIs x periods: small) are collected once and
scored on the driver (shrink, composite, explain), seeded, so that a run is reproducible.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.config import OutputConfig, ScorecardsConfig
from visitonce.scorecard import casemix as CM
from visitonce.scorecard import composite, explain, kpis, shrink
from visitonce.scorecard.equity import summarize_equity

METHOD_VERSION = "scorecards-1.2"
TABLES = ("scorecards", "scorecard_kpis", "scorecard_equity", "scorecard_explanations")
_SORT = {"month": 0, "quarter": 1, "year": 2}


@dataclass
class ScorecardResult:
    """Everything the stage writes: the two driver-built tables as pandas, the equity table as
    a Spark DataFrame (it stays on the executors), and the manifest figures."""

    scorecards: pd.DataFrame
    kpis: pd.DataFrame
    explanations: pd.DataFrame
    equity: DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    periods: dict[tuple[str, str], composite.PeriodScores] = field(default_factory=dict)
    # The collected per-department inputs of the driver side (re-scoring without Spark).
    departments: pd.DataFrame | None = None
    wait_p90: pd.DataFrame | None = None


def compute_scorecards(
    applications: DataFrame,
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    lagging_steps: DataFrame | None,
    config: ScorecardsConfig,
    time_zone: str,
    as_of: dt.datetime,
    config_hash: str,
) -> ScorecardResult:
    """Scorecards of every period (base grain and roll-ups) present in ``applications``."""
    grains = list(dict.fromkeys([config.grain, *config.rollups]))
    as_of_local = as_of.astimezone(_zone(time_zone)).date()
    features = kpis.to_case_features(
        applications,
        events,
        catalog=catalog,
        lagging_steps=lagging_steps,
        wait_minutes=config.wait_minutes,
        repeat_days=config.repeat_days,
        time_zone=time_zone,
    )
    rows = kpis.to_period_rows(features, grains=grains, as_of=as_of_local).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    equity_cols = [c for c in kpis.EQUITY_DIMENSIONS.values() if c not in kpis.STRATA]
    keys = [kpis.PERIOD, kpis.GRAIN, C.DEPARTMENT, *kpis.STRATA, *equity_cols]
    long = kpis.to_long(kpis.summarize_cells(rows, keys=keys), keys=keys).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    dept_keys = [kpis.PERIOD, kpis.GRAIN, C.DEPARTMENT]
    depts = CM.summarize_adjusted(long, keys=dept_keys).persist(StorageLevel.MEMORY_AND_DISK)
    waits = kpis.to_waits(events)
    p90 = kpis.summarize_wait_p90(waits, rows, keys=dept_keys).toPandas()
    dept_pd = depts.toPandas()
    equity = summarize_equity(
        long, depts, min_group=config.min_group, rows=rows, waits=waits
    ).withColumns({"config_hash": F.lit(config_hash), "method_version": F.lit(METHOD_VERSION)})
    lag_pd = (
        lagging_steps.where(F.col("flagged"))
        .select(C.SERVICE_ITEM, C.STEP, C.DEPARTMENT, "kind", "excess_ratio", "flagged")
        .toPandas()
        if lagging_steps is not None
        else None
    )
    result = score_departments(
        dept_pd, p90, config=config, config_hash=config_hash, lagging=lag_pd, equity=equity
    )
    result.departments, result.wait_p90 = dept_pd, p90
    return result


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _with_availability(dept: pd.DataFrame, p90: pd.DataFrame) -> pd.DataFrame:
    """Add the quantile KPI rows and ``available`` (the city denominator of the period > 0)."""
    dept = dept.copy()
    city_den = dept.groupby(["period", "grain", "kpi"])["denominator"].transform("sum")
    dept["available"] = city_den > 0
    # Rating coverage counts completed applications: it needs ratings to exist in the input.
    rated = dept[dept["kpi"] == "satisfaction_mean"].set_index(["period", "grain", "department"])
    cov = dept["kpi"] == "rating_coverage"
    idx = pd.MultiIndex.from_frame(dept.loc[cov, ["period", "grain", "department"]])
    dept.loc[cov, "available"] = rated["available"].reindex(idx).fillna(False).to_numpy()
    n_apps = dept.groupby(["period", "grain", "department"])["n_applications"].max()
    q = p90.rename(columns={"wait_p90_minutes": "observed", kpis.N_WAITS: "denominator"})
    q = q.assign(kpi="wait_p90_minutes", numerator=np.nan)
    q = q.merge(n_apps.rename("n_applications").reset_index(), on=["period", "grain", "department"])
    full = dept[["period", "grain", "department"]].drop_duplicates()
    q = full.merge(q, on=["period", "grain", "department"], how="left")
    q["kpi"] = "wait_p90_minutes"
    q["n_applications"] = q["n_applications"].fillna(0)
    q["available"] = q.groupby(["period", "grain"])["denominator"].transform("sum").fillna(0) > 0
    return pd.concat([dept, q], ignore_index=True)


def score_departments(
    dept: pd.DataFrame,
    p90: pd.DataFrame,
    *,
    config: ScorecardsConfig,
    config_hash: str,
    lagging: pd.DataFrame | None = None,
    equity: DataFrame | None = None,
) -> ScorecardResult:
    """Driver side: shrink, score, explain; builds the scorecards / scorecard_kpis /
    scorecard_explanations rows from the per-department KPI table (casemix output)."""
    if dept.empty:  # nothing applied for in the interval: empty tables, an honest manifest
        from visitonce import schemas

        def empty(t: str) -> pd.DataFrame:
            return pd.DataFrame(columns=schemas.load(t).names)

        return ScorecardResult(
            scorecards=empty("scorecards"),
            kpis=empty("scorecard_kpis"),
            explanations=empty("scorecard_explanations"),
            equity=equity,  # type: ignore[arg-type]
            manifest={
                "method_version": METHOD_VERSION,
                "config_hash": config_hash,
                "departments": 0,
                "periods": [],
                "band_counts": {},
                "band_change_share_under_weight_perturbation": None,
                "unavailable_kpis": [],
            },  # fmt: skip
        )
    rng = np.random.default_rng(config.seed)
    dept = _with_availability(dept, p90)
    shrunk, estimates = shrink.shrink_kpis(
        dept,
        tau_floor=config.tau_floor,
        funnel_method=config.funnel_overdispersion,
    )
    shrunk.loc[~shrunk["available"], ["observed", "expected", "adjusted", "shrunk", "lo", "hi"]] = (
        np.nan
    )
    keys = sorted(
        shrunk[["period", "grain"]].drop_duplicates().itertuples(index=False, name=None),
        key=lambda pg: (_SORT[pg[1]], pg[0]),
    )
    cards, expl, weights = [], [], []
    results: dict[tuple[str, str], composite.PeriodScores] = {}
    for period, grain in keys:
        g = shrunk[(shrunk["period"] == period) & (shrunk["grain"] == grain)]
        scored = composite.score_period(g, config=config, rng=rng)
        results[(period, grain)] = scored
        city = (
            g[g["available"]].groupby("kpi")["city"].first().dropna().to_dict()
        )  # one value per KPI and period
        prev = results.get((explain.previous_period(period, grain), grain))
        e = explain.explain_period(scored, city, config=config, previous=prev, lagging=lagging)
        if len(e):
            expl.append(e.assign(period=period, grain=grain))
        t = scored.table.assign(period=period, grain=grain)
        wide = g.pivot_table(index="department", columns="kpi", values="observed", dropna=False)
        t = t.merge(wide, left_on="department", right_index=True, how="left")
        n_apps = g.groupby("department")["n_applications"].max()
        t["n_applications"] = t["department"].map(n_apps).fillna(0).astype(int)
        unavailable = sorted(g.loc[~g["available"], "kpi"].unique())
        t["unavailable_kpis"] = [unavailable] * len(t)
        cards.append(t)
        for i, d in enumerate(scored.departments):
            has = np.isfinite(scored.extra["u_point"][i])
            w = composite.effective_weights(has, config)
            weights += [(period, grain, d, k, float(w[j])) for j, k in enumerate(composite.SCORED)]
    card = pd.concat(cards, ignore_index=True) if cards else pd.DataFrame()
    for k in kpis.KPIS:
        if k.name not in card.columns:
            card[k.name] = np.nan
    wdf = pd.DataFrame(weights, columns=["period", "grain", "department", "kpi", "weight"])
    long = shrunk.merge(wdf, on=["period", "grain", "department", "kpi"], how="left")
    long["weight"] = long["weight"].fillna(0.0)
    long["pillar"] = long["kpi"].map(lambda k: kpis.KPI_BY_NAME[k].pillar)
    long["kind"] = long["kpi"].map(lambda k: kpis.KPI_BY_NAME[k].kind)
    long["higher_is_better"] = long["kpi"].map(lambda k: kpis.KPI_BY_NAME[k].higher_is_better)
    long.loc[~long["available"], "funnel_status"] = "unavailable"
    long["funnel_status"] = long["funnel_status"].fillna("no_data")
    long.loc[long["kind"] == "quantile", "funnel_status"] = np.where(
        long.loc[long["kind"] == "quantile", "available"], "no_data", "unavailable"
    )
    expl = [e.dropna(axis=1, how="all") for e in expl]
    explanations = pd.concat(expl, ignore_index=True) if expl else pd.DataFrame()
    for df in (card, long, explanations):
        df["config_hash"] = config_hash
        df["method_version"] = METHOD_VERSION
    base = [r for (p, g), r in results.items() if g == config.grain]
    shares = [r.band_change_share for r in base if r.band_change_share is not None]
    unavailable = sorted(long.loc[~long["available"], "kpi"].unique())
    manifest = {
        "method_version": METHOD_VERSION,
        "config_hash": config_hash,
        "departments": int(card["department"].nunique()) if len(card) else 0,
        "periods": [p for p, _ in keys],
        "band_counts": {
            f"{p}": dict(sorted(r.table["band"].value_counts().to_dict().items()))
            for (p, g), r in results.items()
        },
        "band_change_share_under_weight_perturbation": (
            round(float(np.mean(shares)), 4) if shares else None
        ),
        "unavailable_kpis": unavailable,
        "funnel": _funnel_manifest(long, estimates, config),
    }
    return ScorecardResult(
        scorecards=card,
        kpis=long,
        explanations=explanations,
        equity=equity,  # type: ignore[arg-type]
        manifest=manifest,
        periods=results,
    )


def _funnel_manifest(
    long: pd.DataFrame, estimates: pd.DataFrame, config: ScorecardsConfig
) -> dict[str, Any]:
    """The funnel method, its over-dispersion estimate per KPI (base grain) and the share of
    base-grain cells with data flagged, with and without the adjustment."""
    judged = long["funnel_status"].isin(shrink.FUNNEL_STATUSES) & long["funnel_z_raw"].notna()
    base = long[(long["grain"] == config.grain) & judged]
    inner = float(shrink.stats.norm.ppf(0.5 + shrink.FUNNEL_LEVELS[0] / 2))
    n = len(base)
    est = estimates[estimates["grain"] == config.grain]
    return {
        "method": config.funnel_overdispersion,
        "reference": "Spiegelhalter (2005), Handling over-dispersion of performance indicators",
        "levels": list(shrink.FUNNEL_LEVELS),
        "cells": n,
        "flagged_share": round(float((base["funnel_status"] != "within").mean()), 4) if n else None,
        "flagged_share_unadjusted": (
            round(float((base["funnel_z_raw"].abs() >= inner).mean()), 4) if n else None
        ),
        "status_counts": {k: int(v) for k, v in base["funnel_status"].value_counts().items()},
        "kpis": {
            r.kpi: {
                "phi": round(float(r.phi), 4),
                "tau": float(f"{r.tau_funnel:.4g}"),
                "units": int(r.units),
                "prior_sd": float(f"{r.prior_sd:.4g}"),
            }
            for r in est.itertuples(index=False)
        },
    }


def _native(v: Any) -> Any:
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_native(x) for x in v]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v


def to_spark(spark: SparkSession, pdf: pd.DataFrame, table: str) -> DataFrame:
    """A small driver-built table as a Spark DataFrame of its contract (NaN -> null)."""
    from visitonce import schemas

    contract = schemas.load(table)
    schema = schemas.spark_schema(contract)
    casts = {"integer": int, "long": int, "double": float}
    records = []
    for rec in pdf.to_dict("records") if len(pdf) else []:
        out = []
        for c in contract.columns:
            v = _native(rec.get(c.name))
            if v is not None and c.type in casts:
                v = casts[c.type](v)
            out.append(v)
        records.append(tuple(out))
    return spark.createDataFrame(records, schema=schema, verifySchema=False)


def write_scorecards(
    spark: SparkSession,
    result: ScorecardResult,
    table: Any,
    *,
    target_file_mb: float = OutputConfig.target_file_mb,
) -> None:
    """Write the four tables; ``table(name)`` gives a table's URI."""
    from visitonce import io, schemas

    for name, df in (
        ("scorecards", to_spark(spark, result.scorecards, "scorecards")),
        ("scorecard_kpis", to_spark(spark, result.kpis, "scorecard_kpis")),
        ("scorecard_explanations", to_spark(spark, result.explanations, "scorecard_explanations")),
        ("scorecard_equity", result.equity),
    ):
        io.write_table(df, table(name), schemas.load(name), target_file_mb=target_file_mb)


def scorecards_stage(ctx: Any) -> dict[str, Any]:
    """Pipeline stage: reads applications, step_facts, catalog, lagging_steps (when written);
    writes scorecards/, scorecard_kpis/, scorecard_equity/, scorecard_explanations/."""
    from visitonce import io

    spark, req = ctx.spark, ctx.req
    with ctx.timer.stage("scorecards"):
        ctx.say("scoring departments")
        lag_uri = req.table("lagging_steps")
        result = compute_scorecards(
            spark.read.parquet(req.table("applications")),
            spark.read.parquet(req.table("step_facts")),
            catalog=spark.read.parquet(req.table("catalog")) if req.catalog else None,
            lagging_steps=spark.read.parquet(lag_uri) if io.exists(spark, lag_uri) else None,
            config=req.config.scorecards,
            time_zone=req.config.ingest.time_zone,
            as_of=req.as_of,
            config_hash=req.config.hash(),
        )
        write_scorecards(spark, result, req.table, target_file_mb=req.config.output.target_file_mb)
        spark.catalog.clearCache()
        for t in TABLES:
            ctx.outputs[t] = req.table(t)
        return result.manifest
