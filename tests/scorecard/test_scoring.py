"""Driver-side scoring on hand-made per-department tables: shrinkage, funnel limits,
normalization, weights, gates, bands, next-band explanation and seeded reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from visitonce.config import ScorecardsConfig
from visitonce.scorecard import composite, explain, shrink
from visitonce.scorecard.kpis import COUNTED
from visitonce.scorecard.stage import score_departments


def _group(rows: list[tuple[str, float, float]], e: float = 0.5) -> pd.DataFrame:
    """One (period, kpi) rate group: (department, numerator, denominator), expected = city = e."""
    return pd.DataFrame(
        [
            {"period": "2026-03", "grain": "month", "kpi": "on_time_rate", "department": d,
             "numerator": k, "denominator": n, "sum_squares": 0.0,
             "observed": k / n if n else np.nan, "expected": e if n else np.nan, "city": e,
             "city_variance": e * (1 - e)}
            for d, k, n in rows
        ]
    )  # fmt: skip


def test_funnel_limits_by_hand() -> None:
    # e = 0.5, n = 100: sd = 0.05; 0.55 -> z 1 (within), 0.62 -> 2.4 (better at 95%),
    # 0.66 -> 3.2 (much better: beyond 99.8%), 0.34 -> -3.2 (much worse)
    g = _group([("a", 55, 100), ("b", 62, 100), ("c", 66, 100), ("d", 34, 100), ("e", 0, 0)])
    out = shrink.shrink_group(g, tau2=0.01).set_index("department")
    assert out.loc["a", "funnel_z"] == pytest.approx(1.0)
    assert out.loc["b", "funnel_z"] == pytest.approx(2.4)
    assert list(out["funnel_status"]) == [
        "within",
        "better",
        "much_better",
        "much_worse",
        "no_data",
    ]
    assert np.isnan(out.loc["e", "shrunk"])
    # Beta-binomial by hand: m = e(1 - e) / tau2 - 1 = 24, posterior Beta(55 + 12, 45 + 12);
    # the interval is its exact 5th and 95th percentiles, shifted by city - e = 0.
    assert out.loc["a", "post_a"] == pytest.approx(67) and out.loc["a", "post_b"] == 57
    lo, hi = stats.beta.ppf([0.05, 0.95], 67, 57)
    assert (out.loc["a", "lo"], out.loc["a", "hi"]) == pytest.approx((lo, hi), abs=1e-12)
    assert out.loc["a", "shrunk"] == pytest.approx(67 / 124)
    # Lower is better (backlog): a rate above expectation is worse.
    lower = g.assign(kpi="overdue_backlog_share")
    out = shrink.shrink_group(lower, tau2=0.01)
    assert list(out["funnel_status"]) == ["within", "worse", "much_worse", "much_better", "no_data"]


def test_overdispersion_by_hand() -> None:
    """Spiegelhalter (2005): phi = mean of z^2 winsorised at the 10th/90th percentiles; the
    additive tau^2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w), w = 1 / v."""
    z = np.array([-6.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 9.0])
    v = np.full(10, 0.0004)  # e = 0.5, n = 625
    lo, hi = np.percentile(z, [10, 90])  # -3.3, 4.5
    zw = np.clip(z, lo, hi)
    phi = float(np.mean(zw**2))
    w = 1 / v
    tau2 = (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum())
    assert shrink.overdispersion(z, v, "multiplicative") == pytest.approx((phi, 0.0))
    assert shrink.overdispersion(z, v, "additive") == pytest.approx((phi, tau2))
    assert shrink.overdispersion(z, v, "none") == (1.0, 0.0)
    assert shrink.overdispersion(z[:4], v[:4], "additive") == (1.0, 0.0)  # too few units
    # Under-dispersed: no widening.
    assert shrink.overdispersion(z / 10, v, "additive")[1] == 0.0
    # Widened limits flag fewer departments: 10 departments of 625 cases, true rates apart.
    rates = 0.5 + z * 0.02
    g = _group([(f"d{i}", round(r * 625), 625) for i, r in enumerate(rates)])
    raw = shrink.shrink_group(g, tau2=0.01)
    zr = raw["funnel_z_raw"].to_numpy()
    _, t2 = shrink.overdispersion(zr, np.full(10, 0.25 / 625), "additive")
    adj = shrink.shrink_group(g, tau2=0.01, tau2_funnel=t2, method="additive")
    assert (adj["funnel_se"] ** 2).to_numpy() == pytest.approx(0.25 / 625 + t2)
    flagged = lambda d: int((d["funnel_status"] != "within").sum())  # noqa: E731
    assert flagged(adj) < flagged(raw)
    assert adj.set_index("department").loc["d9", "funnel_status"] != "within"  # the extreme


def test_one_application_gets_an_interval_at_least_as_wide_as_the_prior() -> None:
    """A period holding a single department with one application borrows the prior spread of
    the other periods: its interval is as wide as that prior's, never the collapsed width a
    one-department prior would give."""
    big = _group([(f"d{i}", 500 + 40 * i, 1000) for i in range(6)], e=0.6)
    lone = _group([("d0", 1, 1)], e=0.6).assign(period="2026-04")
    out, est = shrink.shrink_kpis(pd.concat([big, lone], ignore_index=True))
    one = out[out["period"] == "2026-04"].iloc[0]
    tau2 = est.loc[0, "prior_sd"] ** 2
    e = 0.6
    m = e * (1 - e) / tau2 - 1
    prior_lo, prior_hi = stats.beta.ppf([0.05, 0.95], m * e, m * (1 - e))
    print(f"prior 90% interval {prior_lo:.3f}-{prior_hi:.3f}; one application {one.lo:.3f}-"
          f"{one.hi:.3f}")  # fmt: skip
    assert one.hi - one.lo >= 0.95 * (prior_hi - prior_lo)
    large = out[out["period"] == "2026-03"]
    assert one.hi - one.lo > 3 * (large["hi"] - large["lo"]).max()
    # Alone in its period, a one-department prior would have collapsed (width ~0).
    alone, _ = shrink.shrink_kpis(lone)
    assert alone.iloc[0].hi - alone.iloc[0].lo >= 0.95 * (prior_hi - prior_lo) or (
        alone.iloc[0].hi - alone.iloc[0].lo > 0.5  # the wide fallback prior
    )


def test_normalization_and_weights_follow_the_documented_formula() -> None:
    config = ScorecardsConfig()
    k = {name: i for i, name in enumerate(composite.SCORED)}
    u = np.full((1, len(composite.SCORED)), np.nan)
    u[0, k["on_time_rate"]] = 1.0  # timeliness: weights on_time 2, compression 1, backlog 1
    u[0, k["time_limit_compression"]] = 0.5
    u[0, k["overdue_backlog_share"]] = 0.0
    u[0, k["online_share"]] = 0.25  # access: the only access KPI present
    timeliness = (2 * 1.0 + 1 * 0.5 + 1 * 0.0) / 4
    w_t, w_a = config.pillars["timeliness"], config.pillars["access"]
    expect = 100 * (w_t * timeliness + w_a * 0.25) / (w_t + w_a)
    assert composite.score_matrix(u, config)[0] == pytest.approx(expect)
    # Doubling a pillar's weight moves the score as the formula says.
    heavy = ScorecardsConfig(pillars={"timeliness": 2 * w_t})
    expect2 = 100 * (2 * w_t * timeliness + w_a * 0.25) / (2 * w_t + w_a)
    assert composite.score_matrix(u, heavy)[0] == pytest.approx(expect2)
    assert expect2 > expect  # timeliness (0.625) beats access (0.25)
    # Lower-is-better KPIs: floor > target.
    assert composite.normalize(np.array([0.1]), 0.4, 0.0)[0] == pytest.approx(0.75)
    assert composite.normalize(np.array([0.9]), 0.4, 0.0)[0] == 0.0


def _dept_table(n_small: float = 5.0) -> pd.DataFrame:
    """A per-department KPI table (casemix output) of 6 departments, every counted KPI."""
    rng = np.random.default_rng(3)
    rows = []
    for i, d in enumerate(["d1", "d2", "d3", "d4", "d5", "tiny"]):
        n = n_small if d == "tiny" else 1000.0 + 200 * i
        for kpi in COUNTED:
            if kpi.kind == "rate":
                e = 0.7
                obs = np.clip(e + (i - 2.5) * 0.06 * (1 if kpi.higher_is_better else -1), 0, 1)
                num, sq, cv = round(obs * n), 0.0, e * (1 - e)
                obs = num / n
            else:
                e = 4.0 if kpi.name == "satisfaction_mean" else 0.3
                obs = e + (i - 2.5) * 0.05 * (1 if kpi.higher_is_better else -1)
                num, cv = obs * n, 0.5
                sq = n * (obs**2 + 0.5)
            rows.append({"period": "2026-03", "grain": "month", "department": d, "kpi": kpi.name,
                         "n_applications": n, "numerator": num, "denominator": n,
                         "sum_squares": sq, "observed": obs, "expected": e, "city": e,
                         "city_variance": cv, "adjusted": obs, "oe_ratio": obs / e})  # fmt: skip
    del rng
    return pd.DataFrame(rows)


def _p90() -> pd.DataFrame:
    return pd.DataFrame(
        {"period": "2026-03", "grain": "month", "department": ["d1"], "wait_p90_minutes": [20.0],
         "n_waits": [100]}
    )  # fmt: skip


def test_scoring_is_reproducible_under_a_fixed_seed() -> None:
    a = score_departments(_dept_table(), _p90(), config=ScorecardsConfig(), config_hash="h")
    b = score_departments(_dept_table(), _p90(), config=ScorecardsConfig(), config_hash="h")
    pd.testing.assert_frame_equal(a.scorecards, b.scorecards)
    pd.testing.assert_frame_equal(a.kpis, b.kpis)
    c = score_departments(_dept_table(), _p90(), config=ScorecardsConfig(seed=1), config_hash="h")
    assert not np.allclose(a.scorecards["score_lo"], c.scorecards["score_lo"], equal_nan=True)
    # point estimate: no draws
    assert np.allclose(a.scorecards["score"], c.scorecards["score"], equal_nan=True)


def test_tiny_department_is_never_confidently_first_or_last() -> None:
    # min_applications 1: the tiny department is scored, so its uncertainty shows.
    config = ScorecardsConfig(min_applications=1)
    res = score_departments(_dept_table(n_small=4), _p90(), config=config,
                            config_hash="h").scorecards.set_index("department")  # fmt: skip
    width = res["score_hi"] - res["score_lo"]
    assert width["tiny"] > 2 * width.drop("tiny").median()
    # Its raw KPIs are the best of all (see _dept_table), yet with 4 cases it is shrunk to
    # its expectation: ranked neither first nor last, and its interval excludes both ends.
    n = len(res)
    assert res.loc["tiny", "rank"] not in (1, n)
    assert res.loc["tiny", "rank_lo"] > 1 and res.loc["tiny", "rank_hi"] < n
    assert res.loc["d5", "rank"] == 1  # the best large department keeps the top


def test_too_few_cases_get_no_score_rank_or_band() -> None:
    res = score_departments(_dept_table(n_small=4), _p90(), config=ScorecardsConfig(),
                            config_hash="h")  # fmt: skip
    card = res.scorecards.set_index("department")
    tiny = card.loc["tiny"]
    assert tiny["n_applications"] == 4  # listed, with its counts
    assert np.isnan(tiny["score"]) and np.isnan(tiny["score_lo"]) and np.isnan(tiny["rank"])
    assert tiny["band"] is None and np.isnan(tiny["rank_lo"])
    assert tiny["gate"].startswith("too few cases: 4 applications")
    others = card.drop("tiny")
    assert sorted(others["rank"]) == [1, 2, 3, 4, 5]  # ranked among themselves
    assert others["rank_hi"].max() <= 5
    assert "tiny" not in set(res.explanations["department"])
    k = res.kpis[res.kpis["department"] == "tiny"]
    assert k["observed"].notna().any()  # its KPIs are still shown


def test_gate_caps_the_band_and_next_band_names_the_gate() -> None:
    t = _dept_table()
    sel = (t["department"] == "d5") & (t["kpi"] == "overdue_backlog_share")
    t.loc[sel, "numerator"] = 0.6 * t.loc[sel, "denominator"]
    t.loc[sel, ["observed", "adjusted"]] = 0.6
    res = score_departments(t, _p90(), config=ScorecardsConfig(bands={"C": 20, "D": 10, "A": 30, "B": 25}), config_hash="h")  # fmt: skip
    card = res.scorecards.set_index("department")
    assert card.loc["d5", "band"] == "C" and "overdue_backlog_share" in card.loc["d5", "gate"]
    assert card.loc["d5", "score"] >= 30  # its score alone would give A
    nb = res.explanations
    row = nb[(nb["department"] == "d5") & (nb["kind"] == "next_band")].iloc[0]
    assert row["subject"] == "overdue_backlog_share" and row["reference"] == 0.25


def test_next_band_change_reaches_the_threshold() -> None:
    config = ScorecardsConfig(gates=())
    res = score_departments(_dept_table(), _p90(), config=config, config_hash="h")
    card = res.scorecards.set_index("department")
    nb = res.explanations[res.explanations["kind"] == "next_band"].set_index("department")
    rated = card["band"].notna() & (card["band"] != "A")
    assert set(nb.index) == set(card.index[rated])  # every rated non-A department
    reachable = nb[nb["subject"].notna()]
    assert len(reachable) >= 1
    d = reachable.index[0]
    row = nb.loc[d]
    scored = res.periods[("2026-03", "month")]
    i = scored.departments.index(d)
    point = scored.extra["point"].copy()
    point[i, composite.SCORED.index(row["subject"])] = row["reference"]
    floors = np.array([config.kpis[k]["floor"] for k in composite.SCORED])
    targets = np.array([config.kpis[k]["target"] for k in composite.SCORED])
    new = composite.score_matrix(composite.normalize(point, floors, targets), config)[i]
    nxt = "ABCDE"["ABCDE".index(card.loc[d, "band"]) - 1]
    assert new == pytest.approx(config.bands[nxt], abs=1e-6)


def test_previous_period_labels() -> None:
    assert explain.previous_period("2026-03", "month") == "2026-02"
    assert explain.previous_period("2026-01", "month") == "2025-12"
    assert explain.previous_period("2026-Q1", "quarter") == "2025-Q4"
    assert explain.previous_period("2026", "year") == "2025"


def test_no_applications_gives_empty_tables_not_an_error() -> None:
    res = score_departments(
        _dept_table().iloc[0:0], _p90().iloc[0:0], config=ScorecardsConfig(), config_hash="h"
    )
    assert res.scorecards.empty and res.kpis.empty and res.explanations.empty
    assert res.manifest["departments"] == 0 and res.manifest["periods"] == []


def test_a_department_with_too_few_kpis_gets_no_score() -> None:
    """A 311-style export: d3 has data for three KPIs only (the others have no denominator)."""
    t = _dept_table()
    keep = {"one_visit_rate", "online_share", "handoffs_per_case"}
    sel = (t["department"] == "d3") & ~t["kpi"].isin(keep)
    t.loc[sel, ["numerator", "denominator", "sum_squares"]] = 0.0
    t.loc[sel, ["observed", "adjusted", "oe_ratio"]] = np.nan
    res = score_departments(t, _p90(), config=ScorecardsConfig(), config_hash="h")
    card = res.scorecards.set_index("department")
    assert card.loc["d3", "n_kpis_scored"] == 3
    assert card.loc["d3", "band"] is None and np.isnan(card.loc["d3", "band_probability"])
    assert "fewer than min_kpis_for_band 5" in card.loc["d3", "gate"]
    assert np.isnan(card.loc["d3", "score"]) and np.isnan(card.loc["d3", "rank"])
    assert card.drop(["d3", "tiny"])["band"].notna().all()  # tiny: 5 applications
    # with the floor at 3 the same department is rated
    res3 = score_departments(
        t, _p90(), config=ScorecardsConfig(min_kpis_for_band=3), config_hash="h"
    )
    assert res3.scorecards.set_index("department").loc["d3", "band"] is not None
