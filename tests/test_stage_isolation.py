"""A failed analytic stage costs that stage, not the run (issue 16): it is recorded in the
manifest, its page says "failed: <error>" (never an older copy of its tables), the other
stages and the report complete, and the command ends non-zero with one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.degenerate import Shape, as_of, write_log
from visitonce import cli, pipeline
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, StagesFailed, run_pipeline

SHAPE = Shape(applications=12, items=2, departments=1, centres=1, days=2)


@pytest.fixture()
def broken_lagging(monkeypatch):
    """The stage list with a lagging stage that raises."""
    real = pipeline.analytic_stages

    def boom(ctx):
        raise RuntimeError("boom in lagging\nsecond line of the error")

    monkeypatch.setattr(
        pipeline,
        "analytic_stages",
        lambda: [(n, boom if n == "lagging" else s) for n, s in real()],
    )


def _stale_lagging_table(out: Path) -> None:
    """An older run's lagging steps: must not be shown once the stage failed."""
    (out / "lagging_steps").mkdir(parents=True)
    pd.DataFrame({"service_item": ["STALE_ITEM"], "step": ["accept"]}).to_parquet(
        out / "lagging_steps" / "part-0.parquet"
    )


def test_a_failed_stage_is_recorded_and_the_others_and_the_report_complete(
    spark, tmp_path, broken_lagging
) -> None:
    inputs = write_log(SHAPE, tmp_path / "landing")
    out = tmp_path / "out"
    _stale_lagging_table(out)
    req = RunRequest(
        events=inputs["events"],
        out=str(out),
        mapping=load_mapping("canonical"),
        key=b"isolation-key-0123456789",
        as_of=as_of(SHAPE),
        catalog=inputs["catalog"],
        roster=inputs["roster"],
    )
    with pytest.raises(StagesFailed) as failed:
        run_pipeline(spark, req, stages=["lagging", "monitor", "reports"])
    assert failed.value.failed == {"lagging": "RuntimeError: boom in lagging"}
    assert "lagging (RuntimeError: boom in lagging)" in str(failed.value)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["failed_stages"] == {"lagging": "RuntimeError: boom in lagging"}
    sections = manifest["stage_results"]
    assert sections["lagging"] == {"status": "failed", "error": "RuntimeError: boom in lagging"}
    assert sections["monitor"]["windows"] > 0  # the stage after the failed one ran
    assert sections["reports"]["pages"] > 0
    lagging = (out / "reports" / "lagging.html").read_text("utf-8")
    assert "failed: RuntimeError: boom in lagging" in lagging
    assert "STALE_ITEM" not in lagging
    index = (out / "reports" / "index.html").read_text("utf-8")
    assert "failed: RuntimeError: boom in lagging" in index
    assert "failed:" not in (out / "reports" / "alerts.html").read_text("utf-8")


def test_the_command_exits_non_zero_with_one_line_naming_the_stage(
    tmp_path, capsys, monkeypatch, broken_lagging
) -> None:
    monkeypatch.setenv("VISITONCE_PSEUDONYM_KEY", "isolation-key-0123456789")
    inputs = write_log(SHAPE, tmp_path / "landing")
    code = cli.main(
        ["run", "--events", inputs["events"], "--catalog", str(inputs["catalog"]),
         "--out", str(tmp_path / "out"), "--as-of", as_of(SHAPE).isoformat(),
         "--stages", "lagging"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("visitonce:")]
    assert len(errors) == 1 and "stage(s) failed: lagging" in errors[0], captured.err
    assert "Traceback" not in captured.err
    assert "outputs:" in captured.out  # where the other stages' tables are
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "failed"
