"""What analysts need per bundle, from the baskets that hold it: visits saved, typical order,
median span, channels and departments."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.bundles.baskets import APPS, EVERYONE, ITEMS, SCOPE, SEGMENT, TOKENS
from visitonce.bundles.fpgrowth import ITEMSET

PROFILE_COLUMNS = (
    "visits_saved",
    "visits_observed",
    "typical_order",
    "median_span_days",
    "channels",
    "departments",
    "cross_department",
    "reports_per_basket",
)


def summarize_bundle_baskets(bundles: DataFrame, baskets: DataFrame) -> DataFrame:
    """Per bundle (``scope, segment, itemset``): the profile columns ``PROFILE_COLUMNS``.

    Needs bundle keys and basket columns (``scope, items, apps, segment_tokens``). A basket
    holds a bundle when it has every item (and, for a segment's bundle, the segment). Its
    member applications are the basket's applications of the bundle's items.

    - ``visits_saved``: per basket, the physical visits (``n_visits``, trips) of the members
      minus the most any one member needed (one service still needs that many), summed.
    - ``visits_observed``: the members' physical visits, summed.
    - ``typical_order``: the most common order of first application, items joined by " > ".
    - ``median_span_days``: median days from the first to the last member application.
    - ``channels``, ``departments``: distinct, sorted; ``cross_department``: more than one.
    - ``reports_per_basket``: mean member applications per basket (at least the bundle's
      size): repeat reports of one problem, which the null model counts once, show here
      (in the place scope, mean reports per place).
    """
    b = bundles.select(SCOPE, SEGMENT, ITEMSET).distinct()
    matched = (
        baskets.select(SCOPE, ITEMS, APPS, TOKENS)
        .join(F.broadcast(b), SCOPE)
        .where(
            (F.size(F.array_except(ITEMSET, ITEMS)) == 0)
            & ((F.col(SEGMENT) == EVERYONE) | F.array_contains(TOKENS, F.col(SEGMENT)))
        )
    )
    members = F.filter(APPS, lambda a: F.array_contains(ITEMSET, a[C.SERVICE_ITEM]))
    m = matched.select(SCOPE, SEGMENT, ITEMSET, members.alias("_m"))
    visits = F.transform("_m", lambda a: F.coalesce(a[C.N_VISITS], F.lit(0)))
    times = F.transform("_m", lambda a: F.unix_seconds(a[C.APPLIED_AT]))
    by_time = F.array_sort(
        F.transform(
            "_m", lambda a: F.struct(a[C.APPLIED_AT].alias("t"), a[C.SERVICE_ITEM].alias("i"))
        )
    )
    per = m.select(
        SCOPE,
        SEGMENT,
        ITEMSET,
        F.aggregate(visits, F.lit(0), lambda acc, v: acc + v).alias("_v"),
        F.array_max(visits).alias("_vmax"),
        ((F.array_max(times) - F.array_min(times)) / 86_400.0).alias("_span"),
        F.array_join(F.array_distinct(F.transform(by_time, lambda s: s["i"])), " > ").alias("_o"),
        F.flatten(F.transform("_m", lambda a: a[C.CHANNELS_USED])).alias("_ch"),
        F.transform("_m", lambda a: a[C.DEPARTMENT]).alias("_d"),
        F.size("_m").alias("_n"),
    )
    return (
        per.groupBy(SCOPE, SEGMENT, ITEMSET)
        .agg(
            F.sum(F.col("_v") - F.col("_vmax")).cast("long").alias("visits_saved"),
            F.sum("_v").cast("long").alias("visits_observed"),
            F.mode("_o", deterministic=True).alias("typical_order"),
            F.median("_span").alias("median_span_days"),
            F.array_sort(F.array_distinct(F.flatten(F.collect_list("_ch")))).alias("channels"),
            F.array_sort(F.array_distinct(F.flatten(F.collect_list("_d")))).alias("departments"),
            F.avg("_n").alias("reports_per_basket"),
        )
        .withColumn("cross_department", F.size("departments") > 1)
    )
