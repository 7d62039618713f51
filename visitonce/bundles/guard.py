"""Guard-rail: bound the number of frequent itemsets before mining, and refuse instead of
running out of memory.

FP-Growth mines every length, so the bound is over all lengths. A basket whose frequent items
number ``s`` contains ``2**s - 1`` non-empty itemsets, and a frequent itemset needs at least
``min_count`` baskets, so

    frequent itemsets <= min(2**n_frequent - 1, sum over baskets (2**s - 1) / min_count)

(the second term counts itemset occurrences). The bound is never below the truth, so nothing
that passes can explode; it can refuse a run that would have fitted (dense data with long
baskets), and the message says what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


class ItemsetExplosionError(ValueError):
    """Mining would produce more itemsets than allowed; the message says what to change."""


@dataclass(frozen=True)
class ItemsetEstimate:
    """What the guard-rail saw."""

    n_baskets: int
    n_frequent_items: int
    max_frequent_per_basket: int
    bound: int  # upper bound on frequent itemsets (all lengths)
    min_count_to_fit: int  # smallest min_count whose occurrence bound fits the cap

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def summarize_frequent_sizes(baskets: DataFrame, *, min_count: int, items_col: str) -> DataFrame:
    """Histogram of frequent items per basket: ``s`` (frequent items in the basket), ``h``
    (baskets), plus the one row ``s = -1`` whose ``h`` is the number of frequent items.
    Needs ``items_col`` (array of distinct items). A few rows, whatever the input size."""
    # the id is taken before exploding (in the same select it would be taken per item)
    ids = baskets.select(F.monotonically_increasing_id().alias("_b"), F.col(items_col).alias("_i"))
    exploded = ids.select("_b", F.explode("_i").alias("i"))
    counts = exploded.groupBy("i").agg(F.count(F.lit(1)).alias("n"))
    frequent = counts.where(F.col("n") >= min_count).select("i")
    per_basket = (
        exploded.join(F.broadcast(frequent), "i").groupBy("_b").agg(F.count(F.lit(1)).alias("s"))
    )
    hist = per_basket.groupBy("s").agg(F.count(F.lit(1)).alias("h"))
    n_items = frequent.agg(F.lit(-1).cast("long").alias("s"), F.count(F.lit(1)).alias("h"))
    return hist.unionByName(n_items)


# Up to this many frequent items, the per-basket sizes are counted with one set lookup per
# item (no join, no shuffle of the exploded items) and the items are kept for the miner.
_FEW_ITEMS = 4096


def _frequent_sizes_few(
    baskets: DataFrame, *, min_count: int, items_col: str
) -> tuple[list[tuple[int, int]], dict[str, int]] | None:
    """The histogram rows of ``summarize_frequent_sizes`` and the frequent items' counts, or
    None when more than _FEW_ITEMS items are frequent."""
    singles = {
        r["i"]: int(r["n"])
        for r in baskets.select(F.explode(items_col).alias("i"))
        .groupBy("i")
        .agg(F.count(F.lit(1)).alias("n"))
        .where(F.col("n") >= min_count)
        .collect()
    }
    if len(singles) > _FEW_ITEMS:
        return None
    names = sorted(singles)
    s = F.size(F.filter(items_col, lambda x: x.isin(*names))) if names else F.lit(0)
    rows = baskets.select(s.alias("s")).where(F.col("s") >= 1).groupBy("s").count().collect()
    hist = [(int(r["s"]), int(r["count"])) for r in rows] + [(-1, len(singles))]
    return hist, singles


def estimate_itemsets(hist: list[tuple[int, int]], *, min_count: int, cap: int) -> ItemsetEstimate:
    """The bound from the histogram rows of ``summarize_frequent_sizes`` (collected: a few rows)."""
    n_items = next((h for s, h in hist if s == -1), 0)
    sizes = [(int(s), int(h)) for s, h in hist if s >= 1]
    occurrences = sum(h * (2**s - 1) for s, h in sizes)
    bound = min(2**n_items - 1, occurrences // min_count)
    return ItemsetEstimate(
        n_baskets=sum(h for _, h in sizes),
        n_frequent_items=int(n_items),
        max_frequent_per_basket=max((s for s, _ in sizes), default=0),
        bound=int(bound),
        min_count_to_fit=max(min_count, math.ceil(occurrences / max(1, cap))),
    )


def check_itemsets(
    baskets: DataFrame, *, min_count: int, cap: int, items_col: str, what: str = "mining"
) -> ItemsetEstimate:
    """Estimate, and raise ItemsetExplosionError when the bound exceeds ``cap``."""
    few = _frequent_sizes_few(baskets, min_count=min_count, items_col=items_col)
    if few is not None:
        hist, _ = few
    else:
        hist = [
            (int(r["s"]), int(r["h"]))
            for r in summarize_frequent_sizes(
                baskets, min_count=min_count, items_col=items_col
            ).collect()
        ]
    return enforce(
        estimate_itemsets(hist, min_count=min_count, cap=cap),
        min_count=min_count, cap=cap, what=what,
    )  # fmt: skip


def enforce(est: ItemsetEstimate, *, min_count: int, cap: int, what: str) -> ItemsetEstimate:
    """``est``, or ItemsetExplosionError (saying what to change) when its bound exceeds ``cap``."""
    if est.bound > cap:
        raise ItemsetExplosionError(
            f"{what}: up to {est.bound:,} frequent itemsets could be mined (limit {cap:,}; "
            f"{est.n_frequent_items:,} items reach min_count {min_count:,}, up to "
            f"{est.max_frequent_per_basket} of them in one basket): raise min_count to "
            f"{est.min_count_to_fit:,} or more, shorten the window, mine fewer segments, "
            "or raise bundles.max_itemsets if the machine has the memory"
        )
    return est
