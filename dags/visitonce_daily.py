"""
### visitonce_daily

Every local day: ingest the day's service-log events from the landing area into the warehouse
(clean events, quarantine, manifest), then derive the analytic tables of that day.

- **Data interval**: one local day, `[00:00, 24:00)` in the city's time zone. Landing files may
  hold several days: the job keeps the rows whose `started_at` falls in the interval and counts
  the rest as belonging to other intervals (see `manifest.json`). A landing laid out by day
  (`events/date=YYYY-MM-DD/`) is read only in the day folders that can hold the interval's
  events (the day before it through `ingest.late_arrival_days` after it).
- **Reruns and backfills** overwrite exactly the day's `events/event_date=...` partition, so
  `airflow dags backfill` over a month is safe.
- **Params**: `landing` (holds `events/`, `catalog.csv`, `roster.csv`), `warehouse` (output
  root), `source` (source mapping). Defaults come from `VISITONCE_LANDING`,
  `VISITONCE_WAREHOUSE` and `VISITONCE_SOURCE` in the scheduler's environment.
- **Spark**: connection `visitonce_spark` (`local[*]`, `spark://…`, `yarn`, `k8s://…`).
  The pseudonymization key reaches the job as `VISITONCE_PSEUDONYM_KEY` from the worker's
  environment (a secrets backend in production), never from a DAG file.
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
SPARK_CONN = "visitonce_spark"
# Analytic stages the daily run derives after ingest: lagging steps and alerts (bundles are
# mined weekly by visitonce_bundles_weekly).
DAILY_STAGES = "applications,lagging,monitor"
EVENTS = Asset("visitonce-events", uri="visitonce://warehouse/events")
APPLICATIONS = Asset("visitonce-applications", uri="visitonce://warehouse/applications")

with DAG(
    dag_id="visitonce_daily",
    description="Ingest one day of service logs and derive its analytic tables",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIME_ZONE),
    start_date=datetime(2026, 1, 1, tzinfo=ZoneInfo(TIME_ZONE)),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
    },
    params={
        "landing": Param(
            os.environ.get("VISITONCE_LANDING", "/data/landing"),
            type="string",
            description="folder or URI with events/, catalog.csv, roster.csv",
        ),
        "warehouse": Param(
            os.environ.get("VISITONCE_WAREHOUSE", "/data/warehouse"),
            type="string",
            description="output root (folder or URI)",
        ),
        "source": Param(
            os.environ.get("VISITONCE_SOURCE", "canonical"),
            type="string",
            description="source mapping: a built-in name or a YAML path",
        ),
    },
    tags=["visitonce"],
) as dag:
    ingest = SparkSubmitOperator(
        task_id="ingest",
        conn_id=SPARK_CONN,
        application=str(JOBS / "ingest.py"),
        name="visitonce-ingest-{{ ds }}",
        application_args=[
            "--events",
            "{{ params.landing }}/events",
            "--catalog",
            "{{ params.landing }}/catalog.csv",
            "--roster",
            "{{ params.landing }}/roster.csv",
            "--out",
            "{{ params.warehouse }}",
            "--source",
            "{{ params.source }}",
            "--start",
            "{{ data_interval_start.isoformat() }}",
            "--end",
            "{{ data_interval_end.isoformat() }}",
            "--stages",
            DAILY_STAGES,
        ],
        outlets=[EVENTS, APPLICATIONS],
    )


if __name__ == "__main__":
    dag.test()
