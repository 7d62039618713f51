"""
### visitonce_scorecards_monthly

On the 1st of every month (04:00 local, after the last daily ingest of the month): score and
rate every department for the month just ended (`jobs/scorecards.py`, over the data interval:
scorecards, KPIs with case-mix adjustment and intervals, equity, explanations; quarterly and
annual roll-ups are recomputed with it) and plan demand and staffing from the history up to
the end of the month (`jobs/demand.py --end`: demand trends, the next two weeks' forecast,
staffing plan, service hours, digital gap, reform priorities), then render the reports and
exports the evaluation office reads (`jobs/reports.py`: `reports/index.html`,
`reports/exports/`).

- **Params**: `warehouse` (the output root the daily DAG writes), `landing` (unused by this
  DAG, kept so every visitonce DAG takes the same params), `config` (the office's config YAML
  with KPI targets and weights; empty for the built-in defaults).
- **Spark**: connection `visitonce_spark`, as for `visitonce_daily`.
- **Reruns** rewrite the month's scorecards, the demand tables and the reports; they are safe
  to repeat, and a backfill scores and plans each month in turn.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, Asset, Param
from airflow.timetables.interval import CronDataIntervalTimetable

JOBS = Path(os.environ.get("VISITONCE_JOBS", Path(__file__).resolve().parent.parent / "jobs"))
TIME_ZONE = os.environ.get("VISITONCE_TIME_ZONE", "Asia/Shanghai")
SCORECARDS = Asset("visitonce-scorecards", uri="visitonce://warehouse/scorecards")
REPORTS = Asset("visitonce-reports", uri="visitonce://warehouse/reports")
DEMAND = Asset("visitonce-demand", uri="visitonce://warehouse/staffing_plan")

with DAG(
    dag_id="visitonce_scorecards_monthly",
    description="Score departments and plan staffing for the month; render reports and exports",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 4 1 * *", timezone=TIME_ZONE),
    start_date=datetime(2026, 1, 1, tzinfo=ZoneInfo(TIME_ZONE)),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=2),
    },
    params={
        "landing": Param(
            os.environ.get("VISITONCE_LANDING", "/data/landing"),
            type="string",
            description="landing folder (unused here)",
        ),
        "warehouse": Param(
            os.environ.get("VISITONCE_WAREHOUSE", "/data/warehouse"),
            type="string",
            description="output root with events/, applications/ and lagging_steps/",
        ),
        "config": Param(
            os.environ.get("VISITONCE_CONFIG", ""),
            type="string",
            description="config YAML (KPI targets, weights); empty for the defaults",
        ),
    },
    tags=["visitonce"],
) as dag:
    scorecards = SparkSubmitOperator(
        task_id="scorecards",
        conn_id="visitonce_spark",
        application=str(JOBS / "scorecards.py"),
        name="visitonce-scorecards-{{ ds }}",
        application_args=[
            "--warehouse",
            "{{ params.warehouse }}",
            "--start",
            "{{ data_interval_start.isoformat() }}",
            "--end",
            "{{ data_interval_end.isoformat() }}",
            "--config={{ params.config }}",
        ],
        outlets=[SCORECARDS],
    )
    reports = SparkSubmitOperator(
        task_id="reports",
        conn_id="visitonce_spark",
        application=str(JOBS / "reports.py"),
        name="visitonce-reports-{{ ds }}",
        application_args=[
            "--warehouse",
            "{{ params.warehouse }}",
            "--config={{ params.config }}",
        ],
        outlets=[REPORTS],
    )
    demand = SparkSubmitOperator(
        task_id="demand",
        conn_id="visitonce_spark",
        application=str(JOBS / "demand.py"),
        name="visitonce-demand-{{ ds }}",
        application_args=[
            "--warehouse",
            "{{ params.warehouse }}",
            "--end",
            "{{ data_interval_end.isoformat() }}",
            "--config={{ params.config }}",
        ],
        outlets=[DEMAND],
    )
    [scorecards, demand] >> reports


if __name__ == "__main__":
    dag.test()
