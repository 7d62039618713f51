"""Frequent itemsets at a minimum count by vectorised bitset counting on the executors (SON).

Government catalogs hold tens to a few thousand service items, so the *frequent* items of a
mining run are few: each fits a bitset over a chunk of baskets, and an itemset's count is the
population count of its items' bitsets ANDed together (numpy, one instruction per 64
baskets). The two-pass algorithm of Savasere, Omiecinski and Navathe (SON, VLDB 1995) makes
it exact over any number of chunks:

1. every chunk of ``n_c`` baskets finds its *locally* frequent itemsets (level-wise Apriori on
   bitsets) at the proportional floor ``ceil(min_count * n_c / n_baskets)``. An itemset that
   reaches ``min_count`` overall reaches that floor in at least one chunk (otherwise its count
   would sum to less than ``min_count``), so the union of the local results holds every
   frequent itemset (and some that are not);
2. every chunk counts every candidate exactly; the counts are summed and filtered at
   ``min_count``.

Three Spark jobs (item counts, candidates, counts), each a ``mapInArrow`` over the baskets;
only items, candidate itemsets and their counts reach the driver, never baskets. Memory per
task: one bitset per frequent item over ``chunk_rows`` baskets (``n_frequent * chunk_rows / 8``
bytes) plus those of one level's frequent itemsets. ``frequent_itemsets`` in ``fpgrowth.py``
chooses this engine when the frequent items are few enough, FPGrowth otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

ITEMSET = "itemset"
FREQ = "freq"
CHUNK_ROWS = 1_000_000  # baskets per bitset chunk at most
CHUNK_BYTES = 256 * 2**20  # and at most this much of item bitsets per chunk
MAX_ITEMS = 4096  # more frequent items than this: FPGrowth instead (see fpgrowth.py)
_CAND_BLOCK = 4096  # candidates ANDed at once (bounds the temporary arrays)


def _chunks(
    batches: Iterator[pa.RecordBatch], n_items: int, chunk_rows: int
) -> Iterator[pa.ListArray]:
    """The baskets of a partition in chunks of at most ``chunk_rows`` whose item bitsets fit
    CHUNK_BYTES."""
    limit = max(1, min(chunk_rows, CHUNK_BYTES * 8 // max(n_items, 1)))
    pending: list[pa.Array] = []
    n = 0
    for batch in batches:
        col = batch.column(0)
        pending.append(col)
        n += len(col)
        if n >= limit:
            yield pa.concat_arrays(pending)
            pending, n = [], 0
    if pending:
        yield pa.concat_arrays(pending)


def _bitsets(baskets: pa.ListArray, items: pa.Array) -> np.ndarray:
    """(n_items, ceil(n_rows / 8)) uint8: bit r of row i is set when basket r holds item i."""
    n_rows = len(baskets)
    nbytes = (n_rows + 7) // 8
    idx = pc.index_in(baskets.flatten(), value_set=items)
    # flatten() drops null lists' values, whose offsets are empty, so rows line up with values
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(baskets.offsets.to_numpy()))
    found = pc.is_valid(idx).to_numpy(zero_copy_only=False)
    item = idx.drop_null().to_numpy().astype(np.int64)
    rows = rows[found]
    packed = np.zeros(len(items) * nbytes, dtype=np.uint8)
    # a basket holds each item once, so adding the bits of one byte is OR-ing them
    np.add.at(packed, item * nbytes + (rows >> 3), (128 >> (rows & 7)).astype(np.uint8))
    return packed.reshape(len(items), nbytes)


def _popcount(bits: np.ndarray) -> np.ndarray:
    return np.bitwise_count(bits).sum(axis=-1, dtype=np.int64)


def _count(bits: np.ndarray, candidates: list[tuple[int, ...]]) -> np.ndarray:
    """Counts of itemsets (tuples of item indices) in one chunk's bitsets."""
    out = np.zeros(len(candidates), dtype=np.int64)
    by_len: dict[int, list[int]] = {}
    for i, c in enumerate(candidates):
        by_len.setdefault(len(c), []).append(i)
    for length, positions in by_len.items():
        idx = np.array([candidates[i] for i in positions], dtype=np.int64).reshape(-1, length)
        for lo in range(0, len(positions), _CAND_BLOCK):
            block = idx[lo : lo + _CAND_BLOCK]
            acc = bits[block[:, 0]].copy()
            for j in range(1, length):
                acc &= bits[block[:, j]]
            out[np.array(positions[lo : lo + _CAND_BLOCK])] = _popcount(acc)
    return out


