"""Benchmark: frequent-itemset mining, visitonce (guard-rail + ``frequent_itemsets`` at a minimum
count, engine ``auto``: vectorised bitset counting, SON, when at most 4,096 items are frequent)
vs plain Spark FPGrowth vs mlxtend's fpgrowth, on the same baskets, ratios from the same run.

    .venv/bin/python bench/bundles.py [--data ../shared/data/itemsets] [--generated 1000000 4000000]
        [--datasets retail,T10I4D100K] [--master local[*]] [--gen-support 0.002]

Each engine's itemsets are checked identical (itemset and count) before its time counts; each
engine runs ``--repeat`` times (the fastest counts) after an untimed warm-up.
mlxtend's time includes its one-hot encoding (TransactionEncoder); Spark's includes reading
the baskets from the driver's list into a DataFrame once (cached), not session start-up.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np


def generated(n: int, seed: int = 1) -> list[list[str]]:
    """n baskets over 60 items: Zipf-ish background of 1-6 items, three planted bundles."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 61) ** 0.8
    weights /= weights.sum()
    sizes = rng.integers(1, 7, n)
    flat = rng.choice(60, size=int(sizes.sum()), p=weights)
    bundles = [(3, 17, 41), (8, 22), (30, 31, 32, 33)]
    out, pos = [], 0
    for s in sizes:
        basket = set(flat[pos : pos + s].tolist())
        pos += s
        if rng.random() < 0.05:
            basket.update(bundles[rng.integers(0, len(bundles))])
        out.append([f"i{i:02d}" for i in sorted(basket)])
    return out


def read_dat(path: Path) -> list[list[str]]:
    return [sorted(set(line.split())) for line in path.read_text().splitlines() if line.strip()]


def run_mlxtend(baskets: list[list[str]], min_count: int) -> tuple[float, dict]:
    import pandas as pd
    from mlxtend.frequent_patterns import fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    t0 = time.perf_counter()
    te = TransactionEncoder()
    onehot = pd.DataFrame.sparse.from_spmatrix(
        te.fit(baskets).transform(baskets, sparse=True), columns=te.columns_
    )
    # half a basket below the floor, as for Spark: no floating-point off-by-one at the floor
    found = fpgrowth(onehot, min_support=(min_count - 0.5) / len(baskets), use_colnames=True)
    secs = time.perf_counter() - t0
    n = len(baskets)
    pairs = zip(found.itemsets, found.support, strict=True)
    return secs, {frozenset(s): round(sup * n) for s, sup in pairs}


def run_spark(spark, df, n: int, min_count: int, *, ours: bool) -> tuple[float, dict]:
    from pyspark.ml.fpm import FPGrowth

    from visitonce.bundles.fpgrowth import mine_frequent_itemsets

    t0 = time.perf_counter()
    if ours:
        _, found = mine_frequent_itemsets(df, min_count=min_count, n_baskets=n, cap=50_000_000)
        rows = found.collect()
        got = {frozenset(r["itemset"]): r["freq"] for r in rows}
    else:
        model = FPGrowth(itemsCol="items", minSupport=(min_count - 0.5) / n).fit(df)
        got = {frozenset(r["items"]): r["freq"] for r in model.freqItemsets.collect()}
    return time.perf_counter() - t0, got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--data", default=str(here / ".." / "shared" / "data" / "itemsets"))
    ap.add_argument("--datasets", default="retail,T10I4D100K")
    ap.add_argument("--support", type=float, default=0.005)
    ap.add_argument("--generated", type=int, nargs="*", default=[1_000_000])
    ap.add_argument("--gen-support", type=float, default=0.002)
    ap.add_argument("--skip-mlxtend-over", type=int, default=10_000_000)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--repeat", type=int, default=2, help="runs per engine; the fastest counts")
    args = ap.parse_args()

    from visitonce.spark import build_session

    spark = build_session(master=args.master, app_name="bench-bundles")
    # Each dataset is built just before its run and freed after it: millions of baskets held
    # as Python lists slow every later mlxtend run (the garbage collector walks them).
    cases = [(name, lambda name=name: read_dat(Path(args.data) / f"{name}.dat"), args.support)
             for name in args.datasets.split(",") if name]  # fmt: skip
    for size in args.generated:
        cases.append((f"generated {size:,}", lambda size=size: generated(size), args.gen_support))
    # warm-up (untimed): the JVM's first jobs and the Python workers' start
    warm = spark.createDataFrame([(b,) for b in generated(1000)], "items array<string>")
    run_spark(spark, warm, 1000, 20, ours=True)
    run_spark(spark, warm, 1000, 20, ours=False)

    def best(run, *a, **k):  # the fastest of --repeat runs, and its result
        return min((run(*a, **k) for _ in range(args.repeat)), key=lambda r: r[0])

    results = []
    for name, build, support in cases:
        baskets = build()
        n = len(baskets)
        min_count = math.ceil(support * n)
        df = spark.createDataFrame([(b,) for b in baskets], "items array<string>").cache()
        df.count()
        row = {"dataset": name, "baskets": n, "min_count": min_count}
        t_ours, ours = best(run_spark, spark, df, n, min_count, ours=True)
        t_plain, plain = best(run_spark, spark, df, n, min_count, ours=False)
        assert ours == plain, f"{name}: visitonce and plain FPGrowth differ"
        row.update(
            itemsets=len(ours), visitonce_s=round(t_ours, 2), spark_fpgrowth_s=round(t_plain, 2)
        )
        if n <= args.skip_mlxtend_over:
            t_mlx, mlx = best(run_mlxtend, baskets, min_count)
            diff = set(mlx.items()) ^ set(ours.items())
            assert not diff, f"{name}: mlxtend differs on {len(diff)}: {sorted(diff, key=str)[:5]}"
            row.update(mlxtend_s=round(t_mlx, 2), speedup_vs_mlxtend=round(t_mlx / t_ours, 2))
        row["ratio_vs_plain_fpgrowth"] = round(t_plain / t_ours, 2)
        print(json.dumps(row), flush=True)
        results.append(row)
        df.unpersist()
        del baskets, df, ours
        gc.collect()
    print(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                  "master": args.master, "repeat": args.repeat}}))  # fmt: skip


if __name__ == "__main__":
    main()
