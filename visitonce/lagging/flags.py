"""Expectations a department head would accept, tests and flags: which item-steps are lagging.

Every item-step (service item, step, department, kind, setting) is judged over the *judged
period* (the data's last ``judged_days``) against up to four comparisons, one row each:

- ``history``: its own workload-adjusted median over the ``history_days`` before the judged
  period (it has got worse);
- ``places``: at one centre against the same item-step at the other centres, same weeks (one
  hall is slower than the rest);
- ``rule``: the item's legal time limit (catalog ``time_limit_days``, working days) for the
  whole case, which one back-office step alone should not exceed;
- ``peers``: only where history is impossible (too short a log): a two-way robust fit of
  item-step medians, row = (item, department, kind, setting), column = (step, setting), both
  left out of the cell: "this step against what the item's other steps and the other items'
  same step suggest". Items that differ by orders of magnitude are compared through their own other
  steps, never through a regression across different items.

A row is flagged when its one-sided sign test survives Benjamini-Hochberg (over every tested
row), observed / expected >= ``min_effect`` and observed - expected >= the materiality
threshold of its kind. Slowness shared by a whole department (or centre) is ``workload``, not a
lagging step. Method: docs/methodology-lagging.md.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visitonce import columns as C
from visitonce import facts as TM
from visitonce import messages as MSG
from visitonce.config import LaggingConfig
from visitonce.lagging import adjust as A
from visitonce.worktime import clock_seconds

STATUS_LAGGING = "lagging"
STATUS_NORMAL = "normal"
STATUS_WORKLOAD = "workload"  # slow, but explained by workload or shared by the whole unit
STATUS_INSUFFICIENT = "insufficient_data"
STATUS_NO_COMPARISON = "no_comparison"
STATUS_BASIS = "basis_unreliable"
STATUSES = (
    STATUS_LAGGING,
    STATUS_NORMAL,
    STATUS_WORKLOAD,
    STATUS_INSUFFICIENT,
    STATUS_NO_COMPARISON,
    STATUS_BASIS,
)
COMPARISONS = ("history", "places", "rule", "peers")
KEYS = A.GROUP_KEYS
COMPARISON = "comparison"
WINDOW = "_window"

_Z95 = 1.959963984540054
# Asymptotic standard error of a sample median: sqrt(pi/2) * sigma / sqrt(n) for normal data;
# sigma is estimated by IQR / 1.349.
_MEDIAN_SE = math.sqrt(math.pi / 2) / 1.349


def judged_dates(hi: dt.date, config: LaggingConfig) -> tuple[dt.date, dt.date]:
    """(first judged date, first history date) when the data's last date is ``hi``."""
    judged_from = hi - dt.timedelta(days=config.judged_days - 1)
    return judged_from, judged_from - dt.timedelta(days=config.history_days)


def with_windows(
    adjusted: DataFrame, config: LaggingConfig, *, dates: tuple[dt.date | None, dt.date | None]
) -> tuple[DataFrame, bool]:
    """Adds ``_window`` ('judged', 'history' or null) by local date; returns (frame, whether a
    history comparison is possible). ``dates``: the data's first and last local dates."""
    lo, hi = dates
    if lo is None or hi is None:
        return adjusted.withColumn(WINDOW, F.lit(None).cast("string")), False
    judged_from, history_from = judged_dates(hi, config)
    has_history = lo <= judged_from - dt.timedelta(days=config.history_min_days)
    d = F.col(TM.LOCAL_DATE)
    window = F.when(d >= F.lit(judged_from), F.lit("judged")).when(
        d >= F.lit(history_from), F.lit("history")
    )
    return adjusted.withColumn(WINDOW, window), bool(has_history)


def _stat_columns() -> list:
    return [
        F.count(F.lit(1)).alias("n"),
        F.sum(F.col(A.CENSORED).cast("long")).alias("n_censored"),
        F.median(A.Y_ADJ).alias("med"),
        F.median(A.Y).alias("raw_med"),
        F.median(A.Y_CAL).alias("med_cal"),
        F.percentile(A.Y_ADJ, 0.25).alias("q25"),
        F.percentile(A.Y_ADJ, 0.75).alias("q75"),
        F.first(A.BASIS).alias(A.BASIS),
        F.first(C.COMPLEXITY).alias(C.COMPLEXITY),
        F.first(C.TIME_LIMIT_DAYS).alias(C.TIME_LIMIT_DAYS),
        F.max(A.BATCH).alias(A.BATCH),
    ]


