"""
### visitonce_bundles_weekly

Every week (Monday 03:00 local, after the daily ingests of the week have run): mine the
applications of the `bundles.lookback_days` (default 91) days before the end of the week's
data interval into "one service" bundles, item associations and bundle changes against the
previous week's period (`jobs/bundles.py --end <interval end>`).

- **Params**: `warehouse` (the output root the daily DAG writes), `config` (the office's
  config YAML; its bundles section sets the mining parameters and the lookback; empty for the
  defaults), `landing` (unused by this DAG, kept so every visitonce DAG takes the same
  params). Analysts re-mine ad hoc with `visitonce bundles`.
- **Spark**: connection `visitonce_spark`, as for `visitonce_daily`.
- **Reruns** of a week rewrite that week's period (partition `period_end`, the interval's last
  local date), also when it now yields no bundles; they are safe to repeat.
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
BUNDLES = Asset("visitonce-bundles", uri="visitonce://warehouse/bundles")
BUNDLE_CHANGES = Asset("visitonce-bundle-changes", uri="visitonce://warehouse/bundle_changes")

with DAG(
    dag_id="visitonce_bundles_weekly",
    description="Mine one-service bundles and their changes from the week's applications",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone=TIME_ZONE),
    start_date=datetime(2026, 1, 5, tzinfo=ZoneInfo(TIME_ZONE)),
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
            description="output root with applications/",
        ),
        "config": Param(
            os.environ.get("VISITONCE_CONFIG", ""),
            type="string",
            description="config YAML (bundles: floors, segments, lookback); empty: defaults",
        ),
    },
    tags=["visitonce"],
) as dag:
    SparkSubmitOperator(
        task_id="mine_bundles",
        conn_id="visitonce_spark",
        application=str(JOBS / "bundles.py"),
        name="visitonce-bundles-{{ ds }}",
        application_args=[
            "--warehouse",
            "{{ params.warehouse }}",
            "--end",
            "{{ data_interval_end.isoformat() }}",
            "--config={{ params.config }}",
        ],
        outlets=[BUNDLES, BUNDLE_CHANGES],
    )


if __name__ == "__main__":
    dag.test()
