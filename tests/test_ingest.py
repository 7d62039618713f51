"""Ingest transforms on hand-written rows with hand-written expectations."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from visitonce import columns as C
from visitonce import ingest
from visitonce.columns import Reason
from visitonce.io import CORRUPT
from visitonce.mapping import SourceMapping, parse_mapping
from visitonce.pseudonym import pseudonym_py

CANONICAL = SourceMapping(name="canonical")
UTC = dt.timezone.utc
END = dt.datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 2026-04-01 00:00 Shanghai

GOOD = {
    "event_id": "E1",
    "application_id": "A1",
    "citizen_id": "P1",
    "citizen_type": "individual",
    "service_item": "RE_REG",
    "department": "HOUSING",
    "channel": "counter",
    "center": "C01",
    "district": "D01",
    "location": None,
    "step": "accept",
    "official": "O1",
    "arrived_at": "2026-03-02T08:50:00+08:00",
    "started_at": "2026-03-02T09:00:00+08:00",
    "ended_at": "2026-03-02T09:20:00+08:00",
    "physical_visit": "true",
    "satisfaction": "4",
    "age_band": "30-44",
}


def raw_frame(spark, rows: list[dict], extra: tuple[str, ...] = ()):
    """Rows as ``io.read_raw`` gives them: source columns as strings + file + position (the
    list's order unless a row says) + corrupt marker."""
    names = list(C.EVENT_COLUMNS) + list(extra) + [C.SOURCE_FILE, CORRUPT]
    schema = ", ".join(f"`{n}` string" for n in names) + f", {C.SOURCE_ROW} bigint"
    data = [
        tuple(r.get(n, "file:/in/a.csv" if n == C.SOURCE_FILE else None) for n in names)
        + (r.get(C.SOURCE_ROW, i),)
        for i, r in enumerate(rows, start=1)
    ]
    return spark.createDataFrame(data, schema)


def parsed(spark, rows, *, mapping=CANONICAL, catalog=None):
    canonical = ingest.to_canonical(raw_frame(spark, rows), mapping=mapping)
    return ingest.with_parsed(
        ingest.with_values_json(canonical),
        mapping=mapping,
        time_zone="Asia/Shanghai",
        latest_allowed=END,
        catalog_items=catalog,
    )


# --- to_canonical ---------------------------------------------------------------------------


def test_to_canonical_applies_renames_constants_value_maps_and_null_markers(spark) -> None:
    mapping = parse_mapping(
        {
            "name": "hall-system",
            "columns": {
                "application_id": "CaseNo",
                "service_item": "ItemCode",
                "step": "Node",
                "started_at": "Begin",
                "channel": "Chan",
            },
            "constants": {"department": "TAX"},
            "values": {"channel": {"map": {"01": "counter", "02": "online"}, "default": "other"}},
            "null_values": ["", "-"],
        }
    )
    names = ["CaseNo", "ItemCode", "Node", "Begin", "Chan", "Secret", C.SOURCE_FILE, CORRUPT]
    raw = spark.createDataFrame(
        [
            ("A1", " T01 ", "accept", "2026-03-02 09:00", "01", "13800000000", "f", None),
            ("A2", "T01", "-", "2026-03-02 10:00", "99", "x", "f", None),
            ("A3", "T02", "review", "2026-03-02 11:00", None, "y", "f", None),
        ],
        ", ".join(f"{n} string" for n in names),
    )
    out = ingest.to_canonical(raw, mapping=mapping)
    assert "Secret" not in out.columns  # unmapped source columns never leave ingest
    got = out.select(
        C.APPLICATION_ID,
        C.SERVICE_ITEM,
        C.STEP,
        C.STARTED_AT,
        C.CHANNEL,
        C.DEPARTMENT,
        C.CITIZEN_ID,
    )
    expected = spark.createDataFrame(
        [
            ("A1", "T01", "accept", "2026-03-02 09:00", "counter", "TAX", None),
            ("A2", "T01", None, "2026-03-02 10:00", "other", "TAX", None),
            ("A3", "T02", "review", "2026-03-02 11:00", None, "TAX", None),
        ],
        got.schema,
    )
    assertDataFrameEqual(got, expected)


def test_to_canonical_normalizes_channel_spelling(spark) -> None:
    rows = [dict(GOOD, channel="Self Service"), dict(GOOD, channel=" ONLINE ")]
    out = ingest.to_canonical(raw_frame(spark, rows), mapping=CANONICAL)
    assert [r[0] for r in out.select(C.CHANNEL).collect()] == ["self_service", "online"]


# --- pseudonyms -------------------------------------------------------------------------------


def test_pseudonyms_equal_python_hmac_and_differ_by_role_and_key(spark) -> None:
    key = b"k" * 32
    df = spark.createDataFrame(
        [("P1", "O1"), ("张三", None), ("", "P1")], "citizen_id string, official string"
    )
    got = [tuple(r) for r in ingest.with_pseudonyms(df, key=key).collect()]
    assert got == [
        (
            pseudonym_py("P1", key=key, domain="citizen"),
            pseudonym_py("O1", key=key, domain="official"),
        ),
        (pseudonym_py("张三", key=key, domain="citizen"), None),
        (None, pseudonym_py("P1", key=key, domain="official")),
    ]
    assert got[0][0] != got[2][1]  # the same raw string as citizen and as official
    other = ingest.with_pseudonyms(df, key=b"another key 123456").collect()[0]
    assert other[0] != got[0][0]


def test_long_keys_are_hashed_like_hmac_does(spark) -> None:
    key = b"x" * 100  # longer than the 64-byte block
    df = spark.createDataFrame([("P9",)], "citizen_id string").withColumn(
        "official", F.lit(None).cast("string")
    )
    assert ingest.with_pseudonyms(df, key=key).first()[0] == pseudonym_py(
        "P9", key=key, domain="citizen"
    )


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "formats", "expected"),
    [
        ("2026-03-02T09:14:05+08:00", (), dt.datetime(2026, 3, 2, 1, 14, 5)),
        ("2026-03-02T09:14:05Z", (), dt.datetime(2026, 3, 2, 9, 14, 5)),
        ("2026-03-02 09:14:05", (), dt.datetime(2026, 3, 2, 1, 14, 5)),  # read in Shanghai
        ("2026-03-02T09:14:05.250+0800", (), dt.datetime(2026, 3, 2, 1, 14, 5, 250000)),
        ("2026-03-02", (), dt.datetime(2026, 3, 1, 16, 0)),
        ("yesterday", (), None),  # Spark's special strings are not timestamps
        ("now", (), None),
        ("2026-02-30T09:00:00+08:00", (), None),
        ("03/02/2026 09:14:05 AM", ("MM/dd/yyyy hh:mm:ss a",), dt.datetime(2026, 3, 2, 1, 14, 5)),
        ("2/3/26 9:14", ("MM/dd/yyyy hh:mm:ss a", "d/M/yy H:mm"), dt.datetime(2026, 3, 2, 1, 14)),
        ("2026-03-02 09:14:05", ("MM/dd/yyyy hh:mm:ss a",), None),
    ],
)
def test_parse_timestamp(spark, raw, formats, expected) -> None:
    df = spark.createDataFrame([(raw,)], "s string")
    got = df.select(
        ingest.parse_timestamp(F.col("s"), formats=formats, time_zone="Asia/Shanghai")
    ).first()[0]
    assert got == expected


