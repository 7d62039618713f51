"""Step facts and working time on hand-written cases with hand-computed expectations.

Calendar used below (Asia/Shanghai, UTC+8): 2026-03-06 is a Friday, 03-07/08 the weekend,
03-09 (Monday) a public holiday, 03-10 a Tuesday; working hours 08:30-17:30.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from visitonce.config import CalendarConfig
from visitonce.facts import alive_since, at_as_of, to_step_facts
from visitonce.worktime import working_seconds

TZ = "Asia/Shanghai"
CAL = CalendarConfig(holidays=(dt.date(2026, 3, 9),))
UTC = dt.timezone.utc


def local(day: int, hh: int, mm: int = 0) -> dt.datetime:
    """2026-03-<day> hh:mm in Shanghai, as a naive UTC datetime (the session's zone)."""
    t = dt.datetime(2026, 3, day, hh, mm, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return t.astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("start", "end", "calendar", "expected"),
    [
        # Fri 16:30 -> Tue 09:30 over a weekend and a holiday: 1 h Friday + 1 h Tuesday.
        (local(6, 16, 30), local(10, 9, 30), CAL, 7_200.0),
        # The same with Saturday a make-up working day: + 9 h.
        (
            local(6, 16, 30),
            local(10, 9, 30),
            CalendarConfig(holidays=(dt.date(2026, 3, 9),), makeup_workdays=(dt.date(2026, 3, 7),)),
            39_600.0,
        ),
        # Without the holiday, Monday counts in full: + 9 h.
        (local(6, 16, 30), local(10, 9, 30), CalendarConfig(), 39_600.0),
        (local(11, 10, 0), local(11, 11, 15), CAL, 4_500.0),  # inside one working day
        (local(11, 7, 0), local(11, 8, 0), CAL, 0.0),  # before opening
        (local(11, 17, 0), local(12, 9, 0), CAL, 3_600.0),  # 30 min + 30 min overnight
        (local(11, 12, 0), local(11, 11, 0), CAL, 0.0),  # end before start
    ],
)
def test_working_seconds(spark, start, end, calendar, expected) -> None:
    df = spark.createDataFrame([(start, end)], "s timestamp, e timestamp")
    got = df.select(working_seconds(F.col("s"), F.col("e"), calendar=calendar, time_zone=TZ))
    assert got.first()[0] == pytest.approx(expected)


def test_step_facts_by_hand(spark) -> None:
    cols = (
        "application_id string, event_id string, service_item string, department string, "
        "channel string, center string, step string, physical_visit boolean, "
        "arrived_at timestamp, started_at timestamp, ended_at timestamp"
    )
    events = spark.createDataFrame(
        [
            (
                "A1",
                "e1",
                "X",
                "d1",
                "counter",
                "C01",
                "accept",
                True,
                local(6, 9, 0),
                local(6, 9, 20),
                local(6, 9, 35),
            ),
            (
                "A1",
                "e2",
                "X",
                "d2",
                "counter",
                None,
                "review",
                False,
                None,
                local(6, 16, 30),
                local(10, 9, 30),
            ),
            (
                "A1",
                "e3",
                "X",
                "d2",
                "counter",
                None,
                "approve",
                False,
                None,
                local(10, 10, 0),
                None,
            ),
        ],  # fmt: skip
        cols,
    )
    as_of = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    facts = to_step_facts(events, calendar=CAL, time_zone=TZ)
    got = at_as_of(facts, as_of=as_of, calendar=CAL, time_zone=TZ).select(
        "event_id",
        "step_index",
        "prev_department",
        "waiting_s",
        "waiting_work_s",
        "processing_s",
        "processing_work_s",
        "processing_censored",
        "handoff_s",
        "handoff_work_s",
        "response_s",
        "response_work_s",
        "response_censored",
        "local_date",
        "local_hour",
        "weekday",
    )
    # Response: applied Fri 09:00, open at as_of Tue 12:00: 99 h calendar; working 8.5 h on
    # Friday + 3.5 h on Tuesday = 12 h.
    response = dict(response_s=356_400.0, response_work_s=43_200.0, response_censored=True)
    expected = [
        Row(event_id="e1", step_index=1, prev_department=None, waiting_s=1_200.0,
            waiting_work_s=1_200.0, processing_s=900.0, processing_work_s=900.0,
            processing_censored=False, handoff_s=None, handoff_work_s=None, **response,
            local_date=dt.date(2026, 3, 6), local_hour=9, weekday=5),
        # Fri 09:35 -> 16:30 hand-off (6 h 55 min); Fri 16:30 -> Tue 09:30 processing
        # (89 h calendar, 2 working hours: weekend and holiday excluded).
        Row(event_id="e2", step_index=2, prev_department="d1", waiting_s=None,
            waiting_work_s=None, processing_s=320_400.0, processing_work_s=7_200.0,
            processing_censored=False, handoff_s=24_900.0, handoff_work_s=24_900.0, **response,
            local_date=dt.date(2026, 3, 6), local_hour=16, weekday=5),
        # Open: processing censored at as_of (10:00 -> 12:00).
        Row(event_id="e3", step_index=3, prev_department="d2", waiting_s=None,
            waiting_work_s=None, processing_s=7_200.0, processing_work_s=7_200.0,
            processing_censored=True, handoff_s=1_800.0, handoff_work_s=1_800.0, **response,
            local_date=dt.date(2026, 3, 10), local_hour=10, weekday=2),
    ]  # fmt: skip
    assertDataFrameEqual(got, spark.createDataFrame(expected, got.schema), checkRowOrder=False)
    # The facts themselves do not depend on as_of: what is still open has no duration yet.
    raw = {
        r["event_id"]: r.asDict()
        for r in facts.select(
            "event_id", "prev_step", "applied_at", "processing_s", "processing_work_s",
            "processing_censored", "response_s", "response_work_s", "response_censored",
            "handoff_s", *events.columns,
        ).collect()
    }  # fmt: skip
    assert [raw[e]["prev_step"] for e in ("e1", "e2", "e3")] == [None, "accept", "review"]
    assert {r["applied_at"] for r in raw.values()} == {local(6, 9, 0)}
    assert raw["e3"]["processing_s"] is None and raw["e3"]["processing_work_s"] is None
    assert raw["e3"]["processing_censored"] and raw["e2"]["processing_s"] == 320_400.0
    assert all(r["response_s"] is None and r["response_censored"] for r in raw.values())
    assert raw["e3"]["handoff_s"] == 1_800.0
    assert all(raw[r["event_id"]]["step"] == r["step"] for r in events.collect())


def test_closed_application_has_its_response_in_the_facts(spark) -> None:
    """A closed application's response is first arrival -> last end, whatever the as_of."""
    events = spark.createDataFrame(
        [("A", "d1", "accept", local(11, 9, 0), local(11, 9, 10), local(11, 9, 30)),
         ("A", "d2", "review", None, local(11, 10, 0), local(12, 10, 0))],
        "application_id string, department string, step string, arrived_at timestamp, "
        "started_at timestamp, ended_at timestamp",
    )  # fmt: skip
    facts = to_step_facts(events, calendar=CAL, time_zone=TZ)
    later = dt.datetime(2026, 6, 1, tzinfo=UTC)
    for df in (facts, at_as_of(facts, as_of=later, calendar=CAL, time_zone=TZ)):
        rows = df.select("response_s", "response_work_s", "response_censored").collect()
        # Wed 09:00 -> Thu 10:00: 25 h; working: 8.5 h Wednesday + 1.5 h Thursday.
        assert {tuple(r) for r in rows} == {(90_000.0, 36_000.0, False)}


def test_alive_since_keeps_whole_applications_that_reach_the_day(spark) -> None:
    """By hand, local day 12 (Asia/Shanghai): A ended on the 11th (dropped), B started on the
    11th and ended on the 12th (kept whole: both steps), C is open (kept), D ended at local
    midnight of the 12th exactly (kept)."""
    events = spark.createDataFrame(
        [("A", "d1", "accept", None, local(11, 9, 0), local(11, 9, 30)),
         ("B", "d1", "accept", None, local(11, 15, 0), local(11, 16, 0)),
         ("B", "d1", "review", None, local(12, 9, 0), local(12, 11, 0)),
         ("C", "d1", "accept", None, local(10, 9, 0), None),
         ("D", "d1", "accept", None, local(11, 23, 0), local(12, 0, 0))],
        "application_id string, department string, step string, arrived_at timestamp, "
        "started_at timestamp, ended_at timestamp",
    )  # fmt: skip
    facts = to_step_facts(events, calendar=CAL, time_zone=TZ)
    kept = alive_since(facts, dt.date(2026, 3, 12), time_zone=TZ)
    got = sorted((r["application_id"], r["step"]) for r in kept.collect())
    assert got == [("B", "accept"), ("B", "review"), ("C", "accept"), ("D", "accept")]


def _day_by_day_working_seconds(start, end, *, calendar, time_zone, day_start, day_end):
    """The former implementation, kept as the oracle: one array element per local day spanned
    (work grows with the interval; an open step of years took minutes per row on Ottawa 311)."""
    from visitonce.applications import is_working_day
    from visitonce.worktime import clock_seconds, local_seconds

    open_s, close_s = clock_seconds(day_start), clock_seconds(day_end)
    ls, le = local_seconds(start, time_zone), local_seconds(end, time_zone)
    first, last = F.floor(ls / 86_400), F.floor(le / 86_400)
    days = F.when(last >= first, F.sequence(first, last))

    def overlap(day):
        base = day * F.lit(86_400)
        lo = F.greatest(ls, base + F.lit(float(open_s)))
        hi = F.least(le, base + F.lit(float(close_s)))
        working = is_working_day(F.date_from_unix_date(day.cast("int")), calendar)
        return F.when(working, F.greatest(hi - lo, F.lit(0.0))).otherwise(F.lit(0.0))

    total = F.aggregate(F.transform(days, overlap), F.lit(0.0), lambda acc, x: acc + x)
    return F.when(start.isNull() | end.isNull(), F.lit(None).cast("double")).otherwise(
        F.coalesce(total, F.lit(0.0))
    )


@pytest.mark.parametrize(
    ("calendar", "time_zone", "hours"),
    [
        (CAL, TZ, ("08:30", "17:30")),
        (  # China's adjusted schedule: a holiday week and worked weekend days around it
            CalendarConfig(
                holidays=tuple(dt.date(2026, 10, d) for d in range(1, 8))
                + (dt.date(2026, 3, 7), dt.date(2027, 1, 1)),
                makeup_workdays=(dt.date(2026, 9, 27), dt.date(2026, 10, 10)),
            ),
            TZ,
            ("09:00", "17:00"),
        ),
        (CalendarConfig(weekend_days=(5, 6)), "America/New_York", ("00:00", "24:00")),
        (CalendarConfig(weekend_days=()), "UTC", ("07:45", "19:15")),
    ],
)
def test_working_seconds_equal_the_day_by_day_sum(spark, calendar, time_zone, hours) -> None:
    import numpy as np

    rng = np.random.default_rng(5)
    t0 = dt.datetime(2025, 12, 20, tzinfo=UTC).timestamp()
    starts = t0 + rng.uniform(0, 400 * 86_400, 400)
    spans = np.concatenate(  # minutes, hours, days, months and years, and a few negatives
        [rng.uniform(0, 3_600, 100), rng.uniform(0, 3 * 86_400, 100),
         rng.uniform(0, 60 * 86_400, 100), rng.uniform(0, 900 * 86_400, 90),
         -rng.uniform(0, 86_400, 10)]
    )  # fmt: skip
    rows = [
        (dt.datetime.fromtimestamp(s, UTC).replace(tzinfo=None),
         dt.datetime.fromtimestamp(s + d, UTC).replace(tzinfo=None))
        for s, d in zip(starts, spans, strict=True)
    ] + [(None, dt.datetime(2026, 1, 1))]  # fmt: skip
    df = spark.createDataFrame(rows, "s timestamp, e timestamp")
    kw = dict(calendar=calendar, time_zone=time_zone, day_start=hours[0], day_end=hours[1])
    got = df.select(
        working_seconds(F.col("s"), F.col("e"), **kw).alias("new"),
        _day_by_day_working_seconds(F.col("s"), F.col("e"), **kw).alias("old"),
    ).collect()
    assert got[-1]["new"] is None and got[-1]["old"] is None
    for r in got[:-1]:
        assert r["new"] == pytest.approx(r["old"], rel=1e-12, abs=1e-6), r
    assert sum(r["new"] > 30 * 86_400 * 0.2 for r in got[:-1]) > 50  # long spans were tested


def test_observations_take_the_clock_where_each_duration_begins(spark) -> None:
    """By hand (Asia/Shanghai): application H's review ends Friday 03-06 16:00 and its approve
    starts Tuesday 03-10 10:00 (arrival Tuesday 09:20 at a desk would be a wait; here the
    approve is back office). The hand-off's clock is Friday 16h, where it begins, not Tuesday
    10h, where it ends; the approve's processing clock is its start. Application O is open (its
    second step has no end): its number of steps is unknown (null); H's is log 2. Item X's 10
    reviews end at 02:00 six times and at four other minutes: 6 of 10 at one minute,
    batch-stamped; item H's one review is too few to tell (``BATCH_MIN_ENDS``)."""
    from visitonce.lagging import adjust as A

    events = spark.createDataFrame(
        [("H", "H1", "d1", "review", None, local(6, 9, 0), local(6, 16, 0)),
         ("H", "H1", "d1", "approve", None, local(10, 10, 0), local(10, 11, 0)),
         ("O", "O1", "d1", "review", None, local(10, 9, 0), local(10, 9, 30)),
         ("O", "O1", "d1", "approve", local(10, 9, 20), local(10, 9, 40), None),
         *[("X", f"X{k}", "d1", "review", None, local(10, 9, k), local(11, 2, 0))
           for k in range(6)],
         *[("X", f"Y{k}", "d1", "review", None, local(10, 9, k), local(10, 15, 10 + k))
           for k in range(4)]],
        "service_item string, application_id string, department string, step string, "
        "arrived_at timestamp, started_at timestamp, ended_at timestamp",
    ).withColumn("physical_visit", F.lit(False)).withColumn("channel", F.lit("online"))  # fmt: skip
    events = events.withColumn("center", F.lit(None).cast("string"))
    facts = at_as_of(
        to_step_facts(events, calendar=CAL, time_zone=TZ),
        as_of=local(12, 0, 0), calendar=CAL, time_zone=TZ,
    )  # fmt: skip
    obs = A.to_observations(facts, catalog=None, roster=None, calendar=CAL, time_zone=TZ)
    obs = A.with_basis(obs, off_hours_share=1.0, min_s=60.0, batch_share=0.5)
    by: dict[tuple, list] = {}
    for r in obs.collect():
        by.setdefault((r["service_item"], r["step"], r[A.KIND]), []).append(r)
    (handoff,) = by[("H", "approve", "handoff")]
    assert (handoff[A.TM.WEEKDAY], handoff[A.TM.LOCAL_HOUR]) == (5, 16)
    approve = by[("H", "approve", "processing")]
    assert [(r[A.TM.WEEKDAY], r[A.TM.LOCAL_HOUR]) for r in approve] == [(2, 10)]
    (wait,) = by[("O", "approve", "waiting")]
    assert (wait[A.TM.WEEKDAY], wait[A.TM.LOCAL_HOUR]) == (2, 9)
    assert {r[A.LOG_N_STEPS] for r in by[("O", "review", "processing")]} == {None}
    assert [r[A.LOG_N_STEPS] for r in approve] == [pytest.approx(math.log(2))]
    assert {r[A.BATCH] for r in by[("X", "review", "processing")]} == {True}
    assert {r[A.BATCH] for r in by[("H", "review", "processing")]} == {False}
