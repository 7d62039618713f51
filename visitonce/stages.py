"""The stages after ingest: the registry the pipeline runs in order, and the foundation stage
(step facts and applications, in one pass by application) that every other stage reads.

Each analytic stage lives in its package (``visitonce/<capability>/stage.py``) and depends only
on ``visitonce.context``, never on the pipeline that runs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import io, schemas
from visitonce.applications import to_applications
from visitonce.bundles.stage import bundles_stage
from visitonce.config import Config, ConfigError
from visitonce.context import RunRequest, Stage, StageContext, Timer
from visitonce.demand.stage import demand_stage
from visitonce.facts import to_step_facts
from visitonce.lagging.stage import lagging_stage
from visitonce.monitor.stage import monitor_stage
from visitonce.report.stage import reports_stage
from visitonce.scorecard.stage import scorecards_stage


def facts_and_applications(
    events: DataFrame, *, catalog: DataFrame | None, config: Config, as_of: dt.datetime
) -> tuple[DataFrame, DataFrame]:
    """(step facts, applications) of clean events in one shuffle by application: the facts are
    persisted (the caller unpersists them) and the applications are grouped from them, which
    are already partitioned by application."""
    facts = to_step_facts(
        events,
        calendar=config.calendar,
        time_zone=config.ingest.time_zone,
        day_start=config.lagging.work_day_start,
        day_end=config.lagging.work_day_end,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    apps = to_applications(
        facts,
        catalog=catalog,
        calendar=config.calendar,
        time_zone=config.ingest.time_zone,
        as_of=as_of,
    )
    return facts, apps


# What the step facts and applications were last built on (``_basis``): an interval run updates
# them only when this is unchanged; otherwise, or when the file is absent, they are rebuilt.
BASIS = "state/applications_basis.json"


def _basis(req: RunRequest, catalog: DataFrame | None) -> dict[str, Any]:
    """What the facts and applications depend on besides the events and as_of: the calendar,
    time zone and working day, the contracts' versions and the catalog's rows."""
    config = req.config
    rows = [] if catalog is None else sorted(map(str, catalog.collect()))
    return {
        "calendar": config.to_dict()["calendar"],
        "time_zone": config.ingest.time_zone,
        "work_day": [config.lagging.work_day_start, config.lagging.work_day_end],
        "contracts": [schemas.load(t).version for t in ("step_facts", "applications")],
        "catalog": hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest(),
    }


def _previous_basis(spark: SparkSession, req: RunRequest) -> dict[str, Any] | None:
    uri = req.table(BASIS)
    if not (io.exists(spark, uri) and io.has_data(spark, req.table("step_facts"))):
        return None
    if not io.has_data(spark, req.table("applications")):
        return None
    return json.loads(io.read_text(spark, uri))


def updated_facts_and_applications(
    spark: SparkSession,
    req: RunRequest,
    *,
    catalog: DataFrame | None,
    written_dates: list[str],
) -> tuple[DataFrame, DataFrame, int]:
    """(step facts, applications, applications recomputed) of the warehouse after an interval
    run wrote the events of ``written_dates``, from the tables as they were before it.

    Touched: the applications with events on a written date, now or before (a rerun of a day
    may drop some). Their facts are rebuilt from all their events (read from the earliest date
    one of them was applied on); every other application's facts stay as written (they do not
    depend on as_of). Applications are recomputed for the touched and for every open one (its
    on-time status depends on as_of); the others stay. The facts and the touched applications
    are persisted (the caller clears the cache once both tables are written)."""
    dates = [dt.date.fromisoformat(d) for d in written_dates]
    config = req.config
    tz = config.ingest.time_zone
    old_facts = spark.read.parquet(req.table("step_facts"))
    old_apps = spark.read.parquet(req.table("applications"))
    events = spark.read.parquet(req.table("events"))
    on_dates = F.col(C.EVENT_DATE).isin(*dates) if dates else F.lit(False)
    key = [C.APPLICATION_ID]
    touched = F.broadcast(
        events.where(on_dates)
        .select(*key)
        .unionByName(old_facts.where(on_dates).select(*key))
        .distinct()
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # (a local date computed in Spark: a collected timestamp would be in the driver's zone)
    first = (
        old_facts.join(touched, key, "left_semi")
        .agg(F.min(F.to_date(F.from_utc_timestamp(C.APPLIED_AT, tz))))
        .first()[0]
    )
    bounds = list(dates)
    if first is not None:
        bounds.append(first)
    their_events = events.join(touched, key, "left_semi")
    if bounds:  # a partition filter: only the days the touched applications have events on
        their_events = their_events.where(F.col(C.EVENT_DATE) >= F.lit(min(bounds)))
    fresh = to_step_facts(
        their_events,
        calendar=config.calendar,
        time_zone=tz,
        day_start=config.lagging.work_day_start,
        day_end=config.lagging.work_day_end,
    )
    facts = (
        old_facts.join(touched, key, "left_anti")
        .unionByName(fresh.select(*old_facts.columns))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    recompute = F.broadcast(
        touched.unionByName(old_apps.where(F.col(C.IS_OPEN)).select(*key))
        .distinct()
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    n_recomputed = recompute.count()
    apps = old_apps.join(recompute, key, "left_anti").unionByName(
        schemas.conform(
            to_applications(
                facts.join(recompute, key, "left_semi"), catalog=catalog,
                calendar=config.calendar, time_zone=tz, as_of=req.as_of,
            ),
            schemas.load("applications"),
        )
    )  # fmt: skip
    return facts, apps, n_recomputed


def run_applications(
    spark: SparkSession,
    req: RunRequest,
    *,
    timer: Timer,
    written_dates: list[str] | None = None,
) -> dict[str, Any]:
    """Derive step facts and applications, in one pass by application; returns their row
    counts (observed while writing, not re-read) and how they were derived.

    ``written_dates``: the event dates this run's ingest wrote. With an interval
    (``req.start``/``end``) and a warehouse whose facts and applications were built on the same
    basis (calendar, zone, working day, catalog), only the applications those dates touched
    (and the open ones) are recomputed (``updated_facts_and_applications``); otherwise both
    tables are derived from the whole events table.
    """
    with timer.stage("applications"):
        catalog = spark.read.parquet(req.table("catalog")) if req.catalog else None
        basis = _basis(req, catalog)
        interval = req.start is not None or req.end is not None
        incremental = (
            interval and written_dates is not None and _previous_basis(spark, req) == basis
        )
        # An interrupted run leaves no basis: the next one rebuilds rather than trust tables
        # that may be half updated.
        io.delete(spark, req.table(BASIS))
        if incremental:
            facts, apps, recomputed = updated_facts_and_applications(
                spark, req, catalog=catalog, written_dates=written_dates or []
            )
        else:
            facts, apps = facts_and_applications(
                spark.read.parquet(req.table("events")),
                catalog=catalog,
                config=req.config,
                as_of=req.as_of,
            )
            recomputed = None
        counts: dict[str, Any] = {}
        # Applications first: in an update they are computed from the facts, which read the
        # old step_facts/ until the new table replaces it.
        for name, df in (("applications", apps), ("step_facts", facts)):
            seen = Observation(name)
            io.write_table(
                df.observe(seen, F.count(F.lit(1)).alias("rows")),
                req.table(name),
                schemas.load(name),
                target_file_mb=req.config.output.target_file_mb,
            )
            counts[name] = int(seen.get["rows"])
        # Everything this stage persisted, including an update's touched applications: a
        # cached plan over the replaced tables must not serve a later read of the same paths.
        spark.catalog.clearCache()
        io.write_text(spark, req.table(BASIS), json.dumps(basis, indent=2, sort_keys=True))
        counts["mode"] = "incremental" if incremental else "full"
        if recomputed is not None:
            counts["applications_recomputed"] = recomputed
        return counts


def applications_stage(ctx: StageContext) -> dict[str, Any]:
    ctx.say("deriving step facts and applications")
    counts = run_applications(
        ctx.spark, ctx.req, timer=ctx.timer, written_dates=ctx.counts.get("event_dates")
    )
    for name in ("applications", "step_facts"):
        ctx.outputs[name] = ctx.req.table(name)
    section = {"rows": counts["applications"], "step_facts": counts["step_facts"]}
    section["mode"] = counts["mode"]
    if "applications_recomputed" in counts:
        section["applications_recomputed"] = counts["applications_recomputed"]
    return section


def analytic_stages() -> list[tuple[str, Stage]]:
    """The stages that run after ingest, in order. A capability adds its stage here."""
    return [
        ("applications", applications_stage),
        ("bundles", bundles_stage),
        ("lagging", lagging_stage),
        ("monitor", monitor_stage),
        ("scorecards", scorecards_stage),
        ("demand", demand_stage),
        ("reports", reports_stage),  # last: draws on every table above
    ]


def check_stages(stages: Collection[str] | None) -> None:
    """Fail with a one-line ConfigError when a requested stage does not exist."""
    known = [name for name, _ in analytic_stages()]
    unknown = set(stages or ()) - set(known)
    if unknown:
        raise ConfigError(f"unknown stage(s) {sorted(unknown)}: choose from {', '.join(known)}")
