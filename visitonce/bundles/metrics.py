"""Rule metrics, the basket-size null model, p-values and Benjamini-Hochberg q-values.

Everything runs on the executors: rules are built by joining each itemset with its
sub-itemsets' counts; p-values come from scipy's vectorised distributions in an Arrow
(pandas) UDF, because Spark has no built-in hypergeometric or Poisson tail.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from visitonce.bundles.fpgrowth import FREQ, ITEMSET

# mlxtend's association_rules metrics, in its order (representativity is 1 without nulls).
RULE_METRICS = (
    "antecedent_support",
    "consequent_support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "zhangs_metric",
    "jaccard",
    "certainty",
    "kulczynski",
)


def _div(a: Column, b: Column) -> Column:
    return F.try_divide(a, b)


def to_rules(itemsets: DataFrame, *, keys: Sequence[str] = (), n_col: str) -> DataFrame:
    """Single-consequent rules ``X minus {c} -> {c}`` of every itemset of 2+ items, with
    mlxtend's metrics (``RULE_METRICS``).

    Needs ``keys`` (groups mined separately, e.g. scope and segment), ``itemset`` (sorted),
    ``freq`` and ``n_col`` (baskets in the group). Every sub-itemset of an itemset must be in
    ``itemsets`` (true of any frequent-itemset output). Returns ``keys, itemset, antecedent,
    consequent`` (arrays), the metrics and ``freq``. ``conviction`` is null where mlxtend says
    infinity (confidence 1).
    """
    keys = list(keys)
    sup = itemsets.select(*keys, F.col(ITEMSET).alias("antecedent"), F.col(FREQ).alias("_na"))
    single = itemsets.where(F.size(ITEMSET) == 1).select(
        *keys, F.col(ITEMSET).alias("consequent"), F.col(FREQ).alias("_nc")
    )
    rules = (
        itemsets.where(F.size(ITEMSET) >= 2)
        .select(*keys, ITEMSET, FREQ, n_col, F.explode(ITEMSET).alias("_c"))
        .select(
            *keys,
            ITEMSET,
            FREQ,
            n_col,
            F.array_remove(ITEMSET, F.col("_c")).alias("antecedent"),
            F.array("_c").alias("consequent"),
        )
        .join(sup, [*keys, "antecedent"])
        .join(single, [*keys, "consequent"])
    )
    n = F.col(n_col).cast("double")
    s_ac, s_a, s_c = F.col(FREQ) / n, F.col("_na") / n, F.col("_nc") / n
    conf = _div(s_ac, s_a)
    lev = s_ac - s_a * s_c
    zhang_den = F.greatest(s_ac * (1 - s_a), s_a * (s_c - s_ac))
    return rules.select(
        *keys,
        ITEMSET,
        "antecedent",
        "consequent",
        s_a.alias("antecedent_support"),
        s_c.alias("consequent_support"),
        s_ac.alias("support"),
        conf.alias("confidence"),
        _div(conf, s_c).alias("lift"),
        lev.alias("leverage"),
        F.when(conf < 1.0, _div(1 - s_c, 1 - conf)).alias("conviction"),
        F.when(zhang_den == 0, F.lit(0.0)).otherwise(_div(lev, zhang_den)).alias("zhangs_metric"),
        _div(s_ac, s_a + s_c - s_ac).alias("jaccard"),
        F.when(s_c == 1, F.lit(0.0)).otherwise(_div(conf - s_c, 1 - s_c)).alias("certainty"),
        ((_div(s_ac, s_a) + _div(s_ac, s_c)) / 2).alias("kulczynski"),
        FREQ,
    )


def subset_masks(spark: SparkSession, max_len: int, *, proper_halves: bool = False) -> DataFrame:
    """A small table ``_k`` (itemset size, 1..max_len), ``_masks`` (array of index subsets of
    ``range(k)``): every subset (inclusion-exclusion) or, with ``proper_halves``, one side of
    every split into two non-empty parts (the side holding index 0). Joined on size, so the
    subsets are data, not a literal repeated through the plan."""
    rows = []
    for k in range(1, max_len + 1):
        if proper_halves:
            subsets = [
                [0, *rest]
                for r in range(0, k - 1)
                for rest in itertools.combinations(range(1, k), r)
            ]
        else:
            subsets = [list(s) for r in range(k + 1) for s in itertools.combinations(range(k), r)]
        rows.append((k, subsets))
    return spark.createDataFrame(rows, "_k int, _masks array<array<int>>")


def with_null_expectation(
    candidates: DataFrame, *, segments: DataFrame, keys: Sequence[str], max_len: int
) -> DataFrame:
    """Add ``expected`` and ``lift`` under the basket-size null model.

    Null model: every basket keeps its number of applications (reports) ``s``; each
    application's item is drawn independently with the item's share ``p_i`` of all
    applications in the group. The expected number of baskets holding every item of X is

        E[X] = sum over baskets of P(X in s draws)
             = sum_s h_s * sum over subsets S of X of (-1)^|S| * (1 - sum_{i in S} p_i)^s

    (inclusion-exclusion). Baskets of one report (most place baskets) can never hold a pair
    and add nothing to E, which is why this null fits sparse co-location where plain lift over
    all baskets does not. ``lift = freq / E``.

    Within a group the expectation is summed over strata (rows of ``segments`` per key), each
    with its own item shares: items only enterprises (or only the elderly) can request
    co-occur among them by eligibility alone, and a pooled null would call that a bundle.

    Needs ``keys, itemset, freq`` in ``candidates`` and ``keys, item_p, sizes`` (one row per
    stratum) in ``segments`` (from ``baskets.summarize_segments``).
    """
    masks = F.broadcast(subset_masks(candidates.sparkSession, max_len))
    probs = F.transform(F.col(ITEMSET), lambda x: F.coalesce(F.element_at("item_p", x), F.lit(0.0)))
    k = F.size(ITEMSET)

    def p_all(sh: Column) -> Column:
        inc_exc = F.aggregate(
            F.col("_masks"),
            F.lit(0.0),
            lambda acc, m: (
                acc
                + (1 - 2 * (F.size(m) % 2))
                * F.pow(
                    F.greatest(
                        F.lit(0.0),
                        1 - F.aggregate(m, F.lit(0.0), lambda b, i: b + F.get(F.col("_probs"), i)),
                    ),
                    sh["s"],
                )
            ),
        )
        return F.when(sh["s"] >= k, sh["h"] * F.greatest(F.lit(0.0), inc_exc)).otherwise(0.0)

    keys = list(keys)
    per_stratum = (
        candidates.select(*keys, ITEMSET)
        .join(segments.select(*keys, "item_p", "sizes"), keys)
        .join(masks, F.size(ITEMSET) == F.col("_k"))
        .withColumn("_probs", probs)
        .select(
            *keys,
            ITEMSET,
            F.aggregate("sizes", F.lit(0.0), lambda acc, sh: acc + p_all(sh)).alias("_e"),
        )
    )
    expected = per_stratum.groupBy(*keys, ITEMSET).agg(F.sum("_e").alias("expected"))
    return candidates.join(expected, [*keys, ITEMSET]).withColumn(
        "lift", F.col(FREQ) / F.greatest(F.col("expected"), F.lit(1e-12))
    )


def poisson_sf_ge(observed: Column, expected: Column) -> Column:
    """P(Poisson(expected) >= observed): the p-value of the null model. The observed count is
    a sum of independent Bernoulli trials (Poisson-binomial) whose variance is below the
    Poisson's, so this tail is conservative."""

    @F.pandas_udf("double")  # type: ignore[call-overload]
    def _sf(n: pd.Series, e: pd.Series) -> pd.Series:
        from scipy.stats import poisson

        return pd.Series(poisson.sf(n.to_numpy() - 1, e.to_numpy()))

    return _sf(observed.cast("double"), expected.cast("double"))