def test_parse_bool_and_int(spark) -> None:
    df = spark.createDataFrame(
        [("TRUE", "4"), ("否", " 5.0 "), ("maybe", "4.5"), (None, "x")], "b string, i string"
    )
    got = [
        tuple(r)
        for r in df.select(ingest.parse_bool(F.col("b")), ingest.parse_int(F.col("i"))).collect()
    ]
    assert got == [(True, 4), (False, 5), (None, None), (None, None)]


def test_a_valid_row_is_typed_and_has_no_reason(spark) -> None:
    row = parsed(spark, [GOOD]).first()
    assert row[C.REASON] is None and row[C.REASONS] == []
    assert row[C.STARTED_AT] == dt.datetime(2026, 3, 2, 1, 0)
    assert row[C.ARRIVED_AT] == dt.datetime(2026, 3, 2, 0, 50)
    assert row[C.PHYSICAL_VISIT] is True and row[C.SATISFACTION] == 4
    assert row[C.EVENT_DATE] == dt.date(2026, 3, 2)
    assert row[C.SOURCE] == "canonical"


def test_event_date_is_the_local_date(spark) -> None:
    # 23:30 UTC on March 1st is 07:30 on March 2nd in Shanghai.
    row = parsed(
        spark,
        [
            dict(
                GOOD,
                arrived_at=None,
                started_at="2026-03-01T23:30:00Z",
                ended_at="2026-03-01T23:45:00Z",
            )
        ],
    ).first()
    assert row[C.EVENT_DATE] == dt.date(2026, 3, 2)


