"""The bundles stage: read ``applications/``, mine both scopes, write ``bundles/``,
``item_associations/`` and ``bundle_changes/``. The package's only reads and writes."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import io, schemas
from visitonce.bundles.baskets import (
    EVERYONE,
    ITEMS,
    SCOPE,
    SCOPE_CITIZEN,
    SCOPE_PLACE,
    SEGMENT,
    STRATUM,
    TOKEN_PREFIX,
    TOKENS,
    summarize_segments,
    to_baskets,
    with_mining_items,
)
from visitonce.bundles.changes import to_bundle_changes
from visitonce.bundles.fpgrowth import FREQ, ITEMSET, mine_frequent_itemsets
from visitonce.bundles.guard import ItemsetExplosionError
from visitonce.bundles.profile import summarize_bundle_baskets
from visitonce.bundles.select import (
    flag_bundles,
    score_candidates,
    to_reported,
    to_segment_itemsets,
)
from visitonce.config import BundlesConfig, OutputConfig

if TYPE_CHECKING:
    from visitonce.context import StageContext

TABLES = ("bundles", "item_associations", "bundle_changes")


@dataclass
class Mined:
    """The DataFrames of one mining run (lazy), and the figures worth recording."""

    bundles: DataFrame
    associations: DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _label(seg: Any) -> Any:
    return F.when(seg == EVERYONE, F.lit(None).cast("string")).otherwise(
        F.regexp_replace(seg, f"^{TOKEN_PREFIX}", "")
    )


def effective_floor(n_baskets: int, *, min_count: int, min_support: float) -> int:
    """The smallest count an itemset of a segment of ``n_baskets`` baskets can be reported
    with: ``min_count``, and ``min_support`` of the baskets (``score_candidates`` keeps
    ``freq >= min_support * n``; the floor is a hair lower so rounding never drops one)."""
    return max(min_count, math.ceil(min_support * n_baskets - 1e-9))


def mine_scope(
    baskets: DataFrame, *, scope: str, n_baskets: int, min_count: int, config: BundlesConfig
) -> tuple[DataFrame, dict[str, Any], dict[str, int]]:
    """The scope's itemsets (``to_segment_itemsets`` form), its manifest figures and the
    mining floor of each segment mined on its own (none when one pass counted them all).

    One pass over ``mining_items`` counts every segment at once at ``min_count``. When the
    guard-rail refuses that pass (large inputs: a long lookback over a province), each
    segment is mined on its own baskets at its effective floor, max(min_count,
    ceil(min_support x its baskets)): nothing it drops could have been reported, and at scale
    the floor rises with the data, so the itemsets stay few. The figures then carry
    ``segment_floors`` (segment -> floor). A segment that still exceeds ``max_itemsets`` is
    refused with the guard-rail's message, naming it."""
    what = f"{scope} bundles"
    try:
        est, mined = mine_frequent_itemsets(
            baskets, min_count=min_count, n_baskets=n_baskets, cap=config.max_itemsets,
            items_col="mining_items", engine=config.engine, what=what,
        )  # fmt: skip
        figures = {"baskets": n_baskets, "itemset_bound": est.bound}
        return to_segment_itemsets(mined, scope=scope), figures, {}
    except ItemsetExplosionError:
        top = effective_floor(n_baskets, min_count=min_count, min_support=config.min_support)
        if top <= min_count:  # no segment's floor is higher: mining them apart gains nothing
            raise
    sizes = {
        r[SEGMENT]: int(r["n"])
        for r in summarize_segments(baskets)
        .groupBy(SEGMENT)
        .agg(F.sum("n_baskets").alias("n"))
        .collect()
    }
    parts, floors, bound = [], {}, 0
    for seg in sorted(sizes):
        floor = effective_floor(sizes[seg], min_count=min_count, min_support=config.min_support)
        floors[seg] = floor
        if sizes[seg] < floor:  # too few baskets for any itemset to reach the floor
            continue
        rows = baskets if seg == EVERYONE else baskets.where(F.array_contains(TOKENS, seg))
        est, mined = mine_frequent_itemsets(
            with_mining_items(rows.drop("mining_items"), segment_tokens=False),
            min_count=floor, n_baskets=sizes[seg], cap=config.max_itemsets,
            items_col="mining_items", engine=config.engine, what=f"{what}, segment {_name(seg)}",
        )  # fmt: skip
        bound += est.bound
        parts.append(to_segment_itemsets(mined, scope=scope).withColumn(SEGMENT, F.lit(seg)))
    found = parts[0]
    for p in parts[1:]:
        found = found.unionByName(p)
    figures = {
        "baskets": n_baskets,
        "itemset_bound": bound,
        "segment_floors": {_name(seg): f for seg, f in floors.items()},
    }
    return found, figures, floors


