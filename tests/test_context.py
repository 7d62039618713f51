"""The jobs' shared preamble (``context.job_scope``): interval, as-of and tables, checked once."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from visitonce.config import ConfigError
from visitonce.context import job_scope
from visitonce.io import InputError

UTC = dt.timezone.utc


def _args(**kw) -> argparse.Namespace:
    base = {"warehouse": "/nowhere", "config": None, "start": None, "end": None, "as_of": None}
    return argparse.Namespace(**{**base, **kw})


def test_interval_bounds_are_local_and_checked() -> None:
    job = job_scope(_args(start="2026-03-01", end="2026-04-01"))
    # a date without an offset is local to the analysis zone (Asia/Shanghai, UTC+8)
    assert job.start == dt.datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert (job.start_date, job.end_date) == (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    with pytest.raises(ConfigError, match="not before --end"):
        job_scope(_args(start="2026-04-01", end="2026-03-01"))
    with pytest.raises(ConfigError, match="--as-of 'yesterday'"):
        job_scope(_args(as_of="yesterday"))


def test_rows_in_interval_by_instant_and_by_local_date(spark) -> None:
    df = spark.createDataFrame(
        [
            (dt.datetime(2026, 2, 28, 15, 59), dt.date(2026, 2, 28)),  # 23:59 local on Feb 28
            (dt.datetime(2026, 2, 28, 16, 0), dt.date(2026, 3, 1)),  # 00:00 local on Mar 1
            (dt.datetime(2026, 3, 31, 16, 0), dt.date(2026, 4, 1)),  # the end: excluded
        ],
        "started_at timestamp, applied_date date",
    )
    job = job_scope(_args(start="2026-03-01", end="2026-04-01"))
    by_time = job.in_interval(df, "started_at").collect()
    by_date = job.in_interval(df, "applied_date").collect()
    assert [r["applied_date"] for r in by_time] == [dt.date(2026, 3, 1)]
    assert [r["applied_date"] for r in by_date] == [dt.date(2026, 3, 1)]
    # open interval: everything
    assert job_scope(_args()).in_interval(df, "started_at").count() == 3


def test_as_of_defaults_to_the_end_then_the_latest_step(spark, tmp_path) -> None:
    steps = spark.createDataFrame(
        [(dt.datetime(2026, 3, 2, 1), dt.datetime(2026, 3, 5, 2)),
         (dt.datetime(2026, 3, 6, 1), None)],
        "started_at timestamp, ended_at timestamp",
    )  # fmt: skip
    given = job_scope(_args(end="2026-04-01", as_of="2026-03-20T00:00:00+00:00"))
    assert given.as_of(steps) == dt.datetime(2026, 3, 20, tzinfo=UTC)
    assert job_scope(_args(end="2026-04-01")).as_of(steps) == dt.datetime(
        2026, 3, 31, 16, tzinfo=UTC
    )
    assert job_scope(_args()).as_of(steps) == dt.datetime(2026, 3, 6, 1, tzinfo=UTC)
    with pytest.raises(InputError, match="no steps"):
        job_scope(_args()).as_of(steps.limit(0))
    job = job_scope(_args(warehouse=str(tmp_path)))
    assert job.read_optional(spark, "roster") is None
    with pytest.raises(InputError, match="no step_facts table under .*: run ingest first"):
        job.read(spark, "step_facts")
