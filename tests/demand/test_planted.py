"""Planted truth on a generated city (about 60k events, 8 weeks): the understaffed centre is
reported short by about the planted number of officials and no other centre is; the planted
peak hours are found; the forecast beats a naive last-week forecast on the held-out 4 weeks;
every demand table is written through its contract. One city is shared by the module."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.city import read_city
from visitonce import io, schemas
from visitonce.applications import to_applications
from visitonce.config import CalendarConfig, DemandConfig
from visitonce.demand import forecast as FC
from visitonce.demand.stage import TABLES, plan_demand
from visitonce.generate import generate

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def city(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("demand")
    truth = generate(root, n_events=60_000, seed=7, days=56, fmt="parquet", dirty=False)
    ev, cat, roster = read_city(spark, root)
    ev = ev.cache()
    as_of = dt.datetime.fromisoformat(truth["period_end"])
    apps = to_applications(
        ev, catalog=cat, calendar=CalendarConfig(), time_zone=TZ, as_of=as_of
    ).cache()
    tables, section = plan_demand(
        spark, ev, applications=apps, catalog=cat, roster=roster, lagging_steps=None,
        config=DemandConfig(), time_zone=TZ,
    )  # fmt: skip
    out = {}
    for name in TABLES:
        uri = str(root / "out" / name)
        io.write_table(tables[name], uri, schemas.load(name))
        out[name] = spark.read.parquet(uri).toPandas()
    spark.catalog.clearCache()
    print(json.dumps(section, indent=1, default=str))
    return {"truth": truth, "section": section, "tables": out}


def test_understaffed_centre_is_short_by_about_the_planted_amount(city) -> None:
    planted = city["truth"]["understaffed_center"]
    gaps = city["section"]["staffing"]["weekday_gap_by_center"]
    found = -gaps[planted["center"]]
    print(f"staffing gap: {found:.2f} officials short vs {planted['shortfall_officials']} planted")
    assert found == pytest.approx(planted["shortfall_officials"], rel=0.3)
    assert city["section"]["staffing"]["short_centers"] == [planted["center"]]
    # the hourly plan agrees: the centre is short in most of its weekday hours
    plan = city["tables"]["staffing_plan"]
    mine = plan[(plan["center"] == planted["center"]) & (plan["weekday"] <= 5)]
    assert (mine["status"] == "short").mean() > 0.5


def test_planted_peak_hours_are_found(city) -> None:
    assert city["section"]["peak_hours"] == city["truth"]["peak_hours"]
    hours = city["tables"]["service_hours"]
    for center, peak in city["truth"]["peak_hours"].items():
        flagged = hours[(hours["center"] == center) & hours["is_peak"]]["hour"]
        assert sorted(set(flagged)) == peak


def test_forecast_beats_naive_last_week_on_held_out_weeks(city) -> None:
    fc = city["section"]["forecast"]
    err = fc["errors"]
    print("held-out errors:", json.dumps(err))
    assert fc["holdout_days"] == 28 and fc["history_days"] == 56
    assert err[FC.BASELINE]["wape"] < err[FC.NAIVE]["wape"]
    assert err[FC.BASELINE]["mae"] < err[FC.NAIVE]["mae"]
    for center, method in fc["methods"].items():
        by = fc["errors_by_center"][center]
        assert by[method] <= by[FC.BASELINE] < by[FC.NAIVE]
    f = city["tables"]["demand_forecast"]
    assert len(f) == 5 * 14 * 24  # 5 centres, 14 days, 24 hours
    assert set(f["method"]) <= {FC.MODEL, FC.BASELINE}


def test_demand_trend_and_priorities_cover_small_groups(city) -> None:
    d = city["tables"]["demand"]
    period = city["section"]["demand"]
    assert (period["period_start"], period["period_end"]) == ("2026-03-29", "2026-04-25")
    assert period["previous_period_days_with_data"] == 28  # 8 weeks: a full previous period
    assert d["volume"].sum() > 0 and d["previous_volume"].sum() > 0
    pr = city["tables"]["reform_priorities"]
    assert sorted(pr["rank"]) == list(range(1, len(pr) + 1))
    small = set(city["truth"]["small_n_items"])
    assert small <= set(pr["service_item"])  # small items are ranked, not dropped
    assert pr.set_index("service_item").loc[sorted(small), "small_n"].all()
    old_age = next(b for b in city["truth"]["bundles"] if b["segment"] == {"age_band": "75+"})
    groups = pr.set_index("service_item").loc[old_age["items"], "most_affected_group"]
    assert (groups == "75+").all()


def test_digital_gap_follows_the_digital_divide(city) -> None:
    g = city["tables"]["digital_gap"]
    bands = g[g["age_band"] != "all"].assign(n_counter=g["counter_share"] * g["n_applications"])
    per = bands.groupby("age_band")[["n_counter", "n_applications"]].sum()
    share = per["n_counter"] / per["n_applications"]
    # planted: the older the applicant, the more counter; enterprises mostly online
    assert share["75+"] > share["60-74"] > share["18-29"]
    assert share["enterprise"] < share["75+"]
    old = g[(g["age_band"] == "75+") & ~g["small_n"]]
    assert old["relies_on_counter"].any()
