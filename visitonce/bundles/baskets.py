"""Baskets: the transactions bundles are mined from.

A basket is a run of applications under one key (an applicant in the ``citizen`` scope, a
location key in the ``place`` scope), each applied for within ``window_days`` of the previous
one (gap sessionization). A run never splits a group of applications that are all within the
window of each other, which an anchored window (from the first application) would do whenever
an unrelated application came just before them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C

SCOPE_CITIZEN = "citizen"
SCOPE_PLACE = "place"
SCOPES = (SCOPE_CITIZEN, SCOPE_PLACE)

# Basket columns (internal, never written).
SCOPE = "scope"
BASKET_ID = "basket_id"
ITEMS = "items"  # distinct service items, sorted
APPS = "apps"  # the member applications: array<struct<APP_FIELDS>>
N_APPS = "n_apps"  # applications (reports) in the basket; repeat reports of one item count
N_ITEMS = "n_items"  # distinct items in the basket: the basket size of the null model
TOKENS = "segment_tokens"  # segment tokens of the basket ("age_band=75+")
SEGMENT = "segment"
STRATUM = "stratum"  # the basket's stratum token ("" where the scope has no strata)
# The segment of every basket of a scope, inside the package (a plain join key); the written
# tables say null, as the contract does.
EVERYONE = ""

# Segment tokens ride along with the items during mining; service item codes never start
# with this prefix (catalog codes are letters, digits and underscores).
TOKEN_PREFIX = "§"
STRATUM_PREFIX = "§~"  # strata of the null model: joint values of the strata columns

APP_FIELDS = (C.SERVICE_ITEM, C.APPLIED_AT, C.N_VISITS, C.CHANNELS_USED, C.DEPARTMENT)


def segment_token(column: str, value: str) -> str:
    """The mining token of a segment, e.g. ``§age_band=75+``; its label is without the prefix."""
    return f"{TOKEN_PREFIX}{column}={value}"


def size_band(n_apps: Column, bands: Sequence[int]) -> Column:
    """The label of the band of ``bands`` (ascending lower bounds, the first 1) that holds
    ``n_apps``: ``"1"``, ``"3-4"``, ``"10+"``."""
    bounds = sorted(set(bands))
    label = F.lit(f"{bounds[-1]}+")
    for lo, hi in reversed(list(zip(bounds, bounds[1:], strict=False))):
        text = str(lo) if hi == lo + 1 else f"{lo}-{hi - 1}"
        label = F.when(n_apps < hi, F.lit(text)).otherwise(label)
    return label


def to_baskets(
    applications: DataFrame,
    *,
    scope: str,
    window_days: float,
    segments: Sequence[str] = (),
    strata: Sequence[str] = (),
    size_bands: Sequence[int] = (),
    item_bands: Sequence[int] = (),
) -> DataFrame:
    """Applications -> one row per basket of ``scope``.

    Needs ``application_id, service_item, applied_at, n_visits, channels, department`` and the
    key (``citizen_id`` for ``citizen``, ``location`` for ``place``; rows where it is null are
    left out) and, for the citizen scope, the ``segments`` and ``strata`` columns. Returns
    ``scope, basket_id, items, apps, n_apps, n_items, segment_tokens, stratum`` (tokens are
    empty in the place scope: a place's reports come from anyone). The stratum is the joint
    value of the ``strata`` columns (citizen scope) or, in the place scope, the band of the
    basket's number of reports (``size_bands``) and of its number of distinct items
    (``item_bands``): a building with many units is compared with other places that drew as
    many reports, and a problem that mostly comes with others is compared among baskets of as
    many problems.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown bundle scope {scope!r} (use {' or '.join(SCOPES)})")
    key = C.CITIZEN_ID if scope == SCOPE_CITIZEN else C.LOCATION
    segs = list(segments) if scope == SCOPE_CITIZEN else []
    strat = list(strata) if scope == SCOPE_CITIZEN else []
    missing = [c for c in [*segs, *strat] if c not in applications.columns]
    if missing:
        raise ValueError(f"segment column(s) {missing} not in applications")
    apps = applications.where(F.col(key).isNotNull() & (F.col(key) != ""))
    w = Window.partitionBy(key).orderBy(C.APPLIED_AT, C.APPLICATION_ID)
    t = F.unix_seconds(F.col(C.APPLIED_AT))
    gap = t - F.lag(t).over(w)
    new = F.when(gap.isNull() | (gap > F.lit(window_days * 86_400.0)), 1).otherwise(0)
    apps = apps.withColumn("_run", F.sum(new).over(w.rowsBetween(Window.unboundedPreceding, 0)))
    member = F.struct(*[F.col(c) for c in APP_FIELDS])
    tokens = [
        F.when(
            F.col(c).isNotNull(), F.concat(F.lit(f"{TOKEN_PREFIX}{c}="), F.col(c).cast("string"))
        )
        for c in segs
    ]
    baskets = apps.groupBy(key, "_run").agg(
        F.array_sort(F.collect_set(C.SERVICE_ITEM)).alias(ITEMS),
        F.collect_list(member).alias(APPS),
        F.count(F.lit(1)).cast("int").alias(N_APPS),
        *[F.min(tok).alias(f"_tok{i}") for i, tok in enumerate(tokens)],
        *[F.min(F.col(c).cast("string")).alias(f"_st{i}") for i, c in enumerate(strat)],
    )
    bands = [
        F.concat(F.lit(f"{name}="), size_band(col, b))
        for name, col, b in (
            ("reports", F.col(N_APPS), size_bands),
            ("items", F.size(ITEMS), item_bands),
        )
        if b and scope == SCOPE_PLACE
    ]
    if bands:
        stratum = F.concat(F.lit(STRATUM_PREFIX), F.concat_ws("|", *bands))
    elif strat:
        stratum = F.concat(
            F.lit(STRATUM_PREFIX),
            F.concat_ws(
                "|",
                *[
                    F.concat(F.lit(f"{c}="), F.coalesce(f"_st{i}", F.lit("")))
                    for i, c in enumerate(strat)
                ],
            ),
        )
    else:
        stratum = F.lit(EVERYONE)
    token_array = (
        F.filter(F.array(*[F.col(f"_tok{i}") for i in range(len(segs))]), lambda x: x.isNotNull())
        if segs
        else F.array().cast("array<string>")
    )
    return baskets.select(
        F.lit(scope).alias(SCOPE),
        F.concat_ws(":", F.lit(scope), F.col(key), F.col("_run").cast("string")).alias(BASKET_ID),
        ITEMS,
        APPS,
        N_APPS,
        F.size(ITEMS).alias(N_ITEMS),
        token_array.alias(TOKENS),
        stratum.alias(STRATUM),
    )


def with_mining_items(baskets: DataFrame, *, segment_tokens: bool = True) -> DataFrame:
    """Add ``mining_items``: the basket's items plus its segment tokens (needs ``items``,
    ``segment_tokens``) and its stratum token. One FP-Growth pass then counts every itemset
    overall and within every segment: an itemset with token t is the itemset within segment t.
    Without ``segment_tokens`` (one segment's baskets, mined on their own) only the stratum
    token is added."""
    stratum = F.when(F.col(STRATUM) != EVERYONE, F.array(STRATUM)).otherwise(
        F.array().cast("array<string>")
    )
    tokens = [F.col(TOKENS)] if segment_tokens else []
    return baskets.withColumn("mining_items", F.concat(F.col(ITEMS), *tokens, stratum))


def summarize_segments(baskets: DataFrame) -> DataFrame:
    """Per scope, segment token (``EVERYONE`` = all baskets of the scope) and stratum:
    ``n_baskets``, ``n_slots`` (distinct items summed over the baskets), ``item_p`` (map item
    -> baskets holding it / ``n_slots``) and ``sizes`` (array of struct(s, h): ``h`` baskets of
    ``s`` distinct items). The null model's inputs; needs basket columns.

    Items are present or absent: twenty reports of one problem at one building are one
    presence, so a popular, often repeated item neither widens the basket nor claims twenty
    draws of the null."""
    seg = F.explode(F.concat(F.array(F.lit(EVERYONE)), F.col(TOKENS)))
    exploded = baskets.select(SCOPE, seg.alias(SEGMENT), STRATUM, ITEMS, N_ITEMS)
    sizes = (
        exploded.groupBy(SCOPE, SEGMENT, STRATUM, N_ITEMS)
        .agg(F.count(F.lit(1)).alias("h"))
        .groupBy(SCOPE, SEGMENT, STRATUM)
        .agg(
            F.sum("h").alias("n_baskets"),
            F.sum(F.col("h") * F.col(N_ITEMS)).alias("n_slots"),
            F.array_sort(F.collect_list(F.struct(F.col(N_ITEMS).alias("s"), "h"))).alias("sizes"),
        )
    )
    items = (
        exploded.select(SCOPE, SEGMENT, STRATUM, F.explode(ITEMS).alias("item"))
        .groupBy(SCOPE, SEGMENT, STRATUM, "item")
        .agg(F.count(F.lit(1)).alias("k"))
    )
    keys = [SCOPE, SEGMENT, STRATUM]
    probs = items.join(sizes.select(*keys, "n_slots"), keys).select(
        *keys, "item", (F.col("k") / F.col("n_slots")).alias("p")
    )
    pmap = probs.groupBy(*keys).agg(
        F.map_from_entries(F.collect_list(F.struct("item", "p"))).alias("item_p")
    )
    return sizes.join(pmap, keys).select(*keys, "n_baskets", "n_slots", "item_p", "sizes")
