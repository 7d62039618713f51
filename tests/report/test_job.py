"""jobs/reports.py over an existing warehouse, and `visitonce demo` ending with the report's
path (the suite's one demo run)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

from tests.report.pagehtml import parse

ROOT = Path(__file__).resolve().parents[2]


def _job():
    spec = importlib.util.spec_from_file_location("reports_job", ROOT / "jobs" / "reports.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_job_renders_an_existing_warehouse(spark, handmade_root, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VISITONCE_PSEUDONYM_KEY", raising=False)
    warehouse = tmp_path / "wh"
    shutil.copytree(handmade_root, warehouse, ignore=shutil.ignore_patterns("reports"))
    job = _job()
    assert job.parse_args(["--warehouse", "x", "--config="]).config is None  # empty = defaults
    assert job.main(["--warehouse", str(warehouse), "--config="]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["index"].endswith("reports/index.html") and result["pages"] == 10
    # no key: pages and scorecard exports, but no requests export
    assert result["exports"].get("requests") is None
    assert not (warehouse / "reports" / "exports" / "requests.json").exists()
    assert (warehouse / "reports" / "exports" / "scorecards.csv").is_file()
    index = parse(warehouse / "reports" / "index.html")
    assert index.rows[""][0]["rows_in"][0] == "1,234"  # from the warehouse's manifest.json
    demand = parse(warehouse / "reports" / "demand.html")  # forecast errors: manifest.json too
    assert demand.rows["err:model"][0]["wape"][0] == "41.3%"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("reports:\n  k_suppress: 3\n")
    assert job.main(["--warehouse", str(warehouse), "--config", str(cfg)]) == 0
    rows = (warehouse / "reports" / "exports" / "scorecards.csv").read_text().splitlines()
    assert sum(line.endswith(",True") for line in rows) == 0  # D3 (6 applications) >= 3
    # --lang over the config: Chinese pages, the CSV with a BOM, the same columns
    assert job.main(["--warehouse", str(warehouse), "--config", str(cfg), "--lang", "zh-CN"]) == 0
    lagging = parse(warehouse / "reports" / "lagging.html")
    assert lagging.lang == "zh-CN" and lagging.title == "滞后环节 · visitonce 报告"
    raw = (warehouse / "reports" / "exports" / "scorecards.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw[3:].decode().splitlines() == rows
    assert job.main(["--warehouse", str(warehouse), "--lang", "de"]) == 2
    assert capsys.readouterr().err.strip().endswith("--lang 'de': use one of en, zh-CN")


def test_job_refuses_a_folder_that_is_not_a_warehouse(spark, tmp_path, capsys) -> None:
    assert _job().main(["--warehouse", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no manifest.json" in err


def test_demo_end_to_end_in_chinese(capsys, tmp_path, monkeypatch) -> None:
    """The README's first command, once for the whole suite (a demo is a full run): it
    generates a city, runs every stage with a throwaway key and ends with the report's path.
    Every row is accounted for; every page's language and title are Chinese, the CLI's lines
    stay English."""
    from visitonce.cli import main

    monkeypatch.delenv("VISITONCE_PSEUDONYM_KEY", raising=False)
    code = main(["demo", "--out", str(tmp_path / "demo"), "--events", "2000", "--lang", "zh-CN"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "throwaway pseudonymization key" in captured.err
    warehouse = tmp_path / "demo" / "warehouse"
    manifest = json.loads((warehouse / "manifest.json").read_text())
    truth = json.loads((tmp_path / "demo" / "landing" / "truth.json").read_text())
    assert manifest["rows_in"] == truth["n_rows_written"]
    assert manifest["status"] == "succeeded" and not manifest["failed_stages"]
    assert f"rows in {manifest['rows_in']:,} = clean {manifest['rows_clean']:,}" in captured.out
    assert f"outputs: {warehouse}" in captured.out
    last = captured.out.strip().splitlines()[-1]
    index = warehouse / "reports" / "index.html"
    assert last == f"report: {index}" and index.is_file()
    pages = sorted(index.parent.glob("*.html"))
    assert len(pages) >= 7
    for html in pages:
        page = parse(html)
        assert page.lang == "zh-CN" and page.title.endswith(" · visitonce 报告"), html.name