def _name(seg: str) -> str:
    return "(all)" if seg == EVERYONE else seg.removeprefix(TOKEN_PREFIX)


def mine_bundles(applications: DataFrame, *, config: BundlesConfig) -> Mined:
    """Mine both scopes of ``applications`` (contract columns). Runs a few small actions
    (basket counts, the guard-rail's histogram) and raises ItemsetExplosionError before
    mining when the itemsets could explode. The returned frames are not yet computed."""
    scopes = {
        SCOPE_CITIZEN: (config.window_days, config.min_count, config.segments, config.strata,
                        (), ()),
        SCOPE_PLACE: (config.place_window_days, config.place_min_count, (), (),
                      config.place_size_bands, config.place_item_bands),
    }  # fmt: skip
    itemsets, summaries, baskets_all, counts = [], [], [], {}
    floors: dict[tuple[str, str], int] = {}  # (scope, segment) -> count below its mining floor
    for scope, (window, min_count, segments, strata, bands, ibands) in scopes.items():
        baskets = with_mining_items(
            to_baskets(
                applications, scope=scope, window_days=window, segments=segments, strata=strata,
                size_bands=bands, item_bands=ibands,
            )
        ).persist(StorageLevel.MEMORY_AND_DISK)  # fmt: skip
        n = baskets.count()
        found, counts[scope], seg_floors = mine_scope(
            baskets, scope=scope, n_baskets=n, min_count=min_count, config=config
        )
        itemsets.append(found)
        floors.update({(scope, seg): floor - 1 for seg, floor in seg_floors.items()})
        summaries.append(summarize_segments(baskets))
        baskets_all.append(baskets.drop("mining_items"))
        if n == 0:  # said in the manifest and on the page, not silently an empty table
            key = C.CITIZEN_ID if scope == SCOPE_CITIZEN else C.LOCATION
            counts[scope]["unavailable"] = (
                f"no {scope} baskets: no application in the period has a {key} "
                "(the export lacks it, e.g. anonymous reports)"
            )
    # Itemsets, candidates and bundles are small tables used many times over: checkpointing
    # them cuts their lineage, so later plans (and their descriptions) stay small.
    union = itemsets[0].unionByName(itemsets[1]).localCheckpoint()
    segments = summaries[0].unionByName(summaries[1]).localCheckpoint()
    scored = flag_bundles(
        score_candidates(
            union,
            segments=segments,
            min_support=config.min_support,
            max_len=config.max_len,
            min_count_below=min(config.min_count, config.place_min_count) - 1,
            floors_below=floors,
        ),
        fdr_alpha=config.fdr_alpha,
        min_lift=config.min_lift,
    ).localCheckpoint()
    reported = to_reported(scored, closure_ratio=config.closure_ratio).localCheckpoint()
    baskets = baskets_all[0].unionByName(baskets_all[1])
    profile = summarize_bundle_baskets(reported, baskets)
    keys = [SCOPE, SEGMENT, ITEMSET]
    bundles = (
        reported.join(profile, keys, "left")
        .withColumn(
            "bundle_id",
            F.substring(
                F.sha2(F.concat_ws("|", SCOPE, SEGMENT, F.array_join(ITEMSET, ",")), 256), 1, 16
            ),
        )
        .select(
            "bundle_id",
            SCOPE,
            _label(F.col(SEGMENT)).alias(SEGMENT),
            F.col(ITEMSET).alias(ITEMS),
            F.coalesce("departments", F.array().cast("array<string>")).alias("departments"),
            F.col(FREQ).alias("n_transactions"),
            "support",
            "lift",
            "confidence",
            F.coalesce("visits_saved", F.lit(0)).cast("long").alias("visits_saved"),
            F.size(ITEMSET).alias("size"),
            F.col("n_transactions").alias("n_baskets"),
            "expected",
            "p_value",
            "q_value",
            "productive_lift",
            "max_confidence",
            "leverage",
            "conviction",
            F.coalesce("cross_department", F.lit(False)).alias("cross_department"),
            F.coalesce("visits_observed", F.lit(0)).cast("long").alias("visits_observed"),
            "typical_order",
            "median_span_days",
            F.coalesce("channels", F.array().cast("array<string>")).alias("channels"),
            "reports_per_basket",
        )
    )
    single = union.where((F.size(ITEMSET) == 1) & (F.col(STRATUM) == EVERYONE)).select(
        SCOPE, SEGMENT, F.get(ITEMSET, 0).alias("_i"), F.col(FREQ).alias("_n")
    )
    pairs = scored.where(F.size(ITEMSET) == 2)
    a = single.withColumnsRenamed({"_i": "item_a", "_n": "n_a"})
    b = single.withColumnsRenamed({"_i": "item_b", "_n": "n_b"})
    associations = (
        pairs.withColumn("item_a", F.get(ITEMSET, 0))
        .withColumn("item_b", F.get(ITEMSET, 1))
        .join(a, [SCOPE, SEGMENT, "item_a"])
        .join(b, [SCOPE, SEGMENT, "item_b"])
        .select(
            SCOPE,
            _label(F.col(SEGMENT)).alias(SEGMENT),
            "item_a",
            "item_b",
            "n_a",
            "n_b",
            F.col(FREQ).alias("n_ab"),
            F.col("n_transactions").alias("n_baskets"),
            "support",
            "expected",
            "lift",
            (F.col(FREQ) / F.col("n_a")).alias("confidence_ab"),
            (F.col(FREQ) / F.col("n_b")).alias("confidence_ba"),
            (F.col(FREQ) / (F.col("n_a") + F.col("n_b") - F.col(FREQ))).alias("jaccard"),
            "p_value",
            "q_value",
            "significant",
        )
    )
    summary = {"scopes": counts, "candidates": scored.count()}
    return Mined(bundles=bundles, associations=associations, summary=summary)