def test_open_steps_are_valid(spark) -> None:
    row = parsed(spark, [dict(GOOD, ended_at=None, satisfaction=None)]).first()
    assert row[C.REASON] is None and row[C.ENDED_AT] is None


DEFECTS = [
    (dict(GOOD, **{CORRUPT: "E1,A1,,,,"}), Reason.MALFORMED_ROW, "line does not parse"),
    (dict(GOOD, service_item=None), Reason.MISSING_REQUIRED, "empty: service_item"),
    (dict(GOOD, started_at=" "), Reason.MISSING_REQUIRED, "empty: started_at"),
    (
        dict(GOOD, ended_at="2026-13-01T10:00:00+08:00"),
        Reason.BAD_TIMESTAMP,
        "unparseable: ended_at",
    ),
    (dict(GOOD, channel="fax"), Reason.BAD_VOCABULARY, "channel=fax"),
    (dict(GOOD, citizen_type="robot"), Reason.BAD_VOCABULARY, "citizen_type=robot"),
    (dict(GOOD, satisfaction="7"), Reason.BAD_SATISFACTION, "satisfaction=7"),
    (dict(GOOD, satisfaction="good"), Reason.BAD_SATISFACTION, "satisfaction=good"),
    (dict(GOOD, physical_visit="maybe"), Reason.BAD_BOOLEAN, "physical_visit=maybe"),
    (
        dict(GOOD, ended_at="2026-03-02T08:00:00+08:00", arrived_at=None),
        Reason.END_BEFORE_START,
        "ended_at < started_at",
    ),
    (
        dict(GOOD, arrived_at="2026-03-02T09:30:00+08:00"),
        Reason.ARRIVAL_AFTER_START,
        "arrived_at > started_at",
    ),
    (
        dict(GOOD, ended_at="2099-01-01T00:00:00+08:00"),
        Reason.FUTURE_TIMESTAMP,
        "after run end: ended_at",
    ),
    (dict(GOOD, service_item="NOPE"), Reason.UNKNOWN_SERVICE_ITEM, "service_item=NOPE"),
]


@pytest.mark.parametrize(("row", "reason", "detail"), DEFECTS)
def test_each_defect_gets_its_reason(spark, row, reason, detail) -> None:
    catalog = spark.createDataFrame([("RE_REG",)], "service_item string")
    got = parsed(spark, [row], catalog=catalog).first()
    assert (got[C.REASON], got[C.DETAIL]) == (reason, detail)


def test_all_reasons_are_listed_in_priority_order(spark) -> None:
    row = dict(GOOD, channel="fax", satisfaction="9", arrived_at="2026-03-02T09:30:00+08:00")
    got = parsed(spark, [row]).first()
    assert got[C.REASONS] == [
        Reason.BAD_VOCABULARY,
        Reason.BAD_SATISFACTION,
        Reason.ARRIVAL_AFTER_START,
    ]
    assert got[C.REASON] == Reason.BAD_VOCABULARY


def test_future_tolerance_is_the_latest_allowed_instant(spark) -> None:
    on_edge = dict(GOOD, arrived_at=None, started_at="2026-04-01T00:00:00+08:00", ended_at=None)
    past_edge = dict(on_edge, started_at="2026-04-01T00:00:01+08:00")
    got = [r[C.REASON] for r in parsed(spark, [on_edge, past_edge]).orderBy(C.STARTED_AT).collect()]
    assert got == [None, Reason.FUTURE_TIMESTAMP]


def test_missing_event_id_is_derived_from_the_event_key(spark) -> None:
    a = dict(GOOD, event_id=None)
    b = dict(a, satisfaction=None, ended_at=None)  # same step, earlier export
    c = dict(a, step="review")
    ids = [r[C.EVENT_ID] for r in parsed(spark, [a, b, c]).orderBy(C.SOURCE_ROW).collect()]
    assert ids[0] == ids[1] != ids[2]
    assert all(i.startswith("d_") for i in ids)


def test_values_json_keeps_pseudonymized_values(spark) -> None:
    key = b"k" * 32
    canonical = ingest.to_canonical(raw_frame(spark, [GOOD]), mapping=CANONICAL)
    values = json.loads(
        ingest.with_values_json(ingest.with_pseudonyms(canonical, key=key)).first()[C.VALUES]
    )
    assert values["citizen_id"] == pseudonym_py("P1", key=key, domain="citizen")
    assert values["official"] == pseudonym_py("O1", key=key, domain="official")
    assert (values["application_id"], values["started_at"]) == ("A1", GOOD["started_at"])


