"""Shared fixtures of the report tests: the hand-made tables written as Parquet tables under a
fresh output root, and the report rendered from them (once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.report import handmade as H

KEY = b"report-test-key-0123456789"
MANIFEST = {
    "run_id": "run0123456789abc",
    "as_of": "2026-04-01T00:00:00+08:00",
    "rows_in": 1234,
    "rows_clean": 1200,
    "rows_quarantined": 30,
    "rows_duplicate": 4,
    "applications": 456,
    "config_hash": "c0ffee" * 10 + "abcd",
    "versions": {"visitonce": "0.1.0", "spark": "4.2.0"},
    "config": {"reports": {"k_suppress": 10}},
    "stage_results": {"demand": H.DEMAND_SECTION},
}


def write_parquet(root: Path, name: str, df: pd.DataFrame) -> None:
    """One Parquet file under root/name/, timestamps as UTC instants (as Spark writes them)."""
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            df[c] = df[c].dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    (root / name).mkdir(parents=True, exist_ok=True)
    df.to_parquet(root / name / "part-00000.parquet", index=False)


def write_contracted(root: Path, name: str, df: pd.DataFrame) -> None:
    """One Parquet file under root/name/ with exactly the types of the table's contract."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from visitonce import schemas

    table = pa.Table.from_pandas(
        df, schema=schemas.arrow_schema(schemas.load(name)), preserve_index=False
    )
    (root / name).mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / name / "part-00000.parquet")


def applications() -> pd.DataFrame:
    """Five hand-made applications: district 330101 has 3 requests, 330102 two."""
    t = pd.Timestamp("2026-03-02 01:30:00")
    return pd.DataFrame(
        {
            "application_id": ["A-1", "A-2", "A-3", "A-4", "A-5"],
            "citizen_id": ["c_x1", "c_x1", "c_x2", None, "c_x3"],
            "service_item": ["I01", "I02", "I01", "I03", "I01"],
            "department": ["D1", "D2", "D1", "D3", "D1"],
            "district": ["330101", "330101", "330101", "330102", "330102"],
            "location": ["12 Some Road", None, None, "Parcel 9", None],
            "applied_at": [t + pd.Timedelta(hours=h) for h in (0, 1, 2, 3, 4)],
            "completed_at": [
                t + pd.Timedelta(days=1),
                None,
                t + pd.Timedelta(days=5),
                None,
                t + pd.Timedelta(days=2),
            ],  # fmt: skip
            "is_open": [False, True, False, True, False],
            "n_visits": [1, 0, 2, 0, 1],
            "first_channel": ["counter", "online", "counter", "hotline", "counter"],
            "on_time_status": ["on_time", "open_within_limit", "late", "no_limit", "on_time"],
            "due_date": [pd.Timestamp("2026-03-03").date()] * 3
            + [None]
            + [pd.Timestamp("2026-03-04").date()],
        }
    )


@pytest.fixture(scope="session")
def handmade_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("handmade") / "out"
    for name, make in H.TABLES.items():
        write_parquet(root, name, make())
    for name, make in H.DEMAND_TABLES.items():
        write_contracted(root, name, make())
    write_parquet(root, "applications", applications())
    write_parquet(
        root, "catalog", pd.DataFrame({"service_item": ["I01"], "item_name": ["Birth record"]})
    )
    (root / "manifest.json").write_text(json.dumps(MANIFEST))
    return root


@pytest.fixture(scope="session")
def handmade_report(spark, handmade_root) -> dict:
    from visitonce.config import Config
    from visitonce.report.stage import write_reports

    result = write_reports(spark, str(handmade_root), config=Config(), manifest=MANIFEST, key=KEY)
    return {"root": handmade_root, "reports": handmade_root / "reports", "result": result}


@pytest.fixture(scope="session")
def city_run(spark, tmp_path_factory) -> dict:
    """One small generated city through the whole pipeline (reports last), shared by the
    modules that need a real run's output."""
    import datetime as dt

    from visitonce.generate import generate
    from visitonce.mapping import load_mapping
    from visitonce.pipeline import RunRequest, run_pipeline

    root = tmp_path_factory.mktemp("city")
    landing = root / "landing"
    truth = generate(landing, n_events=30_000, seed=7, days=28, fmt="parquet", dirty=False)
    req = RunRequest(
        events=str(landing / "events"),
        out=str(root / "out"),
        mapping=load_mapping("canonical"),
        key=KEY,
        as_of=dt.datetime.fromisoformat(truth["period_end"]),
        catalog=str(landing / "catalog.csv"),
        roster=str(landing / "roster.csv"),
    )
    manifest = run_pipeline(spark, req)
    return {"root": root / "out", "reports": root / "out" / "reports", "truth": truth,
            "manifest": manifest}  # fmt: skip


@pytest.fixture(scope="session")
def handmade_inputs(spark, handmade_root):
    """The tables the hand-made report is drawn from (read once), to render in any language."""
    from visitonce.config import Config
    from visitonce.report.stage import read_inputs

    return read_inputs(spark, str(handmade_root), config=Config(), manifest=MANIFEST, with_key=True)


def render_to(inputs, language: str, folder: Path) -> dict[str, str]:
    """Every page of ``inputs`` rendered in ``language``, also written under ``folder``."""
    import dataclasses

    from visitonce.report.render import render_site

    pages = render_site(dataclasses.replace(inputs, language=language))
    folder.mkdir(parents=True, exist_ok=True)
    for name, html in pages.items():
        (folder / name).write_text(html, "utf-8")
    return pages


@pytest.fixture(scope="session")
def handmade_report_zh(handmade_inputs, tmp_path_factory) -> dict:
    """The hand-made report in Chinese, from the same tables (no second pipeline run)."""
    folder = tmp_path_factory.mktemp("handmade-zh") / "reports"
    return {"reports": folder, "inputs": handmade_inputs,
            "pages": render_to(handmade_inputs, "zh-CN", folder)}  # fmt: skip
