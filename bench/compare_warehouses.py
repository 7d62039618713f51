"""Compare the tables of two warehouses: are a restructuring's outputs unchanged?

    .venv/bin/python bench/compare_warehouses.py BEFORE AFTER [--rel 1e-9]

Reads every Parquet table present in both warehouses (folders with Parquet files, partitioned
or not) with pandas/pyarrow, and prints one line per table: rows on each side, and either
"equal" or the columns that differ (rows matched after sorting on the columns both sides share;
numbers equal within --rel). Tables present on one side only are listed. Exit status 1 when a
shared table differs. Pseudonyms depend on the key: run both sides with the same
VISITONCE_PSEUDONYM_KEY. ``manifest.json`` is not compared (timings, run times).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def tables(root: Path) -> dict[str, Path]:
    return {
        p.name: p
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.name.startswith((".", "_")) and any(p.rglob("*.parquet"))
    }


def _norm(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.select_dtypes("category").columns:  # partition columns
        out[c] = out[c].astype(str)
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, np.ndarray))).any():
            out[c] = out[c].map(lambda v: None if v is None else tuple(v))
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame, *, rel: float) -> list[str]:
    """The columns that differ (empty when the tables are equal)."""
    if len(a) != len(b):
        return ["<row count>"]
    cols = [c for c in a.columns if c in b.columns]
    extra = sorted(set(a.columns) ^ set(b.columns))
    a, b = _norm(a[cols]), _norm(b[cols])
    key = [c for c in cols if a[c].dtype == object or not np.issubdtype(a[c].dtype, np.floating)]
    a = a.sort_values(key, na_position="last", key=lambda s: s.astype(str)).reset_index(drop=True)
    b = b.sort_values(key, na_position="last", key=lambda s: s.astype(str)).reset_index(drop=True)
    diff = [f"<only one side: {c}>" for c in extra]
    for c in cols:
        x, y = a[c], b[c]
        if np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            same = np.isclose(xv, yv, rtol=rel, atol=1e-12, equal_nan=True)
        else:
            same = (x.astype(str) == y.astype(str)).to_numpy()
        if not same.all():
            diff.append(f"{c} ({int((~same).sum())} rows)")
    return diff


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--rel", type=float, default=1e-9, help="relative tolerance of numbers")
    args = p.parse_args(argv)
    ta, tb = tables(args.before), tables(args.after)
    bad = 0
    for name in sorted(set(ta) | set(tb)):
        if name not in ta or name not in tb:
            print(f"{name:28s} only in {'after' if name in tb else 'before'}")
            continue
        a, b = pd.read_parquet(ta[name]), pd.read_parquet(tb[name])
        if name == "quarantine" and "batch" in a.columns:  # the batch id hashes the file URIs
            a, b = a.drop(columns="batch"), b.drop(columns="batch")
        diff = compare(a, b, rel=args.rel)
        bad += bool(diff)
        verdict = "equal" if not diff else "DIFFERS: " + ", ".join(diff)
        print(f"{name:28s} {len(a):>8,} {len(b):>8,}  {verdict}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
