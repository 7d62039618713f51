"""`visitonce run` includes the demand stage: its tables are written through their contracts
and listed in the manifest, with and without a catalog and roster, on a short history where the
forecast cannot be judged (and says so)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from visitonce import schemas
from visitonce.demand.stage import TABLES
from visitonce.generate import generate
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, run_pipeline
from visitonce.stages import analytic_stages

KEY = b"demand-stage-test-key-0123456789"


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("demand_stage")
    truth = generate(root / "landing", n_events=8_000, seed=5, days=14)
    return root, truth


def _run(spark, root: Path, truth: dict, *, reference: bool) -> dict:
    land = root / "landing"
    req = RunRequest(
        events=str(land / "events"),
        out=str(root / ("full" if reference else "bare")),
        mapping=load_mapping("canonical"),
        key=KEY,
        as_of=dt.datetime.fromisoformat(truth["period_end"]),
        catalog=str(land / "catalog.csv") if reference else None,
        roster=str(land / "roster.csv") if reference else None,
    )
    return run_pipeline(spark, req, stages=["demand"])


def test_demand_runs_after_the_tables_it_reads_and_before_the_reports() -> None:
    names = [n for n, _ in analytic_stages()]
    # reform priorities read lagging_steps/; the reports draw the demand page
    assert names.index("lagging") < names.index("demand") < names.index("reports")


@pytest.fixture(scope="module")
def full(spark, landing) -> dict:
    root, truth = landing
    return _run(spark, root, truth, reference=True)


def test_run_writes_every_demand_table_through_its_contract(spark, full) -> None:
    m = full
    section = m["stage_results"]["demand"]
    assert set(TABLES) <= set(m["outputs"])
    for name in TABLES:
        df = spark.read.parquet(m["outputs"][name])
        assert schemas.check_schema(df, schemas.load(name)) == [], name
        assert section["rows"][name] == df.count() > 0, name
    assert section["staffing"]["calibrated"] is True
    assert section["forecast"]["history_days"] == 14
    assert "not judged" in section["forecast"]["note"]
    assert section["demand"]["previous_period_days_with_data"] == 0  # 14 days < 28
    assert section["lagging_steps_used"] is False  # the lagging stage was not run


def test_run_without_catalog_or_roster_still_plans_what_it_can(spark, landing) -> None:
    root, truth = landing
    m = _run(spark, root, truth, reference=False)
    section = m["stage_results"]["demand"]
    assert "digital_gap" not in m["outputs"] and "no catalog" in section["digital_gap"]
    plan = spark.read.parquet(m["outputs"]["staffing_plan"]).toPandas()
    assert plan["rostered_officials"].isna().all() and plan["status"].isna().all()
    assert (plan["official_time_factor"] == 1.0).all()  # nothing to calibrate against
    assert (plan["officials_needed"] == plan["servers_needed"]).all()


def test_rerun_through_the_job_gives_the_same_tables(spark, full) -> None:
    from jobs import demand as job

    before = {n: spark.read.parquet(full["outputs"][n]).toPandas() for n in TABLES}
    section = job.run(
        spark, job.parse_args(["--warehouse", str(Path(full["outputs"]["events"]).parent)])
    )
    first = full["stage_results"]["demand"]
    assert section["staffing"] == first["staffing"] and section["forecast"] == first["forecast"]
    for name in TABLES:
        after = spark.read.parquet(full["outputs"][name])
        assertDataFrameEqual(after, spark.createDataFrame(before[name], schema=after.schema))


def test_the_job_plans_from_the_history_before_its_end(spark, full) -> None:
    """--end keeps the events and applications of the local dates before it: the forecast
    starts at the end, not after the latest data; --config= (Airflow's empty param) is the
    defaults."""
    from pyspark.sql import functions as F

    from jobs import demand as job

    warehouse = str(Path(full["outputs"]["events"]).parent)
    events = spark.read.parquet(full["outputs"]["events"])
    last = events.agg(F.max("event_date")).first()[0]
    end = last - dt.timedelta(days=3)
    assert job.main(["--warehouse", warehouse, "--end", end.isoformat(), "--config="]) == 0
    forecast = spark.read.parquet(full["outputs"]["demand_forecast"])
    assert forecast.agg(F.min("forecast_date")).first()[0] == end
    # its figures are kept for jobs/reports.py, over a manifest that finished before the job
    from visitonce.pipeline import with_stage_results

    older = {"finished_at": "2000-01-01T00:00:00+00:00", "stage_results": {"demand": "old"}}
    section = with_stage_results(spark, warehouse, older)["stage_results"]["demand"]
    assert section["staffing"] and section != "old"
    newer = {"finished_at": "2999-01-01T00:00:00+00:00", "stage_results": {"demand": "new"}}
    assert with_stage_results(spark, warehouse, newer)["stage_results"]["demand"] == "new"
    assert job.main(["--warehouse", warehouse]) == 0  # and back to the whole history
    forecast = spark.read.parquet(full["outputs"]["demand_forecast"])
    assert forecast.agg(F.min("forecast_date")).first()[0] == last + dt.timedelta(days=1)
    assert job.main(["--warehouse", warehouse, "--end", "March"]) == 2
