"""The within-item-step workload fit (``adjust.fit_within``) on hand-made rows: the slope of a
planted workload effect is recovered, and a negative one is never used."""

from __future__ import annotations

import numpy as np
import pandas as pd

from visitonce import columns as C
from visitonce import facts as TM
from visitonce.lagging import adjust as A


def _rows(load_slope: float, seed: int = 0) -> pd.DataFrame:
    """Two items of one step; log duration = item level + load_slope x log_load + noise."""
    rng = np.random.default_rng(seed)
    n = 400
    item = np.where(np.arange(n) % 2 == 0, "I1", "I2")
    log_load = rng.normal(2.0, 0.5, n)
    y = np.where(item == "I1", 8.0, 10.0) + load_slope * log_load + rng.normal(0, 0.05, n)
    return pd.DataFrame(
        {
            C.SERVICE_ITEM: item,
            C.DEPARTMENT: "D1",
            A.Y: y,
            A.CENSORED: False,
            A.LOG_N_STEPS: np.log(4.0),
            A.CROSS_DEPT: 0.0,
            A.LOG_LOAD: log_load,
            A.LOG_HOUR_VOLUME: 0.0,
            TM.WEEKDAY: 2,
            TM.LOCAL_HOUR: 12,
        }
    )


def _load_slope(pdf: pd.DataFrame) -> float:
    beta, _ = A.fit_within(pdf)
    return float(beta[len(A.STRUCTURAL_COVARIATES) + A.WORKLOAD_COVARIATES.index(A.LOG_LOAD)])


def test_a_planted_workload_elasticity_is_recovered() -> None:
    assert abs(_load_slope(_rows(0.8)) - 0.8) < 0.02


def test_a_negative_workload_slope_is_not_used() -> None:
    # Busier days with shorter steps (a quiet tail's selection, say): the adjustment would
    # make the busy days' steps longer. The slope is dropped; nothing else varies here, so
    # nothing is adjusted at all (without the constraint the slope is -1.4).
    beta, _ = A.fit_within(_rows(-1.4))
    assert np.all(beta == 0.0)
    # a second workload covariate with a positive slope is still fitted beside it
    pdf = _rows(-1.4)
    pdf[A.LOG_HOUR_VOLUME] = np.random.default_rng(1).normal(1.0, 0.5, len(pdf))
    pdf[A.Y] += 0.5 * pdf[A.LOG_HOUR_VOLUME]
    beta, _ = A.fit_within(pdf)
    s = len(A.STRUCTURAL_COVARIATES)
    assert beta[s + A.WORKLOAD_COVARIATES.index(A.LOG_LOAD)] == 0.0
    # (the dropped slope's effect stays in the residual: standard error about 0.07)
    assert abs(beta[s + A.WORKLOAD_COVARIATES.index(A.LOG_HOUR_VOLUME)] - 0.5) < 0.25
