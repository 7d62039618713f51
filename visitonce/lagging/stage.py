"""The lagging stage: step timings -> basis -> workload adjustment -> comparisons -> flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce.config import CalendarConfig, LaggingConfig
from visitonce.lagging import adjust, flags, timings
from visitonce.lagging.transitions import to_step_transitions


def find_lagging_steps(
    events: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    calendar: CalendarConfig,
    config: LaggingConfig,
    time_zone: str,
    as_of: dt.datetime,
) -> tuple[DataFrame, DataFrame]:
    """(step timings, lagging_steps) from clean events; see the modules for each part.

    The step timings, adjusted observations and item-step summaries are persisted (each is read
    more than once); the stage clears the cache after writing.
    """
    # Persisted: written as step_timings/ and read again by the adjustment (computing the
    # working-time columns twice was the stage's largest cost).
    steps = timings.to_step_timings(
        events,
        calendar=calendar,
        time_zone=time_zone,
        as_of=as_of,
        day_start=config.work_day_start,
        day_end=config.work_day_end,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    obs = adjust.to_observations(
        steps,
        catalog=catalog,
        roster=roster,
        calendar=calendar,
        time_zone=time_zone,
        day_start=config.work_day_start,
        day_end=config.work_day_end,
    )
    obs = adjust.with_basis(
        obs, off_hours_share=config.basis_off_hours_share, min_s=config.basis_min_s
    )
    adjusted = adjust.with_adjusted_durations(obs).persist(StorageLevel.MEMORY_AND_DISK)
    result = flags.to_lagging_steps(adjusted, config)
    return steps, result


def lagging_stage(ctx: Any) -> dict[str, Any]:
    """Pipeline stage: reads events, catalog, roster; writes step_timings/, lagging_steps/ and
    step_transitions/."""
    from visitonce import io, schemas

    spark, req = ctx.spark, ctx.req
    with ctx.timer.stage("lagging"):
        ctx.say("timing steps and judging lagging steps")
        events = spark.read.parquet(req.table("events"))
        catalog = spark.read.parquet(req.table("catalog")) if req.catalog else None
        roster = spark.read.parquet(req.table("roster")) if req.roster else None
        steps, lagging = find_lagging_steps(
            events,
            catalog=catalog,
            roster=roster,
            calendar=req.config.calendar,
            config=req.config.lagging,
            time_zone=req.config.ingest.time_zone,
            as_of=req.as_of,
        )
        mb = req.config.output.target_file_mb
        for name, df in (("step_timings", steps), ("lagging_steps", lagging)):
            io.write_table(df, req.table(name), schemas.load(name), target_file_mb=mb)
        spark.catalog.clearCache()
        io.write_table(
            to_step_transitions(spark.read.parquet(req.table("step_timings"))),
            req.table("step_transitions"),
            schemas.load("step_transitions"),
            target_file_mb=mb,
        )
        written = spark.read.parquet(req.table("lagging_steps"))
        counts = {r["status"]: int(r["count"]) for r in written.groupBy("status").count().collect()}
        ctx.outputs["step_timings"] = req.table("step_timings")
        ctx.outputs["lagging_steps"] = req.table("lagging_steps")
        ctx.outputs["step_transitions"] = req.table("step_transitions")
        return {
            "item_steps": sum(counts.values()),
            "flagged": int(written.where(F.col("flagged")).count()),
            "by_status": dict(sorted(counts.items())),
        }
