"""The dirty-data round trip on generated logs: every planted defect quarantined with its reason,
duplicates counted, counts reconciled, no valid row lost, no raw identifier in any output, and a
rerun (through the spark-submit job) giving identical tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from visitonce import columns as C
from visitonce import schemas
from visitonce.columns import Reason
from visitonce.generate import generate
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, run_pipeline

KEY = b"pipeline-test-key-0123456789"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT_TABLES = ("events", "quarantine", "applications", "catalog", "roster")


@pytest.fixture(scope="module")
def world(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("pipeline")
    landing = root / "landing"
    truth = generate(landing, n_events=20_000, seed=11, days=14)
    end = dt.datetime.fromisoformat(truth["period_end"])
    req = RunRequest(
        events=str(landing / "events"),
        out=str(root / "out"),
        mapping=load_mapping("canonical"),
        key=KEY,
        as_of=end,
        catalog=str(landing / "catalog.csv"),
        roster=str(landing / "roster.csv"),
    )
    manifest = run_pipeline(spark, req)
    return {"root": root, "landing": landing, "truth": truth, "req": req, "manifest": manifest}


def _table(spark, world, name):
    return spark.read.parquet(str(Path(world["req"].out) / name))


def test_counts_reconcile_with_the_planted_truth(world) -> None:
    m, truth = world["manifest"], world["truth"]
    assert m["rows_in"] == truth["n_rows_written"]
    assert m["rows_in"] == m["rows_clean"] + m["rows_quarantined"] + m["rows_duplicate"]
    assert m["rows_clean"] == truth["n_events_valid"]
    assert m["duplicates"] == truth["duplicates"]
    planted = {k: v for k, v in truth["dirty"].items() if v}
    assert m["quarantine_reasons"] == planted
    for f in m["sources"]:
        assert f["rows_in"] == f["rows_clean"] + f["rows_quarantined"] + f["rows_duplicate"]
    assert sum(f["rows_in"] for f in m["sources"]) == m["rows_in"]
    assert len(m["sources"]) == len(list((world["landing"] / "events").iterdir()))
    assert m["reference"]["catalog"]["rows_in"] == m["reference"]["catalog"]["rows_clean"]
    assert m["reference"]["roster"]["rows_quarantined"] == 0


def test_every_planted_defect_lands_in_quarantine_with_its_reason(spark, world) -> None:
    q = _table(spark, world, "quarantine").where(F.col(C.TABLE) == "events")
    got = set()
    for r in q.collect():
        values = json.loads(r[C.VALUES])
        # A malformed line is known by the hash of its raw text only (no values kept).
        got.add((values.get(C.EVENT_ID) or values["malformed_line_sha256"], r[C.REASON]))
    dirty = dict(world["truth"]["dirty_event_ids"])
    malformed_ids = set(dirty.pop(Reason.MALFORMED_ROW, []))
    expected = {(eid, reason) for reason, ids in dirty.items() for eid in ids}
    for part in sorted((world["landing"] / "events").iterdir()):
        for line in part.read_text("utf-8").splitlines():
            if line.split(",", 1)[0] in malformed_ids:
                expected.add((hashlib.sha256(line.encode()).hexdigest(), Reason.MALFORMED_ROW))
    assert len(malformed_ids) > 0
    assert got == expected


def test_no_valid_row_is_lost_and_duplicates_keep_the_closed_version(spark, world) -> None:
    truth = world["truth"]
    raw = spark.read.option("header", True).csv(str(world["landing"] / "events"))
    dirty = [i for ids in truth["dirty_event_ids"].values() for i in ids]
    valid_ids = raw.select(C.EVENT_ID).where(~F.col(C.EVENT_ID).isin(dirty)).distinct()
    events = _table(spark, world, "events")
    assert events.count() == events.select(C.EVENT_ID).distinct().count()
    assertDataFrameEqual(events.select(C.EVENT_ID), valid_ids)
    same_event = truth["duplicate_event_ids"]["same_event"]
    kept = events.where(F.col(C.EVENT_ID).isin(same_event))
    assert kept.count() == len(set(same_event))
    assert kept.where(F.col(C.ENDED_AT).isNull()).count() == 0


def test_open_cases_are_kept(spark, world) -> None:
    apps = _table(spark, world, "applications")
    assert apps.count() == world["truth"]["n_applications"]
    assert apps.where(F.col(C.IS_OPEN)).count() == world["truth"]["n_open_applications"]
    open_steps = _table(spark, world, "events").where(F.col(C.ENDED_AT).isNull()).count()
    assert open_steps >= world["truth"]["n_open_applications"] > 0


def test_written_tables_match_their_contracts(spark, world) -> None:
    outputs = world["manifest"]["outputs"]
    assert set(OUTPUT_TABLES) | {"step_facts", "lagging_steps", "step_transitions"} <= set(outputs)
    contracts = {p.name.split(".")[0] for p in (ROOT / "schemas").glob("*.v1.yaml")}
    for name, uri in outputs.items():
        if name in contracts and Path(uri).exists():  # an empty period may write nothing
            assert schemas.check_schema(spark.read.parquet(uri), schemas.load(name)) == [], name
    manifest = json.loads((Path(world["req"].out) / "manifest.json").read_text())
    assert set(schemas.load("manifest").names) <= set(manifest)


def test_events_are_partitioned_by_local_date(spark, world) -> None:
    out = Path(world["req"].out) / "events"
    dates = sorted(p.name.split("=")[1] for p in out.glob("event_date=*"))
    start = dt.date.fromisoformat(world["truth"]["period_start"][:10])
    assert dates[0] >= start.isoformat() and len(dates) <= 14
    assert world["manifest"]["event_dates"] == dates


def test_no_raw_identifier_anywhere_in_the_outputs(spark, world) -> None:
    raw = spark.read.option("header", True).csv(str(world["landing"] / "events"))
    # The generator's identifiers look like P0001234, E000123, O00123 (malformed lines shift
    # columns, so other strings can sit in these columns of a plain CSV read).
    ids = {
        r[0]
        for r in raw.select(F.explode(F.array(C.CITIZEN_ID, C.OFFICIAL)).alias("v"))
        .where(F.col("v").rlike(r"^[PEO]\d+$"))
        .distinct()
        .collect()
    }
    assert len(ids) > 1000
    for name in ("events", "quarantine", "applications"):
        df = _table(spark, world, name)
        strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
        for row in df.select(*strings).collect():
            for value in row:
                if value is None:
                    continue
                tokens = json.loads(value).values() if value.startswith("{") else [value]
                assert not ids.intersection(map(str, tokens)), (name, value)


def test_a_rerun_through_the_job_gives_identical_tables(spark, world) -> None:
    from jobs import ingest as job

    before = {n: _table(spark, world, n).localCheckpoint() for n in OUTPUT_TABLES}
    req = world["req"]
    import os

    os.environ["VISITONCE_PSEUDONYM_KEY"] = KEY.decode()
    try:
        code = job.main(
            [
                "--events",
                req.events,
                "--catalog",
                req.catalog,
                "--roster",
                req.roster,
                "--out",
                req.out,
                "--as-of",
                req.as_of.isoformat(),
                "--stages",
                "applications",  # the tables compared; the analytic stages have their own
            ]
        )
    finally:
        del os.environ["VISITONCE_PSEUDONYM_KEY"]
    assert code == 0
    for name in OUTPUT_TABLES:
        assertDataFrameEqual(_table(spark, world, name), before[name])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_other_input_formats_reconcile(spark, tmp_path, fmt) -> None:
    truth = generate(tmp_path / "landing", n_events=3_000, seed=5, days=7, fmt=fmt)
    req = RunRequest(
        events=str(tmp_path / "landing" / "events"),
        out=str(tmp_path / "out"),
        mapping=load_mapping("canonical"),
        key=KEY,
        as_of=dt.datetime.fromisoformat(truth["period_end"]),
        catalog=str(tmp_path / "landing" / "catalog.csv"),
    )
    m = run_pipeline(spark, req, stages=[])
    assert (m["rows_in"], m["rows_clean"]) == (truth["n_rows_written"], truth["n_events_valid"])
    assert m["quarantine_reasons"] == {k: v for k, v in truth["dirty"].items() if v}
    assert m["duplicates"] == truth["duplicates"]


HEADER = ",".join(C.EVENT_COLUMNS)


def _line(eid: str, app: str, day: int, step: str = "accept") -> str:
    """One contract row, written by column name (the contract gains optional columns)."""
    row = {
        C.EVENT_ID: eid,
        C.APPLICATION_ID: app,
        C.CITIZEN_ID: "P1",
        C.CITIZEN_TYPE: "individual",
        C.SERVICE_ITEM: "RE_REG",
        C.DEPARTMENT: "HOUSING",
        C.CHANNEL: "online",
        C.DISTRICT: "D01",
        C.STEP: step,
        C.OFFICIAL: "O1",
        C.STARTED_AT: f"2026-03-{day:02d}T09:00:00+08:00",
        C.ENDED_AT: f"2026-03-{day:02d}T09:30:00+08:00",
        C.PHYSICAL_VISIT: "false",
        C.AGE_BAND: "30-44",
    }
    return ",".join(row.get(c, "") for c in C.EVENT_COLUMNS)


def _one_item_catalog(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "service_item,item_name,department,complexity,time_limit_days,"
        "online_capable\nRE_REG,x,HOUSING,3,5,true\n"
    )
    return catalog


def test_a_run_replaces_exactly_the_dates_in_its_input(spark, tmp_path) -> None:
    catalog = _one_item_catalog(tmp_path)
    first = tmp_path / "day1-2.csv"
    first.write_text(
        "\n".join([HEADER, _line("E1", "A1", 2), _line("E2", "A2", 3), _line("E3", "A3", 3)]) + "\n"
    )
    second = tmp_path / "day2-again.csv"
    second.write_text("\n".join([HEADER, _line("E9", "A9", 3, step="review")]) + "\n")
    out = tmp_path / "out"

    def run(events: Path) -> dict:
        req = RunRequest(
            events=str(events),
            out=str(out),
            mapping=load_mapping("canonical"),
            key=KEY,
            as_of=dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc),
            catalog=str(catalog),
        )
        return run_pipeline(spark, req, stages=[])

    run(first)
    m = run(second)
    assert m["event_dates"] == ["2026-03-03"]
    got = sorted(
        (r[C.EVENT_DATE].isoformat(), r[C.EVENT_ID])
        for r in spark.read.parquet(str(out / "events")).collect()
    )
    assert got == [("2026-03-02", "E1"), ("2026-03-03", "E9")]
    apps = sorted(
        r[0]
        for r in spark.read.parquet(str(out / "applications")).select(C.APPLICATION_ID).collect()
    )
    assert apps == ["A1", "A9"]  # derived from the whole curated events table


def test_a_malformed_file_from_one_department_is_quarantined_not_fatal(spark, tmp_path) -> None:
    catalog = _one_item_catalog(tmp_path)
    landing = tmp_path / "events"
    landing.mkdir()
    (landing / "housing.csv").write_text("\n".join([HEADER, _line("E1", "A1", 2)]) + "\n")
    # Another department sent a spreadsheet export with its own headers and a binary tail.
    (landing / "tax.csv").write_bytes(
        "编号,申请时间,备注\n1,昨天,无\n2,今天,\x00\x01\x02\n".encode() + bytes(range(128, 256))
    )
    req = RunRequest(
        events=str(landing),
        out=str(tmp_path / "out"),
        mapping=load_mapping("canonical"),
        key=KEY,
        as_of=dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc),
        catalog=str(catalog),
    )
    m = run_pipeline(spark, req, stages=[])
    per_file = {Path(f["file"]).name: f for f in m["sources"]}
    assert per_file["housing.csv"]["rows_clean"] == 1
    tax = per_file["tax.csv"]
    assert tax["rows_in"] == tax["rows_quarantined"] >= 2 and tax["rows_clean"] == 0
    assert set(m["quarantine_reasons"]) <= {"missing_required", "malformed_row"}
    # The broken export is reported by name; the good one is not.
    assert [Path(a["file"]).name for a in m["file_alerts"]] == ["tax.csv"]
    alert = m["file_alerts"][0]
    assert alert["share_quarantined"] == 1.0 and alert["rows_quarantined"] == tax["rows_in"]
    assert alert["top_reason"] in {"missing_required", "malformed_row"}


def test_file_alerts_name_the_files_mostly_quarantined() -> None:
    from visitonce.pipeline import file_alerts

    files = [
        {"file": "a.csv", "rows_in": 10, "rows_quarantined": 5},
        {"file": "b.csv", "rows_in": 10, "rows_quarantined": 4},
        {"file": "c.csv", "rows_in": 0, "rows_quarantined": 0},
    ]
    per = {"a.csv": {"reasons": {"bad_timestamp": 3, "missing_required": 2}}}
    alerts = file_alerts(files, per, share=0.5)
    assert [(a["file"], a["share_quarantined"], a["top_reason"]) for a in alerts] == [
        ("a.csv", 0.5, "bad_timestamp")
    ]
    assert "a.csv: 5 of 10 rows quarantined" in alerts[0]["message"]
    assert [a["file"] for a in file_alerts(files, per, share=0.4)] == ["a.csv", "b.csv"]


def test_each_partition_is_written_as_one_file(world) -> None:
    """Issue 22: a day of events (about 1,400 rows here) is one Parquet file, not one per shuffle
    partition; so is each quarantine partition, and each small unpartitioned table."""
    out = Path(world["req"].out)
    days = sorted((out / "events").glob("event_date=*"))
    assert len(days) >= 14
    # unpartitioned: the reference tables, applications and every analytic table
    tables = [t for t in out.iterdir() if t.is_dir() and list(t.glob("*.parquet"))]
    assert {"catalog", "roster", "applications", "step_facts", "scorecards"} <= {
        t.name for t in tables
    }
    for part in days + sorted((out / "quarantine").glob("table=*/batch=*")) + tables:
        files = list(part.glob("*.parquet"))
        assert len(files) == 1, (part.name, len(files))
