"""Oracle: frequent itemsets, supports and rule metrics equal mlxtend's on the same baskets."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from mlxtend.frequent_patterns import association_rules
from mlxtend.frequent_patterns import fpgrowth as mlx_fpgrowth
from mlxtend.preprocessing import TransactionEncoder
from pyspark.sql import functions as F

from visitonce.bundles import ItemsetExplosionError
from visitonce.bundles.fpgrowth import frequent_itemsets
from visitonce.bundles.guard import check_itemsets, estimate_itemsets
from visitonce.bundles.metrics import RULE_METRICS, to_rules

CHESS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "itemsets" / "chess.dat"

# Hand-built: 10 baskets. a,b,c together 4 times; d with a twice; e alone.
HAND = [
    ["a", "b", "c"],
    ["a", "b", "c"],
    ["a", "b", "c", "d"],
    ["a", "b", "c", "e"],
    ["a", "b"],
    ["a", "d"],
    ["b", "c"],
    ["c"],
    ["d", "e"],
    ["e"],
]


def _mlxtend(baskets: list[list[str]], min_support: float) -> pd.DataFrame:
    te = TransactionEncoder()
    onehot = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
    return mlx_fpgrowth(onehot, min_support=min_support, use_colnames=True)


ENGINES = ("bitset", "fpgrowth")


def _ours(spark, baskets: list[list[str]], min_count: int, engine: str = "auto"):
    df = spark.createDataFrame([(b,) for b in baskets], "items array<string>")
    found = frequent_itemsets(df, min_count=min_count, n_baskets=len(baskets), engine=engine)
    return found.withColumn("n", F.lit(len(baskets)))


def _as_dict(rows) -> dict[frozenset, float]:
    return {frozenset(r[0]): r[1] for r in rows}


def _compare_itemsets(spark, baskets, min_count: int, engine: str = "auto") -> None:
    n = len(baskets)
    ours = _ours(spark, baskets, min_count, engine)
    got = {frozenset(r["itemset"]): r["freq"] / n for r in ours.collect()}
    ref = _mlxtend(baskets, min_count / n)
    want = {frozenset(s): sup for s, sup in zip(ref["itemsets"], ref["support"], strict=True)}
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    return ours, ref


def _compare_rules(ours, ref, n: int) -> int:
    rules = to_rules(ours, n_col="n").collect()
    mine = {(frozenset(r["antecedent"]), frozenset(r["consequent"])): r for r in rules}
    theirs = association_rules(ref, num_itemsets=n, metric="confidence", min_threshold=0.0)
    theirs = theirs[theirs["consequents"].map(len) == 1]
    assert set(mine) == set(zip(theirs["antecedents"], theirs["consequents"], strict=True))
    for _, row in theirs.iterrows():
        r = mine[(row["antecedents"], row["consequents"])]
        for m in RULE_METRICS:
            want = row[m.replace("_support", " support")]
            if math.isinf(want):
                assert r[m] is None, m  # conviction at confidence 1
            else:
                assert r[m] == pytest.approx(want, rel=1e-9, abs=1e-12), (m, row)
    return len(mine)


@pytest.mark.parametrize("engine", ENGINES)
def test_hand_built_fixture_matches_mlxtend(spark, engine) -> None:
    ours, ref = _compare_itemsets(spark, HAND, min_count=2, engine=engine)
    # hand-counted: {a,b,c} in 4 baskets, {a,d} in 2, {e} in 3
    got = {frozenset(r["itemset"]): r["freq"] for r in ours.collect()}
    assert got[frozenset("abc")] == 4 and got[frozenset("ad")] == 2 and got[frozenset("e")] == 3
    assert frozenset("de") not in got  # one basket only
    assert _compare_rules(ours, ref, len(HAND)) > 0


@pytest.mark.skipif(not CHESS.exists(), reason=f"{CHESS} absent (shared data not mounted)")
@pytest.mark.parametrize("engine", ENGINES)
def test_chess_matches_mlxtend(spark, engine) -> None:
    baskets = [line.split() for line in CHESS.read_text().splitlines() if line.strip()]
    min_count = math.ceil(0.93 * len(baskets))
    ours, ref = _compare_itemsets(spark, baskets, min_count=min_count, engine=engine)
    assert len(ref) > 50
    _compare_rules(ours, ref, len(baskets))


def test_guard_rail_bound_and_refusal(spark) -> None:
    # bound = min(2**n_frequent - 1, sum_baskets (2**s - 1) // min_count)
    est = estimate_itemsets([(-1, 5), (3, 10), (5, 2)], min_count=4, cap=100)
    assert est.bound == min(2**5 - 1, (10 * 7 + 2 * 31) // 4)  # 31
    assert est.min_count_to_fit == 4
    df = spark.createDataFrame([(b,) for b in HAND], "items array<string>")
    ok = check_itemsets(df, min_count=2, cap=1000, items_col="items")
    assert ok.n_frequent_items == 5 and ok.max_frequent_per_basket == 4
    with pytest.raises(ItemsetExplosionError, match="raise min_count"):
        check_itemsets(df, min_count=2, cap=5, items_col="items")


@pytest.mark.skipif(not CHESS.exists(), reason=f"{CHESS} absent (shared data not mounted)")
def test_guard_rail_refuses_dense_chess_at_low_support(spark) -> None:
    baskets = [line.split() for line in CHESS.read_text().splitlines() if line.strip()]
    df = spark.createDataFrame([(b,) for b in baskets], "items array<string>")
    with pytest.raises(ItemsetExplosionError) as e:
        check_itemsets(df, min_count=len(baskets) // 2, cap=1_000_000, items_col="items")
    assert "limit 1,000,000" in str(e.value)


def test_fewer_baskets_than_the_floor_give_no_itemsets(spark) -> None:
    df = spark.createDataFrame([(["a", "b"],), (["a", "b"],)], "items array<string>")
    assert frequent_itemsets(df, min_count=3, n_baskets=2).count() == 0
    assert {tuple(r[0]) for r in frequent_itemsets(df, min_count=2, n_baskets=2).collect()} == {
        ("a",),
        ("b",),
        ("a", "b"),
    }


def test_bitset_engine_is_exact_over_many_small_chunks(spark) -> None:
    """SON: with chunks of 7 baskets in 5 partitions, the local floors are tiny and many
    candidates are not globally frequent; the second pass must still count exactly."""
    from visitonce.bundles import bitset

    rng = __import__("random").Random(3)
    baskets = [sorted(set(rng.sample("abcdefgh", rng.randint(1, 5)))) for _ in range(120)]
    baskets += [["a", "c", "f"]] * 15
    df = spark.createDataFrame([(b,) for b in baskets], "items array<string>").repartition(5)
    got = {
        frozenset(r["itemset"]): r["freq"]
        for r in bitset.frequent_itemsets_son(
            df, min_count=18, n_baskets=len(baskets), chunk_rows=7
        ).collect()
    }
    ref = _mlxtend(baskets, 18 / len(baskets))
    want = {
        frozenset(s): round(sup * len(baskets))
        for s, sup in zip(ref["itemsets"], ref["support"], strict=True)
    }
    assert got == want and any(len(s) == 3 for s in want)


def test_bitset_engine_hands_over_to_fpgrowth_beyond_its_item_limit(spark, monkeypatch) -> None:
    from visitonce.bundles import bitset

    monkeypatch.setattr(bitset, "MAX_ITEMS", 3)
    df = spark.createDataFrame([(b,) for b in HAND], "items array<string>")
    assert bitset.frequent_itemsets_son(df, min_count=2, n_baskets=len(HAND)) is None
    got = {
        frozenset(r[0]): r[1]
        for r in frequent_itemsets(df, min_count=2, n_baskets=len(HAND)).collect()
    }
    assert got[frozenset("abc")] == 4  # auto fell back to FPGrowth, same answer


def test_guard_rail_histograms_agree_with_and_without_the_join(spark) -> None:
    """The few-items path (set lookup per item) and the join path give the same histogram."""
    from visitonce.bundles.guard import _frequent_sizes_few, summarize_frequent_sizes

    df = spark.createDataFrame([(b,) for b in HAND], "items array<string>")
    for min_count in (1, 2, 3, 5, 11):
        joined = sorted(
            (int(r["s"]), int(r["h"]))
            for r in summarize_frequent_sizes(df, min_count=min_count, items_col="items").collect()
        )
        hist, singles = _frequent_sizes_few(df, min_count=min_count, items_col="items")
        assert sorted(hist) == joined, min_count
        assert all(n >= min_count for n in singles.values())
    # hand-counted at min_count 3: a 6, b 6, c 6, d 3, e 3 are all frequent; sizes 3,3,4,4,2,2,2,1,2,1
    hist, _ = _frequent_sizes_few(df, min_count=3, items_col="items")
    assert sorted(hist) == [(-1, 5), (1, 2), (2, 4), (3, 2), (4, 2)]


def _random_baskets(seed: int = 3) -> list[list[str]]:
    rng = __import__("random").Random(seed)
    baskets = [sorted(set(rng.sample("abcdefgh", rng.randint(1, 5)))) for _ in range(120)]
    return baskets + [["a", "c", "f"]] * 15


def _want(baskets: list[list[str]], min_count: int) -> dict[frozenset, int]:
    if min_count > len(baskets):
        return {}
    ref = _mlxtend(baskets, min_count / len(baskets))
    return {
        frozenset(s): round(sup * len(baskets))
        for s, sup in zip(ref["itemsets"], ref["support"], strict=True)
    }


@pytest.mark.parametrize("chunk_rows", [None, 40], ids=["one block", "blocks of 40"])
@pytest.mark.parametrize("baskets", [HAND, _random_baskets()], ids=["hand", "random"])
def test_mining_with_the_guard_rail_estimates_as_the_guard_rail_alone(
    spark, monkeypatch, baskets, chunk_rows
) -> None:
    """The bitset engine computes the guard-rail's histogram while mining (one block) or
    counting (several): same estimate as ``check_itemsets``, same itemsets as mlxtend, same
    refusal."""
    from visitonce.bundles import bitset
    from visitonce.bundles.fpgrowth import mine_frequent_itemsets

    monkeypatch.setattr(bitset, "CHUNK_ROWS", chunk_rows or bitset.CHUNK_ROWS)
    # one block needs persisted baskets (as the stage's); blocks of 40 take any
    df = spark.createDataFrame([(b,) for b in baskets], "items array<string>").repartition(3)
    df = df.cache() if chunk_rows is None else df
    single: list[int] = []
    one_block = bitset._one_block
    monkeypatch.setattr(
        bitset, "_one_block", lambda *a, **k: single.append(1) or one_block(*a, **k)
    )
    for min_count in (2, 5, 18):
        alone = check_itemsets(df, min_count=min_count, cap=10**6, items_col="items")
        est, found = mine_frequent_itemsets(
            df, min_count=min_count, n_baskets=len(baskets), cap=10**6
        )
        assert est == alone, min_count
        assert {frozenset(r[0]): r[1] for r in found.collect()} == _want(baskets, min_count)
    assert bool(single) == (chunk_rows is None)  # one reading, or blocks and a second one
    with pytest.raises(ItemsetExplosionError, match="raise min_count") as e:
        mine_frequent_itemsets(df, min_count=2, n_baskets=len(baskets), cap=5, what="citizen")
    assert str(e.value).startswith("citizen: up to ")


def test_blocks_the_guard_rail_would_refuse_alone_are_mined_after_the_global_check(
    spark, monkeypatch
) -> None:
    """A block of 7 baskets has floor 1, so its own bound (every subset of its baskets) can
    exceed a cap the whole input respects: the task does not mine it (``dense``); the global
    estimate is checked and the blocks are mined in two more passes, with the same result."""
    from visitonce.bundles import bitset

    baskets = _random_baskets()
    df = spark.createDataFrame([(b,) for b in baskets], "items array<string>").repartition(5)
    alone = check_itemsets(df, min_count=18, cap=10**6, items_col="items")
    fallback = []
    original = bitset.mine
    monkeypatch.setattr(bitset, "mine", lambda *a, **k: fallback.append(1) or original(*a, **k))
    est, rows = bitset.mine_guarded(
        df, min_count=18, n_baskets=len(baskets), cap=alone.bound, chunk_rows=7
    )
    assert fallback and est == check_itemsets(df, min_count=18, cap=alone.bound, items_col="items")
    assert {frozenset(r[0]): r[1] for r in rows} == _want(baskets, 18)
    # a wide block (more items at its floor than MAX_ITEMS, here the first 7 baskets with 8
    # rare items twice each) takes the same way; globally only a..h reach min_count
    rare = [["p", "q", "r", "s"], ["t", "u", "v", "w"]] * 2
    wide = rare + baskets
    df = spark.createDataFrame([(b,) for b in wide], "items array<string>").coalesce(1)
    monkeypatch.setattr(bitset, "MAX_ITEMS", 8)
    fallback.clear()
    _, rows = bitset.mine_guarded(df, min_count=18, n_baskets=len(wide), cap=None, chunk_rows=7)
    assert fallback and {frozenset(r[0]): r[1] for r in rows} == _want(wide, 18)


def test_pairs_from_the_sparse_product_equal_pairs_from_bitsets() -> None:
    """Many frequent items in long baskets take level 2 from X'X: same itemsets and counts
    as ANDing bitsets, over two spans of rows, and the same as mlxtend."""
    import numpy as np

    from visitonce.bundles.bitset import _Block, local_frequent

    rng = np.random.default_rng(5)
    baskets = [sorted(set(rng.choice(25, rng.integers(5, 15)).tolist())) for _ in range(400)]
    lengths = np.array([len(b) for b in baskets], np.int32)
    codes = np.concatenate([np.array(b, np.int32) for b in baskets])
    block = _Block(lengths, codes, np.arange(25, dtype=np.int64))
    for lo, hi in ((0, 400), (0, 130), (130, 400)):
        bits = block.bitsets(25, lo, hi)
        plain = local_frequent(bits, 12 * (hi - lo) // 400, None)
        product = local_frequent(bits, 12 * (hi - lo) // 400, None, block.pair_counts(25, lo, hi))
        assert plain == product and any(len(k) == 3 for k in plain), (lo, hi)
    names = [[f"{i:02d}" for i in b] for b in baskets]
    want = {k: v for k, v in _want(names, 12).items() if len(k) >= 2}
    got = {frozenset(f"{i:02d}" for i in k): n for k, n in local_frequent(
        block.bitsets(25, 0, 400), 12, None, block.pair_counts(25, 0, 400)).items()}  # fmt: skip
    assert got == want