Progress = Callable[[str], None]


def run_bundles(
    spark: SparkSession,
    *,
    warehouse: str,
    config: BundlesConfig,
    out: str | None = None,
    say: Progress | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    target_file_mb: float = OutputConfig.target_file_mb,
) -> dict[str, Any]:
    """Mine ``<warehouse>/applications`` applied for in [start, end) (local dates) and write
    the three tables under ``out`` (default: the warehouse), in the partition of the period's
    last date. With an end and no start, the period is the ``config.lookback_days`` days
    before the end (everything before it when 0); with neither, the whole table. Returns the
    manifest section (counts) with the written URIs."""
    say = say or (lambda _m: None)
    root = out or warehouse
    apps_uri = io.join_uri(warehouse, "applications")
    if not io.exists(spark, apps_uri):
        raise io.InputError(
            f"no applications table at {apps_uri}: run `visitonce run` on this warehouse first"
        )
    if start is None and end is not None and config.lookback_days:
        start = end - dt.timedelta(days=config.lookback_days)
    if start is not None and end is not None and start >= end:
        raise io.InputError(f"bundles: the period [{start}, {end}) is empty: start before end")
    apps = spark.read.parquet(apps_uri)
    if start is not None:
        apps = apps.where(F.col(C.APPLIED_DATE) >= F.lit(start))
    if end is not None:
        apps = apps.where(F.col(C.APPLIED_DATE) < F.lit(end))
    bounds = apps.agg(
        F.min(C.APPLIED_DATE).alias("start"), F.max(C.APPLIED_DATE).alias("end")
    ).first()
    first = start if start is not None else (bounds["start"] if bounds else None)
    last = end - dt.timedelta(days=1) if end is not None else (bounds["end"] if bounds else None)
    uris = {t: io.join_uri(root, t) for t in TABLES}
    if first is None or last is None:
        return {"bundles": 0, "note": "no applications", "outputs": uris}
    period_note = {"period": {"start": first.isoformat(), "end": last.isoformat()}}
    if bounds is None or bounds["end"] is None:
        # nothing applied for in the period: its partitions, if an earlier run wrote them, go
        for table in TABLES:
            io.drop_partition(spark, uris[table], {"period_end": last})
        return {"bundles": 0, "note": "no applications in the period", **period_note,
                "outputs": uris}  # fmt: skip
    say("mining bundles")
    mined = mine_bundles(apps, config=config)
    period = [F.lit(first).cast("date").alias("period_start"), F.lit(last).alias("period_end")]
    bundles = mined.bundles.select("*", *period).persist(StorageLevel.MEMORY_AND_DISK)
    previous = _previous(spark, uris["bundles"], before=last)
    part: dict[str, Any] = {"partition": {"period_end": last}, "target_file_mb": target_file_mb}
    io.write_partition(bundles, uris["bundles"], schemas.load("bundles"), **part)
    io.write_partition(
        mined.associations.withColumn("period_end", F.lit(last)),
        uris["item_associations"],
        schemas.load("item_associations"),
        **part,
    )
    if previous is not None:
        changes = to_bundle_changes(
            bundles, previous, tolerance=config.change_tolerance, period_end=last
        )
    else:
        changes = to_bundle_changes(
            bundles, bundles.limit(0), tolerance=config.change_tolerance, period_end=last
        )
    io.write_partition(changes, uris["bundle_changes"], schemas.load("bundle_changes"), **part)
    by_scope = {r[SCOPE]: int(r["count"]) for r in bundles.groupBy(SCOPE).count().collect()}
    change_counts = {
        r["change"]: int(r["count"]) for r in changes.groupBy("change").count().collect()
    }
    bundles.unpersist()
    return {
        "bundles": sum(by_scope.values()),
        "by_scope": by_scope,
        **period_note,
        "compared_with": None if previous is None else "previous period in bundles/",
        "changes": change_counts,
        **mined.summary,
        "outputs": uris,
    }


