"""The lagging stage: step facts at as_of -> basis -> workload adjustment -> comparisons ->
flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from visitonce import facts as TM
from visitonce.config import CalendarConfig, LaggingConfig
from visitonce.facts import alive_since
from visitonce.facts import at_as_of as facts_at
from visitonce.lagging import adjust, flags
from visitonce.lagging.flags import judged_dates
from visitonce.lagging.transitions import to_step_transitions


def find_lagging_steps(
    facts: DataFrame,
    *,
    catalog: DataFrame | None,
    roster: DataFrame | None,
    calendar: CalendarConfig,
    config: LaggingConfig,
    time_zone: str,
    as_of: dt.datetime,
) -> tuple[DataFrame, DataFrame]:
    """(step facts at ``as_of``, lagging_steps) from the step facts (``visitonce.facts``); see
    the modules for each part.

    Only the steps of the judged period and the history before it are observed (the basis and
    the workload fit are estimated on them, as the comparisons are), read from the applications
    alive then (``facts.alive_since``: their covariates are as in all the facts), so a daily
    run's cost stops growing with the warehouse's history. The returned facts at ``as_of`` are
    all of them (step transitions cover the whole history).
    The facts at ``as_of`` (open steps run to it), adjusted observations and item-step
    summaries are persisted (each is read more than once); the stage clears the cache after
    writing.
    """
    lo, hi = facts.agg(F.min(TM.LOCAL_DATE), F.max(TM.LOCAL_DATE)).first()
    steps = facts_at(
        facts,
        as_of=as_of,
        calendar=calendar,
        time_zone=time_zone,
        day_start=config.work_day_start,
        day_end=config.work_day_end,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    recent, since = steps, None
    if hi is not None:  # the judged period and the history before it, nothing older
        since = judged_dates(hi, config)[1]
        recent = alive_since(steps, since, time_zone=time_zone)
    obs = adjust.to_observations(
        recent,
        catalog=catalog,
        roster=roster,
        calendar=calendar,
        time_zone=time_zone,
        day_start=config.work_day_start,
        day_end=config.work_day_end,
    )
    if since is not None:
        obs = obs.where(F.col(TM.LOCAL_DATE) >= F.lit(since))
    obs = adjust.with_basis(
        obs,
        off_hours_share=config.basis_off_hours_share,
        min_s=config.basis_min_s,
        batch_share=config.batch_stamp_share,
    )
    adjusted = adjust.with_adjusted_durations(obs).persist(StorageLevel.MEMORY_AND_DISK)
    result = flags.to_lagging_steps(adjusted, config, dates=(lo, hi))
    return steps, result


def lagging_stage(ctx: Any) -> dict[str, Any]:
    """Pipeline stage: reads step_facts, catalog, roster; writes lagging_steps/ and
    step_transitions/."""
    from visitonce import io, schemas

    spark, req = ctx.spark, ctx.req
    with ctx.timer.stage("lagging"):
        ctx.say("judging lagging steps")
        catalog = spark.read.parquet(req.table("catalog")) if req.catalog else None
        roster = spark.read.parquet(req.table("roster")) if req.roster else None
        steps, lagging = find_lagging_steps(
            spark.read.parquet(req.table("step_facts")),
            catalog=catalog,
            roster=roster,
            calendar=req.config.calendar,
            config=req.config.lagging,
            time_zone=req.config.ingest.time_zone,
            as_of=req.as_of,
        )
        mb = req.config.output.target_file_mb
        seen = Observation("lagging")
        counted = lagging.observe(seen, F.sum(F.col("flagged").cast("long")).alias("flagged"))
        io.write_table(counted, req.table("lagging_steps"), schemas.load("lagging_steps"),
                       target_file_mb=mb)  # fmt: skip
        io.write_table(
            to_step_transitions(steps),
            req.table("step_transitions"),
            schemas.load("step_transitions"),
            target_file_mb=mb,
        )
        spark.catalog.clearCache()
        written = spark.read.parquet(req.table("lagging_steps"))
        counts = {r["status"]: int(r["count"]) for r in written.groupBy("status").count().collect()}
        ctx.outputs["lagging_steps"] = req.table("lagging_steps")
        ctx.outputs["step_transitions"] = req.table("step_transitions")
        return {
            "item_steps": sum(counts.values()),
            "flagged": int(seen.get["flagged"] or 0),
            "by_status": dict(sorted(counts.items())),
        }
