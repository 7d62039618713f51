"""The demand stage: demand profiles, the counter forecast, the staffing plan, service hours,
the digital take-up gap and reform priorities (docs/methodology-demand.md).

Only this module reads and writes tables; everything it collects to the driver is small: the
data's first and last dates, per-centre forecast errors, one calibration factor and per-centre
staffing gaps and peak hours.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from visitonce import messages as MSG
from visitonce.config import DemandConfig
from visitonce.demand import channels, counter, priorities, profiles, staffing
from visitonce.demand import forecast as FC

TABLES = (
    "demand",
    "demand_forecast",
    "staffing_plan",
    "service_hours",
    "digital_gap",
    "reform_priorities",
)


def plan_demand(
    spark: SparkSession,
    events: DataFrame,
    *,
    applications: DataFrame,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    lagging_steps: DataFrame | None,
    config: DemandConfig,
    time_zone: str,
) -> tuple[dict[str, DataFrame], dict[str, Any]]:
    """The demand tables (by name, unwritten) and the manifest section with the figures worth
    auditing. Intermediate tables read more than once are persisted; the caller clears the
    cache after writing."""
    section: dict[str, Any] = {}
    target_s = config.target_wait_minutes * 60.0
    arrivals = counter.to_counter_arrivals(events, time_zone=time_zone)
    hours = counter.summarize_hours(arrivals, target_wait_s=target_s).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    contacts = profiles.to_first_contacts(events, time_zone=time_zone).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    out: dict[str, DataFrame] = {}

    first_contact, last_contact = contacts.agg(
        F.min(counter.LOCAL_DATE), F.max(counter.LOCAL_DATE)
    ).first()
    if last_contact is not None:
        out["demand"] = profiles.to_demand(
            contacts, last=last_contact, period_days=config.period_days, min_group=config.min_group
        )
        start = last_contact - dt.timedelta(days=config.period_days - 1)
        covered = min(config.period_days, max(0, (start - first_contact).days))
        section["demand"] = {
            "period_start": start.isoformat(),
            "period_end": last_contact.isoformat(),
            # trends against a partly covered previous period overstate growth
            "previous_period_days_with_data": covered,
        }

    # --- forecast ---
    hourly = FC.to_hourly_counts(hours).persist(StorageLevel.MEMORY_AND_DISK)
    first, last = hourly.agg(F.min(counter.LOCAL_DATE), F.max(counter.LOCAL_DATE)).first()
    methods: dict[str, str] = {}
    if first is not None:
        n_days = (last - first).days + 1
        fc: dict[str, Any] = {"history_days": n_days, "holdout_days": config.holdout_days}
        if n_days >= config.holdout_days + 14:
            errors = [
                r.asDict()
                for r in FC.summarize_holdout_errors(
                    hourly, first=first, last=last, holdout_days=config.holdout_days
                ).collect()
            ]
            methods = FC.choose_methods(errors)
            fc["holdout_start"] = (last - dt.timedelta(days=config.holdout_days - 1)).isoformat()
            fc["errors"] = FC.error_figures(errors)
            fc["errors_by_center"] = {
                c: {
                    r["method"]: round(r["abs_err"] / r["actual"], 4) if r["actual"] else None
                    for r in errors
                    if r["center"] == c
                }
                for c in sorted(methods)
            }
        else:
            msg = MSG.message("forecast.not_judged", days=n_days)
            fc["note"], fc["note_message"] = MSG.english(msg), msg
        fc["methods"] = methods
        section["forecast"] = fc
        out["demand_forecast"] = FC.to_forecast(
            hourly, first=first, last=last, horizon_days=config.horizon_days, methods=methods
        )

    # --- staffing ---
    cells = staffing.to_staffing_cells(hours, counter.open_days(hours), roster).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    k = config.official_time_factor
    calibrated = k is None and roster is not None
    if k is None and roster is not None:
        k = staffing.summarize_calibration(
            cells,
            target_wait_min=config.target_wait_minutes,
            service_level=config.service_level,
            max_servers=config.max_servers,
        ).first()[0]
    k = float(k) if k is not None else 1.0
    plan = staffing.to_staffing_plan(
        staffing.with_officials_needed(
            cells,
            official_time_factor=k,
            target_wait_min=config.target_wait_minutes,
            service_level=config.service_level,
            max_servers=config.max_servers,
        )
    ).persist(StorageLevel.MEMORY_AND_DISK)
    out["staffing_plan"] = plan
    gaps = staffing.summarize_gaps(plan).collect()
    target = MSG.message(
        "staffing.target",
        level=f"{config.service_level:.0%}",
        minutes=f"{config.target_wait_minutes:g}",
    )
    section["staffing"] = {
        "official_time_factor": round(k, 3),
        "calibrated": calibrated,
        "target": MSG.english(target),
        "target_message": target,
        "weekday_gap_by_center": {r["center"]: round(r["mean_gap"], 2) for r in gaps},
        "short_centers": [r["center"] for r in gaps if r["mean_gap"] <= -1.0],
    }
    service_hours = channels.to_service_hours(plan, min_group=config.min_group)
    out["service_hours"] = service_hours
    peaks = service_hours.where("is_peak").select("center", "hour").distinct().collect()
    peak_map: dict[str, list[int]] = {}
    for r in peaks:
        peak_map.setdefault(r["center"], []).append(int(r["hour"]))
    section["peak_hours"] = {c: sorted(h) for c, h in sorted(peak_map.items())}

    # --- channels and priorities ---
    if catalog is not None:
        out["digital_gap"] = channels.to_digital_gap(contacts, catalog, min_group=config.min_group)
    out["reform_priorities"] = priorities.to_reform_priorities(
        applications, events, lagging_steps, min_group=config.min_group
    )
    return out, section


def demand_stage(ctx: Any) -> dict[str, Any]:
    """Pipeline stage: reads step_facts, applications, catalog, roster and lagging_steps (when
    the lagging stage ran); writes the demand tables."""
    from visitonce import io, schemas

    spark, req = ctx.spark, ctx.req
    with ctx.timer.stage("demand"):
        ctx.say("profiling demand, forecasting counters and planning staff")
        events = spark.read.parquet(req.table("step_facts"))
        applications = spark.read.parquet(req.table("applications"))
        catalog = spark.read.parquet(req.table("catalog")) if req.catalog else None
        roster = spark.read.parquet(req.table("roster")) if req.roster else None
        lagging = (
            spark.read.parquet(req.table("lagging_steps"))
            if "lagging_steps" in ctx.outputs
            else None
        )
        tables, section = plan_demand(
            spark,
            events,
            applications=applications,
            catalog=catalog,
            roster=roster,
            lagging_steps=lagging,
            config=req.config.demand,
            time_zone=req.config.ingest.time_zone,
        )
        rows: dict[str, int] = {}
        for name in TABLES:
            if name not in tables:
                continue
            io.write_table(
                tables[name],
                req.table(name),
                schemas.load(name),
                target_file_mb=req.config.output.target_file_mb,
            )
            ctx.outputs[name] = req.table(name)
            rows[name] = spark.read.parquet(req.table(name)).count()
        spark.catalog.clearCache()
        if catalog is None:
            section["digital_gap"] = "no catalog: online capability unknown, table not written"
        section["lagging_steps_used"] = lagging is not None
        return {"rows": rows, **section}