def test_a_malformed_line_keeps_only_its_hash(spark) -> None:
    # Fields shifted by an extra comma put the raw official id under 'arrived_at'.
    line = "E1,A1,P1,individual,RE_REG,HOUSING,counter,C01,D01,x,y,accept,O1,O1,2026-03-02"
    row = dict(GOOD, arrived_at="O1", **{CORRUPT: line})
    canonical = ingest.to_canonical(raw_frame(spark, [row]), mapping=CANONICAL)
    values = json.loads(ingest.with_values_json(canonical).first()[C.VALUES])
    assert values == {
        "malformed_line_sha256": hashlib.sha256(line.encode()).hexdigest(),
        "n_fields": 15,
    }


def test_durations_derive_missing_timestamps(spark) -> None:
    mapping = parse_mapping(
        {
            "name": "durations",
            "durations": [
                {
                    "column": "wait_min",
                    "unit": "minutes",
                    "target": "arrived_at",
                    "anchor": "started_at",
                    "before": True,
                },
                {"column": "proc_h", "unit": "hours", "target": "ended_at", "anchor": "started_at"},
            ],
        }
    )
    rows = [
        dict(GOOD, arrived_at=None, ended_at=None, wait_min="15", proc_h="1.5"),
        dict(GOOD, event_id="E2", arrived_at=None, ended_at=None, wait_min="soon", proc_h=None),
    ]
    raw = raw_frame(spark, rows, extra=("wait_min", "proc_h"))
    canonical = ingest.with_values_json(ingest.to_canonical(raw, mapping=mapping))
    out = (
        ingest.with_parsed(
            canonical, mapping=mapping, time_zone="Asia/Shanghai", latest_allowed=END
        )
        .orderBy(C.EVENT_ID)
        .collect()
    )
    assert out[0][C.ARRIVED_AT] == dt.datetime(2026, 3, 2, 0, 45)
    assert out[0][C.ENDED_AT] == dt.datetime(2026, 3, 2, 2, 30)
    assert out[0][C.REASON] is None
    assert out[1][C.REASON] == Reason.BAD_TIMESTAMP and out[1][C.ENDED_AT] is None


def test_completion_only_logs_start_at_the_previous_event(spark) -> None:
    mapping = parse_mapping({"name": "xes-like", "derive": {"started_at": "previous_end"}})
    base = dict(GOOD, arrived_at=None, started_at=None)
    rows = [
        dict(base, event_id="E1", step="a", ended_at="2026-03-02T09:00:00+08:00"),
        dict(base, event_id="E2", step="b", ended_at="2026-03-02T11:00:00+08:00"),
        dict(base, event_id="E3", step="c", ended_at="2026-03-03T10:00:00+08:00"),
    ]
    out = parsed(spark, rows, mapping=mapping).orderBy(C.EVENT_ID).collect()
    starts = [r[C.STARTED_AT] for r in out]
    assert starts == [
        dt.datetime(2026, 3, 2, 1),
        dt.datetime(2026, 3, 2, 1),
        dt.datetime(2026, 3, 2, 3),
    ]
    assert all(r[C.REASON] is None for r in out)


def _tie_log() -> list[dict]:
    """A completion-only case without event IDs, stamped at midnight as many real logs are:
    in file order a, c, b, b at one instant, then d. Names sort otherwise than the file."""
    base = dict(GOOD, event_id=None, arrived_at=None, started_at=None, satisfaction=None)
    ends = ["2026-03-02", "2026-03-03", "2026-03-03", "2026-03-03", "2026-03-04"]
    steps = ["a", "c", "b", "b", "d"]
    return [
        dict(base, step=s, ended_at=f"{e}T00:00:00+08:00") for s, e in zip(steps, ends, strict=True)
    ]


def test_completion_only_ties_keep_the_log_order_and_repeats_are_events(spark) -> None:
    mapping = parse_mapping({"name": "ties", "derive": {"started_at": "previous_end"}})
    tagged = ingest.flag_duplicates(parsed(spark, _tie_log(), mapping=mapping))
    rows = sorted(tagged.collect(), key=lambda r: r[C.SOURCE_ROW])
    assert [r[ingest.STATUS] for r in rows] == ["clean"] * 5  # the repeated b is no duplicate
    assert len({r[C.EVENT_ID] for r in rows}) == 5
    day = dt.timedelta(days=1)
    t0 = dt.datetime(2026, 3, 1, 16)  # March 2nd, 00:00 Shanghai, in UTC
    # c follows a (the log's order), b follows c, the second b the first; d the last b
    assert [(r[C.STEP], r[C.STARTED_AT] - t0) for r in rows] == [
        ("a", dt.timedelta(0)),
        ("c", dt.timedelta(0)),
        ("b", day),
        ("b", day),
        ("d", day),
    ]


