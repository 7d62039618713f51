"""Command line: wrong arguments give one actionable line and a non-zero exit, never a trace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from visitonce.cli import main

pytestmark = pytest.mark.usefixtures("key_env")


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, str]:
    events = tmp_path / "events.csv"
    events.write_text("event_id,application_id\n")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("service_item,department\n")
    return {"events": str(events), "catalog": str(catalog), "out": str(tmp_path / "out")}


def _one_line_error(capsys, code: int, expected_code: int = 2) -> str:
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert code == expected_code, captured
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def _run_args(inputs: dict[str, str], *extra: str) -> list[str]:
    return [
        "run",
        "--events",
        inputs["events"],
        "--catalog",
        inputs["catalog"],
        "--out",
        inputs["out"],
        *extra,
    ]


def test_missing_required_option(capsys) -> None:
    # --catalog is optional (derived from the events when absent); --out is not
    line = _one_line_error(capsys, main(["run", "--events", "x"]))
    assert "Missing option '--out'" in line and "visitonce run --help" in line


def test_unknown_option(capsys) -> None:
    line = _one_line_error(capsys, main(["generate", "--out", "x", "--rows", "5"]))
    assert "No such option: --rows" in line


def test_unknown_command(capsys) -> None:
    line = _one_line_error(capsys, main(["mine"]))
    assert "No such command 'mine'" in line


def test_missing_key(capsys, monkeypatch, inputs) -> None:
    monkeypatch.delenv("VISITONCE_PSEUDONYM_KEY")
    line = _one_line_error(capsys, main(_run_args(inputs)))
    assert "VISITONCE_PSEUDONYM_KEY is not set" in line and "openssl rand" in line


def test_short_key(capsys, monkeypatch, inputs) -> None:
    monkeypatch.setenv("VISITONCE_PSEUDONYM_KEY", "abc")
    assert "at least 16" in _one_line_error(capsys, main(_run_args(inputs)))


def test_unknown_mapping(capsys, inputs) -> None:
    line = _one_line_error(capsys, main(_run_args(inputs, "--source", "nosuch")))
    assert "unknown source mapping 'nosuch'" in line and "canonical" in line


def test_missing_events(capsys, inputs) -> None:
    inputs["events"] = "/nonexistent/events/*.csv"
    line = _one_line_error(capsys, main(_run_args(inputs)))
    assert "events input not found at /nonexistent/events/*.csv" in line and "--events" in line


def test_missing_catalog(capsys, inputs) -> None:
    inputs["catalog"] = "/nonexistent/catalog.csv"
    assert "--catalog" in _one_line_error(capsys, main(_run_args(inputs)))


def test_bad_end(capsys, inputs) -> None:
    line = _one_line_error(capsys, main(_run_args(inputs, "--end", "next tuesday")))
    assert "--end 'next tuesday' is not an ISO date" in line


def test_unknown_stage(capsys, inputs) -> None:
    line = _one_line_error(capsys, main(_run_args(inputs, "--stages", "applications,mine")))
    assert "unknown stage(s) ['mine']" in line and "choose from applications" in line


def test_bad_config(capsys, inputs, tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ingest:\n  time_zone: Asia/Shanghai\n  tolerance: 3\n")
    line = _one_line_error(capsys, main(_run_args(inputs, "--config", str(cfg))))
    assert "unknown key(s) ['tolerance'] in ingest" in line


def test_generate_refuses_tiny_sizes(capsys, tmp_path) -> None:
    line = _one_line_error(capsys, main(["generate", "--out", str(tmp_path), "--events", "10"]))
    assert line.startswith("visitonce: error:")


def test_generate_bad_start(capsys, tmp_path) -> None:
    line = _one_line_error(capsys, main(["generate", "--out", str(tmp_path), "--start", "March"]))
    assert "--start 'March' is not an ISO date" in line


def test_console_script_exit_code(tmp_path, inputs) -> None:
    exe = Path(sys.executable).parent / "visitonce"
    proc = subprocess.run(
        [str(exe), *_run_args(inputs)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "VISITONCE_PSEUDONYM_KEY" in proc.stderr


def test_run_with_a_config_file(capsys, tmp_path) -> None:
    landing = tmp_path / "landing"
    assert (
        main(["generate", "--out", str(landing), "--events", "1500", "--days", "7", "--clean"]) == 0
    )
    cfg = tmp_path / "config.yaml"
    cfg.write_text("ingest:\n  require_catalog_item: false\ncalendar:\n  holidays: [2026-03-02]\n")
    code = main(
        [
            "run",
            "--events",
            str(landing / "events"),
            "--catalog",
            str(landing / "catalog.csv"),
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(cfg),
            "--as-of",
            "2026-03-08",
            "--start",
            "2026-03-03",
            "--end",
            "2026-03-05",
            "--stages",
            "applications",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows_quarantined"] == manifest["rows_duplicate"] == 0
    assert manifest["config"]["calendar"]["holidays"] == ["2026-03-02"]
    assert manifest["as_of"] == "2026-03-08T00:00:00+08:00"
    # Only events that started on March 3rd or 4th (local) are this run's.
    assert manifest["event_dates"] == ["2026-03-03", "2026-03-04"]
    assert manifest["rows_out_of_interval"] > manifest["rows_in"] > 0
    assert manifest["rows_read"] == manifest["rows_in"] + manifest["rows_out_of_interval"]
    assert "belong to other data intervals" in captured.out


@pytest.mark.parametrize("job", ["bundles", "lagging", "scorecards", "demand", "reports"])
def test_a_job_pointed_at_a_missing_warehouse_says_so_in_one_line(spark, capsys, tmp_path, job):
    import importlib

    module = importlib.import_module(f"jobs.{job}")
    line = _one_line_error(capsys, module.main(["--warehouse", str(tmp_path / "nowhere")]))
    assert line.startswith(f"{job}: error:") and "nowhere" in line