def _previous(spark: SparkSession, uri: str, *, before: dt.date) -> DataFrame | None:
    """The latest stored period before ``before`` (materialized: the table is about to be
    overwritten), or None."""
    if not io.exists(spark, uri):
        return None
    stored = spark.read.schema(schemas.spark_schema(schemas.load("bundles"))).parquet(uri)
    stored = stored.where(F.col("period_end") < F.lit(before))
    last = stored.agg(F.max("period_end")).first()
    if last is None or last[0] is None:
        return None
    return stored.where(F.col("period_end") == F.lit(last[0])).localCheckpoint()


def bundles_config(
    config_file: str | None,
    *,
    min_count: int | None = None,
    window_days: int | None = None,
    segments: list[str] | None = None,
) -> BundlesConfig:
    """The bundles section of a config file (or the defaults) with an analyst's overrides;
    raises ConfigError on out-of-range values."""
    import dataclasses

    from visitonce.config import load_config

    base = load_config(config_file).bundles
    changes = {
        "min_count": min_count,
        "window_days": window_days,
        "segments": tuple(segments) if segments else None,
    }
    return dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})


def bundles_stage(ctx: StageContext) -> dict[str, Any] | None:
    """Pipeline stage: mine the warehouse's applications with the run's bundles config; a run
    with an interval mines the ``lookback_days`` before its end (local dates)."""
    from visitonce.context import local_date

    end = local_date(ctx.req.end, time_zone=ctx.req.config.ingest.time_zone)
    with ctx.timer.stage("bundles"):
        result = run_bundles(
            ctx.spark, warehouse=ctx.req.out, config=ctx.req.config.bundles, say=ctx.say,
            end=end, target_file_mb=ctx.req.config.output.target_file_mb,
        )  # fmt: skip
    ctx.outputs.update(result.pop("outputs", {}))
    return result
