"""Applications and working-day arithmetic on hand-written events."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import schemas
from visitonce.applications import add_working_days, to_applications
from visitonce.config import CalendarConfig

UTC = dt.timezone.utc
D = dt.date


@pytest.mark.parametrize(
    ("start", "days", "calendar", "expected"),
    [
        (D(2026, 3, 2), 5, CalendarConfig(), D(2026, 3, 9)),  # Monday + 5 = next Monday
        (D(2026, 3, 6), 1, CalendarConfig(), D(2026, 3, 9)),  # Friday + 1 = Monday
        (D(2026, 3, 7), 1, CalendarConfig(), D(2026, 3, 9)),  # Saturday + 1 = Monday
        (D(2026, 3, 4), 0, CalendarConfig(), D(2026, 3, 4)),  # same-day items
        # National Day week 2026: Oct 1-7 off, Sunday Sep 27 and Saturday Oct 10 worked.
        (
            D(2026, 9, 25),
            1,
            CalendarConfig(
                holidays=tuple(D(2026, 10, d) for d in range(1, 8)),
                makeup_workdays=(D(2026, 9, 27), D(2026, 10, 10)),
            ),
            D(2026, 9, 27),
        ),
        (
            D(2026, 9, 30),
            2,
            CalendarConfig(
                holidays=tuple(D(2026, 10, d) for d in range(1, 8)),
                makeup_workdays=(D(2026, 9, 27), D(2026, 10, 10)),
            ),
            D(2026, 10, 9),
        ),
        (D(2026, 3, 2), 5, CalendarConfig(weekend_days=()), D(2026, 3, 7)),  # 7-day week
    ],
)
def test_add_working_days(spark, start, days, calendar, expected) -> None:
    df = spark.createDataFrame([(start, days)], "d date, n int")
    assert df.select(add_working_days(F.col("d"), F.col("n"), calendar)).first()[0] == expected


def _event(
    eid,
    app,
    step,
    start,
    end,
    *,
    channel="counter",
    pv=True,
    sat=None,
    item="RE_REG",
    dept="HOUSING",
    arrived=None,
    citizen="c_1",
    due=None,
):
    return (
        eid,
        app,
        citizen,
        "individual",
        item,
        dept,
        channel,
        "C01",
        "D01",
        None,
        step,
        "o_1",
        arrived,
        start,
        end,
        due,
        pv,
        sat,
        "30-44",
        "canonical",
        "file:/x",
        None,
        start.date(),
    )


def _events(spark, rows):
    return spark.createDataFrame(rows, schemas.spark_schema(schemas.load("events")))


T = dt.datetime


def test_to_applications_hand_computed(spark) -> None:
    # Times are UTC; Shanghai is +8. A1: two visits (Mar 2 and Mar 4 local), rated 5, closed
    # Mar 4 (limit 5 wd -> due Mar 9): on time. A2: open, applied Mar 2 with a 1-day limit
    # (due Mar 3), run end Mar 10: overdue. A3: closed Mar 12 local, limit 1 -> due Mar 3: late.
    # A4: item without a limit.
    rows = [
        _event(
            "E1",
            "A1",
            "accept",
            T(2026, 3, 2, 1),
            T(2026, 3, 2, 1, 20),
            arrived=T(2026, 3, 2, 0, 50),
            sat=3,
        ),
        _event(
            "E2", "A1", "review", T(2026, 3, 2, 2), T(2026, 3, 3, 2), channel="online", pv=False
        ),
        _event("E3", "A1", "deliver", T(2026, 3, 4, 1), T(2026, 3, 4, 1, 5), sat=5),
        _event(
            "E4",
            "A2",
            "accept",
            T(2026, 3, 2, 3),
            None,
            item="TAX",
            dept="TAX",
            channel="online",
            pv=False,
            citizen=None,
        ),
        _event("E5", "A3", "accept", T(2026, 3, 2, 3), T(2026, 3, 2, 4), item="TAX", dept="TAX"),
        _event(
            "E6",
            "A3",
            "approve",
            T(2026, 3, 11, 3),
            T(2026, 3, 12, 3),
            item="TAX",
            dept="FINANCE",
            pv=False,
        ),
        _event(
            "E7",
            "A4",
            "accept",
            T(2026, 3, 2, 15, 30),
            T(2026, 3, 2, 16, 30),
            item="FREE",
            dept="MISC",
        ),
    ]
    catalog = spark.createDataFrame(
        [("RE_REG", "x", "HOUSING", 3, 5, True), ("TAX", "y", "TAX", 2, 1, True)],
        schemas.spark_schema(schemas.load("catalog")),
    )
    apps = to_applications(
        _events(spark, rows),
        catalog=catalog,
        calendar=CalendarConfig(),
        time_zone="Asia/Shanghai",
        as_of=T(2026, 3, 10, tzinfo=UTC),
    )
    assert (
        schemas.check_schema(
            schemas.conform(apps, schemas.load("applications")), schemas.load("applications")
        )
        == []
    )
    got = {r[C.APPLICATION_ID]: r.asDict() for r in apps.collect()}
    a1 = got["A1"]
    assert a1[C.APPLIED_AT] == T(2026, 3, 2, 0, 50)
    assert a1[C.COMPLETED_AT] == T(2026, 3, 4, 1, 5)
    assert (a1[C.N_STEPS], a1[C.N_VISITS], a1[C.SATISFACTION]) == (3, 2, 5)
    assert a1[C.CHANNELS_USED] == ["counter", "online"] and a1[C.FIRST_CHANNEL] == "counter"
    assert (a1[C.DUE_DATE], a1[C.ON_TIME_STATUS]) == (D(2026, 3, 9), "on_time")
    a2 = got["A2"]
    assert a2[C.IS_OPEN] and a2[C.COMPLETED_AT] is None and a2[C.N_VISITS] == 0
    assert (a2[C.DUE_DATE], a2[C.ON_TIME_STATUS]) == (D(2026, 3, 3), "open_overdue")
    assert a2[C.CITIZEN_ID] is None and a2[C.SATISFACTION] is None
    a3 = got["A3"]
    assert (a3[C.ON_TIME_STATUS], a3[C.DEPARTMENT]) == ("late", "TAX")  # catalog's department
    assert a3[C.N_VISITS] == 1
    a4 = got["A4"]
    # 15:30 UTC is 23:30 local on Mar 2; no catalog entry: first step's department, no limit.
    assert (a4[C.APPLIED_DATE], a4[C.DEPARTMENT], a4[C.ON_TIME_STATUS]) == (
        D(2026, 3, 2),
        "MISC",
        "no_limit",
    )


def test_open_case_within_limit(spark) -> None:
    rows = [_event("E1", "A1", "accept", T(2026, 3, 9, 1), None)]
    catalog = spark.createDataFrame(
        [("RE_REG", "x", "HOUSING", 3, 5, True)], schemas.spark_schema(schemas.load("catalog"))
    )
    apps = to_applications(
        _events(spark, rows),
        catalog=catalog,
        calendar=CalendarConfig(),
        time_zone="Asia/Shanghai",
        as_of=T(2026, 3, 10, tzinfo=UTC),
    )
    assert apps.first()[C.ON_TIME_STATUS] == "open_within_limit"


def test_facts_and_applications_come_from_one_shuffle(spark) -> None:
    """The run's path: step facts (persisted) then applications grouped from them, with no
    second exchange by application; the same applications as from the events themselves."""
    from visitonce.config import Config
    from visitonce.stages import facts_and_applications

    rows = [
        _event("E1", "A1", "accept", T(2026, 3, 2, 1), T(2026, 3, 2, 1, 20), sat=3),
        _event("E2", "A1", "review", T(2026, 3, 2, 2), T(2026, 3, 3, 2), pv=False),
        _event("E3", "A2", "accept", T(2026, 3, 2, 3), None, item="TAX", dept="TAX"),
    ]
    events = _events(spark, rows)
    as_of = T(2026, 3, 10, tzinfo=UTC)
    config = Config()
    facts, apps = facts_and_applications(events, catalog=None, config=config, as_of=as_of)
    got = sorted(apps.collect())
    plan = apps._jdf.queryExecution().executedPlan().toString()
    above_cache = plan.split("InMemoryRelation")[0]
    assert "Exchange hashpartitioning" not in above_cache, above_cache
    direct = to_applications(
        events, catalog=None, calendar=config.calendar,
        time_zone=config.ingest.time_zone, as_of=as_of,
    )  # fmt: skip
    assert got == sorted(direct.collect())
    contract = schemas.load("step_facts")
    assert schemas.check_schema(schemas.conform(facts, contract), contract) == []
    index = {r["event_id"]: (r["step_index"], r["prev_step"]) for r in facts.collect()}
    assert index == {"E1": (1, None), "E2": (2, "accept"), "E3": (1, None)}
    facts.unpersist()
