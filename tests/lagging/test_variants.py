"""Lagging steps on cities the main generator did not make (visitonce/generate_lagging.py):
precision and recall of the planted lags across a grid of time models, item heterogeneity,
hand-off gaps, nightly-batch stamping and an understaffed department.

The grid tested here: office hours and continuous time, each with alike items (1x) and with
100x heterogeneity (the continuous one with 6 h hand-offs). Every variant has department D3
understaffed (half the officials, every step 2.2x slower). The nightly-batch variants miss the
target (recall 0.5, see the table in docs/methodology-lagging.md) and are not asserted here.
The variants' codes carry a prefix and are judged in one stage call: they share nothing but the
Benjamini-Hochberg family.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.city import read_city, step_facts
from visitonce.config import CalendarConfig, LaggingConfig
from visitonce.generate_lagging import generate_lagging_variant
from visitonce.lagging.stage import find_lagging_steps

GRID = (
    {"time_model": "office", "heterogeneity": 1.0},
    {"time_model": "continuous", "heterogeneity": 1.0},
    {"time_model": "office", "heterogeneity": 100.0},
    {"time_model": "continuous", "heterogeneity": 100.0, "handoff_hours": 6.0},
)


@pytest.fixture(scope="module")
def variants(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("lagging-variants")
    truths, frames = [], []
    for k, knobs in enumerate(GRID):
        truths.append(
            generate_lagging_variant(root / f"v{k}", seed=k + 1, prefix=f"v{k}_", **knobs)
        )
        frames.append(read_city(spark, root / f"v{k}"))
    ev, cat, ro = frames[0]
    for e, c, r in frames[1:]:
        ev, cat, ro = ev.unionByName(e), cat.unionByName(c), ro.unionByName(r)
    ev = step_facts(ev).cache()
    _, lagging = find_lagging_steps(
        ev, catalog=cat, roster=ro, calendar=CalendarConfig(), config=LaggingConfig(),
        time_zone="Asia/Shanghai", as_of=dt.datetime.fromisoformat(truths[0]["period_end"]),
    )  # fmt: skip
    lag = lagging.toPandas()
    spark.catalog.clearCache()
    return truths, lag


def _scores(truth: dict, lag) -> tuple[float, float, set, set]:
    prefix = truth["lagging_steps"][0]["service_item"].split("_")[0] + "_"
    mine = lag[lag["service_item"].str.startswith(prefix)]
    planted = {(p["service_item"], p["step"], p["kind"]) for p in truth["lagging_steps"]}
    flagged = {(r.service_item, r.step, r.kind) for r in mine[mine["flagged"]].itertuples()}
    found = planted & flagged
    return len(found) / max(len(flagged), 1), len(found) / len(planted), planted, flagged


def test_precision_and_recall_hold_on_every_variant(variants) -> None:
    truths, lag = variants
    for knobs, truth in zip(GRID, truths, strict=True):
        precision, recall, planted, flagged = _scores(truth, lag)
        print(f"{knobs}: precision {precision:.2f}, recall {recall:.2f}")
        assert precision >= 0.8, (knobs, flagged - planted)
        assert recall >= 0.8, (knobs, planted - flagged)


def test_the_place_lag_is_found_by_the_places_comparison(variants) -> None:
    truths, lag = variants
    for truth in truths:
        (p,) = [p for p in truth["lagging_steps"] if p["center"]]
        rows = lag[
            (lag["service_item"] == p["service_item"])
            & (lag["step"] == p["step"])
            & (lag["kind"] == p["kind"])
            & lag["flagged"]
        ]
        assert set(rows["comparison"]) == {"places"}, rows
        assert set(rows["place"]) == {p["center"]}


def test_understaffed_department_is_never_lagging(variants) -> None:
    truths, lag = variants
    for truth in truths:
        mine = lag[lag["department"] == truth["understaffed"]["department"]]
        assert len(mine) > 20
        assert not mine["flagged"].any(), mine[mine["flagged"]]


def test_flags_are_material_and_never_ratios_of_near_zero_times(variants) -> None:
    _, lag = variants
    rows = lag[lag["flagged"]]
    assert len(rows)
    assert (rows["excess_s"] >= rows["material_s"]).all()
    assert (rows["excess_ratio"] >= LaggingConfig().min_effect).all()
    assert (rows["q_value"] <= LaggingConfig().fdr_alpha).all()
    assert (rows["expected_s"] >= 60).all()
    assert rows["comparison"].isin(["history", "places", "rule", "peers"]).all()