def _own_stats(df: DataFrame, keys: list[str]) -> DataFrame:
    return df.groupBy(*keys).agg(*_stat_columns())


EXPECT_SCHEMA = T.StructType(
    [
        T.StructField(C.SERVICE_ITEM, T.StringType()),
        T.StructField(C.STEP, T.StringType()),
        T.StructField(C.DEPARTMENT, T.StringType()),
        T.StructField(A.KIND, T.StringType()),
        T.StructField(A.SETTING, T.StringType()),
        T.StructField(COMPARISON, T.StringType()),
        T.StructField(A.PLACE, T.StringType()),
        T.StructField("expected_log", T.DoubleType()),
        T.StructField("n_reference", T.LongType()),
        T.StructField("reference", T.StringType()),
        T.StructField("reference_message", T.StringType()),
    ]
)


def median_polish_expectations(
    cells: pd.DataFrame, *, min_cases: int, min_peers: int
) -> pd.DataFrame:
    """Peer expectations of item-step cells from a two-way robust fit, leaving the cell out.

    ``cells``: one row per item-step with ``service_item, step, department, kind, setting, n,
    med`` (log seconds). Per kind, log median = row effect (item, department, setting) + column
    effect (step, setting), fitted by median polish over cells with ``n >= min_cases``. A cell's
    expectation is the median over its row's *other* fitted cells of (their median - their
    column effect) plus the median over its column's *other* rows of (their median - their row
    effect). Needs at least one other cell in the row and ``min_peers`` other rows in the
    column; otherwise no expectation. Returns ``KEYS, expected_log, n_reference`` (the other
    items behind the column effect).
    """
    out = []
    for _, g in cells.groupby(A.KIND, sort=False):
        g = g.reset_index(drop=True)
        row = (g[C.SERVICE_ITEM] + "|" + g[C.DEPARTMENT] + "|" + g[A.SETTING]).to_numpy()
        col = (g[C.STEP] + "|" + g[A.SETTING]).to_numpy()
        y = g["med"].to_numpy(dtype=float)
        fit = (g["n"] >= min_cases).to_numpy()
        r_eff = {r: 0.0 for r in set(row)}
        c_eff = {c: 0.0 for c in set(col)}
        for _ in range(6):
            for c in c_eff:
                m = fit & (col == c)
                if m.any():
                    c_eff[c] = float(np.median(y[m] - np.array([r_eff[r] for r in row[m]])))
            for r in r_eff:
                m = fit & (row == r)
                if m.any():
                    r_eff[r] = float(np.median(y[m] - np.array([c_eff[c] for c in col[m]])))
        exp = np.full(len(g), np.nan)
        n_ref = np.zeros(len(g), dtype="int64")
        for i in range(len(g)):
            others_r = fit & (row == row[i]) & (np.arange(len(g)) != i)
            others_c = fit & (col == col[i]) & (row != row[i])
            n_ref[i] = int(others_c.sum())
            if not others_r.any() or others_c.sum() < min_peers:
                continue
            r_loo = np.median(y[others_r] - np.array([c_eff[c] for c in col[others_r]]))
            c_loo = np.median(y[others_c] - np.array([r_eff[r] for r in row[others_c]]))
            exp[i] = r_loo + c_loo
        res = g[KEYS].copy()
        res["expected_log"] = exp
        res["n_reference"] = n_ref
        out.append(res)
    if not out:
        return pd.DataFrame(columns=[*KEYS, "expected_log", "n_reference"])
    return pd.concat(out, ignore_index=True)


