"""Peer expectations, tests and flags: which item-steps are lagging.

For each item-step (service item, step, department, kind) the observed value is the median of
its workload-adjusted durations; the expected value comes from *peers*: a robust (Huber)
regression of the other items' observed log medians on step, complexity, same-day service and
cross-department share, fitted without the item itself (leave-one-item-out). A one-sided sign
test asks whether more than half of the item-step's adjusted durations exceed the expectation
(censored durations are lower bounds, so they count correctly); Benjamini-Hochberg controls the
false-discovery rate across item-steps. Method: docs/methodology-lagging.md.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visitonce import columns as C
from visitonce.lagging import adjust as A

STATUS_LAGGING = "lagging"
STATUS_NORMAL = "normal"
STATUS_WORKLOAD = "workload"  # slow before adjustment, explained by workload
STATUS_INSUFFICIENT = "insufficient_data"
STATUS_NO_PEERS = "no_peers"
STATUSES = (STATUS_LAGGING, STATUS_NORMAL, STATUS_WORKLOAD, STATUS_INSUFFICIENT, STATUS_NO_PEERS)

_Z95 = 1.959963984540054
# Asymptotic standard error of a sample median: sqrt(pi/2) * sigma / sqrt(n) for normal data;
# sigma is estimated by 1.4826 * MAD.
_MEDIAN_SE = math.sqrt(math.pi / 2) * 1.4826


def summarize_item_steps(adjusted: DataFrame) -> DataFrame:
    """Per item-step: ``n, n_censored, med, raw_med, mad`` (log seconds), ``basis``,
    ``complexity, same_day, cross_share``, ``beta_load``. Needs ``with_adjusted_durations``."""
    keys = A.GROUP_KEYS
    g = adjusted.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.col(A.CENSORED).cast("long")).alias("n_censored"),
        F.median(A.Y_ADJ).alias("med"),
        F.median(A.Y).alias("raw_med"),
        F.first(A.BASIS).alias(A.BASIS),
        F.first(C.COMPLEXITY).alias(C.COMPLEXITY),
        F.first(A.SAME_DAY).alias(A.SAME_DAY),
        F.avg(A.CROSS_DEPT).alias("cross_share"),
        F.avg(A.LOG_N_STEPS).alias("mean_log_n_steps"),
        F.first(A.BETA_LOAD).alias(A.BETA_LOAD),
    )
    mad = (
        adjusted.join(g.select(*keys, "med"), keys)
        .groupBy(*keys)
        .agg(F.median(F.abs(F.col(A.Y_ADJ) - F.col("med"))).alias("mad"))
    )
    return g.join(mad, keys)


PEER_SCHEMA = T.StructType(
    [
        T.StructField(C.SERVICE_ITEM, T.StringType()),
        T.StructField(C.STEP, T.StringType()),
        T.StructField(C.DEPARTMENT, T.StringType()),
        T.StructField(A.KIND, T.StringType()),
        T.StructField(A.SETTING, T.StringType()),
        T.StructField("expected_log", T.DoubleType()),
        T.StructField("n_peers", T.LongType()),
        T.StructField("peer_spread", T.DoubleType()),
    ]
)


def _peer_features(pdf: pd.DataFrame, steps: list[str], departments: list[str]) -> np.ndarray:
    cols = [(pdf[C.STEP] == s).astype(float).to_numpy() for s in steps]
    # Department effects: a slow or short-staffed department is the department's matter
    # (scorecards), not a lagging step of one of its items.
    cols += [(pdf[C.DEPARTMENT] == d).astype(float).to_numpy() for d in departments[1:]]
    cols.append(pdf[C.COMPLEXITY].fillna(3.0).to_numpy(dtype=float))
    cols.append(pdf["cross_share"].fillna(0.0).to_numpy(dtype=float))
    cols.append(pdf["mean_log_n_steps"].fillna(0.0).to_numpy(dtype=float))
    return np.column_stack(cols)


def _peer_model(min_cases: int, min_peers: int):  # noqa: ANN202 - a pandas group function
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import HuberRegressor

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        steps = sorted(pdf[C.STEP].unique())
        x = _peer_features(pdf, steps, sorted(pdf[C.DEPARTMENT].unique()))
        y = pdf["med"].to_numpy(dtype=float)
        eligible = (pdf["n"] >= min_cases).to_numpy()
        out = pdf[[C.SERVICE_ITEM, C.STEP, C.DEPARTMENT, A.KIND, A.SETTING]].copy()
        out["expected_log"] = np.nan
        out["n_peers"] = 0
        out["peer_spread"] = np.nan
        for item in pdf[C.SERVICE_ITEM].unique():
            mine = (pdf[C.SERVICE_ITEM] == item).to_numpy()
            train = eligible & ~mine
            if train.sum() < 3:
                continue
            # Steps with no other item in the training set carry no information: drop them.
            used = x[train].std(axis=0) > 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = HuberRegressor(max_iter=1000, alpha=1e-3).fit(x[train][:, used], y[train])
            resid = y[train] - model.predict(x[train][:, used])
            spread = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
            for i in np.flatnonzero(mine):
                same_step = train & (pdf[C.STEP] == pdf[C.STEP].iloc[i]).to_numpy()
                out.iloc[i, out.columns.get_loc("n_peers")] = int(same_step.sum())
                if same_step.sum() >= min_peers:
                    pred = model.predict(x[i : i + 1][:, used])[0]
                    out.iloc[i, out.columns.get_loc("expected_log")] = float(pred)
                    out.iloc[i, out.columns.get_loc("peer_spread")] = spread
        out["n_peers"] = out["n_peers"].astype("int64")
        return out

    return run


def with_peer_expectations(groups: DataFrame, *, min_cases: int, min_peers: int) -> DataFrame:
    """Adds ``expected_log`` (null without ``min_peers`` same-step peers), ``n_peers`` and
    ``peer_spread`` (robust residual spread of the peer model, log scale) to
    ``summarize_item_steps`` output: a leave-one-item-out Huber regression per kind and
    setting."""
    # Same-day items run on other clocks (while the citizen waits, or automated): own peers.
    # (Waiting in a queue does not depend on how the work is done later: one cell.)
    same_day_cell = F.when(F.col(A.KIND) != "waiting", F.col(A.SAME_DAY))
    peers = (
        groups.withColumn("_same_day_cell", same_day_cell)
        .groupBy(A.KIND, A.SETTING, "_same_day_cell")
        .applyInPandas(_peer_model(min_cases, min_peers), PEER_SCHEMA)
    )
    return groups.join(peers, A.GROUP_KEYS)


def with_sign_counts(groups: DataFrame, adjusted: DataFrame) -> DataFrame:
    """Adds ``n_above``: how many adjusted durations of the item-step exceed its expectation."""
    exp = groups.select(*A.GROUP_KEYS, "expected_log").where(F.col("expected_log").isNotNull())
    counts = (
        adjusted.join(F.broadcast(exp), A.GROUP_KEYS)
        .groupBy(*A.GROUP_KEYS)
        .agg(F.sum((F.col(A.Y_ADJ) > F.col("expected_log")).cast("long")).alias("n_above"))
    )
    return groups.join(counts, A.GROUP_KEYS, "left")


LAGGING_SCHEMA = T.StructType(
    [
        T.StructField(C.SERVICE_ITEM, T.StringType()),
        T.StructField(C.STEP, T.StringType()),
        T.StructField(C.DEPARTMENT, T.StringType()),
        T.StructField("n", T.LongType()),
        T.StructField("observed_s", T.DoubleType()),
        T.StructField("expected_s", T.DoubleType()),
        T.StructField("excess_ratio", T.DoubleType()),
        T.StructField("flagged", T.BooleanType()),
        T.StructField(A.KIND, T.StringType()),
        T.StructField(A.SETTING, T.StringType()),
        T.StructField("status", T.StringType()),
        T.StructField("basis", T.StringType()),
        T.StructField("n_censored", T.LongType()),
        T.StructField("observed_lo_s", T.DoubleType()),
        T.StructField("observed_hi_s", T.DoubleType()),
        T.StructField("raw_observed_s", T.DoubleType()),
        T.StructField("raw_excess_ratio", T.DoubleType()),
        T.StructField("workload_ratio", T.DoubleType()),
        T.StructField("robust_z", T.DoubleType()),
        T.StructField("p_value", T.DoubleType()),
        T.StructField("q_value", T.DoubleType()),
        T.StructField("n_peers", T.LongType()),
        T.StructField(C.COMPLEXITY, T.DoubleType()),
    ]
)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted q-values (step-up; monotone; capped at 1); NaN stays NaN."""
    q = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    ps = p[ok]
    order = np.argsort(ps)
    ranked = ps[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def _decide(min_cases: int, min_effect: float, fdr_alpha: float):  # noqa: ANN202
    from scipy.stats import binom

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        n = pdf["n"].to_numpy(dtype=float)
        med = pdf["med"].to_numpy(dtype=float)
        raw = pdf["raw_med"].to_numpy(dtype=float)
        exp_log = pdf["expected_log"].to_numpy(dtype=float)
        above = pdf["n_above"].fillna(0).to_numpy(dtype=float)
        testable = (n >= min_cases) & ~np.isnan(exp_log)
        # One-sided sign test of H0 "median adjusted duration <= expected".
        p = np.where(testable, binom.sf(above - 1, n, 0.5), np.nan)
        q = benjamini_hochberg(p)
        ratio = np.exp(med - exp_log)
        raw_ratio = np.exp(raw - exp_log)
        half = _Z95 * _MEDIAN_SE * pdf["mad"].to_numpy(dtype=float) / np.sqrt(np.maximum(n, 1))
        flagged = testable & (q <= fdr_alpha) & (ratio >= min_effect)
        status = np.where(
            n < min_cases,
            STATUS_INSUFFICIENT,
            np.where(
                np.isnan(exp_log),
                STATUS_NO_PEERS,
                np.where(
                    flagged,
                    STATUS_LAGGING,
                    np.where(raw_ratio >= min_effect, STATUS_WORKLOAD, STATUS_NORMAL),
                ),
            ),
        )
        spread = pdf["peer_spread"].to_numpy(dtype=float)
        out = pd.DataFrame(
            {
                C.SERVICE_ITEM: pdf[C.SERVICE_ITEM],
                C.STEP: pdf[C.STEP],
                C.DEPARTMENT: pdf[C.DEPARTMENT],
                "n": pdf["n"].astype("int64"),
                "observed_s": np.exp(med),
                "expected_s": np.exp(exp_log),
                "excess_ratio": ratio,
                "flagged": flagged,
                A.KIND: pdf[A.KIND],
                A.SETTING: pdf[A.SETTING],
                "status": status,
                "basis": pdf[A.BASIS],
                "n_censored": pdf["n_censored"].astype("int64"),
                "observed_lo_s": np.exp(med - half),
                "observed_hi_s": np.exp(med + half),
                "raw_observed_s": np.exp(raw),
                "raw_excess_ratio": raw_ratio,
                "workload_ratio": np.exp(raw - med),
                "robust_z": (med - exp_log) / np.where(spread > 0, spread, np.nan),
                "p_value": p,
                "q_value": q,
                "n_peers": pdf["n_peers"].astype("int64"),
                C.COMPLEXITY: pdf[C.COMPLEXITY],
            }
        )
        return out

    return run


def to_lagging_steps(
    groups: DataFrame, *, min_cases: int, min_effect: float, fdr_alpha: float
) -> DataFrame:
    """The lagging_steps table from ``with_sign_counts`` output.

    ``flagged`` = at least ``min_cases`` observations, a peer expectation, BH q-value <=
    ``fdr_alpha`` (over every tested item-step of every kind) and observed/expected >=
    ``min_effect``. ``status``: lagging, normal, workload (slow before but not after the
    workload adjustment), insufficient_data (n < min_cases: reported, never flagged), no_peers.
    """
    decide = _decide(min_cases, min_effect, fdr_alpha)
    # BH needs every item-step at once: one (small) group of item-step rows.
    return groups.withColumn("_all", F.lit(1)).groupBy("_all").applyInPandas(decide, LAGGING_SCHEMA)
