"""Airflow DAGs: integrity, house policies, a real `airflow dags test`, and backfill semantics."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visitonce.generate import generate

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent
KEY = "dag-test-key-0123456789abcdef"
FORBIDDEN_AT_TOP = ("pyspark", "pandas", "mlxtend", "sklearn", "visitonce", "numpy")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    t0 = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS))
    print(f"DagBag parse time: {time.perf_counter() - t0:.2f}s for {len(bag.dags)} DAGs")
    return bag


def test_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert {p.stem for p in DAGS.glob("*.py")} == set(dagbag.dags)  # file name = dag_id


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.stem)
def test_dag_files_import_no_heavy_libraries_at_top(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            assert not name.startswith(FORBIDDEN_AT_TOP), f"{path.name} imports {name}"
    assert "Variable.get" not in path.read_text() and "get_connection" not in path.read_text()


def test_dag_policies(dagbag) -> None:
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.timetables.interval import CronDataIntervalTimetable

    for dag_id, dag in dagbag.dags.items():
        assert isinstance(dag.timetable, CronDataIntervalTimetable), dag_id
        assert dag.catchup is False and dag.max_active_runs == 1, dag_id
        assert dag.doc_md and dag_id in dag.doc_md
        assert {"landing", "warehouse"} <= set(dag.params), dag_id
        for task in dag.tasks:
            assert task.retries >= 1 and task.retry_exponential_backoff, task.task_id
            if isinstance(task, SparkSubmitOperator):
                assert task._conn_id == "visitonce_spark"
                assert Path(task.application).is_file(), task.application
                assert task.outlets, f"{task.task_id} declares no asset"


def test_daily_dag_passes_its_data_interval(dagbag) -> None:
    task = dagbag.dags["visitonce_daily"].get_task("ingest")
    args = task.application_args
    assert args[args.index("--start") + 1] == "{{ data_interval_start.isoformat() }}"
    assert args[args.index("--end") + 1] == "{{ data_interval_end.isoformat() }}"
    assert args[args.index("--out") + 1] == "{{ params.warehouse }}"


def test_backfill_of_several_days_equals_one_run_and_reruns_are_stable(spark, tmp_path) -> None:
    """What `airflow dags backfill` does, day by day through the job, without the scheduler."""
    from jobs import ingest as job

    truth = generate(
        tmp_path / "landing", n_events=2_000, seed=21, days=7, start=dt.date(2026, 3, 2)
    )
    landing = tmp_path / "landing"
    common = [
        "--events",
        str(landing / "events"),
        "--catalog",
        str(landing / "catalog.csv"),
        "--as-of",
        truth["period_end"],
        "--stages",
        "applications",  # the events partitions are what a backfill must get right
    ]
    os.environ["VISITONCE_PSEUDONYM_KEY"] = KEY
    try:
        days = [f"2026-03-0{d}" for d in (3, 4, 5, 6)]
        for start, end in zip(days, days[1:], strict=False):
            assert (
                job.main(
                    [*common, "--out", str(tmp_path / "daily"), "--start", start, "--end", end]
                )
                == 0
            )
        first = spark.read.parquet(str(tmp_path / "daily" / "events")).localCheckpoint()
        assert (
            job.main(
                [*common, "--out", str(tmp_path / "daily"), "--start", days[1], "--end", days[2]]
            )
            == 0
        )  # rerun of one day
        assert (
            job.main(
                [*common, "--out", str(tmp_path / "once"), "--start", days[0], "--end", days[-1]]
            )
            == 0
        )
    finally:
        del os.environ["VISITONCE_PSEUDONYM_KEY"]
    from pyspark.testing import assertDataFrameEqual

    daily = spark.read.parquet(str(tmp_path / "daily" / "events"))
    assertDataFrameEqual(daily, first)
    assertDataFrameEqual(daily, spark.read.parquet(str(tmp_path / "once" / "events")))
    dates = sorted(r[0].isoformat() for r in daily.select("event_date").distinct().collect())
    assert dates == days[:-1]


def _airflow(env: dict, *args: str, timeout: int = 1500) -> tuple[str, float]:
    """Run the airflow CLI; return its output and wall time, failing with the log tail."""
    t0 = time.perf_counter()
    run = subprocess.run(
        [BIN / "airflow", *args], env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    return log, wall


def test_airflow_dags_test_end_to_end(tmp_path) -> None:
    """`airflow dags test` of every DAG in order on one generated week: daily ingest, then the
    weekly bundles over the daily warehouse (and the monthly scorecards when present)."""
    landing = tmp_path / "landing"
    truth = generate(landing, n_events=2_000, seed=8, days=7, start=dt.date(2026, 3, 15))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_VISITONCE_SPARK": json.dumps({"conn_type": "spark", "host": "local[2]"}),
        "VISITONCE_PSEUDONYM_KEY": KEY,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    _airflow(env, "db", "migrate", timeout=300)
    warehouse = tmp_path / "warehouse"
    conf = json.dumps({"landing": str(landing), "warehouse": str(warehouse)})
    walls = {}
    log, walls["visitonce_daily"] = _airflow(
        env, "dags", "test", "visitonce_daily", "2026-03-18", "--conf", conf
    )
    assert "state=success" in log, log[-4000:]
    manifest = json.loads((warehouse / "manifest.json").read_text())
    interval = manifest["interval"]
    start = dt.datetime.fromisoformat(interval["start"]).astimezone(
        dt.timezone(dt.timedelta(hours=8))
    )
    assert manifest["event_dates"] == [start.date().isoformat()]
    assert manifest["rows_read"] == truth["n_rows_written"]
    assert manifest["rows_in"] == (
        manifest["rows_clean"] + manifest["rows_quarantined"] + manifest["rows_duplicate"]
    )

    log, walls["visitonce_bundles_weekly"] = _airflow(
        env, "dags", "test", "visitonce_bundles_weekly", "2026-03-23", "--conf", conf
    )
    assert "state=success" in log, log[-4000:]
    for table in ("bundles", "item_associations", "bundle_changes"):
        assert (warehouse / table).is_dir(), f"the weekly DAG wrote no {table}/"

    if (DAGS / "visitonce_scorecards_monthly.py").is_file():
        log, walls["visitonce_scorecards_monthly"] = _airflow(
            env, "dags", "test", "visitonce_scorecards_monthly", "2026-04-01", "--conf", conf
        )
        assert "state=success" in log, log[-4000:]
        assert (warehouse / "scorecards").is_dir()
        assert (warehouse / "staffing_plan").is_dir() and (warehouse / "demand_forecast").is_dir()
        assert (warehouse / "reports" / "index.html").is_file()
        assert "not computed in this run" not in (warehouse / "reports" / "demand.html").read_text()
    print("airflow dags test wall times (s):", {k: round(v, 1) for k, v in walls.items()})


def test_weekly_dag_mines_the_warehouse_of_the_daily_dag(dagbag) -> None:
    weekly = dagbag.dags["visitonce_bundles_weekly"]
    task = weekly.get_task("mine_bundles")
    assert task.application.endswith("jobs/bundles.py")
    # the quarter before the end of the week's interval (bundles.lookback_days), office config
    assert task.application_args == [
        "--warehouse",
        "{{ params.warehouse }}",
        "--end",
        "{{ data_interval_end.isoformat() }}",
        "--config={{ params.config }}",
    ]
    assert {a.uri for a in task.outlets} == {
        "visitonce://warehouse/bundles",
        "visitonce://warehouse/bundle_changes",
    }
    daily_args = dagbag.dags["visitonce_daily"].get_task("ingest").application_args
    assert daily_args[daily_args.index("--stages") + 1] == "applications,lagging,monitor"


def test_monthly_dag_scores_and_plans_the_month_then_renders_the_reports(dagbag) -> None:
    monthly = dagbag.dags["visitonce_scorecards_monthly"]
    scorecards, reports = monthly.get_task("scorecards"), monthly.get_task("reports")
    assert scorecards.application.endswith("jobs/scorecards.py")
    assert reports.application.endswith("jobs/reports.py")
    args = scorecards.application_args
    assert args[args.index("--start") + 1] == "{{ data_interval_start.isoformat() }}"
    assert args[args.index("--end") + 1] == "{{ data_interval_end.isoformat() }}"
    assert "--config={{ params.config }}" in args and "--config={{ params.config }}" in (
        reports.application_args
    )
    # demand and staffing are planned from the history up to the month's end, before the reports
    demand = monthly.get_task("demand")
    assert demand.application.endswith("jobs/demand.py")
    assert demand.application_args == [
        "--warehouse",
        "{{ params.warehouse }}",
        "--end",
        "{{ data_interval_end.isoformat() }}",
        "--config={{ params.config }}",
    ]
    assert reports.upstream_task_ids == {"scorecards", "demand"}
    assert {a.uri for a in demand.outlets} == {"visitonce://warehouse/staffing_plan"}
    assert {a.uri for a in scorecards.outlets} == {"visitonce://warehouse/scorecards"}
    assert {a.uri for a in reports.outlets} == {"visitonce://warehouse/reports"}
    assert monthly.timetable.summary == "0 4 1 * *"
