"""Ingest fuzzing (issue 16): Hypothesis-generated CSV and JSON Lines bytes (other encodings,
BOMs, CRLF, truncated lines, stray quotes, huge fields, wrong column counts, timestamps in
every layout the contract and mappings accept, and garbage) go through the real ingest stage.

Properties: ingest never crashes; every row read is clean, quarantined or a duplicate and the
counts reconcile (``run_ingest`` raises ReconciliationError otherwise, and the written events
are counted back); no raw identifier reaches any output.

``make test`` runs a few examples (derandomized, so CI is reproducible);
``VISITONCE_FUZZ_EXAMPLES=200`` runs more, ``VISITONCE_FUZZ_RANDOM=1`` explores new ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, Timer, run_ingest

EXAMPLES = int(os.environ.get("VISITONCE_FUZZ_EXAMPLES", "6"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("VISITONCE_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
AS_OF = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)

# Raw identifiers carry a marker that no other generated value contains, so any output that
# holds one leaked it.
MARK = "RAWID"
ids = st.integers(0, 999).map(lambda n: f"{MARK}{n:03d}")

instants = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 5, 1))
LAYOUTS = (
    lambda t: t.isoformat(),  # 2026-03-02T09:30:00
    lambda t: t.isoformat(sep=" "),
    lambda t: t.isoformat() + "+08:00",
    lambda t: t.isoformat() + "Z",
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f"),
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S+0800"),
    lambda t: t.strftime("%m/%d/%Y %I:%M:%S %p"),  # 311 portals' 12-hour clock
    lambda t: t.strftime("%Y/%m/%d %H:%M"),
    lambda t: t.strftime("%Y-%m-%d"),
    lambda t: str(int(t.timestamp())),  # epoch seconds
)
timestamps = st.one_of(
    st.builds(lambda t, i: LAYOUTS[i](t), instants, st.integers(0, len(LAYOUTS) - 1)),
    st.sampled_from(["", "now", "epoch", "2026-02-30T10:00:00", "24:00", "NULL", "N/A"]),
)
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=MARK),
    max_size=12,
)


def _value(column: str) -> st.SearchStrategy[str]:
    choices: dict[str, st.SearchStrategy[str]] = {
        C.CITIZEN_ID: ids,
        C.OFFICIAL: ids,
        C.APPLICATION_ID: st.integers(0, 30).map(lambda n: f"A{n}") | text,
        C.EVENT_ID: st.integers(0, 60).map(lambda n: f"E{n}") | text,
        C.SERVICE_ITEM: st.sampled_from(["ITEM1", "ITEM2", "证照办理", ""]) | text,
        C.DEPARTMENT: st.sampled_from(["DEPT1", "公安局", ""]) | text,
        C.CHANNEL: st.sampled_from([*C.CHANNELS, "Counter", "web", ""]),
        C.CITIZEN_TYPE: st.sampled_from([*C.CITIZEN_TYPES, "org", ""]),
        C.STEP: st.sampled_from(["accept", "review", "受理", ""]) | text,
        C.PHYSICAL_VISIT: st.sampled_from(["true", "false", "1", "0", "yes", "maybe", ""]),
        C.SATISFACTION: st.sampled_from(["1", "3", "5", "0", "6", "4.5", "good", ""]),
    }
    if column in C.TIMESTAMP_COLUMNS:
        return timestamps
    return choices.get(column, text)


@st.composite
def records(draw) -> tuple[list[str], list[dict[str, str]]]:
    """A header (required columns mostly present, optional ones drawn) and rows."""
    optional = [c for c in C.EVENT_COLUMNS if c not in C.REQUIRED_EVENT_COLUMNS]
    header = [c for c in C.REQUIRED_EVENT_COLUMNS if draw(st.floats(0, 1)) < 0.95]
    header += draw(st.lists(st.sampled_from(optional), unique=True))
    header += [C.CITIZEN_ID] if C.CITIZEN_ID not in header else []
    header = draw(st.permutations(header))
    rows = draw(
        st.lists(st.fixed_dictionaries({c: _value(c) for c in header}), min_size=1, max_size=25)
    )
    return list(header), rows


def _quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\r\n') else v


@st.composite
def csv_bytes(draw) -> bytes:
    header, rows = draw(records())
    lines = [",".join(header)]
    for row in rows:
        fields = [_quote(row[c]) for c in header]
        damage = draw(st.sampled_from(["none"] * 6 + ["extra", "short", "quote", "huge"]))
        if damage == "extra":
            fields.append("surplus")
        elif damage == "short" and len(fields) > 1:
            fields = fields[: draw(st.integers(1, len(fields) - 1))]
        elif damage == "quote":
            i = draw(st.integers(0, len(fields) - 1))
            fields[i] = fields[i][:3] + '"' + fields[i][3:]
        elif damage == "huge":
            fields[draw(st.integers(0, len(fields) - 1))] = "x" * 20_000
        lines.append(",".join(fields))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    body = newline.join(lines) + draw(st.sampled_from([newline, ""]))
    if draw(st.booleans()):  # a truncated export: the last line cut anywhere
        body = body[: draw(st.integers(len(lines[0]) + 1, max(len(body), len(lines[0]) + 1)))]
    return _encode(draw, body)


@st.composite
def jsonl_bytes(draw) -> bytes:
    _, rows = draw(records())
    lines = []
    for row in rows:
        line = json.dumps(row, ensure_ascii=draw(st.booleans()))
        damage = draw(st.sampled_from(["none"] * 6 + ["cut", "garbage", "array"]))
        if damage == "cut":
            line = line[: draw(st.integers(0, len(line)))]
        elif damage == "garbage":
            line = "{not json"
        elif damage == "array":
            line = json.dumps([row])
        lines.append(line)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return _encode(draw, newline.join(lines) + newline)


def _encode(draw, body: str) -> bytes:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "latin-1", "utf-16"]))
    return body.encode(encoding, errors="replace")


def _ingest(spark, tmp_path: Path, name: str, data: bytes) -> tuple[dict, Path]:
    run = tmp_path / uuid.uuid4().hex[:8]
    (run / "landing").mkdir(parents=True)
    (run / "landing" / name).write_bytes(data)
    req = RunRequest(
        events=str(run / "landing"),
        out=str(run / "out"),
        mapping=load_mapping("canonical"),
        key=b"fuzz-key-0123456789abcdef",
        as_of=AS_OF,
    )
    return run_ingest(spark, req, timer=Timer()), run / "out"


def _assert_reconciled_and_private(spark, counts: dict, out: Path) -> None:
    assert counts["rows_in"] == (
        counts["rows_clean"] + counts["rows_quarantined"] + counts["rows_duplicate"]
    )
    for f in counts["sources"]:
        assert f["rows_in"] == f["rows_clean"] + f["rows_quarantined"] + f["rows_duplicate"]
    for table in ("events", "quarantine"):
        if not list((out / table).rglob("*.parquet")):
            continue  # nothing written (every row of the file went elsewhere)
        df = spark.read.parquet(str(out / table))
        every = F.concat_ws("|", *[F.col(c).cast("string") for c in df.columns])
        leaked = df.where(every.contains(MARK)).limit(3).collect()
        assert not leaked, (table, leaked)


@pytest.mark.slow
@FUZZ
@given(data=csv_bytes())
# found by this test in CI: a quoted field holding a bare CR ends the line for the reader, and the
# rest of the record is read as a row of its own whose fields are shifted by some columns, so the
# raw citizen ID sat under `service_item` and reached the quarantine's detail and values
@example(
    data=b"started_at,application_id,service_item,citizen_id,channel\n"
    b'2026-03-02T09:00:00,"A1\rX",ITEM1,RAWID001,online,surplus\n'
)
def test_fuzzed_csv_never_crashes_reconciles_and_leaks_no_identifier(spark, tmp_path, data):
    counts, out = _ingest(spark, tmp_path, "events.csv", data)
    _assert_reconciled_and_private(spark, counts, out)


@pytest.mark.slow
@FUZZ
@given(data=jsonl_bytes())
# found by this test: a file in which no line parses (UTF-16 read as UTF-8) crashed ingest,
# since Spark refuses queries on the corrupt-record column alone
@example(data='{"application_id": "A0", "citizen_id": "RAWID000"}\n'.encode("utf-16"))
def test_fuzzed_jsonl_never_crashes_reconciles_and_leaks_no_identifier(spark, tmp_path, data):
    counts, out = _ingest(spark, tmp_path, "events.jsonl", data)
    _assert_reconciled_and_private(spark, counts, out)