def test_the_same_export_in_another_file_is_a_duplicate_row_for_row(spark) -> None:
    mapping = parse_mapping({"name": "ties", "derive": {"started_at": "previous_end"}})
    first = _tie_log()
    # the same bytes under another name
    again = [dict(r, source_file="file:/in/b.csv", source_row=i) for i, r in enumerate(first, 1)]
    later = dict(
        first[-1], step="e", ended_at="2026-03-05T00:00:00+08:00", source_file="file:/in/b.csv"
    )
    tagged = ingest.flag_duplicates(
        parsed(spark, [*first, *again, dict(later, source_row=6)], mapping=mapping)
    ).collect()
    by_file: dict[str, list] = {}
    for r in sorted(tagged, key=lambda r: r[C.SOURCE_ROW]):
        by_file.setdefault(r[C.SOURCE_FILE], []).append(r)
    a, b = by_file["file:/in/a.csv"], by_file["file:/in/b.csv"]
    assert [r[ingest.STATUS] for r in a] == ["clean"] * 5
    # the copies are exact (same IDs, same derived starts); the new event of file b is kept
    assert [(r[ingest.STATUS], r[ingest.DUPLICATE_KIND]) for r in b] == [
        *[("duplicate", "exact")] * 5,
        ("clean", None),
    ]
    assert [r[C.EVENT_ID] for r in a] == [r[C.EVENT_ID] for r in b[:5]]
    # the new event follows the log's last event (d, March 4th), not a copy
    assert b[5][C.STARTED_AT] == dt.datetime(2026, 3, 3, 16)


def test_physical_visit_derived_from_channel(spark) -> None:
    mapping = parse_mapping(
        {"name": "pv", "derive": {"physical_visit": {"channels": ["counter", "self_service"]}}}
    )
    rows = [
        dict(GOOD, physical_visit=None),
        dict(GOOD, event_id="E2", channel="online", physical_visit=None, arrived_at=None),
    ]
    got = [
        r[C.PHYSICAL_VISIT]
        for r in parsed(spark, rows, mapping=mapping).orderBy(C.EVENT_ID).collect()
    ]
    assert got == [True, False]


# --- duplicates ---------------------------------------------------------------------------------


def test_flag_duplicates_keeps_the_closed_version_and_names_the_kind(spark) -> None:
    closed = GOOD
    exact = dict(GOOD)
    open_export = dict(GOOD, ended_at=None, satisfaction=None)
    other = dict(GOOD, event_id="E2", step="review", arrived_at=None)
    bad_copy = dict(GOOD, channel="fax")  # invalid rows are quarantined, never deduplicated
    tagged = ingest.flag_duplicates(
        parsed(spark, [open_export, closed, exact, other, bad_copy, bad_copy])
    )
    got = sorted(
        (r[C.EVENT_ID], r[ingest.STATUS], r[ingest.DUPLICATE_KIND], r[C.ENDED_AT] is None)
        for r in tagged.collect()
    )
    assert got == [
        ("E1", "clean", None, False),
        ("E1", "duplicate", "exact", False),
        ("E1", "duplicate", "same_event", True),
        ("E1", "quarantined", None, False),
        ("E1", "quarantined", None, False),
        ("E2", "clean", None, False),
    ]


def test_rows_outside_the_data_interval_are_left_for_their_runs(spark) -> None:
    day2 = dict(
        GOOD, event_id="E2", arrived_at=None, started_at="2026-03-03T09:00:00+08:00", ended_at=None
    )
    bad = dict(
        GOOD,
        event_id="E3",
        channel="fax",
        started_at="2026-03-09T09:00:00+08:00",
        arrived_at=None,
        ended_at=None,
    )
    start = dt.datetime(2026, 3, 2, 16, tzinfo=UTC)  # March 3rd, 00:00 Shanghai
    tagged = ingest.flag_duplicates(
        parsed(spark, [GOOD, GOOD, day2, bad]), interval=(start, start + dt.timedelta(days=1))
    )
    got = sorted((r[C.EVENT_ID], r[ingest.STATUS]) for r in tagged.collect())
    # A copy of an out-of-interval row is not counted as a duplicate here: its own run will.
    assert got == [
        ("E1", "out_of_interval"),
        ("E1", "out_of_interval"),
        ("E2", "clean"),
        ("E3", "quarantined"),
    ]


