"""KPIs counted by hand on a tiny city; case-mix invariance; unavailable KPIs stay null.

The tiny city (Asia/Shanghai, March-April 2026, as_of 2026-04-30):

dept A, item X (complexity 2, online-capable, limit 2 working days)
  a1  P1  Mon 03-02 09:00, counter, done Tue 03-03 09:00 (on time), 1 visit, rating 5;
          events: wait 10 min at the counter, then A -> B -> A (2 hand-offs)
  a2  P1  Tue 03-10 09:00, counter, done Sat 03-14 12:00 (late), 2 visits, rating 2;
          events: wait 30 min (repeat contact: P1 applied for X 8 days before)
  a3  P2  Fri 03-20 10:00, online, open (due 03-24: overdue at March's end), 0 visits
  a4  P3  Wed 04-01 10:00, online, done 04-02 10:00 (on time), 0 visits
dept B, item Y (complexity 4, not online-capable, limit 5)
  b1  anonymous  Thu 03-05 10:00, online, done 03-06 10:00 (on time), 0 visits, rating 4
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from visitonce import schemas
from visitonce.config import ConfigError, ScorecardsConfig
from visitonce.scorecard import casemix as CM
from visitonce.scorecard import kpis as K
from visitonce.scorecard.stage import compute_scorecards

TZ = "Asia/Shanghai"
AS_OF = dt.datetime(2026, 4, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _t(s: str) -> dt.datetime:
    """Local (UTC+8) wall-clock string -> naive UTC datetime (the session's zone is UTC)."""
    return dt.datetime.fromisoformat(s) - dt.timedelta(hours=8)


def _app(aid, cit, item, dept, applied, done, visits, ch, sat, limit, due, status, n_steps):
    return {
        "application_id": aid, "citizen_id": cit, "citizen_type": "individual" if cit else None,
        "service_item": item, "department": dept, "district": "D1" if cit else None,
        "age_band": "30-44" if cit else None, "location": None, "applied_at": _t(applied),
        "completed_at": _t(done) if done else None, "is_open": done is None, "n_steps": n_steps,
        "n_visits": visits, "channels": [ch], "first_channel": ch, "satisfaction": sat,
        "time_limit_days": limit, "due_date": dt.date.fromisoformat(due),
        "on_time_status": status, "applied_date": dt.date.fromisoformat(applied[:10]),
    }  # fmt: skip


APPS = [
    _app("a1", "P1", "X", "A", "2026-03-02 09:00", "2026-03-03 09:00", 1, "counter", 5, 2, "2026-03-04", "on_time", 3),
    _app("a2", "P1", "X", "A", "2026-03-10 09:00", "2026-03-14 12:00", 2, "counter", 2, 2, "2026-03-12", "late", 1),
    _app("a3", "P2", "X", "A", "2026-03-20 10:00", None, 0, "online", None, 2, "2026-03-24", "open_overdue", 1),
    _app("a4", "P3", "X", "A", "2026-04-01 10:00", "2026-04-02 10:00", 0, "online", None, 2, "2026-04-03", "on_time", 1),
    _app("b1", None, "Y", "B", "2026-03-05 10:00", "2026-03-06 10:00", 0, "online", 4, 5, "2026-03-12", "on_time", 1),
]  # fmt: skip


def _ev(eid, aid, dept, arrived, started, ended, item="X"):
    return {
        "event_id": eid, "application_id": aid, "citizen_id": None, "citizen_type": None,
        "service_item": item, "department": dept, "channel": "counter", "center": None,
        "district": None, "location": None, "step": "s", "official": None,
        "arrived_at": _t(arrived) if arrived else None, "started_at": _t(started),
        "ended_at": _t(ended) if ended else None, "physical_visit": None, "satisfaction": None,
        "age_band": None, "source": "t", "source_file": "t", "source_row": None, "event_date": _t(started).date(),
    }  # fmt: skip


EVENTS = [
    _ev("e1", "a1", "A", "2026-03-02 08:50", "2026-03-02 09:00", "2026-03-02 09:20"),
    _ev("e2", "a1", "B", None, "2026-03-02 10:00", "2026-03-02 11:00"),
    _ev("e3", "a1", "A", None, "2026-03-03 08:00", "2026-03-03 09:00"),
    _ev("e4", "a2", "A", "2026-03-10 09:00", "2026-03-10 09:30", "2026-03-14 12:00"),
    _ev("e5", "a3", "A", None, "2026-03-20 10:00", None),
    _ev("e6", "a4", "A", None, "2026-04-01 10:00", "2026-04-02 10:00"),
    _ev("e7", "b1", "B", None, "2026-03-05 10:00", "2026-03-06 10:00", item="Y"),
]
CATALOG = [("X", "x", "A", 2, 2, True), ("Y", "y", "B", 4, 5, False)]


@pytest.fixture(scope="module")
def tiny(spark):
    apps = spark.createDataFrame(APPS, schemas.spark_schema(schemas.load("applications")))
    events = spark.createDataFrame(EVENTS, schemas.spark_schema(schemas.load("events")))
    catalog = spark.createDataFrame(CATALOG, schemas.spark_schema(schemas.load("catalog")))
    lagging = spark.createDataFrame(
        [("X", "s", "A", "processing", 3.0, True), ("Y", "s", "B", "processing", 1.0, False)],
        "service_item string, step string, department string, kind string, "
        "excess_ratio double, flagged boolean",
    )
    return apps, events, catalog, lagging


def _cells(tiny, grains=("month",)):
    apps, events, catalog, lagging = tiny
    feats = K.to_case_features(
        apps, events, catalog=catalog, lagging_steps=lagging, wait_minutes=15,
        repeat_days=30, time_zone=TZ,
    )  # fmt: skip
    rows = K.to_period_rows(feats, grains=list(grains), as_of=AS_OF.date())
    keys = [K.PERIOD, K.GRAIN, "department"]
    long = K.to_long(K.summarize_cells(rows, keys=keys), keys=keys).toPandas()
    return long.set_index([K.PERIOD, "department", K.KPI]).sort_index()


def test_kpi_counts_by_hand(tiny) -> None:
    got = _cells(tiny)
    march_a = got.loc[("2026-03", "A")]
    h = 3600.0
    window_a1, window_a2 = 63 * h, 63 * h  # applied 09:00 -> start of the day after due
    expected = {  # kpi: (numerator, denominator)
        "one_visit_rate": (1, 2),
        "zero_visit_rate": (0, 2),
        "on_time_rate": (1, 3),
        "time_limit_compression": ((39 * h) / window_a1 + (-36 * h) / window_a2, 2),
        "overdue_backlog_share": (1, 1),
        "wait_within_w_rate": (1, 2),
        "online_share": (1, 3),
        "satisfaction_mean": (7, 2),
        "good_review_rate": (1, 2),
        "bad_review_rate": (1, 2),
        "rating_coverage": (2, 2),
        "lagging_step_share": (3, 3),
        "repeat_contact_rate": (1, 3),
        "handoffs_per_case": (2, 3),
    }
    for kpi, (num, den) in expected.items():
        assert march_a.loc[kpi, K.NUM] == pytest.approx(num), kpi
        assert march_a.loc[kpi, K.DEN] == pytest.approx(den), kpi
    assert march_a.loc["satisfaction_mean", K.SQ] == 25 + 4
    assert march_a.loc["handoffs_per_case", K.SQ] == 4
    assert (march_a[K.N_APPLICATIONS] == 3).all()
    march_b = got.loc[("2026-03", "B")]
    assert march_b.loc["repeat_contact_rate", K.DEN] == 0  # anonymous: not counted
    assert march_b.loc["zero_visit_rate", K.DEN] == 0  # item not online-capable
    assert march_b.loc["lagging_step_share", K.NUM] == 0
    # April: a4 is A's own application; a3 (March) is still open and overdue at April's end.
    april_a = got.loc[("2026-04", "A")]
    assert (april_a[K.N_APPLICATIONS] == 1).all()
    assert tuple(april_a.loc["overdue_backlog_share", [K.NUM, K.DEN]]) == (1, 1)
    assert tuple(april_a.loc["on_time_rate", [K.NUM, K.DEN]]) == (1, 1)


def test_steps_band_is_the_items_median_not_the_cases_own(tiny) -> None:
    # X's completed applications have 3, 1 and 1 steps (a1, a2, a4; a3 is open): median 1.
    # a1's two extra steps (hand-offs) do not move it to the "3" stratum: the number of steps a
    # case takes is an outcome of the department's handling, not case mix.
    apps, events, catalog, lagging = tiny
    feats = K.to_case_features(
        apps, events, catalog=catalog, lagging_steps=lagging, wait_minutes=15,
        repeat_days=30, time_zone=TZ,
    ).toPandas().set_index("application_id")  # fmt: skip
    assert feats[K.STEPS_BAND].to_dict() == {
        "a1": "1-2", "a2": "1-2", "a3": "1-2", "a4": "1-2", "b1": "1-2"
    }  # fmt: skip
    # Make X's completed cases mostly 4-step: every X application is in the "4" stratum.
    four = apps.withColumn(
        "n_steps", F.when(F.col("application_id").isin("a2", "a4"), 4).otherwise(F.col("n_steps"))
    )
    feats = K.to_case_features(
        four, events, catalog=catalog, lagging_steps=lagging, wait_minutes=15,
        repeat_days=30, time_zone=TZ,
    ).toPandas().set_index("application_id")  # fmt: skip
    assert feats.loc[["a1", "a2", "a3", "a4"], K.STEPS_BAND].tolist() == ["4"] * 4
    assert feats.loc["b1", K.STEPS_BAND] == "1-2"


def test_a_unit_without_data_has_no_adjusted_value(spark) -> None:
    # B has no case in the KPI's denominator: observed, expected and adjusted are null (not a
    # clipped 0, which would read as the worst possible rate).
    got = CM.summarize_adjusted(
        _long_cells(spark, [("A", "1", 10, 9), ("B", "1", 0, 0)]),
        keys=["period", "grain", "department"],
    ).toPandas().set_index("department")  # fmt: skip
    assert got.loc["A", "adjusted"] == pytest.approx(0.9)
    assert got.loc["B", ["observed", "expected", "adjusted"]].isna().all()


def test_rollups_add_up_months(tiny) -> None:
    got = _cells(tiny, grains=("month", "quarter", "year"))
    a = got.xs("A", level="department")
    for kpi in ("on_time_rate", "satisfaction_mean", "handoffs_per_case", "online_share"):
        months = a.loc[("2026-03", kpi), K.NUM] + a.loc[("2026-04", kpi), K.NUM]
        assert a.loc[("2026-Q1", kpi), K.NUM] == a.loc[("2026-03", kpi), K.NUM]
        assert a.loc[("2026", kpi), K.NUM] == months
    # The year's backlog is judged at its last day (capped at as_of): a3 only.
    assert tuple(a.loc[("2026", "overdue_backlog_share"), [K.NUM, K.DEN]]) == (1, 1)


def _long_cells(spark, rows):
    """Hand-made long cells: (department, complexity, n, on-time count)."""
    data = [
        ("2026-03", "month", d, cx, "true", "3", "counter", "on_time_rate", n, float(k), float(n), 0.0)
        for d, cx, n, k in rows
    ]  # fmt: skip
    return spark.createDataFrame(
        data,
        "period string, grain string, department string, complexity string, "
        "online_capable string, steps_band string, first_channel string, kpi string, "
        "n_applications long, numerator double, denominator double, sum_squares double",
    )


def test_case_mix_by_hand_and_invariant_to_moving_hard_items(spark) -> None:
    # Same quality, different mix: hard items (complexity 5) 60% on time, easy ones 90%.
    before = [("A", "5", 80, 48), ("A", "1", 20, 18), ("B", "5", 20, 12), ("B", "1", 80, 72)]
    got = CM.summarize_adjusted(_long_cells(spark, before), keys=["period", "grain", "department"])
    got = got.toPandas().set_index("department")
    city = (48 + 18 + 12 + 72) / 200
    assert got.loc["A", "observed"] == pytest.approx(66 / 100)
    assert got.loc["B", "observed"] == pytest.approx(84 / 100)
    assert got.loc["A", "expected"] == pytest.approx((80 * 0.6 + 20 * 0.9) / 100)
    assert got.loc["A", "city"] == pytest.approx(city)
    assert got.loc["A", "adjusted"] == pytest.approx(city)  # observed == expected
    assert got.loc["B", "adjusted"] == pytest.approx(city)
    # Move 60 hard cases from A to B: observed rates swap sides, adjusted stay put.
    after = [("A", "5", 20, 12), ("A", "1", 20, 18), ("B", "5", 80, 48), ("B", "1", 80, 72)]
    moved = CM.summarize_adjusted(_long_cells(spark, after), keys=["period", "grain", "department"])
    moved = moved.toPandas().set_index("department")
    assert moved.loc["B", "observed"] < got.loc["B", "observed"] - 0.05
    for d in ("A", "B"):
        assert moved.loc[d, "adjusted"] == pytest.approx(moved.loc[d, "city"])
    # A real difference survives: B 10 points better on hard items.
    better = [("A", "5", 80, 48), ("A", "1", 20, 18), ("B", "5", 20, 14), ("B", "1", 80, 72)]
    diff = CM.summarize_adjusted(_long_cells(spark, better), keys=["period", "grain", "department"])
    diff = diff.toPandas().set_index("department")
    assert diff.loc["B", "adjusted"] - diff.loc["A", "adjusted"] == pytest.approx(
        (86 / 100 - (20 * 0.62 + 80 * 0.9) / 100) - (66 / 100 - (80 * 0.62 + 20 * 0.9) / 100)
    )


def test_unavailable_kpis_stay_null(tiny, tmp_path, spark) -> None:
    apps, events, catalog, _ = tiny
    apps = apps.withColumn("satisfaction", F.lit(None).cast("int"))  # no ratings at all
    events = events.withColumn("arrived_at", F.lit(None).cast("timestamp"))  # no queue tickets
    res = compute_scorecards(
        apps, events, catalog=catalog, lagging_steps=None,
        # a tiny city: every department-period is scored, however few its cases
        config=ScorecardsConfig(mc_draws=200, min_applications=1, min_kpis_for_band=1),
        time_zone=TZ, as_of=AS_OF, config_hash="h",
    )  # fmt: skip
    missing = {
        "satisfaction_mean", "good_review_rate", "bad_review_rate", "rating_coverage",
        "wait_within_w_rate", "wait_p90_minutes", "lagging_step_share",
    }  # fmt: skip
    march = res.scorecards[res.scorecards["period"] == "2026-03"]
    assert set(march["unavailable_kpis"].iloc[0]) >= missing
    assert "on_time_rate" not in march["unavailable_kpis"].iloc[0]
    for k in missing:
        assert march[k].isna().all(), k
    rows = res.kpis[res.kpis["kpi"].isin(missing)]
    assert not rows["available"].any()
    assert rows[["observed", "adjusted", "shrunk", "lo", "hi"]].isna().all().all()
    assert (rows["funnel_status"] == "unavailable").all() and (rows["weight"] == 0).all()
    assert march["score"].notna().all()  # scored on what is there
    assert "rating_coverage" in res.manifest["unavailable_kpis"]
    # The tables conform to their contracts (and the job's writer accepts them).
    from visitonce.scorecard.stage import write_scorecards

    write_scorecards(spark, res, lambda n: str(tmp_path / n))
    back = spark.read.parquet(str(tmp_path / "scorecards"))
    assert back.where(F.col("satisfaction_mean").isNotNull()).count() == 0
    assert (
        schemas.check_schema(
            back.select(*schemas.load("scorecards").names), schemas.load("scorecards")
        )
        == []
    )
    eq = spark.read.parquet(str(tmp_path / "scorecard_equity")).toPandas()
    # Groups are never dropped: anonymous b1 is in the "unknown" district of B.
    b = eq[
        (eq["department"] == "B") & (eq["dimension"] == "district") & (eq["period"] == "2026-03")
    ]
    assert set(b["group"]) == {"unknown"} and b["small_group"].all()


def test_config_rejects_bad_keys_and_merges_partial_overrides() -> None:
    c = ScorecardsConfig(kpis={"on_time_rate": {"weight": 5}}, pillars={"process": 0})
    assert c.kpis["on_time_rate"] == {"floor": 0.6, "target": 0.98, "weight": 5.0}
    assert c.kpis["one_visit_rate"]["weight"] == 1.0 and c.pillars["process"] == 0.0
    with pytest.raises(ConfigError, match="unknown key"):
        ScorecardsConfig(kpis={"on_time": {"weight": 1}})
    with pytest.raises(ConfigError, match="gates"):
        ScorecardsConfig(gates=({"kpi": "on_time_rate", "above": 0.5, "cap": "F"},))
    with pytest.raises(ConfigError, match="bands"):
        ScorecardsConfig(bands={"A": 50, "B": 60})
    assert set(c.kpis) == {k.name for k in K.KPIS}
    assert not np.isnan(pd.Series(c.pillars)).any()


# A small 311 export in NYC's portal format (New York time): per-request due dates.
#   r1 09:00 -> 15:00, due 17:00 the same day        on_time (6 h of an 8 h window: 0.25 left)
#   r2 12/03 09:00 -> 12/05 10:00, due 12/04 09:00   late    (25 h past a 24 h window: -1)
#   r3 09:00 -> 18:00, due 17:00 the same day        late    (by the instant, not the date;
#                                                   1 h past an 8 h window: -1/8)
#   r4 12/10, open, due 12/20                        open_overdue; overdue at December's end
#   r5 12/11, open, due 01/30/2014                   open_within_limit; in the backlog, not overdue
#   r6 12/12 -> 12/13, due 01/01/1900 (placeholder)  no due date: no_limit, the row kept
#   r7 12/12, open, no due date                      no_limit; in the backlog, not overdue
NYC_EXPORT = """Unique Key,Created Date,Closed Date,Agency,Complaint Type,Due Date
r1,12/02/2013 09:00:00 AM,12/02/2013 03:00:00 PM,DOT,Pothole,12/02/2013 05:00:00 PM
r2,12/03/2013 09:00:00 AM,12/05/2013 10:00:00 AM,DOT,Pothole,12/04/2013 09:00:00 AM
r3,12/04/2013 09:00:00 AM,12/04/2013 06:00:00 PM,DOT,Pothole,12/04/2013 05:00:00 PM
r4,12/10/2013 09:00:00 AM,,DOT,Pothole,12/20/2013 09:00:00 AM
r5,12/11/2013 09:00:00 AM,,DOT,Pothole,01/30/2014 09:00:00 AM
r6,12/12/2013 09:00:00 AM,12/13/2013 09:00:00 AM,DOT,Pothole,01/01/1900 12:00:00 AM
r7,12/12/2013 09:00:00 AM,,DOT,Pothole,
"""


def test_due_dates_of_a_311_export_give_on_time_and_backlog_by_hand(tmp_path, spark) -> None:
    from visitonce import ingest, io
    from visitonce.applications import to_applications
    from visitonce.config import CalendarConfig
    from visitonce.mapping import load_mapping

    path = tmp_path / "nyc.csv"
    path.write_text(NYC_EXPORT)
    as_of = dt.datetime(2014, 1, 15, tzinfo=dt.timezone.utc)
    mapping = load_mapping("nyc311")
    raw = io.read_raw(spark, str(path), mapping=mapping)
    canonical = ingest.with_values_json(
        ingest.with_pseudonyms(ingest.to_canonical(raw.df, mapping=mapping), key=b"k" * 32)
    )
    parsed = ingest.with_parsed(canonical, mapping=mapping, time_zone="UTC", latest_allowed=as_of)
    clean = ingest.to_clean(ingest.flag_duplicates(parsed))
    assert clean.count() == 7  # the placeholder due date drops the due date, not the request
    tz = "America/New_York"
    apps = to_applications(
        clean, catalog=None, calendar=CalendarConfig(), time_zone=tz, as_of=as_of
    )
    status = {r["application_id"]: r["on_time_status"] for r in apps.collect()}
    assert status == {"r1": "on_time", "r2": "late", "r3": "late", "r4": "open_overdue",
                      "r5": "open_within_limit", "r6": "no_limit", "r7": "no_limit"}  # fmt: skip
    feats = K.to_case_features(
        apps, clean, catalog=None, lagging_steps=None, wait_minutes=15, repeat_days=30,
        time_zone=tz,
    )  # fmt: skip
    rows = K.to_period_rows(feats, grains=["month"], as_of=as_of.date())
    keys = [K.PERIOD, K.GRAIN, "department"]
    got = K.to_long(K.summarize_cells(rows, keys=keys), keys=keys).toPandas()
    dec = got[got[K.PERIOD] == "2013-12"].set_index(K.KPI)
    assert tuple(dec.loc["on_time_rate", [K.NUM, K.DEN]]) == (1, 4)  # r1 of r1-r4
    assert tuple(dec.loc["overdue_backlog_share", [K.NUM, K.DEN]]) == (1, 2)  # r4, r5; r7: no due
    assert dec.loc["time_limit_compression", K.DEN] == 3
    assert dec.loc["time_limit_compression", K.NUM] == pytest.approx(2 / 8 - 1 - 1 / 8)
