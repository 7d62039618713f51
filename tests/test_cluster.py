"""The same pipeline on a real Spark standalone cluster (master + worker on 127.0.0.1) gives the
same tables as local mode."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyspark
import pytest
from pyspark.testing import assertDataFrameEqual

from visitonce.generate import generate
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, run_pipeline

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
KEY = "cluster-test-key-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, what: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"standalone cluster: {what} did not come up in {timeout}s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("cluster-logs")
    port, ui = _free_port(), _free_port()
    env = {
        **os.environ,
        # spark-class finds Spark's home through a Python that has pyspark: this one (set
        # here, so the fixture does not depend on a session having set PYSPARK_PYTHON first)
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(logs),
        "SPARK_WORKER_DIR": str(logs / "work"),
    }
    with open(logs / "master.log", "w") as master_log, open(logs / "worker.log", "w") as worker_log:
        master = subprocess.Popen(
            [
                BIN / "spark-class",
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            env=env,
            stdout=master_log,
            stderr=subprocess.STDOUT,
        )
        url = f"spark://127.0.0.1:{port}"
        worker = subprocess.Popen(
            [
                BIN / "spark-class",
                "org.apache.spark.deploy.worker.Worker",
                url,
                "--cores",
                "2",
                "--memory",
                "2g",
                "--webui-port",
                str(_free_port()),
            ],
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        try:

            def alive() -> bool:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as r:
                    return json.load(r).get("aliveworkers", 0) >= 1

            _wait(alive, "a worker registered with the master")
            yield url
        finally:
            for p in (worker, master):
                p.terminate()
                p.wait(timeout=30)


def test_a_job_submitted_as_the_dags_do_runs_every_stage_and_equals_local_mode(
    spark, cluster, tmp_path
) -> None:
    """The DAGs' path: spark-submit (not the CLI) picks the master, and the job ships the
    package to the executors itself. Every stage runs there (the lagging, monitor and demand
    stages run pandas UDFs on the executors), and the ingest tables equal a local-mode run of
    the same input. (The CLI's ``--master`` is exercised by the next test: its check runs on
    the cluster's executors.)"""
    landing = tmp_path / "landing"
    truth = generate(landing, n_events=2_000, seed=4, days=7)
    out = tmp_path / "submitted"
    env = {
        **os.environ,
        "VISITONCE_PSEUDONYM_KEY": KEY,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    inputs = ["--events", str(landing / "events"), "--catalog", str(landing / "catalog.csv"),
              "--roster", str(landing / "roster.csv"), "--as-of", truth["period_end"]]  # fmt: skip
    # shuffles sized to a small input, as README says to submit one (Spark's 200 are for big data)
    proc = subprocess.run(
        [BIN / "spark-submit", "--master", cluster, "--conf", "spark.sql.shuffle.partitions=8",
         str(ROOT / "jobs" / "ingest.py"), *inputs, "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "succeeded", manifest["failed_stages"]
    assert set(manifest["stage_results"]) >= {
        "bundles",
        "lagging",
        "monitor",
        "scorecards",
        "demand",
    }
    assert manifest["rows_in"] == truth["n_rows_written"]
    assert manifest["stage_results"]["lagging"]["item_steps"] > 0
    assert spark.read.parquet(str(out / "lagging_steps")).count() > 0

    req = RunRequest(
        events=str(landing / "events"),
        out=str(tmp_path / "local"),
        mapping=load_mapping("canonical"),
        key=KEY.encode(),
        as_of=dt.datetime.fromisoformat(truth["period_end"]),
        catalog=str(landing / "catalog.csv"),
        roster=str(landing / "roster.csv"),
    )
    local = run_pipeline(spark, req, stages=[])  # the ingest tables are compared
    for key in (
        "rows_in",
        "rows_clean",
        "rows_quarantined",
        "rows_duplicate",
        "quarantine_reasons",
        "duplicates",
    ):
        assert manifest[key] == local[key], key
    for table in ("events", "quarantine", "applications", "catalog", "roster"):
        assertDataFrameEqual(
            spark.read.parquet(str(out / table)),
            spark.read.parquet(str(tmp_path / "local" / table)),
        )


def test_executors_without_the_dependencies_fail_fast_with_the_fix(cluster, tmp_path) -> None:
    """A worker Python that lacks the project's dependencies (as a worker's default python3
    does): the run ends within a minute with one line naming the missing module and the fix,
    before any stage starts, instead of a worker traceback minutes later."""
    bare = tmp_path / "bare-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "events.csv").write_text("application_id\nA1\n", encoding="utf-8")
    env = {
        **os.environ,
        "VISITONCE_PSEUDONYM_KEY": KEY,
        "PYSPARK_PYTHON": str(bare / "bin" / "python"),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    t0 = time.monotonic()
    proc = subprocess.run(
        [BIN / "visitonce", "run", "--master", cluster, "--events", str(landing / "events.csv"),
         "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("visitonce:")]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "cannot import" in lines[0] and "PYSPARK_PYTHON" in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "events").exists()  # nothing ran
    assert elapsed < 90, elapsed  # JVM start-up plus the one-minute check, not minutes of work
