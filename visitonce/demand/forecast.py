"""Short-horizon forecast of counter arrivals per centre x local date x hour.

Three forecasters, judged on the last ``holdout_days`` of the data (held out from fitting):

- ``naive_last_week``: the last fitted week repeated (the yardstick);
- ``seasonal_baseline``: the mean of every fitted week at the same weekday and hour;
- ``model``: scikit-learn gradient boosting with a Poisson loss on weekday, hour and their
  day type; it borrows strength across neighbouring hours where the baseline cannot.

Per centre, the model is used where it beats the seasonal baseline on the held-out days,
else the baseline; the chosen method is then refitted on all the data and run ``horizon_days``
past its end. Each centre is one task (``applyInPandas``): only its hourly counts travel.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.demand.counter import HOUR, LOCAL_DATE

NAIVE, BASELINE, MODEL = "naive_last_week", "seasonal_baseline", "model"
METHODS = (NAIVE, BASELINE, MODEL)


def _grid(pdf: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Every date x hour of [first, last], with the centre's arrivals (0 where none)."""
    dates = pd.date_range(first, last, freq="D")
    grid = pd.MultiIndex.from_product([dates, range(24)], names=["d", HOUR]).to_frame(index=False)
    counts = pdf.assign(d=pd.to_datetime(pdf[LOCAL_DATE]))[["d", HOUR, "arrivals"]]
    out = grid.merge(counts, on=["d", HOUR], how="left")
    out["arrivals"] = out["arrivals"].fillna(0.0).astype(float)
    out["wd"] = out["d"].dt.dayofweek
    return out


def _features(g: pd.DataFrame) -> np.ndarray:
    return np.column_stack([g["wd"], g[HOUR], (g["wd"] >= 5).astype(int)])


def _predict(train: pd.DataFrame, future: pd.DataFrame, seed: int = 0) -> dict[str, np.ndarray]:
    """The three forecasts of ``future`` rows fitted on ``train`` rows."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    last_day = train["d"].max()
    last_week = train[train["d"] > last_day - pd.Timedelta(days=7)]
    naive = future.merge(
        last_week.groupby(["wd", HOUR])["arrivals"].mean().rename("f").reset_index(),
        on=["wd", HOUR],
        how="left",
    )["f"]
    seasonal = future.merge(
        train.groupby(["wd", HOUR])["arrivals"].mean().rename("f").reset_index(),
        on=["wd", HOUR],
        how="left",
    )["f"]
    model = HistGradientBoostingRegressor(
        loss="poisson", max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed
    )
    model.fit(_features(train), train["arrivals"])
    return {
        NAIVE: naive.fillna(0.0).to_numpy(),
        BASELINE: seasonal.fillna(0.0).to_numpy(),
        MODEL: np.clip(model.predict(_features(future)), 0.0, None),
    }


def summarize_holdout_errors(
    hours: DataFrame, *, first: dt.date, last: dt.date, holdout_days: int
) -> DataFrame:
    """Per ``center, method``: ``n`` held-out hours, ``abs_err``, ``sq_err`` (sums) and
    ``actual`` (sum of arrivals), from ``counter.summarize_hours`` rows; fitted on the dates
    before the last ``holdout_days`` of [first, last]."""
    cut = pd.Timestamp(last) - pd.Timedelta(days=holdout_days - 1)

    def per_center(pdf: pd.DataFrame) -> pd.DataFrame:
        g = _grid(pdf, first, last)
        train, test = g[g["d"] < cut], g[g["d"] >= cut].reset_index(drop=True)
        preds = _predict(train, test)
        y = test["arrivals"].to_numpy()
        return pd.DataFrame(
            {
                C.CENTER: pdf[C.CENTER].iloc[0],
                "method": list(preds),
                "n": len(y),
                "abs_err": [float(np.abs(p - y).sum()) for p in preds.values()],
                "sq_err": [float(((p - y) ** 2).sum()) for p in preds.values()],
                "actual": float(y.sum()),
            }
        )

    schema = "center string, method string, n long, abs_err double, sq_err double, actual double"
    return hours.groupBy(C.CENTER).applyInPandas(per_center, schema=schema)


def to_forecast(
    hours: DataFrame,
    *,
    first: dt.date,
    last: dt.date,
    horizon_days: int,
    methods: dict[str, str],
) -> DataFrame:
    """Per ``center, forecast_date, hour`` for ``horizon_days`` after ``last``: ``forecast``
    (the centre's method in ``methods``, else the seasonal baseline), ``seasonal_baseline``,
    ``naive_last_week`` and ``method``; fitted on all of [first, last]."""

    def per_center(pdf: pd.DataFrame) -> pd.DataFrame:
        center = pdf[C.CENTER].iloc[0]
        g = _grid(pdf, first, last)
        dates = pd.date_range(pd.Timestamp(last) + pd.Timedelta(days=1), periods=horizon_days)
        future = pd.MultiIndex.from_product([dates, range(24)], names=["d", HOUR])
        future = future.to_frame(index=False)
        future["wd"] = future["d"].dt.dayofweek
        preds = _predict(g, future)
        method = methods.get(center, BASELINE)
        return pd.DataFrame(
            {
                C.CENTER: center,
                "forecast_date": future["d"].dt.date,
                "weekday": future["wd"] + 1,
                HOUR: future[HOUR],
                "forecast": preds[method],
                "seasonal_baseline": preds[BASELINE],
                "naive_last_week": preds[NAIVE],
                "method": method,
            }
        )

    schema = (
        "center string, forecast_date date, weekday int, hour int, forecast double, "
        "seasonal_baseline double, naive_last_week double, method string"
    )
    return hours.groupBy(C.CENTER).applyInPandas(per_center, schema=schema)


def to_hourly_counts(hours: DataFrame) -> DataFrame:
    """``center, local_date, hour, arrivals`` from ``counter.summarize_hours`` rows."""
    return hours.groupBy(C.CENTER, LOCAL_DATE, HOUR).agg(F.sum("arrivals").alias("arrivals"))


def error_figures(errors: list[dict]) -> dict[str, dict[str, float | None]]:
    """Per method: ``mae`` and ``rmse`` (arrivals per centre-hour) and ``wape`` (sum of
    absolute errors over sum of arrivals), pooled over centres, from collected
    ``summarize_holdout_errors`` rows."""
    out: dict[str, dict[str, float | None]] = {}
    for m in METHODS:
        rows = [r for r in errors if r["method"] == m]
        n = sum(r["n"] for r in rows)
        actual = sum(r["actual"] for r in rows)
        abs_err = sum(r["abs_err"] for r in rows)
        sq = sum(r["sq_err"] for r in rows)
        out[m] = {
            "mae": abs_err / n if n else None,
            "rmse": (sq / n) ** 0.5 if n else None,
            "wape": abs_err / actual if actual else None,
        }
    return out


def choose_methods(errors: list[dict]) -> dict[str, str]:
    """Per centre: ``model`` where its held-out absolute error beats the seasonal baseline's,
    else ``seasonal_baseline``."""
    by = {(r["center"], r["method"]): r["abs_err"] for r in errors}
    centers = sorted({r["center"] for r in errors})
    return {
        c: MODEL if by.get((c, MODEL), np.inf) < by.get((c, BASELINE), np.inf) else BASELINE
        for c in centers
    }