def hypergeom_sf_ge(k: Column, n_total: Column, n_a: Column, n_b: Column) -> Column:
    """One-sided Fisher exact test (positive association): P(X >= k), X hypergeometric with
    ``n_total`` baskets, ``n_a`` holding A, ``n_b`` drawn (holding B)."""

    @F.pandas_udf("double")  # type: ignore[call-overload]
    def _sf(k: pd.Series, n: pd.Series, a: pd.Series, b: pd.Series) -> pd.Series:
        from scipy.stats import hypergeom

        return pd.Series(hypergeom.sf(k.to_numpy() - 1, n.to_numpy(), a.to_numpy(), b.to_numpy()))

    return _sf(*(c.cast("long") for c in (k, n_total, n_a, n_b)))


def with_q_values(df: DataFrame, *, p_col: str, order: Sequence[str]) -> DataFrame:
    """Add ``q_value``: Benjamini-Hochberg adjusted p-values over every row of ``df`` (one
    family: all candidates of a run). ``order`` breaks ties deterministically.

    q_(i) = min over j >= i of p_(j) * m / j, capped at 1. The window has no partition: the
    candidates (bounded by the guard-rail) pass through one task.
    """
    ranked = df.withColumn(
        "_r", F.row_number().over(Window.orderBy(F.col(p_col), *[F.col(c) for c in order]))
    ).withColumn("_m", F.count(F.lit(1)).over(Window.partitionBy()))
    tail = Window.orderBy(F.col("_r").desc()).rowsBetween(Window.unboundedPreceding, 0)
    return ranked.withColumn(
        "q_value", F.least(F.lit(1.0), F.min(F.col(p_col) * F.col("_m") / F.col("_r")).over(tail))
    ).drop("_r", "_m")
