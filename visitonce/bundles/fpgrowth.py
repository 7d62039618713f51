"""Frequent itemsets at a minimum count: vectorised bitset counting (``bitset.py``, SON) when
the frequent items are few, as in service catalogs, else ``pyspark.ml.fpm.FPGrowth`` (PFP:
parallel FP-Growth over conditional pattern bases, on the executors). Both are exact and give
the same itemsets and counts (tests/bundles/test_oracle.py checks both against mlxtend).

FPGrowth takes a support fraction and keeps itemsets with ``freq >= ceil(minSupport * n)``; the
fraction is set half a basket below ``min_count`` so the floor is exactly ``min_count`` (no
floating-point off-by-one), and the result is filtered on the count again.
"""

from __future__ import annotations

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce.bundles.guard import ItemsetEstimate, check_itemsets

ITEMSET = "itemset"  # sorted array of items
FREQ = "freq"


def frequent_itemsets(
    baskets: DataFrame,
    *,
    min_count: int,
    n_baskets: int,
    items_col: str = "items",
    max_len: int | None = None,
    num_partitions: int | None = None,
    engine: str = "auto",
) -> DataFrame:
    """Every itemset in at least ``min_count`` baskets: ``itemset`` (sorted), ``freq`` (long).

    Needs ``items_col``: an array of distinct items per basket. ``n_baskets`` is the number of
    rows (passed in, so the caller counts once). ``max_len`` filters the output (FPGrowth has
    no length cap: the guard-rail bounds all lengths). ``engine``: ``bitset``, ``fpgrowth``, or
    ``auto`` (bitset unless more than ``bitset.MAX_ITEMS`` items are frequent).
    """
    if n_baskets < min_count:  # nothing can reach the floor (and FPGrowth wants support <= 1)
        return baskets.sparkSession.createDataFrame([], f"{ITEMSET} array<string>, {FREQ} long")
    if engine in ("auto", "bitset"):
        from visitonce.bundles.bitset import frequent_itemsets_son

        found = frequent_itemsets_son(
            baskets, min_count=min_count, n_baskets=n_baskets, items_col=items_col,
            max_len=max_len,
        )  # fmt: skip
        if found is not None:
            return found
    fp = FPGrowth(
        itemsCol=items_col,
        minSupport=(min_count - 0.5) / n_baskets,
        minConfidence=1.0,
        predictionCol="_prediction",
    )
    if num_partitions:
        fp.setNumPartitions(num_partitions)
    found = (
        fp.fit(baskets.select(items_col))
        .freqItemsets.select(F.array_sort("items").alias(ITEMSET), F.col("freq").cast("long"))
        .where(F.col(FREQ) >= min_count)
    )
    if max_len is not None:
        found = found.where(F.size(ITEMSET) <= max_len)
    return found


def mine_frequent_itemsets(
    baskets: DataFrame,
    *,
    min_count: int,
    n_baskets: int,
    cap: int,
    items_col: str = "items",
    max_len: int | None = None,
    engine: str = "auto",
    what: str = "mining",
) -> tuple[ItemsetEstimate, DataFrame]:
    """The guard-rail, then ``frequent_itemsets``: raises ItemsetExplosionError (before any
    itemset is counted) when more than ``cap`` itemsets could be frequent.

    The bitset engine reads the baskets once and its own compact blocks once more (see
    ``bitset.mine_guarded``); its itemsets come back as a small DataFrame built on the driver.
    With FPGrowth they are lazy.
    """
    if engine in ("auto", "bitset"):
        from visitonce.bundles.bitset import mine_guarded

        found = mine_guarded(
            baskets, min_count=min_count, n_baskets=n_baskets, cap=cap, items_col=items_col,
            max_len=max_len, what=what,
        )  # fmt: skip
        if found is not None:
            est, rows = found
            schema = f"{ITEMSET} array<string>, {FREQ} long"
            return est, baskets.sparkSession.createDataFrame(rows, schema)
    est = check_itemsets(baskets, min_count=min_count, cap=cap, items_col=items_col, what=what)
    found = frequent_itemsets(
        baskets, min_count=min_count, n_baskets=n_baskets, items_col=items_col,
        max_len=max_len, engine="fpgrowth",
    )  # fmt: skip
    return est, found
