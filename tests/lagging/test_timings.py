"""Step timings and working time on hand-written cases with hand-computed expectations.

Calendar used below (Asia/Shanghai, UTC+8): 2026-03-06 is a Friday, 03-07/08 the weekend,
03-09 (Monday) a public holiday, 03-10 a Tuesday; working hours 08:30-17:30.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from visitonce.config import CalendarConfig
from visitonce.lagging.timings import to_step_timings
from visitonce.lagging.worktime import working_seconds

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


def test_step_timings_by_hand(spark) -> None:
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
    got = to_step_timings(events, calendar=CAL, time_zone=TZ, as_of=as_of).select(
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
