"""A run killed mid-write (SIGKILL, as an OOM killer or a lost node does it) leaves the previous
good tables readable and unchanged, and the rerun completes and cleans up after the dead one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyspark.testing import assertDataFrameEqual

from visitonce.generate import generate
from visitonce.pipeline import make_request, run_pipeline

BIN = Path(sys.executable).parent
KEY = "interrupted-test-key-0123456789"
TABLES = ("events", "quarantine", "applications", "catalog")


def _writing(out: Path) -> bool:
    """A write is in flight: Spark's staging folder inside a partitioned table, or our staging
    copy beside an unpartitioned one."""
    return any(out.glob("*/.spark-staging-*")) or any(out.glob("*.__staging-*"))


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in [*out.glob("*.__staging-*"), *out.glob("*.__old-*")])


def test_a_run_killed_mid_write_leaves_the_previous_tables_and_the_rerun_completes(
    spark, tmp_path, monkeypatch
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    truth = generate(landing, n_events=30_000, seed=13, days=7, fmt="csv")
    monkeypatch.setenv("VISITONCE_PSEUDONYM_KEY", KEY)
    args = {
        "events": str(landing / "events"),
        "out": str(out),
        "catalog": str(landing / "catalog.csv"),
        "roster": None,
        "as_of": truth["period_end"],
    }
    run_pipeline(spark, make_request(**args), stages=[])
    before = {t: spark.read.parquet(str(out / t)).localCheckpoint() for t in TABLES}

    killed_while_writing = False
    for _attempt in range(3):  # the kill must land inside a write; retry if the run outran us
        proc = subprocess.Popen(
            [BIN / "visitonce", "run", "--events", args["events"], "--out", str(out),
             "--catalog", args["catalog"], "--as-of", truth["period_end"],
             "--stages", "applications"],
            env={**os.environ, "VISITONCE_PSEUDONYM_KEY": KEY},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            while proc.poll() is None and not _writing(out):
                time.sleep(0.01)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                killed_while_writing = True
        finally:
            proc.wait(timeout=120)
        if killed_while_writing:
            break
    assert killed_while_writing, "the run finished before any write could be interrupted"

    for t in TABLES:  # still there, still the previous good content
        assertDataFrameEqual(spark.read.parquet(str(out / t)), before[t])

    manifest = run_pipeline(spark, make_request(**args), stages=[])
    assert manifest["rows_in"] == truth["n_rows_written"]
    assert manifest["rows_clean"] == truth["n_events_valid"]
    for t in TABLES:
        assertDataFrameEqual(spark.read.parquet(str(out / t)), before[t])
    assert _leftovers(out) == []  # the dead run's staging copies are cleared by the rerun
