"""Demand transforms on tiny hand-made inputs with hand-computed expectations."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from pyspark.sql import functions as F

from visitonce.demand import channels, priorities, profiles, staffing
from visitonce.demand import forecast as FC

D = dt.date


def test_first_contact_is_the_earliest_step_in_local_time(spark) -> None:
    rows = [
        # a1: applied online on Monday 09:30 local (01:30 UTC), then came to the counter
        ("a1", "I1", None, "online", "D1", "c1", "individual", "75+", None, "2026-03-02T01:30:00Z"),
        ("a1", "I1", "C1", "counter", "D1", "c1", "individual", "75+",
         "2026-03-03T02:00:00Z", "2026-03-03T02:10:00Z"),
        # a2: queued on Sunday 23:50 local (15:50 UTC Sunday) -> Sunday, hour 23
        ("a2", "I2", "C2", "counter", "D2", None, None, None,
         "2026-03-01T15:50:00Z", "2026-03-01T16:20:00Z"),
    ]  # fmt: skip
    cols = "application_id service_item center channel district citizen_id citizen_type age_band"
    ev = spark.createDataFrame(rows, [*cols.split(), "arrived_at", "started_at"])
    ev = ev.withColumn("arrived_at", F.to_timestamp("arrived_at")).withColumn(
        "started_at", F.to_timestamp("started_at")
    )
    got = profiles.to_first_contacts(ev, time_zone="Asia/Shanghai").orderBy("application_id")
    got = [r.asDict() for r in got.collect()]
    assert [(r["channel"], r["center"], r["weekday"], r["hour"]) for r in got] == [
        ("online", None, 1, 9),
        ("counter", "C2", 7, 23),
    ]
    assert got[0]["local_date"] == D(2026, 3, 2) and got[0]["age_band"] == "75+"


def test_demand_volume_previous_volume_and_trend(spark) -> None:
    def row(item: str, day: int) -> tuple:
        return (item, "C1", "counter", "D1", 1, 9, D(2026, 3, day))

    rows = [row("A", 23)] * 3 + [row("A", 16)] * 2 + [row("A", 9)] + [row("B", 28)]
    cols = ["service_item", "center", "channel", "district", "weekday", "hour", "local_date"]
    got = profiles.to_demand(
        spark.createDataFrame(rows, cols), last=D(2026, 3, 28), period_days=7, min_group=5
    )
    got = {r["service_item"]: r.asDict() for r in got.collect()}
    # current period 22-28 March, previous 15-21 March; the 9 March visit is in neither
    assert (got["A"]["volume"], got["A"]["previous_volume"]) == (3, 2)
    assert got["A"]["trend"] == pytest.approx(0.5)
    assert got["A"]["small_n"] is False  # 3 + 2 = 5 is not below min_group 5
    assert (got["B"]["volume"], got["B"]["previous_volume"], got["B"]["trend"]) == (1, 0, None)
    assert got["B"]["small_n"] is True
    assert got["A"]["period_start"] == D(2026, 3, 22) and got["A"]["period_end"] == D(2026, 3, 28)


def _cells(spark, rows: list[tuple]):
    cols = [
        "center", "weekday", "hour", "n_days", "arrivals_per_hour", "mean_service_min",
        "mean_wait_min", "observed_within_target", "rostered_officials",
    ]  # fmt: skip
    return spark.createDataFrame(rows, cols)


def test_officials_needed_by_erlang_c_with_the_official_time_factor(spark) -> None:
    # 60 arrivals an hour (1/min), 1 minute of desk service; target 80% within 1 minute.
    cells = _cells(spark, [("C1", 1, 9, 4, 60.0, 1.0, 0.5, 0.9, 3.0)])
    got = staffing.with_officials_needed(
        cells, official_time_factor=2.0, target_wait_min=1.0, service_level=0.8, max_servers=50
    ).first()
    assert got["offered_load"] == pytest.approx(1.0)
    assert got["servers_needed"] == 2  # a = 1: 2 servers give 1 - e^-1 / 3 = 0.877
    # factor 2: a = 2, service 2 min; 3 officials: C = 4/9, SL = 1 - 4/9 e^-0.5 = 0.730 < 0.8;
    # 4 officials: C = 4/23, SL = 1 - 4/23 e^-1 = 0.936
    assert got["officials_needed"] == 4
    assert got["rostered_service_level"] == pytest.approx(1 - 4 / 9 * math.exp(-0.5))


def test_calibration_finds_the_factor_at_which_the_need_meets_the_roster() -> None:
    # one cell, lambda = 1/min, 1 min service, target 80% within 1 min, 4 rostered officials:
    # the need is 4 first at a factor between 1 (2 needed) and 2 (4 needed)
    k = staffing._calibrate([1.0], [1.0], [4.0], 1.0, 0.8, 50)
    assert k is not None and 1.0 < k <= 2.0
    assert staffing._needed(1.0, 1.0, k * 1.001, 1.0, 0.8, 50) == 4
    assert staffing._needed(1.0, 1.0, k * 0.999, 1.0, 0.8, 50) < 4
    assert staffing._calibrate([0.0], [1.0], [4.0], 1.0, 0.8, 50) is None


def test_plan_status_and_moves_between_centres(spark) -> None:
    rows = [
        ("A", 1, 9, 8.0, 10),  # rostered 8, needs 10: short 2
        ("B", 1, 9, 9.0, 6),  # idle 3
        ("C", 1, 9, 5.5, 5),  # balanced
        ("A", 1, 10, 2.0, 4),  # short 2, nobody idle at 10
    ]
    cells = spark.createDataFrame(
        rows, ["center", "weekday", "hour", "rostered_officials", "officials_needed"]
    )
    got = {(r["center"], r["hour"]): r for r in staffing.to_staffing_plan(cells).collect()}
    assert [got[k]["status"] for k in [("A", 9), ("B", 9), ("C", 9), ("A", 10)]] == [
        "short", "idle", "balanced", "short",
    ]  # fmt: skip
    assert got[("A", 9)]["gap"] == -2.0
    assert got[("A", 9)]["note"] == "short 2.0: B has 3.0 idle at this hour and could move"
    assert got[("B", 9)]["note"] == "idle 3.0: could move to A, short 2.0"
    assert got[("C", 9)]["note"] is None
    assert got[("A", 10)]["note"].startswith("short 2.0: no centre idle")


def test_forecasters_on_a_perfectly_weekly_series() -> None:
    dates = pd.date_range("2026-03-02", periods=21)
    g = pd.DataFrame([(d, h) for d in dates for h in range(24)], columns=["d", "hour"])
    g["wd"] = g["d"].dt.dayofweek
    g["arrivals"] = (g["wd"] + 1) * (g["hour"] == 10)  # 1..7 arrivals at 10:00
    train, test = g[g["d"] < dates[14]], g[g["d"] >= dates[14]].reset_index(drop=True)
    preds = FC._predict(train, test)
    assert preds[FC.NAIVE] == pytest.approx(test["arrivals"].to_numpy())
    assert preds[FC.BASELINE] == pytest.approx(test["arrivals"].to_numpy())


def test_error_figures_and_method_choice() -> None:
    errors = [
        {"center": "X", "method": FC.NAIVE, "n": 10, "abs_err": 8.0, "sq_err": 40.0, "actual": 20.0},
        {"center": "X", "method": FC.BASELINE, "n": 10, "abs_err": 5.0, "sq_err": 10.0, "actual": 20.0},
        {"center": "X", "method": FC.MODEL, "n": 10, "abs_err": 6.0, "sq_err": 9.0, "actual": 20.0},
        {"center": "Y", "method": FC.BASELINE, "n": 10, "abs_err": 5.0, "sq_err": 10.0, "actual": 10.0},
        {"center": "Y", "method": FC.MODEL, "n": 10, "abs_err": 4.0, "sq_err": 10.0, "actual": 10.0},
    ]  # fmt: skip
    figs = FC.error_figures(errors)
    assert figs[FC.NAIVE] == {"mae": 0.8, "rmse": 2.0, "wape": 0.4}
    assert figs[FC.BASELINE]["mae"] == pytest.approx(0.5)  # (5 + 5) / 20
    assert figs[FC.BASELINE]["wape"] == pytest.approx(10 / 30)
    assert FC.choose_methods(errors) == {"X": FC.BASELINE, "Y": FC.MODEL}


def test_reform_priorities_by_hand(spark) -> None:
    t = dt.datetime(2026, 3, 2, 1, 0)
    day = dt.timedelta(days=1)
    apps = [
        # item A: two elderly applicants, 2 visits each, 2 days, ratings 1 and 3
        ("a1", "c1", "individual", "75+", "A", "dA", 2, t, t + 2 * day, False, 1),
        ("a2", "c2", "individual", "75+", "A", "dA", 2, t, t + 2 * day, False, 3),
        # item B: one young applicant twice, no visits, 1 day, one rating of 5
        ("b1", "c3", "individual", "18-29", "B", "dB", 0, t, t + day, False, 5),
        ("b2", "c3", "individual", "18-29", "B", "dB", 0, t, t + day, False, None),
    ]
    cols = (
        "application_id citizen_id citizen_type age_band service_item department n_visits "
        "applied_at completed_at is_open satisfaction"
    )
    apps_df = spark.createDataFrame(apps, cols.split())
    m = dt.timedelta(minutes=1)
    ev = spark.createDataFrame(
        [("a1", t, t + 30 * m), ("a2", t, t + 10 * m), ("b1", None, t)],
        "application_id string, arrived_at timestamp, started_at timestamp",
    )
    # one flagged step of A, judged by two comparisons (two rows): counted once
    lag = spark.createDataFrame(
        [
            ("A", "review", "processing", True),
            ("A", "review", "processing", True),
            ("A", "accept", "waiting", False),
            ("B", "review", "processing", False),
        ],
        ["service_item", "step", "kind", "flagged"],
    )
    got = priorities.to_reform_priorities(apps_df, ev, lag, min_group=2)
    got = {r["service_item"]: r.asDict() for r in got.collect()}
    a, b = got["A"], got["B"]
    # city per-application averages: visits 1, wait 10 min, elapsed 1.5 d, dissat. 1.5, lag 1.5
    assert (a["visits_ratio"], a["wait_ratio"], b["visits_ratio"]) == (2.0, 2.0, 0.0)
    assert a["elapsed_ratio"] == pytest.approx(4 / 3) and b["elapsed_ratio"] == pytest.approx(2 / 3)
    assert a["dissatisfaction_ratio"] == pytest.approx(2.0) and b["dissatisfaction_ratio"] == 0.0
    assert a["lagging_ratio"] == pytest.approx(4 / 3) and b["n_lagging_steps"] == 0
    assert a["burden"] == pytest.approx((2 + 2 + 4 / 3 + 2 + 4 / 3) / 5)
    assert b["burden"] == pytest.approx((2 / 3 + 2 / 3) / 5)
    assert a["priority_score"] == pytest.approx(2 * a["burden"])
    assert (a["rank"], b["rank"], a["burden_rank"]) == (1, 2, 1)
    assert a["share_of_citizens"] == pytest.approx(2 / 3)
    assert (a["most_affected_group"], a["group_share"]) == ("75+", 1.0)
    assert (b["most_affected_group"], b["small_n"]) == ("18-29", False)


def test_digital_gap_by_age_band(spark) -> None:
    rows = [("A", "counter", "75+", "individual")] + [("A", "online", "18-29", "individual")] * 3
    rows += [("A", "mobile", None, "enterprise"), ("B", "counter", "75+", "individual")]
    contacts = spark.createDataFrame(rows, ["service_item", "channel", "age_band", "citizen_type"])
    catalog = spark.createDataFrame([("A", True), ("B", False)], ["service_item", "online_capable"])
    got = channels.to_digital_gap(contacts, catalog, min_group=2)
    got = {r["age_band"]: r.asDict() for r in got.collect()}
    assert set(got) == {"all", "75+", "18-29", "enterprise"}  # B is not online-capable
    assert got["all"]["n_applications"] == 5
    assert got["all"]["counter_share"] == pytest.approx(0.2)
    assert got["all"]["remote_share"] == pytest.approx(0.8)
    assert got["75+"]["mostly_counter"] and got["75+"]["relies_on_counter"]
    assert got["75+"]["small_n"] and not got["18-29"]["small_n"]
    assert not got["18-29"]["relies_on_counter"] and not got["all"]["relies_on_counter"]


def test_service_hours_rank_peaks_and_edge_proposals(spark) -> None:
    # hour: (arrivals per hour, officials needed) over 10 Mondays
    spec = {8: (1.0, 1), 9: (10.0, 2), 10: (12.0, 2), 11: (6.0, 2), 12: (6.0, 1)}
    rows = [("X", 1, h, 10, a, n, 5.0) for h, (a, n) in spec.items()]
    plan = spark.createDataFrame(
        rows,
        "center string, weekday int, hour int, n_days long, arrivals_per_hour double, "
        "officials_needed int, rostered_officials double",
    )
    got = {r["hour"]: r for r in channels.to_service_hours(plan, min_group=5).collect()}
    # citizens per official 1, 5, 6, 3, 6: median 5
    assert [got[h]["rank"] for h in range(8, 13)] == [5, 3, 1, 4, 1]
    assert sorted(h for h in got if got[h]["is_peak"]) == [9, 10]  # 100 and 120 arrivals
    assert (got[8]["edge"], got[8]["proposal"]) == ("opening", "consider_closing")  # 1 < 2.5
    assert (got[12]["edge"], got[12]["proposal"]) == ("closing", "consider_extending")  # 6 >= 5
    assert got[10]["proposal"] == "keep" and got[10]["edge"] is None


def test_plan_demand_on_logs_without_counters_catalog_or_roster(spark) -> None:
    """Real logs (a 311 export) may have no centre, no queue ticket and no reference tables:
    the stage must still write every table it can, empty where nothing applies."""
    from visitonce import schemas
    from visitonce.applications import to_applications
    from visitonce.config import CalendarConfig, DemandConfig
    from visitonce.demand.stage import plan_demand

    t0 = dt.datetime(2026, 3, 2, 2, 0)
    rows = [
        (f"a{i}", None, None, "S1", "d1", "online", None, "D1", "accept", t0 + dt.timedelta(hours=i),
         t0 + dt.timedelta(hours=i, minutes=5), False, None)
        for i in range(6)
    ]  # fmt: skip
    ev = spark.createDataFrame(
        rows,
        "application_id string, citizen_id string, citizen_type string, service_item string, "
        "department string, channel string, center string, district string, step string, "
        "started_at timestamp, ended_at timestamp, physical_visit boolean, arrived_at timestamp",
    ).withColumns({"satisfaction": F.lit(None).cast("int"), "age_band": F.lit(None).cast("string")})
    ev = ev.withColumns(
        {"location": F.lit(None).cast("string"), "event_id": F.col("application_id")}
    )
    apps = to_applications(
        ev, catalog=None, calendar=CalendarConfig(), time_zone="Asia/Shanghai",
        as_of=dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc),
    )  # fmt: skip
    tables, section = plan_demand(
        spark, ev, applications=apps, catalog=None, roster=None, lagging_steps=None,
        config=DemandConfig(), time_zone="Asia/Shanghai",
    )  # fmt: skip
    assert "digital_gap" not in tables and "forecast" not in section
    for name, df in tables.items():
        out = schemas.conform(df, schemas.load(name))
        assert schemas.check_schema(out, schemas.load(name)) == [], name
        expected = {"demand": 6, "reform_priorities": 1}.get(name, 0)  # 6 applications, 6 hours
        assert out.count() == expected, name
    assert section["staffing"]["weekday_gap_by_center"] == {}
