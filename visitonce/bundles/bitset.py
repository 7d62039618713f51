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

The baskets cross from the JVM to Python once (``mine_guarded``): each task turns its
partition into blocks of up to ``chunk_rows`` baskets, each one row holding its own item
dictionary, the item counts and the baskets as item codes (CSR: lengths and codes, int32, as
binary), and mines each block in the same task (pass 1). The blocks are persisted and are a
fraction of the baskets' size, so pass 2 and the guard-rail's histogram (``_count_pass``)
read them instead of the baskets. Only items, candidate itemsets and their counts reach the
driver, never baskets. Memory per task: one bitset per frequent item over at most
``CHUNK_BYTES`` of baskets (a block is split into spans), and the candidates ANDed at once.
``fpgrowth.mine_frequent_itemsets`` chooses this engine when the frequent items are few
enough, FPGrowth otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce.bundles.guard import ItemsetEstimate, enforce, estimate_itemsets

ITEMSET = "itemset"
FREQ = "freq"
CHUNK_ROWS = 1_000_000  # baskets per block at most
CHUNK_VALUES = 64 * 2**20  # and at most this many item codes per block (256 MiB, < 2 GiB binary)
CHUNK_BYTES = 256 * 2**20  # at most this much of item bitsets at once (a block is split)
MAX_ITEMS = 4096  # more frequent items than this: FPGrowth instead (see fpgrowth.py)
_TEMP_BYTES = 8 * 2**20  # candidates ANDed at once: at most this much of temporary bitsets

BLOCKS = "names array<string>, counts array<long>, n long, lengths binary, codes binary"


def _row_chunks(batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.ListArray]:
    """The baskets of a partition in chunks of at most ``chunk_rows`` rows and CHUNK_VALUES
    item codes (a single larger basket is a chunk of its own)."""
    pending: list[pa.Array] = []
    rows = values = 0
    for batch in batches:
        col = batch.column(0)
        start = 0
        while start < len(col):
            lengths = pc.fill_null(pc.list_value_length(col.slice(start)), 0).to_numpy()
            room_rows = chunk_rows - rows
            cum = np.cumsum(lengths[:room_rows]) + values
            take = int(np.searchsorted(cum, CHUNK_VALUES, side="right"))
            if take == 0 and rows == 0:
                take = 1
            if take:
                pending.append(col.slice(start, take))
                rows += take
                values = int(cum[take - 1])
                start += take
            if rows >= chunk_rows or start < len(col):
                yield pa.concat_arrays(pending)
                pending, rows, values = [], 0, 0
    if pending:
        yield pa.concat_arrays(pending)


def _encode_chunk(baskets: pa.ListArray) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One block: the chunk's item dictionary, item counts, basket lengths and item codes."""
    n = len(baskets)
    values = baskets.flatten()  # skips null baskets' slots
    lengths = pc.fill_null(pc.list_value_length(baskets), 0).to_numpy().astype(np.int64)
    if values.null_count:  # a null item is no item: drop it and shorten its basket
        rows = np.repeat(np.arange(n), lengths)
        valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
        lengths = np.bincount(rows[valid], minlength=n)
        values = values.filter(pc.is_valid(values))
    if len(values):
        encoded = pc.dictionary_encode(values)
        names = encoded.dictionary.cast(pa.string()).to_pylist()
        codes = encoded.indices.to_numpy().astype(np.int32)
    else:
        names, codes = [], np.zeros(0, np.int32)
    counts = np.bincount(codes, minlength=len(names)).astype(np.int64)
    return names, counts, lengths.astype(np.int32), codes


def _block_columns(
    names: list[str], counts: np.ndarray, lengths: np.ndarray, codes: np.ndarray
) -> dict[str, pa.Array]:
    return {
        "names": pa.array([names], pa.list_(pa.string())),
        "counts": pa.array([counts], pa.list_(pa.int64())),
        "n": pa.array([len(lengths)], pa.int64()),
        "lengths": pa.array([lengths.tobytes()], pa.binary()),
        "codes": pa.array([codes.tobytes()], pa.binary()),
    }


