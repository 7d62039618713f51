"""From frequent itemsets to bundles: significance, productivity over sub-bundles, redundancy
pruning and segments. A bundle is an itemset, reported once per scope."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from visitonce.bundles.baskets import (
    EVERYONE,
    SCOPE,
    SEGMENT,
    STRATUM,
    STRATUM_PREFIX,
    TOKEN_PREFIX,
)
from visitonce.bundles.fpgrowth import FREQ, ITEMSET
from visitonce.bundles.metrics import (
    poisson_sf_ge,
    subset_masks,
    to_rules,
    with_null_expectation,
    with_q_values,
)

KEYS = (SCOPE, SEGMENT)


def to_segment_itemsets(mined: DataFrame, *, scope: str) -> DataFrame:
    """Split mined itemsets (items plus at most one segment and one stratum token) into
    ``scope, segment, stratum, itemset, freq`` (``""`` = every segment / every stratum);
    itemsets with two segment tokens (segment intersections) are dropped. Needs ``itemset,
    freq`` from ``fpgrowth.frequent_itemsets`` on ``mining_items``."""
    is_stratum = lambda x: x.startswith(STRATUM_PREFIX)  # noqa: E731
    is_segment = lambda x: x.startswith(TOKEN_PREFIX) & ~is_stratum(x)  # noqa: E731
    segs = F.filter(ITEMSET, is_segment)
    strata = F.filter(ITEMSET, is_stratum)
    return (
        mined.where((F.size(segs) <= 1) & (F.size(strata) <= 1))
        .select(
            F.lit(scope).alias(SCOPE),
            F.coalesce(F.get(segs, 0), F.lit(EVERYONE)).alias(SEGMENT),
            F.coalesce(F.get(strata, 0), F.lit(EVERYONE)).alias(STRATUM),
            F.filter(ITEMSET, lambda x: ~x.startswith(TOKEN_PREFIX)).alias(ITEMSET),
            FREQ,
        )
        .where(F.size(ITEMSET) >= 1)
    )


def score_candidates(
    itemsets: DataFrame,
    *,
    segments: DataFrame,
    min_support: float,
    max_len: int,
    min_count_below: int,
    floors_below: Mapping[tuple[str, str], int] | None = None,
) -> DataFrame:
    """Every candidate (2..max_len items, support >= min_support in its segment) with its
    tests. Needs ``scope, segment, stratum, itemset, freq`` (all frequent itemsets, singletons
    included; ``stratum`` ``""`` = totals, else per-stratum counts) and the segment summary.
    Adds ``n_transactions, support, expected, lift, p_null, p_productive, productive_lift,
    confidence, max_confidence, leverage, conviction, p_value, q_value``.

    ``p_productive`` / ``productive_lift``: for itemsets of 3+ items, the largest p-value and
    the smallest lift ``n_X / E`` over every split of X into two sub-bundles Y and Z, where E
    is the count expected if Y and Z were independent within each stratum (for one stratum,
    ``n_Y * n_Z / N``, Fisher's expectation; the Poisson tail is a conservative stand-in for
    the hypergeometric one): a bundle must beat every way of getting it from smaller ones.
    ``min_count_below`` is the count assumed for a sub-bundle missing in a stratum (below the
    mining floor, so at most the floor minus one): the expectation can only grow, so the test
    stays conservative. ``floors_below`` overrides it per (scope, segment): a segment mined on
    its own at a higher floor (``stage.mine_scope``) misses more. ``p_value = max(p_null,
    p_productive)`` (an intersection-union test).
    """
    keys = list(KEYS)
    counts = segments.groupBy(*keys).agg(F.sum("n_baskets").alias("n_transactions"))
    per_stratum = itemsets
    itemsets = itemsets.where(F.col(STRATUM) == EVERYONE).drop(STRATUM)
    grouped = itemsets.join(counts, keys)
    cand = grouped.where(
        (F.size(ITEMSET) >= 2)
        & (F.size(ITEMSET) <= max_len)
        & (F.col(FREQ) >= F.lit(min_support) * F.col("n_transactions"))
    )
    cand = with_null_expectation(cand, segments=segments, keys=keys, max_len=max_len)
    cand = cand.withColumn("support", F.col(FREQ) / F.col("n_transactions")).withColumn(
        "p_null", poisson_sf_ge(F.col(FREQ), F.col("expected"))
    )
    # productivity: every split {Y, Z} of an itemset of 3+ items
    halves = F.broadcast(subset_masks(cand.sparkSession, max_len, proper_halves=True))
    split = (
        cand.where(F.size(ITEMSET) >= 3)
        .join(halves, F.size(ITEMSET) == F.col("_k"))
        .select(*keys, ITEMSET, FREQ, F.explode("_masks").alias("_m"))
        .select(
            *keys, ITEMSET, FREQ,
            F.filter(ITEMSET, lambda x, i: F.array_contains("_m", i)).alias("_y"),
            F.filter(ITEMSET, lambda x, i: ~F.array_contains("_m", i)).alias("_z"),
        )
    )  # fmt: skip
    sub = per_stratum.select(*keys, STRATUM, F.col(ITEMSET).alias("_s"), F.col(FREQ).alias("_ns"))
    tot = itemsets.select(*keys, F.col(ITEMSET).alias("_s"), F.col(FREQ).alias("_nt"))
    strata = segments.select(*keys, STRATUM, F.col("n_baskets").alias("_nst"))
    floor = F.lit(min_count_below).cast("long")
    if floors_below:
        below = cand.sparkSession.createDataFrame(
            [(sc, sg, int(v)) for (sc, sg), v in sorted(floors_below.items())],
            f"{SCOPE} string, {SEGMENT} string, _below long",
        )
        split = split.join(F.broadcast(below), keys, "left")
        floor = F.coalesce(F.col("_below"), floor)
    split = (
        split.join(tot.withColumnsRenamed({"_s": "_y", "_nt": "_ty"}), [*keys, "_y"])
        .join(tot.withColumnsRenamed({"_s": "_z", "_nt": "_tz"}), [*keys, "_z"])
        .join(strata, keys)
        .join(sub.withColumnsRenamed({"_s": "_y", "_ns": "_ny"}), [*keys, STRATUM, "_y"], "left")
        .join(sub.withColumnsRenamed({"_s": "_z", "_ns": "_nz"}), [*keys, STRATUM, "_z"], "left")
        .withColumn("_ny", F.coalesce("_ny", F.least(floor, "_ty", "_nst")))
        .withColumn("_nz", F.coalesce("_nz", F.least(floor, "_tz", "_nst")))
        .groupBy(*keys, ITEMSET, FREQ, "_y")
        .agg(F.sum(F.col("_ny") * F.col("_nz") / F.col("_nst")).alias("_e"))
        .withColumn("_p", poisson_sf_ge(F.col(FREQ), F.col("_e")))
        .groupBy(*keys, ITEMSET)
        .agg(
            F.max("_p").alias("p_productive"),
            F.min(F.col(FREQ) / F.col("_e")).alias("productive_lift"),
        )
    )
    rules = (
        to_rules(grouped, keys=keys, n_col="n_transactions")
        .join(cand.select(*keys, ITEMSET), [*keys, ITEMSET], "left_semi")
        .groupBy(*keys, ITEMSET)
        .agg(
            F.min("confidence").alias("confidence"),
            F.max("confidence").alias("max_confidence"),
            F.min("leverage").alias("leverage"),
            F.min("conviction").alias("conviction"),
        )
    )
    scored = (
        cand.join(split, [*keys, ITEMSET], "left")
        .join(rules, [*keys, ITEMSET], "left")
        .withColumn("p_value", F.greatest("p_null", F.coalesce("p_productive", F.lit(0.0))))
    )
    return with_q_values(scored, p_col="p_value", order=[SCOPE, SEGMENT, ITEMSET])


def flag_bundles(scored: DataFrame, *, fdr_alpha: float, min_lift: float) -> DataFrame:
    """Add ``significant``: q-value within the false-discovery rate, lift over the null model
    at least ``min_lift`` and, for 3+ items, positively associated beyond every split."""
    return scored.withColumn(
        "significant",
        (F.col("q_value") <= fdr_alpha)
        & (F.col("lift") >= min_lift)
        & ((F.size(ITEMSET) == 2) | (F.coalesce("productive_lift", F.lit(0.0)) > 1.0)),
    )


def to_reported(flagged: DataFrame, *, closure_ratio: float) -> DataFrame:
    """The bundles to report, one row per scope and itemset.

    1. Significant candidates only.
    2. Redundancy: a bundle Y is dropped when a significant super-bundle X (same scope and
       segment) covers at least ``closure_ratio`` of Y's baskets: Y is then mostly X.
    3. Segments: a segment's bundle is dropped when its items are (a subset of) a bundle
       reported for everyone; of the rest, each itemset is reported under the segment where
       its support is highest.
    """
    keys = list(KEYS)
    sig = flagged.where("significant")
    sup = sig.select(*keys, F.col(ITEMSET).alias("_x"), F.col(FREQ).alias("_nx"))
    covered = sig.join(sup, keys).where(
        (F.size("_x") > F.size(ITEMSET))
        & (F.size(F.array_except(ITEMSET, "_x")) == 0)
        & (F.col("_nx") >= F.lit(closure_ratio) * F.col(FREQ))
    )
    kept = sig.join(covered.select(*keys, ITEMSET).distinct(), [*keys, ITEMSET], "left_anti")
    overall = kept.where(F.col(SEGMENT) == EVERYONE)
    everyone = overall.select(SCOPE, F.col(ITEMSET).alias("_x"))
    seg = kept.where(F.col(SEGMENT) != EVERYONE)
    shadowed = seg.join(everyone, SCOPE).where(F.size(F.array_except(ITEMSET, "_x")) == 0)
    seg = seg.join(shadowed.select(*keys, ITEMSET).distinct(), [*keys, ITEMSET], "left_anti")
    best = Window.partitionBy(SCOPE, ITEMSET).orderBy(F.col("support").desc(), F.col(SEGMENT))
    seg = seg.withColumn("_r", F.row_number().over(best)).where("_r = 1").drop("_r")
    return overall.unionByName(seg)