def test_duplicates_are_scoped_by_source(spark) -> None:
    a = parsed(spark, [GOOD])
    b = a.withColumn(C.SOURCE, F.lit("other-system"))
    statuses = [r[ingest.STATUS] for r in ingest.flag_duplicates(a.unionByName(b)).collect()]
    assert statuses == ["clean", "clean"]


# --- reference tables ---------------------------------------------------------------------------


def _ref_frame(spark, names, rows):
    return spark.createDataFrame(
        [(*r, "file:/in/ref.csv", None) for r in rows],
        ", ".join(f"{n} string" for n in [*names, C.SOURCE_FILE, CORRUPT]),
    )


def test_validate_catalog(spark) -> None:
    rows = [
        ("RE_REG", "不动产登记", "HOUSING", "3", "5", "true"),
        ("TAX", "契税", "TAX", "6", "5", "true"),  # complexity out of range
        ("BIZ", "开办企业", "MARKET", "2", "-1", "yes"),  # negative time limit
        ("SEAL", "刻章", "POLICE", "1", "1", "perhaps"),
        (None, "无编码", "X", "1", "1", "true"),
        ("RE_REG", "重复", "HOUSING", "3", "5", "true"),  # second row for the same item
    ]
    out = ingest.validate_catalog(_ref_frame(spark, C.CATALOG_COLUMNS, rows))
    got = sorted((r[C.ITEM_NAME], r[ingest.STATUS], r[C.REASON]) for r in out.collect())
    assert got == sorted(
        [
            ("不动产登记", "clean", None),
            ("契税", "quarantined", Reason.BAD_NUMBER),
            ("开办企业", "quarantined", Reason.BAD_NUMBER),
            ("刻章", "quarantined", Reason.BAD_BOOLEAN),
            ("无编码", "quarantined", Reason.MISSING_REQUIRED),
            ("重复", "quarantined", Reason.DUPLICATE_KEY),
        ]
    )
    clean = out.where("status = 'clean'").first()
    assert (clean[C.COMPLEXITY], clean[C.TIME_LIMIT_DAYS], clean[C.ONLINE_CAPABLE]) == (3, 5, True)


def test_validate_roster(spark) -> None:
    names = [C.DATE, C.DEPARTMENT, C.CENTER, C.OFFICIALS_ON_DUTY]
    rows = [
        ("2026-03-02", "TAX", "C01", "4"),
        ("2026-03-02", "TAX", None, "2"),
        ("2026-03-32", "TAX", None, "2"),
        ("2026-03-03", "TAX", None, "-1"),
        ("2026-03-03", "TAX", None, None),
        ("2026-03-02", "TAX", "C01", "5"),
    ]
    out = ingest.validate_roster(_ref_frame(spark, names, rows))
    got = sorted((r[C.VALUES], r[C.REASON]) for r in out.collect())
    reasons = sorted(r for _, r in got if r)
    assert reasons == sorted(
        [Reason.BAD_TIMESTAMP, Reason.BAD_NUMBER, Reason.MISSING_REQUIRED, Reason.DUPLICATE_KEY]
    )
    clean = out.where("status = 'clean'").orderBy(C.CENTER).collect()
    assert [(r[C.DATE], r[C.CENTER], r[C.OFFICIALS_ON_DUTY]) for r in clean] == [
        (dt.date(2026, 3, 2), None, 2),
        (dt.date(2026, 3, 2), "C01", 4),
    ]


def test_batch_ids_are_never_read_back_as_numbers() -> None:
    """Spark's partition discovery reads a value of digits (or digits, e, digits; or a trailing
    d/f) as a number: quarantine's batch partition must never look like one."""
    from visitonce.mapping import load_mapping
    from visitonce.pipeline import batch_id

    mapping = load_mapping("canonical")
    ids = [batch_id(mapping, [f"file:/landing/events/part-{i}.csv"]) for i in range(3000)]
    assert len(set(ids)) == len(ids)
    for b in ids:
        assert b[0].isalpha() and len(b) == 17, b
        with pytest.raises(ValueError):
            float(b.rstrip("df"))