class _Block:
    """One block decoded: ``rows`` (basket of every kept code) and ``items`` (its index among
    the items kept: ``to_index`` maps the block's codes to them, -1 for the others)."""

    def __init__(self, lengths: np.ndarray, codes: np.ndarray, to_index: np.ndarray):
        self.n = len(lengths)
        items = to_index[codes] if len(codes) else np.zeros(0, np.int64)
        keep = items >= 0
        self.rows = np.repeat(np.arange(self.n, dtype=np.int64), lengths)[keep]
        self.items = items[keep]

    @classmethod
    def from_row(cls, row: dict, frequent: pa.Array) -> _Block:
        """A block row (BLOCKS) with its codes mapped to the positions in ``frequent``."""
        local = pc.index_in(pa.array(row["names"], pa.string()), value_set=frequent)
        return cls(
            np.frombuffer(row["lengths"], dtype=np.int32),
            np.frombuffer(row["codes"], dtype=np.int32),
            pc.fill_null(local, -1).to_numpy().astype(np.int64),
        )

    def sizes(self) -> np.ndarray:
        """Kept items per basket."""
        return np.bincount(self.rows, minlength=self.n)

    def histogram(self) -> np.ndarray:
        """``h[s]``: baskets holding ``s`` kept items."""
        return np.bincount(self.sizes())

    def bitsets(self, n_items: int, lo: int, hi: int) -> np.ndarray:
        """(n_items, words) uint64: bit r of item i's row is set when basket lo + r holds i."""
        words = (hi - lo + 63) // 64
        a, b = np.searchsorted(self.rows, [lo, hi])  # rows are sorted
        rows, items = self.rows[a:b] - lo, self.items[a:b]
        packed = np.zeros(n_items * words * 8, dtype=np.uint8)
        # a basket holds each item once, so adding the bits of one byte is OR-ing them
        np.add.at(packed, items * words * 8 + (rows >> 3), (1 << (rows & 7)).astype(np.uint8))
        return packed.view(np.uint64).reshape(n_items, words)

    def pair_counts(self, n_items: int, lo: int, hi: int) -> np.ndarray:
        """(n_items, n_items): baskets lo..hi-1 holding both items, as the sparse product
        X'X of the basket x item incidence (scipy; work grows with the squared basket sizes,
        not with the number of pairs)."""
        from scipy import sparse

        a, b = np.searchsorted(self.rows, [lo, hi])
        x = sparse.csr_matrix(
            (np.ones(b - a, np.int32), (self.rows[a:b] - lo, self.items[a:b])),
            shape=(hi - lo, n_items),
        )
        return (x.T @ x).toarray()

    def spans(self, n_items: int) -> list[tuple[int, int]]:
        """Row ranges whose bitsets fit CHUNK_BYTES."""
        step = max(64, CHUNK_BYTES * 8 // max(n_items, 1) // 64 * 64)
        return [(lo, min(self.n, lo + step)) for lo in range(0, self.n, step)]


def _blocks(batches: Iterator[pa.RecordBatch]) -> Iterator[dict]:
    for batch in batches:
        yield from batch.to_pylist()


def _popcount(bits: np.ndarray) -> np.ndarray:
    return np.bitwise_count(bits).sum(axis=-1, dtype=np.int64)


def _per_block(words: int) -> int:
    return max(1, _TEMP_BYTES // max(8 * words, 1))


def _count(bits: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Counts of itemsets (rows of item indices, one length) in one span's bitsets: their
    items' bitsets ANDed, a block of candidates at a time in two reused buffers."""
    out = np.zeros(len(candidates), dtype=np.int64)
    step = min(len(candidates), _per_block(bits.shape[1]))
    acc = np.empty((step, bits.shape[1]), dtype=bits.dtype)
    tmp = np.empty_like(acc)
    for lo in range(0, len(candidates), step):
        block = candidates[lo : lo + step]
        a, t = acc[: len(block)], tmp[: len(block)]
        np.take(bits, block[:, 0], axis=0, out=a)
        for j in range(1, block.shape[1]):
            np.take(bits, block[:, j], axis=0, out=t)
            np.bitwise_and(a, t, out=a)
        out[lo : lo + len(block)] = _popcount(a)
    return out


def _join(keys: np.ndarray, frequent: set[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """apriori-gen on one level's sorted itemsets (rows of ``keys``): pairs sharing their first
    k-1 items, pruned by every k-subset. Returns (prefix row, added item) arrays."""
    k = keys.shape[1]
    prefix_rows, added = [], []
    start = 0
    n = len(keys)
    while start < n:
        end = start + 1
        while end < n and (k == 1 or np.array_equal(keys[end, :-1], keys[start, :-1])):
            end += 1
        for a in range(start, end):
            base = tuple(keys[a].tolist())
            for b in range(a + 1, end):
                c = (*base, int(keys[b, -1]))
                if k >= 2 and any(c[:j] + c[j + 1 :] not in frequent for j in range(k - 1)):
                    continue
                prefix_rows.append(a)
                added.append(c[-1])
        start = end
    return np.array(prefix_rows, np.int64), np.array(added, np.int64)


def local_frequent(
    bits: np.ndarray, floor: int, max_len: int | None, pairs: np.ndarray | None = None
) -> dict[tuple[int, ...], int]:
    """Every itemset (length >= 2) with at least ``floor`` baskets in these bitsets, with its
    count: level-wise Apriori over the item bitsets. Only the itemsets of a level are kept,
    not their bitsets (each candidate's are ANDed from its items': a few more ANDs, much less
    memory). ``pairs``: the pair counts (``_Block.pair_counts``), which give level 2 at once
    (with hundreds of frequent items, most candidates are pairs)."""
    keys = np.nonzero(_popcount(bits) >= floor)[0].reshape(-1, 1).astype(np.int64)
    found: dict[tuple[int, ...], int] = {}
    if pairs is not None and len(keys) >= 2 and (max_len is None or max_len >= 2):
        a, b = np.nonzero(np.triu(pairs, 1) >= floor)  # row-major: sorted pairs
        keys = np.column_stack([a, b]).astype(np.int64)
        found.update(zip(map(tuple, keys.tolist()), pairs[a, b].tolist(), strict=True))
    while len(keys) and (max_len is None or keys.shape[1] < max_len):
        frequent = {tuple(r) for r in keys.tolist()} if keys.shape[1] >= 2 else set()
        prefix, added = _join(keys, frequent)
        if not len(prefix):
            break
        candidates = np.column_stack([keys[prefix], added])
        counts = _count(bits, candidates)
        hit = counts >= floor
        keys = candidates[hit]
        found.update(zip(map(tuple, keys.tolist()), counts[hit].tolist(), strict=True))
    return found


def _local_candidates(
    block: _Block, n_items: int, *, min_count: int, n_baskets: int, max_len: int | None
) -> tuple[list[tuple[int, ...]], list[int] | None]:
    """SON pass 1 on one block: its locally frequent itemsets (length >= 2), span by span, and
    their counts in the block when it was one span (else None)."""
    spans = block.spans(n_items)
    found: dict[tuple[int, ...], int] = {}
    # pairs by ANDing bitsets cost ~ n_items^2 / 2 words per 64 baskets, by the sparse product
    # ~ the mean squared basket size per basket (with a larger constant, measured: 60 items
    # in baskets of 1-6 favour bitsets, 569 items in baskets of ~10 the product, by 5x)
    sizes = block.sizes().astype(np.float64)
    by_product = n_items * n_items > 512 * float(np.mean(sizes**2))
    for lo, hi in spans:
        floor = max(1, math.ceil(min_count * (hi - lo) / n_baskets))
        bits = block.bitsets(n_items, lo, hi)
        pairs = block.pair_counts(n_items, lo, hi) if by_product else None
        found.update(local_frequent(bits, floor, max_len, pairs))
    keys = sorted(found)
    return keys, [found[k] for k in keys] if len(spans) == 1 else None


class _Candidates:
    """Candidate itemsets (tuples of item indices) grouped by length, numbered in order."""

    def __init__(self, candidates: list[tuple[int, ...]]):
        lengths = sorted({len(c) for c in candidates})
        self.groups = [np.array([c for c in candidates if len(c) == k], np.int64) for k in lengths]
        self.flat = [row for g in self.groups for row in g.tolist()]
        self.starts = np.cumsum([0] + [len(g) for g in self.groups])[:-1]

    def count(self, block: _Block, n_items: int) -> np.ndarray:
        total = np.zeros(len(self.flat), dtype=np.int64)
        if not self.flat:
            return total
        for lo, hi in block.spans(n_items):
            bits = block.bitsets(n_items, lo, hi)
            for group, start in zip(self.groups, self.starts, strict=True):
                total[start : start + len(group)] += _count(bits, group)
        return total


def _count_pass(
    blocks: DataFrame, names: list[str], candidates: _Candidates, *, histogram: bool
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """SON pass 2: every candidate's exact count; and, with ``histogram``, the guard-rail's
    histogram ``(s, h)``: ``h`` baskets hold ``s >= 1`` of ``names``, from the same reading."""
    value_set = pa.array(names, pa.string())
    n_items = len(names)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        total = np.zeros(len(candidates.flat), dtype=np.int64)
        sizes = np.zeros(1, np.int64)
        for row in _blocks(batches):
            block = _Block.from_row(row, value_set)
            total += candidates.count(block, n_items)
            if histogram:
                hist = block.histogram()
                sizes = np.pad(sizes, (0, max(0, len(hist) - len(sizes))))
                sizes[: len(hist)] += hist
        hit = np.nonzero(total)[0]
        s = np.nonzero(sizes)[0]
        s = s[s >= 1]
        yield pa.RecordBatch.from_pydict(
            {
                "k": pa.array([1] * len(hit) + [0] * len(s), pa.int32()),
                "i": pa.array(np.concatenate([hit, s]), pa.int64()),
                "n": pa.array(np.concatenate([total[hit], sizes[s]]), pa.int64()),
            }
        )

    summed = (
        blocks.mapInArrow(run, "k int, i long, n long")
        .groupBy("k", "i")
        .agg(F.sum("n").alias("n"))
        .collect()
    )
    counts = np.zeros(len(candidates.flat), dtype=np.int64)
    hist: list[tuple[int, int]] = []
    for r in summed:
        if r["k"] == 1:
            counts[r["i"]] = r["n"]
        else:
            hist.append((int(r["i"]), int(r["n"])))
    return counts, sorted(hist)


def _itemset_rows(
    names: list[str],
    frequent: dict[str, int],
    candidates: _Candidates,
    counts: np.ndarray,
    min_count: int,
) -> list[tuple[list[str], int]]:
    rows = [([name], frequent[name]) for name in names]
    for i in np.nonzero(counts >= min_count)[0]:
        rows.append(([names[j] for j in candidates.flat[i]], int(counts[i])))
    return rows


def mine(
    blocks: DataFrame,
    *,
    frequent: dict[str, int],
    min_count: int,
    n_baskets: int,
    max_len: int | None = None,
) -> list[tuple[list[str], int]]:
    """SON over the blocks in two jobs: every itemset (length >= 1, at most ``max_len``) in at
    least ``min_count`` baskets, as (sorted items, count). ``frequent``: every item with at
    least ``min_count`` baskets, with its count."""
    names = sorted(frequent)
    value_set = pa.array(names, pa.string())
    n_items = len(names)

    def local(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for row in _blocks(batches):
            block = _Block.from_row(row, value_set)
            found, _ = _local_candidates(
                block, n_items, min_count=min_count, n_baskets=n_baskets, max_len=max_len
            )
            yield pa.RecordBatch.from_pydict(
                {"c": pa.array([list(c) for c in found], pa.list_(pa.int32()))}
            )

    found: list = []
    if n_items >= 2 and max_len != 1:
        found = blocks.mapInArrow(local, "c array<int>").distinct().collect()
    candidates = _Candidates(sorted(tuple(r["c"]) for r in found))
    counts = np.zeros(0, np.int64)
    if candidates.flat:
        counts, _ = _count_pass(blocks, names, candidates, histogram=False)
    return _itemset_rows(names, frequent, candidates, counts, min_count)


MINED, DENSE, WIDE = "mined", "dense", "wide"  # what the first reading did with a block


def mine_guarded(
    baskets: DataFrame,
    *,
    min_count: int,
    n_baskets: int,
    cap: int | None,
    items_col: str = "items",
    max_len: int | None = None,
    chunk_rows: int | None = None,
    what: str = "mining",
) -> tuple[ItemsetEstimate | None, list[tuple[list[str], int]]] | None:
    """The guard-rail and SON in two readings, when at most MAX_ITEMS items are frequent
    (None otherwise): (the guard-rail's estimate, or None without ``cap``; every itemset in
    at least ``min_count`` baskets as (sorted items, count)). Raises ItemsetExplosionError
    when the estimate's bound exceeds ``cap``.

    1. One scan of the baskets encodes each block and, in the same task, finds its locally
       frequent itemsets (SON pass 1) over the items that reach the block's floor, unless
       the block's own bound (the guard-rail's, over its items and floor) exceeds ``cap``
       (``dense``) or too many of its items do (``wide``): the task never mines what the
       guard-rail would refuse. The blocks stay persisted for step 2.
    2. One reading of the blocks counts the candidates whose items are all frequent (SON
       pass 2) and the guard-rail's histogram; the estimate is checked before any itemset
       is returned.

    When a block was not mined, the global estimate is checked first and the blocks are
    mined in two more readings (``mine``).

    Up to ``chunk_rows`` baskets (default CHUNK_ROWS) are read as one block in one task: its
    floor is ``min_count`` itself, so its local counts and histogram are the global ones and
    there is no second reading. Only for persisted baskets (the stage persists and counts
    them): the block's task reads all their partitions, which for an unpersisted plan would
    run its last stage in one task; such baskets are read as blocks per partition instead.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    if n_baskets < min_count:
        est = None if cap is None else estimate_itemsets([], min_count=min_count, cap=cap)
        return est, []

    def first(batches: Iterator[pa.RecordBatch], keep_blocks: bool) -> Iterator[pa.RecordBatch]:
        for chunk in _row_chunks(batches, chunk_rows):
            names, counts, lengths, codes = _encode_chunk(chunk)
            cols = _block_columns(names, counts, lengths, codes)
            if not keep_blocks:  # the block's baskets are not needed after this task
                cols["lengths"] = cols["codes"] = pa.array([b""], pa.binary())
            floor = max(1, math.ceil(min_count * len(lengths) / n_baskets))
            keep = np.nonzero(counts >= floor)[0]
            status, cands, freqs, sizes = MINED, [], [], np.zeros(0, np.int64)
            if len(keep) > MAX_ITEMS:
                status = WIDE
            else:
                to_index = np.full(len(names), -1, np.int64)
                to_index[keep] = np.arange(len(keep))
                block = _Block(lengths, codes, to_index)
                sizes = block.histogram()
                # the guard-rail's bound for this block at its own floor
                own = estimate_itemsets(_hist(sizes) + [(-1, len(keep))], min_count=floor, cap=1)
                if cap is not None and own.bound > cap:
                    status = DENSE
                elif len(keep) >= 2 and max_len != 1:
                    found, freqs = _local_candidates(
                        block, len(keep), min_count=min_count, n_baskets=n_baskets,
                        max_len=max_len,
                    )  # fmt: skip
                    cands = [[names[keep[j]] for j in c] for c in found]
            cols["cands"] = pa.array([cands], pa.list_(pa.list_(pa.string())))
            cols["freqs"] = pa.array([freqs], pa.list_(pa.int64()))
            cols["sizes"] = pa.array([sizes], pa.list_(pa.int64()))
            cols["status"] = pa.array([status], pa.string())
            yield pa.RecordBatch.from_pydict(cols)

    schema = f"{BLOCKS}, cands array<array<string>>, freqs array<long>, sizes array<long>, "
    schema += "status string"
    summary = ("n", "names", "counts", "cands", "freqs", "sizes", "status")
    source = baskets.select(F.col(items_col).alias("items"))
    if n_baskets <= chunk_rows and baskets.storageLevel != StorageLevel.NONE:
        # one block in one task, whose result is final unless the block was not mined: its
        # baskets are not kept (if they are needed after all, the second reading encodes them)
        source = source.coalesce(1)
        seen = source.mapInArrow(lambda b: first(b, False), schema).select(*summary).collect()
        if _complete(seen, n_baskets):
            return _one_block(seen[0], min_count=min_count, cap=cap, what=what)
    blocks = source.mapInArrow(lambda b: first(b, True), schema)
    blocks = blocks.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        seen = blocks.select(*summary).collect()
        if _complete(seen, n_baskets):
            return _one_block(seen[0], min_count=min_count, cap=cap, what=what)
        totals: dict[str, int] = {}
        for r in seen:
            for name, n in zip(r["names"], r["counts"], strict=True):
                totals[name] = totals.get(name, 0) + n
        frequent = {k: v for k, v in totals.items() if v >= min_count}
        if len(frequent) > MAX_ITEMS:
            return None
        names = sorted(frequent)
        if any(r["status"] != MINED for r in seen):
            est = None
            if cap is not None:
                _, hist = _count_pass(blocks, names, _Candidates([]), histogram=True)
                est = _estimate(hist, frequent, min_count=min_count, cap=cap, what=what)
            rows = mine(
                blocks, frequent=frequent, min_count=min_count, n_baskets=n_baskets,
                max_len=max_len,
            )  # fmt: skip
            return est, rows
        position = {name: i for i, name in enumerate(names)}
        union = {
            tuple(sorted(position[x] for x in c))
            for r in seen
            for c in r["cands"]
            if all(x in position for x in c)
        }
        candidates = _Candidates(sorted(union))
        counts, hist = np.zeros(0, np.int64), []
        if candidates.flat or cap is not None:
            counts, hist = _count_pass(blocks, names, candidates, histogram=cap is not None)
        est = None
        if cap is not None:
            est = _estimate(hist, frequent, min_count=min_count, cap=cap, what=what)
        return est, _itemset_rows(names, frequent, candidates, counts, min_count)
    finally:
        blocks.unpersist()


def _complete(seen: list, n_baskets: int) -> bool:
    """Whether the first reading's block rows are one block of every basket, mined in one
    span (so its counts are exact)."""
    return (
        len(seen) == 1
        and seen[0]["n"] == n_baskets
        and seen[0]["status"] == MINED
        and seen[0]["freqs"] is not None
    )


def _one_block(
    row: dict, *, min_count: int, cap: int | None, what: str
) -> tuple[ItemsetEstimate | None, list[tuple[list[str], int]]]:
    """The result when one block holds every basket: its floor was ``min_count``, so its items,
    itemsets and histogram are the global ones."""
    frequent = {k: v for k, v in zip(row["names"], row["counts"], strict=True) if v >= min_count}
    est = None
    if cap is not None:
        hist = _hist(row["sizes"])
        est = _estimate(hist, frequent, min_count=min_count, cap=cap, what=what)
    rows = [([name], frequent[name]) for name in sorted(frequent)]
    rows += [(sorted(c), n) for c, n in zip(row["cands"], row["freqs"], strict=True)]
    return est, rows


def _hist(sizes: np.ndarray) -> list[tuple[int, int]]:
    """The guard-rail's histogram rows ``(s, h)`` from ``h = sizes[s]``, for ``s >= 1``."""
    return [(s, int(h)) for s, h in enumerate(sizes) if s >= 1 and h]


def _estimate(
    hist: list[tuple[int, int]], frequent: dict[str, int], *, min_count: int, cap: int, what: str
) -> ItemsetEstimate:
    est = estimate_itemsets(hist + [(-1, len(frequent))], min_count=min_count, cap=cap)
    return enforce(est, min_count=min_count, cap=cap, what=what)


def frequent_itemsets_son(
    baskets: DataFrame,
    *,
    min_count: int,
    n_baskets: int,
    items_col: str = "items",
    max_len: int | None = None,
    chunk_rows: int | None = None,
) -> DataFrame | None:
    """Every itemset in at least ``min_count`` baskets: ``itemset`` (sorted), ``freq`` (long);
    None (after counting the items) when more than MAX_ITEMS items are frequent.

    Same contract as ``fpgrowth.frequent_itemsets``; ``items_col`` holds distinct items.
    """
    schema = f"{ITEMSET} array<string>, {FREQ} long"
    found = mine_guarded(
        baskets, min_count=min_count, n_baskets=n_baskets, cap=None, items_col=items_col,
        max_len=max_len, chunk_rows=chunk_rows,
    )  # fmt: skip
    if found is None:
        return None
    return baskets.sparkSession.createDataFrame(found[1], schema)