def expectations(
    windowed: DataFrame,
    items: pd.DataFrame,
    *,
    has_history: bool,
    config: LaggingConfig,
) -> DataFrame:
    """The comparison rows (``EXPECT_SCHEMA``): one per item-step and comparison it allows, and
    one per item-step and centre for places. ``items``: judged-period item-step statistics."""
    spark = windowed.sparkSession
    mc = config.min_cases
    parts: list[DataFrame] = []
    hist_keys: set[tuple] = set()
    if has_history:
        said_history = MSG.compose("reference.history", days=config.history_days)
        hist = (
            windowed.where(F.col(WINDOW) == "history")
            .groupBy(*KEYS)
            .agg(F.count(F.lit(1)).alias("n_reference"), F.median(A.Y_ADJ).alias("expected_log"))
            .where(F.col("n_reference") >= mc)
            .select(
                *KEYS,
                F.lit("history").alias(COMPARISON),
                F.lit(None).cast("string").alias(A.PLACE),
                "expected_log",
                "n_reference",
                F.lit(said_history[0]).alias("reference"),
                F.lit(said_history[1]).alias("reference_message"),
            )
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        hist_keys = {tuple(r) for r in hist.select(*KEYS).collect()}
        parts.append(hist)
    # places: one centre against the other centres, same item-step, same weeks
    judged = windowed.where((F.col(WINDOW) == "judged") & F.col(A.PLACE).isNotNull())
    per_place = judged.groupBy(*KEYS, A.PLACE).agg(F.count(F.lit(1)).alias("_n"))
    enough = per_place.where(F.col("_n") >= mc)
    multi = enough.groupBy(*KEYS).agg(F.count(F.lit(1)).alias("_k")).where(F.col("_k") >= 2)
    targets = enough.join(multi, KEYS).select(*KEYS, F.col(A.PLACE).alias("_p"))
    places = (
        judged.join(targets, KEYS)
        .where(F.col(A.PLACE) != F.col("_p"))
        .groupBy(*KEYS, "_p")
        .agg(
            F.count(F.lit(1)).alias("n_reference"),
            F.median(A.Y_ADJ).alias("expected_log"),
            F.count_distinct(A.PLACE).alias("_others"),
        )
        .where(F.col("n_reference") >= mc)
        .select(
            *KEYS,
            F.lit("places").alias(COMPARISON),
            F.col("_p").alias(A.PLACE),
            "expected_log",
            "n_reference",
            F.concat(F.lit("the other "), F.col("_others").cast("string"), F.lit(" centres")).alias(
                "reference"
            ),
            F.to_json(
                F.struct(
                    F.lit("reference.places").alias("code"),
                    F.struct(F.col("_others").cast("string").alias("others")).alias("params"),
                )
            ).alias("reference_message"),
        )
    )
    parts.append(places)
    # rule and peers, from the (small) item-step table
    rows = []
    day_len = clock_seconds(config.work_day_end) - clock_seconds(config.work_day_start)
    for r in items.itertuples(index=False):
        limit = getattr(r, C.TIME_LIMIT_DAYS)
        kind, setting = getattr(r, A.KIND), getattr(r, A.SETTING)
        if (
            limit is not None
            and not pd.isna(limit)
            and limit > 0
            and kind in ("processing", "handoff")
            and setting == "back_office"
        ):
            per_day = day_len if getattr(r, A.BASIS) == "working" else 86_400.0 * 7 / 5
            basis = "working" if getattr(r, A.BASIS) == "working" else "calendar"
            rows.append(
                (
                    *[getattr(r, k) for k in KEYS],
                    "rule",
                    None,
                    math.log(limit * per_day),
                    0,
                    *MSG.compose(f"reference.rule_{basis}", limit=f"{limit:g}"),
                )
            )
    peers = median_polish_expectations(items, min_cases=mc, min_peers=config.min_peers)
    for r in peers.itertuples(index=False):
        key = tuple(getattr(r, k) for k in KEYS)
        if key in hist_keys or pd.isna(r.expected_log):
            continue
        rows.append(
            (
                *key,
                "peers",
                None,
                float(r.expected_log),
                int(r.n_reference),
                *MSG.compose("reference.peers", others=int(r.n_reference)),
            )
        )
    parts.append(spark.createDataFrame(rows, EXPECT_SCHEMA))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


_REFERENCE = ("expected_log", "n_reference", "reference", "reference_message")


def comparison_rows(windowed: DataFrame, expect: DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Each comparison row with the judged-period statistics of what it judges (the item-step,
    or the item-step at one centre for places) and ``n_above`` (observations above the
    expectation: censored ones are lower bounds, so they count correctly).

    One join and one collect. A comparison of the whole item-step (history, rule, peers) takes
    its statistics from ``items`` (``_own_stats`` of the judged period): only its counts above
    the expectation are aggregated, and its observations are masked out of the medians and
    quartiles, which are computed only per centre, for places."""
    judged = windowed.where(F.col(WINDOW) == "judged")
    e = expect.withColumnRenamed(A.PLACE, "_p")
    on = [judged[k] == e[k] for k in KEYS] + [e["_p"].isNull() | (judged[A.PLACE] == e["_p"])]
    at_place = e["_p"].isNotNull()
    masked = (A.Y_ADJ, A.Y, A.Y_CAL, A.CENSORED, A.BASIS, C.COMPLEXITY, C.TIME_LIMIT_DAYS, A.BATCH)
    joined = judged.join(F.broadcast(e), on).select(
        *[judged[k] for k in KEYS],
        *[F.when(at_place, judged[c]).alias(c) for c in masked],
        (judged[A.Y_ADJ] > e["expected_log"]).cast("long").alias("_above"),
        (judged[A.Y] > e["expected_log"]).cast("long").alias("_above_raw"),
        e[COMPARISON],
        e["_p"].alias(A.PLACE),
        *[e[c] for c in _REFERENCE],
    )
    rows = (
        joined.groupBy(*KEYS, COMPARISON, A.PLACE)
        .agg(
            *_stat_columns(),
            F.sum("_above").alias("n_above"),
            F.sum("_above_raw").alias("n_above_raw"),
            *[F.first(c).alias(c) for c in _REFERENCE],
        )
        .toPandas()
    )
    whole = rows[A.PLACE].isna()
    stats = [c for c in items.columns if c not in KEYS]
    filled = rows[whole].drop(columns=stats).merge(items, on=KEYS, how="inner")[rows.columns]
    parts = [p for p in (filled, rows[~whole]) if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else rows


LAGGING_SCHEMA = T.StructType(
    [
        T.StructField(C.SERVICE_ITEM, T.StringType()),
        T.StructField(C.STEP, T.StringType()),
        T.StructField(C.DEPARTMENT, T.StringType()),
        T.StructField("n", T.LongType()),
        T.StructField("observed_s", T.DoubleType()),
        T.StructField("expected_s", T.DoubleType()),
        T.StructField("excess_ratio", T.DoubleType()),
        T.StructField("excess_s", T.DoubleType()),
        T.StructField("flagged", T.BooleanType()),
        T.StructField(A.KIND, T.StringType()),
        T.StructField(COMPARISON, T.StringType()),
        T.StructField("status", T.StringType()),
        T.StructField(A.SETTING, T.StringType()),
        T.StructField(A.PLACE, T.StringType()),
        T.StructField("reference", T.StringType()),
        T.StructField("reference_message", T.StringType()),
        T.StructField("n_reference", T.LongType()),
        T.StructField("basis", T.StringType()),
        T.StructField("material_s", T.DoubleType()),
        T.StructField("n_censored", T.LongType()),
        T.StructField("observed_lo_s", T.DoubleType()),
        T.StructField("observed_hi_s", T.DoubleType()),
        T.StructField("raw_observed_s", T.DoubleType()),
        T.StructField("raw_excess_ratio", T.DoubleType()),
        T.StructField("workload_ratio", T.DoubleType()),
        T.StructField("unit_ratio", T.DoubleType()),
        T.StructField("calendar_observed_s", T.DoubleType()),
        T.StructField("p_value", T.DoubleType()),
        T.StructField("q_value", T.DoubleType()),
        T.StructField(C.COMPLEXITY, T.DoubleType()),
    ]
)


def materiality(pdf: pd.DataFrame, expected_s: np.ndarray, config: LaggingConfig) -> np.ndarray:
    """The absolute excess (seconds) a flag needs, per row: by kind and setting, and a day (a
    working day in working time) where the expectation itself is a day or more, or where the
    item-step's ends are batch-stamped (``batch_stamped``: its durations are known to the day,
    so a smaller excess may be the stamp's rounding)."""
    kind, setting = pdf[A.KIND].to_numpy(), pdf[A.SETTING].to_numpy()
    thr = np.where(
        kind == "waiting",
        config.material_waiting_s,
        np.where(
            kind == "handoff",
            config.material_handoff_s,
            np.where(setting == "desk", config.material_desk_s, config.material_back_office_s),
        ),
    ).astype(float)
    day_len = clock_seconds(config.work_day_end) - clock_seconds(config.work_day_start)
    working = pdf["basis"].to_numpy() == "working"
    day = np.where(working, day_len, 86_400.0)
    multi = config.material_multi_day_s * day / 86_400.0
    to_the_day = (expected_s >= day) | pdf[A.BATCH].eq(True).to_numpy()
    return np.where(to_the_day, np.maximum(thr, multi), thr)


def _sign_test(
    above: np.ndarray, n: np.ndarray, testable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(p, q): the one-sided sign test of ``above`` of ``n`` observations above the
    expectation, and its Benjamini-Hochberg q-values over the testable rows (NaN elsewhere)."""
    from scipy.stats import binom, false_discovery_control

    p = np.where(testable, binom.sf(above - 1, np.maximum(n, 1), 0.5), np.nan)
    q = np.full(len(p), np.nan)
    if testable.any():
        q[testable] = false_discovery_control(p[testable], method="bh")
    return p, q


def decide(pdf: pd.DataFrame, config: LaggingConfig) -> pd.DataFrame:
    """The lagging_steps rows (``LAGGING_SCHEMA``) from comparison rows with their statistics
    (columns of ``comparison_rows``; rows without a comparison have a null one)."""
    pdf = pdf.reset_index(drop=True)
    n = pdf["n"].to_numpy(dtype=float)
    med = pdf["med"].to_numpy(dtype=float)
    raw = pdf["raw_med"].to_numpy(dtype=float)
    exp_log = pdf["expected_log"].to_numpy(dtype=float)
    above = pdf["n_above"].fillna(0).to_numpy(dtype=float)
    observed, expected = np.exp(med), np.exp(exp_log)
    cal = np.exp(pdf["med_cal"].to_numpy(dtype=float))
    has_exp = ~np.isnan(exp_log)
    # A ratio of near-zero numbers for work that takes hours on the calendar: never judged.
    unreliable = has_exp & (np.minimum(observed, expected) < config.basis_min_s) & (cal >= 3600)
    testable = (n >= config.min_cases) & has_exp & ~unreliable
    p, q = _sign_test(above, n, testable)
    ratio = observed / expected
    excess = observed - expected
    material = materiality(pdf, expected, config)
    significant = testable & (q <= config.fdr_alpha)
    big = (ratio >= config.min_effect) & (excess >= material)
    # Slowness shared by a whole department (or, for places, a whole centre) across at least 3
    # tested rows of one comparison: a staffing matter, not one step's lag.
    log_ratio = pd.Series(np.where(testable, med - exp_log, np.nan))
    unit = np.zeros(len(pdf))
    dept_key = pdf[COMPARISON].fillna("") + "|" + pdf[C.DEPARTMENT]
    place_key = np.where(pdf[COMPARISON].eq("places"), "places|" + pdf[A.PLACE].fillna(""), None)
    for key in (dept_key.to_numpy(), place_key):
        keyed = pd.DataFrame({"k": key, "lr": log_ratio})
        keyed = keyed[keyed["k"].notna()]
        stats = keyed.groupby("k")["lr"].agg(["median", "count"])
        wide = stats[(stats["count"] >= 3) & (stats["median"] >= math.log(config.unit_wide_ratio))]
        eff = pd.Series(key).map(wide["median"]).fillna(0.0).to_numpy(dtype=float)
        unit = np.maximum(unit, eff)
    unit_expected = expected * np.exp(unit)
    big_in_unit = (observed / unit_expected >= config.min_effect) & (
        observed - unit_expected >= material
    )
    flagged = significant & big & big_in_unit
    raw_obs = np.exp(raw)
    # Slow on the raw durations too, and significantly so (the same sign test and FDR, on the
    # raw values): a raw median above the expectation by chance is not called workload.
    _, q_raw = _sign_test(pdf["n_above_raw"].fillna(0).to_numpy(dtype=float), n, testable)
    raw_big = (
        testable
        & (q_raw <= config.fdr_alpha)
        & (raw_obs / expected >= config.min_effect)
        & (raw_obs - expected >= material)
    )
    workload = testable & ~flagged & ((significant & big) | raw_big)
    status = np.select(
        [
            n < config.min_cases,
            ~has_exp,
            unreliable,
            flagged,
            workload,
        ],
        [
            STATUS_INSUFFICIENT,
            STATUS_NO_COMPARISON,
            STATUS_BASIS,
            STATUS_LAGGING,
            STATUS_WORKLOAD,
        ],
        STATUS_NORMAL,
    )
    sigma = (pdf["q75"].to_numpy(dtype=float) - pdf["q25"].to_numpy(dtype=float)) * _MEDIAN_SE
    half = _Z95 * sigma / np.sqrt(np.maximum(n, 1))
    return pd.DataFrame(
        {
            C.SERVICE_ITEM: pdf[C.SERVICE_ITEM],
            C.STEP: pdf[C.STEP],
            C.DEPARTMENT: pdf[C.DEPARTMENT],
            "n": pdf["n"].astype("int64"),
            "observed_s": observed,
            "expected_s": expected,
            "excess_ratio": ratio,
            "excess_s": excess,
            "flagged": flagged,
            A.KIND: pdf[A.KIND],
            COMPARISON: pdf[COMPARISON],
            "status": status,
            A.SETTING: pdf[A.SETTING],
            A.PLACE: pdf[A.PLACE],
            "reference": pdf["reference"],
            "reference_message": pdf["reference_message"],
            "n_reference": pdf["n_reference"].fillna(0).astype("int64"),
            "basis": pdf[A.BASIS],
            "material_s": material,
            "n_censored": pdf["n_censored"].astype("int64"),
            "observed_lo_s": np.exp(med - half),
            "observed_hi_s": np.exp(med + half),
            "raw_observed_s": raw_obs,
            "raw_excess_ratio": raw_obs / expected,
            "workload_ratio": np.exp(raw - med),
            "unit_ratio": np.exp(unit),
            "calendar_observed_s": cal,
            "p_value": p,
            "q_value": q,
            C.COMPLEXITY: pdf[C.COMPLEXITY],
        }
    )


def to_lagging_steps(
    adjusted: DataFrame, config: LaggingConfig, *, dates: tuple[dt.date | None, dt.date | None]
) -> DataFrame:
    """The lagging_steps table from ``with_adjusted_durations`` output (see the module doc);
    ``dates``: the first and last local dates of the step facts it was computed from."""
    spark = adjusted.sparkSession
    windowed, has_history = with_windows(adjusted, config, dates=dates)
    windowed = windowed.where(F.col(WINDOW).isNotNull()).persist(StorageLevel.MEMORY_AND_DISK)
    judged = windowed.where(F.col(WINDOW) == "judged")
    items = _own_stats(judged, KEYS).toPandas()
    expect = expectations(windowed, items, has_history=has_history, config=config)
    rows = comparison_rows(windowed, expect, items)
    judged_keys = {tuple(r) for r in rows[KEYS].itertuples(index=False)} if len(rows) else set()
    # Item-steps without any comparison are reported too (never hidden).
    alone = items[[tuple(r) not in judged_keys for r in items[KEYS].itertuples(index=False)]]
    alone = alone.assign(
        **{
            COMPARISON: None,
            A.PLACE: None,
            "expected_log": np.nan,
            "n_reference": 0,
            "reference": None,
            "reference_message": None,
            "n_above": np.nan,
            "n_above_raw": np.nan,
        }
    )
    both = pd.concat([rows, alone[rows.columns]], ignore_index=True) if len(rows) else alone
    out = decide(both, config) if len(both) else pd.DataFrame(columns=LAGGING_SCHEMA.names)
    return spark.createDataFrame(out[LAGGING_SCHEMA.names], LAGGING_SCHEMA)
