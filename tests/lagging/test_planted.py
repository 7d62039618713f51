"""Planted truth on a generated month: lagging steps found, workload not blamed, small items
reported as insufficient data; live monitoring alerts the queue spike with proposals and stays
quiet elsewhere. One generated city (about 50k events, 31 days) is shared by the module."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from pyspark.sql import functions as F

from tests.city import read_city, step_facts
from visitonce.config import CalendarConfig, LaggingConfig, MonitorConfig
from visitonce.generate import generate
from visitonce.lagging.stage import find_lagging_steps
from visitonce.monitor.stage import find_alerts

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def city(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("planted")
    truth = generate(root, n_events=50_000, seed=7, days=31, fmt="parquet", dirty=False)
    ev, cat, roster = read_city(spark, root)
    ev = step_facts(ev, TZ).cache()
    as_of = dt.datetime.fromisoformat(truth["period_end"])
    _, lagging = find_lagging_steps(
        ev, catalog=cat, roster=roster, calendar=CalendarConfig(), config=LaggingConfig(),
        time_zone=TZ, as_of=as_of,
    )  # fmt: skip
    lag = lagging.toPandas()
    spark.catalog.clearCache()
    ev.cache()
    windows, alerts = find_alerts(
        ev, catalog=cat, roster=roster, config=MonitorConfig(), time_zone=TZ
    )
    al = alerts.toPandas()
    n_series_days = windows.select("center", "channel", "department", "local_date").distinct()
    n_series_days = n_series_days.count()
    spark.catalog.clearCache()
    return {"truth": truth, "lag": lag, "alerts": al, "series_days": n_series_days, "root": root}


def _key(r) -> tuple[str, str, str]:
    return (r["service_item"], r["step"], r["kind"])


def test_planted_lags_are_flagged_with_few_false_flags(city) -> None:
    lag, truth = city["lag"], city["truth"]
    planted = {_key(p) for p in truth["lagging_steps"]}
    flagged = {_key(r) for _, r in lag[lag["flagged"]].iterrows()}
    found = planted & flagged
    recall, precision = len(found) / len(planted), len(found) / max(len(flagged), 1)
    print(f"lagging flags: recall {recall:.2f}, precision {precision:.2f}, flagged {flagged}")
    assert found == planted  # incl. the waiting one and the low-volume item
    assert any(p["kind"] == "waiting" for p in truth["lagging_steps"])
    # Issue 18's target, precision >= 0.8: one extra flag at most (CA_MARRIAGE accept waiting
    # since 2026-12-05, see docs/methodology-lagging.md, Evidence). The desk steps that the
    # mixed desk/back-office fit flagged must stay unflagged.
    assert precision >= 0.8, flagged - planted
    assert not flagged & {("AMR_CHANGE", "accept", "processing"),
                          ("HEALTH_BIRTH_CERT", "accept", "processing")}  # fmt: skip
    assert lag["workload_ratio"].dropna().between(0.2, 10).all()
    rows = lag[lag["flagged"]]
    assert (rows["excess_ratio"] >= 2.0).all() and (rows["q_value"] <= 0.05).all()
    assert (rows["observed_lo_s"] <= rows["observed_s"]).all()
    assert (rows["observed_s"] <= rows["observed_hi_s"]).all()


def test_applications_older_than_the_history_window_change_nothing(city, spark) -> None:
    """With a judged week and a week of history, the 31-day city's applications that ended
    before that fortnight are left out of the judgement: dropping them from the input (by an
    independent test: no step on or after the window's first date) gives the same table."""
    config = LaggingConfig(judged_days=7, history_days=7, history_min_days=3)
    ev, cat, roster = read_city(spark, city["root"])
    ev = step_facts(ev, TZ).cache()
    last = ev.agg(F.max("local_date")).first()[0]
    since = last - dt.timedelta(days=13)
    recent = ev.join(
        ev.where(F.col("local_date") >= F.lit(since)).select("application_id").distinct(),
        "application_id",
        "left_semi",
    )
    assert recent.count() < ev.count()
    as_of = dt.datetime.fromisoformat(city["truth"]["period_end"])
    tables = []
    for facts in (ev, recent):
        _, lagging = find_lagging_steps(
            facts, catalog=cat, roster=roster, calendar=CalendarConfig(), config=config,
            time_zone=TZ, as_of=as_of,
        )  # fmt: skip
        tables.append(lagging.toPandas())
    spark.catalog.clearCache()
    keys = ["service_item", "step", "department", "kind", "setting", "comparison", "place"]
    a, b = (t.sort_values(keys).reset_index(drop=True) for t in tables)
    assert len(a) > 50 and (a["comparison"] == "history").any()
    pd.testing.assert_frame_equal(a, b)


def test_understaffed_department_is_not_flagged(city) -> None:
    lag, dept = city["lag"], city["truth"]["understaffed"]["department"]
    mine = lag[lag["department"] == dept]
    assert len(mine) > 10
    assert not mine["flagged"].any(), mine[mine["flagged"]]


def test_small_n_items_are_reported_as_insufficient_data(city) -> None:
    lag, small = city["lag"], city["truth"]["small_n_items"]
    rows = lag[lag["service_item"].isin(small)]
    assert set(rows["service_item"]) == set(small)  # reported, not hidden
    assert (rows["status"] == "insufficient_data").all()
    assert not rows["flagged"].any()
    assert rows["observed_s"].notna().all() and (rows["n"] < 20).all()


def test_queue_spike_is_alerted_with_proposals(city) -> None:
    spike, al = city["truth"]["queue_spike"], city["alerts"]
    day = dt.date.fromisoformat(spike["date"])
    hits = al[(al["center"] == spike["center"]) & (al["alert_date"] == day)]
    assert len(hits) >= 1, al
    top = hits.sort_values("score").iloc[-1]
    start = pd.Timestamp(top["window_start"]).tz_localize("UTC").tz_convert(TZ).hour
    end = pd.Timestamp(top["window_end"]).tz_localize("UTC").tz_convert(TZ).hour
    assert start <= max(spike["hours"]) and end > min(spike["hours"])
    assert top["metric"] in {"queue_estimate", "waiting_p50_min", "waiting_p90_min", "arrivals"}
    proposals = list(top["proposals"])
    assert any("Erlang C" in p for p in proposals), proposals
    assert any("online" in p for p in proposals), proposals
    # The spike is the day's strongest alert anywhere in the city.
    assert top["score"] == al[al["alert_date"] == day]["score"].max()


def test_few_alerts_outside_the_planted_anomalies(city) -> None:
    truth, al = city["truth"], city["alerts"]
    spike = truth["queue_spike"]
    under = truth["understaffed"]
    under_days = {dt.date.fromisoformat(d) for d in under["dates"]}
    planted = (
        (al["center"] == spike["center"])
        & (al["alert_date"] == dt.date.fromisoformat(spike["date"]))
    ) | (al["department"].eq(under["department"]) & al["alert_date"].isin(under_days))
    false_alarms = int((~planted).sum())
    days = 31
    rate = false_alarms / city["series_days"]
    print(
        f"alerts {len(al)}, outside planted {false_alarms} ({false_alarms / days:.2f}/day, "
        f"{rate:.4f} per monitored series-day of {city['series_days']})"
    )
    assert al.groupby("alert_date").size().max() <= MonitorConfig().max_alerts_per_day
    assert false_alarms / days <= 1.0
    assert rate <= 0.01
    assert json.dumps(list(al.columns))  # the frame is the alerts contract's columns