def local_frequent(bits: np.ndarray, floor: int, max_len: int | None) -> list[tuple[int, ...]]:
    """Every itemset (length >= 2) with at least ``floor`` baskets in these bitsets: level-wise
    Apriori, each level's bitsets from its prefix's and one more item's."""
    singles = np.nonzero(_popcount(bits) >= floor)[0]
    level: dict[tuple[int, ...], np.ndarray] = {(int(i),): bits[i] for i in singles}
    found: list[tuple[int, ...]] = []
    k = 1
    while level and (max_len is None or k < max_len):
        keys = sorted(level)
        frequent = set(keys)
        # apriori-gen: join itemsets sharing their first k-1 items, prune by every k-subset
        cands: list[tuple[tuple[int, ...], int]] = []
        for a_i, a in enumerate(keys):
            for b in keys[a_i + 1 :]:
                if a[:-1] != b[:-1]:
                    break
                c = (*a, b[-1])
                if k >= 2 and any(c[:j] + c[j + 1 :] not in frequent for j in range(k - 1)):
                    continue
                cands.append((a, b[-1]))
        nxt: dict[tuple[int, ...], np.ndarray] = {}
        for lo in range(0, len(cands), _CAND_BLOCK):
            block = cands[lo : lo + _CAND_BLOCK]
            acc = np.stack([level[a] for a, _ in block]) & bits[[i for _, i in block]]
            counts = _popcount(acc)
            for (a, i), row, n in zip(block, acc, counts, strict=True):
                if n >= floor:
                    nxt[(*a, i)] = row
        found.extend(nxt)
        level = nxt
        k += 1
    return found


def frequent_itemsets_son(
    baskets: DataFrame,
    *,
    min_count: int,
    n_baskets: int,
    items_col: str = "items",
    max_len: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    frequent_items: dict[str, int] | None = None,
) -> DataFrame | None:
    """Every itemset in at least ``min_count`` baskets: ``itemset`` (sorted), ``freq`` (long);
    None (after one pass over the items) when more than MAX_ITEMS items are frequent.

    Same contract as ``fpgrowth.frequent_itemsets``; ``items_col`` holds distinct items.
    ``frequent_items`` (item -> count, every item with at least ``min_count`` baskets, as the
    guard-rail collects them) saves the pass that counts items.
    """
    spark = baskets.sparkSession
    empty = spark.createDataFrame([], f"{ITEMSET} array<string>, {FREQ} long")
    if n_baskets < min_count:
        return empty
    col = baskets.select(F.col(items_col).alias("items"))
    if frequent_items is None:
        frequent_items = {
            r["item"]: int(r["count"])
            for r in col.select(F.explode("items").alias("item"))
            .groupBy("item")
            .count()
            .where(F.col("count") >= min_count)
            .collect()
        }
    singles = frequent_items
    if not singles:
        return empty
    if len(singles) > MAX_ITEMS:
        return None
    names = sorted(singles)
    items = pa.array(names, pa.string())
    candidates = _candidates(
        col, items, min_count=min_count, n_baskets=n_baskets, max_len=max_len,
        chunk_rows=chunk_rows,
    )  # fmt: skip
    counted: dict[tuple[int, ...], int] = {}
    if candidates:
        counted = _global_counts(col, items, candidates, min_count=min_count, chunk_rows=chunk_rows)
    single_rows = [([i], n) for i, n in sorted(singles.items())]
    multi_rows = [([names[i] for i in c], n) for c, n in counted.items()]
    rows = single_rows + multi_rows
    if max_len is not None:
        rows = [r for r in rows if len(r[0]) <= max_len]
    return spark.createDataFrame(rows, f"{ITEMSET} array<string>, {FREQ} long")


def _candidates(
    col: DataFrame,
    items: pa.Array,
    *,
    min_count: int,
    n_baskets: int,
    max_len: int | None,
    chunk_rows: int,
) -> list[tuple[int, ...]]:
    """Pass 1: the union of every chunk's locally frequent itemsets (length >= 2)."""

    def local(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for chunk in _chunks(batches, len(items), chunk_rows):
            floor = max(1, math.ceil(min_count * len(chunk) / n_baskets))
            found = local_frequent(_bitsets(chunk, items), floor, max_len)
            if found:
                yield pa.RecordBatch.from_pydict(
                    {"c": pa.array([list(c) for c in found], pa.list_(pa.int32()))}
                )

    rows = col.mapInArrow(local, "c array<int>").distinct().collect()
    return sorted(tuple(r["c"]) for r in rows)


def _global_counts(
    col: DataFrame,
    items: pa.Array,
    candidates: list[tuple[int, ...]],
    *,
    min_count: int,
    chunk_rows: int,
) -> dict[tuple[int, ...], int]:
    """Pass 2: the exact count of every candidate, summed over chunks, at ``min_count``."""

    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        total = np.zeros(len(candidates), dtype=np.int64)
        for chunk in _chunks(batches, len(items), chunk_rows):
            total += _count(_bitsets(chunk, items), candidates)
        hit = np.nonzero(total)[0]
        yield pa.RecordBatch.from_pydict(
            {"i": pa.array(hit, pa.int32()), "n": pa.array(total[hit], pa.int64())}
        )

    summed = (
        col.mapInArrow(count, "i int, n long")
        .groupBy("i")
        .agg(F.sum("n").alias("n"))
        .where(F.col("n") >= min_count)
        .collect()
    )
    return {candidates[r["i"]]: int(r["n"]) for r in summed}
