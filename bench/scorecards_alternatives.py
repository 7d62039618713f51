"""What else the composite could do, measured: re-scores the month KPI cells that
bench/scorecards_ranking.py kept for each city under other case-mix adjustments, scales and
weights, and prints the mean Spearman of the score with the planted quality order per
generator variant (docs/methodology.md, section 6, "How well the composite ranks planted
quality").

    PYTHONPATH=. .venv/bin/python bench/scorecards_ranking.py --seeds 11 12 13
    PYTHONPATH=. .venv/bin/python bench/scorecards_alternatives.py [--out /tmp/scorecards-rank]

No Spark: the case-mix expectation of every alternative is computed here in pandas from the
cells (department x item x stratum counts); shrinkage, composite and ranks are the stage's own
(visitonce.scorecard.stage.score_departments). The first row reproduces the stage's default.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visitonce import columns as C  # noqa: E402
from visitonce.config import ScorecardsConfig  # noqa: E402
from visitonce.scorecard import (
    kpis,  # noqa: E402
    stage,  # noqa: E402
)
from visitonce.scorecard.composite import SCORED, effective_weights  # noqa: E402
from visitonce.scorecard.kpis import KPI_BY_NAME  # noqa: E402

STRATA = list(kpis.STRATA)  # the stage's case-mix strata
LIMIT_BAND = "limit_band"
# expected counts per cell: (cells of one period and KPI, KPI, strata) -> Series on the cells
Expectation = Callable[[pd.DataFrame, str, list[str]], pd.Series]


def _strata(kpi: str, strata: list[str]) -> list[str]:
    """The channel KPIs are not stratified by first channel (as in visitonce.scorecard.casemix)."""
    return [c for c in strata if c != C.FIRST_CHANNEL or KPI_BY_NAME[kpi].adjust_for_channel]


def indirect(g: pd.DataFrame, kpi: str, strata: list[str]) -> pd.Series:
    """The stage's indirect standardization: each cell at its stratum's city rate."""
    s = g.groupby(_strata(kpi, strata))[["numerator", "denominator"]].transform("sum")
    return g["denominator"] * (s["numerator"] / s["denominator"]).where(s["denominator"] > 0, 0.0)


def unadjusted(g: pd.DataFrame, kpi: str, strata: list[str]) -> pd.Series:
    return g["denominator"] * (g["numerator"].sum() / g["denominator"].sum())


def within(g: pd.DataFrame, kpi: str, strata: list[str]) -> pd.Series:
    """Weighted least squares of the cell value on department dummies and the strata's main
    effects; the expectation is the city value plus the strata part (centred)."""
    g = g[g["denominator"] > 0]
    w = g["denominator"].to_numpy()
    xd = pd.get_dummies(g["department"], dtype=float).to_numpy()
    xc = pd.get_dummies(g[_strata(kpi, strata)].astype(str), drop_first=True, dtype=float)
    x = np.column_stack([xd, xc.to_numpy()])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(x * sw[:, None], (g["numerator"] / g["denominator"]) * sw, rcond=None)[0]
    part = xc.to_numpy() @ beta[xd.shape[1] :]
    part = part - np.average(part, weights=w)
    return pd.Series(w * (g["numerator"].sum() / w.sum() + part), index=g.index)


def items_random(g: pd.DataFrame, kpi: str, strata: list[str]) -> pd.Series:
    """A department's excess is the precision-weighted mean of its items' excesses, items a
    random effect (between-item variance by moments); cells rescaled to give that excess."""
    g = g.assign(_e=indirect(g, kpi, strata))
    it = g.groupby(["department", "service_item"])[["numerator", "denominator", "_e"]].sum()
    it = it[it["denominator"] > 0].reset_index()
    city = g["numerator"].sum() / g["denominator"].sum()
    var = (
        city * (1 - city)
        if KPI_BY_NAME[kpi].kind == "rate"
        else g["sum_squares"].sum() / g["denominator"].sum() - city**2
    )
    it["dev"] = (it["numerator"] - it["_e"]) / it["denominator"]
    it["se2"] = max(var, 1e-9) / it["denominator"]
    k = it.groupby("department")["dev"].transform("size")
    spread = (it["dev"] - it.groupby("department")["dev"].transform("mean")) ** 2
    multi = k > 1
    dof = (k[multi] - 1).groupby(it.loc[multi, "department"]).first().sum()
    sig2 = max(spread[multi].sum() / dof - it.loc[multi, "se2"].mean(), 0.0) if dof else 0.0
    it["w"] = 1.0 / (sig2 + it["se2"])
    dev = (it["dev"] * it["w"]).groupby(it["department"]).sum() / it.groupby("department")[
        "w"
    ].sum()
    d = g.groupby("department")[["numerator", "denominator", "_e"]].sum()
    target = d["numerator"] - dev.reindex(d.index).fillna(0.0) * d["denominator"]
    scale = (target / d["_e"]).replace([np.inf, -np.inf], np.nan).fillna(1.0)
    return g["_e"] * g["department"].map(scale)


def department_table(cells: pd.DataFrame, expect: Expectation, strata: list[str]) -> pd.DataFrame:
    """The casemix output (one row per period, department and KPI) under ``expect``."""
    out = []
    for (period, grain, kpi), g in cells.groupby(["period", "grain", "kpi"]):
        g = g.assign(_e=0.0)
        e = expect(g, kpi, strata)
        g.loc[e.index, "_e"] = e
        d = g.groupby("department")[["n_applications", "numerator", "denominator",
                                     "sum_squares", "_e"]].sum().reset_index()  # fmt: skip
        n, den, sq = g["numerator"].sum(), g["denominator"].sum(), g["sum_squares"].sum()
        city = n / den if den > 0 else np.nan
        has = d["denominator"] > 0
        d["city"] = city
        d["city_variance"] = sq / den - city**2 if den > 1 else np.nan
        d["observed"] = (d["numerator"] / d["denominator"]).where(has)
        d["expected"] = (d["_e"] / d["denominator"]).where(has)
        adjusted = d["city"] + d["observed"] - d["expected"]
        d["adjusted"] = adjusted.clip(0, 1) if KPI_BY_NAME[kpi].kind == "rate" else adjusted
        d["oe_ratio"] = d["observed"] / d["expected"]
        out.append(d.drop(columns="_e").assign(period=period, grain=grain, kpi=kpi))
    return pd.concat(out, ignore_index=True)


def _rescaled(card: pd.DataFrame, kpis: pd.DataFrame, how: str, cfg: ScorecardsConfig) -> pd.Series:
    """Scores of one period with the KPIs as z-scores or ranks across departments, or weighted
    by the first principal component, instead of floor-target normalization."""
    k = kpis[kpis["kpi"].isin(SCORED) & kpis["available"] & kpis["department"].isin(card.index)]
    x = k.pivot_table(index="department", columns="kpi", values="shrunk", dropna=False)
    x = x.fillna(k.groupby("kpi")["city"].first())
    x = x.drop(columns=[c for c in x if cfg.kpis[c]["weight"] == 0])
    sign = pd.Series({c: 1.0 if cfg.kpis[c]["target"] > cfg.kpis[c]["floor"] else -1.0 for c in x})
    if how == "ranks":
        x = x.rank()
    z = ((x - x.mean()) / x.std()).fillna(0.0) * sign
    if how == "pca":
        v = np.linalg.svd(z.to_numpy(), full_matrices=False)[2][0]
        return z @ np.clip(v * np.sign(v.sum()), 0.0, None)
    has = np.ones(len(SCORED), dtype=bool)
    w = pd.Series(effective_weights(has, cfg), index=list(SCORED)).reindex(z.columns)
    return z @ w


def evaluate(
    root: Path,
    expect: Expectation,
    *,
    strata: list[str] = STRATA,
    config: ScorecardsConfig | None = None,
    scale: str = "floor-target",
) -> pd.Series:
    """Mean Spearman of the month scores with -quality, per variant, over the cities."""
    cfg = config or ScorecardsConfig(mc_draws=200, sensitivity_draws=0)
    rows = []
    for city in sorted(p for p in root.iterdir() if (p / "cells.pkl").exists()):
        cells = pd.read_pickle(city / "cells.pkl")
        limit = cells["time_limit_days"].fillna(-1)
        cells[LIMIT_BAND] = np.select([limit < 0, limit == 0, limit <= 2, limit <= 4],
                                      ["unknown", "0", "1-2", "3-4"], "5+")  # fmt: skip
        q = pd.Series(json.loads((city / "truth.json").read_text())["department_quality"])
        p90 = pd.read_pickle(city / "wait_p90.pkl")
        res = stage.score_departments(department_table(cells, expect, strata),
                                      p90[p90["grain"] == "month"], config=cfg,
                                      config_hash="bench")  # fmt: skip
        for period, card in res.scorecards.groupby("period"):
            card = card.dropna(subset=["score"]).set_index("department")
            score = card["score"]
            if scale != "floor-target":
                score = _rescaled(card, res.kpis[res.kpis["period"] == period], scale, cfg)
            rho = score.corr(-q.reindex(score.index), method="spearman")
            rows.append({"variant": city.name.rsplit("-", 1)[0], "rho": rho})
    return pd.DataFrame(rows).groupby("variant")["rho"].mean()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", default="/tmp/scorecards-rank", help="bench/scorecards_ranking's --out"
    )
    root = Path(ap.parse_args(argv).out)
    if not any(root.glob("*/cells.pkl")):
        print(f"no cells under {root}: run bench/scorecards_ranking.py --out {root} first")
        return 2

    def cfg(**pillars: float) -> ScorecardsConfig:
        return ScorecardsConfig(mc_draws=200, sensitivity_draws=0, pillars=pillars)

    rows = {
        "default (scorecards-1.2)": evaluate(root, indirect),
        "no case-mix adjustment": evaluate(root, unadjusted),
        "+ the catalog time-limit band as a stratum": evaluate(
            root, indirect, strata=[*STRATA, LIMIT_BAND]
        ),
        "case mix as a within-department regression": evaluate(root, within),
        "items as a random effect inside the department": evaluate(root, items_random),
        "KPIs as z-scores across departments": evaluate(root, indirect, scale="z-scores"),
        "KPIs as ranks across departments": evaluate(root, indirect, scale="ranks"),
        "weights from the first principal component": evaluate(root, indirect, scale="pca"),
        "equal pillar weights": evaluate(root, indirect, config=cfg(
            visit_once=0.2, timeliness=0.2, access=0.2, experience=0.2, process=0.2)),
        "experience 0.30, visit-once 0.15": evaluate(
            root, indirect, config=cfg(experience=0.30, visit_once=0.15)
        ),
        "experience 0.40, visit-once 0.10, timeliness 0.25": evaluate(
            root, indirect, config=cfg(experience=0.40, visit_once=0.10, timeliness=0.25)
        ),
        "experience only": evaluate(root, indirect, config=cfg(
            visit_once=0, timeliness=0, access=0, experience=1, process=0)),
    }  # fmt: skip
    table = pd.DataFrame(rows).T
    print("| setting | " + " | ".join(table.columns) + " |")
    print("|---|" + "---|" * len(table.columns))
    for name, r in table.iterrows():
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in r) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
