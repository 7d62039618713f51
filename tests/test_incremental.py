"""Daily runs update the step facts and applications for the applications their days touched,
and end with the tables a run over everything derives (issue 17, incremental days)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from visitonce.generate import generate
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, run_pipeline

KEY = b"incremental-test-key-0123456789ab"
DAY = dt.timedelta(days=1)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:  # arrays (channels) as tuples, so rows sort and compare
        if out[c].map(lambda v: hasattr(v, "__len__") and not isinstance(v, str)).any():
            out[c] = out[c].map(lambda v: None if v is None else tuple(v))
    key = ["application_id"] + (["event_id"] if "event_id" in out.columns else [])
    return out.sort_values(key).reset_index(drop=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("incremental")
    truth = generate(root / "city", n_events=2500, seed=9, days=7, dirty=False)
    as_of = dt.datetime.fromisoformat(truth["period_end"])
    first = dt.datetime.fromisoformat(truth["period_start"])

    def run(out: str, **interval: dt.datetime) -> dict:
        req = RunRequest(
            events=str(root / "city" / "events"), out=str(root / out),
            catalog=str(root / "city" / "catalog.csv"), mapping=load_mapping("canonical"),
            key=KEY, as_of=as_of, **interval,
        )  # fmt: skip
        return run_pipeline(spark, req, stages=["applications"])

    # the first four days at once (a backfill: built in full), then one day at a time
    daily = [run("daily", start=first, end=first + 4 * DAY)]
    daily += [run("daily", start=first + k * DAY, end=first + (k + 1) * DAY) for k in (4, 5, 6)]
    rerun = run("daily", start=first + 5 * DAY, end=first + 6 * DAY)  # the sixth day again
    full = run("full")
    read = lambda out, t: _sorted(pd.read_parquet(root / out / t))  # noqa: E731
    return {
        "daily": daily,
        "rerun": rerun,
        "full": full,
        "tables": {t: (read("daily", t), read("full", t)) for t in ("step_facts", "applications")},
    }


def test_the_first_day_builds_and_the_next_days_update(runs) -> None:
    modes = [m["stage_results"]["applications"]["mode"] for m in runs["daily"]]
    assert modes == ["full", "incremental", "incremental", "incremental"]
    total = runs["full"]["stage_results"]["applications"]["rows"]
    for m in runs["daily"][1:]:
        section = m["stage_results"]["applications"]
        # the day's applications and the open ones, not the history
        assert 0 < section["applications_recomputed"] < section["rows"] <= total


def test_daily_updates_end_with_the_tables_of_a_full_run(runs) -> None:
    assert runs["full"]["stage_results"]["applications"]["mode"] == "full"
    for name, (daily, full) in runs["tables"].items():
        assert len(daily) == len(full) > 0, name
        pd.testing.assert_frame_equal(daily[full.columns], full, check_dtype=False, obj=name)


def test_a_rerun_day_replaces_its_steps_and_changes_nothing_else(runs) -> None:
    # the rerun's tables are the ones compared above: equal to the full run's
    section = runs["rerun"]["stage_results"]["applications"]
    assert section["mode"] == "incremental"
    assert section["rows"] == runs["full"]["stage_results"]["applications"]["rows"]
    assert section["step_facts"] == runs["full"]["stage_results"]["applications"]["step_facts"]
